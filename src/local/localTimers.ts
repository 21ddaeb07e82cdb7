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
import { ErrorCodes, GuardError, isGuardError, messageOf } from '../core/errors';
import { MemoryAlertStateStore } from '../adapters/alertState';
import { alertRunFor, rotationRunFor, type TimerDeps } from '../app/jobCompose';
import { runAlertRules } from '../jobs/alertRun';
import { rotateTokens } from '../jobs/tokenRotation';

interface LocalTimer {
  name: string;
  schedule: CronSchedule;
  /** One run, as of `nowMs` (the time it was fired for). */
  run: (nowMs: number) => Promise<void>;
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
  /**
   * Fires every timer whose schedule matches `at` (to the second, UTC) and is not still running, as of `at`;
   * resolves to the names started once their runs have finished (a failed run is logged, not thrown). The wall
   * clock calls it each new second; with `clock: 'manual'` only its caller does (tests drive time with it).
   */
  fire(at: Date): Promise<string[]>;
  stop(): void;
}

/** Options of {@link startLocalTimers}. */
export interface LocalTimerOptions {
  /** `wall` (default): fire on the clock; `manual`: only through {@link LocalTimers.fire}. */
  clock?: 'wall' | 'manual';
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
  const jobs: Record<TimerName<'local'>, { check: () => unknown; run: (nowMs: number) => Promise<void> }> = {
    alertQueries: {
      check: () => loadAlertsConfig(env),
      run: async (nowMs) => {
        const report = await runAlertRules({
          ...alertRunFor(loadAlertsConfig(env), undefined, deps(), { dryRun: false }),
          state: alertState,
          nowMs,
        });
        const failed = report.rules.filter((r) => r.status !== 'ok').map((r) => r.rule);
        log(
          `alertQueries: ${report.rules.length} rule(s), ${report.rules.reduce((n, r) => n + r.alerted, 0)} alert(s) sent${failed.length ? `; not complete: ${failed.join(', ')}` : ''}`,
        );
      },
    },
    rotateTokens: {
      check: () => loadRotationConfig(env),
      run: async (nowMs) => {
        const outcomes = await rotateTokens({
          ...rotationRunFor(loadRotationConfig(env), undefined, deps(), { dryRun: false }),
          nowMs,
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
  options: LocalTimerOptions = {},
): LocalTimers {
  const timers = configuredTimers(env, deps, log, extra);
  const busy = new Set<string>();
  const fire = async (at: Date): Promise<string[]> => {
    // Which timers start is decided before the first await: a second call for the same time (or while a run
    // is still going) sees them busy and does not start them twice.
    const started = timers.filter((t) => cronMatches(t.schedule, at) && !busy.has(t.name));
    for (const t of started) busy.add(t.name);
    await Promise.all(
      started.map((timer) =>
        timer
          .run(at.getTime())
          .catch((err: unknown) =>
            log(`timer ${timer.name} failed: ${isGuardError(err) ? `${err.code}: ${err.message}` : messageOf(err)}`),
          )
          .finally(() => busy.delete(timer.name)),
      ),
    );
    return started.map((t) => t.name);
  };
  if (options.clock === 'manual') return { names: timers.map((t) => t.name), fire, stop: () => undefined };
  let lastSecond = -1;
  const tick = setInterval(() => {
    const now = new Date();
    const second = Math.floor(now.getTime() / 1000);
    if (second === lastSecond) return;
    lastSecond = second;
    void fire(now);
  }, 250);
  tick.unref();
  return { names: timers.map((t) => t.name), fire, stop: () => clearInterval(tick) };
}
