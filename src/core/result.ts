/**
 * The one result shape (issue 21): every command's `--output json` and every HTTP endpoint that reports checks or
 * an outcome prints one envelope `{apiVersion, kind, subject, outcome, decision?, summary, checks, counts, errors,
 * exitCode, data}` (schemas/result.v1.schema.json, docs/cli.md). Pure: builders and the exit-code mapping only.
 */
import type { ErrorCode } from './errors';
import type { Check, Verdict } from './types';
import type { PurgeSummary } from './purge/summary';
import type { DoctorCheck } from './doctor/check';
import { RUNTIME_OK_STATUSES, RUNTIME_STATUSES, type RuntimeEntry, type RuntimeSummary } from './runtime/classify';

/** The envelope's version; a script checks it before reading anything else. */
export const RESULT_API_VERSION = 'acr-guard.io/v1';

/** What a result is about; one per command (and per HTTP endpoint), `Error` for a failure before any kind applied. */
export const RESULT_KINDS = [
  'GateResult',
  'VerifyResult',
  'DeployResult',
  'PurgeResult',
  'DoctorResult',
  'RuntimeResult',
  'AlertsResult',
  'TokensResult',
  'DemoResult',
  'PolicyResult',
  'RescanResult',
  'VerdictResult',
  'ImagesResult',
  'Error',
] as const;

/** One of {@link RESULT_KINDS}. */
export type ResultKind = (typeof RESULT_KINDS)[number];

/**
 * The one word scripts branch on: `pass` ⇔ exit 0, `fail` ⇔ exit 3, `error` ⇔ exit 1 or 2. `pending` is HTTP
 * only: a gate that has not decided yet (a rescan started or running); nothing was released, ask again.
 */
export type ResultOutcome = 'pass' | 'fail' | 'error' | 'pending';

/** The one status vocabulary of checks (doctor's `unknown` is `inconclusive`). */
export const CHECK_STATUSES = ['pass', 'fail', 'skip', 'inconclusive'] as const;

/** One of {@link CHECK_STATUSES}. */
export type ResultCheckStatus = (typeof CHECK_STATUSES)[number];

/** One check, the same shape everywhere. */
export interface ResultCheck {
  name: string;
  /** What the check is about when not the subject itself: a platform manifest, a resource id, a rule. */
  target?: string;
  status: ResultCheckStatus;
  reason: string;
  details?: Record<string, unknown>;
  /** What fixes it (e.g. an `az` command); only when the status is not `pass`. */
  fix?: string;
}

/** How many checks have each status: always all four keys. */
export type ResultCounts = Record<ResultCheckStatus, number>;

/** One error: a stable code (src/core/errors.ts or an HTTP refusal code), the message, the field when known. */
export interface ResultError {
  code: ErrorCode;
  message: string;
  field?: string;
}

/** The envelope. */
export interface Result<D extends object = Record<string, unknown>> {
  apiVersion: typeof RESULT_API_VERSION;
  kind: ResultKind;
  subject: string;
  outcome: ResultOutcome;
  /** The kind's own word: release|block (gate), deploy|refuse (deploy), verified|not-verified (verify), … */
  decision?: string;
  summary: string;
  checks: ResultCheck[];
  counts: ResultCounts;
  errors: ResultError[];
  exitCode: number;
  data: D;
}

/** The documented exit codes (docs/cli.md). */
export const RESULT_EXIT_CODES = { pass: 0, runtime: 1, usage: 2, fail: 3 } as const;

/** Which error an `error` outcome is: the caller's to fix (`usage`, exit 2) or not (`runtime`, exit 1). */
export type ErrorKind = 'usage' | 'runtime';

/** The exit code of an outcome: pass 0, fail 3, error 2 (usage or configuration) or 1 (runtime); pending 3. */
export function exitCodeOf(outcome: ResultOutcome, errorKind: ErrorKind = 'runtime'): number {
  if (outcome === 'pass') return RESULT_EXIT_CODES.pass;
  if (outcome === 'error') return errorKind === 'usage' ? RESULT_EXIT_CODES.usage : RESULT_EXIT_CODES.runtime;
  // `fail` and a gate not decided yet: nothing was released.
  return RESULT_EXIT_CODES.fail;
}

/** Counts of checks by status (all four keys, zero when none). */
export function countChecks(checks: readonly Pick<ResultCheck, 'status'>[]): ResultCounts {
  const counts: ResultCounts = { pass: 0, fail: 0, skip: 0, inconclusive: 0 };
  for (const c of checks) counts[c.status] += 1;
  return counts;
}

