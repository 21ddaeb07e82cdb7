/**
 * Issue 11, the report parser and the findings → verdict path under hostile and unusual input: per-report
 * entry bound, aggregation to the worst MAX_VERDICT_FINDINGS with counts, fail-closed decisions over findings
 * that were counted but not listed, BOM-Link refs, CycloneDX 1.7, several fixed versions, rating sources.
 * Property-based tests (fast-check) over SARIF and CycloneDX structures close the file.
 */
import fc from 'fast-check';
import { decide } from '../../../src/core/decision';
import { MAX_VERDICT_FINDINGS, summarizeFindings } from '../../../src/core/findingsSummary';
import { loadPolicy } from '../../../src/core/policy';
import {
  MAX_REPORT_FINDINGS,
  parseReport,
  ReportErrorCodes,
  type ParseReportInput,
  type ParsedReport,
} from '../../../src/core/reports';
import type { Finding, FindingsResult } from '../../../src/core/types';

const DIGEST = `sha256:${'5'.repeat(64)}`;
const REPORT = `sha256:${'e'.repeat(64)}`;
const NOW = Date.parse('2026-11-21T12:00:00Z');
const SARIF = 'application/sarif+json';
const CDX = 'application/vnd.cyclonedx+json';

function parse(doc: unknown, over: Partial<ParseReportInput> = {}): ParsedReport {
  const bytes = Buffer.isBuffer(doc) ? doc : Buffer.from(JSON.stringify(doc));
  return parseReport({
    mediaType: SARIF,
    bytes,
    imageDigest: DIGEST,
    reportDigest: REPORT,
    nowMs: NOW,
    maxAgeMs: 7 * 86_400_000,
    ...over,
  });
}

function ok(r: ParsedReport): Extract<ParsedReport, { ok: true }> {
  if (!r.ok) throw new Error(`expected ok, got ${r.code}: ${r.detail}`);
  return r;
}

function sarif(results: unknown[]): Record<string, unknown> {
  return {
    version: '2.1.0',
    runs: [
      {
        tool: { driver: { name: 'Trivy' } },
        invocations: [{ endTimeUtc: '2026-11-21T11:00:00Z' }],
        properties: { imageDigest: DIGEST },
        results,
      },
    ],
  };
}

function cdx(vulnerabilities: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    serialNumber: 'urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79',
    version: 1,
    metadata: { timestamp: '2026-11-21T11:00:00Z' },
    vulnerabilities,
    ...extra,
  };
}

const critical = (i: number) => ({ ruleId: `[CRITICAL] CVE-2024-${100000 + i}` });

function policy(vulns = '{ block: [critical, high], sources: [reports] }') {
  return loadPolicy(
    `version: 1\nregistries: [r.test]\ngate:\n  - scope: "**"\n    vulnerabilities: ${vulns}\n`,
    'test',
  );
}

function decideOver(result: FindingsResult, vulns?: string) {
  const p = policy(vulns);
  return decide({
    policy: p,
    rule: p.gate[0],
    image: { registry: 'r.test', repository: 'app', digest: DIGEST },
    sources: ['reports'],
    manifests: [{ digest: DIGEST, findings: [result], signatures: { status: 'skipped', reason: '-', signatures: [] } }],
    deadlinePassed: false,
    now: new Date(NOW),
  });
}

