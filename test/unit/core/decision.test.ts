import fc from 'fast-check';
import {
  blockedVerdict,
  decide,
  scanComplete,
  type DecideInput,
  type ManifestEvidence,
} from '../../../src/core/decision';
import type { ErrorCode } from '../../../src/core/errors';
import { loadPolicy } from '../../../src/core/policy';
import type { Policy } from '../../../src/core/policyTypes';
import type {
  Check,
  Finding,
  FindingsResult,
  FindingsSourceName,
  ImageId,
  Severity,
  SignatureResult,
} from '../../../src/core/types';

const DIGEST = `sha256:${'ab'.repeat(32)}`;
const AMD64 = `sha256:${'a1'.repeat(32)}`;
const ARM64 = `sha256:${'b2'.repeat(32)}`;
const IMAGE: ImageId = { registry: 'contosoacrprod.azurecr.io', repository: 'contoso/api', digest: DIGEST };
const NOW = new Date('2026-11-22T12:00:00Z');

function policyWith(vulnerabilities: string, signatures = '{ required: false }'): Policy {
  return loadPolicy(`version: 1
registries: [contosoacrprod.azurecr.io]
gate:
  - scope: "contoso/*"
    vulnerabilities: ${vulnerabilities}
    signatures: ${signatures}
`);
}

const DEFAULT_POLICY = policyWith('{ block: [critical, high] }');

const finding = (id: string, severity: Severity, extra: Partial<Finding> = {}): Finding => ({
  id,
  severity,
  package: 'openssl',
  installedVersion: '3.0.1',
  fixedVersion: '3.0.2',
  source: 'defender',
  ...extra,
});
const ready = (source: FindingsSourceName, findings: Finding[] = []): FindingsResult => ({
  source,
  status: 'ready',
  findings,
  detail: `${source} scanned`,
});
const pending = (source: FindingsSourceName): FindingsResult => ({ source, status: 'pending', detail: 'no rows yet' });
const failed = (source: FindingsSourceName, code: ErrorCode = 'UPSTREAM'): FindingsResult => ({
  source,
  status: 'error',
  code,
  detail: 'Resource Graph answered 400',
});
const sig = (
  status: SignatureResult['status'],
  reason = `signature ${status}`,
  level: NonNullable<SignatureResult['enforcement']>['level'] = 'strict',
): SignatureResult => ({
  status,
  reason,
  signatures: [],
  enforcement: {
    trustPolicy: 'acme',
    level,
    authenticity: level === 'audit' ? 'log' : level === 'skip' ? 'skip' : 'enforce',
  },
});

function input(
  overrides: Partial<Omit<DecideInput, 'policy'>> & {
    policy?: Policy;
    findings?: FindingsResult[];
    signatures?: SignatureResult;
  } = {},
): DecideInput {
  const policy = overrides.policy ?? DEFAULT_POLICY;
  const { findings, signatures, ...rest } = overrides;
  return {
    policy,
    rule: policy.gate[0],
    image: IMAGE,
    tag: 'v1',
    sources: ['defender', 'reports'],
    manifests: [
      {
        digest: DIGEST,
        findings: findings ?? [ready('defender'), ready('reports')],
        signatures: signatures ?? sig('inconclusive'),
      },
    ],
    deadlinePassed: false,
    now: NOW,
    ...rest,
  };
}

const check = (checks: Check[], name: string, manifest?: string): Check => {
  const found = checks.find((c) => c.name === name && c.manifest === manifest);
  if (!found)
    throw new Error(
      `no ${name} check${manifest ? ` for ${manifest}` : ''} in ${JSON.stringify(checks.map((c) => c.name))}`,
    );
  return found;
};

