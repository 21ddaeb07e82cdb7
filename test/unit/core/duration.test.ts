import { formatDuration, MAX_DURATION_MS, parseDuration } from '../../../src/core/duration';
import { GuardError } from '../../../src/core/errors';

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

describe('parseDuration', () => {
  it.each<[string, number]>([
    ['30s', 30 * S],
    ['15m', 15 * M],
    ['12h', 12 * H],
    ['7d', 7 * D],
    ['2w', 14 * D],
    ['1d12h', D + 12 * H],
    ['1h30m', H + 30 * M],
    ['1w1d1h1m1s', 8 * D + H + M + S],
    ['1m500ms', M + 500],
    ['0s', 0],
    ['3653d', MAX_DURATION_MS],
  ])('parses %s', (text, ms) => {
    expect(parseDuration(text, 'x')).toBe(ms);
  });

  it.each([
    ['empty', ''],
    ['negative', '-5m'],
    ['no unit', '30'],
    ['unknown unit', '3y'],
    ['fraction', '1.5h'],
    ['space', '1h 30m'],
    ['upper case', '7D'],
    ['units out of order', '30m1h'],
    ['repeated unit', '1h1h'],
    ['over ten years', '3654d'],
    ['absurd', '99999999999999w'],
    ['number type', 30],
    ['leading garbage', 'x1h'],
    ['trailing garbage', '1hx'],
    ['huge', '1s'.repeat(1000)],
  ])('rejects %s', (_w, text) => {
    try {
      parseDuration(text as string, 'gate[0].vulnerabilities.scanDeadline');
      throw new Error('expected an error');
    } catch (err) {
      expect(err).toBeInstanceOf(GuardError);
      expect((err as GuardError).code).toBe('INVALID_INPUT');
      expect((err as GuardError).field).toBe('gate[0].vulnerabilities.scanDeadline');
      expect((err as GuardError).message).toContain('a duration like 30s, 15m');
    }
  });
});

describe('formatDuration', () => {
  it.each<[number, string]>([
    [0, '0s'],
    [-5, '0s'],
    [Number.NaN, '0s'],
    [30 * S, '30s'],
    [90 * S, '1m30s'],
    [7 * D, '7d'],
    [D + 12 * H, '1d12h'],
    [1500, '1s500ms'],
  ])('formats %d as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('round-trips through parseDuration', () => {
    for (const ms of [1, 999, S, 61 * S, 3 * H + 7 * S, 13 * D + 23 * H + 59 * M + 59 * S + 999]) {
      expect(parseDuration(formatDuration(ms), 'x')).toBe(ms);
    }
  });
});
