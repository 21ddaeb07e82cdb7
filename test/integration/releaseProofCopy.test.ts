/**
 * The referrers-graph copy against hostile and oversized graphs, on the real docker-registry 2.8 (no referrers
 * API: listings come from the `sha256-<hex>` fallback index, which whoever can push writes). A listing must never
 * smuggle a manifest into the release repository; bounds end the walk with their own codes; a failure is in the
 * proof, the verdict's `proof` check and its summary, never silent.
 */
import { MemoryAuditStore } from '../../src/adapters/auditStore';
import { composeGateServices } from '../../src/app/compose';
import { ErrorCodes, isGuardError } from '../../src/core/errors';
import { loadPolicy } from '../../src/core/policy';
import { MediaTypes, type Descriptor, type ImageId } from '../../src/core/types';
import { copyReferrerGraph } from '../../src/jobs/releaseProof';
import { pushArtifact, pushImage, type Pushed } from '../../src/local/ociPush';
import { gateActivities } from '../../src/orchestrations/activities';
import type { GateInput } from '../../src/orchestrations/imageGate';
import { replayGate } from '../support/localGate';
import { pushWithReport } from '../support/pushSamples';
import { useRegistry } from '../support/registry';

const reg = useRegistry();
const SBOM = 'application/spdx+json';

function descriptorOf(p: Pushed): Descriptor {
  return { mediaType: p.mediaType, digest: p.digest, size: p.size };
}

async function attach(repository: string, subject: Pushed, name: string): Promise<Pushed> {
  return pushArtifact(reg.client, repository, {
    subject: descriptorOf(subject),
    artifactType: SBOM,
    blob: Buffer.from(JSON.stringify({ spdxVersion: 'SPDX-2.3', name })),
    blobMediaType: SBOM,
  });
}

/** Writes the fallback index of `subject` in `repository` by hand, listing `entries` (a pusher can). */
async function forgeListing(repository: string, subject: string, entries: Descriptor[]): Promise<void> {
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: entries }));
  await reg.client.putManifest(repository, subject.replace(':', '-'), bytes, MediaTypes.ociIndex);
}

async function exists(repository: string, digest: string): Promise<boolean> {
  try {
    await reg.client.getManifest(repository, digest);
    return true;
  } catch (err) {
    if (isGuardError(err, ErrorCodes.NOT_FOUND)) return false;
    throw err;
  }
}

