/** Test images with attached reports, and the policy that gates them on those reports. */
import type { RegistryClient } from '../../src/adapters/ports';
import { loadPolicy } from '../../src/core/policy';
import type { Policy } from '../../src/core/policyTypes';
import { MediaTypes, type ImageId } from '../../src/core/types';
import { pushArtifact, pushImage } from '../../src/local/ociPush';
import { sampleSarif } from '../../src/local/sampleReports';

/** The image is unique per repository, tag and `vulnerable`; the report names its digest and is fresh. */
export async function pushWithReport(client: RegistryClient, repository: string, tag: string, vulnerable: boolean): Promise<ImageId> {
  const now = new Date();
  const pushed = await pushImage(client, repository, { tag, layers: [Buffer.from(`${repository}:${tag}:${vulnerable}`)], created: now.toISOString() });
  const report = sampleSarif({
    imageName: `${client.host}/${repository}@${pushed.digest}`,
    digest: pushed.digest,
    scannedAt: now.toISOString(),
    vulnerabilities: vulnerable ? [{ id: 'CVE-2024-6119', severity: 'critical', package: 'openssl', installedVersion: '3.0.13', fixedVersion: '3.0.14' }] : [],
  });
  await pushArtifact(client, repository, { subject: { mediaType: pushed.mediaType, digest: pushed.digest, size: pushed.size }, artifactType: MediaTypes.sarif, blob: report, blobMediaType: MediaTypes.sarif });
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
