/**
 * The purge plan: a pure function of (a repository's manifests, its retention rule, the images deployed from
 * it, now) that says for EVERY manifest `delete` or `keep`, with a reason. A dry run prints this plan; a real
 * run executes exactly this plan (the executor never re-decides), so the two cannot disagree.
 *
 * How a rule selects (each manifest, in this order):
 * 1. Protected, whatever the rule says: in use (by digest, or by a tag that points at it; when
 *    `protectInUse`), locked (`deleteEnabled: false` or `writeEnabled: false`, unless `includeLocked`),
 *    explicitly protected by the caller (the image a gate just decided).
 * 2. Referrers (a `subject`, decided by content in the listing: signatures, SBOMs, reports, and a fallback
 *    `sha256-<hex>` index whose listed manifests all name that subject) with no ordinary tag are never selected
 *    on their own: they go with their subject. A referrer whose subject is not in the repository is kept (never
 *    purged on its own). A manifest with only referrer-style tags (`sha256-<hex>`, `.sig`, `.att`, `.sbom`) and
 *    no subject is not tied to anything by content: it is kept (`unverified-referrer-tag`), never deleted.
 * 3. Tagged manifests (an ordinary tag: anything but a referrer-style tag), whether or not they have a subject:
 *    a tag is a pusher's word, so a manifest any ordinary tag points at is judged as itself, never deleted
 *    along with something else. The `keep` most recent (by last update, else creation time) stay. The rest are
 *    candidates when the rule has `keep`, `olderThan` or `tagPattern`, they are older than `olderThan`, and
 *    EVERY tag matches `tagPattern` (deleting by digest removes all its tags, so one ineligible tag keeps it).
 * 4. Untagged manifests that no index lists: candidates only with `untagged: true`, and older than `olderThan`.
 *    Candidates of 3 and 4 pushed or changed less than {@link SETTLE_MS} ago stay (a push or its gate may still
 *    be running); those whose time is not a valid time stay too (`unknown-time`, {@link hasUnknownTime}).
 * 5. Untagged manifests that an index lists follow that index.
 * Then protection spreads to a fixed point: a kept index keeps every manifest it lists (nested indexes too);
 * a kept subject keeps its referrers; a kept referrer (locked, in use, listed by a kept index) keeps its subject. Everything else that
 * was selected, or that only a deleted index listed, or that refers to a deleted subject, is deleted.
 *
 * Deletes are ordered in waves: a manifest comes after every deleted referrer of it and every deleted index that
 * lists it, so an interrupted purge never leaves an index pointing at a missing child, nor a signature whose
 * image is gone. One exception: the `sha256-<hex>` fallback tag index (an index with a subject) goes after the
 * referrers it lists, because on a registry without the referrers API it is the only way to find them.
 */
import type { RetentionRule } from '../policyTypes';
import { isReferrerTag } from '../reference';

/** One manifest of a repository as the listing found it. Times are epoch ms. */
export interface ManifestRecord {
  digest: string;
  tags: string[];
  mediaType: string;
  /** When the manifest was created (ACR `createdTime`; elsewhere the image config's `created`). */
  createdMs?: number;
  /** When the manifest last changed (ACR `lastUpdateTime`: a tag or attribute change). */
  updatedMs?: number;
  /** ACR `deleteEnabled: false` or `writeEnabled: false`. */
  locked?: boolean;
  /**
   * The digest this manifest refers to, decided by content (src/core/purge/referrerTies.ts): its own OCI
   * `subject`, a fallback index whose listed manifests all name it, a cosign payload that names it. Never a tag's
   * name alone.
   */
  subject?: string;
  /** For an index: the digests it lists. */
  children?: string[];
  /** Bytes, when the registry reports them (ACR `imageSize`). */
  size?: number;
}

/** An image found deployed, matched to this repository: by digest, by tag, or both. */
export interface InUseRef {
  digest?: string;
  tag?: string;
  /** Where it runs (Container Apps revision or container group, and container). */
  source: string;
}

/** Why a manifest is kept. Stable codes: the CLI's JSON and the audit summary carry them. */
export type KeepReason =
  | 'in-use'
  | 'locked'
  | 'protected'
  | 'within-keep'
  | 'too-recent'
  | 'age-unknown'
  | 'unknown-time'
  | 'tag-not-eligible'
  | 'untagged-not-selected'
  | 'no-tag-criteria'
  | 'listed-by-kept-index'
  | 'subject-kept'
  | 'has-kept-referrer'
  | 'orphan-referrer'
  | 'unverified-referrer-tag';

