/**
 * `acr-guard deploy --attestation-key --dry-run`: the decision from the registry alone, on acr-guard's signed
 * verdict (SLSA VSA) that a real `acr-guard gate --attestation-key` attached on a real docker-registry on loopback
 * (promote mode: the PASSED VSA on the release repository's digest, a FAILED one on the pushed digest). No verdict
 * store, no ARM.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pemFileSigner } from '../../src/adapters/attestationSigner';
import { deployCommand } from '../../src/cli/deploy';
import { loadPolicy } from '../../src/core/policy';
import type { Verdict } from '../../src/core/types';
import { buildVsaStatement } from '../../src/core/vsa';
import { attachVsa } from '../../src/jobs/releaseProof';
import { pushImage } from '../../src/local/ociPush';
import { deployResultData, promotePolicyYaml, runCli } from '../support/cli';
import { pushWithReport } from '../support/pushSamples';
import { useRegistry } from '../support/registry';

const reg = useRegistry();

describe('acr-guard deploy --attestation-key (the signed verdict in the registry, no verdict store)', () => {
  let dir: string;
  let key: string;
  let pub: string;
  let otherKey: string;
  let otherPub: string;
  let policyFile: string;
  let otherPolicyFile: string;

  const policyText = (block: string) => promotePolicyYaml(reg.registry.host, block);

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'acr-guard-deploy-vsa-'));
    const pair = (name: string) => {
      const p = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      writeFileSync(join(dir, `${name}.pem`), p.privateKey.export({ type: 'pkcs8', format: 'pem' }));
      writeFileSync(join(dir, `${name}.pub.pem`), p.publicKey.export({ type: 'spki', format: 'pem' }));
      return [join(dir, `${name}.pem`), join(dir, `${name}.pub.pem`)];
    };
    [key, pub] = pair('acr-guard');
    [otherKey, otherPub] = pair('other');
    policyFile = join(dir, 'policy.yaml');
    otherPolicyFile = join(dir, 'other.yaml');
    writeFileSync(policyFile, policyText('critical, high'));
    writeFileSync(otherPolicyFile, policyText('critical'));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const gate = (image: string, policy = policyFile, withKey = true) =>
    runCli([
      'gate',
      image,
      '--policy',
      policy,
      '--plain-http',
      ...(withKey ? ['--attestation-key', key] : []),
      '--output',
      'json',
    ]);
  const deployArgs = (image: string, publicKey = pub) => [
    image,
    '--policy',
    policyFile,
    '--plain-http',
    '--attestation-key',
    publicKey,
    '--dry-run',
    '--output',
    'json',
  ];
  const deploy = async (image: string, publicKey = pub) => {
    const r = await runCli(['deploy', ...deployArgs(image, publicKey)]);
    return { ...r, json: deployResultData(r.out, r.code) };
  };

  it('a released digest with its VSA would deploy (exit 0) from the release repository; by tag it says what is not checked', async () => {
    const image = await pushWithReport(reg.client, 'app/clean', '1.0', false);
    expect((await gate(`${reg.registry.host}/app/clean@${image.digest}`)).code).toBe(0);
    const r = await deploy(`${reg.registry.host}/app/clean@${image.digest}`);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({
      decision: 'deploy',
      image: `${reg.registry.host}/release/app/clean@${image.digest}`,
      releaseRepository: 'release/app/clean',
      verdict: { decision: 'release', source: 'vsa', policyHash: loadPolicy(policyText('critical, high'), 'p').hash },
    });
    expect(r.json.reason).toMatch(/released .* under the current policy/);
    expect(r.json.reason).not.toMatch(/not checked/);
    const byTag = await deploy(`${reg.registry.host}/app/clean:1.0`);
    expect(byTag.code).toBe(0);
    expect(byTag.json.reason).toMatch(/not checked: whether tag 1\.0 moved after its gate/);
  });

  it('refuses (exit 3) a VSA signed by another key, and a digest with no VSA at all', async () => {
    const image = await pushWithReport(reg.client, 'app/keys', '1.0', false);
    expect((await gate(`${reg.registry.host}/app/keys@${image.digest}`)).code).toBe(0);
    const other = await deploy(`${reg.registry.host}/app/keys@${image.digest}`, otherPub);
    expect(other.code).toBe(3);
    expect(other.json).toMatchObject({ decision: 'refuse', refusal: 'never-gated', verdict: null });
    expect(other.json.reason).toMatch(/no signature of the envelope verifies with the given key/);

    // Released by a gate that signs nothing: the release repository holds the digest, but no VSA says so.
    const unsigned = await pushWithReport(reg.client, 'app/unsigned', '1.0', false);
    expect((await gate(`${reg.registry.host}/app/unsigned@${unsigned.digest}`, policyFile, false)).code).toBe(0);
    const none = await deploy(`${reg.registry.host}/app/unsigned@${unsigned.digest}`);
    expect(none.code).toBe(3);
    expect(none.json).toMatchObject({ refusal: 'never-gated' });
    expect(none.json.reason).toContain(`no attestation is attached to ${reg.registry.host}/release/app/unsigned@`);
  });

  it('refuses (exit 3) a blocked image: the FAILED VSA the gate attached to the pushed digest', async () => {
    const image = await pushWithReport(reg.client, 'app/vulnerable', '1.0', true);
    expect((await gate(`${reg.registry.host}/app/vulnerable@${image.digest}`)).code).toBe(3);
    const r = await deploy(`${reg.registry.host}/app/vulnerable@${image.digest}`);
    expect(r.code).toBe(3);
    expect(r.json).toMatchObject({ refusal: 'blocked', verdict: { decision: 'block', source: 'vsa' } });
    expect(r.json.reason).toContain('CVE-2024-6119');
  });

  it('refuses (exit 3) a release under another policy, and one verified longer ago than runtime.regateAfter', async () => {
    const image = await pushWithReport(reg.client, 'app/stale', '1.0', false);
    expect((await gate(`${reg.registry.host}/app/stale@${image.digest}`, otherPolicyFile)).code).toBe(0);
    const r = await deploy(`${reg.registry.host}/app/stale@${image.digest}`);
    expect(r.code).toBe(3);
    expect(r.json).toMatchObject({ refusal: 'stale', verdict: { decision: 'release', source: 'vsa' } });
    expect(r.json.reason).toMatch(/under policy [0-9a-f]{12}, not the current/);

    // Gated again under the current policy (the VSA is replaced), then 25 hours pass (regateAfter 24h).
    expect((await gate(`${reg.registry.host}/app/stale@${image.digest}`)).code).toBe(0);
    expect((await deploy(`${reg.registry.host}/app/stale@${image.digest}`)).code).toBe(0);
    let out = '';
    const code = await deployCommand(deployArgs(`${reg.registry.host}/app/stale@${image.digest}`), {
      out: (s) => (out += s),
      err: () => undefined,
      now: () => Date.now() + 25 * 3_600_000,
    });
    expect(code).toBe(3);
    expect(JSON.parse(out).data).toMatchObject({ refusal: 'stale' });
    expect(JSON.parse(out).data.reason).toContain('runtime.regateAfter (1d)');
  });

  it('whoever can push decides nothing: a VSA signed by their own key releases nothing; a newer FAILED one on the pushed digest wins over the release', async () => {
    const host = reg.registry.host;
    const policyHash = loadPolicy(policyText('critical, high'), 'p').hash;
    const statement = (repository: string, digest: string, decision: Verdict['decision'], decidedAt: string) =>
      buildVsaStatement({
        verdict: {
          image: { registry: host, repository, digest },
          decision,
          summary: decision === 'release' ? 'released' : 'blocked: re-gated, CVE-2024-6119 (critical)',
          checks: [],
          findingCounts: {},
          rule: 'gate[0] scope "app/**"',
          policy: { version: 1, hash: policyHash },
          decidedAt,
        },
        repository: `${host}/${repository}`,
        verifierId: 'https://github.com/acr-guard/acr-guard',
        policyUri: 'file:policy.yaml',
        inputAttestations: [],
      });
    // A PASSED VSA under the current policy, signed by a key that is not acr-guard's, on a never-gated digest
    // copied by hand into the release repository.
    const forged = await pushImage(reg.client, 'release/app/forged', { seed: 'forged' });
    expect((await pushImage(reg.client, 'app/forged', { seed: 'forged' })).digest).toBe(forged.digest);
    await attachVsa(
      reg.client,
      'release/app/forged',
      forged.digest,
      statement('release/app/forged', forged.digest, 'release', new Date().toISOString()),
      pemFileSigner(otherKey),
    );
    const r = await deploy(`${host}/app/forged@${forged.digest}`);
    expect(r.code).toBe(3);
    expect(r.json).toMatchObject({ refusal: 'never-gated' });

    // Released (PASSED in release/), then re-gated and blocked (FAILED on the pushed digest, newer): refused.
    const image = await pushWithReport(reg.client, 'app/regated', '1.0', false);
    expect((await gate(`${host}/app/regated@${image.digest}`)).code).toBe(0);
    expect((await deploy(`${host}/app/regated@${image.digest}`)).code).toBe(0);
    await attachVsa(
      reg.client,
      'app/regated',
      image.digest,
      statement('app/regated', image.digest, 'block', new Date(Date.now() + 60_000).toISOString()),
      pemFileSigner(key),
    );
    const after = await deploy(`${host}/app/regated@${image.digest}`);
    expect(after.code).toBe(3);
    expect(after.json).toMatchObject({ refusal: 'blocked', verdict: { decision: 'block' } });
    expect(after.json.reason).toContain('re-gated');
  });

  it('usage errors (exit 2): with a verdict store, a private key, a file that is no key', async () => {
    const ref = `${reg.registry.host}/app/x:1`;
    const base = ['deploy', ref, '--policy', policyFile, '--plain-http', '--dry-run'];
    const both = await runCli([...base, '--attestation-key', pub, '--audit-dir', dir]);
    expect(both.code).toBe(2);
    expect(both.err).toMatch(/--attestation-key and --audit-dir\/--audit-table/);
    expect(
      (await runCli([...base, '--attestation-key', pub, '--audit-table', 'https://a.table.core.windows.net'])).code,
    ).toBe(2);
    expect((await runCli([...base, '--attestation-key', key])).err).toMatch(/private key/);
    expect((await runCli([...base, '--attestation-key', policyFile])).code).toBe(2);
  });
});
