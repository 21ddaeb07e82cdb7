/**
 * Six-field NCRONTAB schedules (`second minute hour day month day-of-week`), as the Functions timer trigger
 * reads them, for the local service's timers. Numbers, `*`, ranges `a-b`, lists `a,b` and steps `*\/n`,
 * `a-b/n` are understood; names (`Mon`, `Jan`) are not and are refused with `INVALID_INPUT`.
 */
import { invalidInput } from './errors';

/** A parsed schedule: the allowed values of each field. */
export interface CronSchedule {
  readonly text: string;
  readonly fields: readonly ReadonlySet<number>[];
}

const RANGES: ReadonlyArray<readonly [number, number]> = [
  [0, 59], // second
  [0, 59], // minute
  [0, 23], // hour
  [1, 31], // day of month
  [1, 12], // month
  [0, 6], // day of week (0 = Sunday; 7 is also Sunday)
];

function parseField(text: string, index: number, whole: string, field: string): Set<number> {
  const [min, max] = RANGES[index];
  const top = index === 5 ? 7 : max;
  const values = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
    if (!m)
      throw invalidInput(
        field,
        'a six-field NCRONTAB expression of numbers, *, a-b, a,b and /n (no names), e.g. "0 */5 * * * *"',
        whole,
      );
    const from = m[1] === '*' ? min : Number(m[2]);
    const to = m[1] === '*' ? max : m[3] !== undefined ? Number(m[3]) : m[4] !== undefined ? top : from;
    const step = m[4] !== undefined ? Number(m[4]) : 1;
    if (from < min || to > top || from > to || step < 1)
      throw invalidInput(field, `values ${min}-${top} in field ${index + 1} of the NCRONTAB expression`, whole);
    for (let v = from; v <= to; v += step) values.add(index === 5 && v === 7 ? 0 : v);
  }
  return values;
}

/** Parses a six-field NCRONTAB expression; throws `INVALID_INPUT` naming `field`. */
export function parseCron(text: string, field = 'schedule'): CronSchedule {
  const parts = text.trim().split(/\s+/);
  if (parts.length !== 6)
    throw invalidInput(field, 'a six-field NCRONTAB expression (second minute hour day month day-of-week)', text);
  return { text, fields: parts.map((p, i) => parseField(p, i, text, field)) };
}

/** True when `time` (UTC, whole second) is on the schedule. */
export function cronMatches(schedule: CronSchedule, time: Date): boolean {
  const values = [
    time.getUTCSeconds(),
    time.getUTCMinutes(),
    time.getUTCHours(),
    time.getUTCDate(),
    time.getUTCMonth() + 1,
    time.getUTCDay(),
  ];
  return values.every((v, i) => schedule.fields[i].has(v));
}
