/**
 * Issue 17 case 5: severity from every field scanners write. CVSS vectors without a score are scored with the
 * pinned ae-cvss-calculator behind a strict validator (core/cvss.ts), checked against published vector/score
 * pairs; CycloneDX ratings and Defender rows that carry only a vector read as that severity; Defender's
 * `FixStatus: FixAvailable` with an empty fixed version is fixable for `onlyFixable`. Each case is also put
 * through `decide`, which released on main.
 */
import fc from 'fast-check';
import '../../support/fastCheckSeed';
import { MAX_CVSS_VECTOR_LENGTH, cvssVersionOfMethod, scoreCvssVector, severityFromCvss } from '../../../src/core/cvss';
import { parseReport } from '../../../src/core/reports';
import { mapDefenderRows } from '../../../src/core/defender';
import { decide } from '../../../src/core/decision';
import { loadPolicy } from '../../../src/core/policy';
import type { FindingsResult, ImageId, Severity } from '../../../src/core/types';

/**
 * Published base scores, vector as published (NVD CVE detail pages, "NIST: NVD" metrics, unless noted).
 * v4.0: NVD shows CNA-provided v4 metrics; CVE-2024-45385 is Siemens' via CISA advisory ICSA-24-319-08; the
 * other two are the examples GitHub's advisory database shows for its common vectors (GHSA-c3h5-h73c-29hq:
 * the XSS vector, "Medium"), scored by FIRST's v4.0 calculator.
 */