describe('decide', () => {
  it('releases a clean image and says why', () => {
    const v = decide(input());
    expect(v.decision).toBe('release');
    expect(v.summary).toBe('released: 0 blocking findings, 0 other findings; signatures not required');
    expect(v.rule).toBe('gate[0] scope "contoso/*"');
    expect(v.policy).toEqual({ version: 1, hash: DEFAULT_POLICY.hash });
    expect(v.decidedAt).toBe('2026-11-22T12:00:00.000Z');
    expect(v.image).toEqual(IMAGE);
    expect(v.tag).toBe('v1');
    expect(check(v.checks, 'scan:defender').status).toBe('pass');
    expect(check(v.checks, 'scan:reports').status).toBe('pass');
    expect(check(v.checks, 'vulnerabilities').status).toBe('pass');
    expect(check(v.checks, 'signatures').status).toBe('skip');
    expect(v.checks.every((c) => c.manifest === undefined)).toBe(true);
  });

  it('blocks a vulnerable image naming every blocking finding and the policy line', () => {
    const v = decide(
      input({
        findings: [
          ready('defender', [
            finding('CVE-2024-1', 'critical'),
            finding('CVE-2024-2', 'high', { package: 'zlib', installedVersion: '1.2', fixedVersion: undefined }),
          ]),
          ready('reports'),
        ],
      }),
    );
    expect(v.decision).toBe('block');
    expect(v.summary).toBe('blocked: CVE-2024-1 (critical) in openssl; CVE-2024-2 (high) in zlib');
    const vuln = check(v.checks, 'vulnerabilities');
    expect(vuln.status).toBe('fail');
    expect(vuln.reason).toContain('gate[0].vulnerabilities.block: critical, high');
    expect(vuln.reason).toContain('CVE-2024-1 (critical) in openssl 3.0.1 -> 3.0.2 [defender]');
    expect(vuln.reason).toContain('CVE-2024-2 (high) in zlib 1.2 (no fix) [defender]');
    expect(vuln.details?.blocking).toHaveLength(2);
    expect(v.findingCounts).toEqual({ critical: 1, high: 1 });
  });

  it('counts findings below the threshold without blocking', () => {
    const v = decide(
      input({
        findings: [
          ready('defender', [finding('CVE-1', 'medium'), finding('CVE-2', 'low', { package: 'curl' })]),
          ready('reports'),
        ],
      }),
    );
    expect(v.decision).toBe('release');
    expect(v.findingCounts).toEqual({ medium: 1, low: 1 });
    expect(v.summary).toBe('released: 0 blocking findings, 2 other findings; signatures not required');
    expect(check(v.checks, 'vulnerabilities').reason).toContain('2 below the block threshold');
  });

  it('lists every finding in the details, below the threshold too, with what the policy made of it', () => {
    const policy = policyWith(`
      block: [critical, high]
      onlyFixable: true
      exceptions:
        - { id: CVE-9, expires: 2026-01-31, reason: "expired" }
        - { id: CVE-1, expires: 2027-01-31, reason: "in force" }`);
    const v = decide(
      input({
        policy,
        findings: [
          ready('defender', [
            finding('CVE-1', 'critical'),
            finding('CVE-9', 'high', { severitySource: 'nvd' }),
            finding('CVE-3', 'high', { package: 'zlib', fixedVersion: undefined }),
            finding('CVE-4', 'low', { package: 'apt' }),
          ]),
          ready('reports', [finding('CVE-4', 'low', { package: 'apt', source: 'sarif:sha256:aa' })]),
        ],
      }),
    );
    const listed = check(v.checks, 'vulnerabilities').details?.findings as Array<Record<string, unknown>>;
    expect(listed.map((f) => [f.id, f.status])).toEqual([
      ['CVE-1', 'excepted'],
      ['CVE-3', 'passed-over'],
      ['CVE-9', 'blocking'],
      ['CVE-4', 'below-threshold'],
    ]);
    expect(listed[0]).toMatchObject({
      exception: 'gate[0].vulnerabilities.exceptions[1]',
      exceptionExpires: '2027-01-31',
    });
    expect(listed[2]).toMatchObject({
      severitySource: 'nvd',
      package: 'openssl',
      installedVersion: '3.0.1',
      fixedVersion: '3.0.2',
      exception: 'gate[0].vulnerabilities.exceptions[0]',
      exceptionExpired: '2026-01-31',
    });
    expect(listed[3].sources).toEqual(['defender', 'sarif:sha256:aa']);
  });

  it('keeps the worst 100 findings in the details and counts the rest', () => {
    const many = Array.from({ length: 150 }, (_, i) =>
      finding(`CVE-${String(i).padStart(3, '0')}`, i < 10 ? 'high' : 'low'),
    );
    const v = decide(input({ findings: [ready('defender', many), ready('reports')] }));
    const details = check(v.checks, 'vulnerabilities').details as Record<string, unknown>;
    const listed = details.findings as Array<{ severity: string }>;
    expect(listed).toHaveLength(100);
    expect(listed.slice(0, 10).every((f) => f.severity === 'high')).toBe(true);
    expect(details.findingsNotListed).toBe(50);
  });

  it('de-duplicates across sources by (id, package), keeping the higher severity', () => {
    const v = decide(
      input({
        findings: [
          ready('defender', [finding('CVE-2024-1', 'high', { fixedVersion: undefined })]),
          ready('reports', [
            finding('cve-2024-1', 'critical', { source: 'sarif:sha256:r1', fixedVersion: undefined }),
            finding('CVE-2024-1', 'low', { package: 'libssl3', source: 'sarif:sha256:r1' }),
          ]),
        ],
      }),
    );
    const vuln = check(v.checks, 'vulnerabilities');
    expect(vuln.details?.blocking).toEqual([
      expect.objectContaining({ id: 'cve-2024-1', severity: 'critical', sources: ['defender', 'sarif:sha256:r1'] }),
    ]);
    expect(v.findingCounts).toEqual({ critical: 1, low: 1 });
  });

  it('keeps a fixed version known to either source when merging (onlyFixable cannot be dodged)', () => {
    const policy = policyWith('{ block: [critical], onlyFixable: true }');
    const v = decide(
      input({
        policy,
        findings: [
          ready('defender', [finding('CVE-9', 'critical', { fixedVersion: undefined })]),
          ready('reports', [finding('CVE-9', 'high', { source: 'sarif:x', fixedVersion: '3.0.9' })]),
        ],
      }),
    );
    expect(v.decision).toBe('block');
    expect(check(v.checks, 'vulnerabilities').reason).toContain('CVE-9 (critical) in openssl 3.0.1 -> 3.0.9');
  });

  describe('exceptions', () => {
    const policy = policyWith(`
      block: [critical, high]
      exceptions:
        - { id: CVE-2024-9, expires: 2026-01-31, reason: "old, expired" }
        - { id: CVE-2024-1, expires: 2027-01-31, reason: "not reachable from the API" }
        - { id: CVE-2024-5, expires: 2027-01-31, reason: "only zlib", packages: [zlib] }`);

    it('an exception in force removes the finding from blocking and is recorded', () => {
      const v = decide(
        input({ policy, findings: [ready('defender', [finding('CVE-2024-1', 'critical')]), ready('reports')] }),
      );
      expect(v.decision).toBe('release');
      const ex = check(v.checks, 'exceptions');
      expect(ex.status).toBe('pass');
      expect(ex.reason).toContain(
        'exception gate[0].vulnerabilities.exceptions[1] for CVE-2024-1 applies until 2027-01-31: not reachable from the API',
      );
      expect(v.findingCounts).toEqual({});
      expect(v.summary).toBe('released: 0 blocking findings, 0 other findings, 1 excepted; signatures not required');
    });

    it('an expired exception does not apply and the verdict says so', () => {
      const v = decide(
        input({ policy, findings: [ready('defender', [finding('CVE-2024-9', 'high')]), ready('reports')] }),
      );
      expect(v.decision).toBe('block');
      const note =
        'exception gate[0].vulnerabilities.exceptions[0] for CVE-2024-9 expired 2026-01-31; it no longer applies';
      expect(check(v.checks, 'vulnerabilities').reason).toContain(note);
      expect(check(v.checks, 'exceptions').reason).toContain(note);
      expect(v.summary).toBe('blocked: CVE-2024-9 (high) in openssl (exception expired)');
    });

    it('expires at the end of the UTC day named', () => {
      const lastMoment = new Date(Date.UTC(2027, 0, 31, 23, 59, 59, 999));
      const nextDay = new Date(Date.UTC(2027, 1, 1));
      const findings = [ready('defender', [finding('CVE-2024-1', 'critical')]), ready('reports')];
      expect(decide(input({ policy, findings, now: lastMoment })).decision).toBe('release');
      expect(decide(input({ policy, findings, now: nextDay })).decision).toBe('block');
    });

    it('an exception limited to packages applies to those packages only', () => {
      const zlib = decide(
        input({
          policy,
          findings: [ready('defender', [finding('CVE-2024-5', 'critical', { package: 'zlib' })]), ready('reports')],
        }),
      );
      expect(zlib.decision).toBe('release');
      const openssl = decide(
        input({ policy, findings: [ready('defender', [finding('CVE-2024-5', 'critical')]), ready('reports')] }),
      );
      expect(openssl.decision).toBe('block');
      const noPackage = decide(
        input({
          policy,
          findings: [ready('defender', [finding('CVE-2024-5', 'critical', { package: undefined })]), ready('reports')],
        }),
      );
      expect(noPackage.decision).toBe('block');
    });
  });

  it('onlyFixable passes over findings without a fixed version and says how many', () => {
    const policy = policyWith('{ block: [critical, high], onlyFixable: true }');
    const v = decide(
      input({
        policy,
        findings: [
          ready('defender', [
            finding('CVE-1', 'critical', { fixedVersion: undefined }),
            finding('CVE-2', 'high', { package: 'zlib', fixedVersion: undefined }),
          ]),
          ready('reports'),
        ],
      }),
    );
    expect(v.decision).toBe('release');
    expect(check(v.checks, 'vulnerabilities').reason).toContain(
      '2 without a fixed version passed over (gate[0].vulnerabilities.onlyFixable)',
    );
    expect(v.findingCounts).toEqual({ critical: 1, high: 1 });
    const fixable = decide(
      input({ policy, findings: [ready('defender', [finding('CVE-1', 'critical')]), ready('reports')] }),
    );
    expect(fixable.decision).toBe('block');
  });

  describe('waiting for scans', () => {
    const all = policyWith('{ require: all }');
    const any = policyWith('{ require: any }');

    it('pending before the deadline is inconclusive, never clean', () => {
      const v = decide(input({ policy: all, findings: [ready('defender'), pending('reports')] }));
      expect(v.decision).toBe('block');
      expect(check(v.checks, 'scan:reports')).toMatchObject({
        status: 'inconclusive',
        reason: expect.stringContaining('no results from reports yet; unscanned is never clean'),
      });
      expect(check(v.checks, 'vulnerabilities').status).toBe('inconclusive');
      expect(v.summary).toBe('blocked: reports inconclusive; vulnerabilities inconclusive');
    });

    it('pending after the deadline is inconclusive and says so', () => {
      const v = decide(input({ policy: all, deadlinePassed: true, findings: [ready('defender'), pending('reports')] }));
      expect(v.decision).toBe('block');
      expect(check(v.checks, 'scan:reports').reason).toContain(
        'no results from reports by the deadline; unscanned is never clean',
      );
    });

    it('require any: a pending source is skipped when another is ready', () => {
      const v = decide(input({ policy: any, deadlinePassed: true, findings: [pending('defender'), ready('reports')] }));
      expect(v.decision).toBe('release');
      expect(check(v.checks, 'scan:defender')).toMatchObject({
        status: 'skip',
        reason: expect.stringContaining('reports ready and gate[0].vulnerabilities.require is any'),
      });
    });

    it('require any: nothing ready blocks', () => {
      const v = decide(
        input({ policy: any, deadlinePassed: true, findings: [pending('defender'), pending('reports')] }),
      );
      expect(v.decision).toBe('block');
      expect(check(v.checks, 'vulnerabilities').reason).toContain('no findings source is ready');
    });

    it('a missing result counts as pending', () => {
      const v = decide(input({ policy: all, deadlinePassed: true, findings: [ready('defender')] }));
      expect(v.decision).toBe('block');
      expect(check(v.checks, 'scan:reports').status).toBe('inconclusive');
    });

    it('require all: a blocking finding from the ready source still fails', () => {
      const v = decide(
        input({ policy: all, findings: [ready('defender', [finding('CVE-1', 'critical')]), pending('reports')] }),
      );
      expect(check(v.checks, 'vulnerabilities').status).toBe('fail');
      expect(v.summary).toBe('blocked: CVE-1 (critical) in openssl; reports inconclusive');
    });

    it('a source error is inconclusive with its code, even with require any', () => {
      const v = decide(input({ policy: any, findings: [failed('defender', 'REGISTRY_AUTH'), ready('reports')] }));
      expect(v.decision).toBe('block');
      expect(check(v.checks, 'scan:defender')).toMatchObject({
        status: 'inconclusive',
        reason: 'defender failed (REGISTRY_AUTH): Resource Graph answered 400',
        details: { code: 'REGISTRY_AUTH' },
      });
      expect(v.summary).toBe('blocked: defender inconclusive (REGISTRY_AUTH)');
    });

    it('ignores results from sources that are not in effect', () => {
      const v = decide(input({ sources: ['reports'], findings: [failed('defender'), ready('reports')] }));
      expect(v.decision).toBe('release');
      expect(v.checks.some((c) => c.name === 'scan:defender')).toBe(false);
    });

    it('no sources at all cannot release', () => {
      const v = decide(input({ sources: [] }));
      expect(v.decision).toBe('block');
      expect(check(v.checks, 'vulnerabilities').reason).toContain('none configured');
    });
  });

  it('judges each platform of an index and names the failing one', () => {
    const manifests: ManifestEvidence[] = [
      {
        digest: AMD64,
        platform: 'linux/amd64',
        findings: [ready('defender'), ready('reports')],
        signatures: sig('verified'),
      },
      {
        digest: ARM64,
        platform: 'linux/arm64',
        findings: [ready('defender', [finding('CVE-2024-7', 'critical')]), ready('reports')],
        signatures: sig('verified'),
      },
    ];
    const v = decide(input({ manifests, policy: policyWith('{}', '{ required: true }') }));
    expect(v.decision).toBe('block');
    expect(check(v.checks, 'vulnerabilities', AMD64).status).toBe('pass');
    const arm = check(v.checks, 'vulnerabilities', ARM64);
    expect(arm.status).toBe('fail');
    expect(arm.reason).toContain(`platform linux/arm64 (${ARM64})`);
    expect(v.checks.every((c) => c.manifest === AMD64 || c.manifest === ARM64)).toBe(true);
    expect(v.summary).toBe('blocked: CVE-2024-7 (critical) in openssl');
  });

  it('counts a finding shared by platforms once', () => {
    const shared = [ready('defender', [finding('CVE-1', 'medium')]), ready('reports')];
    const manifests: ManifestEvidence[] = [
      { digest: AMD64, platform: 'linux/amd64', findings: shared, signatures: sig('skipped') },
      { digest: ARM64, platform: 'linux/arm64', findings: shared, signatures: sig('skipped') },
    ];
    const v = decide(input({ manifests }));
    expect(v.decision).toBe('release');
    expect(v.findingCounts).toEqual({ medium: 1 });
  });

  describe('signatures', () => {
    const required = policyWith('{}', '{ required: true, trustPolicy: contoso-images }');
    it.each<[SignatureResult['status'], Check['status'], string]>([
      ['verified', 'pass', 'release'],
      ['failed', 'fail', 'block'],
      ['inconclusive', 'inconclusive', 'block'],
      ['skipped', 'inconclusive', 'block'],
    ])('required and %s -> %s', (status, checkStatus, decision) => {
      const v = decide(input({ policy: required, signatures: sig(status, 'no signature from a trusted identity') }));
      const c = check(v.checks, 'signatures');
      expect(c.status).toBe(checkStatus);
      expect(c.reason).toBe(
        status === 'verified'
          ? 'signatures verified (strict, policy entry acme): no signature from a trusted identity'
          : `signatures ${status} (trust policy contoso-images): no signature from a trusted identity`,
      );
      expect(v.decision).toBe(decision);
    });

    // Issue 17 case 4: under notation's `audit` level authenticity is only logged, so a signature from any
    // key comes back "verified"; that never satisfies `required: true`, and the verdict names the level.
    it.each<['audit' | 'skip']>([['audit']])('required and verified at level %s -> fail naming the level', (level) => {
      const v = decide(input({ policy: required, signatures: sig('verified', 'audit only: intact', level) }));
      const c = check(v.checks, 'signatures');
      expect(c.status).toBe('fail');
      expect(c.reason).toBe(
        'signatures audit only (authenticity not enforced: audit, policy entry acme): audit only: intact; ' +
          'gate[0].signatures.required needs a trust policy entry at level strict or permissive',
      );
      expect(v.decision).toBe('block');
      expect(v.summary).toBe('blocked: signatures audit only: authenticity not enforced (trust policy acme)');
    });

    it('required: permissive satisfies it (named), an authenticity override to log or a missing level does not', () => {
      const permissive = decide(input({ policy: required, signatures: sig('verified', 'ok', 'permissive') }));
      expect(permissive.decision).toBe('release');
      expect(permissive.summary).toBe(
        'released: 0 blocking findings, 0 other findings; signatures verified (permissive, policy entry acme)',
      );
      const logged: SignatureResult = {
        ...sig('verified'),
        enforcement: { trustPolicy: 'acme', level: 'strict', authenticity: 'log' },
      };
      expect(decide(input({ policy: required, signatures: logged })).decision).toBe('block');
      const unknown: SignatureResult = { status: 'verified', reason: 'ok', signatures: [] };
      const u = decide(input({ policy: required, signatures: unknown }));
      expect(u.decision).toBe('block');
      expect(check(u.checks, 'signatures').reason).toContain('level unknown');
    });

    it('not required: an audit-only result is reported as such and never shown as verified', () => {
      const v = decide(input({ signatures: sig('verified', 'intact', 'audit') }));
      expect(check(v.checks, 'signatures').status).toBe('skip');
      expect(check(v.checks, 'signatures').reason).toMatch(/^signatures audit only \(authenticity not enforced/);
      expect(v.summary).toBe('released: 0 blocking findings, 0 other findings; signatures not required');
    });

    it('summary names a signature problem', () => {
      expect(decide(input({ policy: required, signatures: sig('failed') })).summary).toBe('blocked: signatures failed');
      expect(decide(input({ policy: required, signatures: sig('inconclusive') })).summary).toBe(
        'blocked: signatures inconclusive',
      );
      expect(decide(input({ policy: required, signatures: sig('verified') })).summary).toBe(
        'released: 0 blocking findings, 0 other findings; signatures verified (strict, policy entry acme)',
      );
    });

    it.each<[SignatureResult['status'], Check['status']]>([
      ['verified', 'pass'],
      ['failed', 'skip'],
      ['inconclusive', 'skip'],
      ['skipped', 'skip'],
    ])('not required and %s -> %s', (status, checkStatus) => {
      const v = decide(input({ signatures: sig(status) }));
      expect(check(v.checks, 'signatures').status).toBe(checkStatus);
      expect(check(v.checks, 'signatures').reason).toContain('not required by gate[0].signatures');
      expect(v.decision).toBe('release');
    });
  });

  it('blocks when no gate rule matches', () => {
    const v = decide(input({ rule: undefined }));
    expect(v.decision).toBe('block');
    expect(v.rule).toBe('none');
    expect(v.checks).toEqual([
      { name: 'policy', status: 'fail', reason: 'no gate rule matches contoso/api; unmatched images are blocked' },
    ]);
    expect(v.summary).toBe('blocked: no gate rule matches contoso/api');
  });

  it('blocks when there is no manifest evidence', () => {
    const v = decide(input({ manifests: [] }));
    expect(v.decision).toBe('block');
    expect(check(v.checks, 'manifest').status).toBe('inconclusive');
  });

  it('keeps upstream checks, and a failing one blocks', () => {
    const kept: Check = { name: 'manifest', status: 'pass', reason: 'resolved' };
    expect(decide(input({ extraChecks: [kept] })).checks[0]).toEqual(kept);
    const bad: Check = { name: 'manifest', status: 'inconclusive', reason: 'referrers API answered 500' };
    const v = decide(input({ extraChecks: [bad] }));
    expect(v.decision).toBe('block');
    expect(v.summary).toBe('blocked: manifest inconclusive: referrers API answered 500');
  });
});

describe('scanComplete', () => {
  const all = policyWith('{ require: all }').gate[0];
  const any = policyWith('{ require: any }').gate[0];
  const sources: FindingsSourceName[] = ['defender', 'reports'];
  it.each<[string, typeof all, FindingsResult[], boolean]>([
    ['all: both ready', all, [ready('defender'), ready('reports')], true],
    ['all: one pending', all, [ready('defender'), pending('reports')], false],
    ['all: one missing', all, [ready('defender')], false],
    ['all: error and ready', all, [failed('defender'), ready('reports')], true],
    ['any: one ready', any, [pending('defender'), ready('reports')], true],
    ['any: both pending', any, [pending('defender'), pending('reports')], false],
    ['any: error and pending', any, [failed('defender'), pending('reports')], false],
    ['any: both errors', any, [failed('defender'), failed('reports')], true],
  ])('%s -> %s', (_w, rule, findings, expected) => {
    expect(scanComplete({ rule, sources, findings })).toBe(expected);
  });
});

describe('blockedVerdict', () => {
  it('is a block with the one check, with or without a policy', () => {
    const c: Check = { name: 'manifest', status: 'fail', reason: 'manifest not found (NOT_FOUND)' };
    const v = blockedVerdict({ policy: DEFAULT_POLICY, image: IMAGE, tag: 'v1', now: NOW, check: c });
    expect(v).toEqual({
      image: IMAGE,
      tag: 'v1',
      decision: 'block',
      summary: 'blocked: manifest fail: manifest not found (NOT_FOUND)',
      checks: [c],
      findingCounts: {},
      rule: 'none',
      policy: { version: 1, hash: DEFAULT_POLICY.hash },
      decidedAt: NOW.toISOString(),
    });
    const noPolicy = blockedVerdict({ policy: undefined, image: IMAGE, now: NOW, check: { ...c, status: 'pass' } });
    expect(noPolicy.decision).toBe('block');
    expect(noPolicy.policy).toEqual({ version: 0, hash: 'none' });
    expect(noPolicy.tag).toBeUndefined();
  });
});

describe('decide: fail-closed properties', () => {
  const severity = fc.constantFrom<Severity>('critical', 'high', 'medium', 'low', 'negligible', 'unknown');
  const findingArb = fc.record({
    id: fc.constantFrom('CVE-1', 'CVE-2', 'CVE-3', 'GHSA-x'),
    severity,
    package: fc.option(fc.constantFrom('openssl', 'zlib'), { nil: undefined }),
    fixedVersion: fc.option(fc.constant('9.9'), { nil: undefined }),
    source: fc.constantFrom('defender', 'sarif:r'),
  });
  const resultArb = (source: FindingsSourceName): fc.Arbitrary<FindingsResult> =>
    fc.oneof(
      fc.array(findingArb, { maxLength: 4 }).map((findings) => ready(source, findings)),
      fc.constant(pending(source)),
      fc.constant(failed(source)),
    );
  const sigArb = fc
    .constantFrom<SignatureResult['status']>('verified', 'failed', 'inconclusive', 'skipped')
    .map((s) => sig(s));
  const manifestArb = fc.record({
    digest: fc.constantFrom(AMD64, ARM64, DIGEST),
    platform: fc.constantFrom('linux/amd64', 'linux/arm64'),
    findings: fc.tuple(resultArb('defender'), resultArb('reports')).map(([a, b]) => [a, b]),
    signatures: sigArb,
  });
  const policies = [
    policyWith('{ require: any }'),
    policyWith('{ require: all, onlyFixable: true }'),
    policyWith(
      '{ block: [critical], exceptions: [{ id: CVE-1, expires: 2030-01-01, reason: r }] }',
      '{ required: true }',
    ),
    policyWith('{ block: [], sources: [reports] }', '{ required: true }'),
  ];
  const inputArb = fc.record({
    policy: fc.constantFrom(...policies),
    manifests: fc.array(manifestArb, { minLength: 1, maxLength: 3 }),
    deadlinePassed: fc.boolean(),
    sources: fc.constantFrom<FindingsSourceName[]>(['defender', 'reports'], ['reports'], ['defender']),
  });

  it('never releases when an effective source errored', () => {
    fc.assert(
      fc.property(inputArb, ({ policy, manifests, deadlinePassed, sources }) => {
        const v = decide({ policy, rule: policy.gate[0], image: IMAGE, sources, manifests, deadlinePassed, now: NOW });
        const errored = manifests.some((m) =>
          m.findings.some((r) => r.status === 'error' && sources.includes(r.source)),
        );
        if (errored) expect(v.decision).toBe('block');
      }),
      { numRuns: 500 },
    );
  });

  it('never releases when signatures are required and not verified', () => {
    fc.assert(
      fc.property(inputArb, ({ policy, manifests, deadlinePassed, sources }) => {
        const v = decide({ policy, rule: policy.gate[0], image: IMAGE, sources, manifests, deadlinePassed, now: NOW });
        if (policy.gate[0].signatures.required && manifests.some((m) => m.signatures.status !== 'verified'))
          expect(v.decision).toBe('block');
      }),
      { numRuns: 500 },
    );
  });

  it('never releases when no effective source is ready for some manifest, and always says why it blocked', () => {
    fc.assert(
      fc.property(inputArb, ({ policy, manifests, deadlinePassed, sources }) => {
        const v = decide({ policy, rule: policy.gate[0], image: IMAGE, sources, manifests, deadlinePassed, now: NOW });
        const unscanned = manifests.some(
          (m) => !m.findings.some((r) => r.status === 'ready' && sources.includes(r.source)),
        );
        if (unscanned) expect(v.decision).toBe('block');
        expect(v.decision === 'release').toBe(v.checks.every((c) => c.status === 'pass' || c.status === 'skip'));
        expect(v.summary.startsWith(v.decision === 'release' ? 'released: ' : 'blocked: ')).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
