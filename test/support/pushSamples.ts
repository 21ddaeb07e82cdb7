/** Test images with attached reports, and the policy that gates them on those reports. */
import type { RegistryClient } from '../../src/adapters/ports';
import { createRegistryClient } from '../../src/adapters/registry';
import { loadPolicy } from '../../src/core/policy';
import type { Policy } from '../../src/core/policyTypes';
import { MediaTypes, type Descriptor, type ImageId } from '../../src/core/types';
import { pushArtifact, pushImage, type Pushed } from '../../src/local/ociPush';
import { sampleCycloneDx, sampleSarif, type SampleVulnerability } from '../../src/local/sampleReports';
import { useRegistry, type RegistryFixture } from './registry';

/** The critical finding the sample reports carry: openssl 3.0.13, fixed in 3.0.14. */
export const CRITICAL_OPENSSL: SampleVulnerability = {
  id: 'CVE-2024-6119',
  severity: 'critical',
  package: 'openssl',
  installedVersion: '3.0.13',
  fixedVersion: '3.0.14',
};

/** A low finding with no fix, below every block threshold of the test policies. */
export const LOW_APT: SampleVulnerability = {
  id: 'CVE-2011-3374',
  severity: 'low',
  package: 'apt',
  installedVersion: '2.6.1',
};

/** What {@link attachReport} attaches and how. */
export interface ReportOptions {
  /** What the scanner found. */
  vulnerabilities: SampleVulnerability[];
  /** When the scan finished (RFC 3339). */
  scannedAt: string;
  /** Trivy-style SARIF (the default) or CycloneDX 1.5. */
  format?: 'sarif' | 'cyclonedx';
  /** Also stamp the referrer manifest `org.opencontainers.image.created` with `scannedAt`. */
  createdAnnotation?: boolean;
  /** The registry host the report names the image under (default: the client's). */
  imageHost?: string;
}

/**
 * Attaches a sample report on `subject` (a manifest of `repository`) as an OCI referrer, keeping the
 * `sha256-<hex>` fallback index up to date; the report names `subject`'s digest. Returns the referrer.
 */
export async function attachReport(
  client: RegistryClient,
  repository: string,
  subject: Descriptor,
  options: ReportOptions,
): Promise<Pushed> {
  const cyclonedx = options.format === 'cyclonedx';
  const content = {
    imageName: `${options.imageHost ?? client.host}/${repository}@${subject.digest}`,
    digest: subject.digest,
    scannedAt: options.scannedAt,
    vulnerabilities: options.vulnerabilities,
  };
  const mediaType = cyclonedx ? MediaTypes.cyclonedx : MediaTypes.sarif;
  return pushArtifact(client, repository, {
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    artifactType: mediaType,
    blob: cyclonedx ? sampleCycloneDx(content) : sampleSarif(content),
    blobMediaType: mediaType,
    ...(options.createdAnnotation ? { annotations: { 'org.opencontainers.image.created': options.scannedAt } } : {}),
  });
}

/**
 * A scanner's CycloneDX report on `subject`, scanned and stamped `org.opencontainers.image.created` at `at`:
 * the critical finding when `critical`, else clean. Returns the referrer.
 */
export function attachCycloneDx(
  client: RegistryClient,
  repository: string,
  subject: Descriptor,
  at: Date,
  critical: boolean,
): Promise<Pushed> {
  return attachReport(client, repository, subject, {
    format: 'cyclonedx',
    scannedAt: at.toISOString(),
    createdAnnotation: true,
    vulnerabilities: critical ? [CRITICAL_OPENSSL] : [],
  });
}

/**
 * Pushes a one-layer image (content `layer`, created `at`) tagged `tag`, and attaches a SARIF report of
 * `vulnerabilities` scanned at the same time; returns the image.
 */
export async function pushScanned(
  client: RegistryClient,
  repository: string,
  options: { tag: string; layer: string; vulnerabilities: SampleVulnerability[]; at?: Date },
): Promise<ImageId> {
  const at = (options.at ?? new Date()).toISOString();
  const pushed = await pushImage(client, repository, {
    tag: options.tag,
    layers: [Buffer.from(options.layer)],
    created: at,
  });
  await attachReport(client, repository, pushed, { vulnerabilities: options.vulnerabilities, scannedAt: at });
  return { registry: client.host, repository, digest: pushed.digest };
}

/** The image is unique per repository, tag and `vulnerable`; the report names its digest and is fresh. */
export async function pushWithReport(
  client: RegistryClient,
  repository: string,
  tag: string,
  vulnerable: boolean,
): Promise<ImageId> {
  return pushScanned(client, repository, {
    tag,
    layer: `${repository}:${tag}:${vulnerable}`,
    vulnerabilities: vulnerable ? [CRITICAL_OPENSSL] : [],
  });
}

