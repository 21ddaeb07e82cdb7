/**
 * `acr-guard verify`: usage and configuration errors exit 2 naming the flag, an unreachable registry exits 1,
 * and a notation-signed image (notation's e2e layout pushed into a real docker-registry) exits 0 / 3.
 * The same command against images signed by the real tools is in test/interop/signatures.test.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MediaTypes } from '../../src/core/types';
import { pushArtifact } from '../../src/local/ociPush';
import { runCli } from '../support/cli';
import { attachReport } from '../support/pushSamples';
import { useRegistry } from '../support/registry';
import { E2E_SUBJECT, VECTORS, sharedVectors, layout, pushLayout, vector } from '../support/vectors';
import { describeRequiring } from '../support/required';
import { expectValidResult } from '../support/resultSchema';

const POLICY = join(VECTORS, 'notation/config/trustpolicies/trustpolicy.json');
const STORE = join(VECTORS, 'notation/derived/truststore');

describe('acr-guard verify: usage', () => {
  it.each([
    [['verify'], /expected exactly one image reference/],
    [['verify', '127.0.0.1:1/app:v1', '--trust-store', STORE], /--trust-policy <file> is required/],
    [['verify', '127.0.0.1:1/app:v1', '--trust-policy', POLICY], /--trust-store <dir> is required/],
    [
      ['verify', 'contoso.azurecr.io/app:v1', '--trust-policy', POLICY, '--trust-store', STORE, '--plain-http'],
      /--plain-http is allowed only for loopback/,
    ],
    [['verify', 'not a reference', '--trust-policy', POLICY, '--trust-store', STORE], /image/],
    [
      ['verify', '127.0.0.1:1/app:v1', '--trust-policy', '/nonexistent.json', '--trust-store', STORE],
      /--trust-policy: cannot read trust policy file/,
    ],
    [
      ['verify', '127.0.0.1:1/app:v1', '--trust-policy', POLICY, '--trust-store', '/nonexistent'],
      /--trust-store: \/nonexistent is not a directory/,
    ],
    [
      ['verify', '127.0.0.1:1/app:v1', '--trust-policy', POLICY, '--trust-store', STORE, '--output', 'yaml'],
      /--output/,
    ],
  ])('%j exits 2', async (argv, message) => {
    const r = await runCli(argv);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
  });

  it('an unreachable registry is a runtime error (exit 1), nothing verified', async () => {
    const r = await runCli([
      'verify',
      '127.0.0.1:1/app@' + E2E_SUBJECT.digest,
      '--trust-policy',
      POLICY,
      '--trust-store',
      STORE,
      '--plain-http',
    ]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/error \[TRANSIENT\]/);
  });
});

describeRequiring(sharedVectors)('acr-guard verify: notation e2e layouts in a real registry', () => {
  const reg = useRegistry();
  beforeAll(async () => {
    await pushLayout(reg.client, 'e2e/app', 'e2e-valid-signature');
    await pushLayout(reg.client, 'e2e/unsigned', 'e2e');
  });

  /** `acr-guard verify` of `ref` under the e2e trust policy and store, over plain http, with `extra` flags. */
  const verifyE2e = (ref: string, ...extra: string[]) =>
    runCli(['verify', ref, '--trust-policy', POLICY, '--trust-store', STORE, '--plain-http', ...extra]);

  it('exits 0 for the signed image (by tag, resolved to its digest) and prints every check', async () => {
    const r = await verifyE2e(`${reg.registry.host}/e2e/app:v1`);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(new RegExp(`^${reg.registry.host}/e2e/app@${E2E_SUBJECT.digest}: signatures verified`));
    for (const name of [
      'envelope',
      'target',
      'authenticity',
      'trustedIdentity',
      'authenticTimestamp',
      'expiry',
      'revocation',
    ])
      expect(r.out).toContain(name);
  });

  it('exits 3 for the unsigned one (JSON)', async () => {
    const r = await verifyE2e(`${reg.registry.host}/e2e/unsigned:v1`, '--output', 'json');
    expect(r.code).toBe(3);
    expectValidResult(JSON.parse(r.out), 'verify (not verified)');
    expect(JSON.parse(r.out)).toMatchObject({
      outcome: 'fail',
      decision: 'not-verified',
      data: { status: 'failed', signatures: [] },
    });
  });

  it('exits 3 when --policy-name names a policy the file does not define (inconclusive)', async () => {
    const r = await verifyE2e(`${reg.registry.host}/e2e/app:v1`, '--policy-name', 'nope');
    expect(r.code).toBe(3);
    expect(r.out).toMatch(/signatures inconclusive: the gate names trust policy "nope"/);
  });

  it('acr-guard gate requiring signatures releases an image signed by notation (alpine, notation-go data) and blocks an unsigned one', async () => {
    // notation's e2e subject is not an image (config application/vnd.notation.config), so the gate would
    // ignore it: the alpine layout and notation's JWS signature of it are used, attached as a referrer.
    const dir = mkdtempSync(join(tmpdir(), 'acr-guard-verify-cli-'));
    const alpine = layout('notation-go/internal/testdata/oci-layout');
    await pushLayout(reg.client, 'gate/signed', 'notation-go/internal/testdata/oci-layout');
    await pushLayout(reg.client, 'gate/unsigned', 'notation-go/internal/testdata/oci-layout');
    const subject = {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: 'sha256:19dbd2e48e921426ee8ace4dc892edfb2ecdc1d1a72d5416c83670c30acecef0',
      size: alpine.blob('sha256:19dbd2e48e921426ee8ace4dc892edfb2ecdc1d1a72d5416c83670c30acecef0').length,
    };
    await pushArtifact(reg.client, 'gate/signed', {
      subject,
      artifactType: MediaTypes.notarySignature,
      blob: vector('notation-go/internal/testdata/jws_signature.sig'),
      blobMediaType: 'application/jose+json',
    });
    const now = new Date().toISOString();
    for (const repo of ['gate/signed', 'gate/unsigned']) {
      await attachReport(reg.client, repo, subject, { format: 'cyclonedx', scannedAt: now, vulnerabilities: [] });
    }
    const policyFile = join(dir, 'policy.yaml');
    writeFileSync(
      policyFile,
      `version: 1
registries:
  - { host: "${reg.registry.host}", apply: promote }
gate:
  - scope: "gate/**"
    vulnerabilities: { block: [critical], maxReportAge: 7d, sources: [reports], scanDeadline: 0s }
    signatures: { required: true, trustPolicy: alpine }
    promote: { repository: "release/{repository}" }
`,
    );
    const trustPolicy = join(dir, 'trustpolicy.json');
    writeFileSync(
      trustPolicy,
      JSON.stringify({
        version: '1.0',
        trustPolicies: [
          {
            name: 'alpine',
            registryScopes: ['*'],
            signatureVerification: { level: 'strict' },
            trustStores: ['ca:alpine-2000-2123'],
            trustedIdentities: ['*'],
          },
        ],
      }),
    );
    const args = [
      '--policy',
      policyFile,
      '--plain-http',
      '--trust-policy',
      trustPolicy,
      '--trust-store',
      join(VECTORS, 'notation-go/derived/truststore'),
      '--output',
      'json',
    ];

    const released = await runCli(['gate', `${reg.registry.host}/gate/signed:v2`, ...args]);
    expect(JSON.parse(released.out)).toMatchObject({ decision: 'release' });
    expect(released.code).toBe(0);
    expect((await reg.client.getManifest('release/gate/signed', subject.digest)).digest).toBe(subject.digest);

    const blocked = await runCli(['gate', `${reg.registry.host}/gate/unsigned:v2`, ...args]);
    expect(blocked.code).toBe(3);
    expect(JSON.parse(blocked.out).checks.find((c: { name: string }) => c.name === 'signatures').reason).toMatch(
      /signatures failed \(trust policy alpine\): no signature is associated/,
    );
    await expect(reg.client.getManifest('release/gate/unsigned', subject.digest)).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    rmSync(dir, { recursive: true, force: true });
  });
});
