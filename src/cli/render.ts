/**
 * Human and JSON renderings of verdicts for the CLI and the demo.
 */
import { formatImage } from '../core/reference';
import { isScanCheck, scanCheckSource, type ApplyResult, type Check, type Verdict } from '../core/types';
import type { ResultCheck } from '../core/result';
import { PLAIN, colorsOf, plural, renderTable, statusWord, type Terminal } from './term';

/**
 * The CLI's JSON shape: the image by digest, the decision and every check with its structured `details` (and a scan
 * check's `source`).
 */
export function verdictJson(verdict: Verdict): Record<string, unknown> {
  return {
    image: formatImage(verdict.image),
    tag: verdict.tag,
    decision: verdict.decision,
    summary: verdict.summary,
    rule: verdict.rule,
    policy: verdict.policy,
    decidedAt: verdict.decidedAt,
    findingCounts: verdict.findingCounts,
    ...(verdict.findingsOmitted ? { findingsOmitted: verdict.findingsOmitted } : {}),
    checks: verdict.checks.map((c: Check) => ({
      name: c.name,
      // Derived for verdicts recorded before scan checks carried their source.
      ...(isScanCheck(c) ? { source: scanCheckSource(c) } : {}),
      status: c.status,
      reason: c.reason,
      ...(c.manifest ? { manifest: c.manifest } : {}),
      ...(c.details ? { details: c.details } : {}),
    })),
  };
}

/** What applying the verdict did, in words ("released", "promoted to release/x", "kept in quarantine", …). */
export function appliedText(verdict: Verdict, apply?: ApplyResult): string {
  if (!apply) return '-';
  if (!apply.ok) return `failed: ${apply.detail}`;
  const released = verdict.decision === 'release';
  switch (apply.mode) {
    case 'dry-run':
      return 'nothing (dry run)';
    case 'quarantine':
      return released ? 'released' : 'kept in quarantine';
    case 'promote': {
      if (!released) return 'not promoted';
      // "promoted to <repository>@<digest>…": the repository is what a person looks for.
      const target = /^promoted to ([^@\s]+)/.exec(apply.detail)?.[1];
      return target ? `promoted to ${target}` : 'promoted';
    }
    case 'none':
      return 'recorded only';
  }
  return apply.mode;
}

/** Options of {@link renderVerdictTable}. */
export interface VerdictTableOptions {
  /** Every non-passing check under its image. */
  details?: boolean;
  /** With details: print a reason shared by several images under each of them (default: once, as a note). */
  verbose?: boolean;
  /** Colour and width (default: plain, as piped). */
  term?: Terminal;
}

/**
 * The verdicts: one row per image (IMAGE, DECISION, APPLIED, SUMMARY), fitted to a terminal or aligned when piped,
 * and with `details` every non-passing check under its image. A reason several images share (the "signatures
 * not verified" explanation under every image of the demo) is printed once as a note unless `verbose`.
 */
export function renderVerdictTable(
  rows: Array<{ label?: string; verdict: Verdict; apply?: ApplyResult }>,
  options: VerdictTableOptions = {},
): string {
  const term = options.term ?? PLAIN;
  const c = colorsOf(term);
  const labels = rows.map(
    ({ label, verdict }) =>
      label ??
      `${verdict.image.repository}${verdict.tag ? `:${verdict.tag}` : ''}@${verdict.image.digest.slice(0, 19)}`,
  );
  const decision = (v: Verdict) =>
    v.decision === 'release' ? c.green(v.decision.toUpperCase()) : c.red(c.bold(v.decision.toUpperCase()));
  const table = renderTable(
    ['IMAGE', 'DECISION', 'APPLIED', 'SUMMARY'],
    rows.map(({ verdict, apply }, r) => [labels[r], decision(verdict), appliedText(verdict, apply), verdict.summary]),
    term,
    { shrinkFirst: [3, 2] },
  );
  if (!options.details) return table;
  // Reasons shared by more than one image: said once, numbered.
  // A multi-platform image's reasons start "platform linux/amd64 (sha256:…): ": the rest is what repeats.
  const split = (reason: string): [string, string] => {
    const m = /^(platform [^\s]+ \(sha256:[0-9a-f]+\): )/.exec(reason);
    return m ? [m[1], reason.slice(m[1].length)] : ['', reason];
  };
  const seen = new Map<string, number>();
  for (const { verdict } of rows)
    for (const reason of new Set(verdict.checks.filter((k) => k.status !== 'pass').map((k) => split(k.reason)[1])))
      seen.set(reason, (seen.get(reason) ?? 0) + 1);
  const notes = options.verbose || rows.length < 2 ? [] : [...seen].filter(([, n]) => n > 1).map(([r]) => r);
  const status = (st: Check['status']) => statusWord(st, term);
  const lines: string[] = [table];
  rows.forEach(({ verdict }, r) => {
    const failing = verdict.checks.filter((k) => k.status !== 'pass');
    if (failing.length === 0) return;
    const checkRows = failing.map((k) => {
      const [prefix, rest] = split(k.reason);
      const note = notes.indexOf(rest);
      return [
        status(k.status),
        `${k.name}${k.manifest ? ` [${k.manifest.slice(0, 19)}]` : ''}`,
        note >= 0 ? `${prefix}${c.dim(`see note ${note + 1}`)}` : k.reason,
      ];
    });
    if (term.columns)
      lines.push(
        '',
        c.bold(labels[r]),
        renderTable(['STATUS', 'CHECK', 'REASON'], checkRows, term, { shrinkFirst: [2] }),
      );
    else for (const [st, name, reason] of checkRows) lines.push(`    ${st.padEnd(12)} ${name}: ${reason}`);
  });
  if (notes.length > 0) {
    const noteRows = notes.map((n, i) => [`${i + 1}`, `${n} (${plural(seen.get(n) ?? 0, 'image')})`]);
    if (term.columns)
      lines.push('', renderTable(['NOTE', 'SHARED BY SEVERAL IMAGES'], noteRows, term, { shrinkFirst: [1] }));
    else lines.push('', ...noteRows.map(([i, n]) => `note ${i}: ${n}`));
    lines.push(c.dim('(-v prints each note under every image)'));
  }
  if (rows.length === 1) lines.push(`image: ${formatImage(rows[0].verdict.image)}`);
  return lines.join('\n');
}

/**
 * A result envelope's checks as every command without a table of its own prints them: STATUS (the envelope's
 * word, {@link statusWord}), CHECK, TARGET (only when a check has one) and REASON, fitted to a terminal or aligned
 * when piped. Empty string when there are no checks.
 */
export function renderChecks(checks: readonly ResultCheck[], term: Terminal = PLAIN): string {
  if (checks.length === 0) return '';
  const targeted = checks.some((k) => k.target !== undefined && k.target !== '');
  const head = targeted ? ['STATUS', 'CHECK', 'TARGET', 'REASON'] : ['STATUS', 'CHECK', 'REASON'];
  const rows = checks.map((k) =>
    targeted
      ? [statusWord(k.status, term), k.name, k.target ?? '', k.reason]
      : [statusWord(k.status, term), k.name, k.reason],
  );
  return renderTable(head, rows, term, { shrinkFirst: targeted ? [3, 2] : [2] });
}