const PUBLISHED: Array<[string, string, number, Severity]> = [
  // CVSS v3.1
  ['CVE-2021-44228', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H', 10.0, 'critical'],
  ['CVE-2014-6271', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 9.8, 'critical'],
  ['CVE-2023-4863', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H', 8.8, 'high'],
  ['CVE-2021-3156', 'CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H', 7.8, 'high'],
  ['CVE-2014-0160', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N', 7.5, 'high'],
  ['CVE-2023-44487', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H', 7.5, 'high'],
  ['CVE-2020-11022', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N', 6.1, 'medium'],
  ['CVE-2023-5678', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L', 5.3, 'medium'],
  ['CVE-2023-28322', 'CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:L/I:N/A:N', 3.7, 'low'],
  // CVSS v3.0
  ['CVE-2016-5195', 'CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H', 7.8, 'high'],
  // CVSS v2 (NVD's v2 scale: 7.0-10.0 high, so 10.0 is high, not critical)
  ['CVE-2014-6271', 'AV:N/AC:L/Au:N/C:C/I:C/A:C', 10.0, 'high'],
  ['CVE-2016-5195', 'AV:L/AC:L/Au:N/C:C/I:C/A:C', 7.2, 'high'],
  ['CVE-2014-0160', 'AV:N/AC:L/Au:N/C:P/I:N/A:N', 5.0, 'medium'],
  ['CVE-2020-11022', 'AV:N/AC:M/Au:N/C:N/I:P/A:N', 4.3, 'medium'],
  ['CVE-2013-0169', 'AV:N/AC:H/Au:N/C:P/I:N/A:N', 2.6, 'low'],
  // CVSS v4.0
  ['CVE-2024-45385', 'CVSS:4.0/AV:N/AC:H/AT:N/PR:N/UI:A/VC:N/VI:N/VA:N/SC:L/SI:L/SA:N', 2.1, 'low'],
  ['GHSA-c3h5-h73c-29hq', 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:P/VC:N/VI:N/VA:N/SC:L/SI:L/SA:N', 5.3, 'medium'],
  ['v4.0 network, all high', 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N', 9.3, 'critical'],
];

describe('scoreCvssVector', () => {
  it.each(PUBLISHED)('%s: %s scores %d (%s)', (_id, vector, score, severity) => {
    expect(scoreCvssVector(vector)).toMatchObject({ ok: true, score, severity });
  });

  it('reads NVD v2 in parentheses, prefix-less vectors by the CycloneDX method, and scores only base metrics', () => {
    expect(scoreCvssVector('(AV:N/AC:L/Au:N/C:C/I:C/A:C)')).toMatchObject({ ok: true, version: '2.0', score: 10 });
    expect(scoreCvssVector('AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', cvssVersionOfMethod('CVSSv31'))).toMatchObject({
      ok: true,
      version: '3.1',
      score: 9.8,
    });
    expect(cvssVersionOfMethod('CVSSv4')).toBe('4.0');
    expect(cvssVersionOfMethod('other')).toBeUndefined();
    // Temporal/threat metrics are valid but not scored: the base score is what scanners and NVD publish.
    expect(scoreCvssVector('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:U/RL:O')).toMatchObject({ score: 9.8 });
    expect(severityFromCvss('2.0', 10)).toBe('high');
    expect(severityFromCvss('3.1', 0)).toBe('negligible');
  });

  it.each<[unknown, RegExp]>([
    ['CVSS:3.1/AV:X', /metric AV has value X/],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H', /base metric\(s\) A missing/],
    ['CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', /AV appears twice/],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/ZZ:1', /ZZ is not a CVSS 3.1 metric/],
    ['CVSS:9.9/AV:N', /version 9.9/],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/', /not a metric:value pair/],
    ['CVSS:4.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', /metric S has value U/],
    ['9.8', /not a metric:value pair/],
    [9.8, /not a string/],
    [`CVSS:3.1/${'AV:N/'.repeat(200)}`, /over 512 characters/],
    ['CVSS:3.1/__proto__:x/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', /not a CVSS 3.1 metric/],
  ])('ignores %j with a reason', (vector, reason) => {
    const r = scoreCvssVector(vector);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });

  it('never throws and never scores outside 0-10, whatever the text (fast-check, fixed seed)', () => {
    const metric = fc.constantFrom('AV', 'AC', 'PR', 'UI', 'S', 'C', 'I', 'A', 'Au', 'AT', 'VC', 'E', 'X', '');
    const value = fc.constantFrom('N', 'L', 'H', 'P', 'R', 'U', 'C', 'A', 'X', 'M', '', 'Clear');
    const vector = fc.oneof(
      fc.string({ maxLength: MAX_CVSS_VECTOR_LENGTH + 8 }),
      fc
        .tuple(
          fc.constantFrom('CVSS:2.0/', 'CVSS:3.0/', 'CVSS:3.1/', 'CVSS:4.0/', '', 'CVSS:3.2/'),
          fc.array(fc.tuple(metric, value), { maxLength: 14 }),
        )
        .map(([prefix, parts]) => prefix + parts.map(([k, v]) => `${k}:${v}`).join('/')),
    );
    fc.assert(
      fc.property(vector, (v) => {
        const r = scoreCvssVector(v);
        if (r.ok) expect(r.score >= 0 && r.score <= 10).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});

const DIGEST = `sha256:${'cd'.repeat(32)}`;
const IMAGE: ImageId = { registry: 'contosoacrprod.azurecr.io', repository: 'contoso/api', digest: DIGEST };
const NOW = new Date('2026-11-22T12:00:00Z');

function gate(vulnerabilities: string, findings: FindingsResult[]) {
  const policy = loadPolicy(`version: 1
registries: [contosoacrprod.azurecr.io]
gate:
  - scope: "contoso/*"
    vulnerabilities: ${vulnerabilities}
    signatures: { required: false }
`);
  return decide({
    policy,
    rule: policy.gate[0],
    image: IMAGE,
    sources: findings.map((f) => f.source),
    manifests: [{ digest: DIGEST, findings, signatures: { status: 'skipped', reason: 'n/a', signatures: [] } }],
    deadlinePassed: false,
    now: NOW,
  });
}

/** A CycloneDX 1.5 report whose one vulnerability has the given ratings. */
function cyclonedx(ratings: unknown[]): Buffer {
  return Buffer.from(
    JSON.stringify({
      bomFormat: 'CycloneDX',
      specVersion: '1.5',
      metadata: { timestamp: '2026-11-22T11:00:00Z', component: { type: 'container', name: `app@${DIGEST}` } },
      components: [{ 'bom-ref': 'pkg:deb/debian/openssl@3.0.1', type: 'library', name: 'openssl', version: '3.0.1' }],
      vulnerabilities: [{ id: 'CVE-2024-9999', ratings, affects: [{ ref: 'pkg:deb/debian/openssl@3.0.1' }] }],
    }),
  );
}

function reportFindings(bytes: Buffer): FindingsResult {
  const r = parseReport({
    mediaType: 'application/vnd.cyclonedx+json',
    bytes,
    imageDigest: DIGEST,
    reportDigest: `sha256:${'e'.repeat(64)}`,
    nowMs: NOW.getTime(),
    maxAgeMs: 7 * 86_400_000,
  });
  if (!r.ok) throw new Error(`${r.code}: ${r.detail}`);
  return { source: 'reports', status: 'ready', findings: r.findings, detail: 'report' };
}

describe('CycloneDX ratings with only a CVSS vector', () => {
  it('a 9.8 vector reads critical and blocks (main read it as unknown and released)', () => {
    const findings = reportFindings(
      cyclonedx([
        { source: { name: 'nvd' }, method: 'CVSSv31', vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' },
      ]),
    );
    expect(findings.status === 'ready' && findings.findings[0].severity).toBe('critical');
    const v = gate('{ block: [critical] }', [findings]);
    expect(v.decision).toBe('block');
    expect(v.summary).toMatch(/^blocked: CVE-2024-9999 \(critical/);
  });

  it('a prefix-less vector is read by its method; a v2 vector by NVD v2 scale; a malformed one is ignored', () => {
    const sev = (ratings: unknown[]) => {
      const r = reportFindings(cyclonedx(ratings));
      return r.status === 'ready' ? r.findings[0].severity : undefined;
    };
    expect(sev([{ method: 'CVSSv31', vector: 'AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }])).toBe('critical');
    expect(sev([{ method: 'CVSSv2', vector: 'AV:N/AC:L/Au:N/C:C/I:C/A:C' }])).toBe('high');
    expect(sev([{ method: 'CVSSv4', vector: 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N' }])).toBe(
      'critical',
    );
    expect(sev([{ method: 'CVSSv31', vector: 'CVSS:3.1/AV:X' }])).toBe('unknown');
    // A non-CVSS rating's vector says nothing about severity (Grype's EPSS/KEV ratings use method "other").
    expect(sev([{ method: 'other', vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }])).toBe('unknown');
    // A rating's own score still decides when it has one.
    expect(sev([{ method: 'CVSSv31', score: 5.3, vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }])).toBe(
      'medium',
    );
  });
});

/** One individual (2026) Defender row for IMAGE with one CVE. */
function individualRow(cve: Record<string, unknown>, mdvm: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: '/subscriptions/x/providers/Microsoft.Security/assessments/1',
    type: 'microsoft.security/assessments',
    name: '1',
    properties: {
      status: { code: 'Unhealthy' },
      resourceDetails: { Source: 'Azure', ResourceType: '.containerimage' },
      resourceAdditionalData: {
        Digest: DIGEST,
        RepositoryDetails: { RegistryHost: IMAGE.registry, RepositoryName: IMAGE.repository },
      },
      additionalData: {
        SoftwareName: 'openssl',
        ScannersDetails: { mdvm: { DetectedSoftwareVersions: ['3.0.1'], ...mdvm } },
        CvesDetails: [{ CveId: 'CVE-2024-7777', ...cve }],
      },
    },
  };
}

/** One grouped (sub-assessment) Defender row for IMAGE, Microsoft's documented shape. */
function groupedRow(software: Record<string, unknown>, vuln: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: '/subscriptions/x/providers/Microsoft.Security/assessments/c0b7cfc6-3172-465a-b378-53c7ff2cc0d5/subassessments/2',
    type: 'microsoft.security/assessments/subassessments',
    name: '2',
    properties: {
      id: 'CVE-2024-8888',
      status: { code: 'Unhealthy', severity: 'High' },
      additionalData: {
        assessedResourceType: 'AzureContainerRegistryVulnerability',
        artifactDetails: { registryHost: IMAGE.registry, repositoryName: IMAGE.repository, digest: DIGEST },
        softwareDetails: { packageName: 'openssl', version: '3.0.1', ...software },
        vulnerabilityDetails: { cveId: 'CVE-2024-8888', ...vuln },
      },
    },
  };
}

describe('Defender: FixStatus is the fix signal; a CVSS vector without a base is scored', () => {
  const onlyFixable = '{ block: [critical, high], onlyFixable: true }';

  it('grouped row: fixStatus FixAvailable with an empty fixedVersion blocks under onlyFixable (main passed it)', () => {
    const r = mapDefenderRows([groupedRow({ fixStatus: 'FixAvailable', fixedVersion: '' })], IMAGE);
    expect(r.status === 'ready' && r.findings[0]).toMatchObject({ severity: 'high', fixAvailable: true });
    const v = gate(onlyFixable, [r]);
    expect(v.decision).toBe('block');
    expect(v.checks.find((c) => c.name === 'vulnerabilities')?.reason).toContain('(fix available)');
    // Control: NoFixAvailable with no version is still passed over.
    const none = mapDefenderRows([groupedRow({ fixStatus: 'NoFixAvailable', fixedVersion: '' })], IMAGE);
    expect(gate(onlyFixable, [none]).decision).toBe('release');
  });

  it('individual row: CvesDetails FixStatus FixAvailable with an empty FixedVersion blocks; mdvm FixStatus when the CVE has none', () => {
    const cve = { Severity: 'High', FixStatus: 'FixAvailable', FixedVersion: '' };
    const r = mapDefenderRows([individualRow(cve)], IMAGE);
    expect(r.status === 'ready' && r.findings[0]).toMatchObject({ severity: 'high', fixAvailable: true });
    expect(r.status === 'ready' && r.findings[0].fixedVersion).toBeUndefined();
    expect(gate(onlyFixable, [r]).decision).toBe('block');
    const viaScanner = mapDefenderRows(
      [individualRow({ Severity: 'High' }, { FixStatus: 'FixAvailable', FixedVersion: '' })],
      IMAGE,
    );
    expect(gate(onlyFixable, [viaScanner]).decision).toBe('block');
    const noFix = mapDefenderRows([individualRow({ Severity: 'High', FixStatus: 'NoFixAvailable' })], IMAGE);
    expect(gate(onlyFixable, [noFix]).decision).toBe('release');
  });

  it('a CVSS entry with only a vector gives the severity (individual Cvss[].Value, grouped cvss["3.0"]/["2.0"])', () => {
    const individual = mapDefenderRows(
      [
        individualRow({
          Cvss: [{ Key: '3', Value: { CvssVectorString: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' } }],
        }),
      ],
      IMAGE,
    );
    expect(individual.status === 'ready' && individual.findings[0].severity).toBe('critical');
    const grouped = (cvss: unknown) => {
      const row = groupedRow({}, { cvss });
      (row.properties as { status: Record<string, unknown> }).status = { code: 'Unhealthy' };
      const r = mapDefenderRows([row], IMAGE);
      return r.status === 'ready' ? r.findings[0].severity : undefined;
    };
    expect(grouped({ '3.0': { cvssVectorString: 'CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' } })).toBe('critical');
    expect(grouped({ '2.0': { base: 10 } })).toBe('high');
    expect(grouped({ '2.0': { cvssVectorString: 'AV:N/AC:L/Au:N/C:C/I:C/A:C' }, '3.0': null })).toBe('high');
    expect(grouped({ '3.0': { cvssVectorString: 'CVSS:3.0/AV:Q' } })).toBe('unknown');
  });
});
