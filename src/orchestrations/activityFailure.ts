/**
 * Permanent activity failures as data. Errors lose their class across the activity boundary, so a permanent
 * failure comes back as `{ ok: false, code, detail }`; a transient one (`GuardError` `TRANSIENT`) is thrown so
 * the orchestration's Durable retry options retry it.
 */
import { ErrorCodes, isGuardError, type ErrorCode } from '../core/errors';

/** A permanent failure of an activity, as data. */
export interface ActivityFailure {
  ok: false;
  code: ErrorCode;
  detail: string;
}

/** Runs `work`; permanent GuardErrors become {@link ActivityFailure}, transient ones (and bugs) are rethrown. */
export async function permanentAsData<T>(work: () => Promise<T>): Promise<T | ActivityFailure> {
  try {
    return await work();
  } catch (err) {
    if (isGuardError(err) && err.code !== ErrorCodes.TRANSIENT)
      return { ok: false, code: err.code, detail: err.message };
    throw err;
  }
}
