/**
 * Issue 17 case 5 end to end: `acr-guard gate` on the loopback registry with a real CycloneDX report attached as
 * a referrer whose only severity signal is a CVSS vector (no score, no severity word). On main the finding
 * read as `unknown` and the image was released; now the vector is scored (9.8, critical) and the gate blocks.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../support/cli';
import { useRegistry } from '../support/registry';
import { MediaTypes } from '../../src/core/types';
import { pushArtifact, pushImage } from '../../src/local/ociPush';

describe('acr-guard gate: severity from a CVSS vector without a score', () => {
  const reg = useRegistry();
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'acr-guard-cvss-'));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function gateWith(repo: string, rating: Record<string, unknown>) {
    const pushed = await pushImage(reg.client, repo, { tag: 'v1', seed: `${repo} ${JSON.stringify(rating)}` });
    const report = {
      bomFormat: 'CycloneDX',
      specVersion: '1.5',
      metadata: {
        timestamp: new Date().toISOString(),
        component: { type: 'container', name: `${reg.registry.host}/${repo}@${pushed.digest}` },
      },
      components: [{ 'bom-ref': 'pkg:deb/debian/openssl@3.0.1', type: 'library', name: 'openssl', version: '3.0.1' }],
      vulnerabilities: [{ id: 'CVE-2024-9999', ratings: [rating], affects: [{ ref: 'pkg:deb/debian/openssl@3.0.1' }] }],
    };
    await pushArtifact(reg.client, repo, {
      subject: pushed,
      artifactType: MediaTypes.cyclonedx,
      blob: Buffer.from(JSON.stringify(report)),
      blobMediaType: MediaTypes.cyclonedx,
    });
    const policy = join(dir, 'policy.yaml');
    writeFileSync(
      policy,
      `version: 1
registries:
  - { host: "${reg.registry.host}" }
gate:
  - scope: "cvss/**"
    vulnerabilities: { block: [critical, high], maxReportAge: 7d, sources: [reports], scanDeadline: 0s }
    signatures: { required: false }
`,
    );
    const r = await runCli([
      'gate',
      `${reg.registry.host}/${repo}@${pushed.digest}`,
      '--policy',
      policy,
      '--plain-http',
      '--dry-run',
      '--output',
      'json',
    ]);
    return { code: r.code, verdict: JSON.parse(r.out) as { decision: string; summary: string } };
  }

  it('blocks a report whose only rating is CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H (9.8)', async () => {
    const { code, verdict } = await gateWith('cvss/vector-only', {
      source: { name: 'nvd' },
      method: 'CVSSv31',
      vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H',
    });
    expect(verdict.decision).toBe('block');
    expect(verdict.summary).toMatch(/^blocked: CVE-2024-9999 \(critical/);
    expect(code).toBe(3);
  });

  it('a malformed vector is ignored (unknown severity, not blocking under [critical, high]), never an error', async () => {
    const { code, verdict } = await gateWith('cvss/malformed', { method: 'CVSSv31', vector: 'CVSS:3.1/AV:X' });
    expect(verdict.decision).toBe('release');
    expect(code).toBe(0);
  });
});
