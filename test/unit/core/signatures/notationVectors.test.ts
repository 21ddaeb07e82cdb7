/**
 * Real signatures made by the notation CLI (notaryproject/notation e2e data, ../shared/vectors) verified by
 * the in-process verifier, with the outcomes upstream's e2e suite expects.
 */
import { summarize, verifyNotationSignature, type TrustPolicy, type TrustStore } from '../../../../src/core/signatures';
import { E2E_SUBJECT, e2ePolicy, sharedVectors, layout, storeOf } from '../../../support/vectors';
import { describeRequiring } from '../../../support/required';

const NOW = new Date('2026-06-01T00:00:00Z');
const d = describeRequiring(sharedVectors);

function verifyLayout(name: string, policy: TrustPolicy, store: TrustStore, now = NOW) {
  const sigs = layout(name).signatures(E2E_SUBJECT.digest);
  return summarize(
    policy,
    sigs.map((s) =>
      verifyNotationSignature({
        signatureDigest: s.digest,
        envelope: s.envelope,
        envelopeMediaType: s.envelopeMediaType,
        target: E2E_SUBJECT,
        policy,
        store,
        now,
      }),
    ),
  );
}

const e2eStore = () => storeOf({ e2e: ['notation/config/localkeys/e2e.crt'] });
const policy = (file = 'trustpolicy.json') => e2ePolicy(file).trustPolicies[0];

d('notation e2e vectors', () => {
  test('valid signature passes at strict, every check recorded', () => {
    const r = verifyLayout('e2e-valid-signature', policy(), e2eStore());
    expect(r.status).toBe('verified');
    const checks = r.signatures[0].checks;
    expect(checks.map((c) => [c.name, c.status])).toEqual([
      ['envelope', 'pass'],
      ['target', 'pass'],
      ['authenticity', 'pass'],
      ['trustedIdentity', 'pass'],
      ['authenticTimestamp', 'pass'],
      ['expiry', 'pass'],
      ['revocation', 'skip'],
    ]);
    expect(checks.find((c) => c.name === 'revocation')?.reason).toMatch(/not performed/);
    expect(r.reason).toMatch(/revocation not performed/);
  });

  test('unsigned image fails: no signature associated', () => {
    const r = verifyLayout('e2e', policy(), e2eStore());
    expect(r.status).toBe('failed');
    expect(r.reason).toMatch(/no signature is associated/);
  });

  test('wrong trust anchor: strict and permissive fail authenticity, audit passes with it logged', () => {
    const wrong = storeOf({ e2e: ['notation/config/localkeys/new_e2e.crt'] });
    for (const file of ['trustpolicy.json', 'permissive_trustpolicy.json']) {
      const r = verifyLayout('e2e-valid-signature', policy(file), wrong);
      expect(r.status).toBe('failed');
      expect(r.reason).toMatch(/authenticity: certificate chain does not contain any trusted certificate/);
    }
    const audit = verifyLayout('e2e-valid-signature', policy('audit_trustpolicy.json'), wrong);
    expect(audit.status).toBe('verified');
    expect(audit.signatures[0].checks.find((c) => c.name === 'authenticity')).toMatchObject({
      status: 'skip',
      details: { outcome: 'fail', action: 'log' },
    });
  });

  test('expired signature: strict fails expiry, permissive/audit/override_strict log it, override_permissive enforces', () => {
    expect(verifyLayout('e2e-expired-signature', policy(), e2eStore()).reason).toMatch(
      /expiry: digital signature has expired/,
    );
    for (const file of ['permissive_trustpolicy.json', 'audit_trustpolicy.json', 'override_strict_trustpolicy.json']) {
      expect(verifyLayout('e2e-expired-signature', policy(file), e2eStore()).status).toBe('verified');
    }
    for (const file of ['override_permissive_trustpolicy.json', 'override_audit_trustpolicy.json']) {
      expect(verifyLayout('e2e-expired-signature', policy(file), e2eStore()).status).toBe('failed');
    }
  });

  test("signing certificate expired: strict fails authenticTimestamp with notation's message; permissive logs it", () => {
    const store = storeOf({ e2e: ['notation/config/localkeys/expired_e2e.crt'] });
    const r = verifyLayout('e2e-with-expired-cert', policy(), store);
    expect(r.status).toBe('failed');
    expect(r.reason).toMatch(
      /authenticTimestamp: verification time is after certificate .* validity period, it was expired at Tue, 27 Jun 2023 06:10:00 GMT/,
    );
    expect(verifyLayout('e2e-with-expired-cert', policy('permissive_trustpolicy.json'), store).status).toBe('verified');
  });

  test('a layer that is not an envelope fails integrity at strict, permissive and audit; skip skips', () => {
    for (const file of ['trustpolicy.json', 'permissive_trustpolicy.json', 'audit_trustpolicy.json']) {
      const r = verifyLayout('e2e-invalid-signature', policy(file), e2eStore());
      expect(r.status).toBe('failed');
      expect(r.signatures[0].checks[0]).toMatchObject({ name: 'envelope', status: 'fail' });
    }
    expect(verifyLayout('e2e-invalid-signature', policy('skip_trustpolicy.json'), e2eStore()).status).toBe('skipped');
  });

  test('two signatures, one good: verified', () => {
    const r = verifyLayout('e2e-valid-multiple-signatures', policy(), e2eStore());
    expect(r.signatures).toHaveLength(2);
    expect(r.status).toBe('verified');
    expect(r.signatures.map((s) => s.outcome).sort()).toEqual(['failed', 'verified']);
  });

  test('the same signature verified for another artifact fails target', () => {
    const sig = layout('e2e-valid-signature').signatures(E2E_SUBJECT.digest)[0];
    const other = { ...E2E_SUBJECT, digest: `sha256:${'0'.repeat(64)}` };
    const r = verifyNotationSignature({
      signatureDigest: sig.digest,
      envelope: sig.envelope,
      envelopeMediaType: sig.envelopeMediaType,
      target: other,
      policy: policy(),
      store: e2eStore(),
      now: NOW,
    });
    expect(r.outcome).toBe('failed');
    expect(r.reason).toMatch(/target: the signature is for another artifact: digest "sha256:b8479/);
  });

  test('identity not in trustedIdentities fails; a subset DN that matches passes', () => {
    const sig = layout('e2e-valid-signature').signatures(E2E_SUBJECT.digest)[0];
    const run = (identity: string) => {
      const p: TrustPolicy = {
        ...policy(),
        trustedIdentities: [
          {
            text: identity,
            attributes: new Map(
              identity
                .slice(13)
                .split(', ')
                .map((kv) => [kv.split('=')[0], [kv.split('=')[1]]]),
            ),
          },
        ],
      };
      return verifyNotationSignature({
        signatureDigest: sig.digest,
        envelope: sig.envelope,
        envelopeMediaType: sig.envelopeMediaType,
        target: E2E_SUBJECT,
        policy: p,
        store: e2eStore(),
        now: NOW,
      });
    };
    expect(run('x509.subject:C=US, ST=WA, O=Notary').outcome).toBe('verified');
    const r = run('x509.subject:C=US, ST=WA, O=Contoso');
    expect(r.outcome).toBe('failed');
    expect(r.reason).toMatch(/trustedIdentity: signing certificate subject .*CN=e2e.* is not in trustedIdentities/);
  });
});
