/**
 * The local demo behind `npm start`: a real loopback registry, sample images with real attached reports,
 * each gated through the real orchestration, and the verdicts. Embedded defaults only; nothing in Azure.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPolicy } from '../core/policy';
import type { Policy } from '../core/policyTypes';
import type { ApplyResult, Descriptor, ImageId, Verdict } from '../core/types';
import { MediaTypes } from '../core/types';
import { createRegistryClient } from '../adapters/registry';
import type { DeployedImage, InUseLookup, RegistryClient } from '../adapters/ports';
import { createHash } from 'node:crypto';
import { FileAuditStore } from '../adapters/auditStore';
import { composeGateServices } from '../app/compose';
import { startRegistry } from './registryServer';
import { pushArtifact, pushImage, pushIndex } from './ociPush';
import { sampleCycloneDx, sampleSarif, type SampleVulnerability } from './sampleReports';
import { runGateLocally } from './orchestrationHost';

/** The demo's policy: the loopback registry, reports as the findings source, promotion into `release/…`. */
export function demoPolicyYaml(registryHost: string): string {
  return `version: 1
registries:
  - { host: "${registryHost}", apply: promote }
gate:
  - scope: "demo/**"
    vulnerabilities:
      block: [critical, high]
      onlyFixable: false
      maxReportAge: 7d
      sources: [reports]
      scanDeadline: 3s
      pollInterval: 1s
      exceptions:
        - { id: CVE-2024-45490, expires: 2099-12-31, reason: "libexpat parser not reachable from the API" }
        - { id: CVE-2023-52425, expires: 2025-01-31, reason: "temporary waiver during the Q4 freeze" }
    signatures: { required: false }
    promote: { repository: "release/{repository}" }
# Runtime assurance: the demo's deployed list (see demoDeployedLookup) shows every status. A high finding gets
# no grace here, so the page shows an overdue image at once; Microsoft's registry is tolerated.
runtime:
  grace: { critical: 3d, high: 0s }
  regateAfter: 24h
  allowRegistries: [mcr.microsoft.com]
# Nothing runs from the loopback registry, so in-use protection has nothing to look up here; in Azure keep
# protectInUse (the default) and set ACR_GUARD_INUSE_SCOPES.
retention:
  - { scope: "demo/**", keep: 5, olderThan: 30d, untagged: true, protectInUse: false }
`;
}

/** One sample image of the demo. */
export interface Sample {
  repository: string;
  tag: string;
  /** What the sample shows, printed next to its verdict. */
  story: string;
  report?: { format: 'sarif' | 'cyclonedx' | 'broken'; vulnerabilities: SampleVulnerability[] };
  /** Push a two-platform index whose platforms carry these reports instead of a single image. */
  platforms?: Array<{
    architecture: string;
    report: { format: 'sarif' | 'cyclonedx'; vulnerabilities: SampleVulnerability[] };
  }>;
}

const LOW: SampleVulnerability = { id: 'CVE-2011-3374', severity: 'low', package: 'apt', installedVersion: '2.6.1' };
const CRITICAL: SampleVulnerability = {
  id: 'CVE-2024-6119',
  severity: 'critical',
  package: 'openssl',
  installedVersion: '3.0.13-1~deb12u1',
  fixedVersion: '3.0.14-1~deb12u2',
};
const EXCEPTED: SampleVulnerability = {
  id: 'CVE-2024-45490',
  severity: 'high',
  package: 'libexpat1',
  installedVersion: '2.5.0-1',
  fixedVersion: '2.5.0-1+deb12u1',
};
const EXPIRED: SampleVulnerability = {
  id: 'CVE-2023-52425',
  severity: 'high',
  package: 'libexpat1',
  installedVersion: '2.5.0-1',
  fixedVersion: '2.5.0-1+deb12u1',
};

