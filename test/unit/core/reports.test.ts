import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  MAX_REPORT_BYTES,
  parseReport,
  reportFormatOf,
  severityFromScore,
  type ParseReportInput,
} from '../../../src/core/reports';
import type { Finding } from '../../../src/core/types';

const FIXTURES = path.join(__dirname, '../../fixtures/reports');
const fixture = (name: string): Buffer => readFileSync(path.join(FIXTURES, name));
const fixtureJson = (name: string): Record<string, unknown> => JSON.parse(fixture(name).toString('utf8'));

/** The image digest the fixtures were made for. */
const DIGEST = 'sha256:5b0ad3ed1e4d8e1e2a6f8d07c3a3a3f7f8d5b5e4c1d6a2b9e8f7c6d5a4b3c2d1';
const OTHER = `sha256:${'9'.repeat(64)}`;
const REPORT = `sha256:${'e'.repeat(64)}`;
const NOW = Date.parse('2026-11-21T12:00:00Z');
const DAY = 86_400_000;
const SARIF = 'application/sarif+json';
const CDX = 'application/vnd.cyclonedx+json';

function input(over: Partial<ParseReportInput>): ParseReportInput {
  return {
    mediaType: SARIF,
    bytes: Buffer.from('{}'),
    imageDigest: DIGEST,
    reportDigest: REPORT,
    nowMs: NOW,
    maxAgeMs: 7 * DAY,
    ...over,
  };
}

function ok(result: ReturnType<typeof parseReport>) {
  if (!result.ok) throw new Error(`expected ok, got ${result.code}: ${result.detail}`);
  return result;
}

const byId = (findings: Finding[]) => Object.fromEntries(findings.map((f) => [`${f.id} ${f.package ?? ''}`.trim(), f]));