describe('report bounds and aggregation', () => {
  it(`accepts ${MAX_REPORT_FINDINGS} SARIF results and refuses one more, unread, as REPORT_TOO_MANY_FINDINGS`, () => {
    const at = ok(parse(sarif(Array.from({ length: MAX_REPORT_FINDINGS }, (_, i) => critical(i)))));
    expect(at.findings).toHaveLength(MAX_VERDICT_FINDINGS);
    expect(at.tally).toEqual({
      total: MAX_REPORT_FINDINGS,
      bySeverity: { critical: MAX_REPORT_FINDINGS },
      fixableBySeverity: {},
      omitted: MAX_REPORT_FINDINGS - MAX_VERDICT_FINDINGS,
    });
    // One over, and the extra result is not even a valid object: the count is checked before any is read.
    const over = parse(sarif([...Array.from({ length: MAX_REPORT_FINDINGS }, (_, i) => critical(i)), 42]));
    expect(over).toMatchObject({ ok: false, code: ReportErrorCodes.REPORT_TOO_MANY_FINDINGS });
  });

  it('counts CycloneDX entries as vulnerability × affected package', () => {
    const affects = Array.from({ length: 1000 }, (_, i) => ({ ref: `pkg:npm/p${i}@1.0.0` }));
    const vulns = Array.from({ length: MAX_REPORT_FINDINGS / 1000 + 1 }, (_, i) => ({
      id: `CVE-2024-${1000 + i}`,
      ratings: [{ severity: 'high' }],
      affects,
    }));
    expect(parse(cdx(vulns), { mediaType: CDX })).toMatchObject({
      ok: false,
      code: ReportErrorCodes.REPORT_TOO_MANY_FINDINGS,
      detail: expect.stringContaining('$.vulnerabilities'),
    });
  });

  it('merges duplicates while reading: 40,000 copies of one finding are one finding', () => {
    const r = ok(parse(sarif(Array.from({ length: 40_000 }, () => critical(1)))));
    expect(r.findings).toHaveLength(1);
    expect(r.tally).toMatchObject({ total: 1, omitted: 0 });
  });

  it('keeps the worst: severity first, then findings with a fix', () => {
    const findings: Finding[] = [
      ...Array.from({ length: 150 }, (_, i): Finding => ({ id: `CVE-1-${i}`, severity: 'low', source: 's' })),
      { id: 'CVE-9', severity: 'critical', source: 's' },
      { id: 'CVE-8', severity: 'high', source: 's', fixedVersion: '2' },
      { id: 'CVE-7', severity: 'high', source: 's' },
    ];
    const s = summarizeFindings(findings);
    expect(s.findings.slice(0, 3).map((f) => f.id)).toEqual(['CVE-9', 'CVE-8', 'CVE-7']);
    expect(s.tally).toEqual({
      total: 153,
      bySeverity: { low: 150, critical: 1, high: 2 },
      fixableBySeverity: { high: 1 },
      omitted: 53,
    });
  });
});

describe('decide over bounded findings', () => {
  const many = Array.from(
    { length: 300_000 },
    (_, i): Finding => ({ id: `CVE-2024-${i}`, severity: 'critical', source: 'sarif:x' }),
  );

  it('decides over 300,000 findings handed in whole, without overflowing the stack', () => {
    const v = decideOver({ source: 'reports', status: 'ready', findings: many, detail: 'whole list' });
    expect(v.decision).toBe('block');
    expect(v.findingCounts).toEqual({ critical: 300_000 });
  });

  it('blocks on findings of a blocking severity that were counted but not listed: fail without exceptions', () => {
    const s = summarizeFindings(
      [...Array.from({ length: 200 }, (_, i): Finding => ({ id: `CVE-2000-${i}`, severity: 'medium', source: 'x' }))],
      100,
    );
    // A list that shows only mediums, with 5 unlisted highs (as a source could send).
    const tally = {
      ...s.tally,
      total: s.tally.total + 5,
      bySeverity: { ...s.tally.bySeverity, high: 5 },
      omitted: s.tally.omitted + 5,
    };
    const v = decideOver({ source: 'reports', status: 'ready', findings: s.findings, tally, detail: 'cut' });
    expect(v.decision).toBe('block');
    expect(v.checks.find((c) => c.name === 'vulnerabilities')).toMatchObject({
      status: 'fail',
      details: { unlistedBlocking: 5 },
    });
    expect(v.summary).toBe('blocked: 5 unlisted findings of a blocking severity');
    expect(v.findingsOmitted).toBe(105);
    expect(v.findingCounts).toEqual({ medium: 200, high: 5 });
  });

  it('is inconclusive (blocks) when every listed blocking finding is excepted but more were not listed', () => {
    const s = summarizeFindings(
      Array.from(
        { length: 150 },
        (_, i): Finding => ({ id: 'CVE-2024-1', package: `p${i}`, severity: 'critical', source: 'x' }),
      ),
    );
    const v = decideOver(
      { source: 'reports', status: 'ready', ...s, detail: 'cut' },
      '{ block: [critical], sources: [reports], exceptions: [{ id: CVE-2024-1, expires: "2099-01-01", reason: accepted }] }',
    );
    expect(v.decision).toBe('block');
    expect(v.checks.find((c) => c.name === 'vulnerabilities')).toMatchObject({
      status: 'inconclusive',
      details: { unlistedBlocking: 50 },
    });
  });

  it('releases a cut list when nothing unlisted is of a blocking severity', () => {
    const s = summarizeFindings(
      Array.from({ length: 500 }, (_, i): Finding => ({ id: `CVE-2001-${i}`, severity: 'low', source: 'x' })),
    );
    const v = decideOver({ source: 'reports', status: 'ready', ...s, detail: 'cut' });
    expect(v.decision).toBe('release');
    expect(v.findingCounts).toEqual({ low: 500 });
    expect(v.findingsOmitted).toBe(400);
  });
});

