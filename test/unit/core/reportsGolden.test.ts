/**
 * The report parser against REAL scanner output: the golden files Trivy and Grype compare their own output
 * with, read in place from the Go module cache (scripts/ensure-tools.sh downloads the pinned modules; nothing
 * is copied into this project). Skipped outside CI when Go or the modules are missing; fails under CI=true.
 */
import { describeRequiring } from '../../support/required';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { decide } from '../../../src/core/decision';
import { loadPolicy } from '../../../src/core/policy';
import { parseReport, type ParsedReport } from '../../../src/core/reports';
import type { Finding } from '../../../src/core/types';

/** Pinned as in scripts/ensure-tools.sh. */
const TRIVY = 'github.com/aquasecurity/trivy@v0.67.2';
const GRYPE = 'github.com/anchore/grype@v0.100.0';
const REPORT = `sha256:${'e'.repeat(64)}`;
const SARIF = 'application/sarif+json';
const CDX = 'application/vnd.cyclonedx+json';

function moduleCache(): string | undefined {
  try {
    return execFileSync('go', ['env', 'GOMODCACHE'], { encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}

const cache = moduleCache();
const missing = !cache
  ? 'go is not installed'
  : [TRIVY, GRYPE]
      .filter((m) => !existsSync(path.join(cache, m)))
      .map((m) => `${m} is not in the Go module cache`)
      .join('; ');
// One rule for every test that needs something installed: skip with one line outside CI, fail under CI.
const describeIfReady = describeRequiring({
  present: !missing,
  what: missing || 'the Trivy and Grype golden files',
  how: 'scripts/ensure-tools.sh downloads them into the Go module cache',
});

const trivy = (name: string): string => path.join(cache ?? '', TRIVY, 'integration/testdata', name);
const grype = (rel: string): string => path.join(cache ?? '', GRYPE, 'grype/presenter', rel);

/** Parses a golden file; the subject digest is the one the report names (if any), as the registry would bind it. */
function parseGolden(file: string, mediaType: string, ratingSources?: string[]): Extract<ParsedReport, { ok: true }> {
  const bytes = readFileSync(file);
  const base = {
    mediaType,
    bytes,
    reportDigest: REPORT,
    nowMs: Date.now(),
    maxAgeMs: Number.MAX_SAFE_INTEGER,
    ...(ratingSources ? { ratingSources } : {}),
  };
  let r = parseReport({ ...base, imageDigest: `sha256:${'0'.repeat(64)}` });
  if (!r.ok && r.code === 'REPORT_SUBJECT_MISMATCH') {
    r = parseReport({ ...base, imageDigest: /report names (sha256:[a-f0-9]{64})/.exec(r.detail)![1] });
  }
  if (!r.ok) throw new Error(`${path.basename(file)}: ${r.code}: ${r.detail}`);
  return r;
}

const find = (findings: Finding[], id: string, pkg?: string): Finding | undefined =>
  findings.find((f) => f.id === id && (pkg === undefined || f.package === pkg));

describeIfReady('parseReport over real Trivy and Grype output (Go module golden files)', () => {
  it('Trivy CycloneDX 1.6: every fixed version of a recommendation ("6.0.3.1, 5.2.4.3"), so onlyFixable blocks it', () => {
    const r = parseGolden(trivy('fluentd-multiple-lockfiles-short.cdx.json.golden'), CDX);
    expect(find(r.findings, 'CVE-2020-8165', 'activesupport')).toMatchObject({
      severity: 'critical',
      installedVersion: '6.0.2.1',
      fixedVersion: '6.0.3.1, 5.2.4.3',
    });
    expect(find(r.findings, 'CVE-2019-18224', 'libidn2-0')?.fixedVersion).toBe('2.0.5-1+deb10u1');
    expect(find(r.findings, 'CVE-2019-18276', 'bash')?.fixedVersion).toBeUndefined();

    const policy = loadPolicy(
      'version: 1\nregistries: [r.test]\ngate:\n  - scope: "**"\n    vulnerabilities: { block: [critical], onlyFixable: true, sources: [reports] }\n',
      't',
    );
    const verdict = decide({
      policy,
      rule: policy.gate[0],
      image: { registry: 'r.test', repository: 'app', digest: `sha256:${'1'.repeat(64)}` },
      sources: ['reports'],
      manifests: [
        {
          digest: `sha256:${'1'.repeat(64)}`,
          findings: [{ source: 'reports', status: 'ready', findings: r.findings, tally: r.tally, detail: 'golden' }],
          signatures: { status: 'skipped', reason: '-', signatures: [] },
        },
      ],
      deadlinePassed: false,
      now: new Date(),
    });
    expect(verdict.decision).toBe('block');
    expect(verdict.checks.find((c) => c.name === 'vulnerabilities')?.reason).toContain(
      'CVE-2020-8165 (critical, rated by nvd) in activesupport 6.0.2.1 -> 6.0.3.1, 5.2.4.3',
    );
  });

  it("Trivy CycloneDX: the most severe rating by default; ratingSources [debian, nvd] takes the distribution's own", () => {
    const worst = parseGolden(trivy('fluentd-multiple-lockfiles-short.cdx.json.golden'), CDX);
    expect(find(worst.findings, 'CVE-2019-18276', 'bash')).toMatchObject({ severity: 'high' });
    const debianFirst = parseGolden(trivy('fluentd-multiple-lockfiles-short.cdx.json.golden'), CDX, ['debian', 'nvd']);
    expect(find(debianFirst.findings, 'CVE-2019-18276', 'bash')).toMatchObject({
      severity: 'low',
      severitySource: 'debian',
    });
    // No debian rating: nvd, the next listed source, decides (the more severe of its two ratings).
    expect(find(debianFirst.findings, 'CVE-2020-8165', 'activesupport')).toMatchObject({
      severity: 'critical',
      severitySource: 'nvd',
    });
  });

  it('Trivy CycloneDX (Maven, npm): packages from components, fixes from recommendations', () => {
    const pom = parseGolden(trivy('pom-cyclonedx.json.golden'), CDX);
    expect(pom.findings.map((f) => `${f.id} ${f.package} ${f.installedVersion} -> ${f.fixedVersion}`).sort()).toEqual([
      'CVE-2020-9548 jackson-databind 2.9.1 -> 2.9.10.4',
      'CVE-2021-20190 jackson-databind 2.9.1 -> 2.9.10.7',
    ]);
    const npm = parseGolden(trivy('npm-cyclonedx.json.golden'), CDX);
    expect(find(npm.findings, 'CVE-2019-11358', 'jquery')).toMatchObject({
      installedVersion: '3.3.9',
      fixedVersion: '3.4.0',
    });
  });

  it('Trivy BOM-Link refs without components (pkg/vex testdata): package names and versions from the linked purls', () => {
    const r = parseGolden(path.join(cache ?? '', TRIVY, 'pkg/vex/testdata/cyclonedx.json'), CDX);
    expect(r.findings.map((f) => `${f.id} ${f.package} ${f.installedVersion}`).sort()).toEqual([
      'CVE-2021-44228 spring-boot 2.6.0',
      'CVE-2022-27943 libstdc++6 12.3.0-1ubuntu1~22.04',
    ]);
  });

  it('Trivy SARIF: one finding per package, versions from the message', () => {
    const r = parseGolden(trivy('alpine-310.sarif.golden'), SARIF);
    expect(r.findings.map((f) => `${f.id} ${f.package} ${f.installedVersion} -> ${f.fixedVersion}`).sort()).toEqual([
      'CVE-2019-1549 libcrypto1.1 1.1.1c-r0 -> 1.1.1d-r0',
      'CVE-2019-1549 libssl1.1 1.1.1c-r0 -> 1.1.1d-r0',
      'CVE-2019-1551 libcrypto1.1 1.1.1c-r0 -> 1.1.1d-r2',
      'CVE-2019-1551 libssl1.1 1.1.1c-r0 -> 1.1.1d-r2',
    ]);
  });

  it('Grype SARIF: every "Fix Version" (1.2.1,2.1.3,3.4.0), CVSS over the textual severity', () => {
    const r = parseGolden(grype('sarif/test-fixtures/snapshot/TestSarifPresenter_image.golden'), SARIF);
    expect(find(r.findings, 'CVE-1999-0001', 'package-1')).toMatchObject({
      severity: 'high',
      installedVersion: '1.1.1',
      fixedVersion: '1.2.1, 2.1.3, 3.4.0',
    });
    expect(find(r.findings, 'CVE-1999-0002', 'package-2')).toMatchObject({
      severity: 'critical',
      installedVersion: '2.2.2',
    });
    expect(find(r.findings, 'CVE-1999-0002', 'package-2')?.fixedVersion).toBeUndefined();
  });

  it('Grype CycloneDX 1.6: EPSS and KEV ratings (method other) are not severities; purl refs give the package', () => {
    const r = parseGolden(grype('cyclonedx/test-fixtures/snapshot/TestCycloneDxPresenterImage.golden'), CDX);
    expect(find(r.findings, 'CVE-1999-0001', 'package-1')?.severity).toBe('high');
    expect(find(r.findings, 'CVE-1999-0002', 'package-2')).toMatchObject({
      severity: 'critical',
      installedVersion: '2.2.2',
    });
  });
});
