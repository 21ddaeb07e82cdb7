import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { loadPolicy, MAX_POLICY_BYTES } from '../../../src/core/policy';
import {
  applyModeFor,
  effectiveSources,
  findGateRule,
  findRegistry,
  findRetentionRule,
  isRegistryAllowed,
  promoteTarget,
} from '../../../src/core/policyLookup';
import { GuardError } from '../../../src/core/errors';

const SHIPPED = readFileSync(path.join(__dirname, '../../../policy/acr-guard.yaml'), 'utf8');

/** The shape from the brief; every key in it must keep working. */
const BASE = `version: 1
registries: [contosoacrprod.azurecr.io]
gate:
  - scope: "contoso/*"
    vulnerabilities:
      block: [critical, high]
      onlyFixable: false
      maxReportAge: 7d
      exceptions:
        - { id: CVE-2024-1234, expires: 2027-01-31, reason: "not reachable from the API" }
    signatures: { required: true, trustPolicy: contoso-images }
retention:
  - { scope: "contoso/*", keep: 5, olderThan: 30d, untagged: true, protectInUse: true }
`;

function policyError(text: string, field: string, source = 'policy.yaml'): GuardError {
  try {
    loadPolicy(text, source);
  } catch (err) {
    expect(err).toBeInstanceOf(GuardError);
    const e = err as GuardError;
    expect({ code: e.code, field: e.field }).toEqual({ code: 'INVALID_POLICY', field });
    expect(e.message.startsWith(`${source}: `)).toBe(true);
    return e;
  }
  throw new Error(`expected INVALID_POLICY at ${field}, the policy loaded`);
}

/** BASE with one change made on the parsed document, re-serialised. */
function variant(mutate: (doc: any) => void): string {
  const doc = parse(BASE);
  mutate(doc);
  return stringify(doc);
}

