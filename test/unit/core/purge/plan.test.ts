import fc from 'fast-check';
import {
  planPurge,
  manifestTime,
  type ManifestRecord,
  type InUseRef,
  type PurgePlan,
} from '../../../../src/core/purge/plan';
import type { RetentionRule } from '../../../../src/core/policyTypes';
import { MediaTypes } from '../../../../src/core/types';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 10, 30);
const dg = (i: number): string => `sha256:${i.toString(16).padStart(64, '0')}`;

function rule(r: Partial<RetentionRule>): RetentionRule {
  return { scope: 'app', protectInUse: true, includeLocked: false, index: 0, ...r };
}

function image(i: number, tags: string[], ageDays: number, extra: Partial<ManifestRecord> = {}): ManifestRecord {
  return { digest: dg(i), tags, mediaType: MediaTypes.ociManifest, createdMs: NOW - ageDays * DAY, ...extra };
}

function decision(plan: PurgePlan, i: number): string {
  const d = plan.deletes.find((e) => e.digest === dg(i));
  if (d) return `delete:${d.reason}`;
  const k = plan.keeps.find((e) => e.digest === dg(i));
  return k ? `keep:${k.reason}` : 'missing';
}

describe('planPurge: the rules', () => {
  it('keeps the N most recent tagged manifests and deletes older tagged ones matching the pattern', () => {
    const manifests = [
      image(1, ['dev-1'], 50),
      image(2, ['dev-2'], 40),
      image(3, ['dev-3'], 35),
      image(4, ['v1.0'], 60),
      image(5, ['dev-5'], 5),
    ];
    const plan = planPurge({
      repository: 'app',
      manifests,
      rule: rule({ keep: 2, olderThanMs: 30 * DAY, tagPattern: '^dev-' }),
      inUse: [],
      nowMs: NOW,
    });
    expect(decision(plan, 5)).toBe('keep:within-keep');
    expect(decision(plan, 3)).toBe('keep:within-keep');
    expect(decision(plan, 2)).toBe('delete:rule');
    expect(decision(plan, 1)).toBe('delete:rule');
    expect(decision(plan, 4)).toBe('keep:tag-not-eligible');
    expect(plan.deletes.find((d) => d.digest === dg(1))?.detail).toBe(
      'retention[0] scope "app": beyond the 2 most recent tagged, older than 30d, every tag matches ^dev-',
    );
  });

  it('keeps a manifest when one of its tags is not eligible (deleting by digest would remove that tag too)', () => {
    const plan = planPurge({
      repository: 'app',
      manifests: [image(1, ['dev-1', 'stable'], 90)],
      rule: rule({ tagPattern: '^dev-' }),
      inUse: [],
      nowMs: NOW,
    });
    expect(decision(plan, 1)).toBe('keep:tag-not-eligible');
  });

  it('deletes untagged manifests only with untagged: true, and honours olderThan for them too', () => {
    const manifests = [image(1, [], 90), image(2, [], 1)];
    expect(
      planPurge({ repository: 'app', manifests, rule: rule({ olderThanMs: 30 * DAY }), inUse: [], nowMs: NOW }).deletes,
    ).toEqual([]);
    const plan = planPurge({
      repository: 'app',
      manifests,
      rule: rule({ untagged: true, olderThanMs: 30 * DAY }),
      inUse: [],
      nowMs: NOW,
    });
    expect(decision(plan, 1)).toBe('delete:untagged');
    expect(decision(plan, 2)).toBe('keep:too-recent');
  });

  it('leaves an untagged manifest alone for an hour even without olderThan: a multi-platform push sends its platform manifests before the index', () => {
    const HOUR = 3_600_000;
    const fresh: ManifestRecord = {
      digest: dg(1),
      tags: [],
      mediaType: MediaTypes.ociManifest,
      createdMs: NOW - 10 * 60_000,
    };
    const settled: ManifestRecord = {
      digest: dg(2),
      tags: [],
      mediaType: MediaTypes.ociManifest,
      createdMs: NOW - HOUR - 1,
    };
    const plan = planPurge({
      repository: 'app',
      manifests: [fresh, settled],
      rule: rule({ untagged: true }),
      inUse: [],
      nowMs: NOW,
    });
    expect(decision(plan, 1)).toBe('keep:too-recent');
    expect(plan.keeps.find((k) => k.digest === dg(1))?.detail).toMatch(
      /^pushed or changed less than 1h ago: the index or tag/,
    );
    expect(decision(plan, 2)).toBe('delete:untagged');
  });

  it('leaves a tagged manifest pushed or retagged in the last hour, even beyond keep: its push or its gate may still be running', () => {
    const HOUR = 3_600_000;
    const burst = [1, 2, 3].map((i) => ({
      digest: dg(i),
      tags: [`pr-${i}`],
      mediaType: MediaTypes.ociManifest,
      createdMs: NOW - i * 60_000,
    }));
    const retagged: ManifestRecord = {
      digest: dg(4),
      tags: ['pr-4'],
      mediaType: MediaTypes.ociManifest,
      createdMs: NOW - 90 * DAY,
      updatedMs: NOW - 5 * 60_000,
    };
    const settled: ManifestRecord = {
      digest: dg(5),
      tags: ['pr-5'],
      mediaType: MediaTypes.ociManifest,
      createdMs: NOW - HOUR - 1,
    };
    const plan = planPurge({
      repository: 'app',
      manifests: [...burst, retagged, settled],
      rule: rule({ keep: 1, tagPattern: '^pr-' }),
      inUse: [],
      nowMs: NOW,
    });
    expect(decision(plan, 1)).toBe('keep:within-keep');
    expect([2, 3, 4].map((i) => decision(plan, i))).toEqual(['keep:too-recent', 'keep:too-recent', 'keep:too-recent']);
    expect(plan.keeps.find((k) => k.digest === dg(2))?.detail).toMatch(
      /^pushed or changed less than 1h ago: its push or its gate/,
    );
    expect(decision(plan, 5)).toBe('delete:rule');
  });

  it('a rule with only untagged selects no tagged manifest', () => {
    const plan = planPurge({
      repository: 'app',
      manifests: [image(1, ['a'], 900)],
      rule: rule({ untagged: true }),
      inUse: [],
      nowMs: NOW,
    });
    expect(decision(plan, 1)).toBe('keep:no-tag-criteria');
  });

  it('never deletes a manifest whose age is unknown under olderThan', () => {
    const plan = planPurge({
      repository: 'app',
      manifests: [{ digest: dg(1), tags: ['a'], mediaType: MediaTypes.ociManifest }],
      rule: rule({ olderThanMs: DAY }),
      inUse: [],
      nowMs: NOW,
    });
    expect(decision(plan, 1)).toBe('keep:age-unknown');
  });

  it('keeps locked manifests unless includeLocked, and marks locked deletes', () => {
    const manifests = [image(1, ['a'], 90, { locked: true })];
    expect(
      decision(planPurge({ repository: 'app', manifests, rule: rule({ olderThanMs: DAY }), inUse: [], nowMs: NOW }), 1),
    ).toBe('keep:locked');
    const plan = planPurge({
      repository: 'app',
      manifests,
      rule: rule({ olderThanMs: DAY, includeLocked: true }),
      inUse: [],
      nowMs: NOW,
    });
    expect(plan.deletes[0]).toMatchObject({ digest: dg(1), locked: true });
  });

  it('keeps what is deployed, by digest or by a tag that points at it, unless protectInUse is false', () => {
    const manifests = [image(1, ['a'], 90), image(2, ['b'], 90), image(3, ['c'], 90)];
    const inUse: InUseRef[] = [
      { digest: dg(1), source: 'app1/web' },
      { tag: 'b', source: 'aci/x' },
    ];
    const plan = planPurge({ repository: 'app', manifests, rule: rule({ olderThanMs: DAY }), inUse, nowMs: NOW });
    expect([decision(plan, 1), decision(plan, 2), decision(plan, 3)]).toEqual([
      'keep:in-use',
      'keep:in-use',
      'delete:rule',
    ]);
    expect(plan.keeps.find((k) => k.digest === dg(2))?.detail).toBe('deployed as tag b in aci/x');
    const off = planPurge({
      repository: 'app',
      manifests,
      rule: rule({ olderThanMs: DAY, protectInUse: false }),
      inUse,
      nowMs: NOW,
    });
    expect(off.deletes).toHaveLength(3);
  });

  it('a kept index keeps its children; a deleted index takes the children nothing else keeps, index first', () => {
    const manifests = [
      image(10, ['v2'], 1, { mediaType: MediaTypes.ociIndex, children: [dg(11), dg(12)] }),
      image(11, [], 90),
      image(12, [], 90),
      image(20, ['v1'], 90, { mediaType: MediaTypes.ociIndex, children: [dg(21), dg(22), dg(12)] }),
      image(21, [], 1),
      image(22, [], 90, { locked: true }),
    ];
    const plan = planPurge({
      repository: 'app',
      manifests,
      rule: rule({ olderThanMs: 30 * DAY }),
      inUse: [],
      nowMs: NOW,
    });
    expect(decision(plan, 10)).toBe('keep:too-recent');
    expect(decision(plan, 11)).toBe('keep:listed-by-kept-index');
    expect(decision(plan, 12)).toBe('keep:listed-by-kept-index');
    expect(decision(plan, 20)).toBe('delete:rule');
    expect(decision(plan, 21)).toBe('delete:child-of-deleted-index');
    expect(decision(plan, 22)).toBe('keep:locked');
    expect(plan.deletes.map((d) => [d.digest, d.wave])).toEqual([
      [dg(20), 0],
      [dg(21), 1],
    ]);
  });

  it('referrers go with their subject and are deleted first; never on their own', () => {
    const manifests = [
      image(1, ['old'], 90),
      image(2, [], 0, { subject: dg(1), mediaType: MediaTypes.ociManifest }), // signature of 1
      image(3, [], 0, { subject: dg(2) }), // signature of the signature
      image(4, ['new'], 1),
      image(5, [], 90, { subject: dg(4) }),
      image(6, [], 90, { subject: dg(99) }), // orphan
    ];
    const plan = planPurge({
      repository: 'app',
      manifests,
      rule: rule({ olderThanMs: 30 * DAY, untagged: true }),
      inUse: [],
      nowMs: NOW,
    });
    expect(plan.deletes.map((d) => `${d.digest}:${d.reason}:${d.wave}`)).toEqual([
      `${dg(3)}:referrer-of-deleted-subject:0`,
      `${dg(2)}:referrer-of-deleted-subject:1`,
      `${dg(1)}:rule:2`,
    ]);
    expect(decision(plan, 5)).toBe('keep:subject-kept');
    expect(decision(plan, 6)).toBe('keep:orphan-referrer');
  });

  it('a locked referrer keeps its subject (and so the subject is not orphaned from it)', () => {
    const manifests = [image(1, ['old'], 90), image(2, [], 90, { subject: dg(1), locked: true })];
    const plan = planPurge({ repository: 'app', manifests, rule: rule({ olderThanMs: DAY }), inUse: [], nowMs: NOW });
    expect(decision(plan, 1)).toBe('keep:has-kept-referrer');
    expect(decision(plan, 2)).toBe('keep:locked');
  });

  it('protects the digests the caller names', () => {
    const plan = planPurge({
      repository: 'app',
      manifests: [image(1, [], 0)],
      rule: rule({ untagged: true }),
      inUse: [],
      protect: [dg(1)],
      nowMs: NOW,
    });
    expect(decision(plan, 1)).toBe('keep:protected');
  });

  it('plans 100,000 manifests quickly', () => {
    const manifests = Array.from({ length: 100_000 }, (_, i) => image(i + 1, i % 3 === 0 ? [] : [`dev-${i}`], i % 100));
    const t0 = performance.now();
    const plan = planPurge({
      repository: 'app',
      manifests,
      rule: rule({ keep: 10, olderThanMs: 30 * DAY, untagged: true, tagPattern: '^dev-' }),
      inUse: [],
      nowMs: NOW,
    });
    expect(plan.deletes.length + plan.keeps.length).toBe(100_000);
    // Generous: the machine running tests may be shared; `npm run bench:purge` reports the real figure.
    expect(performance.now() - t0).toBeLessThan(30_000);
  });
});

