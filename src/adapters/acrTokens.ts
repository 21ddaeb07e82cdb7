/**
 * ACR scope-map tokens through ARM with the real `ContainerRegistryManagementClient`
 * (`@azure/arm-containerregistry` 12.0.0, api-version 2025-11-01): `GET .../registries/<r>/tokens/<t>` for
 * status and password metadata, `POST .../registries/<r>/generateCredentials` `{tokenId, name, expiry}` for a
 * new password (a long-running operation; ARM returns the value once). Names come from validated token ids.
 */
import type { TokenCredential } from '@azure/identity';
import type * as ArmContainerRegistry from '@azure/arm-containerregistry';
import type { ContainerRegistryManagementClient } from '@azure/arm-containerregistry';
import { ErrorCodes, GuardError } from '../core/errors';
import {
  parseTokenId,
  PASSWORD_SLOTS,
  type PasswordSlot,
  type TokenInfo,
  type TokenPasswordInfo,
} from '../core/rotation';
import type { TokenAdmin } from './ports';
import { sdkError } from './sdkErrors';

/** `@azure/arm-containerregistry`, loaded on first use: a cold start that does not reach this adapter does not pay for it. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const armContainerRegistry = (): typeof ArmContainerRegistry => require('@azure/arm-containerregistry');

/** Options of {@link ArmTokenAdmin}. */
export interface ArmTokenAdminOptions {
  credential: TokenCredential;
  /** ARM endpoint; default `https://management.azure.com` (tests: a loopback server). */
  endpoint?: string;
  /** Extra CA (PEM) to trust, for loopback test servers only. */
  ca?: string;
  /** SDK retries of 429/5xx before `TRANSIENT` (default 2). */
  maxRetries?: number;
  /** Poll interval of the generateCredentials operation (default 2 s). */
  pollIntervalMs?: number;
}

const ROLE_HINT =
  "grant the app's managed identity a role with Microsoft.ContainerRegistry/registries/tokens/read and registries/generateCredentials/action on the registry";

/** {@link TokenAdmin} over ARM. One SDK client per subscription. */
export class ArmTokenAdmin implements TokenAdmin {
  private readonly clients = new Map<string, ContainerRegistryManagementClient>();

  constructor(private readonly options: ArmTokenAdminOptions) {}

  private client(subscriptionId: string): ContainerRegistryManagementClient {
    let client = this.clients.get(subscriptionId);
    if (!client) {
      client = new (armContainerRegistry().ContainerRegistryManagementClient)(this.options.credential, subscriptionId, {
        endpoint: (this.options.endpoint ?? 'https://management.azure.com').replace(/\/+$/, ''),
        retryOptions: { maxRetries: this.options.maxRetries ?? 2, maxRetryDelayInMs: 30_000 },
        ...(this.options.ca ? { tlsOptions: { ca: this.options.ca } } : {}),
      });
      this.clients.set(subscriptionId, client);
    }
    return client;
  }

  async getToken(tokenId: string): Promise<TokenInfo> {
    const id = parseTokenId(tokenId, 'tokenId');
    let token;
    try {
      token = await this.client(id.subscriptionId).tokens.get(id.resourceGroup, id.registry, id.token);
    } catch (err) {
      throw sdkError(err, `reading token ${id.token} of registry ${id.registry}`, ROLE_HINT);
    }
    const passwords: TokenPasswordInfo[] = [];
    for (const p of token.credentials?.passwords ?? []) {
      if (!PASSWORD_SLOTS.includes(p.name as PasswordSlot)) continue;
      passwords.push({
        name: p.name as PasswordSlot,
        ...(p.expiry ? { expiry: p.expiry.getTime() } : {}),
        ...(p.creationTime ? { creationTime: p.creationTime.getTime() } : {}),
      });
    }
    const status = String(token.status ?? 'enabled').toLowerCase() === 'disabled' ? 'disabled' : 'enabled';
    return { id: tokenId, registry: id.registry, name: id.token, status, passwords };
  }

  async generatePassword(tokenId: string, slot: PasswordSlot, expiry: string): Promise<string> {
    const id = parseTokenId(tokenId, 'tokenId');
    let result;
    try {
      result = await this.client(id.subscriptionId).registries.generateCredentials(
        id.resourceGroup,
        id.registry,
        { tokenId, name: slot, expiry: new Date(expiry) },
        { updateIntervalInMs: this.options.pollIntervalMs ?? 2000 },
      );
    } catch (err) {
      throw sdkError(err, `generating ${slot} of token ${id.token}`, ROLE_HINT);
    }
    const value = result.passwords?.find((p) => p.name === slot)?.value;
    if (typeof value !== 'string' || value === '') {
      throw new GuardError(
        ErrorCodes.MALFORMED,
        `generateCredentials for token ${id.token} returned no ${slot} value; the published password is unchanged`,
      );
    }
    return value;
  }
}
