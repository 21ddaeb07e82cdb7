/**
 * Issue 17 case 3 on a real docker-registry on loopback (no referrers API: the `sha256-<hex>` fallback index),
 * through the real replay driver and the real reports source: a newer report never replaces the scanner's.
 * Every fresh report counts and the worst wins; the superseded one is named in the verdict.
 */
import { MediaTypes, type ImageId } from '../../src/core/types';
import { pushImage, type Pushed } from '../../src/local/ociPush';
import type { GateOutcome } from '../../src/orchestrations/imageGate';
import { inconclusiveSignatures } from '../support/durableGateFakes';
import { gatePushed } from '../support/localGate';
import { attachCycloneDx, reportsGatePolicy } from '../support/pushSamples';
import { useRegistry } from '../support/registry';

jest.setTimeout(120_000);

describe('reports: the worst fresh one decides (real registry, fallback tag schema)', () => {
  const reg = useRegistry();
  const now = new Date();

  function gate(image: ImageId, instanceId: string): Promise<GateOutcome> {
    const policy = reportsGatePolicy(reg.registry.host);
    return gatePushed(image, instanceId, { policy, startTime: now, verifySignatures: inconclusiveSignatures });
  }

  const attach = (repo: string, image: Pushed, at: Date, critical: boolean): Promise<Pushed> =>
    attachCycloneDx(reg.client, repo, image, at, critical);

  it("the scanner's critical CycloneDX, then a clean one a second later: blocks, naming the critical and its report", async () => {
    const repo = 'team/newer-clean';
    const image = await pushImage(reg.client, repo, { tag: '1.0', layers: [Buffer.from(repo)] });
    const scanner = await attach(repo, image, new Date(now.getTime() - 60_000), true);
    const clean = await attach(repo, image, new Date(now.getTime() - 59_000), false);

    const outcome = await gate({ registry: reg.registry.host, repository: repo, digest: image.digest }, 'newer-clean');

    expect(outcome.verdict?.decision).toBe('block');
    const text = JSON.stringify(outcome.verdict);
    expect(text).toContain('CVE-2024-6119');
    expect(text).toContain(scanner.digest);
    expect(text).toContain(`superseded by the newer ${clean.digest}`);
  });

  it('a clean report alone still releases (the fix does not block everything)', async () => {
    const repo = 'team/only-clean';
    const image = await pushImage(reg.client, repo, { tag: '1.0', layers: [Buffer.from(repo)] });
    await attach(repo, image, new Date(now.getTime() - 60_000), false);

    const outcome = await gate({ registry: reg.registry.host, repository: repo, digest: image.digest }, 'only-clean');

    expect(outcome.verdict?.decision).toBe('release');
  });

  it('the documented limit with unsigned reports allowed: rewriting the fallback index to list only the clean report hides the critical one', async () => {
    // docs/vulnerability-reports.md, "Who can clear an image": on a registry without the referrers API anyone
    // with push can rewrite the `sha256-<hex>` index. acr-guard cannot tell (the tag is the registry's only
    // listing); `reports: { signedBy }` stops forged clean reports, Defender as a second source sees the image.
    const repo = 'team/rewritten';
    const image = await pushImage(reg.client, repo, { tag: '1.0', layers: [Buffer.from(repo)] });
    await attach(repo, image, new Date(now.getTime() - 60_000), true);
    const clean = await attach(repo, image, new Date(now.getTime() - 59_000), false);
    const fallback = image.digest.replace(':', '-');
    const index = await reg.client.getManifest(repo, fallback);
    const body = Buffer.from(
      JSON.stringify({ ...index.json, manifests: index.children.filter((d) => d.digest === clean.digest) }),
    );
    const { digestOf } = await import('../../src/adapters/registry');
    await reg.client.putManifest(repo, fallback, body, MediaTypes.ociIndex);
    expect(digestOf(body)).not.toBe(index.digest);

    const outcome = await gate({ registry: reg.registry.host, repository: repo, digest: image.digest }, 'rewritten');

    expect(outcome.verdict?.decision).toBe('release');
  });
});