describe('parseReport: real scanner shapes', () => {
  it('reads Trivy SARIF: CVE rule ids, security-severity, package/versions from the message, repoDigests, invocation time', () => {
    const r = ok(parseReport(input({ bytes: fixture('trivy.sarif.json') })));
    expect(r.format).toBe('sarif');
    expect(r.createdAt).toBe('2026-11-20T10:00:02Z');
    expect(r.stale).toBe(false);
    expect(r.subjectNamed).toBe(true);
    expect(r.findings).toHaveLength(4);
    const f = byId(r.findings);
    expect(f['CVE-2023-5363 libssl3']).toEqual({
      id: 'CVE-2023-5363',
      severity: 'high',
      package: 'libssl3',
      installedVersion: '3.0.9-1',
      fixedVersion: '3.0.11-1~deb12u2',
      source: `sarif:${REPORT}`,
      title: 'openssl: Incorrect cipher key and IV length processing',
    });
    expect(f['CVE-2024-45490 libexpat1'].severity).toBe('critical');
    expect(f['CVE-2023-50495 libtinfo6']).toMatchObject({ severity: 'medium', installedVersion: '6.4-4' });
    expect(f['CVE-2023-50495 libtinfo6'].fixedVersion).toBeUndefined();
    expect(f['CVE-2011-3374 apt'].severity).toBe('low');
  });

  it('reads Trivy\'s older template: "[HIGH] CVE-…" rule ids, severity in tags, no digest (subject by OCI referrer only)', () => {
    const r = ok(
      parseReport(
        input({
          bytes: fixture('trivy-legacy-template.sarif.json'),
          annotations: { 'org.opencontainers.image.created': '2026-11-20T08:00:00Z' },
        }),
      ),
    );
    expect(r.subjectNamed).toBe(false);
    expect(r.createdAt).toBe('2026-11-20T08:00:00Z');
    expect(r.findings).toEqual([
      expect.objectContaining({
        id: 'CVE-2023-5363',
        severity: 'high',
        package: 'libssl3',
        installedVersion: '3.0.9-1',
        fixedVersion: '3.0.11-1~deb12u2',
      }),
    ]);
  });

  it('reads Grype SARIF: "<vuln>-<package>" rule ids, help text fields, GHSA ids, most severe signal wins', () => {
    const r = ok(
      parseReport(
        input({
          bytes: fixture('grype.sarif.json'),
          annotations: { 'org.opencontainers.image.created': '2026-11-20T08:00:00Z' },
        }),
      ),
    );
    expect(r.subjectNamed).toBe(false);
    const f = byId(r.findings);
    expect(Object.keys(f).sort()).toEqual([
      'CVE-2023-50495 libtinfo6',
      'CVE-2024-45490 libexpat1',
      'GHSA-jfh8-c2jp-5v3q log4j-core',
    ]);
    expect(f['CVE-2024-45490 libexpat1']).toMatchObject({
      severity: 'critical',
      installedVersion: '2.5.0-1',
      fixedVersion: '2.5.0-1+deb12u1',
    });
    expect(f['GHSA-jfh8-c2jp-5v3q log4j-core']).toMatchObject({
      severity: 'high',
      installedVersion: '2.14.1',
      fixedVersion: '2.15.0',
    });
    expect(f['CVE-2023-50495 libtinfo6'].fixedVersion).toBeUndefined();
  });

  it('reads a Trivy CycloneDX 1.7 BOM with BOM-Link refs and no components: two packages, every fixed version, rating by source', () => {
    const r = ok(
      parseReport(input({ mediaType: `${CDX}; version=1.7`, bytes: fixture('trivy-sbom-bomlink.cdx.json') })),
    );
    expect(r.subjectNamed).toBe(true);
    const f = byId(r.findings);
    expect(Object.keys(f).sort()).toEqual(['CVE-2024-2511 openssl', 'CVE-2024-2511 openssl-libs']);
    expect(f['CVE-2024-2511 openssl-libs']).toMatchObject({
      severity: 'high',
      severitySource: 'nvd',
      installedVersion: '1:3.0.7-27.el9',
      fixedVersion: '1:3.0.7-28.el9_4, 1:3.2.1-1.el9',
    });
    const vendorFirst = ok(
      parseReport(
        input({ mediaType: CDX, bytes: fixture('trivy-sbom-bomlink.cdx.json'), ratingSources: ['redhat', 'nvd'] }),
      ),
    );
    expect(vendorFirst.findings.map((x) => `${x.package} ${x.severity} ${x.severitySource}`).sort()).toEqual([
      'openssl low redhat',
      'openssl-libs low redhat',
    ]);
  });

  it('reads Trivy CycloneDX 1.5: nested components, purl digest, most severe rating, fix from recommendation', () => {
    const r = ok(parseReport(input({ mediaType: CDX, bytes: fixture('trivy.cdx.json') })));
    expect(r.format).toBe('cyclonedx');
    expect(r.subjectNamed).toBe(true);
    expect(r.createdAt).toBe('2026-11-20T10:00:05+00:00');
    const f = byId(r.findings);
    // debian rates it low, NVD critical: the more severe rating is kept.
    expect(f['CVE-2024-45490 libexpat1']).toEqual({
      id: 'CVE-2024-45490',
      severity: 'critical',
      severitySource: 'nvd',
      package: 'libexpat1',
      installedVersion: '2.5.0-1',
      fixedVersion: '2.5.0-1+deb12u1',
      source: `cyclonedx:${REPORT}`,
      title: 'libexpat: Negative Length Parsing Vulnerability in libexpat',
    });
    expect(r.findings).toHaveLength(4);
  });

  it('reads Grype CycloneDX 1.6: digest in metadata.component.version, fixed version from "unaffected"', () => {
    const r = ok(parseReport(input({ mediaType: `${CDX};version=1.6`, bytes: fixture('grype.cdx.json') })));
    expect(r.subjectNamed).toBe(true);
    const f = byId(r.findings);
    expect(f['CVE-2024-45490 libexpat1']).toMatchObject({
      severity: 'critical',
      fixedVersion: '2.5.0-1+deb12u1',
      installedVersion: '2.5.0-1',
    });
    expect(f['GHSA-jfh8-c2jp-5v3q log4j-core']).toMatchObject({
      severity: 'critical',
      fixedVersion: '2.15.0',
      installedVersion: '2.14.1',
    });
  });

  it('reads the reports the local demo attaches (src/local/sampleReports.ts)', async () => {
    const { sampleSarif, sampleCycloneDx } = await import('../../../src/local/sampleReports');
    const vulnerabilities = [
      {
        id: 'CVE-2024-0001',
        severity: 'high' as const,
        package: 'openssl',
        installedVersion: '3.0.1',
        fixedVersion: '3.0.2',
      },
    ];
    const common = {
      imageName: 'localhost:5000/demo/app',
      digest: DIGEST,
      scannedAt: '2026-11-21T11:00:00Z',
      vulnerabilities,
    };
    const s = ok(parseReport(input({ bytes: sampleSarif(common) })));
    expect(s.findings).toEqual([
      expect.objectContaining({
        id: 'CVE-2024-0001',
        severity: 'high',
        package: 'openssl',
        installedVersion: '3.0.1',
        fixedVersion: '3.0.2',
      }),
    ]);
    expect(s.subjectNamed).toBe(true);
    const c = ok(parseReport(input({ mediaType: CDX, bytes: sampleCycloneDx(common) })));
    expect(c.findings).toEqual([
      expect.objectContaining({ id: 'CVE-2024-0001', severity: 'high', package: 'openssl', fixedVersion: '3.0.2' }),
    ]);
    expect(c.subjectNamed).toBe(true);
  });
});

