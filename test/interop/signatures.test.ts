/**
 * Interop: images in a real docker-registry on loopback, signed by the real `notation` and `cosign` (test CA
 * and leaves made by openssl), other artifacts attached by the real `oras`, verified in-process by the gate's
 * verifier, by `acr-guard verify` and by `acr-guard gate`. Negative cases are made the same way where the tools
 * will make them, and by hand (then attached with `oras attach`) where they will not: weak key, `alg: none`,
 * unknown critical header, tampered payload or envelope. Every case is also put to `notation verify`, which
 * must agree.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../support/cli';
import { MediaTypes, type SignatureResult } from '../../src/core/types';
import { createSignatureVerifier, type SignatureTrust } from '../../src/adapters/signatureVerifier';
import { loadSignatureTrust } from '../../src/adapters/trustStoreFiles';
import { pushImage, type Pushed } from '../../src/local/ociPush';
import { attachReport as attachSampleReport } from '../support/pushSamples';
import { useRegistry } from '../support/registry';
import {
  buildJws,
  cosignKeys,
  cosignSign,
  signingTools,
  strictTrustPolicy,
  issueLeaf,
  makeCa,
  notationHome,
  notationSign,
  notationVerify,
  orasAttach,
  type Issued,
  type NotationHome,
} from '../support/signingTools';
import { describeRequiring } from '../support/required';

const d = describeRequiring(signingTools);

const SIGNER_DN = 'x509.subject:C=US, ST=WA, L=Seattle, O=Acme, CN=acme-signer';

const run = runCli;

d('signatures made by the real notation, cosign and oras', () => {
  const reg = useRegistry();
  let dir: string;
  let ca: Issued;
  let leaf: Issued;
  let weak: Issued;
  let home: NotationHome;
  let acrGuardPolicy: string;
  let trust: SignatureTrust;
  let cosignKey: string;
  let verify: ReturnType<typeof createSignatureVerifier>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'acr-guard-sig-'));
    ca = await makeCa(dir, 'acme-root', '/C=US/ST=WA/O=Acme/CN=Acme Root CA');
    leaf = await issueLeaf(dir, 'acme-signer', '/C=US/ST=WA/L=Seattle/O=Acme/CN=acme-signer', ca);
    const intruder = await issueLeaf(dir, 'intruder', '/C=US/ST=WA/L=Seattle/O=Intruder/CN=intruder', ca);
    const rogueCa = await makeCa(dir, 'rogue-root', '/C=US/ST=WA/O=Rogue/CN=Rogue Root CA');
    const rogue = await issueLeaf(dir, 'rogue', '/C=US/ST=WA/L=Seattle/O=Acme/CN=acme-signer', rogueCa);
    weak = await issueLeaf(dir, 'weak', '/C=US/ST=WA/L=Seattle/O=Acme/CN=acme-signer', ca, { keyBits: 1024 });
    const notationPolicy = strictTrustPolicy('acme', 'acme', [SIGNER_DN]);
    home = await notationHome(join(dir, 'home'), {
      keys: { acme: leaf, intruder, rogue },
      caStores: { acme: [ca.cert] },
      trustPolicy: notationPolicy,
    });
    // acr-guard's extension: the same policy plus a cosign key store, kept in a second file so notation's own
    // file stays valid for `notation verify` (which knows no cosign stores).
    const keys = await cosignKeys(join(dir, 'cosign'));
    cosignKey = keys.key;
    mkdirSync(join(home.trustStore, 'cosign', 'acme'), { recursive: true });
    copyFileSync(keys.pub, join(home.trustStore, 'cosign', 'acme', 'cosign.pub'));
    acrGuardPolicy = join(dir, 'acr-guard-trustpolicy.json');
    const withCosign = structuredClone(notationPolicy);
    withCosign.trustPolicies[0].trustStores.push('cosign:acme');
    writeFileSync(acrGuardPolicy, JSON.stringify(withCosign));
    trust = await loadSignatureTrust(acrGuardPolicy, home.trustStore);
    verify = createSignatureVerifier({ registry: () => reg.client, trust });
  }, 120_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  let counter = 0;
  async function image(name: string): Promise<{ pushed: Pushed; repo: string; ref: string }> {
    const repo = `interop/${name}`;
    const pushed = await pushImage(reg.client, repo, { tag: 'v1', seed: `${name} ${counter++}` });
    return { pushed, repo, ref: `${reg.registry.host}/${repo}@${pushed.digest}` };
  }
  async function verifyImage(repo: string, pushed: Pushed): Promise<SignatureResult> {
    const manifest = await reg.client.getManifest(repo, pushed.digest);
    return verify({ image: { registry: reg.registry.host, repository: repo, digest: pushed.digest }, manifest });
  }
  /** The JWS envelope of the (first) notation signature of an image. */
  async function envelopeOf(repo: string, pushed: Pushed): Promise<Buffer> {
    const [sig] = await reg.client.listReferrers(repo, pushed.digest, MediaTypes.notarySignature);
    const manifest = await reg.client.getManifest(repo, sig.digest);
    return reg.client.getBlob(
      repo,
      manifest.blobs.find((x) => x.mediaType === 'application/jose+json')?.digest as string,
    );
  }
  async function attachEnvelope(ref: string, name: string, envelope: Buffer): Promise<void> {
    const file = join(dir, `${name}.jws`);
    writeFileSync(file, envelope);
    await orasAttach(ref, file, 'application/vnd.cncf.notary.signature', 'application/jose+json');
  }

  it('accepts a notation signature (the same one `notation verify` accepts), with an SBOM attached beside it by oras', async () => {
    const { pushed, repo, ref } = await image('valid');
    await notationSign(home, ref, { key: 'acme' });
    const sbom = join(dir, 'sbom.spdx.json');
    writeFileSync(sbom, JSON.stringify({ spdxVersion: 'SPDX-2.3', name: 'valid' }));
    await orasAttach(ref, sbom, 'application/spdx+json', 'application/spdx+json');
    expect(await notationVerify(home, ref)).toBe(true);
    const r = await verifyImage(repo, pushed);
    expect(r.status).toBe('verified');
    expect(r.signatures).toHaveLength(1);
    expect(r.signatures[0].checks.filter((c) => c.status === 'fail')).toEqual([]);
    expect(r.signatures[0].checks.find((c) => c.name === 'trustedIdentity')?.reason).toMatch(
      /matches x509\.subject:C=US, ST=WA, L=Seattle, O=Acme, CN=acme-signer/,
    );
  });

  it('accepts a COSE signature made by notation (--signature-format cose)', async () => {
    const { pushed, repo, ref } = await image('cose');
    await notationSign(home, ref, { key: 'acme', format: 'cose' });
    expect(await notationVerify(home, ref)).toBe(true);
    const r = await verifyImage(repo, pushed);
    expect(r.status).toBe('verified');
    expect(r.signatures[0].checks[0].reason).toMatch(
      /^COSE PS256 signature by "C=US, ST=WA, L=Seattle, O=Acme, CN=acme-signer" verifies/,
    );
  });

  it('refuses an unsigned image: no signature', async () => {
    const { pushed, repo, ref } = await image('unsigned');
    const sbom = join(dir, 'sbom2.json');
    writeFileSync(sbom, '{}');
    await orasAttach(ref, sbom, 'application/spdx+json', 'application/spdx+json');
    const r = await verifyImage(repo, pushed);
    expect(r.status).toBe('failed');
    expect(r.reason).toMatch(/no signature is associated/);
  });

  it('refuses a signature chaining to an untrusted CA (notation refuses it too)', async () => {
    const { pushed, repo, ref } = await image('rogue');
    await notationSign(home, ref, { key: 'rogue' });
    expect(await notationVerify(home, ref)).toBe(false);
    const r = await verifyImage(repo, pushed);
    expect(r.status).toBe('failed');
    expect(r.reason).toMatch(/authenticity: certificate chain does not contain any trusted certificate of ca:acme/);
  });

  it("refuses a trusted CA's leaf whose identity is not in trustedIdentities", async () => {
    const { pushed, repo, ref } = await image('intruder');
    await notationSign(home, ref, { key: 'intruder' });
    expect(await notationVerify(home, ref)).toBe(false);
    const r = await verifyImage(repo, pushed);
    expect(r.status).toBe('failed');
    expect(r.reason).toMatch(
      /trustedIdentity: signing certificate subject .*CN=intruder.* is not in trustedIdentities/,
    );
  });

  it('refuses a signature made for another digest and attached to this one', async () => {
    const a = await image('digest-a');
    const b = await image('digest-b');
    await notationSign(home, a.ref, { key: 'acme' });
    await attachEnvelope(b.ref, 'other-digest', await envelopeOf(a.repo, a.pushed));
    expect(await notationVerify(home, b.ref)).toBe(false);
    const r = await verifyImage(b.repo, b.pushed);
    expect(r.status).toBe('failed');
    expect(r.reason).toMatch(/target: the signature is for another artifact: digest "sha256:/);
  });

  it('refuses a notation envelope with its payload or its protected header tampered', async () => {
    const src = await image('tamper-src');
    await notationSign(home, src.ref, { key: 'acme' });
    const original = JSON.parse((await envelopeOf(src.repo, src.pushed)).toString('utf8'));
    const payload = JSON.parse(Buffer.from(original.payload, 'base64url').toString('utf8'));
    payload.targetArtifact.annotations = { injected: 'yes' };
    const header = JSON.parse(Buffer.from(original.protected, 'base64url').toString('utf8'));
    header['io.cncf.notary.signingTime'] = '2020-01-01T00:00:00Z';
    const tampered = {
      payload: { ...original, payload: Buffer.from(JSON.stringify(payload)).toString('base64url') },
      header: { ...original, protected: Buffer.from(JSON.stringify(header)).toString('base64url') },
    };
    for (const [what, envelope] of Object.entries(tampered)) {
      const { pushed, repo, ref } = await image(`tampered-${what}`);
      await attachEnvelope(ref, `tampered-${what}`, Buffer.from(JSON.stringify(envelope)));
      expect(await notationVerify(home, ref)).toBe(false);
      const r = await verifyImage(repo, pushed);
      expect(r.status).toBe('failed');
      expect(r.reason).toMatch(/envelope: the signature does not verify/);
    }
  });

  it('refuses an expired notation signature (notation sign --expiry)', async () => {
    const { pushed, repo, ref } = await image('expired');
    await notationSign(home, ref, { key: 'acme', expiry: '1s' });
    await new Promise((r) => setTimeout(r, 1500));
    expect(await notationVerify(home, ref)).toBe(false);
    const r = await verifyImage(repo, pushed);
    expect(r.status).toBe('failed');
    expect(r.reason).toMatch(/expiry: digital signature has expired on/);
  });

  it('refuses hand-made envelopes no tool will sign: weak key, alg none, unknown critical header', async () => {
    const cases: Array<[string, (t: Pushed) => Buffer, RegExp]> = [
      ['weak-key', (t) => buildJws({ target: t, key: weak.key, chain: weak.chain }), /RSA 1024-bit key is not allowed/],
      [
        'alg-none',
        (t) => buildJws({ target: t, key: leaf.key, chain: leaf.chain, header: { alg: 'none' } }),
        /algorithm "none" is not allowed/,
      ],
      [
        'alg-none-unsigned',
        (t) => buildJws({ target: t, key: leaf.key, chain: leaf.chain, header: { alg: 'none' }, unsigned: true }),
        /signature is not unpadded base64url|signature is empty/,
      ],
      [
        'unknown-crit',
        (t) =>
          buildJws({
            target: t,
            key: leaf.key,
            chain: leaf.chain,
            header: {
              crit: ['io.cncf.notary.signingScheme', 'com.example.mustUnderstand'],
              'com.example.mustUnderstand': true,
            },
          }),
        /unknown critical header com\.example\.mustUnderstand/,
      ],
    ];
    // Control: the hand-made envelope with sound parameters verifies, so each refusal is for its one defect.
    const control = await image('handmade-ok');
    await attachEnvelope(
      control.ref,
      'handmade-ok',
      buildJws({ target: control.pushed, key: leaf.key, chain: leaf.chain }),
    );
    expect(await notationVerify(home, control.ref)).toBe(true);
    expect((await verifyImage(control.repo, control.pushed)).status).toBe('verified');
    for (const [name, make, reason] of cases) {
      const { pushed, repo, ref } = await image(name);
      await attachEnvelope(ref, name, make(pushed));
      // notation 1.3.2 accepts an unknown critical extended attribute when no plugin is named; the spec (and
      // RFC 7515's crit) say a verifier that does not understand it must refuse, which acr-guard does.
      if (name !== 'unknown-crit') expect([name, await notationVerify(home, ref)]).toEqual([name, false]);
      const r = await verifyImage(repo, pushed);
      expect(r.status).toBe('failed');
      expect(r.signatures[0].checks[0]).toMatchObject({ name: 'envelope', status: 'fail' });
      expect(r.signatures[0].checks[0].reason).toMatch(reason);
    }
  });

  it('accepts a cosign key-based signature (sha256-<hex>.sig tag) and refuses it for a key not in the store', async () => {
    const { pushed, repo, ref } = await image('cosign');
    await cosignSign(cosignKey, ref, join(dir, 'cosign'));
    const r = await verifyImage(repo, pushed);
    expect(r.status).toBe('verified');
    expect(r.signatures[0]).toMatchObject({ kind: 'cosign', outcome: 'verified' });
    const other = await cosignKeys(join(dir, 'cosign-other'));
    const o = await image('cosign-other');
    await cosignSign(other.key, o.ref, join(dir, 'cosign-other'));
    const refused = await verifyImage(o.repo, o.pushed);
    expect(refused.status).toBe('failed');
    expect(refused.reason).toMatch(/does not verify with any key of cosign:acme/);
  });

  it('acr-guard verify: exit 0 verified, 3 not verified (JSON), 2 for a bad trust policy', async () => {
    const ok = await image('cli-ok');
    await notationSign(home, ok.ref, { key: 'acme' });
    const base = ['--trust-policy', home.trustPolicyFile, '--trust-store', home.trustStore, '--plain-http'];
    const pass = await run(['verify', `${reg.registry.host}/${ok.repo}:v1`, ...base, '--output', 'json']);
    expect(pass.code).toBe(0);
    expect(JSON.parse(pass.out)).toMatchObject({
      kind: 'VerifyResult',
      outcome: 'pass',
      decision: 'verified',
      data: { image: ok.ref, status: 'verified' },
    });
    const bad = await image('cli-unsigned');
    const fail = await run(['verify', bad.ref, ...base]);
    expect(fail.code).toBe(3);
    expect(fail.out).toMatch(/signatures failed: no signature is associated/);
    const badPolicy = join(dir, 'bad-policy.json');
    writeFileSync(
      badPolicy,
      JSON.stringify({
        version: '1.0',
        trustPolicies: [
          {
            name: 'x',
            registryScopes: ['*'],
            signatureVerification: { level: 'strict', override: { integrity: 'skip' } },
            trustStores: ['ca:acme'],
            trustedIdentities: ['*'],
          },
        ],
      }),
    );
    const usage = await run([
      'verify',
      ok.ref,
      '--trust-policy',
      badPolicy,
      '--trust-store',
      home.trustStore,
      '--plain-http',
    ]);
    expect(usage.code).toBe(2);
    expect(usage.err).toMatch(/trustPolicies\[0\]\.signatureVerification\.override\.integrity/);
  });

  it('acr-guard gate with signatures required: releases the signed image, blocks the unsigned one (nothing promoted)', async () => {
    const policyFile = join(dir, 'gate.yaml');
    writeFileSync(
      policyFile,
      `version: 1
registries:
  - { host: "${reg.registry.host}", apply: promote }
gate:
  - scope: "interop/**"
    vulnerabilities: { block: [critical, high], maxReportAge: 7d, sources: [reports], scanDeadline: 0s }
    signatures: { required: true, trustPolicy: acme }
    promote: { repository: "release/{repository}" }
`,
    );
    const now = new Date().toISOString();
    const attachReport = (repo: string, pushed: Pushed) =>
      attachSampleReport(reg.client, repo, pushed, { format: 'cyclonedx', scannedAt: now, vulnerabilities: [] });
    const signed = await image('gate-signed');
    await attachReport(signed.repo, signed.pushed);
    await notationSign(home, signed.ref, { key: 'acme' });
    const unsigned = await image('gate-unsigned');
    await attachReport(unsigned.repo, unsigned.pushed);
    const args = [
      '--policy',
      policyFile,
      '--plain-http',
      '--trust-policy',
      home.trustPolicyFile,
      '--trust-store',
      home.trustStore,
      '--output',
      'json',
    ];

    const released = await run(['gate', signed.ref, ...args]);
    expect(JSON.parse(released.out).decision).toBe('release');
    expect(released.code).toBe(0);
    expect((await reg.client.getManifest(`release/${signed.repo}`, signed.pushed.digest)).digest).toBe(
      signed.pushed.digest,
    );

    const blocked = await run(['gate', unsigned.ref, ...args]);
    expect(blocked.code).toBe(3);
    const json = JSON.parse(blocked.out);
    expect(json.decision).toBe('block');
    expect(json.checks.find((c: { name: string }) => c.name === 'signatures')).toMatchObject({ status: 'fail' });
    await expect(reg.client.getManifest(`release/${unsigned.repo}`, unsigned.pushed.digest)).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });

    // Without trust material the gate fails closed: inconclusive, blocked, saying what to configure.
    const noTrust = await run([
      'gate',
      signed.ref,
      '--policy',
      policyFile,
      '--plain-http',
      '--output',
      'json',
      '--dry-run',
    ]);
    expect(noTrust.code).toBe(3);
    expect(JSON.stringify(JSON.parse(noTrust.out).checks)).toMatch(/no trust policy is configured/);
  });

  it('reads the trust store notation itself wrote (notation cert add layout)', () => {
    expect(readFileSync(join(home.trustStore, 'x509', 'ca', 'acme', 'acme-root.crt'), 'utf8')).toMatch(
      /BEGIN CERTIFICATE/,
    );
    expect(trust.trustStore.certificates.get('ca:acme')).toHaveLength(1);
  });
});
