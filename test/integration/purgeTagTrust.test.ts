/**
 * Issue 17, case 1, on a real loopback docker-registry: a tag is a pusher's word, so a tag never changes what a
 * manifest is. Re-PUTting a release's index bytes under the referrers-style tag `sha256-<hex of an old image>`
 * (push rights only) must not make the purge delete that release along with the old image.
 */
import { useRegistry } from '../support/registry';
import { listedByDigest, planReasons, pushCosignStyle, whatIsLeft } from '../support/purgeFixtures';
import { pushArtifact, pushImage, pushIndex, type Pushed } from '../../src/local/ociPush';
import { purgeRepository } from '../../src/jobs/purge';
import type { RetentionRule } from '../../src/core/policyTypes';
import { MediaTypes } from '../../src/core/types';
import { digestOf } from '../../src/adapters/registry';
import { COSIGN_PAYLOAD_LIMITS } from '../../src/core/purge/referrerTies';

jest.setTimeout(60_000);

const NOW = Date.UTC(2026, 10, 30, 12);
const RULE: RetentionRule = {
  scope: 'rel/**',
  keep: 1,
  olderThanMs: 30 * 86_400_000,
  untagged: true,
  protectInUse: false,
  includeLocked: false,
  index: 0,
};

/** `sha256-<hex>`: the referrers fallback tag of `p`. */
const fallbackTag = (p: Pushed): string => p.digest.replace(':', '-');

