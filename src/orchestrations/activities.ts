/**
 * The activities of `imageGate`: plain async functions from JSON input to JSON output. {@link gateActivities}
 * maps them by their registered names (src/orchestrations/names.ts); the function table (src/app) hands that map
 * to both hosts. Reading the policy lives in `gateContext.ts`, reading what was pushed (an index's children
 * included) in `resolveManifest.ts`, the apply step in `applyVerdict.ts`, recording in `recordVerdict.ts`, version
 * 2's combined steps in `combinedSteps.ts`; failures as data in `activityFailure.ts`.
 */
import { ErrorCodes, isGuardError } from '../core/errors';
import { boundFindingsResult } from '../core/findingsSummary';
import {
  type FindingsResult,
  type FindingsSourceName,
  type ImageId,
  type ResolvedManifest,
  type SignatureResult,
  type Verdict,
} from '../core/types';
import { publishVerdictEvent, type PublishReport } from '../adapters/verdictEvents';
import { verdictEvent } from '../core/verdictEvent';
import { applyVerdict, type ApplyVerdictInput } from './applyVerdict';
import { applyAndRecord, prepareGate } from './combinedSteps';
import { loadGateContext, type LoadGateContextInput } from './gateContext';
import { recordVerdict } from './recordVerdict';
import { resolveManifest } from './resolveManifest';
import { Activities } from './names';
import { SILENT_ACTIVITY_CONTEXT, type ActivityContext, type GateServices } from './services';

export type { ActivityFailure } from './activityFailure';
export { applyVerdict, MAX_QUARANTINE_DETAILS, quarantineDetails, type ApplyVerdictInput } from './applyVerdict';
export { INDEX_CHILD_READS, resolveManifest, type PlatformManifest, type ResolvedImage } from './resolveManifest';
export { loadGateContext, type GateContext, type LoadGateContextInput } from './gateContext';
export { recordVerdict } from './recordVerdict';
export {
  applyAndRecord,
  prepareGate,
  type AppliedAndRecorded,
  type DeferredStep,
  type PreparedGate,
} from './combinedSteps';

// ---- collectFindings ----

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

// ---- verifySignatures ----

/** Input of {@link verifySignatures}. */
export interface VerifySignaturesActivityInput {
  /** The pushed digest: an index's signatures sign the index. */
  image: ImageId;
  manifest: ResolvedManifest;
  trustPolicy?: string;
}

/** Verifies the signatures of the pushed manifest; a permanent error is an inconclusive result, never a pass. */
export async function verifySignatures(
  services: GateServices,
  input: VerifySignaturesActivityInput,
  context: ActivityContext = SILENT_ACTIVITY_CONTEXT,
): Promise<SignatureResult> {
  try {
    return await services.verifySignatures(input);
  } catch (err) {
    if (isGuardError(err) && err.code !== ErrorCodes.TRANSIENT) {
      context.warn(`verifySignatures: ${input.image.repository}@${input.image.digest}: ${err.code}: ${err.message}`);
      return {
        status: 'inconclusive',
        reason: `signature verification failed to run: ${err.code}: ${err.message}`,
        signatures: [],
      };
    }
    throw err;
  }
}

// ---- publishVerdict ----

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

/**
 * The activities of `imageGate` over `services`, by their registered names: what a host registers (Azure) or
 * hands to the local durable driver. Each handler gets the JSON input and the invocation's context (its log).
 */
export function gateActivities(services: GateServices) {
  return {
    [Activities.loadGateContext]: (input: LoadGateContextInput, _context: ActivityContext) =>
      loadGateContext(services, input),
    [Activities.resolveManifest]: (input: { image: ImageId }, _context: ActivityContext) =>
      resolveManifest(services, input),
    [Activities.collectFindings]: (input: CollectFindingsInput, context: ActivityContext) =>
      collectFindings(services, input, context),
    [Activities.verifySignatures]: (input: VerifySignaturesActivityInput, context: ActivityContext) =>
      verifySignatures(services, input, context),
    [Activities.applyVerdict]: (input: ApplyVerdictInput, context: ActivityContext) =>
      applyVerdict(services, input, context),
    [Activities.recordVerdict]: (input: { verdict: Verdict }, context: ActivityContext) =>
      recordVerdict(services, input, context),
    [Activities.publishVerdict]: (input: { verdict: Verdict }, context: ActivityContext) =>
      publishVerdict(services, input, context),
    [Activities.prepare]: (input: { image: ImageId }, context: ActivityContext) =>
      prepareGate(services, input, context),
    [Activities.applyAndRecord]: (input: ApplyVerdictInput, context: ActivityContext) =>
      applyAndRecord(services, input, context),
  } as const;
}
