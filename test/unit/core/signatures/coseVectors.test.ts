/**
 * COSE_Sign1 envelopes made by notation (notation-go test data, ../shared/vectors) and their JWS twins:
 * the same verdicts from both formats, tampering refused, malformed CBOR a clean failure.
 */
import fc from 'fast-check';
import { Tagged, decodeFirstSync } from 'cbor';
import {
  buildTrustStore,
  parseTrustPolicyDocument,
  verifyNotationSignature,
  type TrustPolicy,
} from '../../../../src/core/signatures';
import { sharedVectors, storeOf, vector } from '../../../support/vectors';
import { describeRequiring } from '../../../support/required';

const d = describeRequiring(sharedVectors);

const NOW = new Date('2026-06-01T00:00:00Z');
const ALPINE = {
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: 'sha256:19dbd2e48e921426ee8ace4dc892edfb2ecdc1d1a72d5416c83670c30acecef0',
  size: 481,
};
const anyPolicy = (): TrustPolicy =>
  parseTrustPolicyDocument({
    version: '1.0',
    trustPolicies: [
      {
        name: 'alpine',
        registryScopes: ['*'],
        signatureVerification: { level: 'strict' },
        trustStores: ['ca:alpine'],
        trustedIdentities: ['*'],
      },
    ],
  }).trustPolicies[0];

d('COSE envelopes', () => {
  const store = storeOf({ alpine: ['notation-go/derived/truststore/x509/ca/alpine-2000-2123/alpine.crt'] });
  const run = (envelope: Buffer, mediaType = 'application/cose', target = ALPINE) =>
    verifyNotationSignature({
      signatureDigest: `sha256:${'c'.repeat(64)}`,
      envelope,
      envelopeMediaType: mediaType,
      target,
      policy: anyPolicy(),
      store,
      now: NOW,
    });

  test.each([
    ['notation-go/internal/testdata/cose_signature.sig', 'application/cose'],
    ['notation-go/internal/testdata/jws_signature.sig', 'application/jose+json'],
  ])('%s verifies against the alpine manifest', (file, mediaType) => {
    const r = run(vector(file), mediaType);
    expect(r.reason).toBe('verified at level strict');
    expect(r.checks[0].reason).toMatch(
      mediaType === 'application/cose' ? /^COSE PS256 signature/ : /^JWS PS256 signature/,
    );
  });

  test('the COSE signature for another digest fails target', () => {
    const r = run(vector('notation-go/internal/testdata/cose_signature.sig'), 'application/cose', {
      ...ALPINE,
      digest: `sha256:${'0'.repeat(64)}`,
    });
    expect(r.reason).toMatch(/^target: the signature is for another artifact/);
  });

  test('a COSE envelope served as JWS (and the reverse) fails cleanly', () => {
    expect(run(vector('notation-go/internal/testdata/cose_signature.sig'), 'application/jose+json').outcome).toBe(
      'failed',
    );
    expect(run(vector('notation-go/internal/testdata/jws_signature.sig'), 'application/cose').outcome).toBe('failed');
  });

  test('flipping any byte of the COSE envelope never verifies', () => {
    const bytes = vector('notation-go/internal/testdata/cose_signature.sig');
    // The unprotected signingAgent string is not signed (by design): leave it out of the mutation range.
    const agent = bytes.indexOf(Buffer.from('Notation/'));
    fc.assert(
      fc.property(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 1, max: 255 }), (pos, xor) => {
        fc.pre(agent < 0 || pos < agent - 40 || pos > agent + 20);
        const mutated = Buffer.from(bytes);
        mutated[pos] ^= xor;
        expect(run(mutated).outcome).toBe('failed');
      }),
      { numRuns: 400 },
    );
  });

  test('arbitrary bytes as COSE never crash and never verify', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1024 }), (bytes) => {
        expect(run(Buffer.from(bytes)).outcome).toBe('failed');
      }),
      { numRuns: 300 },
    );
  });

  test('COSE with a timestamp countersignature, policy with a tsa store: the token is verified against it', () => {
    const policy = parseTrustPolicyDocument(
      JSON.parse(vector('notation-go/derived/trustpolicy.timestamp.oci.json').toString('utf8')),
    ).trustPolicies[0];
    const tsStore = buildTrustStore([
      {
        type: 'ca',
        name: 'valid-trust-store',
        file: 'TestTimestamp.crt',
        bytes: vector('notation-go/verifier/testdata/truststore/x509/ca/valid-trust-store/TestTimestamp.crt'),
      },
      {
        type: 'tsa',
        name: 'test-timestamp',
        file: 'globalsignRoot.cer',
        bytes: vector('notation-go/verifier/testdata/truststore/x509/tsa/test-timestamp/globalsignRoot.cer'),
      },
    ]);
    const envelope = vector('notation-go/verifier/testdata/timestamp/sigEnv/coseWithTimestamp.sig');
    const decoded = decodeFirstSync(envelope, { preferMap: true }) as Tagged;
    const payload = JSON.parse(Buffer.from((decoded.value as Uint8Array[])[2]).toString('utf8')) as {
      targetArtifact: typeof ALPINE;
    };
    const r = verifyNotationSignature({
      signatureDigest: 'x',
      envelope,
      envelopeMediaType: 'application/cose',
      target: payload.targetArtifact,
      policy,
      store: tsStore,
      now: NOW,
    });
    expect(r.outcome).toBe('verified');
    expect(r.checks.find((c) => c.name === 'authenticTimestamp')?.reason).toMatch(
      /^timestamped by ".*GlobalSign.*" at 2024-06-18/,
    );
  });
});
