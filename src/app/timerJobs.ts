/**
 * What a timer job gets from its host (Azure's timers in `functions/index.ts`, the local service's timers):
 * the identity, the audit store's config, dry-run mode and the invocation time.
 */
import type { InvocationContext } from '@azure/functions';
import type { AuditConfig } from './config';
import type { TimerDeps } from './jobCompose';

/** What a timer job gets: the identity, the audit store's config, dry-run mode and the invocation time. */
export type TimerJobDeps = TimerDeps & { audit?: AuditConfig; dryRun: boolean; nowMs: number };

/** The job's own logger bound to the invocation. */
export function withInvocationLog(deps: TimerJobDeps, context: InvocationContext): TimerJobDeps {
  return { ...deps, log: (line: string) => context.log(line) };
}
