/**
 * Human and JSON renderings of verdicts for the CLI and the demo.
 */
import { formatImage } from '../core/reference';
import type { ApplyResult, Check, Verdict } from '../core/types';

/** The CLI's JSON shape: the image by digest, the decision and every check with its structured `details`. */
export function verdictJson(verdict: Verdict, apply?: ApplyResult): Record<string, unknown> {
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
      status: c.status,
      reason: c.reason,
      ...(c.manifest ? { manifest: c.manifest } : {}),
      ...(c.details ? { details: c.details } : {}),
    })),
    apply,
  };
}

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + ' '.repeat(width - text.length);
}

/** A plain-text table: one row per image, and with `details` every non-passing check under it. */
export function renderVerdictTable(
  rows: Array<{ label?: string; verdict: Verdict; apply?: ApplyResult }>,
  options: { details?: boolean } = {},
): string {
  const lines: string[] = [];
  const head = ['IMAGE', 'DECISION', 'APPLIED', 'SUMMARY'];
  const cells = rows.map(({ label, verdict, apply }) => [
    label ?? `${verdict.image.repository}${verdict.tag ? `:${verdict.tag}` : ''}@${verdict.image.digest.slice(0, 19)}`,
    verdict.decision.toUpperCase(),
    apply ? `${apply.mode}${apply.ok ? '' : ' (FAILED)'}` : '-',
    verdict.summary,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => Math.min(c[i].length, i === 3 ? 200 : 60))));
  lines.push(head.map((h, i) => pad(h, widths[i])).join('  '));
  rows.forEach(({ verdict }, r) => {
    lines.push(cells[r].map((c, i) => pad(c, widths[i])).join('  '));
    if (options.details) {
      for (const check of verdict.checks) {
        if (check.status === 'pass') continue;
        lines.push(
          `    ${pad(check.status.toUpperCase(), 12)} ${check.name}${check.manifest ? ` [${check.manifest.slice(0, 19)}]` : ''}: ${check.reason}`,
        );
      }
    }
  });
  if (rows.length === 1 && options.details) lines.push(`image: ${formatImage(rows[0].verdict.image)}`);
  return lines.join('\n');
}
