/**
 * The activities of `imageGate`: plain async functions from JSON input to JSON output. {@link gateActivities}
 * maps them by their registered names (src/orchestrations/names.ts); the function table (src/app) hands that map
 * to both hosts. Each step lives in a file of its own: reading the policy in `gateContext.ts`, what was pushed (an
 * index's children included) in `resolveManifest.ts`, findings in `collectFindings.ts`, signatures in
 * `verifySignatures.ts`, the apply step in `applyVerdict.ts`, recording in `recordVerdict.ts`, publishing in
 * `publishVerdict.ts`, the combined steps of versions 2 and 3 in `combinedSteps.ts`; failures as data in `activityFailure.ts`.
 */
import type { ImageId, Verdict } from '../core/types';
import { applyVerdict, type ApplyVerdictInput } from './applyVerdict';
import {
  applyAndRecord,
  prepareAndFinish,
  prepareGate,
  type PrepareAndFinishInput,
  type PrepareGateInput,
} from './combinedSteps';
import { collectFindings, type CollectFindingsInput } from './collectFindings';
import { verifySignatures, type VerifySignaturesActivityInput } from './verifySignatures';
import { loadGateContext, type LoadGateContextInput } from './gateContext';
import { publishVerdict } from './publishVerdict';
import { recordVerdict } from './recordVerdict';
import { resolveManifest } from './resolveManifest';
import { Activities } from './names';
import type { ActivityContext, GateServices } from './services';

export type { ActivityFailure } from './activityFailure';
export { applyVerdict, MAX_QUARANTINE_DETAILS, quarantineDetails, type ApplyVerdictInput } from './applyVerdict';
export { INDEX_CHILD_READS, resolveManifest, type PlatformManifest, type ResolvedImage } from './resolveManifest';
export { loadGateContext, type GateContext, type LoadGateContextInput } from './gateContext';
export { recordVerdict } from './recordVerdict';
export { publishVerdict, type PublishVerdictResult } from './publishVerdict';
export { collectFindings, type CollectFindingsInput } from './collectFindings';
export { verifySignatures, type VerifySignaturesActivityInput } from './verifySignatures';
export {
  applyAndRecord,
  prepareAndFinish,
  prepareGate,
  type AppliedAndRecorded,
  type DeferredStep,
  type PreparedAndFinished,
  type PreparedGate,
} from './combinedSteps';

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
    [Activities.prepare]: (input: PrepareGateInput, context: ActivityContext) => prepareGate(services, input, context),
    [Activities.applyAndRecord]: (input: ApplyVerdictInput, context: ActivityContext) =>
      applyAndRecord(services, input, context),
    [Activities.prepareAndFinish]: (input: PrepareAndFinishInput, context: ActivityContext) =>
      prepareAndFinish(services, input, context),
  } as const;
}
