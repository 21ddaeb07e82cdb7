/**
 * Readable output (issue 21): human durations, plurals, the APPLIED words, cosign tags in the purge columns, when
 * colour is on, and tables that fit the width.
 */
import { humanDuration, formatDuration } from '../../../src/core/duration';
import { plural } from '../../../src/core/plural';
import { appliedText } from '../../../src/cli/render';
import { displayTag } from '../../../src/cli/purge';
import { regateSummary } from '../../../src/cli/runtime';
import { renderTable, terminalOf } from '../../../src/cli/term';
import type { ApplyResult, Verdict } from '../../../src/core/types';

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

describe('humanDuration', () => {
  it.each([
    [2 * D + 23 * H + 59 * M + 53 * S + 435, '3 days'], // the issue's `left: 2d23h59m53s435ms`
    [14 * D, '14 days'],
    [D + 5 * H + 10 * M, '1 day 5 h'],
    [D + 20 * M, '1 day'],
    [2 * H + 59 * M + 12 * S, '2 h 59 min'],
    [H + 59 * M + 40 * S, '2 h'],
    [12 * M + 20 * S, '12 min'],
    [4 * M + 30 * S, '4 min 30 s'],
    [45 * S + 200, '45 s'],
    [59.7 * S, '1 min'],
    [300, 'under 1 s'],
    [0, '0 s'],
    [-5, '0 s'],
    [Number.NaN, '0 s'],
  ])('%d ms -> %s', (ms, text) => {
    expect(humanDuration(ms)).toBe(text);
  });
  it('formatDuration stays the exact form the policy reads', () => {
    expect(formatDuration(2 * D + 23 * H)).toBe('2d23h');
  });
});

describe('plural', () => {
  it('1 blocking finding, 2 blocking findings, 0 checks, 1 repository', () => {
    expect(plural(1, 'blocking finding')).toBe('1 blocking finding');
    expect(plural(2, 'blocking finding')).toBe('2 blocking findings');
    expect(plural(0, 'check')).toBe('0 checks');
    expect(plural(1, 'repository', 'repositories')).toBe('1 repository');
    expect(plural(3, 'repository', 'repositories')).toBe('3 repositories');
  });
});

describe('APPLIED says what happened', () => {
  const verdict = (decision: 'release' | 'block') => ({ decision }) as Verdict;
  const apply = (a: Partial<ApplyResult>): ApplyResult =>
    ({ mode: 'promote', ok: true, detail: '', ...a }) as ApplyResult;
  it.each([
    ['release', apply({ detail: 'promoted to release/app/web@sha256:abc and :1.0' }), 'promoted to release/app/web'],
    ['block', apply({ detail: 'blocked: not promoted' }), 'not promoted'],
    ['release', apply({ mode: 'quarantine', detail: 'quarantineState=Passed' }), 'released'],
    ['block', apply({ mode: 'quarantine', detail: 'quarantineState=Quarantined' }), 'kept in quarantine'],
    ['release', apply({ mode: 'dry-run', detail: 'dry run (promote): would apply …' }), 'nothing (dry run)'],
    ['release', apply({ mode: 'none', detail: 'verdict recorded only' }), 'recorded only'],
    [
      'release',
      apply({ ok: false, detail: 'registry refused the copy (403)' }),
      'failed: registry refused the copy (403)',
    ],
  ] as const)('%s + %j -> %s', (decision, a, text) => {
    expect(appliedText(verdict(decision), a)).toBe(text);
  });
  it('no apply: a dash', () => {
    expect(appliedText(verdict('block'))).toBe('-');
  });
});

describe('purge columns', () => {
  it("shortens cosign's sha256-<hex>.sig tags, leaves other tags alone", () => {
    const hex = 'a'.repeat(12) + 'b'.repeat(52);
    expect(displayTag(`sha256-${hex}.sig`)).toBe('sha256-aaaaaaaaaaaa….sig');
    expect(displayTag(`sha256-${hex}`)).toBe('sha256-aaaaaaaaaaaa…');
    expect(displayTag('v1.2.3')).toBe('v1.2.3');
    expect(displayTag('sha256-short.sig')).toBe('sha256-short.sig');
  });
});

describe('runtime --regate summary', () => {
  it('names what was re-gated and the never-gated it skipped', () => {
    expect(regateSummary(1, 0)).toBe('re-gated 1 digest (stale or made under another policy version)');
    expect(regateSummary(0, 2)).toMatch(/^re-gated 0 digests .*; skipped 2 never-gated digests: .*gate them with/);
  });
});

describe('terminal', () => {
  it('colour on a TTY unless NO_COLOR; FORCE_COLOR forces it; TERM=dumb and pipes get none', () => {
    expect(terminalOf({ isTTY: true, columns: 100 }, {})).toEqual({ color: true, columns: 100 });
    expect(terminalOf({ isTTY: true, columns: 100 }, { NO_COLOR: '1' })).toEqual({ color: false, columns: 100 });
    expect(terminalOf({ isTTY: true, columns: 100 }, { NO_COLOR: '1', FORCE_COLOR: '1' }).color).toBe(false);
    expect(terminalOf({ isTTY: true, columns: 100 }, { TERM: 'dumb' }).color).toBe(false);
    expect(terminalOf({ isTTY: false }, {})).toEqual({ color: false });
    expect(terminalOf({ isTTY: false }, { FORCE_COLOR: '1' })).toEqual({ color: true });
    expect(terminalOf({ isTTY: false }, { FORCE_COLOR: '0' })).toEqual({ color: false });
  });

  it('a table fits the width and wraps long cells; piped it is aligned and not padded at the end', () => {
    const long = 'word '.repeat(60).trim();
    const rows = [
      ['app/web:1', 'BLOCK', long],
      ['app/api:2', 'RELEASE', 'short'],
    ];
    for (const columns of [40, 80, 160]) {
      const out = renderTable(['IMAGE', 'DECISION', 'SUMMARY'], rows, { color: false, columns }, { shrinkFirst: [2] });
      const lines = out.split('\n');
      expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(columns);
      expect(out.replace(/[│\s]+/g, ' ')).toContain('app/web:1');
    }
    const piped = renderTable(['IMAGE', 'DECISION', 'SUMMARY'], rows, { color: false });
    expect(piped.split('\n')).toEqual([
      'IMAGE      DECISION  SUMMARY',
      `app/web:1  BLOCK     ${long}`,
      'app/api:2  RELEASE   short',
    ]);
  });
});