/** Why a manifest is deleted. */
export type DeleteReason = 'rule' | 'untagged' | 'child-of-deleted-index' | 'referrer-of-deleted-subject';

/** One manifest's decision. */
export type PlanEntry = {
  digest: string;
  tags: string[];
  mediaType: string;
  size?: number;
  /** Human-readable: which rule line or which other manifest decided it. */
  detail: string;
} & (
  | { action: 'keep'; reason: KeepReason }
  | {
      action: 'delete';
      reason: DeleteReason;
      /** Execution wave: everything in a wave may be deleted at once, after every earlier wave. */
      wave: number;
      /** Locked, and the rule says includeLocked: unlock before deleting (ACR). */
      locked: boolean;
      /** Deleted manifests that list or refer to this one: if one of them could not be deleted, this one stays. */
      after: string[];
    }
);

/** A delete entry. */
export type PlanDelete = Extract<PlanEntry, { action: 'delete' }>;
/** A keep entry. */
export type PlanKeep = Extract<PlanEntry, { action: 'keep' }>;

/** Input of {@link planPurge}. */
export interface PlanInput {
  repository: string;
  manifests: readonly ManifestRecord[];
  rule: RetentionRule;
  /** Deployed images of this repository (see `matchDeployedImages`); ignored unless `rule.protectInUse`. */
  inUse: readonly InUseRef[];
  /** Digests the caller protects whatever the rule says (the image a gate just decided). */
  protect?: readonly string[];
  nowMs: number;
}

/** The plan of one repository. */
export interface PurgePlan {
  repository: string;
  /** `retention[<index>] scope "<glob>"`. */
  rule: string;
  /** Deletes in execution order (by wave, then digest). */
  deletes: PlanDelete[];
  /** Kept manifests, by digest. */
  keeps: PlanKeep[];
}

/**
 * How long a manifest is left alone after it was pushed or changed, whatever the rule: the time a push may take
 * to send the index or tag that will claim its parts, and its gate to finish.
 */
export const SETTLE_MS = 3_600_000;

/** Short form of a digest for reasons: `sha256:0123456789ab`. */
export function shortDigest(digest: string): string {
  return digest.slice(0, digest.indexOf(':') + 13);
}

function formatAge(ms: number): string {
  const d = 86_400_000;
  if (ms % d === 0) return `${ms / d}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${Math.round(ms / 1000)}s`;
}

/** The time a manifest's age and recency are measured from: its last update, else its creation. */
export function manifestTime(m: ManifestRecord): number | undefined {
  if (m.updatedMs !== undefined && m.createdMs !== undefined) return Math.max(m.updatedMs, m.createdMs);
  return m.updatedMs ?? m.createdMs;
}

/**
 * True when a record carries a time that is not one: `createdMs` or `updatedMs` present but not a finite number
 * (NaN, ±Infinity, null or a string from a record that did not come through the listing, which drops them).
 * Fail closed: such a manifest is never taken as old; {@link planPurge} keeps it (`unknown-time`) and leaves it
 * out of the `keep` ranking, so it takes no other manifest's place there either.
 */
function hasUnknownTime(m: Pick<ManifestRecord, 'createdMs' | 'updatedMs'>): boolean {
  return (
    (m.createdMs !== undefined && !Number.isFinite(m.createdMs)) ||
    (m.updatedMs !== undefined && !Number.isFinite(m.updatedMs))
  );
}

/** Label of a rule for reasons and summaries. */
export function ruleLabel(rule: RetentionRule): string {
  return `retention[${rule.index}] scope "${rule.scope}"`;
}

type Decision =
  | { action: 'keep'; reason: KeepReason; detail: string }
  | { action: 'delete'; reason: DeleteReason; detail: string }
  | { action: 'follow' };

/** True when a manifest has a tag that is not referrer-style (`sha256-<hex>`, `.sig`, `.att`, `.sbom`). */
export function hasOrdinaryTag(m: Pick<ManifestRecord, 'tags'>): boolean {
  return m.tags.some((t) => !isReferrerTag(t));
}

