/**
 * `acr-guard verify --attestation-key`: decides from the registry alone whether an image carries acr-guard's
 * signed verdict (SLSA VSA) saying PASSED under the current policy. A real docker-registry on loopback; the VSA
 * attached by the same code the gate's apply step runs (a PEM signer).
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pemFileSigner } from '../../src/adapters/attestationSigner';
import { loadPolicy } from '../../src/core/policy';
import type { Verdict } from '../../src/core/types';
import { buildVsaStatement } from '../../src/core/vsa';
import { attachVsa } from '../../src/jobs/releaseProof';
import { pushImage } from '../../src/local/ociPush';
import { runCli } from '../support/cli';
import { pushWithReport, reportsGatePolicyYaml } from '../support/pushSamples';
import { useRegistry } from '../support/registry';

const reg = useRegistry();
const POLICY_FILE = resolve(__dirname, '../../policy/acr-guard.yaml');

describe('acr-guard verify --attestation-key', () => {
  let dir: string;
  let key: string;
  let pub: string;
  let otherPub: string;
  let otherPolicy: string;
  const policyHash = loadPolicy(readFileSync(POLICY_FILE, 'utf8'), POLICY_FILE).hash;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'acr-guard-verify-vsa-'));
    const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    key = join(dir, 'key.pem');
    pub = join(dir, 'pub.pem');
    writeFileSync(key, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(pub, pair.publicKey.export({ type: 'spki', format: 'pem' }));
    otherPub = join(dir, 'other.pem');
    writeFileSync(
      otherPub,
      generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'pem' }),
    );
    otherPolicy = join(dir, 'other.yaml');
    writeFileSync(otherPolicy, readFileSync(POLICY_FILE, 'utf8').replace('maxReportAge: 3d', 'maxReportAge: 2d'));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function withVsa(
    repository: string,
    decision: Verdict['decision'],
    decidedAt = '2026-12-07T20:00:00.000Z',
  ): Promise<string> {
    const pushed = await pushImage(reg.client, repository, { tag: 'v1', seed: `${repository}` });
    const verdict: Verdict = {
      image: { registry: reg.registry.host, repository, digest: pushed.digest },
      decision,
      summary: decision === 'release' ? 'released' : 'blocked: CVE-2024-6119 (critical)',
      checks: [{ name: 'vulnerabilities', status: decision === 'release' ? 'pass' : 'fail', reason: 'r' }],
      findingCounts: {},
      rule: 'gate[0] scope "**"',
      policy: { version: 1, hash: policyHash },
      decidedAt,
    };
    const statement = buildVsaStatement({
      verdict,
      repository: `${reg.registry.host}/${repository}`,
      verifierId: 'https://github.com/acr-guard/acr-guard',
      policyUri: 'file:policy/acr-guard.yaml',
      inputAttestations: [],
    });
    await attachVsa(reg.client, repository, pushed.digest, statement, pemFileSigner(key));
    return `${reg.registry.host}/${repository}@${pushed.digest}`;
  }

  it('exits 0 for a PASSED VSA signed by the key, under the current policy (by digest and by tag)', async () => {
    const ref = await withVsa('vsa/passed', 'release');
    const ok = await runCli(['verify', ref, '--attestation-key', pub, '--policy', POLICY_FILE, '--plain-http']);
    expect(ok).toMatchObject({ code: 0, out: expect.stringMatching(/VSA verified: PASSED/) });
    const byTag = await runCli([
      'verify',
      `${reg.registry.host}/vsa/passed:v1`,
      '--attestation-key',
      pub,
      '--plain-http',
    ]);
    expect(byTag.code).toBe(0);
    const json = await runCli(['verify', ref, '--attestation-key', pub, '--plain-http', '--output', 'json']);
    expect(JSON.parse(json.out)).toMatchObject({
      kind: 'VerifyResult',
      outcome: 'pass',
      decision: 'verified',
      data: { status: 'verified', vsa: { verificationResult: 'PASSED' } },
    });
  });

  it('exits 3 for another key, another policy, a FAILED VSA, or none at all', async () => {
    const ref = await withVsa('vsa/keys', 'release');
    const other = await runCli(['verify', ref, '--attestation-key', otherPub, '--plain-http']);
    expect(other).toMatchObject({
      code: 3,
      out: expect.stringMatching(/no signature of the envelope verifies with the given key/),
    });
    const stale = await runCli(['verify', ref, '--attestation-key', pub, '--policy', otherPolicy, '--plain-http']);
    expect(stale).toMatchObject({ code: 3, out: expect.stringMatching(/policy hash/) });
    const failed = await withVsa('vsa/failed', 'block');
    expect(await runCli(['verify', failed, '--attestation-key', pub, '--plain-http'])).toMatchObject({
      code: 3,
      out: expect.stringMatching(/verificationResult is "FAILED"/),
    });
    const bare = await pushImage(reg.client, 'vsa/none', { seed: 'none' });
    expect(
      await runCli([
        'verify',
        `${reg.registry.host}/vsa/none@${bare.digest}`,
        '--attestation-key',
        pub,
        '--plain-http',
      ]),
    ).toMatchObject({ code: 3, out: expect.stringMatching(/no attestation is attached/) });
  });

  it('whoever can push decides nothing: an older PASSED VSA replayed next to a newer FAILED one does not verify', async () => {
    const ref = await withVsa('vsa/replayed', 'release', '2026-12-07T20:00:00.000Z');
    const digest = ref.slice(ref.indexOf('@') + 1);
    const tag = `sha256-${digest.slice('sha256:'.length)}.att`;
    const passedLayer = (await reg.client.getManifest('vsa/replayed', tag)).json.layers as unknown[];
    // A later gate blocks the same digest: its FAILED VSA replaces acr-guard's PASSED one under the tag.
    await withVsa('vsa/replayed', 'block', '2026-12-07T21:00:00.000Z');
    expect(await runCli(['verify', ref, '--attestation-key', pub, '--plain-http'])).toMatchObject({ code: 3 });
    // The pusher puts the old PASSED layer (its blob is still in the repository) back beside the FAILED one.
    const current = await reg.client.getManifest('vsa/replayed', tag);
    const replayed = { ...current.json, layers: [...passedLayer, ...(current.json.layers as unknown[])] };
    await reg.client.putManifest(
      'vsa/replayed',
      tag,
      Buffer.from(JSON.stringify(replayed)),
      'application/vnd.oci.image.manifest.v1+json',
    );
    expect((await reg.client.getManifest('vsa/replayed', tag)).json.layers).toHaveLength(2);
    expect(await runCli(['verify', ref, '--attestation-key', pub, '--plain-http'])).toMatchObject({
      code: 3,
      out: expect.stringMatching(/verificationResult is "FAILED"/),
    });
  });

  it('acr-guard gate --attestation-key promotes and signs; verify --attestation-key --policy accepts the release', async () => {
    const policyFile = join(dir, 'gate.yaml');
    writeFileSync(policyFile, reportsGatePolicyYaml(reg.registry.host, 'promote'));
    const image = await pushWithReport(reg.client, 'team/cli-vsa', 'v1', false);
    const gated = await runCli([
      'gate',
      `${reg.registry.host}/team/cli-vsa@${image.digest}`,
      '--policy',
      policyFile,
      '--attestation-key',
      key,
      '--plain-http',
      '--output',
      'json',
    ]);
    expect(gated.code).toBe(0);
    const release = `${reg.registry.host}/release/team/cli-vsa@${image.digest}`;
    const ok = await runCli(['verify', release, '--attestation-key', pub, '--policy', policyFile, '--plain-http']);
    expect(ok).toMatchObject({ code: 0, out: expect.stringMatching(/VSA verified: PASSED/) });
    expect(
      (await runCli(['verify', release, '--attestation-key', pub, '--policy', POLICY_FILE, '--plain-http'])).code,
    ).toBe(3);
  });

  it('refuses a private key or a non-key file as the public key, and mixing with --trust-policy (exit 2)', async () => {
    const ref = `${reg.registry.host}/vsa/x:v1`;
    expect((await runCli(['verify', ref, '--attestation-key', POLICY_FILE, '--plain-http'])).code).toBe(2);
    expect(
      (await runCli(['verify', ref, '--attestation-key', pub, '--trust-policy', POLICY_FILE, '--plain-http'])).code,
    ).toBe(2);
    expect((await runCli(['verify', ref, '--policy', POLICY_FILE, '--plain-http'])).code).toBe(2);
  });
});
