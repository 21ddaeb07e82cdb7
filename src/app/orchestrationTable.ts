/**
 * The orchestrators and activity maps of the function table (`functionTable.ts` re-exports them and holds the
 * rest): apart so that the local orchestration host, which the CLI loads for a one-off gate, does not load the
 * HTTP and timer handlers. Pure data and small closures: importing it registers nothing.
 */
import { gateActivities } from '../orchestrations/activities';
import { imageGateOrchestrator } from '../orchestrations/imageGate';
import {
  Activities,
  ORCH_IMAGE_GATE,
  ORCH_REGISTRY_PURGE,
  ORCH_REPOSITORY_PURGE,
  ORCH_RUNTIME_RECONCILE,
  PurgeActivities,
  RuntimeReconcileActivities,
} from '../orchestrations/names';
import { registryPurgeOrchestrator, repositoryPurgeOrchestrator } from '../orchestrations/purge';
import { purgeActivities } from '../orchestrations/purgeActivities';
import { runtimeReconcileActivities, type RuntimeServices } from '../orchestrations/runtimeReconcileActivities';
import { runtimeReconcileOrchestrator } from '../orchestrations/runtimeReconcile';
import type { ActivityContext, GateServices } from '../orchestrations/services';

// ---- orchestrators ----

/** The orchestrators both hosts host, by their registered names (history records them: add, don't rename). */
export const ORCHESTRATORS = {
  [ORCH_IMAGE_GATE]: imageGateOrchestrator,
  [ORCH_REGISTRY_PURGE]: registryPurgeOrchestrator,
  [ORCH_REPOSITORY_PURGE]: repositoryPurgeOrchestrator,
  [ORCH_RUNTIME_RECONCILE]: runtimeReconcileOrchestrator,
} as const;

/** The registered name of an orchestration. */
export type OrchestrationName = keyof typeof ORCHESTRATORS;

// ---- activity maps ----

/** Activities by registered name (the context is the Functions `InvocationContext` or the local driver's). */
export type ActivityMap = Readonly<Record<string, (input: never, context: ActivityContext) => Promise<unknown>>>;

/** What an activity map is built from; `runtime` is only called by a map that needs it. */
export interface ActivityMapDeps {
  /** The gate's services (`purgeAlerts` set where held purge plans are alerted: Azure). */
  services: GateServices;
  runtime: () => RuntimeServices;
}

/** One group of activities, built together over the same services. */
export interface ActivityMapEntry {
  /** The orchestration(s) the group serves. */
  name: string;
  /** The registered activity names (known before the map is built: a host registers them at load). */
  activities: readonly string[];
  /**
   * Needs runtime assurance's services (Resource Graph, sinks): built apart, so a misconfigured alert sink of the
   * runtime audit never stops a gate or a purge; the local host hosts it only when given an inventory.
   */
  needsRuntime: boolean;
  build(deps: ActivityMapDeps): ActivityMap;
}

/** The activity maps; both hosts host all three (the gate's retention step needs the purge's). */
export const ACTIVITY_MAPS: readonly ActivityMapEntry[] = [
  {
    name: ORCH_IMAGE_GATE,
    activities: Object.values(Activities),
    needsRuntime: false,
    build: ({ services }) => gateActivities(services),
  },
  {
    name: `${ORCH_REGISTRY_PURGE}, ${ORCH_REPOSITORY_PURGE}`,
    activities: Object.values(PurgeActivities),
    needsRuntime: false,
    build: ({ services }) => purgeActivities(services),
  },
  {
    name: ORCH_RUNTIME_RECONCILE,
    activities: Object.values(RuntimeReconcileActivities),
    needsRuntime: true,
    build: ({ services, runtime }) => runtimeReconcileActivities(services, runtime()),
  },
];
