/**
 * Bounded findings: a findings list is carried between activities, into Durable history and into verdicts only
 * as its worst {@link MAX_VERDICT_FINDINGS} entries plus counts of all of them ({@link FindingsTally}). Pure.
 *
 * Order ("worst first"): severity, then fixable findings (a fixed version, or Defender's FixAvailable) before
 * the others (so that under `onlyFixable` a listed unfixable finding means every omitted one of that severity is
 * unfixable too), then id and package, so the cut is deterministic.
 */
import { SEVERITY_RANK } from './severity';
import type { Finding, FindingsResult, FindingsTally, Severity } from './types';

/** Most findings listed per source and manifest (in activity results, history and verdicts); the rest are counted. */
export const MAX_VERDICT_FINDINGS = 100;

/** True when a fix is known: a fixed version, or a source's "fix available" without one (Defender's FixStatus). */
export function isFixable(f: Finding): boolean {
  return Boolean(f.fixedVersion) || f.fixAvailable === true;
}

/** Negative when `a` is worse than `b` (see the module comment for the order). */
export function compareFindings(a: Finding, b: Finding): number {
  return (
    SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] ||
    Number(isFixable(b)) - Number(isFixable(a)) ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) ||
    ((a.package ?? '') < (b.package ?? '') ? -1 : (a.package ?? '') > (b.package ?? '') ? 1 : 0)
  );
}

/** Key of one distinct finding: id, package and installed version, per source (report) that found it. */
export function findingIdentity(f: Finding): string {
  return `${f.id.toUpperCase()}\u0000${f.package ?? ''}\u0000${f.installedVersion ?? ''}\u0000${f.source}`;
}

/**
 * Adds findings one at a time: duplicates merge (the more severe wins, a fixed version known to either is kept),
 * and {@link result} gives the worst `limit` with the counts of all. Memory grows with the distinct findings
 * added, which callers bound before adding (`MAX_REPORT_FINDINGS`); nothing is kept per duplicate.
 */
export class FindingsAggregator {
  private readonly byKey = new Map<string, Finding>();
  private readonly extra = {
    total: 0,
    bySeverity: {} as Partial<Record<Severity, number>>,
    fixableBySeverity: {} as Partial<Record<Severity, number>>,
  };

  constructor(private readonly limit: number = MAX_VERDICT_FINDINGS) {}

  /** Adds one finding (merged with an earlier one of the same identity). */
  add(f: Finding): void {
    const key = findingIdentity(f);
    const seen = this.byKey.get(key);
    if (!seen) {
      this.byKey.set(key, f);
      return;
    }
    if (SEVERITY_RANK[f.severity] > SEVERITY_RANK[seen.severity]) {
      seen.severity = f.severity;
      if (f.severitySource) seen.severitySource = f.severitySource;
      else delete seen.severitySource;
    }
    if (!seen.fixedVersion && f.fixedVersion) seen.fixedVersion = f.fixedVersion;
    if (f.fixAvailable) seen.fixAvailable = true;
  }

  /** Adds counts of findings that are not available any more (a tally from an earlier cut). */
  addOmitted(tally: FindingsTally, listed: readonly Finding[]): void {
    this.extra.total += tally.omitted;
    for (const [s, n] of Object.entries(tally.bySeverity) as Array<[Severity, number]>) {
      const shown = listed.filter((f) => f.severity === s).length;
      this.extra.bySeverity[s] = (this.extra.bySeverity[s] ?? 0) + Math.max(0, n - shown);
    }
    for (const [s, n] of Object.entries(tally.fixableBySeverity) as Array<[Severity, number]>) {
      const shown = listed.filter((f) => f.severity === s && isFixable(f)).length;
      this.extra.fixableBySeverity[s] = (this.extra.fixableBySeverity[s] ?? 0) + Math.max(0, n - shown);
    }
  }

  /** Distinct findings added so far. */
  get distinct(): number {
    return this.byKey.size;
  }

  /** The worst `limit` findings, worst first, and the counts of all (listed or not). */
  result(): { findings: Finding[]; tally: FindingsTally } {
    const bySeverity: Partial<Record<Severity, number>> = { ...this.extra.bySeverity };
    const fixableBySeverity: Partial<Record<Severity, number>> = { ...this.extra.fixableBySeverity };
    // Selection without sorting everything: keep a sorted window of at most `limit` (limit is small).
    const worst: Finding[] = [];
    for (const f of this.byKey.values()) {
      bySeverity[f.severity] = (bySeverity[f.severity] ?? 0) + 1;
      if (isFixable(f)) fixableBySeverity[f.severity] = (fixableBySeverity[f.severity] ?? 0) + 1;
      if (worst.length === this.limit && compareFindings(f, worst[worst.length - 1]) >= 0) continue;
      let lo = 0;
      let hi = worst.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (compareFindings(worst[mid], f) <= 0) lo = mid + 1;
        else hi = mid;
      }
      worst.splice(lo, 0, f);
      if (worst.length > this.limit) worst.pop();
    }
    const total = this.byKey.size + this.extra.total;
    return { findings: worst, tally: { total, bySeverity, fixableBySeverity, omitted: total - worst.length } };
  }
}

/** The worst `limit` of `findings` (deduplicated) with the counts of all. */
export function summarizeFindings(
  findings: Iterable<Finding>,
  limit: number = MAX_VERDICT_FINDINGS,
): { findings: Finding[]; tally: FindingsTally } {
  const agg = new FindingsAggregator(limit);
  for (const f of findings) agg.add({ ...f });
  return agg.result();
}

/**
 * Merges several bounded lists (e.g. the newest SARIF and CycloneDX report of one image) into one. Omitted
 * findings of different lists cannot be matched, so their counts add up (a finding in both may count twice:
 * counts only ever err upwards, which can block but never release).
 */
export function mergeSummaries(
  parts: ReadonlyArray<{ findings: readonly Finding[]; tally?: FindingsTally }>,
  limit: number = MAX_VERDICT_FINDINGS,
): { findings: Finding[]; tally: FindingsTally } {
  const agg = new FindingsAggregator(limit);
  for (const part of parts) {
    for (const f of part.findings) agg.add({ ...f });
    if (part.tally) agg.addOmitted(part.tally, part.findings);
  }
  return agg.result();
}

/**
 * A findings result fit for Durable history: a `ready` result with more than `limit` findings is cut to the
 * worst `limit` with a tally; anything else is returned as is.
 */
export function boundFindingsResult(result: FindingsResult, limit: number = MAX_VERDICT_FINDINGS): FindingsResult {
  if (result.status !== 'ready' || (result.findings.length <= limit && result.tally === undefined)) return result;
  if (result.tally && result.findings.length <= limit) return result;
  const merged = mergeSummaries([{ findings: result.findings, tally: result.tally }], limit);
  return { ...result, findings: merged.findings, tally: merged.tally };
}
