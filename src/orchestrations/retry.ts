/**
 * What both orchestrators share: Durable retry options from a plain policy, and the code and text of a failed
 * task. Deterministic helpers only (no I/O, no clock).
 */
import * as df from 'durable-functions';
import { ErrorCodes, toErrorCode, type ErrorCode } from '../core/errors';

/** A Durable retry policy as plain data (the driver and the docs read the same numbers). */
export interface RetryPolicyData {
  readonly firstRetryIntervalMs: number;
  readonly backoffCoefficient: number;
  readonly maxNumberOfAttempts: number;
  readonly maxRetryIntervalMs: number;
}

/** The durable-functions retry options of `policy`. */
export function retryOptionsOf(policy: RetryPolicyData): df.RetryOptions {
  const options = new df.RetryOptions(policy.firstRetryIntervalMs, policy.maxNumberOfAttempts);
  options.backoffCoefficient = policy.backoffCoefficient;
  options.maxRetryIntervalInMilliseconds = policy.maxRetryIntervalMs;
  return options;
}

/**
 * The code a failed task carried, when the host passed it through (FailureDetails.Properties) and it is one of
 * acr-guard's codes; `ACTIVITY_FAILED` otherwise.
 */
export function failureCode(err: unknown): ErrorCode {
  const code = (err as df.TaskFailedError | undefined)?.failureDetails?.properties?.code;
  return toErrorCode(code, ErrorCodes.ACTIVITY_FAILED);
}