// ---- properties over generated registries ----

interface Generated {
  manifests: ManifestRecord[];
  rule: RetentionRule;
  inUse: InUseRef[];
}

const TAGS = ['a', 'b', 'dev-1', 'dev-2', 'pr-3', 'v1', 'latest', 'dev-x', 'pr-9', 'rel'];

const generated: fc.Arbitrary<Generated> = fc
  .record({
    n: fc.integer({ min: 1, max: 30 }),
    seed: fc.array(
      fc.record({
        kind: fc.constantFrom('image', 'image', 'index', 'referrer'),
        ageDays: fc.option(fc.integer({ min: 0, max: 120 }), { nil: undefined, freq: 8 }),
        updatedDays: fc.option(fc.integer({ min: 0, max: 120 }), { nil: undefined }),
        locked: fc.boolean(),
        tagMask: fc.integer({ min: 0, max: 1023 }),
        links: fc.array(fc.nat(40), { maxLength: 4 }),
        size: fc.option(fc.nat(10_000), { nil: undefined }),
      }),
      { minLength: 30, maxLength: 30 },
    ),
    tagOwner: fc.array(fc.nat(40), { minLength: TAGS.length, maxLength: TAGS.length }),
    keep: fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined }),
    olderThanDays: fc.option(fc.integer({ min: 1, max: 100 }), { nil: undefined }),
    untagged: fc.option(fc.boolean(), { nil: undefined }),
    tagPattern: fc.option(fc.constantFrom('^dev-', '^(dev|pr)-', '.', '^v'), { nil: undefined }),
    protectInUse: fc.boolean(),
    includeLocked: fc.boolean(),
    inUseDigests: fc.array(fc.nat(40), { maxLength: 4 }),
    inUseTags: fc.subarray(TAGS, { maxLength: 3 }),
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
      if (s.updatedDays !== undefined) m.updatedMs = NOW - s.updatedDays * DAY;
      if (s.locked) m.locked = true;
      if (s.size !== undefined) m.size = s.size;
      // Links point at later manifests (content digests cannot form cycles), some beyond the repository.
      if (s.kind === 'index') m.children = s.links.map((l) => dg(i + 2 + l));
      if (s.kind === 'referrer' && s.links.length > 0) m.subject = dg(i + 2 + s.links[0]);
      manifests.push(m);
    }
    // Each tag points at one manifest at most (a registry maps a tag to one digest).
    TAGS.forEach((t, j) => {
      const owner = g.tagOwner[j];
      if (owner < g.n) manifests[owner].tags.push(t);
    });
    const rule: RetentionRule = {
      scope: 'app',
      protectInUse: g.protectInUse,
      includeLocked: g.includeLocked,
      index: 0,
    };
    if (g.keep !== undefined) rule.keep = g.keep;
    if (g.olderThanDays !== undefined) rule.olderThanMs = g.olderThanDays * DAY;
    if (g.untagged !== undefined) rule.untagged = g.untagged;
    if (g.tagPattern !== undefined) rule.tagPattern = g.tagPattern;
    if (
      rule.keep === undefined &&
      rule.olderThanMs === undefined &&
      rule.untagged === undefined &&
      rule.tagPattern === undefined
    )
      rule.untagged = true;
    const inUse: InUseRef[] = [
      ...g.inUseDigests.map((d) => ({ digest: dg(d + 1), source: 'ca/rev' })),
      ...g.inUseTags.map((t) => ({ tag: t, source: 'aci/g' })),
    ];
    return { manifests, rule, inUse };
  });

