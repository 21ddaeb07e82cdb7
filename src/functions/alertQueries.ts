/**
 * Timer `alertQueries` (schedule: app setting ACR_GUARD_ALERT_SCHEDULE, default every 5 minutes): runs the
 * enabled alert rules against Log Analytics, de-duplicates, notifies. Parses settings and delegates.
 */
import { app, type InvocationContext, type Timer } from '@azure/functions';
import { loadAlertsConfig, timerSchedule, type AuditConfig } from '../config';
import { alertRunFor, type TimerDeps } from '../jobs/compose';
import { runAlertRules, type AlertRunReport } from '../jobs/alertRun';
import { getRuntime } from '../runtime';

/** Runs one alert pass with the settings in `env`; logs a one-line summary per rule. */
export async function handleAlertQueries(env: Record<string, string | undefined>, deps: TimerDeps & { audit?: AuditConfig; dryRun: boolean; nowMs: number }, context: InvocationContext): Promise<AlertRunReport> {
  const config = loadAlertsConfig(env, { requireSinks: !deps.dryRun });
  const report = await runAlertRules({ ...alertRunFor(config, deps.audit, { ...deps, log: (l) => context.log(l) }, { dryRun: deps.dryRun }), nowMs: deps.nowMs });
  const failed = report.rules.filter((r) => r.status !== 'ok').map((r) => r.rule);
  const summary = `alertQueries: ${report.rules.length} rule(s), ${report.rules.reduce((n, r) => n + r.alerted, 0)} alert(s) sent${failed.length ? `; not complete: ${failed.join(', ')}` : ''}`;
  if (failed.length) context.warn(summary);
  else context.log(summary);
  return report;
}

app.timer('alertQueries', {
  schedule: timerSchedule(process.env, 'ACR_GUARD_ALERT_SCHEDULE'),
  handler: async (_timer: Timer, context: InvocationContext): Promise<void> => {
    const runtime = getRuntime();
    await handleAlertQueries(process.env, { credential: runtime.credential, audit: runtime.config.audit, dryRun: runtime.config.dryRun, nowMs: Date.now() }, context);
  },
});
