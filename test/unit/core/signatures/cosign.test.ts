/**
 * cosign key-based verification over bytes (the simple-signing payload and its signature annotation), with
 * keys made by node:crypto; the real `cosign` is exercised in test/interop/signatures.test.ts.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import {
  buildTrustStore,
  parseTrustPolicyDocument,
  verifyCosignSignature,
  type TrustPolicy,
} from '../../../../src/core/signatures';

const DIGEST = `sha256:${'ab'.repeat(32)}`;
const payloadFor = (digest: string) =>
  Buffer.from(
    JSON.stringify({
      critical: {
        identity: { 'docker-reference': 'r/app' },
        image: { 'docker-manifest-digest': digest },
        type: 'cosign container image signature',
      },
      optional: null,
    }),
  );
const policy = (level = 'strict', stores = ['cosign:team']): TrustPolicy =>
  parseTrustPolicyDocument({
    version: '1.0',
    trustPolicies: [
      {
        name: 'p',
        registryScopes: ['*'],
        signatureVerification: { level },
        trustStores: stores,
        trustedIdentities: ['*'],
      },
    ],
  }).trustPolicies[0];

describe('cosign key-based signatures', () => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const store = buildTrustStore([
    {
      type: 'cosign',
      name: 'team',
      file: 'cosign.pub',
      bytes: Buffer.from(ec.publicKey.export({ type: 'spki', format: 'pem' }) as string),
    },
  ]);
  const run = (payload: Buffer, annotations: Record<string, string>, p = policy()) =>
    verifyCosignSignature({ signatureDigest: 'sha256:s#0', payload, annotations, digest: DIGEST, policy: p, store });
  const sigOf = (payload: Buffer, key = ec.privateKey) => sign('sha256', payload, key).toString('base64');

  it("verifies a payload naming the gated digest, signed by a key of the policy's cosign store", () => {
    const payload = payloadFor(DIGEST);
    const r = run(payload, { 'dev.cosignproject.cosign/signature': sigOf(payload) });
    expect(r).toMatchObject({ kind: 'cosign', outcome: 'verified' });
    expect(r.checks.map((c) => [c.name, c.status])).toEqual([
      ['envelope', 'pass'],
      ['target', 'pass'],
    ]);
  });

  it.each([
    [
      'another digest',
      () => {
        const p = payloadFor(`sha256:${'cd'.repeat(32)}`);
        return { p, a: { 'dev.cosignproject.cosign/signature': sigOf(p) } };
      },
      /target: the signature is for another artifact/,
    ],
    [
      'an untrusted key',
      () => {
        const p = payloadFor(DIGEST);
        return { p, a: { 'dev.cosignproject.cosign/signature': sigOf(p, other.privateKey) } };
      },
      /does not verify with any key of cosign:team/,
    ],
    [
      'a tampered payload',
      () => {
        const p = payloadFor(DIGEST);
        return { p: Buffer.concat([p, Buffer.from(' ')]), a: { 'dev.cosignproject.cosign/signature': sigOf(p) } };
      },
      /does not verify/,
    ],
    [
      'no signature annotation',
      () => ({ p: payloadFor(DIGEST), a: {} }),
      /no base64 dev\.cosignproject\.cosign\/signature/,
    ],
  ])('refuses %s', (_name, make, reason) => {
    const { p, a } = make();
    const r = run(p, a);
    expect(r.outcome).toBe('failed');
    expect(r.reason).toMatch(reason);
  });

  it('keyless (Fulcio certificate) signatures are inconclusive, never verified', () => {
    const payload = payloadFor(DIGEST);
    const r = run(payload, {
      'dev.cosignproject.cosign/signature': sigOf(payload, other.privateKey),
      'dev.sigstore.cosign/certificate': '-----BEGIN CERTIFICATE-----…',
    });
    expect(r.outcome).toBe('inconclusive');
    expect(r.reason).toMatch(/keyless cosign signature/);
  });

  it('a policy without a cosign store trusts no cosign key', () => {
    const payload = payloadFor(DIGEST);
    const r = run(payload, { 'dev.cosignproject.cosign/signature': sigOf(payload) }, policy('strict', ['ca:x']));
    expect(r.reason).toMatch(/names no cosign:<store>/);
  });

  it('a weak RSA key in a cosign store is refused when the store is loaded', () => {
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(() =>
      buildTrustStore([
        {
          type: 'cosign',
          name: 'w',
          file: 'weak.pub',
          bytes: Buffer.from(weak.publicKey.export({ type: 'spki', format: 'pem' }) as string),
        },
      ]),
    ).toThrow(/cosign\/w\/weak\.pub: RSA 1024-bit key is too weak/);
  });
});