/** The sample images `npm start` seeds. */
export const DEMO_SAMPLES: readonly Sample[] = [
  {
    repository: 'demo/clean',
    tag: '1.0',
    story: 'clean: one low finding (SARIF)',
    report: { format: 'sarif', vulnerabilities: [LOW] },
  },
  {
    repository: 'demo/vulnerable',
    tag: '1.0',
    story: 'critical fixable CVE (CycloneDX)',
    report: { format: 'cyclonedx', vulnerabilities: [LOW, CRITICAL] },
  },
  {
    repository: 'demo/excepted',
    tag: '1.0',
    story: 'high CVE with a valid exception',
    report: { format: 'sarif', vulnerabilities: [EXCEPTED] },
  },
  {
    repository: 'demo/expired-exception',
    tag: '1.0',
    story: 'high CVE whose exception expired',
    report: { format: 'sarif', vulnerabilities: [EXPIRED] },
  },
  {
    repository: 'demo/unparseable',
    tag: '1.0',
    story: 'report that cannot be parsed',
    report: { format: 'broken', vulnerabilities: [] },
  },
  { repository: 'demo/unscanned', tag: '1.0', story: 'no report attached (waits for the deadline)' },
  {
    repository: 'demo/multiarch',
    tag: '1.0',
    story: 'index: amd64 clean, arm64 critical',
    platforms: [
      { architecture: 'amd64', report: { format: 'cyclonedx', vulnerabilities: [] } },
      { architecture: 'arm64', report: { format: 'sarif', vulnerabilities: [CRITICAL] } },
    ],
  },
];

async function attachReport(
  client: RegistryClient,
  repository: string,
  subject: Descriptor,
  report: NonNullable<Sample['report']>,
  now: Date,
): Promise<void> {
  const imageName = `${client.host}/${repository}@${subject.digest}`;
  const args = {
    imageName,
    digest: subject.digest,
    scannedAt: now.toISOString(),
    vulnerabilities: report.vulnerabilities,
  };
  const mediaType = report.format === 'cyclonedx' ? MediaTypes.cyclonedx : MediaTypes.sarif;
  const blob =
    report.format === 'sarif'
      ? sampleSarif(args)
      : report.format === 'cyclonedx'
        ? sampleCycloneDx(args)
        : Buffer.from('{"version": "2.1.0", "runs": [ {"results": [ truncated');
  await pushArtifact(client, repository, {
    subject,
    artifactType: mediaType,
    blob,
    blobMediaType: mediaType,
    annotations: { 'org.opencontainers.image.created': now.toISOString() },
  });
}

/** Pushes one sample (image or index, with its reports); returns the digest to gate. */
export async function seedSample(client: RegistryClient, sample: Sample, now: Date): Promise<string> {
  if (sample.platforms) {
    const children: Descriptor[] = [];
    for (const p of sample.platforms) {
      const pushed = await pushImage(client, sample.repository, {
        layers: [Buffer.from(`${sample.repository} ${p.architecture}`)],
        created: now.toISOString(),
        platform: { os: 'linux', architecture: p.architecture },
      });
      const descriptor: Descriptor = {
        mediaType: pushed.mediaType,
        digest: pushed.digest,
        size: pushed.size,
        platform: { os: 'linux', architecture: p.architecture },
      };
      await attachReport(client, sample.repository, descriptor, p.report, now);
      children.push(descriptor);
    }
    return (await pushIndex(client, sample.repository, { tag: sample.tag, manifests: children })).digest;
  }
  const pushed = await pushImage(client, sample.repository, {
    tag: sample.tag,
    layers: [Buffer.from(`${sample.repository}:${sample.tag}`)],
    created: now.toISOString(),
  });
  if (sample.report)
    await attachReport(
      client,
      sample.repository,
      { mediaType: pushed.mediaType, digest: pushed.digest, size: pushed.size },
      sample.report,
      now,
    );
  return pushed.digest;
}

/** One gated sample. */
export interface DemoRow {
  sample: string;
  story: string;
  verdict: Verdict;
  apply?: ApplyResult;
}

/**
 * Runs the demo against an already running registry at `registryHost` (plain http, loopback):
 * seeds the samples, gates each through the orchestration, returns the verdicts.
 */