it('a CycloneDX scan that found nothing (vulnerabilities: []) is ready with zero findings', () => {
  const r = ok(
    parseReport(input({ mediaType: CDX, bytes: mutate('trivy.cdx.json', (d) => void (d.vulnerabilities = [])) })),
  );
  expect(r.findings).toEqual([]);
  expect(r.stale).toBe(false);
});

describe('parseReport: subject', () => {
  it.each([
    ['SARIF repoDigests', 'trivy.sarif.json', SARIF],
    ['CycloneDX purl/RepoDigest', 'trivy.cdx.json', CDX],
    ['CycloneDX component version', 'grype.cdx.json', CDX],
  ])('a report naming another digest is REPORT_SUBJECT_MISMATCH (%s)', (_label, file, mediaType) => {
    const r = parseReport(input({ mediaType, bytes: fixture(file), imageDigest: OTHER }));
    expect(r).toEqual({ ok: false, code: 'REPORT_SUBJECT_MISMATCH', detail: expect.stringContaining(DIGEST) });
  });

  it('a report naming several digests passes when one of them is the image', () => {
    const doc = fixtureJson('trivy.sarif.json') as { runs: Array<{ properties: { repoDigests: string[] } }> };
    doc.runs[0].properties.repoDigests = [`other/repo@${OTHER}`, `contoso.azurecr.io/contoso/api@${DIGEST}`];
    expect(ok(parseReport(input({ bytes: Buffer.from(JSON.stringify(doc)) }))).subjectNamed).toBe(true);
  });

  it("Trivy's imageID (a config digest) is not compared", () => {
    const doc = fixtureJson('trivy.sarif.json') as { runs: Array<{ properties: Record<string, unknown> }> };
    delete doc.runs[0].properties.repoDigests;
    expect(ok(parseReport(input({ bytes: Buffer.from(JSON.stringify(doc)) }))).subjectNamed).toBe(false);
  });
});

describe('parseReport: age', () => {
  const created = { 'org.opencontainers.image.created': '2026-11-20T08:00:00Z' };
  it.each([
    ['fresh by invocation time', 'trivy.sarif.json', {}, 7 * DAY, false],
    ['stale by invocation time', 'trivy.sarif.json', {}, 1 * 3600_000, true],
    [
      'report time wins over the annotation',
      'trivy.sarif.json',
      { 'org.opencontainers.image.created': '2020-01-01T00:00:00Z' },
      7 * DAY,
      false,
    ],
    ['fresh by annotation (Grype has no time)', 'grype.sarif.json', created, 7 * DAY, false],
    [
      'stale by annotation',
      'grype.sarif.json',
      { 'org.opencontainers.image.created': '2026-11-01T00:00:00Z' },
      7 * DAY,
      true,
    ],
    ['no time at all is stale (fail closed)', 'grype.sarif.json', {}, 7 * DAY, true],
  ])('%s', (_label, file, annotations, maxAgeMs, stale) => {
    expect(ok(parseReport(input({ bytes: fixture(file), annotations, maxAgeMs }))).stale).toBe(stale);
  });

  it('a time in the future is MALFORMED (it would stay fresh forever)', () => {
    const r = parseReport(
      input({
        bytes: fixture('grype.sarif.json'),
        annotations: { 'org.opencontainers.image.created': '2027-01-01T00:00:00Z' },
      }),
    );
    expect(r).toMatchObject({
      ok: false,
      code: 'MALFORMED',
      detail: expect.stringContaining('org.opencontainers.image.created'),
    });
  });
});

