/**
 * Properties of the reports merge (issue 17 case 3): every fresh report counts, the worst wins. Whatever reports a
 * pusher adds (newer, cleaner, of the same format), the merged result never loses a finding's severity, and every
 * report that is not the newest of its format is named as superseded with what it still contributes.
 */
import fc from 'fast-check';
import { worstOfAll, type UsableReport } from '../../../src/adapters/reportsSource';
import { SEVERITY_RANK } from '../../../src/core/severity';
import { SEVERITIES, type Finding, type Severity } from '../../../src/core/types';

const severity = fc.constantFrom<Severity>(...SEVERITIES);
const report = (i: number) =>
  fc
    .record({
      format: fc.constantFrom<'sarif' | 'cyclonedx'>('sarif', 'cyclonedx'),
      createdMs: fc.integer({ min: 1_700_000_000_000, max: 1_700_000_100_000 }),
      findings: fc.array(fc.record({ id: fc.constantFrom('CVE-1', 'CVE-2', 'CVE-3'), severity }), { maxLength: 4 }),
    })
    .map(({ format, createdMs, findings }): UsableReport => {
      const digest = `sha256:${i.toString(16).padStart(64, '0')}`;
      const fs: Finding[] = findings.map((f) => ({ ...f, package: 'p', source: `${format}:${digest}` }));
      const bySeverity: Partial<Record<Severity, number>> = {};
      for (const f of fs) bySeverity[f.severity] = (bySeverity[f.severity] ?? 0) + 1;
      return {
        digest,
        format,
        createdMs,
        createdAt: new Date(createdMs).toISOString(),
        findings: fs,
        tally: { total: fs.length, bySeverity, fixableBySeverity: {}, omitted: 0 },
      };
    });
const reports = fc
  .integer({ min: 1, max: 8 })
  .chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => report(i + 1))));
const worst = (fs: readonly Finding[]) => Math.max(-1, ...fs.map((f) => SEVERITY_RANK[f.severity]));

describe('worstOfAll', () => {
  it('the merged worst severity is the worst of every report, and adding reports never lowers it', () => {
    fc.assert(
      fc.property(reports, (list) => {
        const { merged } = worstOfAll(list);
        expect(worst(merged.findings)).toBe(Math.max(-1, ...list.map((r) => worst(r.findings))));
        for (let k = 1; k < list.length; k++)
          expect(worst(worstOfAll(list.slice(0, k)).merged.findings)).toBeLessThanOrEqual(worst(merged.findings));
      }),
      { numRuns: 300 },
    );
  });

  it('every report is named; each one not the newest of its format is named as superseded', () => {
    fc.assert(
      fc.property(reports, (list) => {
        const { detail } = worstOfAll(list);
        for (const r of list) expect(detail).toContain(`${r.format} report ${r.digest}`);
        const formats = new Set(list.map((r) => r.format));
        const superseded = (detail.match(/superseded by the newer/g) ?? []).length;
        expect(superseded).toBe(list.length - formats.size);
      }),
      { numRuns: 300 },
    );
  });
});