function withinKeep(g: Generated): Set<string> {
  if (!g.rule.keep) return new Set();
  // A manifest any ordinary tag points at counts, whatever subject it has (issue 17: judged as itself).
  const tagged = g.manifests.filter((m) => m.tags.length > 0);
  tagged.sort(
    (a, b) => (manifestTime(b) ?? Infinity) - (manifestTime(a) ?? Infinity) || (a.digest < b.digest ? -1 : 1),
  );
  return new Set(tagged.slice(0, g.rule.keep).map((m) => m.digest));
}

describe('planPurge: safety properties over generated registries', () => {
  const run = (g: Generated): PurgePlan =>
    planPurge({ repository: 'app', manifests: g.manifests, rule: g.rule, inUse: g.inUse, nowMs: NOW });
  const params = { numRuns: 400 };

  it('decides every manifest exactly once', () => {
    fc.assert(
      fc.property(generated, (g) => {
        const plan = run(g);
        const all = [...plan.deletes, ...plan.keeps].map((e) => e.digest).sort();
        expect(all).toEqual(g.manifests.map((m) => m.digest).sort());
      }),
      params,
    );
  });

  it('never deletes what is locked, in use, within keep, or listed by a kept index', () => {
    fc.assert(
      fc.property(generated, (g) => {
        const plan = run(g);
        const deleted = new Set(plan.deletes.map((d) => d.digest));
        const keepSet = withinKeep(g);
        const inUseTags = new Set(g.inUse.map((r) => r.tag).filter(Boolean));
        const inUseDigests = new Set(g.inUse.map((r) => r.digest).filter(Boolean));
        for (const m of g.manifests) {
          if (!deleted.has(m.digest)) {
            for (const c of m.children ?? []) expect(deleted.has(c)).toBe(false); // listed by a kept index
            continue;
          }
          if (!g.rule.includeLocked) expect(m.locked).not.toBe(true);
          if (g.rule.protectInUse) {
            expect(inUseDigests.has(m.digest)).toBe(false);
            expect(m.tags.some((t) => inUseTags.has(t))).toBe(false);
          }
          expect(keepSet.has(m.digest)).toBe(false);
        }
      }),
      params,
    );
  });

  it('untagged referrers follow their subject: deleted exactly when it is, before it; never on their own', () => {
    fc.assert(
      fc.property(generated, (g) => {
        const plan = run(g);
        const position = new Map(plan.deletes.map((d, i) => [d.digest, i]));
        const present = new Set(g.manifests.map((m) => m.digest));
        for (const m of g.manifests) {
          if (m.subject === undefined || m.subject === m.digest) continue;
          if (m.tags.length > 0) {
            // Tagged: judged as itself; but a kept one keeps its subject, and it goes before a deleted subject.
            if (position.has(m.subject)) expect(position.has(m.digest)).toBe(true);
          } else if (!present.has(m.subject)) {
            expect(position.has(m.digest)).toBe(false);
            continue;
          } else expect(position.has(m.digest)).toBe(position.has(m.subject));
          if (position.has(m.digest) && position.has(m.subject))
            expect(position.get(m.digest) as number).toBeLessThan(position.get(m.subject) as number);
        }
      }),
      params,
    );
  });

  it('deletes an index before the children it lists, and selects by age only what is older than olderThan', () => {
    fc.assert(
      fc.property(generated, (g) => {
        const plan = run(g);
        const position = new Map(plan.deletes.map((d, i) => [d.digest, i]));
        for (const m of g.manifests) {
          if (!position.has(m.digest)) continue;
          for (const c of m.children ?? [])
            if (c !== m.digest && position.has(c))
              expect(position.get(m.digest) as number).toBeLessThan(position.get(c) as number);
        }
        for (const d of plan.deletes) {
          if ((d.reason === 'rule' || d.reason === 'untagged') && g.rule.olderThanMs !== undefined) {
            const m = g.manifests.find((x) => x.digest === d.digest) as ManifestRecord;
            expect(NOW - (manifestTime(m) as number)).toBeGreaterThan(g.rule.olderThanMs);
          }
        }
      }),
      params,
    );
  });

  it('is deterministic: the order of the listing does not change the plan', () => {
    fc.assert(
      fc.property(generated, fc.nat(), (g, seed) => {
        const shuffled = [...g.manifests].sort(
          (a, b) => ((a.digest.charCodeAt(70) * 31 + seed) % 97) - ((b.digest.charCodeAt(70) * 31 + seed) % 97),
        );
        expect(planPurge({ repository: 'app', manifests: shuffled, rule: g.rule, inUse: g.inUse, nowMs: NOW })).toEqual(
          run(g),
        );
      }),
      { numRuns: 200 },
    );
  });
});