describe('loadPolicy: the documented shape', () => {
  it('loads, fills defaults, converts durations and dates', () => {
    const policy = loadPolicy(BASE);
    expect(policy.version).toBe(1);
    expect(policy.registries).toEqual([{ host: 'contosoacrprod.azurecr.io' }]);
    expect(policy.gate).toHaveLength(1);
    const rule = policy.gate[0];
    expect(rule).toEqual({
      scope: 'contoso/*',
      index: 0,
      vulnerabilities: {
        block: ['critical', 'high'],
        onlyFixable: false,
        maxReportAgeMs: 7 * 86_400_000,
        exceptions: [
          {
            id: 'CVE-2024-1234',
            expires: '2027-01-31',
            expiresAtMs: Date.UTC(2027, 1, 1),
            reason: 'not reachable from the API',
          },
        ],
        require: 'any',
        scanDeadlineMs: 30 * 60_000,
        pollIntervalMs: 60_000,
      },
      signatures: { required: true, trustPolicy: 'contoso-images' },
    });
    expect(policy.retention).toEqual([
      {
        scope: 'contoso/*',
        keep: 5,
        olderThanMs: 30 * 86_400_000,
        untagged: true,
        protectInUse: true,
        includeLocked: false,
        index: 0,
      },
    ]);
    expect(policy.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('is deep-frozen', () => {
    const policy = loadPolicy(BASE);
    expect(Object.isFrozen(policy)).toBe(true);
    expect(Object.isFrozen(policy.gate[0].vulnerabilities.exceptions[0])).toBe(true);
    expect(() => {
      (policy.gate[0].vulnerabilities.block as string[]).push('low');
    }).toThrow(TypeError);
  });

  it('hashes the normalised content: key order and spelling of defaults do not matter, values do', () => {
    const a = loadPolicy(BASE).hash;
    const reordered = `retention:
  - { untagged: true, protectInUse: true, olderThan: 720h, keep: 5, scope: "contoso/*" }
gate:
  - signatures: { trustPolicy: contoso-images, required: true }
    scope: "contoso/*"
    vulnerabilities:
      exceptions:
        - { reason: "not reachable from the API", expires: 2027-01-31, id: CVE-2024-1234 }
      maxReportAge: 1w
      block: [critical, high]
registries: [ContosoAcrProd.azurecr.io:443]
version: 1
`;
    expect(loadPolicy(reordered).hash).toBe(a);
    expect(loadPolicy(variant((d) => (d.gate[0].vulnerabilities.block = ['critical']))).hash).not.toBe(a);
  });

  it('accepts expires as a YAML 1.1 timestamp (Date) too', () => {
    const policy = loadPolicy(`%YAML 1.1\n---\n${BASE}`);
    expect(policy.gate[0].vulnerabilities.exceptions[0]).toMatchObject({
      expires: '2027-01-31',
      expiresAtMs: Date.UTC(2027, 1, 1),
    });
  });

  it('loads every optional extension', () => {
    const policy = loadPolicy(`version: 1
registries:
  - contosoacrprod.azurecr.io
  - { host: "127.0.0.1:5000", apply: promote }
  - { host: "mirror.contoso.com", apply: none }
gate:
  - scope: "team/**"
    vulnerabilities:
      sources: [reports]
      require: all
      scanDeadline: 1h30m
      pollInterval: 30s
      onlyFixable: true
      exceptions:
        - { id: GHSA-abcd-efgh-ijkl, expires: "2028-02-29", reason: "vendor patch pending", packages: [openssl, libssl3] }
    promote: { repository: "release/{repository}" }
retention:
  - { scope: "team/**", tagPattern: "^pr-[0-9]+$", includeLocked: true, protectInUse: false }
`);
    expect(policy.registries).toEqual([
      { host: 'contosoacrprod.azurecr.io' },
      { host: '127.0.0.1:5000', apply: 'promote' },
      { host: 'mirror.contoso.com', apply: 'none' },
    ]);
    const v = policy.gate[0].vulnerabilities;
    expect(v).toMatchObject({
      sources: ['reports'],
      require: 'all',
      scanDeadlineMs: 90 * 60_000,
      pollIntervalMs: 30_000,
      onlyFixable: true,
      block: ['critical', 'high'],
    });
    expect(v.exceptions[0]).toMatchObject({ packages: ['openssl', 'libssl3'], expiresAtMs: Date.UTC(2028, 2, 1) });
    expect(policy.gate[0].promote).toEqual({ repository: 'release/{repository}' });
    expect(policy.gate[0].signatures).toEqual({ required: false });
    expect(policy.retention[0]).toMatchObject({ tagPattern: '^pr-[0-9]+$', includeLocked: true, protectInUse: false });
  });

  it('reads retention maxDeletes as a percentage or a count; absent stays absent (the default applies, the hash is unchanged)', () => {
    const load = (extra: string): ReturnType<typeof loadPolicy> =>
      loadPolicy(`version: 1
registries: [contosoacrprod.azurecr.io]
gate: []
retention:
  - { scope: "team/**", keep: 5${extra} }
`);
    expect(load(', maxDeletes: "40%"').retention[0].maxDeletes).toEqual({ percent: 40 });
    expect(load(', maxDeletes: 12').retention[0].maxDeletes).toEqual({ count: 12 });
    expect(load(', maxDeletes: "7"').retention[0].maxDeletes).toEqual({ count: 7 });
    const plain = load('');
    expect(plain.retention[0].maxDeletes).toBeUndefined();
    expect(plain.retention[0]).not.toHaveProperty('maxDeletes');
  });

  it('loads the shipped example policy', () => {
    const policy = loadPolicy(SHIPPED, 'policy/acr-guard.yaml');
    expect(policy.registries.map((r) => r.host)).toEqual(['contosoacrprod.azurecr.io']);
    expect(policy.gate.length).toBeGreaterThanOrEqual(2);
    expect(findGateRule(policy, 'contoso/api')?.signatures.required).toBe(true);
    expect(findGateRule(policy, 'contoso/edge/gateway')?.vulnerabilities.require).toBe('all');
    expect(findGateRule(policy, 'unknown/app')).toBeUndefined();
    expect(policy.gate.every((rule) => rule.vulnerabilities.exceptions.every((e) => e.reason.length > 10))).toBe(true);
    // Production-like: no loopback or local registries in the shipped file.
    expect(SHIPPED).not.toMatch(/127\.0\.0\.1|localhost/);
  });
});

describe('loadPolicy: every bad field gives its path', () => {
  it.each<[string, string, string]>([
    // document level
    ['(document)', 'version: 1\nregistries: [a.io\n', 'valid YAML'],
    ['(document)', 'version: 1\nversion: 1\n', 'valid YAML'],
    ['(document)', '- 1\n- 2\n', 'a policy mapping'],
    ['(document)', '', 'a policy mapping'],
    ['(document)', 'version: 1\nregistries: [a.io]\ngate: []\n---\nversion: 1\n', 'valid YAML'],
    ['(document)', 'version: 1\nregistries: [!custom a.io]\ngate: []\n', 'valid YAML'],
    ['versoin', 'versoin: 1\nregistries: [a.io]\ngate: []\n', 'no unknown keys'],
    ['version', 'version: 2\nregistries: [a.io]\ngate: []\n', '1 (the only policy version)'],
    ['version', 'version: "1"\nregistries: [a.io]\ngate: []\n', '1 (the only policy version)'],
    ['version', 'registries: [a.io]\ngate: []\n', '1 (the only policy version)'],
    ['gate', 'version: 1\nregistries: [a.io]\n', 'a list of gate rules'],
    ['gate', 'version: 1\nregistries: [a.io]\ngate: {}\n', 'gate rules'],
    // registries
    ['registries', 'version: 1\nregistries: []\ngate: []\n', 'registry hosts'],
    ['registries', 'version: 1\nregistries: a.io\ngate: []\n', 'registry hosts'],
    ['registries[0]', 'version: 1\nregistries: ["https://a.io"]\ngate: []\n', 'registry host'],
    ['registries[0]', 'version: 1\nregistries: ["user@a.io"]\ngate: []\n', 'registry host'],
    ['registries[0]', 'version: 1\nregistries: [42]\ngate: []\n', 'a registry host string or a mapping'],
    ['registries[1]', 'version: 1\nregistries: [a.io, A.io:443]\ngate: []\n', 'already registries[0]'],
    ['registries[0].host', 'version: 1\nregistries: [{ apply: none }]\ngate: []\n', 'a registry host'],
    [
      'registries[0].apply',
      'version: 1\nregistries: [{ host: a.io, apply: release }]\ngate: []\n',
      'one of quarantine, promote, none',
    ],
    ['registries[0].aply', 'version: 1\nregistries: [{ host: a.io, aply: none }]\ngate: []\n', 'no unknown keys'],
  ])('%s (%#)', (field, text, message) => {
    expect(policyError(text, field).message).toContain(message);
  });

  type Mutate = (doc: any) => void;
  it.each<[string, Mutate, string]>([
    ['gate[0]', (d) => (d.gate[0] = 'contoso/*'), 'a mapping'],
    ['gate[0].scope', (d) => delete d.gate[0].scope, 'a repository glob'],
    ['gate[0].scope', (d) => (d.gate[0].scope = 'Contoso/(a|b)'), 'a repository glob'],
    ['gate[0].scope', (d) => (d.gate[0].scope = '/contoso/*'), 'a repository glob'],
    ['gate[1].scope', (d) => d.gate.push({ scope: 'contoso/*' }), 'gate[0] has the same scope'],
    ['gate[0].scopes', (d) => (d.gate[0].scopes = ['x']), 'no unknown keys'],
    ['gate[0].vulnerabilities', (d) => (d.gate[0].vulnerabilities = []), 'a mapping'],
    ['gate[0].vulnerabilities.blok', (d) => (d.gate[0].vulnerabilities.blok = ['low']), 'no unknown keys'],
    [
      'gate[0].vulnerabilities.onlyFixabel',
      (d) => (d.gate[0].vulnerabilities.onlyFixabel = true),
      'check the spelling',
    ],
    ['gate[0].vulnerabilities.block', (d) => (d.gate[0].vulnerabilities.block = 'critical'), 'severities'],
    [
      'gate[0].vulnerabilities.block[1]',
      (d) => (d.gate[0].vulnerabilities.block = ['critical', 'severe']),
      'one of critical, high, medium, low, negligible, unknown',
    ],
    [
      'gate[0].vulnerabilities.block[1]',
      (d) => (d.gate[0].vulnerabilities.block = ['critical', 'Critical']),
      'one of critical',
    ],
    [
      'gate[0].vulnerabilities.block[1]',
      (d) => (d.gate[0].vulnerabilities.block = ['high', 'high']),
      'each severity once',
    ],
    ['gate[0].vulnerabilities.onlyFixable', (d) => (d.gate[0].vulnerabilities.onlyFixable = 'yes'), 'true or false'],
    [
      'gate[0].vulnerabilities.maxReportAge',
      (d) => (d.gate[0].vulnerabilities.maxReportAge = '7 days'),
      'a duration like',
    ],
    ['gate[0].vulnerabilities.maxReportAge', (d) => (d.gate[0].vulnerabilities.maxReportAge = 7), 'a duration string'],
    [
      'gate[0].vulnerabilities.maxReportAge',
      (d) => (d.gate[0].vulnerabilities.maxReportAge = '0s'),
      'greater than zero',
    ],
    [
      'gate[0].vulnerabilities.maxReportAge',
      (d) => (d.gate[0].vulnerabilities.maxReportAge = '-1d'),
      'a duration like',
    ],
    [
      'gate[0].vulnerabilities.scanDeadline',
      (d) => (d.gate[0].vulnerabilities.scanDeadline = '11y'),
      'a duration like',
    ],
    [
      'gate[0].vulnerabilities.pollInterval',
      (d) => (d.gate[0].vulnerabilities.pollInterval = '0m'),
      'greater than zero',
    ],
    ['gate[0].vulnerabilities.require', (d) => (d.gate[0].vulnerabilities.require = 'both'), 'one of any, all'],
    ['gate[0].vulnerabilities.sources', (d) => (d.gate[0].vulnerabilities.sources = []), 'findings sources'],
    [
      'gate[0].vulnerabilities.sources[0]',
      (d) => (d.gate[0].vulnerabilities.sources = ['trivy']),
      'one of defender, reports',
    ],
    [
      'gate[0].vulnerabilities.sources[1]',
      (d) => (d.gate[0].vulnerabilities.sources = ['reports', 'reports']),
      'each source once',
    ],
    ['gate[0].vulnerabilities.exceptions', (d) => (d.gate[0].vulnerabilities.exceptions = { id: 'x' }), 'exceptions'],
    [
      'gate[0].vulnerabilities.exceptions[1]',
      (d) => d.gate[0].vulnerabilities.exceptions.push('CVE-2024-1'),
      'a mapping',
    ],
    [
      'gate[0].vulnerabilities.exceptions[0].id',
      (d) => delete d.gate[0].vulnerabilities.exceptions[0].id,
      'an advisory id',
    ],
    [
      'gate[0].vulnerabilities.exceptions[0].id',
      (d) => (d.gate[0].vulnerabilities.exceptions[0].id = 'CVE 2024'),
      'an advisory id',
    ],
    [
      'gate[0].vulnerabilities.exceptions[0].expires',
      (d) => delete d.gate[0].vulnerabilities.exceptions[0].expires,
      'every exception must expire',
    ],
    [
      'gate[0].vulnerabilities.exceptions[0].expires',
      (d) => (d.gate[0].vulnerabilities.exceptions[0].expires = '2027-02-30'),
      'not a real date',
    ],
    [
      'gate[0].vulnerabilities.exceptions[0].expires',
      (d) => (d.gate[0].vulnerabilities.exceptions[0].expires = '2027-13-01'),
      'not a real date',
    ],
    [
      'gate[0].vulnerabilities.exceptions[0].expires',
      (d) => (d.gate[0].vulnerabilities.exceptions[0].expires = '2026-02-29'),
      'not a real date',
    ],
    [
      'gate[0].vulnerabilities.exceptions[0].expires',
      (d) => (d.gate[0].vulnerabilities.exceptions[0].expires = '31/01/2027'),
      'a calendar date YYYY-MM-DD',
    ],
    [
      'gate[0].vulnerabilities.exceptions[0].expires',
      (d) => (d.gate[0].vulnerabilities.exceptions[0].expires = '2027-01-31T10:00:00Z'),
      'a calendar date',
    ],
    [
      'gate[0].vulnerabilities.exceptions[0].expires',
      (d) => (d.gate[0].vulnerabilities.exceptions[0].expires = 20270131),
      'a calendar date',
    ],
    [
      'gate[0].vulnerabilities.exceptions[0].expires',
      (d) => (d.gate[0].vulnerabilities.exceptions[0].expires = 'never'),
      'a calendar date',
    ],
    [
      'gate[0].vulnerabilities.exceptions[0].reason',
      (d) => delete d.gate[0].vulnerabilities.exceptions[0].reason,
      'a reason',
    ],
    [
      'gate[0].vulnerabilities.exceptions[0].reason',
      (d) => (d.gate[0].vulnerabilities.exceptions[0].reason = '   '),
      'a reason',
    ],
    [
      'gate[0].vulnerabilities.exceptions[0].packages',
      (d) => (d.gate[0].vulnerabilities.exceptions[0].packages = 'openssl'),
      'package names',
    ],
    [
      'gate[0].vulnerabilities.exceptions[0].packages[0]',
      (d) => (d.gate[0].vulnerabilities.exceptions[0].packages = [3]),
      'a package name',
    ],
    [
      'gate[0].vulnerabilities.exceptions[0].package',
      (d) => (d.gate[0].vulnerabilities.exceptions[0].package = 'openssl'),
      'no unknown keys',
    ],
    [
      'gate[0].vulnerabilities.reportsSignedBy',
      (d) => (d.gate[0].vulnerabilities.reportsSignedBy = 'scanner reports'),
      'the name of a trust policy entry',
    ],
    [
      'gate[0].vulnerabilities.reportsSignedBy',
      (d) => (d.gate[0].vulnerabilities.reportsSignedBy = ['scanner']),
      'the name of a trust policy entry',
    ],
    ['gate[0].signatures', (d) => (d.gate[0].signatures = true), 'a mapping'],
    ['gate[0].signatures.required', (d) => (d.gate[0].signatures.required = 'true'), 'true or false'],
    ['gate[0].signatures.trustPolicy', (d) => (d.gate[0].signatures.trustPolicy = 'a b'), 'a trust policy name'],
    ['gate[0].signatures.verify', (d) => (d.gate[0].signatures.verify = true), 'no unknown keys'],
    ['gate[0].promote', (d) => (d.gate[0].promote = 'release'), 'a mapping'],
    ['gate[0].promote.repository', (d) => (d.gate[0].promote = { repository: 'release' }), 'containing {repository}'],
    [
      'gate[0].promote.repository',
      (d) => (d.gate[0].promote = { repository: 'Release/{repository}' }),
      'OCI repository path',
    ],
    [
      'gate[0].promote.repository',
      (d) => (d.gate[0].promote = { repository: 'release/{repo}' }),
      'containing {repository}',
    ],
    [
      'gate[0].promote.repository',
      (d) => (d.gate[0].promote = { repository: '../{repository}' }),
      'OCI repository path',
    ],
    ['retention', (d) => (d.retention = { scope: 'x' }), 'retention rules'],
    ['retention[0].scope', (d) => (d.retention[0].scope = 'a//b'), 'a repository glob'],
    ['retention[0].keep', (d) => (d.retention[0].keep = -1), 'a whole number'],
    ['retention[0].keep', (d) => (d.retention[0].keep = 2.5), 'a whole number'],
    ['retention[0].keep', (d) => (d.retention[0].keep = '5'), 'a whole number'],
    ['retention[0].olderThan', (d) => (d.retention[0].olderThan = '30 days'), 'a duration like'],
    ['retention[0].untagged', (d) => (d.retention[0].untagged = 1), 'true or false'],
    ['retention[0].protectInUse', (d) => (d.retention[0].protectInUse = 'no'), 'true or false'],
    ['retention[0].includeLocked', (d) => (d.retention[0].includeLocked = null), 'true or false'],
    ['retention[0].tagPattern', (d) => (d.retention[0].tagPattern = '(unclosed'), 'a JavaScript regular expression'],
    ['retention[0].tagPattern', (d) => (d.retention[0].tagPattern = 'a'.repeat(201)), 'at most 200 chars'],
    ['retention[0].tagPattern', (d) => (d.retention[0].tagPattern = ['^dev']), 'a JavaScript regular expression'],
    ['retention[0].keepLast', (d) => (d.retention[0].keepLast = 3), 'no unknown keys'],
    ['retention[0].maxDeletes', (d) => (d.retention[0].maxDeletes = '0%'), 'a percentage'],
    ['retention[0].maxDeletes', (d) => (d.retention[0].maxDeletes = '101%'), 'a percentage'],
    ['retention[0].maxDeletes', (d) => (d.retention[0].maxDeletes = -1), 'a whole number 0..100000'],
    ['retention[0].maxDeletes', (d) => (d.retention[0].maxDeletes = 2.5), 'a whole number 0..100000'],
    ['retention[0].maxDeletes', (d) => (d.retention[0].maxDeletes = 'all'), 'a percentage'],
    ['retention[0].maxDeletes', (d) => (d.retention[0].maxDeletes = true), 'a percentage'],
    [
      'retention[0]',
      (d) => (d.retention[0] = { scope: 'contoso/*' }),
      'at least one of keep, olderThan, untagged, tagPattern',
    ],
  ])('%s (%#)', (field, mutate, message) => {
    expect(policyError(variant(mutate), field).message).toContain(message);
  });

  it('rejects documents over 1 MiB before parsing', () => {
    const text = `${BASE}# ${'x'.repeat(MAX_POLICY_BYTES)}\n`;
    expect(policyError(text, '(document)').message).toContain('at most 1048576 bytes');
  });

  it('rejects alias bombs', () => {
    const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 8; i++) lines.push(`a${i}: &a${i} [${new Array(10).fill(`*a${i - 1}`).join(', ')}]`);
    const e = policyError(`${lines.join('\n')}\n`, '(document)');
    expect(e.message).toMatch(/alias|YAML/);
  });

  it('names the source at the start of every message', () => {
    const e = policyError('version: 3\n', 'version', 'ACR_GUARD_POLICY');
    expect(e.message).toBe('ACR_GUARD_POLICY: version: expected 1 (the only policy version), got number 3');
  });
});

describe('policy look-ups', () => {
  const policy = loadPolicy(`version: 1
registries:
  - contosoacrprod.azurecr.io
  - contoso.azurecr.cn
  - { host: "127.0.0.1:5000" }
  - { host: "registry.contoso.com", apply: quarantine }
gate:
  - scope: "contoso/edge/**"
    vulnerabilities: { block: [critical, high, medium] }
  - scope: "contoso/*"
    vulnerabilities: { sources: [reports] }
    promote: { repository: "release/{repository}" }
  - scope: "**"
retention:
  - { scope: "contoso/*", keep: 3 }
`);

  it('finds the first matching gate rule', () => {
    expect(findGateRule(policy, 'contoso/edge/gw')?.index).toBe(0);
    expect(findGateRule(policy, 'contoso/api')?.index).toBe(1);
    expect(findGateRule(policy, 'other/x')?.index).toBe(2);
    expect(findRetentionRule(policy, 'contoso/api')?.keep).toBe(3);
    expect(findRetentionRule(policy, 'other/x')).toBeUndefined();
  });

  it('finds registries by normalised host', () => {
    expect(findRegistry(policy, 'ContosoAcrProd.azurecr.io:443')?.host).toBe('contosoacrprod.azurecr.io');
    expect(isRegistryAllowed(policy, '127.0.0.1:5000')).toBe(true);
    expect(isRegistryAllowed(policy, '127.0.0.1:5001')).toBe(false);
    expect(isRegistryAllowed(policy, '127.0.0.1')).toBe(false);
    expect(isRegistryAllowed(policy, 'evil.azurecr.io')).toBe(false);
    expect(isRegistryAllowed(policy, 'user@contosoacrprod.azurecr.io')).toBe(false);
    expect(isRegistryAllowed(policy, '')).toBe(false);
  });

  it('chooses the apply mode', () => {
    const [edge, contoso, all] = policy.gate;
    expect(applyModeFor(policy, 'contosoacrprod.azurecr.io', contoso)).toBe('quarantine');
    expect(applyModeFor(policy, 'contoso.azurecr.cn', all)).toBe('quarantine');
    expect(applyModeFor(policy, 'registry.contoso.com', all)).toBe('quarantine');
    expect(applyModeFor(policy, '127.0.0.1:5000', contoso)).toBe('promote');
    expect(applyModeFor(policy, '127.0.0.1:5000', edge)).toBe('none');
    expect(applyModeFor(policy, '127.0.0.1:5000', undefined)).toBe('none');
    expect(applyModeFor(policy, 'not-listed.example.com', contoso)).toBe('none');
  });

  it('resolves the effective findings sources', () => {
    const [edge, contoso] = policy.gate;
    expect(effectiveSources(edge, 'contosoacrprod.azurecr.io')).toEqual(['defender', 'reports']);
    expect(effectiveSources(edge, '127.0.0.1:5000')).toEqual(['reports']);
    expect(effectiveSources(contoso, 'contosoacrprod.azurecr.io')).toEqual(['reports']);
  });

  it('computes and validates promote targets', () => {
    const [edge, contoso] = policy.gate;
    expect(promoteTarget(contoso, 'contoso/api')).toBe('release/contoso/api');
    expect(promoteTarget(edge, 'contoso/edge/gw')).toBeUndefined();
    try {
      promoteTarget(contoso, `contoso/${'a'.repeat(250)}`);
      throw new Error('expected an error');
    } catch (err) {
      expect((err as GuardError).code).toBe('INVALID_INPUT');
      expect((err as GuardError).field).toBe('gate[1].promote.repository');
    }
  });
});
