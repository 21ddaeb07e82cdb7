/**
 * notation-go's unit-test envelopes (`../shared/vectors/notation-go`), the `notary.x509` and
 * `notary.x509.signingAuthority` schemes, tampering, plugins, and the trust policy documents of notation's
 * e2e suite (valid ones load, invalid ones are refused naming the JSON path).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { GuardError } from '../../../../src/core/errors';
import { atLevel, parseTrustPolicyDocument, verifyNotationSignature } from '../../../../src/core/signatures';
import { loadSignatureTrust, loadTrustStoreDir } from '../../../../src/adapters/trustStoreFiles';
import { VECTORS, sharedVectors, vector } from '../../../support/vectors';
import { describeRequiring } from '../../../support/required';

const d = describeRequiring(sharedVectors);

const NOW = new Date('2026-06-01T00:00:00Z');
const TARGET = {
  mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
  digest: 'sha256:60043cf45eaebc4c0867fea485a039b598f52fd09fd5b07b0b2d2f88fad9d74e',
  size: 528,
};
const MOCK = 'notation-go/internal/mock/testdata';

d('notation-go envelopes', () => {
  let trust: Awaited<ReturnType<typeof loadSignatureTrust>>;
  beforeAll(async () => {
    trust = await loadSignatureTrust(
      join(VECTORS, 'notation-go/derived/trustpolicy.oci.json'),
      join(VECTORS, 'notation-go/verifier/testdata/truststore'),
    );
  });
  const run = (file: string, level?: 'permissive' | 'audit') => {
    const base = trust.trustPolicy.trustPolicies[0];
    const policy = level ? atLevel(base, level) : base;
    return verifyNotationSignature({
      signatureDigest: `sha256:${'1'.repeat(64)}`,
      envelope: vector(`${MOCK}/${file}`),
      envelopeMediaType: 'application/jose+json',
      target: TARGET,
      policy,
      store: trust.trustStore,
      now: NOW,
    });
  };

  test.each(['ca_valid_sig_env.json', 'sa_valid_sig_env.json'])(
    '%s verifies (PS384, chain leaf -> root in the store, identity matches)',
    (file) => {
      const r = run(file);
      expect(r.reason).toBe('verified at level strict');
      expect(r.outcome).toBe('verified');
    },
  );

  test.each(['ca_invalid_sig_env.json', 'sa_invalid_sig_env.json'])(
    '%s (payload with "=" appended) fails integrity at every level',
    (file) => {
      for (const level of [undefined, 'permissive', 'audit'] as const) {
        const r = run(file, level);
        expect(r.outcome).toBe('failed');
        expect(r.checks[0]).toMatchObject({ name: 'envelope', status: 'fail' });
      }
    },
  );

  test.each(['ca_expired_sig_env.json', 'sa_expired_sig_env.json'])(
    '%s fails expiry at strict, logged at permissive and audit',
    (file) => {
      const r = run(file);
      expect(r.outcome).toBe('failed');
      expect(r.reason).toMatch(/^expiry: digital signature has expired on Fri, 29 Jul 2022 23:59:00 GMT/);
      expect(run(file, 'permissive').outcome).toBe('verified');
      expect(run(file, 'audit').outcome).toBe('verified');
    },
  );

  test.each(['ca_plugin_sig_env.json', 'sa_plugin_sig_env.json', 'ca_compatible_pluginver_sig_env_1.0.0.json'])(
    '%s needs a verification plugin: fails',
    (file) => {
      const r = run(file);
      expect(r.outcome).toBe('failed');
      expect(r.checks[0].reason).toMatch(/unknown critical header|verification plugin/);
    },
  );
});

d('trust policy documents of notation e2e', () => {
  const dir = join(VECTORS, 'notation/config/trustpolicies');
  const load = (f: string) =>
    parseTrustPolicyDocument(JSON.parse(vector(`notation/config/trustpolicies/${f}`).toString('utf8')));
  const invalid: Record<string, RegExp> = {
    'empty_registry_scope_trustpolicy.json': /registryScopes/,
    'empty_trusted_identity_trustpolicy.json': /trustedIdentities\[0\]/,
    'malformed_registry_scope_trustpolicy.json': /registryScopes\[0\]/,
    'malformed_trust_store_trustpolicy.json': /trustStores\[0\]/,
    'malformed_trusted_identity_trustpolicy.json': /x509\.subject/,
    'missing_country_trusted_identity_trustpolicy.json': /with C/,
    'missing_organization_trusted_identity_trustpolicy.json': /with O/,
    'missing_state_trusted_identity_trustpolicy.json': /with ST/,
    'multi_statements_with_multi_wildcard_registry_scope_trustpolicy.json': /"\*" in one policy only/,
    'multi_statements_with_the_same_name_trustpolicy.json': /trustPolicies\[1\]\.name/,
    'multi_statements_with_the_same_registry_scope_trustpolicy.json': /one policy only/,
    'overlapped_registry_scope_trustpolicy.json': /each entry once/,
    'overlapped_trust_store_trustpolicy.json': /each entry once/,
    'overlapped_trusted_identity_trustpolicy.json': /do not overlap/,
    'override_integrity_for_permissive_trustpolicy.json': /override\.integrity/,
    'unset_trust_store_trustpolicy.json': /trustStores/,
    'unset_trusted_identity_trustpolicy.json': /trustedIdentities/,
    'wildcard_plus_other_registry_scope_trustpolicy.json': /only scope/,
    'wildcard_plus_other_trusted_identity_trustpolicy.json': /alone/,
    'wildcard_trust_store_trustpolicy.json': /trustStores\[0\]/,
  };
  test.each(Object.entries(invalid))('%s is refused naming the field', (file, message) => {
    let err: unknown;
    try {
      load(file);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GuardError);
    expect((err as GuardError).code).toBe('INVALID_CONFIG');
    expect((err as GuardError).message).toMatch(message);
    expect((err as GuardError).field).toMatch(/^(trustPolicies|version)/);
  });

  test('every other OCI trust policy of the suite loads', () => {
    const others = readdirSync(dir).filter(
      (f) => !(f in invalid) && f !== 'invalid_format_trustpolicy.json' && f !== 'blob_trust_policy.json',
    );
    expect(others.length).toBeGreaterThan(15);
    for (const f of others) expect(load(f).trustPolicies.length).toBeGreaterThan(0);
  });
});

d('trust store directories', () => {
  const root = join(VECTORS, 'notation-go/verifier/testdata/truststore');
  test('PEM, DER and .crt files of a named store load', async () => {
    const store = await loadTrustStoreDir(root, 'trustStore', new Set(['ca:valid-trust-store']));
    expect(store.certificates.get('ca:valid-trust-store')?.length).toBeGreaterThanOrEqual(5);
  });
  test.each([
    ['ca:trust-store-with-leaf-certs', /non-ca\.crt: certificate .* is not a CA or self-signed/],
    ['ca:trust-store-with-invalid-certs', /invalid: expected PEM or DER X\.509 certificates/],
    ['tsa:test-nonCA', /is not a self-signed root CA certificate/],
    ['tsa:test-nonSelfIssued', /is not a self-signed root CA certificate/],
  ])('%s is refused naming the file', async (name, message) => {
    await expect(loadTrustStoreDir(root, 'trustStore', new Set([name]))).rejects.toThrow(message);
  });
  test('a missing directory is a configuration error naming the setting', async () => {
    await expect(loadTrustStoreDir('/nonexistent/store', 'SIGNATURE_TRUST_STORE_DIR')).rejects.toMatchObject({
      code: 'INVALID_CONFIG',
      field: 'SIGNATURE_TRUST_STORE_DIR',
    });
  });
});