export async function runDemo(options: {
  registryHost: string;
  auditDir: string;
  now?: Date;
  log?: (line: string) => void;
}): Promise<DemoRow[]> {
  const log = options.log ?? (() => undefined);
  const policy: Policy = loadPolicy(demoPolicyYaml(options.registryHost), 'embedded demo policy');
  const client = createRegistryClient({ host: options.registryHost, plainHttp: true });
  const now = options.now ?? new Date();
  const services = composeGateServices({
    policy: () => policy,
    audit: new FileAuditStore(options.auditDir),
    plainHttpHosts: [options.registryHost],
  });
  const rows: DemoRow[] = [];
  for (const sample of DEMO_SAMPLES) {
    const digest = await seedSample(client, sample, now);
    log(`pushed ${sample.repository}:${sample.tag}@${digest.slice(0, 19)}… (${sample.story}); gating`);
    const image: ImageId = { registry: options.registryHost, repository: sample.repository, digest };
    const outcome = await runGateLocally({ image, tag: sample.tag, trigger: 'push', services, timers: 'real' });
    if (!outcome.verdict)
      throw new Error(`gate of ${sample.repository} produced no verdict: ${outcome.reason ?? outcome.status}`);
    rows.push({
      sample: `${sample.repository}:${sample.tag}`,
      story: sample.story,
      verdict: outcome.verdict,
      apply: outcome.apply,
    });
  }
  return rows;
}

/** Starts a registry in a temporary directory, runs the demo, stops the registry and cleans up. */
export async function runDemoWithRegistry(
  options: { log?: (line: string) => void; keepData?: boolean } = {},
): Promise<{ rows: DemoRow[]; registryHost: string }> {
  const workDir = mkdtempSync(join(tmpdir(), 'acr-guard-demo-'));
  const registry = await startRegistry({ dataDir: join(workDir, 'registry') });
  try {
    options.log?.(`started docker-registry at http://${registry.host} (data in ${workDir})`);
    const rows = await runDemo({ registryHost: registry.host, auditDir: join(workDir, 'audit'), log: options.log });
    return { rows, registryHost: registry.host };
  } finally {
    await registry.stop();
    if (!options.keepData) rmSync(workDir, { recursive: true, force: true });
  }
}

/**
 * The demo's "deployed" workloads (what `npm start` pretends runs in Container Apps and Container Instances),
 * chosen so that the page's Running section shows every runtime status:
 * released (demo/clean, pinned by digest), blocked (demo/vulnerable, critical: 3 days of grace), overdue
 * (demo/expired-exception, high: no grace in the demo policy), never-gated (a digest pushed around the gate),
 * outside-allowlist (Docker Hub nginx), allowed-external (mcr.microsoft.com), unresolved (a tag that is gone) and
 * by-tag (demo/excepted, released, but deployed by tag).
 */
export function demoDeployedLookup(registryHost: string): InUseLookup {
  const client = createRegistryClient({ host: registryHost, plainHttp: true });
  const app = (name: string, container = 'main'): string =>
    `/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/demo/providers/Microsoft.App/containerApps/${name}/revisions/${name}--1, container ${container}`;
  const aci = (name: string, container: string, init = false): string =>
    `/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/demo/providers/Microsoft.ContainerInstance/containerGroups/${name}, ${init ? 'init container' : 'container'} ${container}`;
  const aroundTheGate = `sha256:${createHash('sha256').update('demo: built and pushed around the gate').digest('hex')}`;
  return {
    listDeployedImages: async (): Promise<DeployedImage[]> => {
      // Pinned by digest, as it should be: the digest demo/clean:1.0 has in the local registry now.
      const clean = await client.resolveTag('demo/clean', '1.0').then(
        (d) => `${registryHost}/demo/clean@${d}`,
        () => `${registryHost}/demo/clean:1.0`,
      );
      return [
        { image: clean, source: app('storefront') },
        { image: `${registryHost}/demo/vulnerable:1.0`, source: app('checkout') },
        { image: `${registryHost}/demo/expired-exception:1.0`, source: app('invoices') },
        { image: `${registryHost}/demo/hotfix@${aroundTheGate}`, source: aci('nightly-batch', 'job') },
        { image: 'nginx:latest', source: aci('edge-proxy', 'nginx') },
        { image: 'mcr.microsoft.com/dotnet/aspnet:8.0', source: app('storefront', 'sidecar') },
        { image: `${registryHost}/demo/retired:2.0`, source: aci('nightly-batch', 'migrate', true) },
        { image: `${registryHost}/demo/excepted:1.0`, source: app('search') },
      ];
    },
  };
}
