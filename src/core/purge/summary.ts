/** The summary of a purge run, as recorded in the audit store and shown by the CLI. Pure. */
import { toErrorCode, type ErrorCode } from '../errors';
import type { KeepReason } from './plan';

/** What one repository's purge did (plain data: it crosses activity boundaries). */
export interface RepositoryOutcome {
  repository: string;
  /** `retention[<i>] scope "<glob>"`, or empty when no rule matched. */
  rule: string;
  /** `held`: the plan is past the deletion cap (`PURGE_CAP_EXCEEDED`), so nothing of the repository was deleted. */
  status: 'done' | 'dry-run' | 'partial' | 'skipped' | 'failed' | 'held';
  deleted: number;
  alreadyGone: number;
  failed: number;
  notAttempted: number;
  /** Bytes freed, summed over deletes whose size the registry reported. */
  bytesFreed: number;
  /** Deletes whose size was not known (plain registries report none). */
  sizeUnknown: number;
  keptByReason: Partial<Record<KeepReason, number>>;
  /** Why the repository was skipped or failed, or what stopped it. */
  error?: PurgeError;
}

/**
 * Why a repository's purge did not complete. `foreignCode` is set only on a record read back whose code is not one
 * of acr-guard's (an earlier version passed some library codes through): `code` is then `ERROR`.
 */
export interface PurgeError {
  code: ErrorCode;
  detail: string;
  foreignCode?: string;
}

/** An outcome in which nothing was done (yet): every count zero; the one constructor of that shape. */
export function emptyOutcome(
  repository: string,
  rule: string,
  status: RepositoryOutcome['status'],
  error?: PurgeError,
): RepositoryOutcome {
  return {
    repository,
    rule,
    status,
    deleted: 0,
    alreadyGone: 0,
    failed: 0,
    notAttempted: 0,
    bytesFreed: 0,
    sizeUnknown: 0,
    keptByReason: {},
    ...(error ? { error } : {}),
  };
}

/** The summary of one purge run over a registry. */
export interface PurgeSummary {
  registry: string;
  trigger: 'timer' | 'push' | 'cli' | 'manual';
  dryRun: boolean;
  /** ISO 8601 (orchestration time in Azure). */
  startedAt: string;
  finishedAt: string;
  repositories: number;
  deleted: number;
  alreadyGone: number;
  failed: number;
  bytesFreed: number;
  sizeUnknown: number;
  keptByReason: Partial<Record<KeepReason, number>>;
  errors: Array<PurgeError & { repository: string }>;
  /** Per repository, sorted by name. */
  outcomes: RepositoryOutcome[];
}

/** Adds up repository outcomes. */
export function summarisePurge(options: {
  registry: string;
  trigger: PurgeSummary['trigger'];
  dryRun: boolean;
  startedAt: string;
  finishedAt: string;
  outcomes: readonly RepositoryOutcome[];
}): PurgeSummary {
  // Outcomes come back through orchestration history, possibly written by an earlier version: codes are mapped.
  const outcomes = options.outcomes
    .map(outcomeOfRecord)
    .sort((a, b) => (a.repository < b.repository ? -1 : a.repository > b.repository ? 1 : 0));
  const keptByReason: Partial<Record<KeepReason, number>> = {};
  const summary: PurgeSummary = {
    registry: options.registry,
    trigger: options.trigger,
    dryRun: options.dryRun,
    startedAt: options.startedAt,
    finishedAt: options.finishedAt,
    repositories: outcomes.length,
    deleted: 0,
    alreadyGone: 0,
    failed: 0,
    bytesFreed: 0,
    sizeUnknown: 0,
    keptByReason,
    errors: [],
    outcomes,
  };
  for (const o of outcomes) {
    summary.deleted += o.deleted;
    summary.alreadyGone += o.alreadyGone;
    summary.failed += o.failed;
    summary.bytesFreed += o.bytesFreed;
    summary.sizeUnknown += o.sizeUnknown;
    for (const [reason, n] of Object.entries(o.keptByReason) as Array<[KeepReason, number]>)
      keptByReason[reason] = (keptByReason[reason] ?? 0) + n;
    if (o.error) summary.errors.push({ repository: o.repository, ...o.error });
  }
  return summary;
}

/** A purge error as read back (history, audit store): its code one of acr-guard's, a foreign one kept apart. */
export function purgeErrorOfRecord<E extends { code: unknown; detail: unknown }>(
  e: E,
): Omit<E, 'code' | 'detail' | 'foreignCode'> & PurgeError {
  const code = toErrorCode(e.code);
  const foreign = code !== e.code && typeof e.code === 'string' ? { foreignCode: e.code } : {};
  return { ...e, code, detail: String(e.detail ?? ''), ...foreign };
}

/** A repository outcome as read back, its error's code mapped by {@link purgeErrorOfRecord}. */
export function outcomeOfRecord(o: RepositoryOutcome): RepositoryOutcome {
  return o.error ? { ...o, error: purgeErrorOfRecord(o.error) } : o;
}

/**
 * A purge summary as read back from the audit store: every code one of acr-guard's (a foreign code that an earlier
 * version recorded becomes `ERROR`, kept in `foreignCode`), so readers match codes without casting.
 */
export function purgeSummaryOfRecord(s: PurgeSummary): PurgeSummary {
  return {
    ...s,
    errors: (s.errors ?? []).map(purgeErrorOfRecord),
    outcomes: (s.outcomes ?? []).map(outcomeOfRecord),
  };
}
