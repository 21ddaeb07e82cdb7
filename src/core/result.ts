/**
 * The one result envelope every command's `--output json` (and every HTTP endpoint that reports checks or an
 * outcome) prints: `{ apiVersion, kind, subject, outcome, decision?, summary, checks, counts, errors, exitCode,
 * data }`. Described by `schemas/result.v1.schema.json` (JSON Schema 2020-12), which the tests
 * validate every command's JSON against. Pure: no I/O, no clock.
 *
 * Scripts branch on `outcome` (or the exit code): `pass` ⇔ 0, `fail` ⇔ 3, `error` ⇔ 1 (runtime) or 2 (usage or
 * configuration). `decision` is the kind's own word (release/block, deploy/refuse, …) where it has one.
 */

/** Version of the envelope; bumped only for an incompatible change. */
export const RESULT_API_VERSION = 'acr-guard.io/v1';

/** What a result is about; `Error` is an error that happened before any command-specific work. */
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

/** The one check status vocabulary ("don't know" is `inconclusive` everywhere; doctor's `unknown` maps to it). */
export const CHECK_STATUSES = ['pass', 'fail', 'skip', 'inconclusive'] as const;
/** One of {@link CHECK_STATUSES}. */
export type CheckStatus = (typeof CHECK_STATUSES)[number];

/** The one word scripts branch on. */
export const OUTCOMES = ['pass', 'fail', 'error'] as const;
/** One of {@link OUTCOMES}. */
export type Outcome = (typeof OUTCOMES)[number];

/** Which kind of error an `error` outcome is: it picks the exit code (usage/configuration 2, runtime 1). */
export type ErrorKind = 'usage' | 'runtime';

/** One check, the same shape in every command. */
export interface ResultCheck {
  /** What was checked: `vulnerabilities`, `gate[1]`, `registry`, … */
  name: string;
  /** Optional: what it was checked on (a manifest digest, a resource id, a rule scope). */
  target?: string;
  status: CheckStatus;
  /** One sentence saying why the status is what it is. */
  reason: string;
  /** Optional structured detail. */
  details?: Record<string, unknown>;
  /** Optional: what to do about it; only on a check that did not pass. */
  fix?: string;
}

/** How many checks have each status; always all four keys. */
export type CheckCounts = Record<CheckStatus, number>;

/** One error: a stable code (src/core/errors.ts), the message, and the field or option it is about. */
export interface ResultError {
  code: string;
  message: string;
  field?: string;
}

/** The envelope. `D` is the kind's own payload under `data`. */
export interface Result<D extends object = Record<string, unknown>> {
  apiVersion: typeof RESULT_API_VERSION;
  kind: ResultKind;
  /** What the result is about: an image by digest, a workload id, a registry host, a policy file. */
  subject: string;
  outcome: Outcome;
  /** The kind's own word for the outcome, when it has one (release|block, deploy|refuse, …). */
  decision?: string;
  /** One human sentence. */
  summary: string;
  checks: ResultCheck[];
  counts: CheckCounts;
  /** Empty when none. */
  errors: ResultError[];
  exitCode: number;
  data: D;
}

/** The documented exit codes, shared by every command. */
export const RESULT_EXIT_CODES = { pass: 0, runtime: 1, usage: 2, fail: 3 } as const;

/** Counts `checks` by status (every status present, zero when absent). */
export function countChecks(checks: readonly ResultCheck[]): CheckCounts {
  const counts: CheckCounts = { pass: 0, fail: 0, skip: 0, inconclusive: 0 };
  for (const check of checks) counts[check.status] += 1;
  return counts;
}

/** The exit code of an outcome: pass 0, fail 3, error 2 for a usage/configuration error else 1. */
export function exitCodeOf(outcome: Outcome, errorKind: ErrorKind = 'runtime'): number {
  if (outcome === 'pass') return RESULT_EXIT_CODES.pass;
  if (outcome === 'fail') return RESULT_EXIT_CODES.fail;
  return errorKind === 'usage' ? RESULT_EXIT_CODES.usage : RESULT_EXIT_CODES.runtime;
}

/** What {@link resultOf} needs; everything else is derived. */
export interface ResultInput<D extends object> {
  kind: ResultKind;
  subject: string;
  outcome: Outcome;
  decision?: string;
  summary: string;
  checks?: readonly ResultCheck[];
  errors?: readonly ResultError[];
  /** For an `error` outcome: usage (exit 2) or runtime (exit 1, the default). */
  errorKind?: ErrorKind;
  data?: D;
}

/**
 * Builds an envelope: counts the checks, derives the exit code from the outcome, drops a `fix` from passing
 * checks (a fix is advice for what did not pass) and fills `errors`/`data` with empty values when absent.
 */
export function resultOf<D extends object = Record<string, unknown>>(input: ResultInput<D>): Result<D> {
  const checks = (input.checks ?? []).map((check) => {
    if (check.status !== 'pass' || check.fix === undefined) return { ...check };
    const { fix: _fix, ...rest } = check;
    return rest;
  });
  return {
    apiVersion: RESULT_API_VERSION,
    kind: input.kind,
    subject: input.subject,
    outcome: input.outcome,
    ...(input.decision !== undefined ? { decision: input.decision } : {}),
    summary: input.summary,
    checks,
    counts: countChecks(checks),
    errors: [...(input.errors ?? [])],
    exitCode: exitCodeOf(input.outcome, input.errorKind),
    data: input.data ?? ({} as D),
  };
}

/**
 * The envelope of an error: outcome `error`, the error as `errors[0]`, its message as the summary. `kind` is
 * the command's kind when the command got far enough to know it, else `Error`.
 */
export function errorResultOf<D extends object = Record<string, unknown>>(input: {
  kind?: ResultKind;
  subject: string;
  error: ResultError;
  errorKind: ErrorKind;
  checks?: readonly ResultCheck[];
  data?: D;
}): Result<D> {
  return resultOf<D>({
    kind: input.kind ?? 'Error',
    subject: input.subject,
    outcome: 'error',
    summary: input.error.message,
    checks: input.checks,
    errors: [input.error],
    errorKind: input.errorKind,
    data: input.data,
  });
}
