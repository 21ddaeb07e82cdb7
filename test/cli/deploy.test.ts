/**
 * `acr-guard deploy --dry-run`: the decision against a real docker-registry on loopback and the verdicts
 * `acr-guard gate --audit-dir` recorded in a local verdict store. No ARM: a dry run needs no target.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deployResultData, promotePolicyYaml, runCli } from '../support/cli';
import { pushWithReport } from '../support/pushSamples';
import { useRegistry } from '../support/registry';
import { deployCommand } from '../../src/cli/deploy';
import { pushImage } from '../../src/local/ociPush';

describe('acr-guard deploy --dry-run', () => {
  const reg = useRegistry();
  let dir: string;
  let auditDir: string;
  let policyFile: string;
  let otherPolicyFile: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'acr-guard-deploy-'));
    auditDir = join(dir, 'verdicts');
    policyFile = join(dir, 'policy.yaml');
    otherPolicyFile = join(dir, 'other.yaml');
    writeFileSync(policyFile, promotePolicyYaml(reg.registry.host, 'critical, high'));
    writeFileSync(otherPolicyFile, promotePolicyYaml(reg.registry.host, 'critical'));
  });

  /** The policy, the loopback registry over plain http, and the local verdict store. */
  const against = (policy = policyFile) => ['--policy', policy, '--plain-http', '--audit-dir', auditDir];
  const gate = (image: string, policy = policyFile) => runCli(['gate', image, ...against(policy), '--output', 'json']);
  const deploy = async (image: string, extra: string[] = []) => {
    const r = await runCli(['deploy', image, ...against(), '--dry-run', '--output', 'json', ...extra]);
    return { ...r, json: deployResultData(r.out, r.code) };
  };

  it('a released digest would deploy (exit 0), pinned by digest in the release repository', async () => {
    const image = await pushWithReport(reg.client, 'app/clean', '1.0', false);
    expect((await gate(`${reg.registry.host}/app/clean:1.0`)).code).toBe(0);
    const r = await deploy(`${reg.registry.host}/app/clean:1.0`);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({
      decision: 'deploy',
      image: `${reg.registry.host}/release/app/clean@${image.digest}`,
      releaseRepository: 'release/app/clean',
      dryRun: true,
      verdict: { decision: 'release', source: 'audit-store' },
    });
    expect(r.json.reason).toMatch(/released .* under the current policy/);
    // By digest too, and the table output says what it would do.
    const table = await runCli(['deploy', `${reg.registry.host}/app/clean@${image.digest}`, ...against(), '--dry-run']);
    expect(table.code).toBe(0);
    expect(table.out).toContain(`WOULD DEPLOY  ${reg.registry.host}/release/app/clean@${image.digest}`);
    // The envelope's check under it, as every command prints checks (STATUS CHECK TARGET REASON), no ANSI piped.
    expect(table.out).toMatch(/\nSTATUS\s+CHECK\s+TARGET\s+REASON\n/);
    expect(table.out).toMatch(new RegExp(`\\nPASS\\s+release-evidence\\s+${image.digest}\\s+released `));
    // eslint-disable-next-line no-control-regex
    expect(table.out).not.toMatch(/\x1b\[/);
  });

  it('refuses a blocked digest (exit 3) with the verdict and its reason', async () => {
    const image = await pushWithReport(reg.client, 'app/vulnerable', '1.0', true);
    expect((await gate(`${reg.registry.host}/app/vulnerable:1.0`)).code).toBe(3);
    const r = await deploy(`${reg.registry.host}/app/vulnerable:1.0`);
    expect(r.code).toBe(3);
    expect(r.json).toMatchObject({
      decision: 'refuse',
      refusal: 'blocked',
      image: `${reg.registry.host}/app/vulnerable@${image.digest}`,
      verdict: { decision: 'block' },
    });
    expect(r.json.reason).toContain('CVE-2024-6119');
    const human = await runCli(['deploy', `${reg.registry.host}/app/vulnerable:1.0`, ...against(), '--dry-run']);
    expect(human.code).toBe(3);
    expect(human.out).toMatch(new RegExp(`^REFUSED  ${reg.registry.host}/app/vulnerable@${image.digest}\\n`));
    expect(human.out).toMatch(new RegExp(`\\nFAIL\\s+release-evidence\\s+${image.digest}\\s+.*CVE-2024-6119`));
  });

  it('refuses a digest that was never gated (exit 3)', async () => {
    const image = await pushWithReport(reg.client, 'app/ungated', '1.0', false);
    const r = await deploy(`${reg.registry.host}/app/ungated@${image.digest}`);
    expect(r.code).toBe(3);
    expect(r.json).toMatchObject({ decision: 'refuse', refusal: 'never-gated', verdict: null });
    expect(r.json.reason).toContain(image.digest);
  });

  it('refuses a release decided under another policy, and one older than runtime.regateAfter (exit 3)', async () => {
    const image = await pushWithReport(reg.client, 'app/stale', '1.0', false);
    expect((await gate(`${reg.registry.host}/app/stale@${image.digest}`, otherPolicyFile)).code).toBe(0);
    const r = await deploy(`${reg.registry.host}/app/stale@${image.digest}`);
    expect(r.code).toBe(3);
    expect(r.json).toMatchObject({ decision: 'refuse', refusal: 'stale', verdict: { decision: 'release' } });
    expect(r.json.reason).toMatch(/under policy [0-9a-f]{12}, not the current/);

    // Gated under the current policy, then 25 hours pass (regateAfter defaults to 24h).
    expect((await gate(`${reg.registry.host}/app/stale@${image.digest}`)).code).toBe(0);
    expect((await deploy(`${reg.registry.host}/app/stale@${image.digest}`)).code).toBe(0);
    let out = '';
    const code = await deployCommand(
      [`${reg.registry.host}/app/stale@${image.digest}`, ...against(), '--dry-run', '--output', 'json'],
      { out: (s) => (out += s), err: () => undefined, now: () => Date.now() + 25 * 3_600_000 },
    );
    expect(code).toBe(3);
    expect(JSON.parse(out).data).toMatchObject({ refusal: 'stale' });
    expect(JSON.parse(out).data.reason).toContain('runtime.regateAfter (1d)');
  });

  it('refuses a tag that moved after its gate, naming both digests (exit 3)', async () => {
    const first = await pushWithReport(reg.client, 'app/moved', '2.0', false);
    expect((await gate(`${reg.registry.host}/app/moved:2.0`)).code).toBe(0);
    // Someone pushes another image under the same tag; even gated by digest, the tag's own gate was elsewhere.
    const second = await pushImage(reg.client, 'app/moved', {
      tag: '2.0',
      layers: [Buffer.from('moved tag, other content')],
      created: new Date().toISOString(),
    });
    const r = await deploy(`${reg.registry.host}/app/moved:2.0`);
    expect(r.code).toBe(3);
    expect(r.json).toMatchObject({ decision: 'refuse', refusal: 'tag-moved' });
    expect(r.json.reason).toContain(second.digest);
    expect(r.json.reason).toContain(first.digest);
    // The digest the tag was gated at still deploys by digest.
    expect((await deploy(`${reg.registry.host}/app/moved@${first.digest}`)).code).toBe(0);
  });

  it('refuses a release that was never promoted into the release repository (exit 3)', async () => {
    const image = await pushWithReport(reg.client, 'app/unpromoted', '1.0', false);
    // A dry-run gate decides and records, and applies nothing: no copy into release/.
    const dry = await runCli([
      'gate',
      `${reg.registry.host}/app/unpromoted@${image.digest}`,
      ...against(),
      '--dry-run',
    ]);
    expect(dry.code).toBe(0);
    const r = await deploy(`${reg.registry.host}/app/unpromoted@${image.digest}`);
    expect(r.code).toBe(3);
    expect(r.json).toMatchObject({ decision: 'refuse', refusal: 'not-promoted', verdict: { decision: 'release' } });
    expect(r.json.reason).toContain('release/app/unpromoted does not hold');
  });

  it('refuses a registry outside the allowlist without contacting it (exit 3)', async () => {
    const r = await deploy('127.0.0.1:1/app/x@sha256:' + 'a'.repeat(64));
    expect(r.code).toBe(3);
    expect(r.json).toMatchObject({ decision: 'refuse', refusal: 'not-allowlisted' });
  });

  it('usage errors (exit 2): no --target without --dry-run, a subscription as target', async () => {
    const noTarget = await runCli(['deploy', `${reg.registry.host}/app/clean:1.0`, '--policy', policyFile]);
    expect(noTarget.code).toBe(2);
    expect(noTarget.err).toContain('--target <ARM id> is required');
    const sub = await runCli([
      'deploy',
      `${reg.registry.host}/app/clean:1.0`,
      '--policy',
      policyFile,
      '--target',
      '/subscriptions/00000000-0000-0000-0000-000000000001',
    ]);
    expect(sub.code).toBe(2);
    expect(sub.err).toContain('--target: expected the ARM id of one Container App');
  });
});