/**
 * Computes the plan. Pure and deterministic: the same input always gives the same plan.
 *
 * Performance (issue 22: 100,000 manifests well under 400 ms): every manifest gets an index in digest order once,
 * and the rest of the plan works on arrays by index (no Map lookup by digest string, no per-comparison time
 * recomputation, no repeated sorting of lists that are built in order); details that do not depend on the
 * manifest are built once. The plan is the same as the straightforward per-digest version (a test pins a
 * generated 100,000-manifest plan).
 */
export function planPurge(input: PlanInput): PurgePlan {
  const { rule, nowMs } = input;
  const label = ruleLabel(rule);
  // Duplicate listings of one digest (a listing paged while it changed) merge: union of tags, any lock wins;
  // the first listing gives the other fields.
  const byDigest = new Map<string, Listed>();
  for (const m of input.manifests) {
    const seen = byDigest.get(m.digest);
    if (!seen)
      byDigest.set(m.digest, { digest: m.digest, m, tags: uniqueSorted(m.tags), locked: m.locked === true, i: -1 });
    else {
      seen.tags = uniqueSorted([...seen.tags, ...m.tags]);
      seen.locked = seen.locked || m.locked === true;
    }
  }
  const entries = [...byDigest.values()].sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
  const n = entries.length;
  const digests: string[] = new Array<string>(n);
  const recs: ManifestRecord[] = new Array<ManifestRecord>(n);
  const tagsOf: string[][] = new Array<string[]>(n);
  const lockedOf: boolean[] = new Array<boolean>(n);
  const ordinary: boolean[] = new Array<boolean>(n);
  const times = new Float64Array(n);
  const timeKnown = new Uint8Array(n); // manifestTime is a time (not undefined, not garbage)
  const timeBad = new Uint8Array(n); // a time is there but is not one (hasUnknownTime): kept, never ranked
  for (let i = 0; i < n; i++) {
    const e = entries[i];
    e.i = i;
    digests[i] = e.digest;
    recs[i] = e.m;
    tagsOf[i] = e.tags;
    lockedOf[i] = e.locked;
    ordinary[i] = hasOrdinaryTag(e);
    const t = manifestTime(e.m);
    if (hasUnknownTime(e.m)) timeBad[i] = 1;
    else if (t !== undefined) {
      times[i] = t;
      timeKnown[i] = 1;
    }
  }

  // Edges by index, only within the repository: the manifests an index lists (once each, in listing order, not
  // itself), the subject a manifest refers to (-1: none here; may be itself), who lists whom, who refers to whom
  // (both built in digest order, so already sorted).
  const childIdx: (number[] | undefined)[] = new Array<number[] | undefined>(n);
  const subjectIdx = new Int32Array(n).fill(-1);
  const parents: (number[] | undefined)[] = new Array<number[] | undefined>(n);
  const referrers: (number[] | undefined)[] = new Array<number[] | undefined>(n);
  for (let i = 0; i < n; i++) {
    const m = recs[i];
    if (m.children !== undefined && m.children.length > 0) {
      const list: number[] = [];
      for (const c of m.children) {
        const ci = byDigest.get(c)?.i;
        if (ci === undefined || ci === i || list.includes(ci)) continue;
        list.push(ci);
        (parents[ci] ??= []).push(i);
      }
      if (list.length > 0) childIdx[i] = list;
    }
    if (m.subject !== undefined) {
      const si = byDigest.get(m.subject)?.i;
      if (si !== undefined) {
        subjectIdx[i] = si;
        if (si !== i) (referrers[si] ??= []).push(i);
      }
    }
  }

  // In use: by digest, or by a tag (which protects the digest that tag points at now).
  const inUseDigest = new Map<string, string>();
  const inUseTag = new Map<string, string>();
  if (rule.protectInUse) {
    for (const ref of input.inUse) {
      if (ref.digest && !inUseDigest.has(ref.digest)) inUseDigest.set(ref.digest, ref.source);
      if (ref.tag && !inUseTag.has(ref.tag)) inUseTag.set(ref.tag, ref.source);
    }
  }
  const protect = new Set(input.protect ?? []);
  let pattern: RegExp | undefined;
  if (rule.tagPattern !== undefined) pattern = new RegExp(rule.tagPattern);
  const hasTagCriteria = rule.keep !== undefined || rule.olderThanMs !== undefined || rule.tagPattern !== undefined;

  // `keep` most recent tagged manifests: those with an ordinary tag (referrer-style tags alone, such as
  // fallback tag indexes and cosign signatures, do not count; a subject does not take a tagged manifest out).
  const withinKeep = new Uint8Array(n);
  if (rule.keep !== undefined && rule.keep > 0) {
    const tagged: number[] = [];
    for (let i = 0; i < n; i++) if (ordinary[i] && timeBad[i] === 0) tagged.push(i);
    if (tagged.length <= rule.keep) for (const i of tagged) withinKeep[i] = 1;
    else {
      // Newest first; an unknown time counts as newest (kept rather than guessed old); ties by digest (index).
      const key = (i: number): number => (timeKnown[i] === 1 ? times[i] : Number.POSITIVE_INFINITY);
      tagged.sort((a, b) => key(b) - key(a) || a - b);
      for (const i of tagged.slice(0, rule.keep)) withinKeep[i] = 1;
    }
  }

  // Decisions that do not depend on the manifest, built once.
  const olderThan = rule.olderThanMs !== undefined ? formatAge(rule.olderThanMs) : '';
  const ageUnknown: Decision = {
    action: 'keep',
    reason: 'age-unknown',
    detail: `${label}: the registry gave no time for it, so it is not known to be older than ${olderThan}`,
  };
  const tooRecent: Decision = { action: 'keep', reason: 'too-recent', detail: `${label}: not older than ${olderThan}` };
  const ageCheck = (i: number): Decision | undefined => {
    if (rule.olderThanMs === undefined) return undefined;
    if (timeKnown[i] === 0) return ageUnknown;
    const t = times[i];
    if (nowMs - t <= rule.olderThanMs) return tooRecent;
    return undefined;
  };

  // A manifest pushed or changed in the last hour may be part of a push still in flight (a multi-platform push
  // sends its platform manifests before the index that lists them; a push by digest comes before its tag) or
  // be in the middle of its own gate: whatever the rule, it is not deleted yet.
  const settling = (why: string): Decision => ({
    action: 'keep',
    reason: 'too-recent',
    detail: `pushed or changed less than ${formatAge(SETTLE_MS)} ago: ${why}`,
  });
  const settlingUntagged = settling('the index or tag of a push still in flight may not have arrived yet');
  const settlingTagged = settling('its push or its gate may still be running');
  const settleCheck = (i: number): Decision | undefined => {
    const t = times[i];
    if (timeKnown[i] === 1 && nowMs - t < SETTLE_MS) return tagsOf[i].length === 0 ? settlingUntagged : settlingTagged;
    return undefined;
  };

  // A time that is not one (NaN, garbage) is not a guess of "old": kept, whatever the rule.
  const unknownTime: Decision = {
    action: 'keep',
    reason: 'unknown-time',
    detail: 'its createdMs or updatedMs is not a valid time, so its age is unknown: never deleted on its own',
  };
  const timeCheck = (i: number): Decision | undefined =>
    timeBad[i] === 1 ? unknownTime : (ageCheck(i) ?? settleCheck(i));

  const parts: string[] = [];
  if (rule.keep !== undefined) parts.push(`beyond the ${rule.keep} most recent tagged`);
  if (rule.olderThanMs !== undefined) parts.push(`older than ${olderThan}`);
  if (rule.tagPattern !== undefined) parts.push(`every tag matches ${rule.tagPattern}`);
  const follow: Decision = { action: 'follow' };
  const deleteByRule: Decision = { action: 'delete', reason: 'rule', detail: `${label}: ${parts.join(', ')}` };
  const deleteUntagged: Decision = {
    action: 'delete',
    reason: 'untagged',
    detail: `${label}: untagged${rule.olderThanMs !== undefined ? ` and older than ${olderThan}` : ''}`,
  };
  const withinKeepDecision: Decision = {
    action: 'keep',
    reason: 'within-keep',
    detail: `${label}: one of the ${rule.keep} most recent tagged manifests`,
  };
  const noTagCriteria: Decision = {
    action: 'keep',
    reason: 'no-tag-criteria',
    detail: `${label} has no keep, olderThan or tagPattern, so it selects no tagged manifest`,
  };
  const lockedDecision: Decision = {
    action: 'keep',
    reason: 'locked',
    detail: 'locked (deleteEnabled or writeEnabled is false) and the rule does not say includeLocked',
  };
  const protectedDecision: Decision = {
    action: 'keep',
    reason: 'protected',
    detail: 'protected by the caller (the image just gated)',
  };
  const untaggedNotSelected: Decision = {
    action: 'keep',
    reason: 'untagged-not-selected',
    detail: `${label} does not select untagged manifests (untagged: true)`,
  };

  // 1-5: each manifest's own decision.
  const own: Decision[] = new Array<Decision>(n);
  for (let i = 0; i < n; i++) {
    const d = digests[i];
    const m = recs[i];
    const tags = tagsOf[i];
    const tagInUse = inUseTag.size > 0 ? tags.find((t) => inUseTag.has(t)) : undefined;
    let decision: Decision;
    if (inUseDigest.has(d))
      decision = { action: 'keep', reason: 'in-use', detail: `deployed by digest in ${inUseDigest.get(d)}` };
    else if (tagInUse !== undefined)
      decision = {
        action: 'keep',
        reason: 'in-use',
        detail: `deployed as tag ${tagInUse} in ${inUseTag.get(tagInUse)}`,
      };
    else if (lockedOf[i] && !rule.includeLocked) decision = lockedDecision;
    else if (protect.has(d)) decision = protectedDecision;
    else if (m.subject !== undefined && !ordinary[i]) {
      decision =
        subjectIdx[i] >= 0
          ? follow
          : {
              action: 'keep',
              reason: 'orphan-referrer',
              detail: `refers to ${shortDigest(m.subject)}, which is not in the repository; referrers are never purged on their own`,
            };
    } else if (ordinary[i]) {
      const ineligible = pattern ? tags.find((t) => !(pattern as RegExp).test(t)) : undefined;
      if (withinKeep[i] === 1) decision = withinKeepDecision;
      else if (!hasTagCriteria) decision = noTagCriteria;
      else if (ineligible !== undefined)
        decision = {
          action: 'keep',
          reason: 'tag-not-eligible',
          detail: `${label}: tag ${ineligible} does not match tagPattern ${rule.tagPattern}`,
        };
      else decision = timeCheck(i) ?? deleteByRule;
    } else if (parents[i] !== undefined) decision = follow;
    else if (tags.length > 0)
      // Only referrer-style tags and nothing ties it by content: a label alone never decides a deletion.
      decision = {
        action: 'keep',
        reason: 'unverified-referrer-tag',
        detail: `tagged only ${tags[0]}${tags.length > 1 ? ' (and more)' : ''}, but its content names no subject here: a referrer-style tag alone never ties it to another manifest, so it is never deleted`,
      };
    else if (rule.untagged === true) decision = timeCheck(i) ?? deleteUntagged;
    else decision = untaggedNotSelected;
    own[i] = decision;
  }

  // Protection spreads to a fixed point (breadth first, digests in order, so reasons are deterministic).
  const kept: ({ reason: KeepReason; detail: string } | undefined)[] = new Array<
    { reason: KeepReason; detail: string } | undefined
  >(n);
  const queue: number[] = [];
  for (let i = 0; i < n; i++) {
    const decision = own[i];
    if (decision.action === 'keep') {
      kept[i] = { reason: decision.reason, detail: decision.detail };
      queue.push(i);
    }
  }
  const keepFor = (i: number, reason: KeepReason, detail: string): void => {
    if (kept[i] !== undefined) return;
    kept[i] = { reason, detail };
    queue.push(i);
  };
  for (let q = 0; q < queue.length; q++) {
    const i = queue[q];
    const children = childIdx[i];
    if (children !== undefined) {
      const inOrder = children.length > 1 ? children.slice().sort((a, b) => a - b) : children;
      for (const c of inOrder)
        if (kept[c] === undefined)
          keepFor(c, 'listed-by-kept-index', `listed by the kept index ${shortDigest(digests[i])}`);
    }
    const refs = referrers[i];
    if (refs !== undefined)
      for (const r of refs)
        if (kept[r] === undefined) keepFor(r, 'subject-kept', `refers to the kept manifest ${shortDigest(digests[i])}`);
    // A kept referrer (locked, in use, listed by a kept index) keeps what it refers to, so no kept signature or
    // report is ever orphaned; one kept for its subject's sake adds nothing.
    const s = subjectIdx[i];
    if (s >= 0 && kept[s] === undefined)
      keepFor(
        s,
        'has-kept-referrer',
        `its referrer ${shortDigest(digests[i])} is kept (${(kept[i] as { reason: KeepReason }).reason})`,
      );
  }

  // What is not kept is deleted; its reason is its own, or the index or subject it went with.
  const deleteReason = (i: number): { reason: DeleteReason; detail: string } => {
    const decision = own[i];
    if (decision.action === 'delete') return { reason: decision.reason, detail: decision.detail };
    const m = recs[i];
    // Only a manifest with no ordinary tag follows its subject (see 2.); a tagged one is decided on its own.
    if (m.subject !== undefined && !ordinary[i])
      return { reason: 'referrer-of-deleted-subject', detail: `refers to ${shortDigest(m.subject)}, which is deleted` };
    const listing = parents[i] ?? [];
    return {
      reason: 'child-of-deleted-index',
      detail: `listed only by deleted index${listing.length > 1 ? 'es' : ''} ${listing.map((p) => shortDigest(digests[p])).join(', ')}`,
    };
  };

  // Waves: a manifest is deleted after every deleted manifest that points at it (lists it, or refers to it).
  const pointers: (number[] | undefined)[] = new Array<number[] | undefined>(n);
  const before = (first: number, then: number): void => {
    if (first === then || kept[first] !== undefined || kept[then] !== undefined) return;
    const list = (pointers[then] ??= []);
    if (!list.includes(first)) list.push(first);
  };
  for (let i = 0; i < n; i++) {
    if (kept[i] !== undefined) continue;
    const m = recs[i];
    if (subjectIdx[i] >= 0) before(i, subjectIdx[i]);
    const children = childIdx[i];
    if (children === undefined) continue;
    for (const c of children) {
      // An index that is itself a referrer (the `sha256-<hex>` fallback tag index) is how a plain registry finds
      // the referrers it lists: it goes after them, so an interrupted run never leaves one undiscoverable.
      if (m.subject !== undefined) before(c, i);
      else before(i, c);
    }
  }
  const wave = new Int32Array(n).fill(-1);
  const visiting = new Uint8Array(n);
  const waveOf = (i: number): number => {
    if (wave[i] >= 0) return wave[i];
    if (visiting[i] === 1) return 0; // a cycle cannot happen with content digests; do not loop if the input has one
    visiting[i] = 1;
    let w = 0;
    const ps = pointers[i];
    if (ps !== undefined) for (const p of ps) w = Math.max(w, waveOf(p) + 1);
    visiting[i] = 0;
    wave[i] = w;
    return w;
  };

  const deletes: PlanDelete[] = [];
  const keeps: PlanKeep[] = [];
  for (let i = 0; i < n; i++) {
    const m = recs[i];
    const k = kept[i];
    if (k) {
      const entry: PlanKeep = {
        digest: digests[i],
        tags: tagsOf[i],
        mediaType: m.mediaType,
        action: 'keep',
        reason: k.reason,
        detail: k.detail,
      };
      if (m.size !== undefined) entry.size = m.size;
      keeps.push(entry);
    } else {
      const why = deleteReason(i);
      const ps = pointers[i];
      const entry: PlanDelete = {
        digest: digests[i],
        tags: tagsOf[i],
        mediaType: m.mediaType,
        action: 'delete',
        reason: why.reason,
        detail: why.detail,
        wave: waveOf(i),
        locked: lockedOf[i],
        after:
          ps === undefined
            ? []
            : ps
                .slice()
                .sort((a, b) => a - b)
                .map((p) => digests[p]),
      };
      if (m.size !== undefined) entry.size = m.size;
      deletes.push(entry);
    }
  }
  // Deletes were pushed in digest order and the sort is stable: by wave, then digest.
  deletes.sort((a, b) => a.wave - b.wave);
  return { repository: input.repository, rule: label, deletes, keeps };
}

/** One digest of the listing, duplicates merged; `i` is its position in digest order. */
interface Listed {
  digest: string;
  m: ManifestRecord;
  tags: string[];
  locked: boolean;
  i: number;
}

/** Tags once each, sorted (a fresh array). */
function uniqueSorted(tags: readonly string[]): string[] {
  if (tags.length <= 1) return tags.slice();
  return [...new Set(tags)].sort();
}

/** Counts of kept manifests by reason. */
export function keptByReason(plan: Pick<PurgePlan, 'keeps'>): Partial<Record<KeepReason, number>> {
  const counts: Partial<Record<KeepReason, number>> = {};
  for (const k of plan.keeps) counts[k.reason] = (counts[k.reason] ?? 0) + 1;
  return counts;
}