describe('a referrers-style tag never makes the purge delete a release (issue 17, case 1)', () => {
  const reg = useRegistry();
  /** The purge of `repo` under RULE at NOW, past the deletion cap (the cap is not what these tests are about). */
  const purge = (repo: string, options: { dryRun: boolean }) =>
    purgeRepository({ client: reg.client, repository: repo, rule: RULE, nowMs: NOW, allowOverCap: true, ...options });

  /** 0.9 (2023), 1.0 (2024-01) and 2.0, an OCI index of one image (2024-06). */
  async function releases(repo: string): Promise<{ v09: Pushed; v10: Pushed; v20: Pushed; child: Pushed }> {
    const v09 = await pushImage(reg.client, repo, { tag: '0.9', seed: `${repo} 0.9`, created: '2023-05-01T00:00:00Z' });
    const v10 = await pushImage(reg.client, repo, { tag: '1.0', seed: `${repo} 1.0`, created: '2024-01-15T00:00:00Z' });
    const child = await pushImage(reg.client, repo, {
      seed: `${repo} 2.0 amd64`,
      created: '2024-06-15T00:00:00Z',
      platform: { os: 'linux', architecture: 'amd64' },
    });
    const v20 = await pushIndex(reg.client, repo, {
      tag: '2.0',
      manifests: [{ ...child, platform: { os: 'linux', architecture: 'amd64' } }],
    });
    return { v09, v10, v20, child };
  }

  it('re-PUT of the 2.0 index under sha256-<hex of 0.9>: 2.0 and its child are kept, judged as themselves', async () => {
    const repo = 'rel/case1';
    const { v09, v10, v20, child } = await releases(repo);
    const dryBefore = await purge(repo, { dryRun: true });
    expect(dryBefore.plan?.keeps.find((k) => k.digest === v20.digest)).toMatchObject({ reason: 'within-keep' });

    // The attack: the same index bytes, under a tag that names 0.9 (push rights only).
    const bytes = (await reg.client.getManifest(repo, '2.0')).bytes;
    await reg.client.putManifest(repo, fallbackTag(v09), bytes, MediaTypes.ociIndex);

    const listed = await listedByDigest(reg.client, repo, NOW);
    expect(listed.get(v20.digest)?.tags).toEqual(['2.0', fallbackTag(v09)].sort());
    expect(listed.get(v20.digest)?.subject).toBeUndefined();

    const dry = await purge(repo, { dryRun: true });
    const { deletes, keeps } = planReasons(dry.plan);
    expect(keeps.get(v20.digest)).toBe('within-keep');
    expect(keeps.get(child.digest)).toBe('listed-by-kept-index');
    expect(deletes.get(v09.digest)).toBe('rule');
    expect(deletes.get(v10.digest)).toBe('rule');
    expect(dry.plan?.deletes).toHaveLength(2);

    const real = await purge(repo, { dryRun: false });
    expect(real.outcome).toMatchObject({ status: 'done', deleted: 2, failed: 0 });
    const left = await whatIsLeft(
      reg.client,
      repo,
      [v09, v10, v20, child].map((p) => p.digest),
    );
    expect(left.present).toEqual([v20.digest, child.digest].sort());
    expect(left.tags).toEqual(['2.0', fallbackTag(v09)].sort());
  });

  it('a genuine fallback index (every listed manifest names the digest as its own subject) still goes with it', async () => {
    const repo = 'rel/genuine';
    const { v09, v10, v20 } = await releases(repo);
    const sig = await pushArtifact(reg.client, repo, {
      subject: v09,
      artifactType: MediaTypes.notarySignature,
      blob: Buffer.from('signature of 0.9'),
      blobMediaType: 'application/jose+json',
    });
    const index = (await reg.client.getManifest(repo, fallbackTag(v09))).digest;
    const listed = await listedByDigest(reg.client, repo, NOW);
    expect(listed.get(index)?.subject).toBe(v09.digest);
    expect(listed.get(sig.digest)?.subject).toBe(v09.digest);
    const dry = await purge(repo, { dryRun: true });
    const deletes = new Map(dry.plan?.deletes.map((d) => [d.digest, d]));
    expect(deletes.get(sig.digest)?.reason).toBe('referrer-of-deleted-subject');
    expect(deletes.get(index)?.reason).toBe('referrer-of-deleted-subject');
    // The listing goes after what it lists, before its subject.
    expect(deletes.get(index)?.wave).toBeGreaterThan(deletes.get(sig.digest)?.wave ?? Infinity);
    expect(deletes.get(v09.digest)?.wave).toBeGreaterThan(deletes.get(index)?.wave ?? Infinity);
    expect(deletes.has(v10.digest)).toBe(true);
    expect(deletes.has(v20.digest)).toBe(false);
  });

  it('cosign: a .sig tied to its image by its simple-signing payload goes with it; one whose payload names another digest is kept', async () => {
    const repo = 'rel/cosign';
    const { v09, v10 } = await releases(repo);
    const sig09 = await pushCosignStyle(reg.client, repo, v09, { suffix: 'sig' });
    // A signature manifest of 1.0's, pushed under 0.9's signature tag... on a repository of its own, then
    // copied here under 0.9's tag: its payload names 1.0, its tag names 0.9.
    const other = 'rel/cosign-other';
    const sig10 = await pushCosignStyle(reg.client, other, v10, { suffix: 'att' });
    const bytes = (await reg.client.getManifest(other, sig10.digest)).bytes;
    for (const d of (await reg.client.getManifest(other, sig10.digest)).blobs)
      await reg.client.putBlob(repo, await reg.client.getBlob(other, d.digest));
    const mismatched = `${fallbackTag(v09)}.att`;
    await reg.client.putManifest(repo, mismatched, bytes, MediaTypes.ociManifest);

    const listed = await listedByDigest(reg.client, repo, NOW);
    expect(listed.get(sig09.digest)?.subject).toBe(v09.digest);
    expect(listed.get(sig10.digest)?.subject).toBeUndefined();
    const dry = await purge(repo, { dryRun: true });
    const { deletes, keeps } = planReasons(dry.plan);
    expect(deletes.get(sig09.digest)).toBe('referrer-of-deleted-subject');
    expect(deletes.get(v09.digest)).toBe('rule');
    expect(keeps.get(sig10.digest)).toBe('unverified-referrer-tag');
  });

  it('hostile: a cosign payload past its bound (whatever size its descriptor claims) is not read in full and ties nothing: kept', async () => {
    const repo = 'rel/cosign-big';
    const { v09 } = await releases(repo);
    const payload = Buffer.from(
      JSON.stringify({
        critical: { image: { 'docker-manifest-digest': v09.digest }, type: 'cosign container image signature' },
        optional: { padding: 'x'.repeat(COSIGN_PAYLOAD_LIMITS.maxPayloadBytes) },
      }),
    );
    const payloadDigest = await reg.client.putBlob(repo, payload);
    const config = Buffer.from('{"architecture":"","os":"","rootfs":{"type":"layers","diff_ids":[]},"config":{}}');
    const configDigest = await reg.client.putBlob(repo, config);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.ociManifest,
        config: { mediaType: MediaTypes.ociConfig, digest: configDigest, size: config.length },
        // The descriptor lies about the size: the read is bounded anyway.
        layers: [{ mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', digest: payloadDigest, size: 200 }],
      }),
    );
    await reg.client.putManifest(repo, `${fallbackTag(v09)}.sig`, manifest, MediaTypes.ociManifest);
    const sig = digestOf(manifest);
    const listed = await listedByDigest(reg.client, repo, NOW);
    expect(listed.get(sig)?.subject).toBeUndefined();
    const dry = await purge(repo, { dryRun: true });
    expect(dry.plan?.keeps.find((k) => k.digest === sig)?.reason).toBe('unverified-referrer-tag');
    expect(dry.plan?.deletes.find((d) => d.digest === v09.digest)?.reason).toBe('rule');
  });
});
