/**
 * RFC 3161 timestamp countersignatures (notation-go's verifier/testdata/timestamp, ../shared/vectors): real
 * GlobalSign TSA tokens on JWS and COSE envelopes, checked against a `tsa` store, with the outcomes and
 * messages of notation-go's timestamp tests.
 */
import fc from 'fast-check';
import {
  atLevel,
  buildTrustStore,
  parseCoseEnvelope,
  parseJwsEnvelope,
  parseTrustPolicyDocument,
  verifyNotationSignature,
  type TrustPolicy,
  type TrustStore,
} from '../../../../src/core/signatures';
import { sharedVectors, vector } from '../../../support/vectors';
import { describeRequiring } from '../../../support/required';

const d = describeRequiring(sharedVectors);

const NOW = new Date('2026-06-01T00:00:00Z');
const TS = 'notation-go/verifier/testdata/timestamp';
const STORE = 'notation-go/verifier/testdata/truststore/x509';

function store(tsaRoot = `${STORE}/tsa/test-timestamp/globalsignRoot.cer`): TrustStore {
  const ca = [
    `${STORE}/ca/valid-trust-store/TestTimestamp.crt`,
    'notation-go/derived/truststore/x509/ca/testTSA-expired-2024/testTSA.crt',
  ];
  return buildTrustStore([
    ...ca.map((f) => ({
      type: 'ca' as const,
      name: 'valid-trust-store',
      file: f.split('/').pop() as string,
      bytes: vector(f),
    })),
    { type: 'tsa', name: 'test-timestamp', file: 'root.cer', bytes: vector(tsaRoot) },
  ]);
}
const policy = (): TrustPolicy =>
  parseTrustPolicyDocument(JSON.parse(vector('notation-go/derived/trustpolicy.timestamp.oci.json').toString('utf8')))
    .trustPolicies[0];

function verify(file: string, options: { policy?: TrustPolicy; store?: TrustStore; envelope?: Buffer } = {}) {
  const envelope = options.envelope ?? vector(`${TS}/sigEnv/${file}`);
  const cose = envelope[0] !== 0x7b;
  const parsed = cose ? parseCoseEnvelope(envelope) : parseJwsEnvelope(envelope);
  const target = (
    JSON.parse(parsed.payload.toString('utf8')) as {
      targetArtifact: { mediaType: string; digest: string; size: number };
    }
  ).targetArtifact;
  const r = verifyNotationSignature({
    signatureDigest: 'x',
    envelope,
    envelopeMediaType: cose ? 'application/cose' : 'application/jose+json',
    target,
    policy: options.policy ?? policy(),
    store: options.store ?? store(),
    now: NOW,
  });
  return { ...r, timestamp: r.checks.find((c) => c.name === 'authenticTimestamp') };
}

/** withoutTimestamp.sig with a token put in its (unsigned) unprotected header. */
function withToken(token: string): Buffer {
  const env = JSON.parse(vector(`${TS}/sigEnv/withoutTimestamp.sig`).toString('utf8'));
  env.header['io.cncf.notary.timestampSignature'] = vector(`${TS}/countersignature/${token}`).toString('base64');
  return Buffer.from(JSON.stringify(env));
}

d('RFC 3161 timestamps', () => {
  test.each(['jwsWithTimestamp.sig', 'coseWithTimestamp.sig'])(
    '%s: authentic timestamp from the GlobalSign TSA, verified',
    (file) => {
      const r = verify(file);
      expect(r.outcome).toBe('verified');
      expect(r.timestamp).toMatchObject({
        status: 'pass',
        details: { timestamp: { genTime: expect.stringMatching(/^2024-06-18T06:2\d:\d\d/) } },
      });
    },
  );

  test.each(['jwsExpiredWithTimestamp.sig', 'coseExpiredWithTimestamp.sig'])(
    '%s: expired signing certificate, valid at the timestamp: verified; without a tsa store: expired',
    (file) => {
      expect(verify(file).outcome).toBe('verified');
      const noTsa = { ...policy(), trustStores: policy().trustStores.filter((s) => s.type !== 'tsa') };
      const r = verify(file, { policy: noTsa });
      expect(r.outcome).toBe('failed');
      expect(r.reason).toMatch(
        /authenticTimestamp: verification time is after certificate .* validity period, it was expired at Tue, 18 Jun 2024 07:30:31 GMT/,
      );
    },
  );

  test('a tsa store in the policy and no token: no timestamp countersignature was found', () => {
    expect(verify('withoutTimestamp.sig').timestamp?.reason).toBe(
      'no timestamp countersignature was found in the signature envelope',
    );
  });

  test("timestamp before the certificate's notBefore / after its notAfter", () => {
    expect(verify('timestampBeforeNotBefore.sig').timestamp?.reason).toMatch(
      /timestamp can be before certificate .* validity period, it will be valid from Fri, 18 Sep 2099/,
    );
    expect(verify('timestampAfterNotAfter.sig').timestamp?.reason).toMatch(
      /timestamp can be after certificate .* validity period, it was expired at Tue, 18 Sep 2001/,
    );
  });

  test.each([
    ['TimeStampToken.p7s', /invalid TSTInfo: mismatched message/],
    ['TimeStampTokenWithInvalideContentType.p7s', /does not hold a TSTInfo|not valid CMS/],
    ['TimeStampTokenWithInvalidTSTInfo.p7s', /TSTInfo|not valid CMS/],
    ['TimeStampTokenWithoutCertificate.p7s', /signing certificate not found in the timestamp token/],
  ])('a bad token (%s) fails authenticTimestamp', (token, reason) => {
    const r = verify('', { envelope: withToken(token) });
    expect(r.outcome).toBe('failed');
    expect(r.timestamp).toMatchObject({ status: 'fail', reason: expect.stringMatching(reason) });
  });

  test('a tsa store with the wrong root: certificate signed by unknown authority; permissive only logs it', () => {
    const wrong = store(`${STORE}/tsa/test-mismatch/DigiCertTSARootSHA384.cer`);
    expect(verify('jwsWithTimestamp.sig', { store: wrong }).timestamp?.reason).toMatch(
      /certificate signed by unknown authority/,
    );
    expect(verify('jwsWithTimestamp.sig', { store: wrong, policy: atLevel(policy(), 'permissive') }).outcome).toBe(
      'verified',
    );
  });

  test('fuzz: random tokens fail authenticTimestamp; a flipped byte anywhere in a real token never crashes the verifier', () => {
    const env = JSON.parse(vector(`${TS}/sigEnv/jwsWithTimestamp.sig`).toString('utf8'));
    const token = Buffer.from(env.header['io.cncf.notary.timestampSignature'], 'base64');
    const withBytes = (bytes: Buffer) =>
      Buffer.from(
        JSON.stringify({
          ...env,
          header: { ...env.header, 'io.cncf.notary.timestampSignature': bytes.toString('base64') },
        }),
      );
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 512 }), (junk) => {
        expect(verify('', { envelope: withBytes(Buffer.from(junk)) }).timestamp?.status).toBe('fail');
      }),
      { numRuns: 150 },
    );
    fc.assert(
      fc.property(fc.nat({ max: token.length - 1 }), fc.integer({ min: 1, max: 255 }), (pos, xor) => {
        const mutated = Buffer.from(token);
        mutated[pos] ^= xor;
        const r = verify('', { envelope: withBytes(mutated) });
        expect(['pass', 'fail']).toContain(r.timestamp?.status);
      }),
      { numRuns: 150 },
    );
  });
});