describe('referrers-graph copy (docker-registry 2.8, fallback tag schema)', () => {
  it('copies a chain of referrers and lists each in the release fallback index', async () => {
    const image = await pushImage(reg.client, 'proof/chain', { seed: 'chain' });
    const sbom = await attach('proof/chain', image, 'sbom');
    const sbomSig = await attach('proof/chain', sbom, 'sbom-sig');
    await reg.client.mountBlob('rel/chain', image.digest, 'proof/chain').catch(() => undefined);
    const proof = await copyReferrerGraph(reg.client, {
      from: 'proof/chain',
      target: 'rel/chain',
      roots: [image.digest],
    });
    expect(proof).toMatchObject({ copied: 2, failed: [] });
    expect((await reg.client.listReferrers('rel/chain', image.digest)).map((d) => d.digest)).toEqual([sbom.digest]);
    expect((await reg.client.listReferrers('rel/chain', sbom.digest)).map((d) => d.digest)).toEqual([sbomSig.digest]);
    // Bytes unchanged: the same digest, read back from the release repository.
    expect((await reg.client.getManifest('rel/chain', sbomSig.digest)).digest).toBe(sbomSig.digest);
    // Again (an activity retry): idempotent, the fallback index is not duplicated.
    const again = await copyReferrerGraph(reg.client, {
      from: 'proof/chain',
      target: 'rel/chain',
      roots: [image.digest],
    });
    expect(again).toMatchObject({ copied: 2, failed: [] });
    expect(await reg.client.listReferrers('rel/chain', image.digest)).toHaveLength(1);
  });

  it('refuses a listing that names another image (a blocked one) or a runnable "referrer": nothing is smuggled into the release', async () => {
    const image = await pushImage(reg.client, 'proof/smuggle', { seed: 'good' });
    const blocked = await pushImage(reg.client, 'proof/smuggle', { seed: 'blocked, vulnerable' });
    // An image that claims `subject: image` but has a filesystem layer.
    const runnable = await pushImage(reg.client, 'proof/smuggle', { seed: 'runnable', subject: descriptorOf(image) });
    const honest = await attach('proof/smuggle', image, 'honest');
    // A real SBOM, but of the blocked image: listed under the good one, it must not travel with it.
    const foreign = await attach('proof/smuggle', blocked, 'foreign');
    await forgeListing('proof/smuggle', image.digest, [
      descriptorOf(honest),
      { ...descriptorOf(blocked), artifactType: SBOM },
      { ...descriptorOf(runnable), artifactType: SBOM },
      { ...descriptorOf(foreign), artifactType: SBOM },
    ]);
    const proof = await copyReferrerGraph(reg.client, {
      from: 'proof/smuggle',
      target: 'rel/smuggle',
      roots: [image.digest],
    });
    expect(proof.copied).toBe(1);
    expect(proof.failed.map((f) => [f.digest, f.code]).sort()).toEqual(
      [
        [blocked.digest, ErrorCodes.REGISTRY_REJECTED],
        [runnable.digest, ErrorCodes.REGISTRY_REJECTED],
        [foreign.digest, ErrorCodes.REGISTRY_REJECTED],
      ].sort(),
    );
    expect(proof.failed.find((f) => f.digest === blocked.digest)?.detail).toMatch(/filesystem layer/);
    expect(proof.failed.find((f) => f.digest === foreign.digest)?.detail).toMatch(/does not refer to it/);
    expect(await exists('rel/smuggle', foreign.digest)).toBe(false);
    expect(proof.failed.find((f) => f.digest === runnable.digest)?.detail).toMatch(/filesystem layer/);
    expect(await exists('rel/smuggle', blocked.digest)).toBe(false);
    expect(await exists('rel/smuggle', runnable.digest)).toBe(false);
    expect(await exists('rel/smuggle', honest.digest)).toBe(true);
  });

  it('stops at the named bounds with their codes (count and depth)', async () => {
    const image = await pushImage(reg.client, 'proof/bounds', { seed: 'bounds' });
    const a = await attach('proof/bounds', image, 'a');
    await attach('proof/bounds', image, 'b');
    await attach('proof/bounds', image, 'c');
    await attach('proof/bounds', a, 'a-sig');
    const many = await copyReferrerGraph(reg.client, {
      from: 'proof/bounds',
      target: 'rel/bounds-count',
      roots: [image.digest],
      bounds: { maxDepth: 4, maxReferrers: 2, concurrency: 2 },
    });
    expect(many.copied).toBe(2);
    expect(many.failed).toEqual([expect.objectContaining({ code: ErrorCodes.PROOF_TOO_MANY_REFERRERS })]);
    const deep = await copyReferrerGraph(reg.client, {
      from: 'proof/bounds',
      target: 'rel/bounds-depth',
      roots: [image.digest],
      bounds: { maxDepth: 1, maxReferrers: 100, concurrency: 2 },
    });
    expect(deep.copied).toBe(3);
    expect(deep.failed).toEqual([expect.objectContaining({ code: ErrorCodes.PROOF_TOO_DEEP })]);
  });

  it('a release whose proof could not all be copied says so: apply.proof.failed, an inconclusive proof check, the summary', async () => {
    const host = reg.registry.host;
    const policy = loadPolicy(
      `version: 1
registries: [{ host: "${host}", apply: promote }]
gate:
  - scope: "team/**"
    vulnerabilities: { block: [critical], maxReportAge: 7d, sources: [reports], scanDeadline: 2m, pollInterval: 1m }
    signatures: { required: false }
    promote: { repository: "release/{repository}" }
`,
      'test policy',
    );
    const image: ImageId = await pushWithReport(reg.client, 'team/partial', 'v1', false);
    const m = await reg.client.getManifest('team/partial', image.digest);
    const pushed: Pushed = { mediaType: m.mediaType, digest: m.digest, size: m.size };
    const sbom = await attach('team/partial', pushed, 'sbom');
    // A referrer listed but gone by the time the release is applied (deleted after it was attached).
    const ghost = await attach('team/partial', pushed, 'ghost');
    await reg.client.deleteManifest('team/partial', ghost.digest);
    const services = composeGateServices({
      policy: () => policy,
      audit: new MemoryAuditStore(),
      plainHttpHosts: [host],
    });
    const input: GateInput = { image, trigger: 'rescan' };
    const outcome = await replayGate(gateActivities(services), input, `gate-partial-${pushed.digest.slice(7, 19)}`);
    expect(outcome.verdict?.decision).toBe('release');
    expect(outcome.apply?.proof).toMatchObject({ copied: 2, failed: [{ digest: ghost.digest, code: 'NOT_FOUND' }] });
    expect(outcome.verdict?.checks.find((c) => c.name === 'proof')).toMatchObject({
      status: 'inconclusive',
      reason: expect.stringMatching(/does NOT carry all of its proof \(2 copied, 1 failed\)/),
    });
    expect(outcome.verdict?.summary).toMatch(/proof incomplete/);
    expect(await exists('release/team/partial', sbom.digest)).toBe(true);
  });
});
