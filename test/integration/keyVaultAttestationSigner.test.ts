/**
 * The Key Vault attestation signer: the real `@azure/keyvault-keys` CryptographyClient (challenge auth, ES256
 * over the SHA-256 digest) against a loopback HTTPS Key Vault stand-in that holds the key and signs; the VSA it
 * signs is attached to an image in a real docker-registry and stock `cosign verify-attestation` verifies it with
 * the public key the vault publishes (and refuses it with another key).
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keyVaultSigner } from '../../src/adapters/attestationSigner';
import { checkVsaInRegistry } from '../../src/adapters/vsaSource';
import { ErrorCodes } from '../../src/core/errors';
import { buildVsaStatement, VSA_PREDICATE_TYPE } from '../../src/core/vsa';
import type { Verdict } from '../../src/core/types';
import { attachVsa } from '../../src/jobs/releaseProof';
import { pushImage } from '../../src/local/ociPush';
import { testCredential } from '../support/azureStandIns';
import { startKeyVaultKeys, type KeyVaultKeysStandIn } from '../support/keyVaultKeys';
import { useRegistry } from '../support/registry';
import { describeRequiring } from '../support/required';
import { cosignVerifyAttestation, signingTools } from '../support/signingTools';

const reg = useRegistry();

describe('Key Vault attestation signer (real SDK, loopback Key Vault keys contract)', () => {
  let vault: KeyVaultKeysStandIn;
  let dir: string;
  beforeAll(async () => {
    vault = await startKeyVaultKeys();
    dir = mkdtempSync(join(tmpdir(), 'acr-guard-kv-vsa-'));
  });
  afterAll(async () => {
    await vault?.server.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const signer = () =>
    keyVaultSigner({ credential: testCredential(), keyId: vault.keyId, ca: vault.server.ca, maxRetries: 0 });

  async function attached(repository: string): Promise<{ digest: string; ref: string; verdict: Verdict }> {
    const pushed = await pushImage(reg.client, repository, { seed: repository });
    const verdict: Verdict = {
      image: { registry: reg.registry.host, repository, digest: pushed.digest },
      decision: 'release',
      summary: 'released: no blocking findings',
      checks: [{ name: 'vulnerabilities', status: 'pass', reason: 'no findings' }],
      findingCounts: {},
      rule: 'gate[0] scope "kv/**"',
      policy: { version: 1, hash: 'a'.repeat(64) },
      decidedAt: '2026-12-07T20:00:00.000Z',
    };
    const statement = buildVsaStatement({
      verdict,
      repository: `${reg.registry.host}/${repository}`,
      verifierId: 'https://github.com/acr-guard/acr-guard/gate',
      policyUri: 'file:policy/acr-guard.yaml',
      inputAttestations: [],
    });
    await attachVsa(reg.client, repository, pushed.digest, statement, signer());
    return { digest: pushed.digest, ref: `${reg.registry.host}/${repository}@${pushed.digest}`, verdict };
  }

  it('signs through the vault (the key never leaves it); the VSA verifies with the public key the vault publishes', async () => {
    const { digest } = await attached('kv/app');
    expect(vault.signed).toHaveLength(1);
    const pem = await signer().publicKeyPem();
    expect(pem).toBe(vault.publicKey.export({ type: 'spki', format: 'pem' }).toString());
    const checked = await checkVsaInRegistry(reg.client, 'kv/app', {
      digest,
      publicKey: pem,
      policyHash: 'a'.repeat(64),
    });
    expect(checked).toMatchObject({ ok: true });
    // The sign requests carried the bearer token the challenge asked for; nothing else held the key.
    expect(vault.server.requests.some((r) => r.path.endsWith('/sign') && r.headers.authorization)).toBe(true);
  });

  it('a vault that refuses to sign (403) is a permanent error naming the role to grant', async () => {
    vault.signFaults.push({ status: 403, body: { error: { code: 'Forbidden', message: 'caller is not authorized' } } });
    const s = signer();
    await expect(s.sign(Buffer.from('x'))).rejects.toMatchObject({
      message: expect.stringMatching(/Key Vault Crypto User/),
    });
  });

  describeRequiring(signingTools)('with the real cosign', () => {
    it('cosign verify-attestation accepts the Key Vault-signed VSA with the vault key and refuses another key', async () => {
      const { ref } = await attached('kv/cosign');
      const pub = join(dir, 'vault.pub.pem');
      writeFileSync(pub, await signer().publicKeyPem());
      const otherPub = join(dir, 'other.pub.pem');
      writeFileSync(
        otherPub,
        generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'pem' }),
      );
      const verify = (key: string) => cosignVerifyAttestation(key, VSA_PREDICATE_TYPE, ref, dir);
      await expect(verify(pub)).resolves.toBeDefined();
      await expect(verify(otherPub)).rejects.toThrow(/no matching attestations|invalid signature|verif/i);
    }, 60_000);
  });

  it('refuses a key id that is not a Key Vault key URL before any request', () => {
    expect(() => keyVaultSigner({ credential: testCredential(), keyId: 'http://vault/keys/x' })).toThrow(
      expect.objectContaining({ code: ErrorCodes.INVALID_CONFIG }),
    );
  });
});
