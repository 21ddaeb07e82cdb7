/**
 * What the three verdict audit stores share: key and size checks (so every store accepts and refuses the same
 * input), ordering rules (newest `decidedAt` first, the one recorded last first among equal times) and the
 * runtime-report helpers. The stores themselves are in ./memory.ts, ./file.ts and ./table.ts.
 */
import { createHash } from 'node:crypto';
import { ErrorCodes, GuardError, invalidInput } from '../../core/errors';
import type { ImageId, Verdict } from '../../core/types';
import type { PurgeSummary } from '../../core/purge/summary';
import type { RuntimeState } from '../ports';
import { digestKey as runtimeKey, type RuntimeReport } from '../../core/runtime/classify';

/** Digest grammar of the OCI image spec; checked before a digest becomes part of a RowKey or file. */
export const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** Validates the keys of a verdict or an image (all stores, so they share semantics). */
export function checkImage(image: ImageId, field: string): void {
  if (typeof image.registry !== 'string' || image.registry === '')
    throw invalidInput(`${field}.registry`, 'a registry host', image.registry);
  if (typeof image.repository !== 'string' || image.repository === '')
    throw invalidInput(`${field}.repository`, 'a repository name', image.repository);
  if (typeof image.digest !== 'string' || image.digest.length > 200 || !DIGEST.test(image.digest)) {
    throw invalidInput(`${field}.digest`, 'a digest such as sha256:<64 hex>', image.digest);
  }
}

/** A verdict's `decidedAt` in epoch ms; refuses a time that does not parse or is before 1970. */
export function decidedMs(verdict: Verdict): number {
  const ms = Date.parse(verdict.decidedAt);
  if (!Number.isFinite(ms) || ms < 0)
    throw invalidInput('verdict.decidedAt', 'an ISO 8601 time after 1970', verdict.decidedAt);
  return ms;
}

/** Validates a verdict's image keys and time; returns its `decidedAt` in epoch ms. */
export function checkVerdict(verdict: Verdict): number {
  checkImage(verdict.image, 'verdict.image');
  return decidedMs(verdict);
}

/** Validates a purge summary's keys; returns its `finishedAt` in epoch ms. */
export function checkSummary(summary: PurgeSummary): number {
  if (typeof summary?.registry !== 'string' || summary.registry === '' || summary.registry.length > 260)
    throw invalidInput('summary.registry', 'a registry host', summary?.registry);
  const ms = Date.parse(summary.finishedAt);
  if (!Number.isFinite(ms) || ms < 0)
    throw invalidInput('summary.finishedAt', 'an ISO 8601 time after 1970', summary.finishedAt);
  return ms;
}

/** 10^19 - 1: inverted 100 ns ticks since 1970 stay 19 digits for the next ~31,000 years. */
const INVERT_BASE = 9_999_999_999_999_999_999n;

/** Inverted 100 ns ticks since 1970, 19 digits: newer times sort first. */
export function invertedTicks(ms: number): string {
  return (INVERT_BASE - BigInt(ms) * 10_000n).toString().padStart(19, '0');
}

/**
 * The key of a purge summary: inverted ticks of `finishedAt` (newest first in a Table partition), then 8 hex of
 * sha256(`registry|trigger|startedAt|dryRun`) — the same run recorded again (an activity runs at least once)
 * gets the same key and replaces its record; distinct runs finishing in the same instant keep theirs.
 */
export function purgeSummaryKey(summary: PurgeSummary, finishedMs = Date.parse(summary.finishedAt)): string {
  const run = createHash('sha256')
    .update(`${summary.registry}|${summary.trigger}|${summary.startedAt}|${summary.dryRun}`)
    .digest('hex')
    .slice(0, 8);
  return `${invertedTicks(finishedMs)}_${run}`;
}

/** The latest of recorded summaries (latest `finishedAt`; among equal times, the one recorded last). */
export function latestOf(recordedOldestFirst: PurgeSummary[]): PurgeSummary | undefined {
  let best: { s: PurgeSummary; ms: number } | undefined;
  for (const s of recordedOldestFirst) {
    const ms = Date.parse(s.finishedAt);
    if (!best || ms >= best.ms) best = { s, ms };
  }
  return best?.s;
}

/** Sorts records (oldest recorded first) newest first; equal times keep the one recorded last first. */
export function newestFirst(recordedOldestFirst: Verdict[]): Verdict[] {
  return recordedOldestFirst
    .map((v, i) => ({ v, i, ms: Date.parse(v.decidedAt) }))
    .sort((a, b) => b.ms - a.ms || b.i - a.i)
    .map((x) => x.v);
}