/** What {@link resultOf} needs; `checks`, `errors` and `data` default to empty. */
export interface ResultInput<D extends object> {
  kind: ResultKind;
  subject: string;
  outcome: ResultOutcome;
  decision?: string;
  summary: string;
  checks?: readonly ResultCheck[];
  errors?: readonly ResultError[];
  /** For `outcome: error`: usage (exit 2) or runtime (exit 1, the default). */
  errorKind?: ErrorKind;
  data?: D;
}

/** Builds an envelope: counts from the checks, the exit code from the outcome. */
export function resultOf<D extends object = Record<string, unknown>>(input: ResultInput<D>): Result<D> {
  const checks = (input.checks ?? []).map(cleanCheck);
  return {
    apiVersion: RESULT_API_VERSION,
    kind: input.kind,
    subject: input.subject,
    outcome: input.outcome,
    ...(input.decision !== undefined ? { decision: input.decision } : {}),
    summary: input.summary,
    checks,
    counts: countChecks(checks),
    errors: (input.errors ?? []).map((e) => ({
      code: e.code,
      message: e.message,
      ...(e.field ? { field: e.field } : {}),
    })),
    exitCode: exitCodeOf(input.outcome, input.errorKind),
    data: input.data ?? ({} as D),
  };
}

/** An `error` envelope for one error (usage: exit 2; runtime: exit 1); `kind` defaults to `Error`. */
export function errorResultOf(input: {
  kind?: ResultKind;
  subject: string;
  error: ResultError;
  errorKind: ErrorKind;
  summary?: string;
  /** What was checked before the error, when the command got that far (e.g. a policy's failed sections). */
  checks?: readonly ResultCheck[];
  data?: Record<string, unknown>;
}): Result {
  return resultOf({
    kind: input.kind ?? 'Error',
    subject: input.subject,
    outcome: 'error',
    summary: input.summary ?? input.error.message.split('\n')[0],
    checks: input.checks,
    errors: [input.error],
    errorKind: input.errorKind,
    data: input.data,
  });
}

/** A check without `fix` when it passes (or when empty), and without undefined keys. */
function cleanCheck(c: ResultCheck): ResultCheck {
  return {
    name: c.name,
    ...(c.target ? { target: c.target } : {}),
    status: c.status,
    reason: c.reason,
    ...(c.details ? { details: c.details } : {}),
    ...(c.fix && c.status !== 'pass' ? { fix: c.fix } : {}),
  };
}

/** A verdict's check as a result check: the platform manifest (indexes) is the target. */
export function checkOfVerdict(c: Check): ResultCheck {
  return {
    name: c.name,
    ...(c.manifest ? { target: c.manifest } : {}),
    status: c.status,
    reason: c.reason,
    ...(c.details ? { details: c.details } : {}),
  };
}

/** A doctor check as a result check: id → name, evidence → reason, `unknown` → `inconclusive`, fix only when not pass. */
export function checkOfDoctor(c: DoctorCheck): ResultCheck {
  const status: ResultCheckStatus = c.status === 'unknown' ? 'inconclusive' : c.status;
  return {
    name: c.id,
    target: c.target,
    status,
    reason: c.evidence,
    ...(c.fix && status !== 'pass' ? { fix: c.fix } : {}),
  };
}

/** A signature-verification status in the check vocabulary (`verified` passes, `skipped` skips). */
export function checkStatusOfSignature(status: 'verified' | 'failed' | 'inconclusive' | 'skipped'): ResultCheckStatus {
  return status === 'verified' ? 'pass' : status === 'failed' ? 'fail' : status === 'skipped' ? 'skip' : 'inconclusive';
}

/**
 * The field a usage message names, from its leading `--flag:` or `field.path:` (e.g. `--output: expected …`,
 * `gate[0].vulnerabilites: expected …`); undefined when it names none.
 */
export function fieldOfMessage(message: string): string | undefined {
  const flag = /^(--[a-z][a-z0-9-]*)(?: <[^>]+>)?(?::| is required| and | goes with )/.exec(message);
  if (flag) return flag[1];
  const path = /^([A-Za-z_$][\w$-]*(?:\[\d+\]|\.[A-Za-z_$][\w$-]*)*):\s/.exec(message);
  return path ? path[1] : undefined;
}

/**
 * The `runtime` envelope (CLI and `GET /api/runtime`): one check per running image (target the image; released and
 * allowed-external pass, every other status fails); pass when every image passes (else fail, 3). `data` holds
 * `images` and `summary` (the counts per status) and `regated`.
 */
