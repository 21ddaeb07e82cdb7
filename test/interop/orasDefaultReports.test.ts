/**
 * Issue 17 case 7, with the real `oras` against a real docker-registry on loopback: a report attached the way
 * a user types it, `oras attach --artifact-type application/sarif+json IMG trivy.sarif.json`, is stored with
 * oras' default layer type `application/vnd.oci.image.layer.v1.tar` (and the empty config `{}`). The referrer
 * itself is not gated as an image (its config is `{}`: no runtime runs it, docs/runnable.md) and the gate of
 * the image reads the report as what its `artifactType` says. Case 2 stays closed: the same command's layer
 * type on a manifest whose config is a real image config is gated.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OCI_EMPTY_CONFIG_DIGEST } from '../../src/core/runnable';
import type { Descriptor, ImageId } from '../../src/core/types';
import { pushImage } from '../../src/local/ociPush';
import { sampleSarif } from '../../src/local/sampleReports';
import type { GateOutcome } from '../../src/orchestrations/imageGate';
import { inconclusiveSignatures } from '../support/durableGateFakes';
import { gatePushed } from '../support/localGate';
import { CRITICAL_OPENSSL, reportsGatePolicy } from '../support/pushSamples';
import { useRegistry } from '../support/registry';
import { describeRequiring } from '../support/required';
import { exec, signingTools, tool } from '../support/signingTools';

jest.setTimeout(120_000);

describeRequiring(signingTools)('oras attach with its default layer type (real oras, real registry)', () => {
  const reg = useRegistry();
  let dir: string;
  const now = new Date();

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'acr-guard-oras-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function gate(image: ImageId, instanceId: string): Promise<GateOutcome> {
    const policy = reportsGatePolicy(reg.registry.host);
    return gatePushed(image, instanceId, { policy, startTime: now, verifySignatures: inconclusiveSignatures });
  }

  /** Exactly what a user types (plus --plain-http for the loopback registry), from the report's directory. */
  async function orasAttachDefault(ref: string, file: string): Promise<void> {
    await exec(
      tool('oras') as string,
      ['attach', '--plain-http', '--artifact-type', 'application/sarif+json', ref, file],
      { HOME: dir },
      dir,
    );
  }

  async function pushScanned(repo: string, critical: boolean): Promise<{ image: ImageId; referrer: Descriptor }> {
    const pushed = await pushImage(reg.client, repo, { tag: '1.0', layers: [Buffer.from(`${repo} ${critical}`)] });
    const sarif = sampleSarif({
      imageName: `${reg.registry.host}/${repo}@${pushed.digest}`,
      digest: pushed.digest,
      scannedAt: now.toISOString(),
      vulnerabilities: critical ? [CRITICAL_OPENSSL] : [],
    });
    writeFileSync(join(dir, 'trivy.sarif.json'), sarif);
    await orasAttachDefault(`${reg.registry.host}/${repo}@${pushed.digest}`, 'trivy.sarif.json');
    const referrers = await reg.client.listReferrers(repo, pushed.digest);
    expect(referrers).toHaveLength(1);
    return { image: { registry: reg.registry.host, repository: repo, digest: pushed.digest }, referrer: referrers[0] };
  }

  it('stores the report with the default layer type and the empty config (what the issue describes)', async () => {
    const { image, referrer } = await pushScanned('team/oras-shape', false);
    const manifest = await reg.client.getManifest(image.repository, referrer.digest);
    expect(manifest.artifactType).toBe('application/sarif+json');
    expect((manifest.json.layers as Descriptor[]).map((l) => l.mediaType)).toEqual([
      'application/vnd.oci.image.layer.v1.tar',
    ]);
    expect((manifest.json.config as Descriptor).digest).toBe(OCI_EMPTY_CONFIG_DIGEST);
  });

  it('ignores the referrer as an artifact instead of gating (and blocking) it as an image', async () => {
    const { image, referrer } = await pushScanned('team/oras-referrer', false);

    const outcome = await gate({ ...image, digest: referrer.digest }, 'oras-referrer');

    expect(outcome.status).toBe('ignored');
    expect(outcome.verdict).toBeUndefined();
  });

  it('reads the report on the image: a critical finding blocks, naming it', async () => {
    const { image } = await pushScanned('team/oras-critical', true);

    const outcome = await gate(image, 'oras-critical');

    expect(outcome.verdict?.decision).toBe('block');
    expect(JSON.stringify(outcome.verdict)).toContain('CVE-2024-6119');
  });

  it('reads the report on the image: a clean report releases', async () => {
    const { image } = await pushScanned('team/oras-clean', false);

    const outcome = await gate(image, 'oras-clean');

    expect(outcome.verdict?.decision).toBe('release');
  });

  it('does not reopen case 2: the same layer type under a real image config is gated, not ignored', async () => {
    const repo = 'team/oras-dressed';
    const target = await pushImage(reg.client, repo, { tag: 'base', layers: [Buffer.from('base')] });
    const real = await reg.client.getManifest(
      repo,
      (await pushImage(reg.client, repo, { layers: [Buffer.from('runnable')] })).digest,
    );
    const layers = (real.json.layers as Descriptor[]).map((l) => ({
      ...l,
      mediaType: 'application/vnd.oci.image.layer.v1.tar',
    }));
    const body = Buffer.from(
      JSON.stringify({
        ...real.json,
        artifactType: 'application/sarif+json',
        layers,
        subject: { mediaType: target.mediaType, digest: target.digest, size: target.size },
      }),
    );
    const { digestOf } = await import('../../src/adapters/registry');
    const digest = await reg.client.putManifest(repo, digestOf(body), body, real.mediaType);

    const outcome = await gate({ registry: reg.registry.host, repository: repo, digest }, 'oras-dressed');

    expect(outcome.status).not.toBe('ignored');
    expect(outcome.verdict?.decision).toBe('block'); // gated: no report of its own, inconclusive, fail closed
  });
});
