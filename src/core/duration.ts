/**
 * Durations as written in the policy and on the command line: `30s`, `15m`, `12h`, `7d`, `2w`, or
 * combined from the largest unit down, like `1d12h` or `1h30m`.
 */
import { invalidInput } from './errors';

const UNIT_MS = { w: 604_800_000, d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000, ms: 1 } as const;
type Unit = keyof typeof UNIT_MS;
/** Units from largest to smallest: a combined duration must use them in this order, each at most once. */
const UNIT_ORDER: readonly Unit[] = ['w', 'd', 'h', 'm', 's', 'ms'];

/** Longest duration accepted anywhere: ten years. Anything longer is a typo, not a policy. */
export const MAX_DURATION_MS = 3653 * UNIT_MS.d;

const FORM =
  'a duration like 30s, 15m, 12h, 7d, 2w or 1d12h (units w, d, h, m, s, ms, largest first, at most 10 years)';
const PART_RE = /([0-9]+)(ms|w|d|h|m|s)/y;

/**
 * Parses a duration into milliseconds. Rejects empty text, negative or fractional numbers, unknown or
 * repeated units, units out of order, and values over {@link MAX_DURATION_MS}. Zero (`0s`) is allowed;
 * callers that need a positive value check that themselves. Throws `INVALID_INPUT` naming `field`.
 */
export function parseDuration(text: string, field: string): number {
  if (typeof text !== 'string' || text.length === 0 || text.length > 64) throw invalidInput(field, FORM, text);
  let total = 0;
  let position = 0;
  let lastUnit = -1;
  PART_RE.lastIndex = 0;
  while (position < text.length) {
    PART_RE.lastIndex = position;
    const match = PART_RE.exec(text);
    if (!match) throw invalidInput(field, FORM, text);
    const [whole, digits, unit] = match;
    const order = UNIT_ORDER.indexOf(unit as Unit);
    if (order <= lastUnit || digits.length > 12) throw invalidInput(field, FORM, text);
    lastUnit = order;
    total += Number(digits) * UNIT_MS[unit as Unit];
    if (total > MAX_DURATION_MS) throw invalidInput(field, FORM, text);
    position += whole.length;
  }
  return total;
}

/**
 * Formats milliseconds the way {@link parseDuration} reads them, largest unit first without weeks:
 * `7d`, `1d12h`, `90000` ms -> `1m30s`, `0` -> `0s`. Negative or non-finite input is formatted as `0s`.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return '0s';
  let rest = Math.round(ms);
  let out = '';
  for (const unit of ['d', 'h', 'm', 's', 'ms'] as const) {
    const n = Math.floor(rest / UNIT_MS[unit]);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * UNIT_MS[unit];
    }
  }
  return out || '0s';
}

/**
 * Milliseconds as a person reads them, rounded to the precision that matters at that size: `3 days` (2 days
 * and more, to the day), `1 day 5 h`, `2 h 59 min`, `12 min`, `4 min 30 s`, `45 s`, `under 1 s`. For display
 * only (reasons, tables): {@link formatDuration} is the exact form {@link parseDuration} reads back.
 */
export function humanDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return '0 s';
  if (ms < 500) return 'under 1 s';
  const round = (unit: number): number => Math.round(ms / unit) * unit;
  const days = (n: number): string => `${n} day${n === 1 ? '' : 's'}`;
  if (ms >= 2 * UNIT_MS.d - UNIT_MS.h / 2) return days(Math.round(ms / UNIT_MS.d));
  if (ms >= UNIT_MS.d - UNIT_MS.m / 2) {
    const t = round(UNIT_MS.h);
    const h = (t % UNIT_MS.d) / UNIT_MS.h;
    return h === 0 ? days(t / UNIT_MS.d) : `${days(Math.floor(t / UNIT_MS.d))} ${h} h`;
  }
  if (ms >= UNIT_MS.h - UNIT_MS.s / 2) {
    const t = round(UNIT_MS.m);
    const m = (t % UNIT_MS.h) / UNIT_MS.m;
    return m === 0 ? `${t / UNIT_MS.h} h` : `${Math.floor(t / UNIT_MS.h)} h ${m} min`;
  }
  if (ms >= 10 * UNIT_MS.m - UNIT_MS.s / 2) return `${Math.round(ms / UNIT_MS.m)} min`;
  const t = round(UNIT_MS.s);
  if (t >= UNIT_MS.m) {
    const s = (t % UNIT_MS.m) / UNIT_MS.s;
    return s === 0 ? `${t / UNIT_MS.m} min` : `${Math.floor(t / UNIT_MS.m)} min ${s} s`;
  }
  return `${t / UNIT_MS.s} s`;
}
