/**
 * Rotation schedule of ACR token passwords, pure (time passed in). A token has two password slots; the one
 * published in Key Vault is in use. A rotation generates the OTHER slot with a new expiry and publishes it;
 * the published password is never regenerated, so it stays valid until its own expiry (the overlap window)
 * while consumers pick up the new one. Tokens that need a human are flagged.
 */
import { ErrorCodes, GuardError } from './errors';
import { formatDuration } from './duration';

/** ACR token password slots. */
/** Key Vault tag holding the published password slot (`password1`/`password2`): part of the rotation protocol. */
export const SLOT_TAG = 'acr-guard-slot';
/** Key Vault tag naming the ACR token a secret belongs to. */
export const TOKEN_TAG = 'acr-guard-token';

export type PasswordSlot = 'password1' | 'password2';
export const PASSWORD_SLOTS: readonly PasswordSlot[] = ['password1', 'password2'];

/** A password of a token as ARM reports it (never its value). */
export interface TokenPasswordInfo {
  name: PasswordSlot;
  /** Epoch ms; absent when the password never expires. */
  expiry?: number;
  creationTime?: number;
}

/** A token as ARM reports it. */
export interface TokenInfo {
  /** ARM resource id of the token. */
  id: string;
  registry: string;
  name: string;
  status: 'enabled' | 'disabled';
  passwords: readonly TokenPasswordInfo[];
}

/** What Key Vault holds for the token (from the secret's tags and attributes, never its value). */
export interface PublishedInfo {
  slot: PasswordSlot;
  /** Epoch ms of the secret's `expiresOn`. */
  expiresOn?: number;
  enabled: boolean;
}

/** How long a new password lives and how long before expiry it is replaced. */
export interface RotationSettings {
  validityMs: number;
  /** Rotate when the published password has less than this left; also the overlap both passwords are valid. */
  renewBeforeMs: number;
}

/** Something about a token that needs a human. */
export interface TokenFlag {
  code: 'disabled-but-published' | 'expired' | 'no-expiry' | 'published-password-missing' | 'unmanaged-passwords';
  detail: string;
}

/** What to do with one token. */
export interface RotationPlan {
  token: string;
  registry: string;
  tokenId: string;
  action: 'rotate' | 'keep' | 'skip';
  /** The slot to generate (rotate only). */
  slot?: PasswordSlot;
  /** ISO expiry of the new password (rotate only). */
  expiry?: string;
  /** The slot published now, if any. */
  publishedSlot?: PasswordSlot;
  reason: string;
  flags: TokenFlag[];
}

/** Checks settings: a new password must outlive two renew windows so the slot regenerated next has expired. */
export function validateRotationSettings(settings: RotationSettings, field = 'rotation'): RotationSettings {
  if (!(settings.renewBeforeMs > 0) || !(settings.validityMs >= 2 * settings.renewBeforeMs)) {
    throw new GuardError(
      ErrorCodes.INVALID_CONFIG,
      `${field}: expected the validity (${formatDuration(settings.validityMs)}) to be at least twice the renew-before window (${formatDuration(settings.renewBeforeMs)}), so the slot regenerated at the next rotation has already expired`,
      { field },
    );
  }
  return settings;
}

function otherSlot(slot: PasswordSlot): PasswordSlot {
  return slot === 'password1' ? 'password2' : 'password1';
}

/**
 * The slot to fill when nothing is published: an empty slot, else an expired one (earliest first). Undefined
 * when both slots hold unexpired passwords: someone may be using either, so neither is regenerated blindly.
 */
function freeSlot(token: TokenInfo, nowMs: number): PasswordSlot | undefined {
  const empty = PASSWORD_SLOTS.find((s) => !token.passwords.some((p) => p.name === s));
  if (empty) return empty;
  const expired = token.passwords
    .filter((p) => p.expiry !== undefined && p.expiry <= nowMs)
    .sort((a, b) => a.expiry! - b.expiry!);
  return expired[0]?.name;
}

