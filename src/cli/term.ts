/**
 * The terminal: colour where stdout is a terminal (picocolors; `NO_COLOR` turns it off, `FORCE_COLOR` on), tables
 * that fit its width and wrap long cells (cli-table3), and a plain aligned layout when piped.
 */
import Table from 'cli-table3';
import { createColors } from 'picocolors';
export { plural } from '../core/plural';

/** What the human output may use: colour, and the width to fit (absent: not a terminal, no width to fit). */
export interface Terminal {
  color: boolean;
  columns?: number;
}

/** Piped or captured output: no colour, no width. */
export const PLAIN: Terminal = { color: false };

/**
 * The terminal behind `stream`: colour when it is a TTY (and TERM is not `dumb`), unless `NO_COLOR` is set to
 * anything non-empty (no-color.org); `FORCE_COLOR` (not `0`/`false`) forces it on, also when piped.
 */
export function terminalOf(
  stream: { isTTY?: boolean; columns?: number },
  env: Record<string, string | undefined> = process.env,
): Terminal {
  const tty = stream.isTTY === true;
  const force = env.FORCE_COLOR !== undefined && !['0', 'false'].includes(env.FORCE_COLOR);
  const color = env.NO_COLOR ? false : force || (tty && env.TERM !== 'dumb');
  return tty && stream.columns ? { color, columns: stream.columns } : { color };
}

/** The colour functions for a terminal (identity functions without colour). */
export function colorsOf(term: Terminal): ReturnType<typeof createColors> {
  return createColors(term.color);
}

/**
 * A check's status as every command prints it: the envelope's word (`pass`, `fail`, `skip`, `inconclusive`,
 * docs/cli.md) in upper case, coloured on a terminal (fail red, inconclusive yellow, pass green, skip dim).
 */
export function statusWord(status: 'pass' | 'fail' | 'skip' | 'inconclusive', term: Terminal): string {
  const c = colorsOf(term);
  const word = status.toUpperCase();
  return status === 'fail'
    ? c.red(word)
    : status === 'inconclusive'
      ? c.yellow(word)
      : status === 'pass'
        ? c.green(word)
        : c.dim(word);
}

/** Printable length: ANSI colour codes do not take columns. */
function visibleLength(text: string): number {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;]*m/g, '').length;
}

/**
 * A table: on a terminal, fitted to its width with long cells wrapped (the widest columns give way first); piped,
 * columns aligned with two spaces and the last column never padded (nothing is cut: scripts and logs keep it all).
 */
export function renderTable(
  head: string[],
  rows: string[][],
  term: Terminal,
  options: { shrinkFirst?: number[] } = {},
): string {
  const c = colorsOf(term);
  if (!term.columns) {
    const widths = head.map((h, i) =>
      Math.max(visibleLength(h), ...rows.map((r) => Math.min(visibleLength(r[i] ?? ''), 80))),
    );
    const line = (cells: string[]) =>
      cells
        .map((cell, i) =>
          i === cells.length - 1 ? cell : cell + ' '.repeat(Math.max(0, widths[i] - visibleLength(cell))),
        )
        .join('  ')
        .trimEnd();
    return [line(head.map((h) => c.bold(h))), ...rows.map(line)].join('\n');
  }
  // Natural widths (+2 for the cell padding), then shrink the widest until the row fits (one column of borders each).
  const natural = head.map(
    (h, i) => Math.max(visibleLength(h), ...rows.flatMap((r) => (r[i] ?? '').split('\n').map(visibleLength))) + 2,
  );
  const budget = term.columns - (head.length + 1);
  const widths = [...natural];
  const minWidth = 6;
  // The free-text columns (`shrinkFirst`) give way first, down to a third of the width; then the widest of all.
  const floor = Math.max(minWidth, Math.floor(budget / 3));
  const shrinkable = (i: number, min: number) => widths[i] > min;
  while (widths.reduce((a, b) => a + b, 0) > budget) {
    const first = (options.shrinkFirst ?? []).filter((i) => shrinkable(i, floor));
    const pool = first.length > 0 ? first : widths.map((_, i) => i).filter((i) => shrinkable(i, minWidth));
    if (pool.length === 0) break;
    const widest = pool.reduce((a, b) => (widths[b] > widths[a] ? b : a));
    widths[widest] -= 1;
  }
  const table = new Table({
    head: head.map((h) => c.bold(h)),
    colWidths: widths,
    wordWrap: true,
    wrapOnWordBoundary: true,
    style: { head: [], border: term.color ? ['grey'] : [], 'padding-left': 1, 'padding-right': 1 },
  });
  for (const r of rows) table.push(r);
  return table.toString();
}
