/** Test images with attached reports, and the policy that gates them on those reports. */
import type { RegistryClient } from '../../src/adapters/ports';
import { loadPolicy } from '../../src/core/policy';
import type { Policy } from '../../src/core/policyTypes';
import { MediaTypes, type ImageId } from '../../src/core/types';
import { pushArtifact, pushImage } from '../../src/local/ociPush';
import { sampleSarif } from '../../src/local/sampleReports';

/** The image is unique per repository, tag and `vulnerable`; the report names its digest and is fresh. */
export async function pushWithReport(
  client: RegistryClient,
  repository: string,
  tag: string,
  vulnerable: boolean,
): Promise<ImageId> {
  const now = new Date();
  const pushed = await pushImage(client, repository, {
    tag,
    layers: [Buffer.from(`${repository}:${tag}:${vulnerable}`)],
    created: now.toISOString(),
  });
  const report = sampleSarif({
    imageName: `${client.host}/${repository}@${pushed.digest}`,
    digest: pushed.digest,
    scannedAt: now.toISOString(),
    vulnerabilities: vulnerable
      ? [
          {
            id: 'CVE-2024-6119',
            severity: 'critical',
            package: 'openssl',
            installedVersion: '3.0.13',
            fixedVersion: '3.0.14',
          },
        ]
      : [],
  });
  await pushArtifact(client, repository, {
    subject: { mediaType: pushed.mediaType, digest: pushed.digest, size: pushed.size },
    artifactType: MediaTypes.sarif,
    blob: report,
    blobMediaType: MediaTypes.sarif,
  });
  return { registry: client.host, repository, digest: pushed.digest };
}

/** A policy for `host` (applied nowhere) gating `team/**` on attached reports: critical and high block. */
export function reportsGatePolicy(host: string): Policy {
  return loadPolicy(
    `version: 1
registries: [{ host: "${host}", apply: none }]
gate:
  - scope: "team/**"
    vulnerabilities: { block: [critical, high], maxReportAge: 7d, sources: [reports], scanDeadline: 2m, pollInterval: 1m }
    signatures: { required: false }
`,
    'test policy',
  );
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
    subject: { mediaType: pushed.mediaType, digest: pushed.digest, size: pushed.size },
    artifactType: MediaTypes.sarif,
    blob,
    blobMediaType: MediaTypes.sarif,
  });
  return { registry: client.host, repository, digest: pushed.digest };
}
