/**
 * Issue 17: a tag never changes what a manifest is, and a cap holds a plan that deletes too much.
 * - Property: adding a referrer-style tag (`sha256-<hex>`, and cosign's `.sig`/`.att`/`.sbom` forms) to any
 *   manifest of any generated repository never adds a deletion to the plan.
 * - Property: a manifest an ordinary tag points at is deleted only by the rule (reason `rule`), never along with
 *   something else.
 * - Ties by content (src/core/purge/referrerTies.ts) and the cap's arithmetic (src/core/purge/cap.ts).
 */
import fc from 'fast-check';
import { planPurge, type ManifestRecord, type PurgePlan } from '../../../../src/core/purge/plan';
import { capLimit, checkDeletionCap, DEFAULT_DELETION_CAP } from '../../../../src/core/purge/cap';
import {
  COSIGN_PAYLOAD_LIMITS,
  cosignPayloadLayers,
  digestNamedByPayload,
  tiedSubject,
  type ReadManifest,
} from '../../../../src/core/purge/referrerTies';
import type { RetentionRule } from '../../../../src/core/policyTypes';
import { MediaTypes } from '../../../../src/core/types';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 10, 30);
const dg = (i: number): string => `sha256:${i.toString(16).padStart(64, '0')}`;
const ORDINARY = ['0.9', '1.0', '2.0', 'latest', 'dev-1', 'pr-3'];

interface Generated {
  manifests: ManifestRecord[];
  rule: RetentionRule;
}

const generated: fc.Arbitrary<Generated> = fc
  .record({
    n: fc.integer({ min: 1, max: 20 }),
    seed: fc.array(
      fc.record({
        kind: fc.constantFrom('image', 'image', 'index', 'referrer'),
        ageDays: fc.option(fc.integer({ min: 0, max: 1200 }), { nil: undefined, freq: 8 }),
        locked: fc.boolean(),
        links: fc.array(fc.nat(25), { maxLength: 3 }),
        referrerTag: fc.option(fc.nat(25), { nil: undefined, freq: 4 }),
      }),
      { minLength: 20, maxLength: 20 },
    ),
    tagOwner: fc.array(fc.nat(25), { minLength: ORDINARY.length, maxLength: ORDINARY.length }),
    keep: fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }),
    olderThanDays: fc.option(fc.integer({ min: 1, max: 400 }), { nil: undefined }),
    untagged: fc.option(fc.boolean(), { nil: undefined }),
    tagPattern: fc.option(fc.constantFrom('^dev-', '.', '^[0-9]'), { nil: undefined }),
    includeLocked: fc.boolean(),
  })
  .map((g) => {
    const manifests: ManifestRecord[] = [];
    for (let i = 0; i < g.n; i++) {
      const s = g.seed[i];
      const m: ManifestRecord = {
        digest: dg(i + 1),
        tags: [],
        mediaType: s.kind === 'index' ? MediaTypes.ociIndex : MediaTypes.ociManifest,
      };
      if (s.ageDays !== undefined) m.createdMs = NOW - s.ageDays * DAY;
      if (s.locked) m.locked = true;
      if (s.kind === 'index') m.children = s.links.map((l) => dg(i + 2 + l));
      if (s.kind === 'referrer' && s.links.length > 0) m.subject = dg(i + 2 + s.links[0]);
      // Some manifests already carry a referrer-style tag (a fallback index, a cosign signature).
      if (s.referrerTag !== undefined) m.tags.push(dg(s.referrerTag + 1).replace(':', '-'));
      manifests.push(m);
    }
    ORDINARY.forEach((t, j) => {
      if (g.tagOwner[j] < g.n) manifests[g.tagOwner[j]].tags.push(t);
    });
    const rule: RetentionRule = { scope: 'app', protectInUse: false, includeLocked: g.includeLocked, index: 0 };
    if (g.keep !== undefined) rule.keep = g.keep;
    if (g.olderThanDays !== undefined) rule.olderThanMs = g.olderThanDays * DAY;
    if (g.untagged !== undefined) rule.untagged = g.untagged;
    if (g.tagPattern !== undefined) rule.tagPattern = g.tagPattern;
    if (rule.keep === undefined && rule.olderThanMs === undefined && rule.tagPattern === undefined)
      rule.untagged = true;
    return { manifests, rule };
  });

const plan = (g: Generated, manifests = g.manifests): PurgePlan =>
  planPurge({ repository: 'app', manifests, rule: g.rule, inUse: [], nowMs: NOW });

