/** The VSA signing settings: one key source, a Key Vault key id of the documented form, URIs, clear errors. */
import { attestationConfig, DEFAULT_VERIFIER_ID } from '../../src/app/config';
import { ErrorCodes } from '../../src/core/errors';

const FILE_POLICY = { kind: 'file' as const, path: 'policy/acr-guard.yaml' };

describe('attestation settings', () => {
  it('none set: no VSA; a Key Vault key or a file, with defaults for the verifier and the policy URI', () => {
    expect(attestationConfig({}, FILE_POLICY)).toBeUndefined();
    expect(attestationConfig({ ACR_GUARD_ATTESTATION_KEY_ID: '' }, FILE_POLICY)).toBeUndefined();
    expect(
      attestationConfig(
        { ACR_GUARD_ATTESTATION_KEY_ID: 'https://kv-abc.vault.azure.net/keys/acr-guard-attestation' },
        FILE_POLICY,
      ),
    ).toEqual({
      key: { kind: 'keyvault', keyId: 'https://kv-abc.vault.azure.net/keys/acr-guard-attestation' },
      verifierId: DEFAULT_VERIFIER_ID,
      policyUri: 'file:policy/acr-guard.yaml',
    });
    expect(
      attestationConfig(
        {
          ACR_GUARD_ATTESTATION_KEY_FILE: '/k.pem',
          ACR_GUARD_VERIFIER_ID: 'https://contoso.com/gate',
          ACR_GUARD_POLICY_URI: 'https://contoso.com/p.yaml',
        },
        { kind: 'inline', text: 'x' },
      ),
    ).toEqual({
      key: { kind: 'file', path: '/k.pem' },
      verifierId: 'https://contoso.com/gate',
      policyUri: 'https://contoso.com/p.yaml',
    });
  });

  it.each([
    [
      { ACR_GUARD_ATTESTATION_KEY_ID: 'https://kv.vault.azure.net/keys/k', ACR_GUARD_ATTESTATION_KEY_FILE: '/k.pem' },
      'ACR_GUARD_ATTESTATION_KEY_ID',
      /not both/,
    ],
    [
      { ACR_GUARD_ATTESTATION_KEY_ID: 'http://kv.vault.azure.net/keys/k' },
      'ACR_GUARD_ATTESTATION_KEY_ID',
      /Key Vault key id/,
    ],
    [
      { ACR_GUARD_ATTESTATION_KEY_ID: 'https://kv.vault.azure.net/secrets/k' },
      'ACR_GUARD_ATTESTATION_KEY_ID',
      /Key Vault key id/,
    ],
    [
      { ACR_GUARD_ATTESTATION_KEY_FILE: '/k.pem', ACR_GUARD_VERIFIER_ID: 'not a uri' },
      'ACR_GUARD_VERIFIER_ID',
      /a URI/,
    ],
  ])('refuses %j naming %s', (env, field, message) => {
    expect(() => attestationConfig(env, FILE_POLICY)).toThrow(
      expect.objectContaining({ code: ErrorCodes.INVALID_CONFIG, field, message: expect.stringMatching(message) }),
    );
  });
});
