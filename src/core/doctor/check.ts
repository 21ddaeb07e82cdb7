/**
 * The doctor's result: a list of checks, each `pass`, `fail` or `unknown` (data missing is `unknown`, never
 * `pass`), with the evidence and the fix as the exact `az` command.
 */

/** Outcome of one check. */
export type DoctorStatus = 'pass' | 'fail' | 'unknown';

/** One check's result. */
export interface DoctorCheck {
  /** Stable check id, e.g. `pull.dns-zone-link`. */
  id: string;
  /** What was checked: a resource id, an image or a DNS name. */
  target: string;
  status: DoctorStatus;
  /** What doctor saw, in one or two sentences. */
  evidence: string;
  /** The exact `az` command(s) that fix a failure (empty when it passes). */
  fix: string;
}

/** A doctor report. */
export interface DoctorReport {
  checks: DoctorCheck[];
}

/** Shorthand constructors. */
export const pass = (id: string, target: string, evidence: string): DoctorCheck => ({
  id,
  target,
  status: 'pass',
  evidence,
  fix: '',
});
export const fail = (id: string, target: string, evidence: string, fix: string): DoctorCheck => ({
  id,
  target,
  status: 'fail',
  evidence,
  fix,
});
export const unknown = (id: string, target: string, evidence: string, fix = ''): DoctorCheck => ({
  id,
  target,
  status: 'unknown',
  evidence,
  fix,
});

/** True when there was at least one check and every check passed (zero checks is not a pass: nothing was looked at). */
export function allPassed(report: DoctorReport): boolean {
  return report.checks.length > 0 && report.checks.every((c) => c.status === 'pass');
}

/** Quotes a value for a POSIX shell command line when it needs it. */
export function sh(value: string): string {
  return /^[A-Za-z0-9_./:@=,+-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}
