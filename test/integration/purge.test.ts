/**
 * The purge against a real loopback docker-registry (deletes enabled): list → plan → execute, then the
 * registry is listed again to prove what is left. Then the same with a fault-injecting proxy in front
 * (429 + Retry-After, 503, connections dropped before and after the registry acted): same end state, and no
 * DELETE ever reaches the registry for a manifest the plan keeps.
 */
import { useRegistry } from '../support/registry';
import {
  daysAgo,
  pushCosignStyle,
  seedRepository,
  startFaultProxy,
  listedByDigest,
  planReasons,
  whatIsLeft,
  type SeededRepository,
  seededDigests,
} from '../support/purgeFixtures';
import { pushImage } from '../../src/local/ociPush';
import { purgeRepository } from '../../src/jobs/purge';
import { createRegistryClient } from '../../src/adapters/registry';
import { listRepositoryManifests } from '../../src/adapters/registry/manifestListing';
import type { InUseLookup } from '../../src/adapters/ports';
import type { RetentionRule } from '../../src/core/policyTypes';

jest.setTimeout(60_000);

const NOW = Date.UTC(2026, 10, 30, 12);
const RULE: RetentionRule = {
  scope: 'app/**',
  keep: 1,
  olderThanMs: 30 * 86_400_000,
  untagged: true,
  protectInUse: true,
  includeLocked: false,
  // These tests are about what is deleted and how; the deletion cap (default 25%) is tested in purgeTagTrust.
  maxDeletes: { percent: 100 },
  index: 0,
};

/** An in-use lookup as the Container Apps / ACI adapter answers: v2 runs by tag. */
function deployedV2(host: string, repository: string): InUseLookup {
  return {
    listDeployedImages: async () => [
      {
        image: `${host}/${repository}:v2`,
        source:
          '/subscriptions/s/resourceGroups/rg/providers/Microsoft.App/containerApps/web/revisions/web--3/containers/web',
      },
    ],
  };
}

function expectedLeft(s: SeededRepository): string[] {
  return [s.v2, s.v3, s.newIndex, ...s.newChildren, s.sigV3].map((p) => p.digest).sort();
}

