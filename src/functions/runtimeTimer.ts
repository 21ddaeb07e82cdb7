/**
 * Registers a timer whose job runs with the runtime's identity and audit store: the schedule comes from its
 * app setting (validated when the app loads), the handler builds the job's dependencies and delegates.
 */
import { app, type FunctionInput, type InvocationContext, type Timer } from '@azure/functions';
import { timerSchedule, type AuditConfig, type TIMER_SCHEDULES } from '../config';
import type { TimerDeps } from '../jobs/compose';
import { getRuntime } from '../runtime';

/** What a timer job gets: the identity, the audit store's config, dry-run mode and the invocation time. */
export type TimerJobDeps = TimerDeps & { audit?: AuditConfig; dryRun: boolean; nowMs: number };

/** The job's own logger bound to the invocation. */
export function withInvocationLog(deps: TimerJobDeps, context: InvocationContext): TimerJobDeps {
  return { ...deps, log: (line: string) => context.log(line) };
}

export function registerRuntimeTimer(
  name: string,
  scheduleSetting: keyof typeof TIMER_SCHEDULES,
  job: (env: Record<string, string | undefined>, deps: TimerJobDeps, context: InvocationContext) => Promise<unknown>,
  options: { extraInputs?: FunctionInput[] } = {},
): void {
  app.timer(name, {
    schedule: timerSchedule(process.env, scheduleSetting),
    ...(options.extraInputs ? { extraInputs: options.extraInputs } : {}),
    handler: async (_timer: Timer, context: InvocationContext): Promise<void> => {
      const runtime = getRuntime();
      await job(process.env, { credential: runtime.credential, audit: runtime.config.audit, dryRun: runtime.config.dryRun, nowMs: Date.now() }, context);
    },
  });
}
