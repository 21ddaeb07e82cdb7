import { createHash } from 'node:crypto';
import { planPurge, type InUseRef, type ManifestRecord } from '../../../../src/core/purge/plan';
import type { RetentionRule } from '../../../../src/core/policyTypes';
import { MediaTypes } from '../../../../src/core/types';

/**
 * Issue 22: planPurge was restructured for speed (indexes instead of per-digest Map lookups, details built once).
 * This pins the plan of a generated 100,000-manifest repository, with every shape the plan distinguishes
 * (duplicate listings, locks, in-use by digest and tag, protected, referrers, orphan referrers, referrer-style
 * tags alone, nested indexes, fallback tag indexes, unknown and recent times, tags outside the pattern), to
 * the hash of the plan the previous, straightforward implementation computed for the same input.
 */
const DAY = 86_400_000;
const NOW = 1_800_000_000_000;
/** The previous implementation's plan of {@link generate}, JSON, sha256 (recorded before the restructuring). */
const REFERENCE_PLAN_SHA256 = 'c38cc2c30570bc095bc0755f82c69960311bc2279bace253caa039ae10f79e37';

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A repository of `n` manifests (plus duplicate listings), deterministic. */
function generate(n: number): { manifests: ManifestRecord[]; inUse: InUseRef[]; protect: string[] } {
  const rand = mulberry32(22);
  const dg = (i: number): string => `sha256:${i.toString(16).padStart(64, '0')}`;
  const hex = (i: number): string => i.toString(16).padStart(64, '0');
  const pick = (k: number): number => 1 + Math.floor(rand() * k);
  const manifests: ManifestRecord[] = [];
  for (let i = 1; i <= n; i++) {
    const r = rand();
    const m: ManifestRecord = { digest: dg(i), tags: [], mediaType: MediaTypes.ociManifest };
    const age = rand();
    if (age < 0.02) {
      // no time known
    } else if (age < 0.05) m.createdMs = NOW - Math.floor(rand() * 2 * 3_600_000);
    else m.createdMs = NOW - Math.floor(rand() * 120) * DAY;
    if (rand() < 0.1 && m.createdMs !== undefined) m.updatedMs = m.createdMs + Math.floor(rand() * 10) * DAY;
    if (r < 0.45) m.tags = rand() < 0.9 ? [`build-${i}`] : [`build-${i}`, `release-${i}`];
    else if (r < 0.6)
      m.subject = dg(pick(n)); // a referrer (its subject may be itself or absent later)
    else if (r < 0.63)
      m.subject = `sha256:${'f'.repeat(64)}`; // orphan
    else if (r < 0.65)
      m.tags = [`sha256-${hex(pick(n))}.sig`]; // referrer-style tag alone
    else if (r < 0.7) {
      m.mediaType = MediaTypes.ociIndex;
      m.children = [dg(pick(n)), dg(pick(n)), dg(pick(n))];
      if (rand() < 0.5) m.tags = [`build-${i}`];
    } else if (r < 0.72) {
      m.mediaType = MediaTypes.ociIndex;
      const s = pick(n);
      m.subject = dg(s);
      m.tags = [`sha256-${hex(s)}`];
      m.children = [dg(pick(n)), dg(pick(n))];
    } else if (r < 0.74) m.tags = [`build-${i}`, `sha256-${hex(pick(n))}.att`];
    // else untagged
    if (rand() < 0.01) m.locked = true;
    if (rand() < 0.3) m.size = Math.floor(rand() * 1e6);
    manifests.push(m);
    if (rand() < 0.01) manifests.push({ ...m, tags: ['dup', ...m.tags], locked: rand() < 0.5 });
  }
  const inUse: InUseRef[] = [];
  for (let k = 0; k < 200; k++)
    inUse.push(
      k % 2 === 0 ? { digest: dg(pick(n)), source: `app-${k}` } : { tag: `build-${pick(n)}`, source: `app-${k}` },
    );
  const protect = [dg(pick(n)), dg(pick(n))];
  return { manifests, inUse, protect };
}

const SCALE_RULE: RetentionRule = {
  scope: '**',
  keep: 500,
  olderThanMs: 30 * DAY,
  untagged: true,
  tagPattern: '^(build|dup)-?',
  protectInUse: true,
  includeLocked: false,
  index: 0,
};

describe('planPurge at 100,000 manifests', () => {
  it('gives the same plan as the previous implementation', () => {
    const { manifests, inUse, protect } = generate(100_000);
    const plan = planPurge({ repository: 'scale/repo', manifests, rule: SCALE_RULE, inUse, protect, nowMs: NOW });
    expect(plan.deletes.length + plan.keeps.length).toBe(100_000);
    expect(new Set(plan.deletes.map((d) => d.reason)).size).toBeGreaterThanOrEqual(3);
    expect(plan.deletes.reduce((w, d) => Math.max(w, d.wave), 0)).toBe(8);
    expect(createHash('sha256').update(JSON.stringify(plan)).digest('hex')).toBe(REFERENCE_PLAN_SHA256);
  });
});
