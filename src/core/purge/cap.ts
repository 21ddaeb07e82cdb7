/**
 * The cap on deletions per run and repository (issue 17): a plan that would delete more of a repository's tagged
 * manifests than the cap allows is held, whole (nothing of that repository is deleted), reported with
 * `PURGE_CAP_EXCEEDED` and alerted, unless the run says explicitly that it may go over (`--allow-over-cap`).
 * A misfiring rule, a wrong clock or a listing someone with push rights shaped cannot then empty a repository.
 * Pure: a function of the plan and the rule.
 */
import type { DeletionCap, RetentionRule } from '../policyTypes';
import { hasOrdinaryTag, type PurgePlan } from './plan';

/** The cap when the rule names none: 25% of the repository's tagged manifests. */
export const DEFAULT_DELETION_CAP: DeletionCap = { percent: 25 };

/** What {@link checkDeletionCap} found. */
export interface CapCheck {
  /** The cap applied, as written (`25%` or `40`). */
  cap: string;
  /** Manifests with an ordinary tag in the repository (referrer-style tags alone do not count). */
  tagged: number;
  /** Of those, how many the plan deletes. */
  taggedDeletes: number;
  /** Most tagged manifests the plan may delete. */
  limit: number;
  exceeded: boolean;
  /** Exceeded and not allowed by the run: nothing of this repository may be deleted. */
  held: boolean;
}

/** `25%` or `40`. */
export function formatCap(cap: DeletionCap): string {
  return 'percent' in cap ? `${cap.percent}%` : String(cap.count);
}

/**
 * The limit for `tagged` tagged manifests: a count as given; a percentage rounded down, but at least 1 (so a
 * repository of fewer than 4 tagged manifests can still lose one a run without an override).
 */
export function capLimit(cap: DeletionCap, tagged: number): number {
  if ('count' in cap) return cap.count;
  return Math.max(1, Math.floor((cap.percent * tagged) / 100));
}

/** Checks a plan against the rule's cap (or {@link DEFAULT_DELETION_CAP}); `allowOverCap` releases a held plan. */
export function checkDeletionCap(
  plan: Pick<PurgePlan, 'deletes' | 'keeps'>,
  rule: Pick<RetentionRule, 'maxDeletes'>,
  allowOverCap: boolean,
): CapCheck {
  const cap = rule.maxDeletes ?? DEFAULT_DELETION_CAP;
  const taggedDeletes = countTagged(plan.deletes);
  const tagged = taggedDeletes + countTagged(plan.keeps);
  const limit = capLimit(cap, tagged);
  const exceeded = taggedDeletes > limit;
  return { cap: formatCap(cap), tagged, taggedDeletes, limit, exceeded, held: exceeded && !allowOverCap };
}

/** How many entries have an ordinary tag (a count, without building the filtered list). */
function countTagged(entries: readonly Pick<PurgePlan['keeps'][number], 'tags'>[]): number {
  let count = 0;
  for (const e of entries) if (hasOrdinaryTag(e)) count++;
  return count;
}

/** The operator-facing text of a held plan: what happened, what was left untouched, what to do next. */
export function capHeldDetail(repository: string, ruleLabel: string, check: CapCheck, dryRun: boolean): string {
  return (
    `the plan would delete ${check.taggedDeletes} of the ${check.tagged} tagged manifests of ${repository}, over the cap ` +
    `of ${check.limit} (maxDeletes ${check.cap} in ${ruleLabel}); the plan is held: ` +
    `${dryRun ? 'a real run would delete nothing' : 'nothing'} of ${repository} ${dryRun ? 'unless it allows it' : 'was deleted'}. ` +
    `Review the dry run; if it is right, run once with --allow-over-cap (or allowOverCap: true), or raise maxDeletes`
  );
}
