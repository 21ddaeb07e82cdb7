/**
 * Signers of acr-guard's verification summary (VSA): a PEM private key file (local service, CLI) or a Key Vault
 * key (Azure: `CryptographyClient.sign('ES256', digest)`, the private key never leaves the vault). Both give
 * ASN.1 DER ECDSA P-256 signatures over the DSSE PAE, the form `cosign verify-attestation --key` checks.
 */
import { createHash, createPrivateKey, createPublicKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import type { TokenCredential } from '@azure/identity';
import type * as KeyVaultKeys from '@azure/keyvault-keys';
import { ErrorCodes, GuardError } from '../core/errors';
import { isLoopbackHost } from '../core/loopback';
import { p1363ToDer } from '../core/vsa';
import { readBoundedFileSync } from './boundedFile';
import { sdkError } from './sdkErrors';

/** `@azure/keyvault-keys`, loaded on first use (a cold start that never signs does not pay for it). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const keyVaultKeys = (): typeof KeyVaultKeys => require('@azure/keyvault-keys');

/** Signs the bytes of a VSA's DSSE pre-authentication encoding. */
export interface AttestationSigner {
  /** Where the key lives, for logs and the API (`file:<path>` or the Key Vault key id); never key material. */
  readonly keyRef: string;
  /** ECDSA P-256 / SHA-256 signature of `data`, ASN.1 DER. */
  sign(data: Buffer): Promise<Buffer>;
  /** The public key, PEM (SubjectPublicKeyInfo): what verifiers are given. */
  publicKeyPem(): Promise<string>;
}

/** Largest key file read. */
export const MAX_KEY_FILE_BYTES = 64 * 1024;

function requireP256(key: KeyObject, field: string, where: string): void {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType !== 'ec' || (curve !== 'prime256v1' && curve !== 'P-256'))
    throw new GuardError(
      ErrorCodes.INVALID_CONFIG,
      `${field}: ${where} is not an ECDSA P-256 key (found ${key.asymmetricKeyType ?? 'unknown'}${curve ? ` ${curve}` : ''}); make one with \`openssl ecparam -name prime256v1 -genkey -noout -out key.pem\``,
      { field },
    );
}

/** A signer over an unencrypted PEM private key file (PKCS#8 or SEC1), ECDSA P-256. */
export function pemFileSigner(path: string, field = '--attestation-key'): AttestationSigner {
  const pem = readBoundedFileSync(path, { maxBytes: MAX_KEY_FILE_BYTES, field, what: 'attestation key' });
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new GuardError(
      ErrorCodes.INVALID_CONFIG,
      `${field}: ${path} is not an unencrypted PEM private key (PKCS#8 "BEGIN PRIVATE KEY" or "BEGIN EC PRIVATE KEY")`,
      { field },
    );
  }
  requireP256(key, field, path);
  const publicPem = createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString();
  return {
    keyRef: `file:${path}`,
    sign: async (data) => cryptoSign('sha256', data, { key, dsaEncoding: 'der' }),
    publicKeyPem: async () => publicPem,
  };
}

/** Options of {@link keyVaultSigner}. */
export interface KeyVaultSignerOptions {
  credential: TokenCredential;
  /** The key's id: `https://<vault>.vault.azure.net/keys/<name>[/<version>]`. */
  keyId: string;
  /** Extra CA (PEM) to trust, for loopback test servers only. */
  ca?: string;
  maxRetries?: number;
}

const ROLE_HINT = 'grant the app\'s managed identity "Key Vault Crypto User" on the attestation key';

/** A signer through a Key Vault EC P-256 key: the vault signs the SHA-256 digest (ES256); the key never leaves it. */
export function keyVaultSigner(options: KeyVaultSignerOptions): AttestationSigner {
  let url: URL;
  try {
    url = new URL(options.keyId);
  } catch {
    throw new GuardError(
      ErrorCodes.INVALID_CONFIG,
      'attestation key id: expected https://<vault>.vault.azure.net/keys/<name>[/<version>]',
      { field: 'ACR_GUARD_ATTESTATION_KEY_ID' },
    );
  }
  if (url.protocol !== 'https:' || !/^\/keys\/[0-9a-zA-Z-]{1,127}(\/[0-9a-f]{32})?\/?$/.test(url.pathname))
    throw new GuardError(
      ErrorCodes.INVALID_CONFIG,
      'attestation key id: expected https://<vault>.vault.azure.net/keys/<name>[/<version>]',
      { field: 'ACR_GUARD_ATTESTATION_KEY_ID' },
    );
  const { CryptographyClient, KeyClient } = keyVaultKeys();
  const clientOptions = {
    retryOptions: { maxRetries: options.maxRetries ?? 2, maxRetryDelayInMs: 30_000 },
    // The challenge's resource must match the vault's domain; a loopback stand-in has no vault domain.
    disableChallengeResourceVerification: isLoopbackHost(url.host),
    ...(options.ca ? { tlsOptions: { ca: options.ca } } : {}),
  };
  const client = new CryptographyClient(options.keyId, options.credential, clientOptions);
  const [, , name, version] = url.pathname.split('/');
  let publicPem: Promise<string> | undefined;
  return {
    keyRef: options.keyId,
    async sign(data) {
      const digest = createHash('sha256').update(data).digest();
      let raw: Uint8Array;
      try {
        raw = (await client.sign('ES256', digest)).result;
      } catch (err) {
        throw sdkError(err, `signing with Key Vault key ${options.keyId}`, ROLE_HINT);
      }
      // Key Vault answers r||s (JWS form); cosign verifies ASN.1 DER.
      return p1363ToDer(Buffer.from(raw));
    },
    publicKeyPem() {
      publicPem ??= (async () => {
        let jwk;
        try {
          jwk = (
            await new KeyClient(url.origin, options.credential, clientOptions).getKey(name, version ? { version } : {})
          ).key;
        } catch (err) {
          throw sdkError(err, `reading Key Vault key ${options.keyId}`, ROLE_HINT);
        }
        if (!jwk?.x || !jwk.y || jwk.crv !== 'P-256')
          throw new GuardError(
            ErrorCodes.INVALID_CONFIG,
            `attestation key ${options.keyId} is not an EC P-256 key (crv ${String(jwk?.crv)}); create it with \`az keyvault key create --kty EC --curve P-256\``,
            { field: 'ACR_GUARD_ATTESTATION_KEY_ID' },
          );
        const key = createPublicKey({
          key: {
            kty: 'EC',
            crv: 'P-256',
            x: Buffer.from(jwk.x).toString('base64url'),
            y: Buffer.from(jwk.y).toString('base64url'),
          },
          format: 'jwk',
        });
        return key.export({ type: 'spki', format: 'pem' }).toString();
      })();
      return publicPem;
    },
  };
}