function mutate(file: string, change: (doc: Record<string, any>) => unknown): Buffer {
  const doc = fixtureJson(file);
  const replaced = change(doc);
  return Buffer.from(JSON.stringify(replaced === undefined ? doc : replaced));
}

describe('parseReport: malformed and hostile input never throws', () => {
  const deep = Buffer.from(`{"version":"2.1.0","runs":${'['.repeat(5000)}${']'.repeat(5000)}}`);
  const cases: Array<[string, Partial<ParseReportInput>, string, string]> = [
    ['not JSON', { bytes: Buffer.from('{"version": "2.1.0", runs: [') }, 'MALFORMED', '$'],
    ['not UTF-8', { bytes: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) }, 'MALFORMED', 'UTF-8'],
    ['empty', { bytes: Buffer.alloc(0) }, 'MALFORMED', '$'],
    ['a JSON array', { bytes: Buffer.from('[]') }, 'MALFORMED', '$: expected an object'],
    ['SARIF 2.0.0', { bytes: mutate('trivy.sarif.json', (d) => void (d.version = '2.0.0')) }, 'MALFORMED', '$.version'],
    ['runs is a string', { bytes: mutate('trivy.sarif.json', (d) => void (d.runs = 'x')) }, 'MALFORMED', '$.runs'],
    [
      'results absent (scan did not finish)',
      { bytes: mutate('trivy.sarif.json', (d) => void delete d.runs[0].results) },
      'MALFORMED',
      '$.runs[0].results: expected an array, got nothing',
    ],
    [
      'ruleId a number',
      { bytes: mutate('trivy.sarif.json', (d) => void (d.runs[0].results[1].ruleId = 7)) },
      'MALFORMED',
      '$.runs[0].results[1].ruleId: expected a string, got number 7',
    ],
    [
      'ruleIndex out of range',
      { bytes: mutate('trivy.sarif.json', (d) => void (d.runs[0].results[0].ruleIndex = 99)) },
      'MALFORMED',
      '$.runs[0].results[0].ruleIndex',
    ],
    [
      'security-severity not a score',
      {
        bytes: mutate(
          'grype.sarif.json',
          (d) => void (d.runs[0].tool.driver.rules[0].properties['security-severity'] = 'high!'),
        ),
      },
      'MALFORMED',
      // A rule's field is named by the rule's own path (the reader's one dialect, brackets for a dashed key).
      '$.runs[0].tool.driver.rules[0].properties["security-severity"]: expected a CVSS score 0.0–10.0, got "high!"',
    ],
    [
      'bad repoDigests entry',
      { bytes: mutate('trivy.sarif.json', (d) => void (d.runs[0].properties.repoDigests = ['repo@md5:abc'])) },
      'MALFORMED',
      'repoDigests[0]',
    ],
    [
      'bad invocation time',
      { bytes: mutate('trivy.sarif.json', (d) => void (d.runs[0].invocations[0].endTimeUtc = 'yesterday')) },
      'MALFORMED',
      'endTimeUtc',
    ],
    ['deeply nested', { bytes: deep }, 'MALFORMED', 'nested'],
    ['over 20 MiB', { bytes: Buffer.alloc(MAX_REPORT_BYTES + 1, 0x20) }, 'REPORT_TOO_LARGE', '20 MiB'],
    [
      'not CycloneDX',
      { mediaType: CDX, bytes: mutate('trivy.cdx.json', (d) => void (d.bomFormat = 'SPDX')) },
      'MALFORMED',
      '$.bomFormat',
    ],
    [
      'CycloneDX 1.2',
      { mediaType: CDX, bytes: mutate('trivy.cdx.json', (d) => void (d.specVersion = '1.2')) },
      'MALFORMED',
      '$.specVersion',
    ],
    [
      'CycloneDX media type version 1.3',
      { mediaType: `${CDX}; version=1.3`, bytes: fixture('trivy.cdx.json') },
      'MALFORMED',
      'version',
    ],
    [
      'vulnerability id missing',
      { mediaType: CDX, bytes: mutate('trivy.cdx.json', (d) => void delete d.vulnerabilities[2].id) },
      'MALFORMED',
      '$.vulnerabilities[2].id: expected a string, got nothing',
    ],
    [
      'unknown rating severity',
      {
        mediaType: CDX,
        bytes: mutate('trivy.cdx.json', (d) => void (d.vulnerabilities[0].ratings[0].severity = 'apocalyptic')),
      },
      'MALFORMED',
      '$.vulnerabilities[0].ratings[0].severity',
    ],
    [
      'affects ref not a string',
      { mediaType: CDX, bytes: mutate('grype.cdx.json', (d) => void (d.vulnerabilities[0].affects[0].ref = { x: 1 })) },
      'MALFORMED',
      '$.vulnerabilities[0].affects[0].ref',
    ],
    [
      'components not an array',
      { mediaType: CDX, bytes: mutate('grype.cdx.json', (d) => void (d.components = {})) },
      'MALFORMED',
      '$.components: expected an array, got an object',
    ],
    [
      'a component bom-ref not a string',
      { mediaType: CDX, bytes: mutate('grype.cdx.json', (d) => void (d.components[0]['bom-ref'] = 3)) },
      'MALFORMED',
      '$.components[0]["bom-ref"]: expected a string, got number 3',
    ],
    ['SARIF without runs', { bytes: mutate('trivy.sarif.json', (d) => void (d.runs = [])) }, 'MALFORMED', '$.runs'],
    [
      'a CycloneDX SBOM (no vulnerabilities key)',
      { mediaType: CDX, bytes: mutate('trivy.cdx.json', (d) => void delete d.vulnerabilities) },
      'NOT_A_VULNERABILITY_REPORT',
      'SBOM',
    ],
    [
      'unsupported media type',
      { mediaType: 'application/spdx+json', bytes: fixture('trivy.cdx.json') },
      'UNSUPPORTED',
      'application/spdx+json',
    ],
    ['SARIF sent as CycloneDX', { mediaType: CDX, bytes: fixture('trivy.sarif.json') }, 'MALFORMED', '$.bomFormat'],
  ];
  it.each(cases)('%s', (_label, over, code, inDetail) => {
    let result: ReturnType<typeof parseReport> | undefined;
    expect(() => (result = parseReport(input(over)))).not.toThrow();
    expect(result).toMatchObject({ ok: false, code });
    expect((result as { detail: string }).detail).toContain(inDetail);
  });

  it('survives random byte corruption of a real report without throwing', () => {
    const base = fixture('trivy.cdx.json');
    let seed = 42;
    const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    for (let i = 0; i < 300; i++) {
      const bytes = Buffer.from(base);
      for (let k = 0; k < 3; k++) bytes[Math.floor(rand() * bytes.length)] = Math.floor(rand() * 256);
      expect(() => parseReport(input({ mediaType: CDX, bytes }))).not.toThrow();
    }
  });
});

describe('helpers', () => {
  it.each([
    [9.8, 'critical'],
    [9.0, 'critical'],
    [7.0, 'high'],
    [6.9, 'medium'],
    [4.0, 'medium'],
    [0.1, 'low'],
    [0, 'negligible'],
    [11, 'unknown'],
  ])('severityFromScore(%p) = %p', (score, severity) => expect(severityFromScore(score)).toBe(severity));

  it.each([
    ['application/sarif+json', 'sarif'],
    ['application/vnd.cyclonedx+json; version=1.5', 'cyclonedx'],
    ['Application/Vnd.CycloneDX+JSON', 'cyclonedx'],
    ['application/vnd.cncf.notary.signature', undefined],
    [undefined, undefined],
  ])('reportFormatOf(%p) = %p', (mediaType, format) => expect(reportFormatOf(mediaType)).toBe(format));
});
