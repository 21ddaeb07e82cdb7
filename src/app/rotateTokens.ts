/**
 * Timer `rotateTokens` (schedule: app setting ACR_GUARD_ROTATION_SCHEDULE, default daily 03:30 UTC): rotates
 * the configured ACR token passwords into Key Vault with overlap. Parses settings and delegates.
 */
import type { InvocationContext } from '@azure/functions';
import { ErrorCodes, GuardError } from '../core/errors';
import { loadRotationConfig } from './timerConfig';
import { rotationRunFor } from './jobCompose';
import { rotateTokens, type TokenOutcome } from '../jobs/tokenRotation';
import { withInvocationLog, type TimerJobDeps } from './timerJobs';

/**
 * Runs one rotation pass with the settings in `env`. Throws `UPSTREAM` after the pass when any token failed,
 * so the invocation shows as failed in the host's monitoring (the failures were already alerted).
 */
export async function handleRotateTokens(
  env: Record<string, string | undefined>,
  deps: TimerJobDeps,
  context: InvocationContext,
): Promise<TokenOutcome[]> {
  const config = loadRotationConfig(env, { requireSinks: !deps.dryRun });
  const outcomes = await rotateTokens({
    ...rotationRunFor(config, deps.audit, withInvocationLog(deps, context), { dryRun: deps.dryRun }),
    nowMs: deps.nowMs,
  });
  const failed = outcomes.filter((o) => o.result === 'failed');
  context.log(`rotateTokens: ${outcomes.map((o) => `${o.secretName ?? o.tokenId}: ${o.result}`).join('; ')}`);
  if (failed.length > 0) {
    throw new GuardError(
      ErrorCodes.UPSTREAM,
      `rotateTokens: ${failed.length} of ${outcomes.length} token(s) failed to rotate; their published passwords are unchanged and the failures were alerted`,
    );
  }
  return outcomes;
}