describe('CycloneDX shapes scanners write', () => {
  it('resolves BOM-Link refs (and purl refs) without components: two packages of one CVE stay two, named', () => {
    const serial = 'urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79';
    const r = ok(
      parse(
        cdx([
          {
            id: 'CVE-2024-2511',
            ratings: [{ source: { name: 'redhat' }, severity: 'high' }],
            affects: [
              { ref: `urn:cdx:${serial}/1#pkg:rpm/redhat/openssl-libs@1:3.0.7-27.el9?arch=x86_64` },
              { ref: `urn:cdx:${serial}/1#pkg%3Arpm%2Fredhat%2Fopenssl@1:3.0.7-27.el9` },
            ],
          },
          {
            id: 'CVE-2024-0727',
            ratings: [{ severity: 'medium' }],
            affects: [{ ref: 'pkg:deb/debian/libssl3@3.0.11-1~deb12u2?distro=debian-12' }],
          },
        ]),
        { mediaType: CDX },
      ),
    );
    expect(r.findings.map((f) => `${f.id} ${f.package} ${f.installedVersion}`).sort()).toEqual([
      'CVE-2024-0727 libssl3 3.0.11-1~deb12u2',
      'CVE-2024-2511 openssl 1:3.0.7-27.el9',
      'CVE-2024-2511 openssl-libs 1:3.0.7-27.el9',
    ]);
    // An exception scoped to one package applies to that package only.
    const v = decideOver(
      { source: 'reports', status: 'ready', findings: r.findings, tally: r.tally, detail: 'bom-link' },
      '{ block: [high], sources: [reports], exceptions: [{ id: CVE-2024-2511, packages: [openssl-libs], expires: "2099-01-01", reason: not loaded }] }',
    );
    expect(v.decision).toBe('block');
    const vulns = v.checks.find((c) => c.name === 'vulnerabilities');
    expect(vulns?.reason).toContain('CVE-2024-2511 (high, rated by redhat) in openssl 1:3.0.7-27.el9');
    expect(vulns?.reason).not.toContain('in openssl-libs');
  });

  it('accepts CycloneDX 1.4 to 1.7 (body and media type) and refuses 1.3 and 1.8', () => {
    for (const v of ['1.4', '1.5', '1.6', '1.7']) {
      expect(parse({ ...cdx([]), specVersion: v }, { mediaType: `${CDX}; version=${v}` }).ok).toBe(true);
    }
    for (const v of ['1.3', '1.8']) {
      expect(parse({ ...cdx([]), specVersion: v }, { mediaType: CDX })).toMatchObject({
        ok: false,
        code: 'MALFORMED',
        detail: expect.stringContaining('$.specVersion'),
      });
    }
  });

  it('reads every fixed version: recommendation text and unaffected versions', () => {
    const r = ok(
      parse(
        cdx(
          [
            {
              id: 'CVE-2020-8165',
              ratings: [{ severity: 'critical' }],
              recommendation: 'Upgrade activesupport to version 6.0.3.1, 5.2.4.3',
              affects: [{ ref: 'a' }],
            },
            {
              id: 'CVE-2021-1',
              ratings: [{ severity: 'high' }],
              affects: [
                {
                  ref: 'a',
                  versions: [
                    { version: '6.0.2.1', status: 'affected' },
                    { version: '6.1.0', status: 'unaffected' },
                    { version: '6.0.4', status: 'unaffected' },
                  ],
                },
              ],
            },
          ],
          { components: [{ 'bom-ref': 'a', name: 'activesupport', version: '6.0.2.1' }] },
        ),
        { mediaType: CDX },
      ),
    );
    expect(r.findings.map((f) => `${f.id} ${f.fixedVersion}`)).toEqual([
      'CVE-2020-8165 6.0.3.1, 5.2.4.3',
      'CVE-2021-1 6.1.0, 6.0.4',
    ]);
    const v = decideOver(
      { source: 'reports', status: 'ready', findings: r.findings, tally: r.tally, detail: 'x' },
      '{ block: [critical], onlyFixable: true, sources: [reports] }',
    );
    expect(v.decision).toBe('block');
  });

  it('rating sources: most severe by default; the policy order when given; the most severe when none listed rated it', () => {
    const doc = cdx([
      {
        id: 'CVE-2019-18276',
        ratings: [
          { source: { name: 'nvd' }, severity: 'high' },
          { source: { name: 'debian' }, severity: 'low' },
        ],
        affects: [{ ref: 'pkg:deb/debian/bash@5.0-4' }],
      },
    ]);
    expect(ok(parse(doc, { mediaType: CDX })).findings[0]).toMatchObject({ severity: 'high', severitySource: 'nvd' });
    expect(ok(parse(doc, { mediaType: CDX, ratingSources: ['debian', 'nvd'] })).findings[0]).toMatchObject({
      severity: 'low',
      severitySource: 'debian',
    });
    expect(ok(parse(doc, { mediaType: CDX, ratingSources: ['ghsa'] })).findings[0]).toMatchObject({
      severity: 'high',
      severitySource: 'nvd',
    });
  });
});