export function runtimeResultOf(
  inventory: string,
  json: { images: readonly RuntimeEntry[]; summary: RuntimeSummary },
  regated: ReadonlyArray<{ image: string; why: string; outcome: string }>,
): Result {
  const checks: ResultCheck[] = json.images.map((e) => ({
    name: `runtime:${e.status}`,
    target: e.image,
    status: RUNTIME_OK_STATUSES.includes(e.status) ? 'pass' : 'fail',
    reason: e.reason,
  }));
  const summary = json.summary as Record<string, number>;
  return resultOf({
    kind: 'RuntimeResult',
    subject: inventory,
    outcome: checks.every((c) => c.status === 'pass') ? 'pass' : 'fail',
    summary:
      RUNTIME_STATUSES.filter((s) => summary[s] > 0)
        .map((s) => `${summary[s]} ${s}`)
        .join(', ') || 'nothing runs in the inventory',
    checks,
    data: { images: json.images, summary: json.summary, regated },
  });
}

/** A verdict as an envelope of `kind`: pass on release, fail on block, its decision, summary and checks. */
export function resultOfVerdict<D extends object>(
  verdict: Verdict,
  kind: ResultKind,
  subject: string,
  data: D,
): Result<D> {
  return resultOf({
    kind,
    subject,
    outcome: verdict.decision === 'release' ? 'pass' : 'fail',
    decision: verdict.decision,
    summary: verdict.summary,
    checks: verdict.checks.map(checkOfVerdict),
    data,
  });
}

/** A recorded verdict as an envelope (`GET /api/verdicts/...`): its checks, `data.verdict` the verdict as recorded. */
export function verdictResultOf(verdict: Verdict, subject: string): Result {
  return resultOfVerdict(verdict, 'VerdictResult', subject, { verdict });
}

/**
 * The purge envelope (CLI and `POST /api/purge`): one `retention` check per repository (target the repository, or
 * `<registry>/<repository>` over several registries), `decision` done|partial|held|planned; fail (3) when a plan was
 * held past its deletion cap, error (1) when deletes failed or a repository could not be purged, else pass.
 * `data` must hold `repositories` (a list) and `deleted` (a number).
 */
export function purgeResultOf(summaries: readonly PurgeSummary[], data: Record<string, unknown>): Result {
  const many = summaries.length > 1;
  const outcomes = summaries.flatMap((s) => s.outcomes.map((o) => ({ registry: s.registry, ...o })));
  const errors = summaries.flatMap((s) => s.errors.map((e) => ({ registry: s.registry, ...e })));
  const troubled = outcomes.some((o) => ['partial', 'failed', 'skipped'].includes(o.status));
  const held = outcomes.some((o) => o.status === 'held');
  const dryRun = summaries.length > 0 && summaries.every((s) => s.dryRun);
  const deleted = summaries.reduce((n, s) => n + s.deleted, 0);
  const outcome = troubled ? 'error' : held ? 'fail' : 'pass';
  const where = (registry: string, repository: string): string => (many ? `${registry}/${repository}` : repository);
  return resultOf({
    kind: 'PurgeResult',
    subject: summaries.map((s) => s.registry).join(', '),
    outcome,
    decision: troubled ? 'partial' : held ? 'held' : dryRun ? 'planned' : 'done',
    summary:
      `${dryRun ? 'dry run: would delete' : 'deleted'} ${deleted} manifest(s) in ${outcomes.length} ` +
      `repositor${outcomes.length === 1 ? 'y' : 'ies'}` +
      (held ? '; a plan past its deletion cap was held (nothing of it deleted)' : '') +
      (troubled ? `; ${errors.length} repositor${errors.length === 1 ? 'y' : 'ies'} with errors` : ''),
    checks: outcomes.map((o) => ({
      name: 'retention',
      target: where(o.registry, o.repository),
      status: o.status === 'done' || o.status === 'dry-run' ? 'pass' : o.status === 'skipped' ? 'inconclusive' : 'fail',
      reason: `${o.status}${o.rule ? ` (${o.rule})` : ''}: ${o.deleted} deleted${o.error ? `; ${o.error.code}: ${o.error.detail}` : ''}`,
    })),
    errors:
      outcome === 'pass'
        ? []
        : errors.map((e) => ({
            code: e.code,
            message: `${where(e.registry, e.repository)}: ${e.detail}`,
            field: where(e.registry, e.repository),
          })),
    errorKind: 'runtime',
    data,
  });
}
