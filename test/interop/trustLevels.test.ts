/**
 * Issue 17 case 4, with the real `notation` and `cosign` on a loopback registry: `signatures: { required: true }`
 * is met only by a trust policy entry that enforces authenticity (strict or permissive). A signature from a
 * throwaway key (`notation cert generate-test`) under a catch-all `audit` entry with an empty trust store is
 * intact but proves nothing about who signed, so the gate blocks, naming the level. The shipped example
 * policy/trustpolicy.json is importable by `notation policy import`, and cosign keys live in the separate
 * cosign-keys.json beside it. Every notation command runs with its own XDG_CONFIG_HOME/HOME under a temp dir.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runCli } from '../support/cli';
import { MediaTypes } from '../../src/core/types';
import { loadSignatureTrust } from '../../src/adapters/trustStoreFiles';
import { createSignatureVerifier } from '../../src/adapters/signatureVerifier';
import { pushArtifact, pushImage, type Pushed } from '../../src/local/ociPush';
import { sampleCycloneDx } from '../../src/local/sampleReports';
import { useRegistry } from '../support/registry';
import { cosignKeys, cosignSign, exec, signingTools, tool } from '../support/signingTools';
import { describeRequiring } from '../support/required';

const d = describeRequiring(signingTools);
const ROOT = resolve(__dirname, '../..');

/** One trust policy document with a single catch-all entry. */
function catchAll(name: string, level: string, stores: string[]): unknown {
  return {
    version: '1.0',
    trustPolicies: [
      {
        name,
        registryScopes: ['*'],
        signatureVerification: { level },
        trustStores: stores,
        trustedIdentities: ['*'],
      },
    ],
  };
}