/**
 * Pushes to the plain-http registry at `host` an image unique to this call (its layer names the time) with a
 * fresh SARIF report of a critical and a low finding; what the page tests show.
 */
export async function pushVulnerable(host: string, repository: string, tag: string): Promise<ImageId> {
  const now = new Date();
  return pushScanned(createRegistryClient({ host, plainHttp: true }), repository, {
    tag,
    layer: `${repository}:${tag}:${now.toISOString()}`,
    vulnerabilities: [CRITICAL_OPENSSL, LOW_APT],
    at: now,
  });
}

/** The YAML of {@link reportsGatePolicy}; `apply: promote` adds the copy of a release into `release/{repository}`. */
export function reportsGatePolicyYaml(host: string, apply: 'none' | 'promote' = 'none'): string {
  return `version: 1
registries: [{ host: "${host}", apply: ${apply} }]
gate:
  - scope: "team/**"
    vulnerabilities: { block: [critical, high], maxReportAge: 7d, sources: [reports], scanDeadline: 2m, pollInterval: 1m }
    signatures: { required: false }
${apply === 'promote' ? '    promote: { repository: "release/{repository}" }\n' : ''}`;
}

/**
 * A policy for `host` gating `team/**` on attached reports (critical and high block), applied nowhere or, with
 * `promote`, copying a release into `release/{repository}`.
 */
export function reportsGatePolicy(host: string, apply: 'none' | 'promote' = 'none'): Policy {
  return loadPolicy(reportsGatePolicyYaml(host, apply), 'test policy');
}

/** What {@link useReportsRegistry} gives a test file; read `policy` inside tests (it is set in `beforeAll`). */
export interface ReportsRegistry {
  /** The loopback registry and its client. */
  readonly reg: RegistryFixture;
  /** {@link reportsGatePolicy} for the registry. */
  readonly policy: Policy;
  /** {@link pushWithReport} to the registry. */
  pushWithReport(repository: string, tag: string, vulnerable: boolean): Promise<ImageId>;
}

/** Jest helper: a loopback registry for the file's tests ({@link useRegistry}) and the reports policy for it. */
export function useReportsRegistry(): ReportsRegistry {
  const reg = useRegistry();
  let policy: Policy | undefined;
  beforeAll(() => {
    policy = reportsGatePolicy(reg.registry.host);
  });
  return {
    reg,
    get policy(): Policy {
      if (!policy) throw new Error('useReportsRegistry: the policy is loaded in beforeAll; use it inside a test');
      return policy;
    },
    pushWithReport: (repository, tag, vulnerable) => pushWithReport(reg.client, repository, tag, vulnerable),
  };
}

/**
 * A compact hostile SARIF naming `digest`: `count` results, each a distinct critical CVE (`distinct`, 40 bytes a
 * result: 300,000 make 12 MB) or the same critical one again (`duplicates`, 16 bytes a result: 1,000,000 make
 * 16 MB). `critical: false` makes the distinct ones low.
 */
export function hostileSarif(
  kind: 'distinct' | 'duplicates',
  count: number,
  digest: string,
  scannedAt: string,
  critical = true,
): Buffer {
  const head = JSON.stringify({
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: { name: 'Trivy', rules: [{ id: 'CVE-2024-0001', properties: { 'security-severity': '9.8' } }] },
        },
        invocations: [{ endTimeUtc: scannedAt }],
        properties: { imageDigest: digest },
        results: [],
      },
    ],
  });
  const at = head.lastIndexOf('"results":[]') + '"results":['.length;
  const level = critical ? 'CRITICAL' : 'LOW';
  const parts: string[] = [];
  for (let i = 0; i < count; i++)
    parts.push(kind === 'distinct' ? `{"ruleId":"[${level}] CVE-2024-${String(100000 + i)}"}` : '{"ruleIndex":0}');
  return Buffer.from(`${head.slice(0, at)}${parts.join(',')}${head.slice(at)}`);
}

/** Pushes an image to `repository` and attaches `report` (SARIF) to it; returns the image. */
export async function pushWithSarif(
  client: RegistryClient,
  repository: string,
  tag: string,
  report: (digest: string) => Buffer,
): Promise<ImageId> {
  const pushed = await pushImage(client, repository, {
    tag,
    layers: [Buffer.from(`${repository}:${tag}`)],
    created: new Date().toISOString(),
  });
  const blob = report(pushed.digest);
  await pushArtifact(client, repository, {
    subject: pushed,
    artifactType: MediaTypes.sarif,
    blob,
    blobMediaType: MediaTypes.sarif,
  });
  return { registry: client.host, repository, digest: pushed.digest };
}