/** Flags of a token: disabled but published, expired passwords, passwords without expiry. */
export function tokenFlags(token: TokenInfo, published: PublishedInfo | undefined, nowMs: number): TokenFlag[] {
  const flags: TokenFlag[] = [];
  if (token.status === 'disabled' && published?.enabled)
    flags.push({
      code: 'disabled-but-published',
      detail: `token ${token.name} is disabled but Key Vault still publishes its ${published.slot}`,
    });
  for (const p of token.passwords) {
    if (p.expiry === undefined)
      flags.push({
        code: 'no-expiry',
        detail: `${token.name} ${p.name} has no expiry (it stays valid until regenerated)`,
      });
    else if (p.expiry <= nowMs)
      flags.push({
        code: 'expired',
        detail: `${token.name} ${p.name} expired at ${new Date(p.expiry).toISOString()}${published?.slot === p.name ? ' and is the published one' : ''}`,
      });
  }
  if (published && !token.passwords.some((p) => p.name === published.slot)) {
    flags.push({
      code: 'published-password-missing',
      detail: `Key Vault publishes ${published.slot} of ${token.name}, which the token no longer has`,
    });
  }
  return flags;
}

/**
 * The plan for one token at `nowMs`: rotate into the slot not published when nothing valid is published or
 * the published password is within `renewBeforeMs` of its expiry (or of `creationTime + validity` when it has
 * no expiry); keep otherwise; skip a disabled token.
 */
export function planRotation(
  token: TokenInfo,
  published: PublishedInfo | undefined,
  settings: RotationSettings,
  nowMs: number,
): RotationPlan {
  const flags = tokenFlags(token, published, nowMs);
  const base = {
    token: token.name,
    registry: token.registry,
    tokenId: token.id,
    publishedSlot: published?.slot,
    flags,
  };
  if (token.status === 'disabled')
    return { ...base, action: 'skip', reason: 'token is disabled; nothing is generated for it' };
  const rotate = (slot: PasswordSlot, reason: string): RotationPlan => ({
    ...base,
    action: 'rotate',
    slot,
    expiry: new Date(nowMs + settings.validityMs).toISOString(),
    reason,
  });
  if (!published) {
    const slot = freeSlot(token, nowMs);
    if (slot)
      return rotate(
        slot,
        `nothing is published in Key Vault yet; ${slot} is ${token.passwords.some((p) => p.name === slot) ? 'expired' : 'empty'}`,
      );
    const detail = `both passwords of ${token.name} are valid and neither is published by acr-guard: regenerating one could cut off whoever uses it; delete one (az acr token credential delete -n ${token.name} -r ${token.registry} --password2) or let it expire, and the next run publishes into that slot`;
    return { ...base, flags: [...flags, { code: 'unmanaged-passwords', detail }], action: 'skip', reason: detail };
  }
  const current = token.passwords.find((p) => p.name === published.slot);
  const next = otherSlot(published.slot);
  if (!current) return rotate(next, `the published ${published.slot} no longer exists on the token`);
  if (!published.enabled) return rotate(next, 'the published secret is disabled in Key Vault');
  const end =
    current.expiry ?? (current.creationTime !== undefined ? current.creationTime + settings.validityMs : undefined);
  if (end === undefined) return rotate(next, `${published.slot} has neither expiry nor creation time`);
  const due = end - settings.renewBeforeMs;
  if (nowMs >= due)
    return rotate(
      next,
      `${published.slot} ${current.expiry !== undefined ? 'expires' : 'reaches the rotation age'} at ${new Date(end).toISOString()}, within ${formatDuration(settings.renewBeforeMs)}`,
    );
  return {
    ...base,
    action: 'keep',
    reason: `${published.slot} is valid until ${new Date(end).toISOString()}; next rotation from ${new Date(due).toISOString()}`,
  };
}

/** Key Vault secret name for a token: `acr-<registry>-<token>` (both already `[A-Za-z0-9-]`, at most 50 each). */
export function secretNameFor(registry: string, token: string): string {
  return `acr-${registry}-${token}`.toLowerCase();
}

/** Parses an ARM token resource id; throws `INVALID_CONFIG` naming `field`. */
export function parseTokenId(
  id: string,
  field: string,
): { subscriptionId: string; resourceGroup: string; registry: string; token: string; id: string } {
  const m =
    /^\/subscriptions\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\/resourceGroups\/([-\w._()]{1,90})\/providers\/Microsoft\.ContainerRegistry\/registries\/([A-Za-z0-9]{5,50})\/tokens\/([A-Za-z0-9-]{5,50})$/i.exec(
      id,
    );
  if (!m || m[2].endsWith('.')) {
    throw new GuardError(
      ErrorCodes.INVALID_CONFIG,
      `${field}: expected an ACR token resource id /subscriptions/<guid>/resourceGroups/<rg>/providers/Microsoft.ContainerRegistry/registries/<registry>/tokens/<token>, got ${JSON.stringify(id.slice(0, 200))}`,
      { field },
    );
  }
  return { subscriptionId: m[1], resourceGroup: m[2], registry: m[3], token: m[4], id };
}
