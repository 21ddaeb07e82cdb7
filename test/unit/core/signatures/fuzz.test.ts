/**
 * Property tests: malformed or mutated input to the envelope, certificate, trust policy and cosign parsers
 * gives a clean failure (a `failed` outcome or a GuardError/CertificateParseError), never a crash and never a
 * pass. Mutations start from real notation output so they reach deep into the checks.
 */
import fc from 'fast-check';
import { GuardError } from '../../../../src/core/errors';
import {
  CertificateParseError,
  buildTrustStore,
  parseCertificate,
  parseTrustPolicyDocument,
  verifyCosignSignature,
  verifyNotationSignature,
} from '../../../../src/core/signatures';
import { E2E_SUBJECT, e2ePolicy, sharedVectors, layout, storeOf, vector } from '../../../support/vectors';
import { describeRequiring } from '../../../support/required';

const d = describeRequiring(sharedVectors);
const NOW = new Date('2026-06-01T00:00:00Z');
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

d('signature parsers under malformed input', () => {
  const policy = () => e2ePolicy().trustPolicies[0];
  const store = storeOf({ e2e: ['notation/config/localkeys/e2e.crt'] });
  const verifyBytes = (envelope: Buffer, mediaType = 'application/jose+json') =>
    verifyNotationSignature({
      signatureDigest: 'sha256:' + 'a'.repeat(64),
      envelope,
      envelopeMediaType: mediaType,
      target: E2E_SUBJECT,
      policy: policy(),
      store,
      now: NOW,
    });
  const valid = JSON.parse(
    layout('e2e-valid-signature').signatures(E2E_SUBJECT.digest)[0].envelope.toString('utf8'),
  ) as Record<string, unknown>;

  test('the unmutated envelope verifies (the properties below start from a passing input)', () => {
    expect(verifyBytes(Buffer.from(JSON.stringify(valid))).outcome).toBe('verified');
  });

  test('arbitrary bytes never crash and never verify', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
        expect(verifyBytes(Buffer.from(bytes)).outcome).toBe('failed');
      }),
      { numRuns: 300 },
    );
  });

  test('arbitrary JSON values never crash and never verify', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(verifyBytes(Buffer.from(JSON.stringify(value))).outcome).toBe('failed');
      }),
      { numRuns: 300 },
    );
  });

  test('changing any character of protected, payload or signature fails integrity', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('protected', 'payload', 'signature'),
        fc.nat(),
        fc.integer({ min: 1, max: 63 }),
        (field, pos, shift) => {
          const text = valid[field] as string;
          const i = pos % text.length;
          const ch = B64URL[(B64URL.indexOf(text[i]) + shift) % 64];
          const mutated = { ...valid, [field]: text.slice(0, i) + ch + text.slice(i + 1) };
          const r = verifyBytes(Buffer.from(JSON.stringify(mutated)));
          expect(r.outcome).toBe('failed');
          expect(r.checks[0]).toMatchObject({ name: 'envelope', status: 'fail' });
        },
      ),
      { numRuns: 300 },
    );
  });

  test('replacing any field of the envelope with an arbitrary JSON value never verifies', () => {
    fc.assert(
      fc.property(fc.constantFrom('protected', 'payload', 'signature', 'header'), fc.jsonValue(), (field, value) => {
        fc.pre(JSON.stringify(value) !== JSON.stringify(valid[field]));
        expect(verifyBytes(Buffer.from(JSON.stringify({ ...valid, [field]: value }))).outcome).toBe('failed');
      }),
      { numRuns: 300 },
    );
  });

  test('truncating the envelope anywhere never verifies', () => {
    const bytes = Buffer.from(JSON.stringify(valid));
    fc.assert(
      fc.property(fc.nat({ max: bytes.length - 1 }), (n) => {
        expect(verifyBytes(bytes.subarray(0, n)).outcome).toBe('failed');
      }),
      { numRuns: 200 },
    );
  });

  test('certificate parser: mutated or random DER gives CertificateParseError or a parsed certificate, nothing else', () => {
    const der = parseCertificate(vector('notation/config/localkeys/e2e.crt')).raw;
    fc.assert(
      fc.property(
        fc.nat({ max: der.length - 1 }),
        fc.integer({ min: 1, max: 255 }),
        fc.uint8Array({ maxLength: 64 }),
        (pos, xor, junk) => {
          for (const input of [
            Buffer.concat([der.subarray(0, pos), Buffer.from([der[pos] ^ xor]), der.subarray(pos + 1)]),
            Buffer.from(junk),
            der.subarray(0, pos),
          ]) {
            try {
              parseCertificate(input);
            } catch (err) {
              expect(err).toBeInstanceOf(CertificateParseError);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  test('trust store of random bytes: a configuration error naming the file', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 512 }), (bytes) => {
        try {
          buildTrustStore([{ type: 'ca', name: 'fuzz', file: 'f.crt', bytes: Buffer.from(bytes) }]);
        } catch (err) {
          expect(err).toBeInstanceOf(GuardError);
          expect((err as GuardError).field).toBe('x509/ca/fuzz/f.crt');
        }
      }),
      { numRuns: 200 },
    );
  });

  test('trust policy documents: arbitrary JSON is valid or a GuardError with a field, never a crash', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (a, b) => {
        for (const doc of [
          a,
          { version: '1.0', trustPolicies: [a] },
          {
            version: '1.0',
            trustPolicies: [
              { name: 'x', registryScopes: ['*'], signatureVerification: a, trustStores: b, trustedIdentities: a },
            ],
          },
        ]) {
          try {
            parseTrustPolicyDocument(doc);
          } catch (err) {
            expect(err).toBeInstanceOf(GuardError);
            expect((err as GuardError).field).toBeTruthy();
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  test('cosign: arbitrary payloads and signatures never verify', () => {
    const p = { ...policy(), trustStores: [{ type: 'cosign' as const, name: 'k' }] };
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 512 }),
        fc.string(),
        fc.dictionary(fc.string(), fc.string()),
        (payload, sig, annotations) => {
          const r = verifyCosignSignature({
            signatureDigest: 'x',
            payload: Buffer.from(payload),
            annotations: { ...annotations, 'dev.cosignproject.cosign/signature': sig },
            digest: E2E_SUBJECT.digest,
            policy: p,
            store,
          });
          expect(r.outcome).not.toBe('verified');
        },
      ),
      { numRuns: 200 },
    );
  });

  test('names inherited from Object.prototype are not algorithms, levels or headers', () => {
    const header = JSON.parse(Buffer.from(valid.protected as string, 'base64url').toString('utf8'));
    for (const alg of ['constructor', 'toString', '__proto__']) {
      const protectedB64 = Buffer.from(JSON.stringify({ ...header, alg })).toString('base64url');
      expect(verifyBytes(Buffer.from(JSON.stringify({ ...valid, protected: protectedB64 }))).reason).toMatch(
        /is not allowed/,
      );
    }
    const withCrit = Buffer.from(
      JSON.stringify({ ...header, crit: ['io.cncf.notary.signingScheme', 'toString'] }),
    ).toString('base64url');
    expect(verifyBytes(Buffer.from(JSON.stringify({ ...valid, protected: withCrit }))).reason).toMatch(
      /critical header toString is not present/,
    );
    expect(() =>
      parseTrustPolicyDocument({
        version: '1.0',
        trustPolicies: [
          {
            name: 'x',
            registryScopes: ['*'],
            signatureVerification: { level: 'toString' },
            trustStores: ['ca:x'],
            trustedIdentities: ['*'],
          },
        ],
      }),
    ).toThrow(/level: expected strict, permissive, audit or skip/);
  });
});