describe('purge on a loopback docker-registry', () => {
  const reg = useRegistry();

  it('lists tagged, untagged index children, indexes and referrers (with the fallback tag index)', async () => {
    const s = await seedRepository(reg.client, 'app/list', NOW);
    const listed = await listRepositoryManifests(reg.client, 'app/list');
    const byDigest = new Map(listed.map((m) => [m.digest, m]));
    for (const d of seededDigests(s)) expect(byDigest.has(d)).toBe(true);
    expect(byDigest.get(s.oldIndex.digest)).toMatchObject({
      tags: ['multi-old'],
      children: s.oldChildren.map((c) => c.digest),
      createdMs: NOW - 80 * 86_400_000,
    });
    expect(byDigest.get(s.sbomOfSigV1.digest)?.subject).toBe(s.sigV1.digest);
    expect(byDigest.get(s.v1.digest)?.createdMs).toBe(NOW - 100 * 86_400_000);
    const fallback = listed.find((m) => m.tags.includes(s.v1.digest.replace(':', '-')));
    expect(fallback?.subject).toBe(s.v1.digest);
    // 15 pushed manifests + 3 fallback tag indexes (of v1, of v1's signature, of v3).
    expect(listed).toHaveLength(seededDigests(s).length + 3);
  });

  it('a dry run plans exactly what the real run then deletes; the registry keeps the rest', async () => {
    const s = await seedRepository(reg.client, 'app/web', NOW);
    const inUse = deployedV2(reg.registry.host, 'app/web');
    const dry = await purgeRepository({
      client: reg.client,
      repository: 'app/web',
      rule: RULE,
      inUse,
      nowMs: NOW,
      dryRun: true,
    });
    expect(dry.outcome.status).toBe('dry-run');
    const before = reg.requests.filter((r) => r.startsWith('DELETE')).length;
    expect(before).toBe(0);
    const planned = (dry.plan?.deletes ?? []).map((d) => d.digest);
    expect(dry.plan?.keeps.find((k) => k.digest === s.v2.digest)).toMatchObject({ reason: 'in-use' });
    expect(dry.plan?.keeps.find((k) => k.digest === s.v3.digest)).toMatchObject({ reason: 'within-keep' });
    expect(dry.plan?.keeps.find((k) => k.digest === s.newIndex.digest)).toMatchObject({ reason: 'too-recent' });
    expect(dry.plan?.keeps.find((k) => k.digest === s.sigV3.digest)).toMatchObject({ reason: 'subject-kept' });

    const real = await purgeRepository({
      client: reg.client,
      repository: 'app/web',
      rule: RULE,
      inUse,
      nowMs: NOW,
      dryRun: false,
    });
    expect(real.outcome).toMatchObject({ status: 'done', failed: 0, notAttempted: 0 });
    expect((real.execution?.deleted ?? []).map((d) => d.digest).sort()).toEqual([...planned].sort());
    expect(real.plan?.deletes.map((d) => d.digest)).toEqual(planned);
    // Referrers went before their subjects, indexes before their children.
    const order = reg.requests.filter((r) => r.startsWith('DELETE')).map((r) => r.split('/manifests/')[1]);
    expect(order.indexOf(s.sbomOfSigV1.digest)).toBeLessThan(order.indexOf(s.sigV1.digest));
    expect(order.indexOf(s.sigV1.digest)).toBeLessThan(order.indexOf(s.v1.digest));
    expect(order.indexOf(s.oldIndex.digest)).toBeLessThan(order.indexOf(s.oldChildren[0].digest));
    // The fallback tag index goes after the referrers it lists (the only way to find them on this registry).
    const fallbackOfV1 = dry.plan?.deletes.find((d) => d.tags.includes(s.v1.digest.replace(':', '-')))
      ?.digest as string;
    expect(order.indexOf(s.sigV1.digest)).toBeLessThan(order.indexOf(fallbackOfV1));
    expect(order.indexOf(fallbackOfV1)).toBeLessThan(order.indexOf(s.v1.digest));

    const left = await whatIsLeft(reg.client, 'app/web', seededDigests(s));
    expect(left.present).toEqual(expectedLeft(s));
    expect(left.tags).toEqual(['multi-new', s.v3.digest.replace(':', '-'), 'v2', 'v3'].sort());

    // A second run finds nothing more to do.
    const again = await purgeRepository({
      client: reg.client,
      repository: 'app/web',
      rule: RULE,
      inUse,
      nowMs: NOW,
      dryRun: false,
    });
    expect(again.plan?.deletes).toEqual([]);
  });

  it('cosign signatures and attestations (sha256-<hex>.sig/.att tags) go with their subject, never alone, and never count in keep', async () => {
    const repo = 'app/cosign';
    const v1 = await pushImage(reg.client, repo, { tag: 'v1', seed: 'cosign v1', created: daysAgo(NOW, 100) });
    const v2 = await pushImage(reg.client, repo, { tag: 'v2', seed: 'cosign v2', created: daysAgo(NOW, 95) });
    const v3 = await pushImage(reg.client, repo, { tag: 'v3', seed: 'cosign v3', created: daysAgo(NOW, 40) });
    const sigV1 = await pushCosignStyle(reg.client, repo, v1, { suffix: 'sig' });
    const sigV2 = await pushCosignStyle(reg.client, repo, v2, { suffix: 'sig' });
    // Attested yesterday: the newest tagged manifest, which must not take v3's place among the `keep` 1.
    const attV3 = await pushCosignStyle(reg.client, repo, v3, { suffix: 'att', created: daysAgo(NOW, 1) });
    const tag = (p: { digest: string }, suffix: string): string => `${p.digest.replace(':', '-')}.${suffix}`;

    const listed = await listedByDigest(reg.client, repo, NOW);
    expect(listed.get(sigV1.digest)).toMatchObject({ tags: [tag(v1, 'sig')], subject: v1.digest });
    expect(listed.get(sigV2.digest)).toMatchObject({ tags: [tag(v2, 'sig')], subject: v2.digest });
    expect(listed.get(attV3.digest)).toMatchObject({ tags: [tag(v3, 'att')], subject: v3.digest });

    const inUse = deployedV2(reg.registry.host, repo);
    const dry = await purgeRepository({
      client: reg.client,
      repository: repo,
      rule: RULE,
      inUse,
      nowMs: NOW,
      dryRun: true,
    });
    expect(dry.plan?.deletes.map((e) => [e.digest, e.reason, e.wave])).toEqual([
      [sigV1.digest, 'referrer-of-deleted-subject', 0],
      [v1.digest, 'rule', 1],
    ]);
    const { keeps } = planReasons(dry.plan);
    expect(keeps.get(v2.digest)).toBe('in-use');
    expect(keeps.get(sigV2.digest)).toBe('subject-kept');
    expect(keeps.get(v3.digest)).toBe('within-keep');
    expect(keeps.get(attV3.digest)).toBe('subject-kept');

    const real = await purgeRepository({
      client: reg.client,
      repository: repo,
      rule: RULE,
      inUse,
      nowMs: NOW,
      dryRun: false,
    });
    expect(real.outcome).toMatchObject({ status: 'done', deleted: 2, failed: 0 });
    const order = reg.requests.filter((r) => r.startsWith(`DELETE /v2/${repo}/`)).map((r) => r.split('/manifests/')[1]);
    expect(order).toEqual([sigV1.digest, v1.digest]);
    const left = await whatIsLeft(
      reg.client,
      repo,
      [v1, v2, v3, sigV1, sigV2, attV3].map((p) => p.digest),
    );
    expect(left.present).toEqual([v2, v3, sigV2, attV3].map((p) => p.digest).sort());
    expect(left.tags).toEqual([tag(v2, 'sig'), tag(v3, 'att'), 'v2', 'v3'].sort());
  });

  it('a runnable image tagged like a cosign signature (sha256-<hex>.sig) is an image, not a referrer: decided by content', async () => {
    const repo = 'app/disguised';
    const v1 = await pushImage(reg.client, repo, { tag: 'v1', seed: 'disguised v1', created: daysAgo(NOW, 100) });
    const v2 = await pushImage(reg.client, repo, { tag: 'v2', seed: 'disguised v2', created: daysAgo(NOW, 2) });
    const sigV1 = await pushCosignStyle(reg.client, repo, v1, { suffix: 'sig' });
    // An image (tar+gzip layer) pushed under v2's signature tag: its tag says "referrer of v2", its content says image.
    const disguised = await pushImage(reg.client, repo, {
      tag: `${v2.digest.replace(':', '-')}.att`,
      seed: 'disguised image',
      created: daysAgo(NOW, 100),
    });

    const listed = await listedByDigest(reg.client, repo, NOW);
    expect(listed.get(sigV1.digest)).toMatchObject({ subject: v1.digest });
    expect(listed.get(disguised.digest)?.subject).toBeUndefined();

    // Not a referrer of v2 (its tag is a label): neither deleted nor kept along with v2. With only a
    // referrer-style tag and nothing in its content tying it, it is kept on its own (issue 17: a label alone
    // never decides a deletion).
    const dry = await purgeRepository({
      client: reg.client,
      repository: repo,
      rule: { ...RULE, protectInUse: false },
      nowMs: NOW,
      dryRun: true,
    });
    const { deletes, keeps } = planReasons(dry.plan);
    expect(deletes.has(disguised.digest)).toBe(false);
    expect(keeps.get(v2.digest)).toBe('within-keep');
    expect(keeps.get(disguised.digest)).toBe('unverified-referrer-tag');
    // v1 is old and beyond keep: it and its cosign signature (tied by its payload) go.
    expect(deletes.get(v1.digest)).toBe('rule');
    expect(deletes.get(sigV1.digest)).toBe('referrer-of-deleted-subject');
  });

  it('a runnable tagged image that claims a subject is an image: it is never deleted along with that subject', async () => {
    const repo = 'app/claims-subject';
    const v1 = await pushImage(reg.client, repo, { tag: 'v1', seed: 'claims v1', created: daysAgo(NOW, 100) });
    const v3 = await pushImage(reg.client, repo, { tag: 'v3', seed: 'claims v3', created: daysAgo(NOW, 1) });
    // A runnable image (tar+gzip layer), tagged v2, whose manifest says `subject: v1`.
    const v2 = await pushImage(reg.client, repo, {
      tag: 'v2',
      seed: 'claims v2',
      created: daysAgo(NOW, 2),
      subject: { mediaType: v1.mediaType, digest: v1.digest, size: v1.size },
    });
    const listed = await listedByDigest(reg.client, repo, NOW);
    expect(listed.get(v2.digest)?.subject).toBeUndefined();
    const dry = await purgeRepository({
      client: reg.client,
      repository: repo,
      rule: { ...RULE, protectInUse: false },
      nowMs: NOW,
      dryRun: true,
    });
    const { deletes, keeps } = planReasons(dry.plan);
    // v1 is old and beyond keep: deleted by the rule; v2 is young, so the rule keeps it: it does not follow v1.
    expect(deletes.get(v1.digest)).toBe('rule');
    expect(deletes.has(v2.digest)).toBe(false);
    expect(keeps.get(v2.digest)).toBeDefined();
    expect(keeps.get(v2.digest)).not.toBe('subject-kept');
    expect(keeps.get(v3.digest)).toBeDefined();
  });

  it('refuses a tag listing that repeats its continuation (it would hide tags a delete by digest removes too)', async () => {
    const repo = 'app/loop';
    for (const t of ['a1', 'a2', 'a3'])
      await pushImage(reg.client, repo, { tag: t, seed: `loop ${t}`, created: daysAgo(NOW, 100) });
    let deletes = 0;
    // A registry whose tags list always says "next: after a1": the second page points back at itself.
    const looping: typeof fetch = async (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      if (init?.method === 'DELETE') deletes++;
      const res = await fetch(input, init);
      if (!url.pathname.endsWith('/tags/list') || res.status !== 200) return res;
      const headers = new Headers(res.headers);
      headers.set('link', `</v2/${repo}/tags/list?last=a1&n=1>; rel="next"`);
      return new Response(await res.arrayBuffer(), { status: 200, headers });
    };
    const client = createRegistryClient({ host: reg.registry.host, plainHttp: true, fetch: looping });
    await expect(listRepositoryManifests(client, repo, { pageSize: 1, nowMs: NOW })).rejects.toMatchObject({
      code: 'LISTING_LOOP',
    });
    const result = await purgeRepository({
      client,
      repository: repo,
      rule: { ...RULE, keep: undefined, protectInUse: false },
      nowMs: NOW,
      dryRun: false,
      listing: { pageSize: 1 },
    });
    expect(result.outcome).toMatchObject({ status: 'failed', deleted: 0, error: { code: 'LISTING_LOOP' } });
    expect(deletes).toBe(0);
    expect((await reg.client.listTags(repo, { pageSize: 100 })).items.sort()).toEqual(['a1', 'a2', 'a3']);
  });

  it('an implausible build time (before 2000, as reproducible builds write, or more than a day ahead) is no age: kept under olderThan', async () => {
    const repo = 'app/repro';
    const ko = await pushImage(reg.client, repo, { tag: 'ko', seed: 'repro ko', created: '1980-01-01T00:00:01Z' });
    const epoch = await pushImage(reg.client, repo, { tag: 'epoch', seed: 'repro epoch' }); // 1970-01-01
    const ahead = await pushImage(reg.client, repo, { tag: 'ahead', seed: 'repro ahead', created: daysAgo(NOW, -2) });
    const old = await pushImage(reg.client, repo, { tag: 'old', seed: 'repro old', created: daysAgo(NOW, 100) });
    const y2k = await pushImage(reg.client, repo, { tag: 'y2k', seed: 'repro y2k', created: '2000-01-01T00:00:00Z' });
    const listed = await listedByDigest(reg.client, repo, NOW);
    for (const p of [ko, epoch, ahead]) expect(listed.get(p.digest)?.createdMs).toBeUndefined();
    expect(listed.get(old.digest)?.createdMs).toBe(NOW - 100 * 86_400_000);
    expect(listed.get(y2k.digest)?.createdMs).toBe(Date.UTC(2000, 0, 1));
    const dry = await purgeRepository({
      client: reg.client,
      repository: repo,
      rule: { ...RULE, keep: undefined, protectInUse: false },
      nowMs: NOW,
      dryRun: true,
    });
    expect(dry.plan?.deletes.map((e) => e.digest).sort()).toEqual([old.digest, y2k.digest].sort());
    const { keeps } = planReasons(dry.plan);
    for (const p of [ko, epoch, ahead]) expect(keeps.get(p.digest)).toBe('age-unknown');
  });

  it('does not run when the in-use lookup fails (fail closed)', async () => {
    const s = await seedRepository(reg.client, 'app/closed', NOW);
    const failing: InUseLookup = {
      listDeployedImages: async () =>
        Promise.reject(Object.assign(new Error('ARM answered 503 for scope rg-prod'), { code: 'TRANSIENT' })),
    };
    const result = await purgeRepository({
      client: reg.client,
      repository: 'app/closed',
      rule: RULE,
      inUse: failing,
      nowMs: NOW,
      dryRun: false,
    });
    expect(result.outcome).toMatchObject({ status: 'skipped', deleted: 0, error: { code: 'TRANSIENT' } });
    expect(result.outcome.error?.detail).toContain('nothing was deleted');
    expect((await whatIsLeft(reg.client, 'app/closed', seededDigests(s))).present).toEqual(seededDigests(s).sort());
  });

  it('under 429 + Retry-After, 503 and dropped connections: same end state, no extra deletions', async () => {
    const s = await seedRepository(reg.client, 'app/faults', NOW);
    const inUse = deployedV2(reg.registry.host, 'app/faults');
    const dry = await purgeRepository({
      client: reg.client,
      repository: 'app/faults',
      rule: RULE,
      inUse,
      nowMs: NOW,
      dryRun: true,
    });
    const planned = new Set((dry.plan?.deletes ?? []).map((d) => d.digest));
    let i = 0;
    const faults = ['429', '503', 'drop-before', 'drop-after', 'pass'] as const;
    // Every delete meets one fault first (cycling through the kinds), then passes.
    const proxy = await startFaultProxy(reg.registry.host, (_path, n) => (n === 1 ? faults[i++ % 4] : 'pass'));
    try {
      const client = createRegistryClient({ host: proxy.host, plainHttp: true, timeoutMs: 5000 });
      // The deployed reference names the real registry's host: match it against the proxy's host too.
      const proxied = deployedV2(proxy.host, 'app/faults');
      const result = await purgeRepository({
        client,
        repository: 'app/faults',
        rule: RULE,
        inUse: proxied,
        nowMs: NOW,
        dryRun: false,
        execute: { firstBackoffMs: 20 },
      });
      expect(result.outcome).toMatchObject({ status: 'done', failed: 0, notAttempted: 0 });
      expect(result.outcome.deleted + result.outcome.alreadyGone).toBe(planned.size);
      expect(result.execution?.throttled).toBeGreaterThan(0);
      expect(
        proxy.injected['429'] + proxy.injected['503'] + proxy.injected['drop-before'] + proxy.injected['drop-after'],
      ).toBe(planned.size);
      expect(proxy.injected['drop-after']).toBeGreaterThan(0);
      // Only planned digests ever reached the registry; a repeat after a lost answer got 404 (counted done).
      for (const f of proxy.forwarded) expect(planned.has(f.path.split('/manifests/')[1])).toBe(true);
      expect(proxy.forwarded.filter((f) => f.status === 202).length).toBe(planned.size);
    } finally {
      await proxy.close();
    }
    expect((await whatIsLeft(reg.client, 'app/faults', seededDigests(s))).present).toEqual(expectedLeft(s));
    expect(faults).toHaveLength(5);
  });

  it('stops cleanly on 403 and says what was and was not deleted', async () => {
    await seedRepository(reg.client, 'app/auth', NOW);
    const before = await listRepositoryManifests(reg.client, 'app/auth');
    let deletes = 0;
    const proxy = await startFaultProxy(reg.registry.host, () => 'pass');
    // A proxy that refuses every DELETE after the first two, as a registry does when the role is removed mid-run.
    const refusing: typeof fetch = async (input, init) => {
      if (init?.method === 'DELETE' && ++deletes > 2)
        return new Response('{"errors":[{"code":"DENIED"}]}', { status: 403 });
      return fetch(input, init);
    };
    let result;
    try {
      const client = createRegistryClient({ host: proxy.host, plainHttp: true, fetch: refusing });
      result = await purgeRepository({
        client,
        repository: 'app/auth',
        rule: { ...RULE, protectInUse: false },
        nowMs: NOW,
        dryRun: false,
        execute: { maxConcurrency: 1, initialConcurrency: 1 },
      });
      expect(result.outcome.status).toBe('partial');
      expect(result.outcome.deleted).toBe(2);
      expect(result.outcome.failed).toBe(1);
      expect(result.outcome.error?.code).toBe('REGISTRY_AUTH');
      expect(result.outcome.error?.detail).toMatch(
        /^stopped: .*refused \(403\).*Deleted 2 of \d+; \d+ not attempted and 1 failed are still in the registry$/,
      );
      expect(result.outcome.notAttempted).toBe((result.plan?.deletes.length ?? 0) - 3);
    } finally {
      await proxy.close();
    }
    // Exactly the two reported deleted are gone (checked by digest: on a registry without a manifest listing, the
    // untagged children of a deleted index can no longer be listed, though they are still there).
    const left = await whatIsLeft(
      reg.client,
      'app/auth',
      before.map((m) => m.digest),
    );
    expect(
      before
        .map((m) => m.digest)
        .filter((d) => !left.present.includes(d))
        .sort(),
    ).toEqual((result.execution?.deleted ?? []).map((d) => d.digest).sort());
  });
});