describe('policy ratingSources', () => {
  it('is kept in order and validated with messages naming the field', () => {
    expect(policy('{ ratingSources: [debian, nvd] }').gate[0].vulnerabilities.ratingSources).toEqual(['debian', 'nvd']);
    expect(policy('{ block: [high] }').gate[0].vulnerabilities.ratingSources).toBeUndefined();
    expect(() => policy('{ ratingSources: [Debian] }')).toThrow(
      /gate\[0\]\.vulnerabilities\.ratingSources\[0\]: expected a rating source name/,
    );
    expect(() => policy('{ ratingSources: [nvd, nvd] }')).toThrow(
      /gate\[0\]\.vulnerabilities\.ratingSources\[1\]: expected each rating source once/,
    );
    expect(() => policy('{ ratingSources: nvd }')).toThrow(/gate\[0\]\.vulnerabilities\.ratingSources/);
    expect(() => policy('{ ratingSources: [] }')).toThrow(/gate\[0\]\.vulnerabilities\.ratingSources/);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Property-based: parseReport never throws, never calls a malformed report clean, stays fast.

/** Cases run by the properties below (reported in the issue). */
export const FUZZ_RUNS = { structured: 300, wrongTypes: 300, nesting: 100, huge: 30 } as const;
const CASE_BUDGET_MS = 2_000;

function checkCase(doc: unknown, mediaType: string): ParsedReport {
  const bytes = Buffer.isBuffer(doc)
    ? doc
    : Buffer.from(typeof doc === 'string' ? doc : (JSON.stringify(doc) ?? 'undefined'));
  const t0 = performance.now();
  let r: ParsedReport | undefined;
  expect(() => (r = parse(bytes, { mediaType }))).not.toThrow();
  expect(performance.now() - t0).toBeLessThan(CASE_BUDGET_MS);
  const result = r!;
  if (!result.ok) {
    expect(typeof result.code).toBe('string');
    expect(Object.values(ReportErrorCodes)).toContain(result.code);
    expect(result.detail.length).toBeGreaterThan(0);
  } else {
    expect(result.findings.length).toBeLessThanOrEqual(MAX_VERDICT_FINDINGS);
    expect(result.tally.total).toBeGreaterThanOrEqual(result.findings.length);
  }
  return result;
}

const anyJson = fc.jsonValue({ maxDepth: 4 });
const severityText = fc.oneof(
  fc.constantFrom('critical', 'HIGH', 'Medium', 'low', 'none', 'unknown'),
  fc.string({ maxLength: 8 }),
);
const sarifResult = fc.record(
  {
    ruleId: fc.oneof(
      fc.constantFrom('CVE-2024-1', 'GHSA-jfh8-c2jp-5v3q', '[HIGH] CVE-2023-2'),
      fc.string({ maxLength: 12 }),
      anyJson,
    ),
    ruleIndex: fc.oneof(fc.nat(3), fc.integer(), anyJson),
    level: fc.oneof(fc.constantFrom('error', 'warning', 'note'), anyJson),
    message: fc.oneof(
      fc.record({
        text: fc.oneof(
          fc.string(),
          fc.constant('Package: x\nInstalled Version: 1\nFixed Version: 2, 3\nSeverity: CRITICAL'),
        ),
      }),
      anyJson,
    ),
    properties: fc.oneof(
      fc.record(
        {
          'security-severity': fc.oneof(fc.double(), fc.string({ maxLength: 4 })),
          severity: severityText,
          fixedVersion: fc.string({ maxLength: 10 }),
        },
        { requiredKeys: [] },
      ),
      anyJson,
    ),
  },
  { requiredKeys: [] },
);
const sarifDoc = fc.record(
  {
    version: fc.oneof(fc.constant('2.1.0'), anyJson),
    runs: fc.oneof(
      fc.array(
        fc.record(
          {
            tool: fc.oneof(fc.constant({ driver: { name: 'Trivy', rules: [{ id: 'CVE-2024-1' }] } }), anyJson),
            results: fc.oneof(fc.array(sarifResult, { maxLength: 20 }), anyJson),
            properties: fc.oneof(fc.constant({ imageDigest: DIGEST }), anyJson),
          },
          { requiredKeys: [] },
        ),
        { maxLength: 3 },
      ),
      anyJson,
    ),
  },
  { requiredKeys: [] },
);
const cdxVuln = fc.record(
  {
    id: fc.oneof(fc.constantFrom('CVE-2024-1', ''), fc.string({ maxLength: 10 }), anyJson),
    ratings: fc.oneof(
      fc.array(
        fc.record(
          {
            source: fc.oneof(fc.record({ name: fc.constantFrom('nvd', 'debian') }), anyJson),
            severity: severityText,
            score: fc.oneof(fc.double(), anyJson),
            method: fc.constantFrom('CVSSv31', 'other'),
          },
          { requiredKeys: [] },
        ),
        { maxLength: 4 },
      ),
      anyJson,
    ),
    recommendation: fc.oneof(fc.constant('Upgrade x to version 1.2, 1.3'), fc.string(), anyJson),
    affects: fc.oneof(
      fc.array(
        fc.record(
          {
            ref: fc.oneof(
              fc.constantFrom('urn:cdx:s/1#pkg:npm/a@1', 'pkg:deb/debian/b@2', 'urn:cdx:', 'pkg:'),
              fc.string(),
              anyJson,
            ),
            versions: fc.oneof(
              fc.array(
                fc.record(
                  { version: fc.string(), status: fc.constantFrom('affected', 'unaffected', 'unknown') },
                  { requiredKeys: [] },
                ),
                { maxLength: 3 },
              ),
              anyJson,
            ),
          },
          { requiredKeys: [] },
        ),
        { maxLength: 4 },
      ),
      anyJson,
    ),
  },
  { requiredKeys: [] },
);
const cdxDoc = fc.record(
  {
    bomFormat: fc.oneof(fc.constant('CycloneDX'), anyJson),
    specVersion: fc.oneof(fc.constantFrom('1.4', '1.5', '1.6', '1.7', '1.8', '2.0'), anyJson),
    metadata: fc.oneof(fc.constant({ timestamp: '2026-11-21T11:00:00Z' }), anyJson),
    components: fc.oneof(
      fc.array(
        fc.record(
          { 'bom-ref': fc.string({ maxLength: 6 }), name: fc.string({ maxLength: 6 }), components: anyJson },
          { requiredKeys: [] },
        ),
        { maxLength: 5 },
      ),
      anyJson,
    ),
    vulnerabilities: fc.oneof(fc.array(cdxVuln, { maxLength: 10 }), anyJson),
  },
  { requiredKeys: [] },
);

describe('parseReport properties (fast-check)', () => {
  it(`random SARIF structures: a typed result every time (${FUZZ_RUNS.structured} cases)`, () => {
    fc.assert(
      fc.property(sarifDoc, (doc) => void checkCase(doc, SARIF)),
      { numRuns: FUZZ_RUNS.structured, seed: 11 },
    );
  });

  it(`random CycloneDX structures: a typed result every time (${FUZZ_RUNS.structured} cases)`, () => {
    fc.assert(
      fc.property(cdxDoc, (doc) => void checkCase(doc, CDX)),
      { numRuns: FUZZ_RUNS.structured, seed: 12 },
    );
  });

  it(`a wrongly typed field in a valid report is MALFORMED, never clean (${FUZZ_RUNS.wrongTypes} cases)`, () => {
    const valid = sarif([{ ruleId: 'CVE-2024-1', properties: { 'security-severity': '9.8' }, message: { text: 'x' } }]);
    const slots: Array<(d: any, v: unknown) => void> = [
      (d, v) => (d.runs = v),
      (d, v) => (d.runs[0].results = v),
      (d, v) => (d.runs[0].results[0] = v),
      (d, v) => (d.runs[0].tool = v),
      (d, v) => (d.runs[0].results[0].ruleId = v),
      (d, v) => (d.runs[0].results[0].properties['security-severity'] = v),
    ];
    const wrong = fc.oneof(
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.dictionary(fc.string({ maxLength: 3 }), fc.integer(), { maxKeys: 2 }),
      fc.array(fc.integer(), { minLength: 1, maxLength: 2 }),
      fc.constant('NaN'),
    );
    fc.assert(
      fc.property(fc.nat(slots.length - 1), wrong, (slot, value) => {
        const doc = JSON.parse(JSON.stringify(valid));
        slots[slot](doc, value);
        const r = checkCase(doc, SARIF);
        // Whatever was broken, the critical result is never read as "no findings".
        if (r.ok) expect(r.tally.total).toBeGreaterThan(0);
      }),
      { numRuns: FUZZ_RUNS.wrongTypes, seed: 13 },
    );
  });

  it(`deep nesting anywhere is refused before JSON.parse (${FUZZ_RUNS.nesting} cases)`, () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 65, max: 100_000 }),
        fc.constantFrom('[', '{"a":'),
        fc.constantFrom(SARIF, CDX),
        (depth, open, mediaType) => {
          const close = open === '[' ? ']' : '}';
          const text = `{"version":"2.1.0","runs":[{"results":${open.repeat(depth)}1${close.repeat(depth)}}]}`;
          expect(checkCase(text, mediaType)).toMatchObject({ ok: false, code: 'MALFORMED' });
        },
      ),
      { numRuns: FUZZ_RUNS.nesting, seed: 14 },
    );
  });

  it(`huge arrays: over the entry bound refused, under it bounded output (${FUZZ_RUNS.huge} cases)`, () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX_REPORT_FINDINGS * 2 }), fc.boolean(), (n, distinct) => {
        const text = `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"t"}},"properties":{"imageDigest":"${DIGEST}"},"results":[${Array.from({ length: n }, (_, i) => `{"ruleId":"[HIGH] CVE-2024-${distinct ? i : 1}"}`).join(',')}]}]}`;
        const r = checkCase(text, SARIF);
        if (n > MAX_REPORT_FINDINGS)
          expect(r).toMatchObject({ ok: false, code: ReportErrorCodes.REPORT_TOO_MANY_FINDINGS });
        else expect(r).toMatchObject({ ok: true, tally: { total: distinct ? n : 1 } });
      }),
      { numRuns: FUZZ_RUNS.huge, seed: 15 },
    );
  });
});
