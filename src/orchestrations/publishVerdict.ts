/** The gate's publishing step: a recorded verdict sent as a CloudEvent to the configured publishers. */
import { publishVerdictEvent, type PublishReport } from '../adapters/verdictEvents';
import type { Verdict } from '../core/types';
import { verdictEvent } from '../core/verdictEvent';
import { SILENT_ACTIVITY_CONTEXT, type ActivityContext, type GateServices } from './services';

/** What {@link publishVerdict} reports (never a failure: delivery does not change the verdict). */
export interface PublishVerdictResult {
  ok: true;
  reports: PublishReport[];
}

/**
 * Publishes a recorded verdict as a CloudEvent to every configured publisher, each a bounded number of times.
 * Never fails: an undelivered event is logged (warn) and reported; the verdict stands as recorded.
 */
export async function publishVerdict(
  services: GateServices,
  input: { verdict: Verdict },
  context: ActivityContext = SILENT_ACTIVITY_CONTEXT,
): Promise<PublishVerdictResult> {
  const publishers = services.verdictEvents ?? [];
  if (publishers.length === 0) return { ok: true, reports: [] };
  let reports: PublishReport[];
  try {
    reports = await publishVerdictEvent(publishers, verdictEvent(input.verdict));
  } catch (err) {
    // Building the event from a malformed record: say so, decide nothing.
    reports = publishers.map((p) => ({
      publisher: p.name,
      delivered: false,
      attempts: 0,
      error: String((err as Error)?.message),
    }));
  }
  const v = input.verdict;
  for (const r of reports) {
    if (r.delivered)
      context.log(`publishVerdict: ${v.image.repository}@${v.image.digest} ${v.decision}: sent to ${r.publisher}`);
    else
      context.warn(
        `publishVerdict: ${v.image.repository}@${v.image.digest} ${v.decision}: not delivered to ${r.publisher} after ${r.attempts} attempt(s) (${r.error}); the verdict is recorded and unchanged`,
      );
  }
  return { ok: true, reports };
}
