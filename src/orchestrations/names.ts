/**
 * Names of every orchestration (`imageGate`, the purge, runtime assurance) and of their activities: the function
 * names both hosts register from the function table (src/app/orchestrationTable.ts) and the history records.
 * Renaming one breaks the replay of instances already in flight; add, don't rename.
 */

/** The gate orchestration (one instance per `registry/repository@digest`). */
export const ORCH_IMAGE_GATE = 'imageGate';

/** Activity names of `imageGate`. */
export const Activities = {
  loadGateContext: 'imageGate_loadGateContext',
  resolveManifest: 'imageGate_resolveManifest',
  collectFindings: 'imageGate_collectFindings',
  verifySignatures: 'imageGate_verifySignatures',
  applyVerdict: 'imageGate_applyVerdict',
  recordVerdict: 'imageGate_recordVerdict',
  publishVerdict: 'imageGate_publishVerdict',
  /**
   * Version 2's reads in one call: loadGateContext, resolveManifest, the first round of findings and
   * verifySignatures (src/orchestrations/combinedSteps.ts).
   */
  prepare: 'imageGate_prepare',
  /** Version 2's writes in one call: applyVerdict and recordVerdict. */
  applyAndRecord: 'imageGate_applyAndRecord',
  /**
   * Version 3's first call: `prepare`, then, when nothing has to be waited for, the decision and `applyAndRecord`
   * (src/orchestrations/combinedSteps.ts).
   */
  prepareAndFinish: 'imageGate_prepareAndFinish',
} as const;

/** One activity name of `imageGate`. */
export type ActivityName = (typeof Activities)[keyof typeof Activities];

/** The nightly purge over a registry (one instance per timer run) and its per-repository sub-orchestration. */
export const ORCH_REGISTRY_PURGE = 'registryPurge';
export const ORCH_REPOSITORY_PURGE = 'repositoryPurge';

/** Activity names of the purge (the gate's retention step included). */
export const PurgeActivities = {
  listTargets: 'registryPurge_listTargets',
  purgeRepository: 'repositoryPurge_purgeRepository',
  recordSummary: 'registryPurge_recordSummary',
  gateRetention: 'imageGate_retention',
} as const;

/**
 * Runtime assurance: one instance per run of the `runtimeAudit` timer; re-gates run as `imageGate`
 * sub-orchestrations. Named apart from the timer: a Functions app's function names are unique. The code calls
 * it by this name (`runtimeReconcile`); the timer keeps its deployed name `runtimeAudit`.
 */
export const ORCH_RUNTIME_RECONCILE = 'runtimeReconcile';

/**
 * Activity names of `runtimeReconcile`. They keep the `runtimeAudit_` prefix of the orchestration's first name:
 * instances in flight replay by these names, so they stay (add, don't rename).
 */
export const RuntimeReconcileActivities = {
  assess: 'runtimeAudit_assess',
  report: 'runtimeAudit_report',
} as const;