d('trust levels and the example trust policy, with the real notation and cosign', () => {
  const reg = useRegistry();
  let dir: string;
  /** notation home of the throwaway signer (generate-test writes key, cert and its own trust store there). */
  let signerEnv: Record<string, string>;
  let signerStore: string;
  let gatePolicy: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'acr-guard-levels-'));
    const home = join(dir, 'signer');
    mkdirSync(home, { recursive: true });
    signerEnv = { XDG_CONFIG_HOME: home, HOME: home, NOTATION_EXPERIMENTAL: '' };
    await exec(tool('notation') as string, ['cert', 'generate-test', '--default', 'throwaway'], signerEnv);
    signerStore = join(home, 'notation', 'truststore');
    gatePolicy = join(dir, 'gate.yaml');
    writeFileSync(
      gatePolicy,
      `version: 1
registries:
  - { host: "${reg.registry.host}" }
gate:
  - scope: "levels/**"
    vulnerabilities: { block: [critical, high], maxReportAge: 7d, sources: [reports], scanDeadline: 0s }
    signatures: { required: true }
`,
    );
  }, 120_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  let counter = 0;
  /** A pushed image with a clean CycloneDX report attached (so only the signature check can block it). */
  async function image(name: string): Promise<{ pushed: Pushed; repo: string; ref: string }> {
    const repo = `levels/${name}`;
    const pushed = await pushImage(reg.client, repo, { tag: 'v1', seed: `${name} ${counter++}` });
    const ref = `${reg.registry.host}/${repo}@${pushed.digest}`;
    await pushArtifact(reg.client, repo, {
      subject: pushed,
      artifactType: MediaTypes.cyclonedx,
      blob: sampleCycloneDx({
        imageName: ref,
        digest: pushed.digest,
        scannedAt: new Date().toISOString(),
        vulnerabilities: [],
      }),
      blobMediaType: MediaTypes.cyclonedx,
    });
    return { pushed, repo, ref };
  }
  /** Writes a trust policy (and optionally a cosign-keys.json) into a fresh folder; returns the policy path. */
  function trustFolder(name: string, policy: unknown, cosignKeysFile?: unknown): string {
    const folder = join(dir, name);
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'trustpolicy.json'), JSON.stringify(policy));
    if (cosignKeysFile) writeFileSync(join(folder, 'cosign-keys.json'), JSON.stringify(cosignKeysFile));
    return join(folder, 'trustpolicy.json');
  }
  async function gate(ref: string, policyFile: string, store: string) {
    const r = await runCli([
      'gate',
      ref,
      '--policy',
      gatePolicy,
      '--plain-http',
      '--dry-run',
      '--trust-policy',
      policyFile,
      '--trust-store',
      store,
      '--output',
      'json',
    ]);
    return { code: r.code, verdict: JSON.parse(r.out) as { decision: string; summary: string; checks: any[] } };
  }

  it('a throwaway-key signature under an audit catch-all with an empty trust store is blocked, naming audit', async () => {
    const { ref } = await image('throwaway');
    await exec(tool('notation') as string, ['sign', '--insecure-registry', ref], signerEnv);
    const empty = join(dir, 'empty-store');
    mkdirSync(empty, { recursive: true });
    const audit = trustFolder('audit', catchAll('everything-else', 'audit', ['ca:contoso']));

    const blocked = await gate(ref, audit, empty);
    expect(blocked.code).toBe(3);
    expect(blocked.verdict.decision).toBe('block');
    expect(blocked.verdict.summary).toBe(
      'blocked: signatures audit only: authenticity not enforced (trust policy everything-else)',
    );
    const check = blocked.verdict.checks.find((c) => c.name === 'signatures');
    expect(check).toMatchObject({ status: 'fail' });
    expect(check.reason).toMatch(
      /^signatures audit only \(authenticity not enforced: audit, policy entry everything-else\)/,
    );
    expect(check.reason).toMatch(
      /gate\[0\]\.signatures\.required needs a trust policy entry at level strict or permissive/,
    );

    // Control: the same signature under entries that enforce authenticity with the signer's cert trusted
    // releases, and the verdict names the level and entry that decided.
    for (const level of ['strict', 'permissive']) {
      const trusted = trustFolder(`trusted-${level}`, catchAll(`signer-${level}`, level, ['ca:throwaway']));
      const released = await gate(ref, trusted, signerStore);
      expect([level, released.verdict.summary]).toEqual([
        level,
        `released: 0 blocking findings, 0 other findings; signatures verified (${level}, policy entry signer-${level})`,
      ]);
      expect(released.code).toBe(0);
    }
    // And strict with an empty store refuses it outright (authenticity enforced).
    const strictEmpty = trustFolder('strict-empty', catchAll('everything-else', 'strict', ['ca:contoso']));
    const refused = await gate(ref, strictEmpty, empty);
    expect(refused.verdict.summary).toBe('blocked: signatures failed');
  });

  it('`notation policy import` accepts the shipped policy/trustpolicy.json, and refuses the old cosign: form', async () => {
    const home = join(dir, 'import');
    mkdirSync(home, { recursive: true });
    const env = { XDG_CONFIG_HOME: home, HOME: home };
    const notation = tool('notation') as string;
    const out = await exec(notation, ['policy', 'import', '--force', join(ROOT, 'policy/trustpolicy.json')], env);
    expect(out.stdout).toMatch(/imported successfully/);
    const shown = await exec(notation, ['policy', 'show'], env);
    expect(JSON.parse(shown.stdout).trustPolicies.map((p: { name: string }) => p.name)).toEqual([
      'contoso-images',
      'everything-else',
    ]);
    // Why the cosign keys moved out: notation refuses a store type it does not know.
    const old = trustFolder('old-form', catchAll('everything-else', 'audit', ['ca:contoso', 'cosign:contoso']));
    await expect(exec(notation, ['policy', 'import', '--force', old], env)).rejects.toThrow(
      /unsupported trust store type "cosign"/,
    );
    // acr-guard reads the example folder: the policy plus cosign-keys.json beside it.
    const trust = await loadSignatureTrust(join(ROOT, 'policy/trustpolicy.json'), join(dir, 'empty-store'));
    expect(trust.trustPolicy.trustPolicies[0].trustStores).toContainEqual({ type: 'cosign', name: 'contoso' });
  });

  it('cosign: a key named in cosign-keys.json verifies under a notation-importable policy; other keys do not', async () => {
    const store = join(dir, 'cosign-store');
    const keys = await cosignKeys(join(dir, 'cosign'));
    mkdirSync(join(store, 'cosign', 'release-keys'), { recursive: true });
    copyFileSync(keys.pub, join(store, 'cosign', 'release-keys', 'cosign.pub'));
    const policy = trustFolder('cosign-policy', catchAll('acme', 'strict', ['ca:acme']), {
      version: '1.0',
      cosignKeys: [{ trustPolicy: 'acme', stores: ['release-keys'] }],
    });
    const home = join(dir, 'cosign-import');
    mkdirSync(home, { recursive: true });
    await exec(tool('notation') as string, ['policy', 'import', '--force', policy], {
      XDG_CONFIG_HOME: home,
      HOME: home,
    });

    const signed = await image('cosign-signed');
    await cosignSign(keys.key, signed.ref, join(dir, 'cosign'));
    const released = await gate(signed.ref, policy, store);
    expect(released.verdict.summary).toBe(
      'released: 0 blocking findings, 0 other findings; signatures verified (strict, policy entry acme)',
    );
    const other = await cosignKeys(join(dir, 'cosign-other'));
    const intruder = await image('cosign-intruder');
    await cosignSign(other.key, intruder.ref, join(dir, 'cosign-other'));
    const blocked = await gate(intruder.ref, policy, store);
    expect(blocked.verdict.decision).toBe('block');
    const verify = createSignatureVerifier({
      registry: () => reg.client,
      trust: await loadSignatureTrust(policy, store),
    });
    const manifest = await reg.client.getManifest(intruder.repo, intruder.pushed.digest);
    const r = await verify({
      image: { registry: reg.registry.host, repository: intruder.repo, digest: intruder.pushed.digest },
      manifest,
    });
    expect(r.reason).toMatch(/does not verify with any key of cosign:release-keys/);
  });
});
