/** The gate's findings step: one findings source asked about one platform manifest. */
import { ErrorCodes, isGuardError } from '../core/errors';
import { boundFindingsResult } from '../core/findingsSummary';
import type { FindingsResult, FindingsSourceName, ImageId } from '../core/types';
import { SILENT_ACTIVITY_CONTEXT, type ActivityContext, type GateServices } from './services';

/** Input of {@link collectFindings}: one platform manifest, one source. */
export interface CollectFindingsInput {
  /** The platform manifest (never an index). */
  image: ImageId;
  source: FindingsSourceName;
  maxReportAgeMs: number;
  /** Orchestration time, epoch ms. */
  nowMs: number;
  /** The gate rule's `ratingSources` (CycloneDX rating preference), when it names any. */
  ratingSources?: string[];
  /** The gate rule's `reportsSignedBy` (trust policy entry reports must be signed under), when set. */
  reportsSignedBy?: string;
}

/**
 * Asks one findings source about one manifest. Never reports a permanent failure as a failure: a source that
 * errs gives a `status: 'error'` result, which the decision treats as inconclusive (never clean).
 *
 * The result goes into Durable history (and is replayed), so it carries at most `MAX_VERDICT_FINDINGS`
 * findings, the worst, with counts of all: never a whole findings list.
 */
export async function collectFindings(
  services: GateServices,
  input: CollectFindingsInput,
  context: ActivityContext = SILENT_ACTIVITY_CONTEXT,
): Promise<FindingsResult> {
  const source = services.sources.find((s) => s.name === input.source);
  if (!source) {
    return {
      source: input.source,
      status: 'error',
      code: ErrorCodes.UNSUPPORTED,
      detail: `findings source "${input.source}" is not configured in this deployment`,
    };
  }
  try {
    const query = {
      image: input.image,
      maxReportAgeMs: input.maxReportAgeMs,
      nowMs: input.nowMs,
      ...(input.ratingSources ? { ratingSources: input.ratingSources } : {}),
      ...(input.reportsSignedBy ? { reportsSignedBy: input.reportsSignedBy } : {}),
    };
    return boundFindingsResult(await source.collect(query));
  } catch (err) {
    if (isGuardError(err) && err.code !== ErrorCodes.TRANSIENT) {
      context.warn(
        `collectFindings: ${input.source} for ${input.image.repository}@${input.image.digest}: ${err.code}: ${err.message}`,
      );
      return { source: input.source, status: 'error', code: err.code, detail: err.message };
    }
    throw err;
  }
}
