/**
 * Runs `runtimeAudit` in-process: the real orchestrator with its `imageGate` sub-orchestrations, replayed by the
 * local driver, with the real activities over the given services. Used by `npm start` and the tests.
 */
import { ORCH_IMAGE_GATE, ORCH_REGISTRY_PURGE, ORCH_REPOSITORY_PURGE, ORCH_RUNTIME_AUDIT } from '../orchestrations/names';
import { imageGateOrchestrator } from '../orchestrations/imageGate';
import { gateActivities } from '../orchestrations/activities';
import { purgeActivities } from '../orchestrations/purgeActivities';
import { registryPurgeOrchestrator, repositoryPurgeOrchestrator } from '../orchestrations/purge';
import { runtimeActivities, setRuntimeServices, type RuntimeServices } from '../orchestrations/runtimeActivities';
import { runtimeAuditOrchestrator, type RuntimeAuditOutput } from '../orchestrations/runtimeAudit';
import { setGateServices, type GateServices } from '../orchestrations/services';
import { runOrchestration, type HistoryStore, type OrchestrationResult } from './durableDriver';

/** Options of {@link runRuntimeAuditLocally}. */
export interface LocalRuntimeAuditOptions {
  services: GateServices;
  runtime: RuntimeServices;
  instanceId: string;
  startTime: Date;
  timers?: 'real' | 'virtual';
  history?: HistoryStore;
}

/** Runs one `runtimeAudit` to completion; returns its output and the driver's result (history included). */
export async function runRuntimeAuditLocally(options: LocalRuntimeAuditOptions): Promise<{ output: RuntimeAuditOutput; result: OrchestrationResult }> {
  setGateServices(options.services);
  setRuntimeServices(options.runtime);
  const result = await runOrchestration({
    name: ORCH_RUNTIME_AUDIT,
    orchestrator: runtimeAuditOrchestrator,
    orchestrators: { [ORCH_IMAGE_GATE]: imageGateOrchestrator, [ORCH_REGISTRY_PURGE]: registryPurgeOrchestrator, [ORCH_REPOSITORY_PURGE]: repositoryPurgeOrchestrator },
    activities: { ...gateActivities, ...purgeActivities, ...runtimeActivities },
    instanceId: options.instanceId,
    input: { trigger: 'local' },
    startTime: options.startTime,
    timers: options.timers ?? 'virtual',
    history: options.history,
  });
  if (result.status !== 'Completed') throw new Error(`runtimeAudit ${options.instanceId} failed: ${result.error ?? 'unknown error'}`);
  return { output: result.output as RuntimeAuditOutput, result };
}
