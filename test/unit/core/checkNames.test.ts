/**
 * Check names are a closed union and a scan check says its source in a field of its own. Verdicts recorded
 * before that field existed (JSON in the audit store, in orchestration outputs, in `quarantineDetails`) must read
 * and render the same: the source is derived from the name by a closed table, never by cutting the name.
 */
import { decide, type DecideInput } from '../../../src/core/decision';
import { loadPolicy } from '../../../src/core/policy';
import { verdictResultOf } from '../../../src/core/result';
import {
  SCAN_CHECK_SOURCE,
  isScanCheck,
  scanCheckName,
  scanCheckSource,
  type Check,
  type FindingsResult,
  type FindingsSourceName,
  type Verdict,
} from '../../../src/core/types';
import { verdictJson } from '../../../src/cli/render';
import { expectValidResult } from '../../support/resultSchema';

const DIGEST = `sha256:${'ab'.repeat(32)}`;
const IMAGE = { registry: 'contosoacrprod.azurecr.io', repository: 'contoso/api', digest: DIGEST };
const NOW = new Date('2026-11-22T12:00:00Z');

/** A blocked verdict exactly as acr-guard recorded it before scan checks carried `source` (JSON text, as stored). */
const OLD_VERDICT_JSON = `{
  "image": { "registry": "contosoacrprod.azurecr.io", "repository": "contoso/api", "digest": "${DIGEST}" },
  "decision": "block",
  "summary": "blocked: defender inconclusive (UPSTREAM)",
  "checks": [
    { "name": "scan:defender", "status": "inconclusive", "reason": "defender failed: UPSTREAM: Resource Graph answered 400",
      "details": { "code": "UPSTREAM" } },
    { "name": "scan:reports", "status": "pass", "reason": "reports: 0 findings", "details": { "findings": 0 } },
    { "name": "vulnerabilities", "status": "pass", "reason": "no blocking findings" },
    { "name": "signatures", "status": "skip", "reason": "signatures not required" }
  ],
  "findingCounts": {},
  "rule": "gate[0] scope \\"contoso/*\\"",
  "policy": { "version": 1, "hash": "abc" },
  "decidedAt": "2026-11-22T12:00:00.000Z"
}`;

const POLICY = loadPolicy(`version: 1
registries: [contosoacrprod.azurecr.io]
gate:
  - scope: "contoso/*"
    vulnerabilities: { block: [critical], sources: [defender, reports] }
    signatures: { required: false }
`);

/** A decision over one manifest with these findings, both sources effective. */
function decideInput(findings: FindingsResult[]): DecideInput {
  return {
    policy: { version: 1, hash: 'abc' },
    rule: POLICY.gate[0],
    image: IMAGE,
    sources: ['defender', 'reports'],
    manifests: [
      {
        digest: DIGEST,
        findings:
          findings.length > 0 ? findings : [{ source: 'reports', status: 'ready', findings: [], detail: 'none' }],
        signatures: { status: 'skipped', reason: 'none', signatures: [] },
      },
    ],
    deadlinePassed: true,
    now: NOW,
  };
}

describe('check names', () => {
  it('every findings source has a scan check name, and the table maps it back', () => {
    const sources: FindingsSourceName[] = ['defender', 'reports'];
    for (const source of sources) expect(SCAN_CHECK_SOURCE[scanCheckName(source)]).toBe(source);
    expect(Object.keys(SCAN_CHECK_SOURCE).sort()).toEqual(['scan:defender', 'scan:reports']);
  });

  it('a new verdict records the source on every scan check, beside the unchanged name', () => {
    const v = decide(
      decideInput([
        { source: 'defender', status: 'error', code: 'UPSTREAM', detail: 'Resource Graph answered 400' },
        { source: 'reports', status: 'ready', findings: [], detail: 'no report findings' },
      ]),
    );
    const scans = v.checks.filter(isScanCheck);
    expect(scans.map((c) => [c.name, c.source])).toEqual([
      ['scan:defender', 'defender'],
      ['scan:reports', 'reports'],
    ]);
    // The JSON keeps `name` as running instances wrote and read it; `source` is added, nothing renamed.
    expect(JSON.parse(JSON.stringify(scans[0]))).toMatchObject({ name: 'scan:defender', source: 'defender' });
    expect(v.summary).toContain('defender inconclusive (UPSTREAM)');
  });

  it('reads and renders a verdict recorded before scan checks had a source', () => {
    const old = JSON.parse(OLD_VERDICT_JSON) as Verdict;
    const scans = old.checks.filter(isScanCheck);
    expect(scans.map((c) => c.source)).toEqual([undefined, undefined]);
    expect(scans.map(scanCheckSource)).toEqual(['defender', 'reports']);
    expect(old.checks.filter((c) => !isScanCheck(c)).map((c) => c.name)).toEqual(['vulnerabilities', 'signatures']);

    // The CLI's JSON says the source for old records too.
    const json = verdictJson(old) as { checks: Array<{ name: string; source?: string }> };
    expect(json.checks.map((c) => [c.name, c.source])).toEqual([
      ['scan:defender', 'defender'],
      ['scan:reports', 'reports'],
      ['vulnerabilities', undefined],
      ['signatures', undefined],
    ]);
    // The envelope of a recorded verdict stays valid (its check has no `source`: the name says it).
    const envelope = verdictResultOf(old, 'contoso/api');
    expectValidResult(envelope);
    expect(envelope.checks.map((c) => c.name)).toEqual([
      'scan:defender',
      'scan:reports',
      'vulnerabilities',
      'signatures',
    ]);

    // A decision over an old check (kept upstream) words its source as it does a new one's.
    const again = decide({ ...decideInput([]), extraChecks: [scans[0]] });
    expect(again.decision).toBe('block');
    expect(again.summary).toBe('blocked: defender inconclusive (UPSTREAM)');
  });

  it('a check name outside the union (a record a later version wrote) is no scan check and renders as it is', () => {
    const later = JSON.parse(
      '{ "name": "scan:trivy", "status": "inconclusive", "reason": "trivy failed", "source": "trivy" }',
    ) as Check;
    const proto = JSON.parse('{ "name": "constructor", "status": "fail", "reason": "x" }') as Check;
    expect(isScanCheck(later)).toBe(false);
    expect(isScanCheck(proto)).toBe(false);
    const v = decide({ ...decideInput([]), extraChecks: [later] });
    expect(v.decision).toBe('block');
    expect(v.summary).toBe('blocked: scan:trivy inconclusive: trivy failed');
  });
});
