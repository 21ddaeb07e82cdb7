/**
 * Six-field NCRONTAB schedules (`second minute hour day month day-of-week`), as the Functions timer trigger
 * reads them, for the local service's timers. Parsing and matching are croner's (a well-kept cron library),
 * set to NCRONTAB's rules: exactly six fields, names (`Mon-Fri`, `Jan`) understood, and a day that must match
 * both the day-of-month and the day-of-week fields when both are restricted (NCrontab's AND, not Vixie cron's
 * OR). croner's extensions that NCrontab refuses (`L`, `W`, `#`, `?`) are refused here too, so a schedule the
 * local service accepts is one Azure accepts.
 */
import { Cron } from 'croner';
import { invalidInput } from './errors';

/** A parsed schedule. */
export interface CronSchedule {
  readonly text: string;
  /** croner's job, paused: used only to match times. */
  readonly job: Cron;
}

const EXPECTED =
  'a six-field NCRONTAB expression (second minute hour day month day-of-week) of numbers or names, *, a-b, a,b and /n, e.g. "0 */5 * * * *" or "0 0 9 * * Mon-Fri"';

/** The only words NCRONTAB reads: three-letter day and month names, in any case. */
const NAMES = /^(sun|mon|tue|wed|thu|fri|sat|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)$/i;

/** Parses a six-field NCRONTAB expression; throws `INVALID_INPUT` naming `field`. */
export function parseCron(text: string, field = 'schedule'): CronSchedule {
  const parts = text.trim().split(/\s+/);
  if (
    parts.length !== 6 ||
    parts.some((p) => /[#?]/.test(p) || (p.match(/[a-z]+/gi) ?? []).some((w) => !NAMES.test(w)))
  )
    throw invalidInput(field, EXPECTED, text);
  try {
    const job = new Cron(parts.join(' '), { paused: true, mode: '6-part', domAndDow: true, timezone: 'Etc/UTC' });
    return { text, job };
  } catch (err) {
    throw invalidInput(field, `${EXPECTED} (${(err as Error).message})`, text);
  }
}

/** True when `time` (UTC, whole second) is on the schedule. */
export function cronMatches(schedule: CronSchedule, time: Date): boolean {
  return schedule.job.match(time);
}
