/**
 * Runs `registryPurge` in-process: the real orchestrators (`registryPurge` and its `repositoryPurge`
 * sub-orchestrations), replayed by the local driver, with the real activities over the given services. Also
 * reads back the latest summary for the local page.
 */
import type { AuditStore } from '../adapters/ports';
import type { Policy } from '../core/policyTypes';
import type { GateServices } from '../orchestrations/services';
import { setGateServices } from '../orchestrations/services';
import { ORCH_REGISTRY_PURGE, ORCH_REPOSITORY_PURGE } from '../orchestrations/names';
import { purgeActivities } from '../orchestrations/purgeActivities';
import { registryPurgeOrchestrator, repositoryPurgeOrchestrator, type RegistryPurgeInput, type RegistryPurgeOutput } from '../orchestrations/purge';
import type { PurgeSummary } from '../core/purge/summary';
import { runOrchestration, type HistoryStore, type OrchestrationResult } from './durableDriver';

/** Options for {@link runPurgeLocally}. */
export interface LocalPurgeOptions {
  input: RegistryPurgeInput;
  services: GateServices;
  instanceId: string;
  startTime: Date;
  timers?: 'real' | 'virtual';
  history?: HistoryStore;
}

/** Runs one `registryPurge` to completion; returns its output and the driver's result (history included). */
export async function runPurgeLocally(options: LocalPurgeOptions): Promise<{ output: RegistryPurgeOutput; result: OrchestrationResult }> {
  setGateServices(options.services);
  const result = await runOrchestration({
    name: ORCH_REGISTRY_PURGE,
    orchestrator: registryPurgeOrchestrator,
    orchestrators: { [ORCH_REPOSITORY_PURGE]: repositoryPurgeOrchestrator },
    activities: purgeActivities,
    instanceId: options.instanceId,
    input: options.input,
    startTime: options.startTime,
    timers: options.timers ?? 'virtual',
    history: options.history,
  });
  if (result.status !== 'Completed') throw new Error(`registryPurge ${options.instanceId} failed: ${result.error ?? 'unknown error'}`);
  return { output: result.output as RegistryPurgeOutput, result };
}

/**
 * The page's "last purge": the most recent summary recorded for any of the policy's registries, or null (a
 * store that cannot answer counts as none).
 */
export async function latestPurgeSummaryOf(policy: Policy, audit: AuditStore): Promise<PurgeSummary | null> {
  let latest: PurgeSummary | null = null;
  for (const { host } of policy.registries) {
    const summary = await audit.latestPurgeSummary(host).catch(() => undefined);
    if (summary && (!latest || summary.finishedAt > latest.finishedAt)) latest = summary;
  }
  return latest;
}
