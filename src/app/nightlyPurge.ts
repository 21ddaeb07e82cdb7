/**
 * Timer `nightlyPurge` (schedule: app setting ACR_GUARD_PURGE_SCHEDULE, default daily 03:00 UTC): starts the
 * `registryPurge` orchestration over every allowlisted registry, once per scheduled run. Delegates only.
 */
import type { InvocationContext } from '@azure/functions';
import { ORCH_REGISTRY_PURGE } from '../orchestrations/names';
import type { RegistryPurgeInput } from '../orchestrations/purge';
import { scheduledInstanceId, startScheduledOnce, type OrchestrationStarter } from './orchestrationStarter';
import type { TimerJobDeps } from './timerJobs';

/** The instance id of the purge started at `nowMs`: `purge-YYYYMMDDHHMM` (one per scheduled minute). */
export function purgeInstanceId(nowMs: number): string {
  return scheduledInstanceId('purge', nowMs);
}

/** Starts `registryPurge` for this run unless it exists already; returns what it did. */
export async function handleNightlyPurge(
  deps: Pick<TimerJobDeps, 'dryRun' | 'nowMs'>,
  starter: OrchestrationStarter,
  context: InvocationContext,
): Promise<{ instanceId: string; started: boolean }> {
  const input: RegistryPurgeInput = { trigger: 'timer', dryRun: deps.dryRun };
  return startScheduledOnce(
    starter,
    {
      source: 'nightlyPurge',
      orchestrator: ORCH_REGISTRY_PURGE,
      instanceId: purgeInstanceId(deps.nowMs),
      input,
      note: deps.dryRun ? ' (dry run: plans only, deletes nothing)' : '',
    },
    (line) => context.log(line),
  );
}
