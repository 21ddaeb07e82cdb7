/**
 * Token passwords in Key Vault with the real `SecretClient` (`@azure/keyvault-secrets` 4.11.2): one secret
 * per token, each rotation a new version with `expiresOn`, tags naming the token and the password slot, and
 * a content type. Reads use the secret's tags and attributes; values are only read back to confirm a write.
 */
import type { TokenCredential } from '@azure/identity';
import type * as KeyVaultSecrets from '@azure/keyvault-secrets';
import type { SecretClient } from '@azure/keyvault-secrets';
import { ErrorCodes, GuardError, isGuardError } from '../core/errors';
import { PASSWORD_SLOTS, SLOT_TAG, type PasswordSlot, type PublishedInfo } from '../core/rotation';
import { isLoopbackHost } from '../core/loopback';
import type { PublishOptions, SecretStore } from './ports';
import { sdkError } from './sdkErrors';

/** `@azure/keyvault-secrets`, loaded on first use: a cold start that does not reach this adapter does not pay for it. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const keyVaultSecrets = (): typeof KeyVaultSecrets => require('@azure/keyvault-secrets');

export { SLOT_TAG, TOKEN_TAG } from '../core/rotation';

/** Options of {@link KeyVaultSecretStore}. */
export interface KeyVaultSecretStoreOptions {
  credential: TokenCredential;
  /** `https://<vault>.vault.azure.net` */
  vaultUrl: string;
  /** Extra CA (PEM) to trust, for loopback test servers only. */
  ca?: string;
  maxRetries?: number;
}

const ROLE_HINT = 'grant the app\'s managed identity "Key Vault Secrets Officer" on the vault';
const SECRET_NAME = /^[0-9a-zA-Z-]{1,127}$/;

function checkName(name: string): string {
  if (!SECRET_NAME.test(name))
    throw new GuardError(
      ErrorCodes.INVALID_INPUT,
      `secret name: expected 1-127 letters, digits and dashes, got ${JSON.stringify(name.slice(0, 130))}`,
      { field: 'secretName' },
    );
  return name;
}

/** {@link SecretStore} over one vault. */
export class KeyVaultSecretStore implements SecretStore {
  private readonly client: SecretClient;

  constructor(options: KeyVaultSecretStoreOptions) {
    const url = new URL(options.vaultUrl);
    const loopback = isLoopbackHost(url.host);
    this.client = new (keyVaultSecrets().SecretClient)(options.vaultUrl, options.credential, {
      retryOptions: { maxRetries: options.maxRetries ?? 2, maxRetryDelayInMs: 30_000 },
      // The challenge's resource must match the vault's domain; a loopback stand-in has no vault domain.
      disableChallengeResourceVerification: loopback,
      ...(options.ca ? { tlsOptions: { ca: options.ca } } : {}),
    });
  }

  async getPublished(name: string): Promise<PublishedInfo | undefined> {
    let secret;
    try {
      secret = await this.client.getSecret(checkName(name));
    } catch (err) {
      const e = sdkError(err, `reading secret ${name}`, ROLE_HINT);
      if (isGuardError(e, ErrorCodes.NOT_FOUND)) return undefined;
      throw e;
    }
    const slot = secret.properties.tags?.[SLOT_TAG];
    if (!PASSWORD_SLOTS.includes(slot as PasswordSlot)) {
      throw new GuardError(
        ErrorCodes.MALFORMED,
        `secret ${name} has no ${SLOT_TAG} tag naming password1 or password2; it was not written by acr-guard — nothing was rotated`,
      );
    }
    return {
      slot: slot as PasswordSlot,
      enabled: secret.properties.enabled !== false,
      ...(secret.properties.expiresOn ? { expiresOn: secret.properties.expiresOn.getTime() } : {}),
    };
  }

  async publish(name: string, value: string, options: PublishOptions): Promise<void> {
    try {
      await this.client.setSecret(checkName(name), value, {
        expiresOn: options.expiresOn,
        tags: options.tags,
        contentType: options.contentType,
        enabled: true,
      });
    } catch (err) {
      throw sdkError(err, `writing secret ${name}`, ROLE_HINT);
    }
  }

  async readBack(name: string): Promise<{ value: string; tags: Record<string, string>; expiresOn?: Date }> {
    try {
      const secret = await this.client.getSecret(checkName(name));
      return { value: secret.value ?? '', tags: secret.properties.tags ?? {}, expiresOn: secret.properties.expiresOn };
    } catch (err) {
      throw sdkError(err, `reading back secret ${name}`, ROLE_HINT);
    }
  }
}