/** The latest verdict of each image among `verdicts` (recorded oldest first), newest first. */
export function latestPerImage(recordedOldestFirst: Verdict[]): Verdict[] {
  const seen = new Set<string>();
  const out: Verdict[] = [];
  for (const v of newestFirst(recordedOldestFirst)) {
    const key = `${v.image.registry}/${v.image.repository}@${v.image.digest}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(v);
  }
  return out;
}

/** Refuses a row cap that is not a whole number of 1 or more. */
export function checkMaxRows(maxRows: number): void {
  if (!Number.isInteger(maxRows) || maxRows < 1)
    throw invalidInput('maxRows', 'a whole number of records (1 or more)', maxRows);
}

/** A listing limit: 100 when absent; refuses a negative or fractional one. */
export function normalLimit(limit: number | undefined): number {
  if (limit === undefined) return 100;
  if (!Number.isInteger(limit) || limit < 0)
    throw invalidInput('limit', 'a whole number of verdicts (0 or more)', limit);
  return limit;
}

/** Most verdict rows one batched read (`RuntimeAssuranceStore.latestVerdicts`) scans; more is `VERDICT_SCAN_TOO_LARGE`. */
export const MAX_RUNTIME_VERDICT_ROWS = 1_000_000;
/**
 * Most characters of the runtime state's JSON (grace clocks, last-seen times, alerted statuses), the same in
 * every store: what one Table entity holds (15 chunks of 32,000). About 2,000 blocked or alerted images; more is
 * `RUNTIME_INVENTORY_TOO_LARGE` before anything is written (the previous state is kept).
 */
export const MAX_RUNTIME_STATE_CHARS = 480_000;

/** Validates a runtime report's time and image list; returns its `generatedAt` in epoch ms. */
export function checkRuntimeReport(report: RuntimeReport): number {
  const ms = Date.parse(report?.generatedAt);
  if (!Number.isFinite(ms) || ms < 0)
    throw invalidInput('report.generatedAt', 'an ISO 8601 time after 1970', report?.generatedAt);
  if (!Array.isArray(report.images)) throw invalidInput('report.images', 'a list of runtime entries', report.images);
  return ms;
}

/** Validates the runtime state's shape and refuses one over {@link MAX_RUNTIME_STATE_CHARS}. */
export function checkRuntimeState(state: RuntimeState): void {
  if (!state || typeof state.graceState !== 'object' || typeof state.lastAlerted !== 'object')
    throw invalidInput('state', '{ graceState, lastAlerted }', state);
  if (state.graceSeen !== undefined && (typeof state.graceSeen !== 'object' || state.graceSeen === null))
    throw invalidInput('state.graceSeen', 'a map of digest → ISO time', state.graceSeen);
  const chars = JSON.stringify(state).length;
  if (chars > MAX_RUNTIME_STATE_CHARS) {
    throw new GuardError(
      ErrorCodes.RUNTIME_INVENTORY_TOO_LARGE,
      `runtime state: ${chars} chars of JSON, over the bound of ${MAX_RUNTIME_STATE_CHARS} (MAX_RUNTIME_STATE_CHARS); the previous state is kept`,
    );
  }
}

/** The error of a batched verdict read that scanned more than {@link MAX_RUNTIME_VERDICT_ROWS} rows. */
export function tooManyVerdictRows(): GuardError {
  return new GuardError(
    ErrorCodes.VERDICT_SCAN_TOO_LARGE,
    `audit store: the batched verdict read scanned over ${MAX_RUNTIME_VERDICT_ROWS} rows (MAX_RUNTIME_VERDICT_ROWS); no runtime report was made from part of it`,
  );
}

/** Latest verdict per wanted digest among records (oldest recorded first). */
export function latestByDigest(
  recordedOldestFirst: readonly Verdict[],
  wanted: ReadonlySet<string>,
  out: Map<string, Verdict>,
): void {
  const best = new Map<string, { v: Verdict; ms: number }>();
  for (const v of recordedOldestFirst) {
    const key = runtimeKey(v.image);
    if (!wanted.has(key)) continue;
    const ms = Date.parse(v.decidedAt);
    const current = best.get(key);
    if (!current || ms >= current.ms) best.set(key, { v, ms });
  }
  for (const [key, { v }] of best) out.set(key, v);
}

/** Images grouped by repository (`registry/repository`), each image checked. */
export function byRepository(
  images: readonly ImageId[],
): Map<string, { registry: string; repository: string; keys: Set<string>; digests: string[] }> {
  const groups = new Map<string, { registry: string; repository: string; keys: Set<string>; digests: string[] }>();
  images.forEach((image, i) => {
    checkImage(image, `images[${i}]`);
    const name = `${image.registry}/${image.repository}`;
    let g = groups.get(name);
    if (!g)
      groups.set(name, (g = { registry: image.registry, repository: image.repository, keys: new Set(), digests: [] }));
    if (!g.keys.has(runtimeKey(image))) {
      g.keys.add(runtimeKey(image));
      g.digests.push(image.digest);
    }
  });
  return groups;
}

/** The latest of recorded runtime reports (latest `generatedAt`; among equal times, the one recorded last). */
export function latestReport(recordedOldestFirst: readonly RuntimeReport[]): RuntimeReport | undefined {
  let best: { r: RuntimeReport; ms: number } | undefined;
  for (const r of recordedOldestFirst) {
    const ms = Date.parse(r.generatedAt);
    if (!best || ms >= best.ms) best = { r, ms };
  }
  return best?.r;
}
