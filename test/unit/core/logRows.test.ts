/**
 * The rows acr-guard sends to Log Analytics are bounded whatever the records hold: fast-check properties (fixed
 * seed, test/support/fastCheckSeed.ts) over verdicts whose texts come from pushed reports (finding ids, package
 * names, versions) and runtime reports, with huge, control-character and lone-surrogate strings. A row never
 * reaches MAX_LOG_ROW_BYTES, so no pusher can get a verdict dropped from the dashboards by padding a report.
 */
import fc from 'fast-check';
import {
  LOG_COLUMNS,
  MAX_LOG_LIST,
  MAX_LOG_ROW_BYTES,
  purgeRows,
  runtimeRows,
  verdictRow,
} from '../../../src/core/logRows';
import type { CheckName, Verdict } from '../../../src/core/types';

/** Hostile texts: long runs of 3-byte characters, control characters (6 bytes each as \u escapes), lone surrogates, quotes. */
const hostile = fc.oneof(
  fc.string({ maxLength: 50 }),
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.tuple(fc.constantFrom('€', '\u0000', '\ud800', '"', '\\', '😀', 'a'), fc.nat(40_000)).map(([c, n]) => c.repeat(n)),
);

const finding = fc.record({
  id: hostile,
  severity: hostile,
  package: hostile,
  installedVersion: hostile,
  fixedVersion: hostile,
  sources: fc.constant(['reports']),
});

const verdict = fc
  .record({
    repository: hostile,
    tag: hostile,
    summary: hostile,
    rule: hostile,
    checkNames: fc.array(hostile, { maxLength: 80 }),
    blocking: fc.array(finding, { maxLength: 120 }),
    manifest: hostile,
  })
  .map(
    (r): Verdict => ({
      image: { registry: 'contosoacrprod.azurecr.io', repository: r.repository, digest: `sha256:${'a'.repeat(64)}` },
      tag: r.tag,
      decision: 'block',
      summary: r.summary,
      checks: [
        // A record read back may hold any name (one a later version wrote): the bound must not rely on the union.
        ...r.checkNames.map((name) => ({ name: name as CheckName, status: 'fail' as const, reason: 'x' })),
        {
          name: 'vulnerabilities',
          status: 'fail',
          reason: 'x',
          manifest: r.manifest,
          details: { blocking: r.blocking },
        },
        { name: 'vulnerabilities', status: 'fail', reason: 'x', details: { blocking: r.blocking } },
      ],
      findingCounts: { critical: r.blocking.length },
      rule: r.rule,
      policy: { version: 1, hash: 'sha256:1' },
      decidedAt: '2026-12-07T10:00:00.000Z',
    }),
  );

const bytes = (row: unknown): number => Buffer.byteLength(JSON.stringify(row), 'utf8');

describe('log rows are bounded whatever the record holds', () => {
  it('a verdict row stays under MAX_LOG_ROW_BYTES, lists at most MAX_LOG_LIST findings, and has exactly its columns', () => {
    fc.assert(
      fc.property(verdict, (v) => {
        const row = verdictRow(v);
        expect(bytes(row)).toBeLessThan(MAX_LOG_ROW_BYTES);
        expect((row.BlockingFindings as unknown[]).length).toBeLessThanOrEqual(MAX_LOG_LIST);
        expect((row.FailedChecks as unknown[]).length).toBeLessThanOrEqual(MAX_LOG_LIST);
        expect(Object.keys(row).sort()).toEqual([...LOG_COLUMNS.verdicts].sort());
        // No control character and no lone surrogate survives into the row.
        expect(JSON.stringify(row)).not.toMatch(/\\u00[01][0-9a-f]|\\ud[89ab]/i);
      }),
      { numRuns: 60 },
    );
  });

  it('the worst case fits: every text and every list at its bound, in 3-byte characters', () => {
    const big = '€'.repeat(100_000);
    const worst: Verdict = {
      image: { registry: big, repository: big, digest: big },
      tag: big,
      decision: 'block',
      summary: big,
      checks: [
        ...Array.from({ length: 200 }, (_, i) => ({
          name: `${big}${i}` as CheckName,
          status: 'fail' as const,
          reason: big,
        })),
        {
          name: 'vulnerabilities',
          status: 'fail',
          reason: big,
          manifest: big,
          details: {
            blocking: Array.from({ length: 500 }, () => ({
              id: big,
              severity: big,
              package: big,
              installedVersion: big,
              fixedVersion: big,
            })),
          },
        },
      ],
      findingCounts: {},
      rule: big,
      policy: { version: 1, hash: big },
      decidedAt: '2026-12-07T10:00:00.000Z',
    };
    const size = bytes(verdictRow(worst));
    expect(size).toBeLessThan(MAX_LOG_ROW_BYTES);
    console.log(`worst-case verdict row: ${size} bytes (bound ${MAX_LOG_ROW_BYTES})`);
  });

  it('runtime and purge rows stay under the bound too', () => {
    fc.assert(
      fc.property(hostile, fc.array(hostile, { maxLength: 120 }), (s, workloads) => {
        const [row] = runtimeRows({
          generatedAt: '2026-12-07T10:00:00.000Z',
          policyHash: s,
          inventory: 'azure',
          images: [
            {
              image: s,
              digest: s,
              byTag: true,
              workloads,
              status: 'overdue',
              reason: s,
              graceUntil: '2026-12-08T00:00:00.000Z',
            },
          ],
          summary: {
            released: 0,
            blocked: 0,
            overdue: 1,
            'never-gated': 0,
            'outside-allowlist': 0,
            'allowed-external': 0,
            'by-tag': 0,
            unresolved: 0,
          },
          regated: [],
          regatesLeft: 0,
        });
        expect(bytes(row)).toBeLessThan(MAX_LOG_ROW_BYTES);
        expect((row.Workloads as unknown[]).length).toBeLessThanOrEqual(MAX_LOG_LIST);
        const [purge] = purgeRows({
          registry: 'r',
          trigger: 'timer',
          dryRun: false,
          startedAt: 'a',
          finishedAt: 'b',
          repositories: 1,
          deleted: 0,
          alreadyGone: 0,
          failed: 0,
          bytesFreed: 0,
          sizeUnknown: 0,
          keptByReason: {},
          errors: [],
          outcomes: [
            {
              repository: s,
              rule: s,
              status: 'failed',
              deleted: 0,
              alreadyGone: 0,
              failed: 0,
              notAttempted: 0,
              bytesFreed: 0,
              sizeUnknown: 0,
              keptByReason: {},
              error: { code: 'TRANSIENT', detail: s },
            },
          ],
        });
        expect(bytes(purge)).toBeLessThan(MAX_LOG_ROW_BYTES);
      }),
      { numRuns: 60 },
    );
  });
});
