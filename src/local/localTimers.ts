/**
 * The timers of the local service: every timer of the function table (`src/app/functionTable.ts`) the local
 * host runs (`alertQueries`, `rotateTokens`, `nightlyPurge`), on the NCRONTAB schedule of the table's setting,
 * running the same jobs as the Functions timers (`runAlertRules`, `rotateTokens` over
 * `alertRunFor`/`rotationRunFor`, retention through the local orchestration host) when their settings are
 * present; each one not configured is skipped with one log line. A run still going when its next time comes is
 * not started twice.
 */
import { loadAlertsConfig, loadRotationConfig, timerSchedule } from '../app/timerConfig';
import { TIMERS, servedBy, type TimerName } from '../app/functionTable';
import { cronMatches, parseCron, type CronSchedule } from '../core/cron';
import { ErrorCodes, GuardError, isGuardError } from '../core/errors';
import { MemoryAlertStateStore } from '../adapters/alertState';
import { alertRunFor, rotationRunFor, type TimerDeps } from '../app/jobCompose';
import { runAlertRules } from '../jobs/alertRun';
import { rotateTokens } from '../jobs/tokenRotation';

interface LocalTimer {
  name: string;
  schedule: CronSchedule;
  run: () => Promise<void>;
}

/** Jobs the service itself provides to its timers. */
export interface LocalTimerJobs {
  /** Runs retention over the local registries; resolves to a one-line summary. */
  purge?: () => Promise<string>;
}

/** Running timers. */
export interface LocalTimers {
  /** Names of the timers on a schedule. */
  names: string[];
  stop(): void;
}

/**
 * The timers whose settings are in `env`. The alert de-duplication state lives as long as the service (in
 * Azure it is a table): an incident still open after a restart alerts again once.
 */
function configuredTimers(
  env: Record<string, string | undefined>,
  deps: () => TimerDeps,
  log: (line: string) => void,
  extra: LocalTimerJobs,
): LocalTimer[] {
  const alertState = new MemoryAlertStateStore();
  // The local job of each timer the table gives this host (the compiler refuses a missing one).
  const jobs: Record<TimerName<'local'>, { check: () => unknown; run: () => Promise<void> }> = {
    alertQueries: {
      check: () => loadAlertsConfig(env),
      run: async () => {
        const report = await runAlertRules({
          ...alertRunFor(loadAlertsConfig(env), undefined, deps(), { dryRun: false }),
          state: alertState,
          nowMs: Date.now(),
        });
        const failed = report.rules.filter((r) => r.status !== 'ok').map((r) => r.rule);
        log(
          `alertQueries: ${report.rules.length} rule(s), ${report.rules.reduce((n, r) => n + r.alerted, 0)} alert(s) sent${failed.length ? `; not complete: ${failed.join(', ')}` : ''}`,
        );
      },
    },
    rotateTokens: {
      check: () => loadRotationConfig(env),
      run: async () => {
        const outcomes = await rotateTokens({
          ...rotationRunFor(loadRotationConfig(env), undefined, deps(), { dryRun: false }),
          nowMs: Date.now(),
        });
        log(`rotateTokens: ${outcomes.map((o) => `${o.secretName ?? o.tokenId}: ${o.result}`).join('; ')}`);
      },
    },
    nightlyPurge: {
      // Locally the purge deletes from the developer's registry only when asked: by this setting, or POST /api/purge.
      check: () => {
        if (!env.ACR_GUARD_PURGE_SCHEDULE?.trim())
          throw new GuardError(
            ErrorCodes.INVALID_CONFIG,
            'ACR_GUARD_PURGE_SCHEDULE is not set; locally retention runs on a push, from the page or POST /api/purge',
            { field: 'ACR_GUARD_PURGE_SCHEDULE' },
          );
        if (!extra.purge)
          throw new GuardError(ErrorCodes.INVALID_CONFIG, 'this service has no purge runner', {
            field: 'ACR_GUARD_PURGE_SCHEDULE',
          });
      },
      run: async () => log(`nightlyPurge: ${await (extra.purge as () => Promise<string>)()}`),
    },
  };
  const timers: LocalTimer[] = [];
  for (const entry of TIMERS) {
    if (!servedBy(entry.hosts, 'local')) continue;
    const c = { name: entry.name, setting: entry.scheduleSetting, ...jobs[entry.name as TimerName<'local'>] };
    try {
      c.check();
    } catch (err) {
      log(`timer ${c.name}: skipped (not configured: ${isGuardError(err) ? err.message : 'settings missing'})`);
      continue;
    }
    const schedule = parseCron(timerSchedule(env, c.setting), c.setting);
    timers.push({ name: c.name, schedule, run: c.run });
    log(`timer ${c.name}: on schedule "${schedule.text}"`);
  }
  return timers;
}

/** Starts the configured timers; each fires on the whole seconds its schedule matches (UTC). */
export function startLocalTimers(
  env: Record<string, string | undefined>,
  deps: () => TimerDeps,
  log: (line: string) => void,
  extra: LocalTimerJobs = {},
): LocalTimers {
  const timers = configuredTimers(env, deps, log, extra);
  const busy = new Set<string>();
  let lastSecond = -1;
  const tick = setInterval(() => {
    const now = new Date();
    const second = Math.floor(now.getTime() / 1000);
    if (second === lastSecond) return;
    lastSecond = second;
    for (const timer of timers) {
      if (!cronMatches(timer.schedule, now) || busy.has(timer.name)) continue;
      busy.add(timer.name);
      timer
        .run()
        .catch((err: unknown) =>
          log(
            `timer ${timer.name} failed: ${isGuardError(err) ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err)}`,
          ),
        )
        .finally(() => busy.delete(timer.name));
    }
  }, 250);
  tick.unref();
  return { names: timers.map((t) => t.name), stop: () => clearInterval(tick) };
}
