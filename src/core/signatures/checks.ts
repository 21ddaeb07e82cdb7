/**
 * The verification table shared by the Notary Project and cosign verifiers: each check is evaluated, then
 * enforced, logged or skipped by the trust policy's level, and one function decides the outcome. Every
 * check result is kept, with a reason, in the signature's result.
 */
import type { SignatureCheck, SignatureCheckName } from '../types';
import type { ValidationAction, ValidationName } from './trustPolicy';

/** What a check found before the level is applied. */
export type Finding =
  | { ok: true; reason: string; details?: Record<string, unknown> }
  | { ok: false; inconclusive?: boolean; reason: string; details?: Record<string, unknown> };

/** Outcome of one signature. */
export type SignatureOutcome = 'verified' | 'failed' | 'inconclusive' | 'skipped';

/** The checks of one signature and its outcome. */
export interface SignatureVerification {
  /** Digest of the signature manifest. */
  digest: string;
  kind: 'notation' | 'cosign';
  outcome: SignatureOutcome;
  /** One line: why it verified or the first enforced failure. */
  reason: string;
  checks: SignatureCheck[];
}

/** Collects checks for one signature, applying the policy's actions. */
export class CheckTable {
  readonly checks: SignatureCheck[] = [];

  constructor(
    private readonly actions: Record<ValidationName, ValidationAction>,
    private readonly level: string,
  ) {}

  /** Records `name` governed by validation `validation`; returns true when the check passed or was not enforced. */
  record(name: SignatureCheckName, validation: ValidationName, finding: Finding): boolean {
    const action = this.actions[validation];
    const details = { validation, action, ...finding.details };
    if (action === 'skip') {
      this.checks.push({
        name,
        status: 'skip',
        reason: `not evaluated: ${validation} is skipped at level ${this.level}`,
        details,
      });
      return true;
    }
    if (finding.ok) {
      this.checks.push({ name, status: 'pass', reason: finding.reason, details });
      return true;
    }
    const status = finding.inconclusive ? 'inconclusive' : 'fail';
    if (action === 'log') {
      this.checks.push({
        name,
        status: 'skip',
        reason: `logged, not enforced (${validation} is "log" at level ${this.level}): ${finding.reason}`,
        details: { ...details, outcome: status },
      });
      return true;
    }
    this.checks.push({ name, status, reason: finding.reason, details });
    return false;
  }

  /** Marks checks that could not run because an earlier enforced one failed. */
  notEvaluated(names: readonly SignatureCheckName[], because: string): void {
    for (const name of names) this.checks.push({ name, status: 'skip', reason: `not evaluated: ${because}` });
  }

  /** The one line that decides: any enforced failure fails, else any enforced inconclusive is inconclusive. */
  outcome(digest: string, kind: SignatureVerification['kind']): SignatureVerification {
    const failed = this.checks.find((c) => c.status === 'fail');
    const unsure = this.checks.find((c) => c.status === 'inconclusive');
    const outcome: SignatureOutcome = failed ? 'failed' : unsure ? 'inconclusive' : 'verified';
    const reason = failed
      ? `${failed.name}: ${failed.reason}`
      : unsure
        ? `${unsure.name}: ${unsure.reason}`
        : `verified at level ${this.level}`;
    return { digest, kind, outcome, reason, checks: this.checks };
  }
}

/** A `{ ok: false }` finding. */
export function bad(reason: string, details?: Record<string, unknown>): Finding {
  return { ok: false, reason, details };
}

/** A `{ ok: true }` finding. */
export function good(reason: string, details?: Record<string, unknown>): Finding {
  return { ok: true, reason, details };
}

/** An inconclusive finding (the check could not be performed). */
export function unsure(reason: string, details?: Record<string, unknown>): Finding {
  return { ok: false, inconclusive: true, reason, details };
}