// ---- a time that is not a time (NaN, ±Infinity, null, a string) in a record passed directly ----

/** Values a record built outside the listing could carry where a time belongs. */
const GARBAGE_TIMES = [NaN, Infinity, -Infinity, null, 'yesterday', '2026-01-01'] as unknown as number[];

const planOf = (g: Generated): PurgePlan =>
  planPurge({ repository: 'app', manifests: g.manifests, rule: g.rule, inUse: g.inUse, nowMs: NOW });

describe('planPurge: an unknown time keeps the manifest (fail closed)', () => {
  it('keeps an old-looking tagged manifest whose time is NaN, under every selecting rule, as unknown-time', () => {
    const bad = (i: number, tags: string[], extra: Partial<ManifestRecord> = {}): ManifestRecord => ({
      ...image(i, tags, 90),
      createdMs: NaN,
      ...extra,
    });
    for (const r of [
      rule({ olderThanMs: DAY }),
      rule({ keep: 0, tagPattern: '.' }),
      rule({ tagPattern: '^dev-' }),
      rule({ keep: 1, olderThanMs: DAY, untagged: true }),
    ]) {
      const plan = planPurge({
        repository: 'app',
        manifests: [bad(1, ['dev-1']), bad(2, []), bad(3, ['dev-3'], { createdMs: NOW - 90 * DAY, updatedMs: NaN })],
        rule: { ...r, untagged: true },
        inUse: [],
        nowMs: NOW,
      });
      expect(plan.deletes).toEqual([]);
      expect([1, 2, 3].map((i) => decision(plan, i))).toEqual([
        'keep:unknown-time',
        'keep:unknown-time',
        'keep:unknown-time',
      ]);
      expect(plan.keeps[0].detail).toBe(
        'its createdMs or updatedMs is not a valid time, so its age is unknown: never deleted on its own',
      );
    }
  });

  it('garbage of every kind is unknown; a missing time stays as it was (age-unknown), a valid one is judged', () => {
    for (const t of GARBAGE_TIMES) {
      const plan = planPurge({
        repository: 'app',
        manifests: [{ ...image(1, ['a'], 0), createdMs: t }],
        rule: rule({ olderThanMs: DAY }),
        inUse: [],
        nowMs: NOW,
      });
      expect([String(t), decision(plan, 1)]).toEqual([String(t), 'keep:unknown-time']);
    }
    const plan = planPurge({
      repository: 'app',
      manifests: [{ digest: dg(1), tags: ['a'], mediaType: MediaTypes.ociManifest }, image(2, ['b'], 90)],
      rule: rule({ olderThanMs: DAY }),
      inUse: [],
      nowMs: NOW,
    });
    expect([decision(plan, 1), decision(plan, 2)]).toEqual(['keep:age-unknown', 'delete:rule']);
  });

  it('takes no keep slot: the most recent valid manifests stay within keep, the unknown one is kept beside them', () => {
    // keep: 1. Before, NaN in the ranking's comparator placed 1 (NaN) first by digest and so deleted 2, the newest.
    const plan = planPurge({
      repository: 'app',
      manifests: [{ ...image(1, ['a'], 90), createdMs: NaN }, image(2, ['b'], 40), image(3, ['c'], 50)],
      rule: rule({ keep: 1, olderThanMs: 30 * DAY }),
      inUse: [],
      nowMs: NOW,
    });
    expect([1, 2, 3].map((i) => decision(plan, i))).toEqual(['keep:unknown-time', 'keep:within-keep', 'delete:rule']);
  });

  it('a kept unknown-time index keeps what it lists; a referrer follows its subject whatever its own time', () => {
    const plan = planPurge({
      repository: 'app',
      manifests: [
        { ...image(1, ['v1'], 90, { mediaType: MediaTypes.ociIndex, children: [dg(2)] }), createdMs: NaN },
        image(2, [], 90),
        image(3, ['old'], 90),
        { ...image(4, [], 90, { subject: dg(3) }), createdMs: NaN },
      ],
      rule: rule({ olderThanMs: DAY, untagged: true }),
      inUse: [],
      nowMs: NOW,
    });
    expect([1, 2, 3, 4].map((i) => decision(plan, i))).toEqual([
      'keep:unknown-time',
      'keep:listed-by-kept-index',
      'delete:rule',
      'delete:referrer-of-deleted-subject',
    ]);
  });

  it('replacing any manifest time with NaN or garbage never adds a deletion (property, fixed seed)', () => {
    fc.assert(
      fc.property(
        generated,
        fc.nat(29),
        fc.constantFrom(...GARBAGE_TIMES),
        fc.constantFrom('createdMs', 'updatedMs', 'both'),
        (g, which, garbage, field) => {
          const target = which % g.manifests.length;
          const before = new Set(planOf(g).deletes.map((d) => d.digest));
          const manifests = g.manifests.map((m, i) => {
            if (i !== target) return m;
            const changed = { ...m };
            if (field !== 'updatedMs') changed.createdMs = garbage;
            if (field !== 'createdMs') changed.updatedMs = garbage;
            return changed;
          });
          const after = planOf({ ...g, manifests });
          for (const d of after.deletes) expect(before.has(d.digest)).toBe(true);
          // And the manifest itself is never deleted on its own (only with an index or subject it follows).
          const own = after.deletes.find((d) => d.digest === g.manifests[target].digest);
          if (own) expect(['child-of-deleted-index', 'referrer-of-deleted-subject']).toContain(own.reason);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
