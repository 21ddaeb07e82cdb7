/**
 * The VSA core: the statement's shape (SLSA VSA v1 fields), the DSSE PAE, the P1363 → DER conversion (against
 * node's own verifier), and `checkVsa` against hostile envelopes (fast-check, fixed seed): it never throws and
 * never accepts what the key did not sign, a FAILED verdict, another digest or another policy.
 */
import { generateKeyPairSync, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';
import fc from 'fast-check';
import { ErrorCodes } from '../../../src/core/errors';
import { proofCheck, withProof, type ReleaseProof } from '../../../src/core/releaseProof';
import type { Verdict } from '../../../src/core/types';
import {
  IN_TOTO_PAYLOAD_TYPE,
  VSA_CHECKS_FIELD,
  VSA_PREDICATE_TYPE,
  buildVsaStatement,
  checkVsa,
  dsseEnvelope,
  dssePae,
  p1363ToDer,
} from '../../../src/core/vsa';

const DIGEST = `sha256:${'ab'.repeat(32)}`;
const HASH = 'c'.repeat(64);
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });

function verdict(decision: Verdict['decision'] = 'release'): Verdict {
  return {
    image: { registry: 'contoso.azurecr.io', repository: 'team/api', digest: DIGEST },
    decision,
    summary: decision === 'release' ? 'released' : 'blocked: CVE-1 (critical)',
    checks: [
      { name: 'signatures', status: 'pass', reason: 'verified' },
      { name: 'vulnerabilities', status: decision === 'release' ? 'pass' : 'fail', reason: 'r' },
    ],
    findingCounts: {},
    rule: 'gate[0] scope "team/**"',
    policy: { version: 1, hash: HASH },
    decidedAt: '2026-12-07T20:00:00.000Z',
  };
}

function signed(v: Verdict, key = privateKey, digestOverride?: string): Buffer {
  const statement = buildVsaStatement({
    verdict: digestOverride ? { ...v, image: { ...v.image, digest: digestOverride } } : v,
    repository: 'contoso.azurecr.io/release/team/api',
    verifierId: 'https://github.com/acr-guard/acr-guard',
    policyUri: 'file:policy/acr-guard.yaml',
    inputAttestations: [{ uri: 'x', digest: { sha256: 'd'.repeat(64) } }],
  });
  const payload = Buffer.from(JSON.stringify(statement));
  return dsseEnvelope(payload, cryptoSign('sha256', dssePae(IN_TOTO_PAYLOAD_TYPE, payload), key));
}

const want = { digest: DIGEST, publicKey, policyHash: HASH, verifierId: 'https://github.com/acr-guard/acr-guard' };

describe('VSA statement', () => {
  it('has the SLSA VSA v1 fields, the failing checks first, and FAILED for a block', () => {
    const s = buildVsaStatement({
      verdict: verdict('block'),
      repository: 'contoso.azurecr.io/team/api',
      verifierId: 'https://v',
      policyUri: 'file:p',
      inputAttestations: [],
    });
    expect(s).toMatchObject({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: 'contoso.azurecr.io/team/api', digest: { sha256: 'ab'.repeat(32) } }],
      predicateType: VSA_PREDICATE_TYPE,
      predicate: {
        verifier: { id: 'https://v' },
        timeVerified: '2026-12-07T20:00:00.000Z',
        resourceUri: `contoso.azurecr.io/team/api@${DIGEST}`,
        policy: { uri: 'file:p', digest: { sha256: HASH } },
        verificationResult: 'FAILED',
        verifiedLevels: ['FAILED'],
      },
    });
    expect(s.predicate[VSA_CHECKS_FIELD].checks[0]).toMatchObject({ name: 'vulnerabilities', status: 'fail' });
  });

  it('DSSE PAE is "DSSEv1 <len> <type> <len> <payload>"', () => {
    expect(dssePae('t', Buffer.from('hello')).toString()).toBe('DSSEv1 1 t 5 hello');
  });

  it('p1363ToDer gives the DER signature node verifies (high bits and leading zeros included)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), (data) => {
        const raw = cryptoSign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
        return cryptoVerify('sha256', data, publicKey, p1363ToDer(raw));
      }),
      { numRuns: 200 },
    );
    expect(() => p1363ToDer(Buffer.alloc(63))).toThrow(expect.objectContaining({ code: ErrorCodes.MALFORMED }));
  });
});

describe('checkVsa', () => {
  it('accepts a PASSED VSA signed by the key for this digest under the current policy', () => {
    expect(checkVsa(signed(verdict()), want)).toMatchObject({ ok: true });
  });

  it.each([
    ['another key', () => signed(verdict(), other.privateKey), /no signature of the envelope verifies/],
    ['a FAILED verdict', () => signed(verdict('block')), /verificationResult is "FAILED"/],
    ['another digest', () => signed(verdict(), privateKey, `sha256:${'ef'.repeat(32)}`), /does not name/],
    ['not JSON', () => Buffer.from('{'), /not JSON/],
    [
      'no signatures',
      () => Buffer.from(JSON.stringify({ payloadType: IN_TOTO_PAYLOAD_TYPE, payload: '', signatures: [] })),
      /no signature/,
    ],
    [
      'another payload type',
      () => Buffer.from(JSON.stringify({ payloadType: 'text/plain', payload: '', signatures: [{ sig: '' }] })),
      /payload type/,
    ],
    ['over the size bound', () => Buffer.alloc(1024 * 1024 + 1, 0x20), /over the 1048576-byte limit/],
  ])('refuses %s', (_what, make, reason) => {
    expect(checkVsa(make(), want)).toMatchObject({
      ok: false,
      code: ErrorCodes.VSA_REJECTED,
      reason: expect.stringMatching(reason),
    });
  });

  it('refuses another policy hash and another verifier id', () => {
    expect(checkVsa(signed(verdict()), { ...want, policyHash: 'e'.repeat(64) })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/policy hash/),
    });
    expect(checkVsa(signed(verdict()), { ...want, verifierId: 'https://evil' })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/verifier.id/),
    });
  });

  it('never throws and never accepts an envelope the key did not sign (hostile bytes and JSON)', () => {
    const genuine = JSON.parse(signed(verdict()).toString()) as Record<string, unknown>;
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b)),
          fc.json().map((j) => Buffer.from(j)),
          // The genuine envelope with one field replaced by anything (a forged payload keeps the signature).
          fc
            .tuple(fc.constantFrom('payload', 'payloadType', 'signatures'), fc.jsonValue())
            .map(([k, v]) => Buffer.from(JSON.stringify({ ...genuine, [k]: v }))),
        ),
        (bytes) => {
          const r = checkVsa(bytes, want);
          // Accepted only with the payload the key signed.
          return !r.ok || (JSON.parse(bytes.toString()) as { payload?: unknown }).payload === genuine.payload;
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('proof in the verdict', () => {
  const proof: ReleaseProof = { copied: 2, failed: [], items: [{ kind: 'sbom', digest: DIGEST, subject: DIGEST }] };
  it('a complete proof is a passing check; a failure is inconclusive and said in the summary', () => {
    expect(proofCheck(proof)).toMatchObject({ name: 'proof', status: 'pass' });
    const partial = withProof(verdict(), { ...proof, failed: [{ digest: DIGEST, code: 'NOT_FOUND', detail: 'gone' }] });
    expect(partial.decision).toBe('release');
    expect(partial.summary).toBe('released; proof incomplete');
    expect(partial.checks.find((c) => c.name === 'proof')).toMatchObject({ status: 'inconclusive' });
    expect(withProof(verdict(), undefined)).toEqual(verdict());
  });
});
