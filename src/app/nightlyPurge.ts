/**
 * Timer `nightlyPurge` (schedule: app setting ACR_GUARD_PURGE_SCHEDULE, default daily 03:00 UTC): starts the
 * `registryPurge` orchestration over every allowlisted registry, once per scheduled run. Delegates only.
 */
import type { InvocationContext } from '@azure/functions';
import { ORCH_REGISTRY_PURGE } from '../orchestrations/names';
import type { RegistryPurgeInput } from '../orchestrations/purge';
import type { GateStarter, InstanceState } from './gateStarter';
import type { TimerJobDeps } from './timerJobs';

/** States in which this run's purge already exists (a re-delivered timer must not start a second one). */
const EXISTS: ReadonlySet<InstanceState> = new Set<InstanceState>(['Pending', 'Running', 'Completed', 'ContinuedAsNew', 'Suspended']);

/** The instance id of the purge started at `nowMs`: `purge-YYYYMMDDHHMM` (one per scheduled minute). */
export function purgeInstanceId(nowMs: number): string {
  return `purge-${new Date(nowMs).toISOString().slice(0, 16).replace(/[-:T]/g, '')}`;
}

/** Starts `registryPurge` for this run unless it exists already; returns what it did. */
export async function handleNightlyPurge(deps: Pick<TimerJobDeps, 'dryRun' | 'nowMs'>, starter: GateStarter, context: InvocationContext): Promise<{ instanceId: string; started: boolean }> {
  const instanceId = purgeInstanceId(deps.nowMs);
  const state = await starter.getState(instanceId);
  if (state && EXISTS.has(state)) {
    context.log(`nightlyPurge: ${instanceId} is already ${state}; not started again`);
    return { instanceId, started: false };
  }
  const input: RegistryPurgeInput = { trigger: 'timer', dryRun: deps.dryRun };
  await starter.start(ORCH_REGISTRY_PURGE, instanceId, input);
  context.log(`nightlyPurge: started ${ORCH_REGISTRY_PURGE} ${instanceId}${deps.dryRun ? ' (dry run: plans only, deletes nothing)' : ''}`);
  return { instanceId, started: true };
}
