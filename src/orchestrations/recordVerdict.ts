/** The gate's recording step: the verdict appended to the audit store, once. */
import type { Verdict } from '../core/types';
import { permanentAsData, type ActivityFailure } from './activityFailure';
import { SILENT_ACTIVITY_CONTEXT, type ActivityContext, type GateServices } from './services';

/**
 * Appends the verdict to the audit store, once. Activities run at least once: a worker (or the local service)
 * that dies after the write but before its completion is recorded runs this again with the same verdict. The
 * gate's verdict is deterministic (decided at orchestration time), so the latest verdict of the image being
 * this one means the write happened: it is not appended twice.
 */
export async function recordVerdict(
  services: GateServices,
  input: { verdict: Verdict },
  context: ActivityContext = SILENT_ACTIVITY_CONTEXT,
): Promise<{ ok: true } | ActivityFailure> {
  return permanentAsData(async () => {
    const { audit } = services;
    const v = input.verdict;
    const latest = await audit.latestVerdict(v.image);
    const same =
      latest !== undefined &&
      latest.decidedAt === v.decidedAt &&
      latest.decision === v.decision &&
      latest.summary === v.summary &&
      latest.policy?.hash === v.policy?.hash;
    if (!same) await audit.recordVerdict(v);
    else
      context.log(
        `recordVerdict: ${v.image.repository}@${v.image.digest}: this verdict is already the latest (an activity retry); not appended again`,
      );
    return { ok: true as const };
  });
}
