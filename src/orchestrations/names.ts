/**
 * Names of the `imageGate` orchestration and its activities: the function names the Functions host registers
 * and the history records. Renaming one breaks the replay of instances already in flight; add, don't rename.
 */

/** The gate orchestration (one instance per `registry/repository@digest`). */
export const ORCH_IMAGE_GATE = 'imageGate';

/** Activity names of `imageGate`. */
export const Activities = {
  loadGateContext: 'imageGate_loadGateContext',
  resolveManifest: 'imageGate_resolveManifest',
  collectFindings: 'imageGate_collectFindings',
  verifySignatures: 'imageGate_verifySignatures',
  decide: 'imageGate_decide',
  applyVerdict: 'imageGate_applyVerdict',
  recordVerdict: 'imageGate_recordVerdict',
} as const;

/** One activity name of `imageGate`. */
export type ActivityName = (typeof Activities)[keyof typeof Activities];
