/**
 * `acr-guard policy check` and `acr-guard policy explain`: exit codes, the validator's field paths, which rule
 * applies and why, exceptions judged at `--at`, and every JSON output (success and error) validated against
 * schemas/result.v1.schema.json with ajv. No network: explain reads only the policy file.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import { runCli } from '../support/cli';

const ROOT = resolve(__dirname, '../..');
const EXAMPLE = join(ROOT, 'policy/acr-guard.yaml');
const DIGEST = `sha256:${'a'.repeat(64)}`;

const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false });
const validateResult = ajv.compile(JSON.parse(readFileSync(join(ROOT, 'schemas/result.v1.schema.json'), 'utf8')));

/** Parses the JSON the CLI printed and checks it against the result schema. */
function envelope(out: string): Record<string, any> {
  const value = JSON.parse(out);
  if (!validateResult(value)) throw new Error(`not a valid result: ${ajv.errorsText(validateResult.errors)}\n${out}`);
  return value as Record<string, any>;
}

describe('acr-guard policy', () => {
  let dir: string;
  let promoteFile: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'acr-guard-policy-'));
    promoteFile = join(dir, 'promote.yaml');
    writeFileSync(
      promoteFile,
      `version: 1
registries:
  - 127.0.0.1:5000
gate:
  - scope: "app/**"
    vulnerabilities: { block: [critical], sources: [reports], reportsSignedBy: scanner-reports }
    promote: { repository: "release/{repository}" }
runtime:
  allowRegistries: [mcr.microsoft.com]
`,
    );
  });

  function write(name: string, text: string): string {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  }

  describe('check', () => {
    it('a valid policy: exit 0 and a summary of registries, gate rules (scopes, thresholds), retention, runtime', async () => {
      const { code, out } = await runCli(['policy', 'check', EXAMPLE, '--at', '2027-01-15T00:00:00Z']);
      expect(code).toBe(0);
      expect(out).toContain('valid');
      expect(out).toContain('contosoacrprod.azurecr.io  apply: quarantine');
      expect(out).toContain(
        'gate[0] contoso/edge/**: block critical,high,medium; signatures required (contoso-images)',
      );
      expect(out).toContain(
        'gate[1] contoso/*: block critical,high; signatures required (contoso-images); 2 exceptions (1 expired)',
      );
      expect(out).toContain('gate[2] mirror/**: block critical (fixable only); signatures optional');
      expect(out).toContain('retention[0] contoso/*: keep 10; older than 30d; untagged too; tags /^(dev|pr)-/');
      expect(out).toContain('retention[1] mirror/**: keep 3; older than 90d; in-use protected; at most 25% per run');
      expect(out).toMatch(/runtime: regate after 1d; grace critical 3d.*; workloads by tag reported as by-tag$/m);
    });

    it('--output json: the PolicyResult envelope with one check per validation area and the rules under data', async () => {
      const { code, out } = await runCli(['policy', 'check', EXAMPLE, '--output', 'json', '--at', '2026-06-01']);
      expect(code).toBe(0);
      const result = envelope(out);
      expect(result).toMatchObject({
        apiVersion: 'acr-guard.io/v1',
        kind: 'PolicyResult',
        subject: EXAMPLE,
        outcome: 'pass',
        exitCode: 0,
        errors: [],
        counts: { pass: 6, fail: 0, skip: 0, inconclusive: 0 },
      });
      expect(result.checks.map((c: { name: string }) => c.name)).toEqual([
        '(document)',
        'version',
        'registries',
        'gate',
        'retention',
        'runtime',
      ]);
      expect(result.data.hash).toMatch(/^[a-f0-9]{64}$/);
      expect(result.data.rules.gate[1]).toMatchObject({ scope: 'contoso/*', exceptions: 2, expiredExceptions: 0 });
      expect(result.data.rules.retention).toHaveLength(2);
    });

    it('an invalid policy: exit 2, the validator message with the field path first; JSON names the field', async () => {
      const file = write(
        'typo.yaml',
        'version: 1\nregistries: [a.io]\ngate:\n  - scope: "contoso/*"\n    vulnerabilities: { onlyFixabel: true }\n',
      );
      const text = await runCli(['policy', 'check', file]);
      expect(text.code).toBe(2);
      expect(text.out).toBe('');
      expect(text.err).toContain(
        `[INVALID_POLICY] ${file}: gate[0].vulnerabilities.onlyFixabel: expected no unknown keys (allowed here: block, onlyFixable`,
      );
      const json = await runCli(['policy', 'check', file, '--output', 'json']);
      expect(json.code).toBe(2);
      const result = envelope(json.out);
      expect(result).toMatchObject({ kind: 'PolicyResult', outcome: 'error', exitCode: 2, subject: file });
      expect(result.errors[0]).toMatchObject({ code: 'INVALID_POLICY', field: 'gate[0].vulnerabilities.onlyFixabel' });
      const statuses = Object.fromEntries(
        result.checks.map((c: { name: string; status: string }) => [c.name, c.status]),
      );
      expect(statuses).toEqual({
        '(document)': 'pass',
        version: 'pass',
        registries: 'pass',
        gate: 'fail',
        retention: 'skip',
        runtime: 'skip',
      });
      expect(result.checks.find((c: { name: string }) => c.name === 'gate').fix).toMatch(/policy check/);
    });

    it.each([
      [
        'a date that does not exist',
        'gate[0].vulnerabilities.exceptions[0].expires',
        'version: 1\nregistries: [a.io]\ngate:\n  - scope: a\n    vulnerabilities:\n      exceptions: [{ id: CVE-1, expires: 2027-02-30, reason: x }]\n',
      ],
      [
        'a bad duration',
        'retention[0].olderThan',
        'version: 1\nregistries: [a.io]\ngate: []\nretention:\n  - { scope: a, olderThan: 3 days }\n',
      ],
      [
        'a bad runtime host',
        'runtime.allowRegistries[0]',
        'version: 1\nregistries: [a.io]\ngate: []\nruntime: { allowRegistries: ["http://x"] }\n',
      ],
      ['not YAML', '(document)', 'version: 1\nregistries: [a.io\n'],
    ])('%s: exit 2 with field %s', async (_what, field, text) => {
      const file = write(`bad-${field.replace(/[^a-z0-9]/gi, '_')}.yaml`, text);
      const { code, out, err } = await runCli(['policy', 'check', file, '--output', 'json']);
      expect(code).toBe(2);
      expect(err).toContain(`${file}: ${field}: expected`);
      expect(envelope(out).errors[0].field).toBe(field);
    });

    it('a missing file and usage errors: exit 2, the error envelope on stdout under --output json', async () => {
      const missing = await runCli(['policy', 'check', join(dir, 'nope.yaml'), '--output', 'json']);
      expect(missing.code).toBe(2);
      expect(envelope(missing.out).errors[0]).toMatchObject({ code: 'INVALID_CONFIG', field: 'file' });
      expect(missing.err).toContain('cannot read policy file');
      const none = await runCli(['policy', 'check', '--output', 'json']);
      expect(none.code).toBe(2);
      expect(envelope(none.out)).toMatchObject({ outcome: 'error', exitCode: 2, errors: [{ code: 'INVALID_INPUT' }] });
      const flag = await runCli(['policy', 'check', EXAMPLE, '--polcy', 'x']);
      expect(flag.code).toBe(2);
      expect(flag.err).toContain('--polcy');
      const sub = await runCli(['policy', 'lint', EXAMPLE]);
      expect(sub.code).toBe(2);
      expect(sub.err).toContain('unknown policy subcommand "lint"');
    });

    it('--help exits 0 at every level; bare `policy` prints the usage and exits 2', async () => {
      for (const argv of [
        ['policy', '--help'],
        ['policy', 'check', '--help'],
        ['policy', 'explain', '-h'],
      ]) {
        const { code, out } = await runCli(argv);
        expect([argv.join(' '), code]).toEqual([argv.join(' '), 0]);
        expect(out).toContain('acr-guard policy explain <file>');
      }
      expect((await runCli(['policy'])).code).toBe(2);
      expect((await runCli(['--help'])).out).toContain('policy check a policy file');
    });
  });

  describe('explain', () => {
    it('the first matching rule, the rule before it and why it did not match, exceptions judged at --at', async () => {
      const image = 'contosoacrprod.azurecr.io/contoso/api:dev-1';
      const { code, out } = await runCli(['policy', 'explain', EXAMPLE, image, '--at', '2027-01-15T00:00:00Z']);
      expect(code).toBe(0);
      expect(out).toContain(`${image}: gated by gate[1] "contoso/*"`);
      expect(out).toContain('no match gate[0] "contoso/edge/**": contoso/api does not start with "contoso/edge/"');
      expect(out).toContain('applies  gate[1] "contoso/*": "contoso/*" matches contoso/api');
      expect(out).toContain('(1 later rule not considered)');
      expect(out).toContain('block critical, high; findings block with or without a fix');
      expect(out).toContain('sources defender, reports (default for this registry), require any');
      expect(out).toContain('exception CVE-2024-1234: applies through 2027-01-31');
      expect(out).toContain('exception CVE-2023-45853 (packages zlib1g): EXPIRED 2026-12-31, no longer applies');
      expect(out).toContain('signatures: at least one signature must verify under trust policy entry contoso-images');
      expect(out).toContain('reports: every attached report younger than 7d counts, signed or not');
      expect(out).toContain('applies  retention[0] "contoso/*"');
      expect(out).toContain('the 10 most recent tagged manifests');
      expect(out).toContain('tag dev-1 matches tagPattern');
      expect(out).toContain('more than 25% of its tagged manifests (maxDeletes, default: the plan is held)');
      expect(out).toContain('quarantine: an Azure Container Registry host');
    });

    it('--output json: the explanation under data, one check per rule considered; expiry follows --at', async () => {
      const image = 'contosoacrprod.azurecr.io/contoso/api:v2';
      const before = envelope(
        (await runCli(['policy', 'explain', EXAMPLE, image, '--output', 'json', '--at', '2026-12-31T23:59:59Z'])).out,
      );
      const after = envelope(
        (await runCli(['policy', 'explain', EXAMPLE, image, '--output', 'json', '--at', '2027-01-01T00:00:00Z'])).out,
      );
      expect(before).toMatchObject({
        kind: 'PolicyResult',
        outcome: 'pass',
        decision: 'applies',
        exitCode: 0,
        subject: image,
      });
      const expired = (r: Record<string, any>): boolean[] =>
        r.data.explanation.gate.vulnerabilities.exceptions.map((e: { expired: boolean }) => e.expired);
      // The exception runs through the END of its expiry day (UTC).
      expect(expired(before)).toEqual([false, false]);
      expect(expired(after)).toEqual([false, true]);
      expect(before.checks.map((c: { name: string; status: string }) => `${c.name}:${c.status}`)).toEqual([
        'registry:pass',
        'gate[0]:skip',
        'gate[1]:pass',
        'retention[0]:pass',
      ]);
      expect(before.data.explanation.gate.rule).toEqual({ path: 'gate[1]', index: 1, scope: 'contoso/*' });
      expect(before.data.explanation.retention.tagMatchesPattern).toBe(false);
      expect(before.data.explanation.registry).toMatchObject({ allowed: true, apply: 'quarantine' });
    });

    it('a deeper repository: "*" stays within one segment, so retention does not apply; by digest', async () => {
      const image = `contosoacrprod.azurecr.io/contoso/edge/web@${DIGEST}`;
      const { code, out } = await runCli(['policy', 'explain', EXAMPLE, image, '--output', 'json']);
      expect(code).toBe(0);
      const e = envelope(out).data.explanation;
      expect(e).toMatchObject({ image, digest: DIGEST, applies: true });
      expect(e.gate.rule.path).toBe('gate[0]');
      expect(e.gate.vulnerabilities).toMatchObject({
        block: ['critical', 'high', 'medium'],
        require: 'all',
        scanDeadline: '2h',
      });
      expect(e.retention.rule).toBeUndefined();
      expect(e.retention.considered[0].reason).toBe(
        '"*" matches within one path segment: "contoso/*" has 2 segments, contoso/edge/web 3',
      );
    });

    it('no rule matches: exit 3, every rule listed with why, and what happens (the gate blocks it)', async () => {
      const image = 'contosoacrprod.azurecr.io/other/app:1';
      const text = await runCli(['policy', 'explain', EXAMPLE, image]);
      expect(text.code).toBe(3);
      expect(text.out).toContain('REFUSED before gating (no-gate-rule)');
      expect(text.out).toContain('no gate rule matches other/app: the gate blocks it');
      expect(text.out).toContain('no match gate[2] "mirror/**": other/app does not start with "mirror/"');
      const json = await runCli(['policy', 'explain', EXAMPLE, image, '--output', 'json']);
      expect(json.code).toBe(3);
      const result = envelope(json.out);
      expect(result).toMatchObject({ outcome: 'fail', decision: 'refused', exitCode: 3, errors: [] });
      expect(result.data.explanation.refusal.reason).toBe('no-gate-rule');
      expect(result.checks.find((c: { name: string }) => c.name === 'gate')).toMatchObject({ status: 'fail' });
      expect(result.counts).toEqual({ pass: 1, fail: 1, skip: 5, inconclusive: 0 });
    });

    it('a registry not in the policy: exit 3, nothing there is gated; allowed-external at runtime is said', async () => {
      const text = await runCli(['policy', 'explain', promoteFile, 'mcr.microsoft.com/app/x:1']);
      expect(text.code).toBe(3);
      expect(text.out).toContain('REFUSED before gating (registry-not-allowed)');
      expect(text.out).toContain('registry mcr.microsoft.com: NOT under registries');
      expect(text.out).toContain('tolerated by the runtime check (runtime.allowRegistries: allowed-external)');
      const json = envelope((await runCli(['policy', 'explain', EXAMPLE, 'ghcr.io/x/y:1', '--output', 'json'])).out);
      expect(json).toMatchObject({ outcome: 'fail', exitCode: 3 });
      expect(json.checks[0]).toMatchObject({
        name: 'registry',
        status: 'fail',
        fix: 'add ghcr.io under registries to gate it',
      });
      expect(json.data.explanation.registry).toEqual({
        host: 'ghcr.io',
        allowed: false,
        applyReason: 'not applied: the registry is not under registries',
        allowedExternal: false,
      });
    });

    it('promote mode: the release repository, signed reports required, default sources off ACR', async () => {
      const { code, out } = await runCli(['policy', 'explain', promoteFile, '127.0.0.1:5000/app/web:1.0']);
      expect(code).toBe(0);
      expect(out).toContain('promote: not ACR and gate[0] names promote.repository');
      expect(out).toContain('promote: a released image is copied to 127.0.0.1:5000/release/app/web');
      expect(out).toContain('a report counts only when signed under trust policy entry scanner-reports');
      expect(out).toContain('signatures: signatures are checked and recorded but never block (not required)');
      expect(out).toContain('keeps everything: no retention rule matches, so nothing is purged');
      const json = envelope(
        (await runCli(['policy', 'explain', promoteFile, '127.0.0.1:5000/app/web:1.0', '--output', 'json'])).out,
      );
      expect(json.data.explanation.promote).toEqual({ target: '127.0.0.1:5000/release/app/web' });
      expect(json.data.explanation.gate.reports).toMatchObject({ consulted: true, signedBy: 'scanner-reports' });
    });

    it('--trust-policy: the entry the rule names, the "*" entry for a rule that names none, a missing entry', async () => {
      const trust = join(ROOT, 'policy/trustpolicy.json');
      const named = await runCli([
        'policy',
        'explain',
        EXAMPLE,
        'contosoacrprod.azurecr.io/contoso/api:1',
        '--trust-policy',
        trust,
      ]);
      expect(named.code).toBe(0);
      expect(named.out).toContain(
        '  trust policy entry: contoso-images (named by the rule); level strict; stores ca:contoso, tsa:contoso-tsa',
      );
      const wildcard = envelope(
        (
          await runCli([
            'policy',
            'explain',
            EXAMPLE,
            'contosoacrprod.azurecr.io/mirror/debian:12',
            '--trust-policy',
            trust,
            '--output',
            'json',
          ])
        ).out,
      );
      expect(wildcard.data.explanation.gate.signatures.entry).toMatchObject({
        name: 'everything-else',
        found: true,
        selectedBy: 'wildcard',
        level: 'audit',
      });
      const missing = await runCli([
        'policy',
        'explain',
        promoteFile,
        '127.0.0.1:5000/app/web:1',
        '--trust-policy',
        trust,
      ]);
      expect(missing.code).toBe(0);
      expect(missing.out).toContain(
        'trust policy entry: NOT FOUND: the trust policy file has no entry named scanner-reports',
      );
      const bad = await runCli([
        'policy',
        'explain',
        EXAMPLE,
        'a.io/b:1',
        '--trust-policy',
        EXAMPLE,
        '--output',
        'json',
      ]);
      expect(bad.code).toBe(2);
      expect(envelope(bad.out).errors[0]).toMatchObject({ code: 'INVALID_CONFIG', field: '--trust-policy' });
    });

    it('usage errors: a bad image reference, a bad --at, a missing image: exit 2 with the field', async () => {
      const bad = await runCli(['policy', 'explain', EXAMPLE, 'contoso/api:1', '--output', 'json']);
      expect(bad.code).toBe(2);
      expect(envelope(bad.out).errors[0]).toMatchObject({ code: 'INVALID_INPUT', field: 'image' });
      const at = await runCli([
        'policy',
        'explain',
        EXAMPLE,
        'contosoacrprod.azurecr.io/contoso/api:1',
        '--at',
        'tomorrow',
      ]);
      expect(at.code).toBe(2);
      expect(at.err).toContain('--at: expected an ISO time');
      const missing = await runCli(['policy', 'explain', EXAMPLE, '--output', 'json']);
      expect(missing.code).toBe(2);
      expect(envelope(missing.out).summary).toContain('expected a policy file and an image reference');
      const invalid = write('inv.yaml', 'version: 2\n');
      const policy = await runCli(['policy', 'explain', invalid, 'a.io/b:1', '--output', 'json']);
      expect(policy.code).toBe(2);
      expect(envelope(policy.out).errors[0]).toMatchObject({ code: 'INVALID_POLICY', field: 'version' });
    });
  });
});
