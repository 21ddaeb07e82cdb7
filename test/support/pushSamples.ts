/** Pushes a small image with a SARIF report attached as a referrer (clean, or with one critical CVE). */
import type { RegistryClient } from '../../src/adapters/ports';
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
