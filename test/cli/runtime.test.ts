/**
 * `acr-guard runtime` against a real docker-registry on loopback and an audit dir the gate CLI records into:
 * every status, the documented JSON and exit codes, the grace clock across runs (restarts), a re-gate that
 * turns `released` into `blocked` when a new report appears, a policy change that triggers re-gates, and a
 * registry outside the allowlist that is never contacted.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../support/cli';
import { attachReport } from '../support/pushSamples';
import { startLoopback, type LoopbackServer } from '../support/loopbackHttp';
import { MediaTypes } from '../../src/core/types';
import { createRegistryClient } from '../../src/adapters/registry';
import { FileAuditStore } from '../../src/adapters/auditStore';
import type { RegistryClient } from '../../src/adapters/ports';
import { pushImage } from '../../src/local/ociPush';
import { startRegistry, type RunningRegistry } from '../../src/local/registryServer';
import { runtimeCommand } from '../../src/cli/runtime';

jest.setTimeout(60_000);

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** The `runtime --output json` envelope's data (checking the envelope on the way). */
function runtimeData(out: string) {
  const result = JSON.parse(out);
  expect(result).toMatchObject({ apiVersion: 'acr-guard.io/v1', kind: 'RuntimeResult' });
  expect(result.checks).toHaveLength(result.data.images.length);
  return result.data;
}

