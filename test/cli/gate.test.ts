/**
 * `acr-guard gate`: documented exit codes and JSON, against a real docker-registry on loopback.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../support/cli';
import { attachReport, CRITICAL_OPENSSL } from '../support/pushSamples';
import { createRegistryClient } from '../../src/adapters/registry';
import type { RegistryClient } from '../../src/adapters/ports';
import { pushImage } from '../../src/local/ociPush';
import { startRegistry, type RunningRegistry } from '../../src/local/registryServer';
import { runDemo } from '../../src/local/demo';
import { expectValidResult } from '../support/resultSchema';
import { demoResult } from '../../src/cli/results';

const run = runCli;

describe('acr-guard gate', () => {
  let registry: RunningRegistry;
  let client: RegistryClient;
  let dir: string;
  let policyFile: string;

  beforeAll(async () => {
    registry = await startRegistry();
    client = createRegistryClient({ host: registry.host, plainHttp: true });
    dir = mkdtempSync(join(tmpdir(), 'acr-guard-cli-'));
    policyFile = join(dir, 'policy.yaml');
    writeFileSync(
      policyFile,
      `version: 1
registries:
  - { host: "${registry.host}", apply: promote }
  - { host: "127.0.0.1:1" }
gate:
  - scope: "app/**"
    vulnerabilities: { block: [critical, high], maxReportAge: 7d, sources: [reports], scanDeadline: 0s }
    signatures: { required: false }
    promote: { repository: "release/{repository}" }
`,
    );
  });
  afterAll(async () => {
    await registry?.stop();
  });

  async function push(repository: string, tag: string, critical: boolean): Promise<string> {
    const now = new Date().toISOString();
    const image = await pushImage(client, repository, {
      tag,
      layers: [Buffer.from(`${repository}:${tag}`)],
      created: now,
    });
    await attachReport(client, repository, image, {
      format: 'cyclonedx',
      scannedAt: now,
      vulnerabilities: critical ? [CRITICAL_OPENSSL] : [],
    });
    return image.digest;
  }

  it('releases a clean image (exit 0), by tag resolved to its digest, with the documented JSON, and promotes it', async () => {
    const digest = await push('app/clean', 'v1', false);
    const { code, out } = await run([
      'gate',
      `${registry.host}/app/clean:v1`,
      '--policy',
      policyFile,
      '--plain-http',
      '--output',
      'json',
    ]);
    expect(code).toBe(0);
    const json = JSON.parse(out);
    expect(json).toMatchObject({ apiVersion: 'acr-guard.io/v1', kind: 'GateResult', outcome: 'pass', exitCode: 0 });
    expect(json.subject).toBe(`${registry.host}/app/clean@${digest}`);
    expect(json.data.verdict.image).toBe(`${registry.host}/app/clean@${digest}`);
    expect(json.data.verdict.decision).toBe('release');
    expect(json.decision).toBe('release');
    expect(json.checks.length).toBeGreaterThan(0);
    for (const check of json.checks) {
      expect(Object.keys(check)).toEqual(expect.arrayContaining(['name', 'status', 'reason']));
      expect(['pass', 'fail', 'skip', 'inconclusive']).toContain(check.status);
    }
    expect((await client.getManifest('release/app/clean', digest)).digest).toBe(digest);
    expect(await client.resolveTag('release/app/clean', 'v1')).toBe(digest);
  });

  it('blocks a vulnerable image (exit 3), naming the CVE; nothing is promoted', async () => {
    const digest = await push('app/vuln', 'v1', true);
    const { code, out } = await run([
      'gate',
      `${registry.host}/app/vuln@${digest}`,
      '--policy',
      policyFile,
      '--plain-http',
      '--output',
      'json',
    ]);
    expect(code).toBe(3);
    const json = JSON.parse(out);
    expect(json.decision).toBe('block');
    expect(json.checks.find((c: { name: string }) => c.name === 'vulnerabilities')).toMatchObject({
      status: 'fail',
      reason: expect.stringContaining('CVE-2024-6119'),
    });
    await expect(client.getManifest('release/app/vuln', digest)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('--dry-run decides without applying', async () => {
    const digest = await push('app/dry', 'v1', false);
    const { code, out } = await run([
      'gate',
      `${registry.host}/app/dry@${digest}`,
      '--policy',
      policyFile,
      '--plain-http',
      '--dry-run',
      '--output',
      'json',
    ]);
    expect(code).toBe(0);
    expect(JSON.parse(out).data.apply.mode).toBe('dry-run');
    await expect(client.getManifest('release/app/dry', digest)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('prints a table by default', async () => {
    await push('app/table', 'v1', true);
    const { code, out } = await run(['gate', `${registry.host}/app/table:v1`, '--policy', policyFile, '--plain-http']);
    expect(code).toBe(3);
    expect(out).toMatch(/DECISION/);
    expect(out).toMatch(/BLOCK/);
    expect(out).toMatch(/CVE-2024-6119/);
  });

  it.each([
    ['no image', ['gate', '--policy', 'x.yaml'], /exactly one image reference/],
    ['no policy', ['gate', '127.0.0.1:5000/app/x:v1'], /--policy <file> is required/],
    ['unknown option', ['gate', '127.0.0.1:5000/app/x:v1', '--policy', 'x', '--bogus'], /bogus/],
    ['bad reference', ['gate', '127.0.0.1:5000/App/../x:v1', '--policy', 'x'], /image/],
    ['missing policy file', ['gate', '127.0.0.1:5000/app/x:v1', '--policy', '/nonexistent/p.yaml'], /cannot read/],
    ['bad output', ['gate', '127.0.0.1:5000/app/x:v1', '--policy', 'x', '--output', 'xml'], /--output/],
    ['unknown command', ['frobnicate'], /unknown command/],
  ])('exits 2 on a usage error: %s', async (_label, argv, message) => {
    const { code, err } = await run(argv as string[]);
    expect(code).toBe(2);
    expect(err).toMatch(message as RegExp);
  });

  it('while waiting for scan results, prints on stderr on every poll what is pending, the deadline and how to shorten it', async () => {
    const now = new Date().toISOString();
    const image = await pushImage(client, 'app/unscanned', {
      tag: 'v1',
      layers: [Buffer.from(`unscanned:${now}`)],
      created: now,
    });
    const waitFile = join(dir, 'wait-policy.yaml');
    writeFileSync(
      waitFile,
      `version: 1
registries: [{ host: "${registry.host}" }]
gate:
  - scope: "app/**"
    vulnerabilities: { block: [critical], maxReportAge: 7d, sources: [reports], scanDeadline: 30m, pollInterval: 1s }
    signatures: { required: false }
`,
    );
    const started = Date.now();
    const { code, out, err } = await run([
      'gate',
      `${registry.host}/app/unscanned:v1`,
      '--policy',
      waitFile,
      '--plain-http',
      '--output',
      'json',
      '--scan-deadline',
      '3s',
    ]);
    const elapsed = Date.now() - started;
    expect(code).toBe(3);
    expect(JSON.parse(out).decision).toBe('block');
    const lines = err.split('\n').filter((l) => l.includes('waiting for scan results'));
    // pollInterval 1s within a 3s deadline: a line for each poll, each complete on its own (CI logs have no cursor).
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const line of lines) {
      expect(line).toContain(`pending reports for ${image.digest}`);
      expect(line).toMatch(/deadline \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z \(--scan-deadline 3s\)/);
      expect(line).toContain('--scan-deadline <duration>');
    }
    const deadline = Date.parse(/deadline (\S+)/.exec(lines[0])?.[1] ?? '');
    expect(deadline - started).toBeLessThanOrEqual(3_000 + 1_000);
    expect(elapsed).toBeLessThan(15_000);
  }, 30_000);

  it('exits 2 for a malformed --scan-deadline, naming the option', async () => {
    const { code, err } = await run([
      'gate',
      `${registry.host}/app/unscanned:v1`,
      '--policy',
      policyFile,
      '--plain-http',
      '--scan-deadline',
      'soon',
    ]);
    expect(code).toBe(2);
    expect(err).toContain('--scan-deadline: expected');
  });

  it('exits 2 on an invalid policy, naming the path of the bad field', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(
      bad,
      `version: 1\nregistries: ["${registry.host}"]\ngate:\n  - scope: "app/**"\n    vulnerabilities: { block: [critcal] }\n`,
    );
    const { code, err } = await run(['gate', `${registry.host}/app/x:v1`, '--policy', bad, '--plain-http']);
    expect(code).toBe(2);
    expect(err).toContain('gate[0].vulnerabilities.block[0]');
  });

  it('exits 2 for a registry outside the allowlist and for --plain-http to a non-loopback host', async () => {
    const notAllowed = await run(['gate', 'evil.example.com/app/x:v1', '--policy', policyFile]);
    expect(notAllowed.code).toBe(2);
    expect(notAllowed.err).toMatch(/not in the policy's registries allowlist/);
    const remote = join(dir, 'remote.yaml');
    writeFileSync(
      remote,
      `version: 1\nregistries: ["registry.example.com"]\ngate:\n  - { scope: "app/**", signatures: { required: false } }\n`,
    );
    const plain = await run(['gate', 'registry.example.com/app/x:v1', '--policy', remote, '--plain-http']);
    expect(plain.code).toBe(2);
    expect(plain.err).toMatch(/loopback/);
  });

  it('exits 3 for an image that is not there, named by tag or by digest (blocked, nothing released)', async () => {
    const byTag = await run([
      'gate',
      `${registry.host}/app/clean:no-such-tag`,
      '--policy',
      policyFile,
      '--plain-http',
      '--output',
      'json',
    ]);
    expect(byTag.code).toBe(3);
    const json = JSON.parse(byTag.out);
    expect(json).toMatchObject({ kind: 'GateResult', outcome: 'fail', decision: 'block', exitCode: 3 });
    expect(json.errors).toEqual([expect.objectContaining({ code: 'IMAGE_NOT_FOUND', field: 'image' })]);
    const table = await run(['gate', `${registry.host}/app/clean:no-such-tag`, '--policy', policyFile, '--plain-http']);
    expect(table.code).toBe(3);
    expect(table.err).toMatch(/not-found.*nothing was released/);
    const missing = `sha256:${'0'.repeat(64)}`;
    const byDigest = await run([
      'gate',
      `${registry.host}/app/clean@${missing}`,
      '--policy',
      policyFile,
      '--plain-http',
      '--output',
      'json',
    ]);
    expect(byDigest.code).toBe(3);
    expect(JSON.parse(byDigest.out)).toMatchObject({ outcome: 'fail', decision: 'block' });
  });

  it('under --output json prints errors as the envelope on stdout, with the code and the field (stderr keeps the line)', async () => {
    const bad = join(dir, 'bad-json.yaml');
    writeFileSync(
      bad,
      `version: 1\nregistries: ["${registry.host}"]\ngate:\n  - scope: "app/**"\n    vulnerabilites: { block: [critical] }\n`,
    );
    const policy = await run(['gate', `${registry.host}/app/x:v1`, '--policy', bad, '--output', 'json']);
    expect(policy.code).toBe(2);
    expect(policy.err).toContain('gate[0].vulnerabilites');
    expect(JSON.parse(policy.out)).toMatchObject({
      kind: 'GateResult',
      outcome: 'error',
      exitCode: 2,
      errors: [{ code: 'INVALID_POLICY', field: expect.stringContaining('gate[0]') }],
    });
    const flag = await run([
      'gate',
      `${registry.host}/app/x:v1`,
      '--policy',
      policyFile,
      '--output=json',
      '--scan-deadline',
      'soon',
    ]);
    expect(flag.code).toBe(2);
    expect(JSON.parse(flag.out).errors[0]).toMatchObject({ code: 'INVALID_INPUT', field: '--scan-deadline' });
    const runtime = await run([
      'gate',
      `127.0.0.1:1/app/x:v1`,
      '--policy',
      policyFile,
      '--plain-http',
      '--output',
      'json',
    ]);
    expect(runtime.code).toBe(1);
    expect(JSON.parse(runtime.out)).toMatchObject({ outcome: 'error', exitCode: 1, errors: [{ code: 'TRANSIENT' }] });
  });

  it('exits 1 on a runtime error (registry unreachable), and says nothing was released', async () => {
    const { code, err } = await run(['gate', `127.0.0.1:1/app/x:v1`, '--policy', policyFile, '--plain-http']);
    expect(code).toBe(1);
    expect(err).toMatch(/TRANSIENT/);
    expect(err).toMatch(/Nothing was released/);
  });
});

describe('npm start (the demo)', () => {
  it('seeds the samples and gates each: clean and excepted released, every other sample blocked for its reason', async () => {
    const registry = await startRegistry();
    try {
      const rows = await runDemo({
        registryHost: registry.host,
        auditDir: mkdtempSync(join(tmpdir(), 'acr-guard-demo-audit-')),
      });
      // `acr-guard demo --output json` prints exactly this envelope.
      const demo = demoResult(registry.host, rows);
      expectValidResult(demo, 'demo');
      expect(demo.data.rows).toHaveLength(rows.length);
      const decisions = Object.fromEntries(rows.map((r) => [r.sample, r.verdict.decision]));
      expect(decisions).toEqual({
        'demo/clean:1.0': 'release',
        'demo/vulnerable:1.0': 'block',
        'demo/excepted:1.0': 'release',
        'demo/expired-exception:1.0': 'block',
        'demo/unparseable:1.0': 'block',
        'demo/unscanned:1.0': 'block',
        'demo/multiarch:1.0': 'block',
      });
      const reason = (sample: string) =>
        rows
          .find((r) => r.sample === sample)
          ?.verdict.checks.filter((c) => c.status !== 'pass' && c.status !== 'skip')
          .map((c) => c.reason)
          .join(' | ');
      expect(reason('demo/expired-exception:1.0')).toMatch(/expired 2025-01-31; it no longer applies/);
      expect(reason('demo/unparseable:1.0')).toMatch(/MALFORMED/);
      expect(reason('demo/unscanned:1.0')).toMatch(/unscanned is never clean/);
      expect(reason('demo/multiarch:1.0')).toMatch(/linux\/arm64.*CVE-2024-6119/);
    } finally {
      await registry.stop();
    }
  });
});
