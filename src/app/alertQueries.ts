/**
 * Timer `alertQueries` (schedule: app setting ACR_GUARD_ALERT_SCHEDULE, default every 5 minutes): runs the
 * enabled alert rules against Log Analytics, de-duplicates, notifies. Parses settings and delegates.
 */
import type { InvocationContext } from '@azure/functions';
import { loadAlertsConfig } from './timerConfig';
import { alertRunFor, doctorScopeFrom } from './jobCompose';
import { runAlertRules, type AlertRunReport } from '../jobs/alertRun';
import { withInvocationLog, type TimerJobDeps } from './timerJobs';

/** Runs one alert pass with the settings in `env`; logs a one-line summary per rule. */
export async function handleAlertQueries(
  env: Record<string, string | undefined>,
  deps: TimerJobDeps,
  context: InvocationContext,
): Promise<AlertRunReport> {
  const config = loadAlertsConfig(env, { requireSinks: !deps.dryRun });
  const report = await runAlertRules({
    ...alertRunFor(config, deps.audit, withInvocationLog(deps, context), {
      dryRun: deps.dryRun,
      doctor: doctorScopeFrom(env),
    }),
    nowMs: deps.nowMs,
  });
  const failed = report.rules.filter((r) => r.status !== 'ok').map((r) => r.rule);
  const summary = `alertQueries: ${report.rules.length} rule(s), ${report.rules.reduce((n, r) => n + r.alerted, 0)} alert(s) sent${failed.length ? `; not complete: ${failed.join(', ')}` : ''}`;
  if (failed.length) context.warn(summary);
  else context.log(summary);
  return report;
}