describe('acr-guard runtime', () => {
  let registry: RunningRegistry;
  let client: RegistryClient;
  let hostile: LoopbackServer;
  let dir: string;

  beforeAll(async () => {
    registry = await startRegistry();
    client = createRegistryClient({ host: registry.host, plainHttp: true });
    // A registry outside the allowlist: any request it receives is a failure of "never contacted".
    hostile = await startLoopback((_req, res) => {
      res.statusCode = 500;
      res.end();
    });
    dir = mkdtempSync(join(tmpdir(), 'acr-guard-runtime-cli-'));
  });
  afterAll(async () => {
    await registry?.stop();
    await hostile?.close();
  });

  function policyFile(name: string, block = 'critical, high', tolerateTags = false): string {
    const file = join(dir, name);
    writeFileSync(
      file,
      `version: 1
registries:
  - { host: "${registry.host}", apply: none }
gate:
  - scope: "app/**"
    vulnerabilities: { block: [${block}], maxReportAge: 7d, sources: [reports], scanDeadline: 0s }
runtime:
  grace: { critical: 3d, high: 14d }
  regateAfter: 1h
  allowRegistries: [mcr.microsoft.com]
${tolerateTags ? '  tolerateTags: true\n' : ''}`,
    );
    return file;
  }

  async function push(repository: string, tag: string, severity?: 'critical' | 'medium'): Promise<string> {
    const now = new Date().toISOString();
    const image = await pushImage(client, repository, {
      tag,
      layers: [Buffer.from(`${repository}:${tag}:${Math.random()}`)],
      created: now,
    });
    await report(repository, image.digest, severity);
    return image.digest;
  }

  async function report(repository: string, digest: string, severity?: 'critical' | 'medium'): Promise<void> {
    const size = (await client.getManifest(repository, digest)).size;
    await attachReport(
      client,
      repository,
      { mediaType: MediaTypes.ociManifest, digest, size },
      {
        format: 'cyclonedx',
        imageHost: registry.host,
        scannedAt: new Date().toISOString(),
        vulnerabilities: severity
          ? [{ id: 'CVE-2024-6119', severity, package: 'openssl', installedVersion: '3.0.13', fixedVersion: '3.0.14' }]
          : [],
      },
    );
  }

  async function gate(audit: string, policy: string, reference: string): Promise<number> {
    return (await runCli(['gate', reference, '--policy', policy, '--plain-http', '--audit-dir', audit])).code;
  }

  function deployed(name: string, items: Array<[string, string]>): string {
    const file = join(dir, name);
    writeFileSync(file, JSON.stringify(items.map(([image, source]) => ({ image, source }))));
    return file;
  }

  async function runtime(argv: string[], nowMs = Date.now()): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const code = await runtimeCommand(argv, {
      out: (s) => (out += `${s}\n`),
      err: (s) => (err += `${s}\n`),
      now: () => nowMs,
    });
    return { code, out, err };
  }

  it('gives every status, the documented JSON, exit 3, and keeps the grace clock across runs until overdue', async () => {
    const audit = mkdtempSync(join(dir, 'audit-'));
    const policy = policyFile('all.yaml');
    const clean = await push('app/clean', 'v1');
    await push('app/vuln', 'v1', 'critical');
    const sneaky = await push('app/sneaky', 'v1');
    expect(await gate(audit, policy, `${registry.host}/app/clean@${clean}`)).toBe(0);
    expect(await gate(audit, policy, `${registry.host}/app/vuln:v1`)).toBe(3);
    const list = deployed('all.json', [
      [`${registry.host}/app/clean@${clean}`, 'ca-api, container main'],
      [`${registry.host}/app/vuln:v1`, 'ca-web, container main'],
      [`${registry.host}/app/sneaky@${sneaky}`, 'aci-batch, init container setup'],
      ['nginx:latest', 'aci-proxy, container nginx'],
      [`${hostile.host}/evil/miner:latest`, 'ca-x, container side'],
      ['mcr.microsoft.com/dotnet/aspnet:8.0', 'ca-dotnet, container main'],
      [`${registry.host}/app/gone:v9`, 'ca-old, container main'],
    ]);
    const start = Date.now();
    const first = await runtime(
      ['--policy', policy, '--deployed', list, '--audit-dir', audit, '--plain-http', '--output', 'json'],
      start,
    );
    expect(first.code).toBe(3);
    const json = runtimeData(first.out);
    const status = (fragment: string) => json.images.find((i: { image: string }) => i.image.includes(fragment));
    expect(status('app/clean')).toMatchObject({
      status: 'released',
      digest: clean,
      byTag: false,
      workloads: ['ca-api, container main'],
    });
    expect(status('app/vuln')).toMatchObject({
      status: 'blocked',
      byTag: true,
      graceUntil: new Date(start + 3 * DAY).toISOString(),
    });
    expect(status('app/sneaky')).toMatchObject({ status: 'never-gated', digest: sneaky });
    expect(status('docker.io/library/nginx')).toMatchObject({ status: 'outside-allowlist', byTag: true });
    expect(status('evil/miner')).toMatchObject({ status: 'outside-allowlist' });
    expect(status('mcr.microsoft.com')).toMatchObject({ status: 'allowed-external' });
    expect(status('app/gone')).toMatchObject({ status: 'unresolved', byTag: true });
    expect(status('app/gone').reason).toContain('NOT_FOUND');
    expect(json.summary).toEqual({
      released: 1,
      blocked: 1,
      overdue: 0,
      'never-gated': 1,
      'outside-allowlist': 2,
      'allowed-external': 1,
      unresolved: 1,
      'by-tag': 0,
    });
    for (const image of json.images)
      expect(
        Object.keys(image).filter(
          (k) => !['image', 'digest', 'byTag', 'workloads', 'status', 'reason', 'graceUntil'].includes(k),
        ),
      ).toEqual([]);
    expect(hostile.requests).toHaveLength(0);

    // A later run (a new process: state read back from the audit dir) keeps the first sighting; past the grace: overdue.
    const later = runtimeData(
      (
        await runtime(
          ['--policy', policy, '--deployed', list, '--audit-dir', audit, '--plain-http', '--output', 'json'],
          start + DAY,
        )
      ).out,
    );
    expect(later.images.find((i: { image: string }) => i.image.includes('app/vuln'))).toMatchObject({
      status: 'blocked',
      graceUntil: new Date(start + 3 * DAY).toISOString(),
    });
    // The time left as a person reads it, not `left: 1d23h59m53s435ms`.
    const nearly = await runtime(
      ['--policy', policy, '--deployed', list, '--audit-dir', audit, '--plain-http'],
      start + DAY + 6_565,
    );
    expect(nearly.out).toMatch(/\(3d\) left: 2 days\n/);
    expect(nearly.out).toContain('[grace left 2 days]');
    expect(nearly.out).not.toMatch(/left: \d+d\d+h/);
    const overdue = await runtime(
      ['--policy', policy, '--deployed', list, '--audit-dir', audit, '--plain-http'],
      start + 3 * DAY + 1,
    );
    expect(overdue.code).toBe(3);
    expect(overdue.out).toMatch(/overdue\s+\S+app\/vuln:v1 {2}\(deployed by tag: pin by digest\)/);
    expect((await new FileAuditStore(audit).latestRuntimeReport())?.summary.overdue).toBe(1);
    expect(hostile.requests).toHaveLength(0);
  });

  it('exits 0 when every image is released or allowed-external', async () => {
    const audit = mkdtempSync(join(dir, 'audit-'));
    const policy = policyFile('ok.yaml');
    const digest = await push('app/ok', 'v1');
    expect(await gate(audit, policy, `${registry.host}/app/ok:v1`)).toBe(0);
    const list = deployed('ok.json', [
      [`${registry.host}/app/ok@${digest}`, 'ca-ok, container main'],
      ['mcr.microsoft.com/azure-functions/node:4', 'fa, container main'],
    ]);
    const { code, out } = await runtime(['--policy', policy, '--deployed', list, '--audit-dir', audit, '--plain-http']);
    expect(code).toBe(0);
    expect(out).toContain('1 released, 1 allowed-external');
  });

  it('a released digest deployed by tag is by-tag (exit 3), released only where runtime.tolerateTags says so', async () => {
    const audit = mkdtempSync(join(dir, 'audit-'));
    const strict = policyFile('tags.yaml');
    const tolerant = policyFile('tags-ok.yaml', 'critical, high', true);
    const digest = await push('app/tagged', 'v1');
    expect(await gate(audit, strict, `${registry.host}/app/tagged:v1`)).toBe(0);
    const list = deployed('tagged.json', [[`${registry.host}/app/tagged:v1`, 'ca-tagged, container main']]);
    const byTag = await runtime([
      '--policy',
      strict,
      '--deployed',
      list,
      '--audit-dir',
      audit,
      '--plain-http',
      '--output',
      'json',
    ]);
    expect(byTag.code).toBe(3);
    const entry = runtimeData(byTag.out).images[0];
    expect(entry).toMatchObject({ status: 'by-tag', digest, byTag: true });
    expect(entry.reason).toContain('Pin by digest');
    expect(runtimeData(byTag.out).summary).toMatchObject({ released: 0, 'by-tag': 1 });
    // runtime is outside the policy hash: the same verdict counts under the tolerant file.
    const tolerated = await runtime([
      '--policy',
      tolerant,
      '--deployed',
      list,
      '--audit-dir',
      audit,
      '--plain-http',
      '--output',
      'json',
    ]);
    expect(tolerated.code).toBe(0);
    expect(runtimeData(tolerated.out).images[0]).toMatchObject({ status: 'released', byTag: true });
    expect(runtimeData(tolerated.out).images[0].reason).toContain('tolerated by runtime.tolerateTags');
  });

  it('--regate turns released into blocked when a new report appears, recorded but never applied', async () => {
    const audit = mkdtempSync(join(dir, 'audit-'));
    // Deployed by tag: tolerated here, so that `released` (exit 0) is what the re-gate turns into `blocked`.
    const policy = policyFile('regate.yaml', 'critical, high', true);
    const digest = await push('app/later', 'v1');
    expect(await gate(audit, policy, `${registry.host}/app/later:v1`)).toBe(0);
    const list = deployed('regate.json', [[`${registry.host}/app/later:v1`, 'ca-later, container main']]);
    expect((await runtime(['--policy', policy, '--deployed', list, '--audit-dir', audit, '--plain-http'])).code).toBe(
      0,
    );
    await report('app/later', digest, 'critical');
    // Within regateAfter nothing is re-gated: still released.
    expect(
      (await runtime(['--policy', policy, '--deployed', list, '--audit-dir', audit, '--plain-http', '--regate'])).code,
    ).toBe(0);
    const { code, out } = await runtime(
      ['--policy', policy, '--deployed', list, '--audit-dir', audit, '--plain-http', '--regate', '--output', 'json'],
      Date.now() + 2 * HOUR,
    );
    expect(code).toBe(3);
    expect(runtimeData(out).images[0]).toMatchObject({ status: 'blocked', digest, byTag: true });
    const verdicts = await new FileAuditStore(audit).listVerdicts(registry.host, 'app/later');
    expect(verdicts.map((v) => v.decision)).toEqual(['block', 'release']);
    // Never disturbed: the running tag still points at the digest (no untag, no delete).
    expect(await client.resolveTag('app/later', 'v1')).toBe(digest);
    expect((await new FileAuditStore(audit).latestRuntimeReport())?.regated).toEqual([
      expect.objectContaining({ outcome: 'block', why: expect.stringContaining('regateAfter') }),
    ]);
  });

  it('without --audit-dir: unresolved (no verdict store was read), with a note saying what to pass; not "reached a workload without passing the gate"', async () => {
    const policy = policyFile('nostore.yaml');
    const digest = await push('app/nostore', 'v1');
    const list = deployed('nostore.json', [[`${registry.host}/app/nostore@${digest}`, 'ca-nostore, container main']]);
    const { code, out, err } = await runtime(['--policy', policy, '--deployed', list, '--plain-http']);
    expect(code).toBe(3);
    expect(out).toMatch(/^unresolved +\S+app\/nostore@sha256:/m);
    expect(out).toContain(`no verdict store was read, so whether ${digest} passed the gate is not known`);
    expect(out).not.toMatch(/without passing the gate/);
    expect(err).toMatch(/note: no --audit-dir was given.*pass --audit-dir <dir>/);
  });

  it('--regate on a never-gated digest says what it did: re-gated 0, skipped 1 never-gated and why', async () => {
    const audit = mkdtempSync(join(dir, 'audit-'));
    const policy = policyFile('never.yaml');
    const digest = await push('app/never', 'v1');
    const list = deployed('never.json', [[`${registry.host}/app/never@${digest}`, 'ca-never, container main']]);
    const { code, out } = await runtime([
      '--policy',
      policy,
      '--deployed',
      list,
      '--audit-dir',
      audit,
      '--plain-http',
      '--regate',
    ]);
    expect(code).toBe(3);
    expect(out).toMatch(/^never-gated +\S+app\/never@/m);
    expect(out).toContain(
      're-gated 0 digests (stale or made under another policy version); skipped 1 never-gated digest: --regate renews existing verdicts only',
    );
    expect(out).toContain('gate it with `acr-guard gate <image> --audit-dir <dir>`');
  });

  it('a policy change makes a released image due: not released until re-gated under the new policy', async () => {
    const audit = mkdtempSync(join(dir, 'audit-'));
    const before = policyFile('before.yaml', 'critical');
    const after = policyFile('after.yaml', 'critical, high, medium');
    const digest = await push('app/medium', 'v1', 'medium');
    expect(await gate(audit, before, `${registry.host}/app/medium@${digest}`)).toBe(0);
    const list = deployed('medium.json', [[`${registry.host}/app/medium@${digest}`, 'ca-m, container main']]);
    expect((await runtime(['--policy', before, '--deployed', list, '--audit-dir', audit, '--plain-http'])).code).toBe(
      0,
    );
    const stale = runtimeData(
      (await runtime(['--policy', after, '--deployed', list, '--audit-dir', audit, '--plain-http', '--output', 'json']))
        .out,
    );
    expect(stale.images[0]).toMatchObject({ status: 'never-gated', reason: expect.stringContaining('re-gate is due') });
    const regated = runtimeData(
      (
        await runtime([
          '--policy',
          after,
          '--deployed',
          list,
          '--audit-dir',
          audit,
          '--plain-http',
          '--regate',
          '--output',
          'json',
        ])
      ).out,
    );
    expect(regated.images[0]).toMatchObject({ status: 'blocked' });
    const [latest] = await new FileAuditStore(audit).listVerdicts(registry.host, 'app/medium', 1);
    expect(latest.decision).toBe('block');
  });

  it('usage and runtime errors: 2 for bad arguments, 1 for an unreadable grace state', async () => {
    const policy = policyFile('usage.yaml');
    const list = deployed('usage.json', [['nginx:1', 'w']]);
    expect((await runCli(['runtime', '--deployed', list])).code).toBe(2);
    expect((await runCli(['runtime', '--policy', policy, '--deployed', list, '--regate'])).code).toBe(2);
    expect((await runCli(['runtime', '--policy', policy])).code).toBe(2);
    const halfTrust = await runCli(['runtime', '--policy', policy, '--deployed', list, '--trust-policy', policy]);
    expect(halfTrust.code).toBe(2);
    expect(halfTrust.err).toContain('--trust-policy and --trust-store go together');
    // The policy is read through the bounded reader: /dev/zero is refused after the limit, never read whole.
    const zero = await runCli(['runtime', '--policy', '/dev/zero', '--deployed', list]);
    expect(zero.code).toBe(2);
    expect(zero.err).toContain('FILE_TOO_LARGE');
    const badDeployed = join(dir, 'bad.json');
    writeFileSync(badDeployed, '{"image": 1}');
    expect((await runCli(['runtime', '--policy', policy, '--deployed', badDeployed])).code).toBe(2);
    const audit = mkdtempSync(join(dir, 'audit-'));
    writeFileSync(join(audit, 'runtime-state.json'), 'not json');
    const broken = await runCli(['runtime', '--policy', policy, '--deployed', list, '--audit-dir', audit]);
    expect(broken.code).toBe(1);
    expect(broken.err).toContain('MALFORMED');
  });
});