describe('a referrer-style tag never adds a deletion (property, fixed seed)', () => {
  it('adding sha256-<hex> (or .sig/.att/.sbom) to any manifest: the deletions after are a subset of those before', () => {
    fc.assert(
      fc.property(
        generated,
        fc.nat(19),
        fc.nat(40),
        fc.constantFrom('', '.sig', '.att', '.sbom'),
        (g, which, named, suffix) => {
          const target = which % g.manifests.length;
          const tag = `${dg(named + 1).replace(':', '-')}${suffix}`;
          const before = new Set(plan(g).deletes.map((d) => d.digest));
          const tagged = g.manifests.map((m, i) =>
            i === target && !m.tags.includes(tag) ? { ...m, tags: [...m.tags, tag] } : m,
          );
          for (const d of plan(g, tagged).deletes) expect(before.has(d.digest)).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('a manifest an ordinary tag points at is deleted only by the rule, never along with something else', () => {
    fc.assert(
      fc.property(generated, (g) => {
        for (const d of plan(g).deletes) if (d.tags.some((t) => ORDINARY.includes(t))) expect(d.reason).toBe('rule');
      }),
      { numRuns: 400 },
    );
  });

  it('issue 17 case 1 in the pure plan: a release index that also carries sha256-<hex of 0.9> is within keep', () => {
    const v09: ManifestRecord = {
      digest: dg(1),
      tags: ['0.9'],
      mediaType: MediaTypes.ociManifest,
      createdMs: Date.UTC(2023, 4),
    };
    const v10: ManifestRecord = {
      digest: dg(2),
      tags: ['1.0'],
      mediaType: MediaTypes.ociManifest,
      createdMs: Date.UTC(2024, 0),
    };
    const child: ManifestRecord = {
      digest: dg(4),
      tags: [],
      mediaType: MediaTypes.ociManifest,
      createdMs: Date.UTC(2024, 5),
    };
    // Even if something upstream gave it a subject, an ordinary tag makes it judged as itself.
    const v20: ManifestRecord = {
      digest: dg(3),
      tags: ['2.0', dg(1).replace(':', '-')],
      mediaType: MediaTypes.ociIndex,
      createdMs: Date.UTC(2024, 5),
      children: [dg(4)],
      subject: dg(1),
    };
    const p = planPurge({
      repository: 'rel',
      manifests: [v09, v10, v20, child],
      rule: {
        scope: 'rel',
        keep: 1,
        olderThanMs: 30 * DAY,
        untagged: true,
        protectInUse: false,
        includeLocked: false,
        index: 0,
      },
      inUse: [],
      nowMs: NOW,
    });
    const keeps = new Map(p.keeps.map((k) => [k.digest, k.reason]));
    expect(keeps.get(dg(3))).toBe('within-keep');
    expect(keeps.get(dg(4))).toBe('listed-by-kept-index');
    // Its (pusher-written) subject can only keep: a kept manifest keeps what it refers to.
    expect(keeps.get(dg(1))).toBe('has-kept-referrer');
    expect(p.deletes.map((d) => [d.tags[0], d.reason])).toEqual([['1.0', 'rule']]);
  });

  it('a manifest with only a referrer-style tag and no subject is kept, whatever the rule', () => {
    const lone: ManifestRecord = {
      digest: dg(1),
      tags: [`${dg(9).replace(':', '-')}.sig`],
      mediaType: MediaTypes.ociManifest,
      createdMs: NOW - 400 * DAY,
    };
    const p = planPurge({
      repository: 'app',
      manifests: [lone],
      rule: { scope: 'app', untagged: true, olderThanMs: DAY, protectInUse: false, includeLocked: true, index: 0 },
      inUse: [],
      nowMs: NOW,
    });
    expect(p.keeps[0]).toMatchObject({ reason: 'unverified-referrer-tag' });
  });
});

describe('ties by content (referrerTies)', () => {
  const read = (m: Partial<ReadManifest> & { digest: string }): ReadManifest => ({
    tags: [],
    runnable: false,
    isIndex: false,
    ...m,
  });
  const fallback = (d: string): string => d.replace(':', '-');

  it('a sha256-<hex> index is a listing of <hex> only when what it lists names it as its own subject', () => {
    const sig = read({ digest: dg(2), ownSubject: dg(1) });
    const img = read({ digest: dg(3), runnable: true });
    const listing = read({ digest: dg(4), tags: [fallback(dg(1))], isIndex: true, children: [dg(2)] });
    const release = read({ digest: dg(5), tags: ['2.0', fallback(dg(1))], isIndex: true, children: [dg(3)] });
    const all = new Map([sig, img, listing, release].map((m) => [m.digest, m]));
    expect(tiedSubject(listing, all)).toBe(dg(1));
    expect(tiedSubject(release, all)).toBeUndefined();
    // A `.sig`-suffixed tag never makes an index a listing.
    expect(tiedSubject({ ...listing, tags: [`${fallback(dg(1))}.sig`] }, all)).toBeUndefined();
  });

  it('a cosign body is tied only when its payload names the digest its .sig/.att tag names', () => {
    const all = new Map<string, ReadManifest>();
    expect(tiedSubject(read({ digest: dg(2), tags: [`${fallback(dg(1))}.sig`], payloadDigest: dg(1) }), all)).toBe(
      dg(1),
    );
    expect(
      tiedSubject(read({ digest: dg(2), tags: [`${fallback(dg(1))}.sig`], payloadDigest: dg(7) }), all),
    ).toBeUndefined();
    expect(tiedSubject(read({ digest: dg(2), tags: [`${fallback(dg(1))}.sig`] }), all)).toBeUndefined();
    // cosign's `.sbom` carries the SBOM itself: nothing in it names the image, so it is never tied.
    expect(
      tiedSubject(read({ digest: dg(2), tags: [`${fallback(dg(1))}.sbom`], payloadDigest: dg(1) }), all),
    ).toBeUndefined();
    // A runnable body is an image, whatever it says.
    expect(
      tiedSubject(read({ digest: dg(2), runnable: true, ownSubject: dg(1), tags: [`${fallback(dg(1))}.sig`] }), all),
    ).toBeUndefined();
  });

  it('reads payloads only within bounds, and parses simple-signing and DSSE payloads', () => {
    const layer = (mediaType: string, size = 100): Record<string, unknown> => ({ mediaType, digest: dg(1), size });
    const ss = 'application/vnd.dev.cosign.simplesigning.v1+json';
    const dsse = 'application/vnd.dsse.envelope.v1+json';
    expect(cosignPayloadLayers({ layers: [layer(ss)] })).toHaveLength(1);
    expect(cosignPayloadLayers({ layers: [layer(ss, COSIGN_PAYLOAD_LIMITS.maxPayloadBytes + 1)] })).toBeUndefined();
    expect(
      cosignPayloadLayers({ layers: [layer(ss), layer('application/vnd.oci.image.layer.v1.tar+gzip')] }),
    ).toBeUndefined();
    expect(
      cosignPayloadLayers({ layers: Array.from({ length: COSIGN_PAYLOAD_LIMITS.maxLayers + 1 }, () => layer(ss)) }),
    ).toBeUndefined();
    expect(cosignPayloadLayers({})).toBeUndefined();
    const simple = Buffer.from(JSON.stringify({ critical: { image: { 'docker-manifest-digest': dg(5) } } }));
    expect(digestNamedByPayload(ss, simple)).toBe(dg(5));
    expect(
      digestNamedByPayload(ss, Buffer.from('{"critical":{"image":{"docker-manifest-digest":"x"}}}')),
    ).toBeUndefined();
    const statement = (hexes: string[]): Buffer =>
      Buffer.from(
        JSON.stringify({
          payloadType: 'application/vnd.in-toto+json',
          payload: Buffer.from(
            JSON.stringify({ subject: hexes.map((h) => ({ name: 'app', digest: { sha256: h } })) }),
          ).toString('base64'),
        }),
      );
    expect(digestNamedByPayload(dsse, statement([dg(6).slice(7)]))).toBe(dg(6));
    expect(digestNamedByPayload(dsse, statement([dg(6).slice(7), dg(7).slice(7)]))).toBeUndefined();
    expect(digestNamedByPayload(dsse, Buffer.from('not json'))).toBeUndefined();
  });
});

describe('the deletion cap (pure)', () => {
  const entry = (i: number, tags: string[]): { digest: string; tags: string[] } => ({ digest: dg(i), tags });

  it('defaults to 25% of the tagged manifests, rounded down, at least 1; a count is a count', () => {
    expect(DEFAULT_DELETION_CAP).toEqual({ percent: 25 });
    expect(capLimit({ percent: 25 }, 3)).toBe(1);
    expect(capLimit({ percent: 25 }, 8)).toBe(2);
    expect(capLimit({ percent: 25 }, 0)).toBe(1);
    expect(capLimit({ percent: 100 }, 7)).toBe(7);
    expect(capLimit({ count: 0 }, 100)).toBe(0);
  });

  it('counts only manifests with an ordinary tag; holds past the limit unless the run allows it', () => {
    const p = {
      deletes: [entry(1, ['a']), entry(2, ['b']), entry(3, []), entry(4, [fallback(dg(9))])],
      keeps: [entry(5, ['c']), entry(6, ['d']), entry(7, ['e']), entry(8, [])],
    } as unknown as PurgePlan;
    expect(checkDeletionCap(p, {}, false)).toMatchObject({
      cap: '25%',
      tagged: 5,
      taggedDeletes: 2,
      limit: 1,
      exceeded: true,
      held: true,
    });
    expect(checkDeletionCap(p, {}, true)).toMatchObject({ exceeded: true, held: false });
    expect(checkDeletionCap(p, { maxDeletes: { percent: 40 } }, false)).toMatchObject({ limit: 2, held: false });
    expect(checkDeletionCap(p, { maxDeletes: { count: 2 } }, false)).toMatchObject({ cap: '2', held: false });
  });

  function fallback(d: string): string {
    return d.replace(':', '-');
  }
});
