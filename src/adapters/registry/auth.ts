/**
 * Registry authentication: bearer token challenges (`WWW-Authenticate: Bearer realm=…,service=…,scope=…`),
 * HTTP basic, and ACR's Entra ID exchange (`/oauth2/exchange` then `/oauth2/token`). Tokens are cached per
 * scope until shortly before they expire. No token or password ever reaches an error message.
 */
import type { TokenCredential } from '@azure/identity';
import { ErrorCodes, GuardError } from '../../core/errors';

/** The Entra ID scope ACR accepts for access tokens used in the exchange (ARM's `https://management.azure.com/.default` works too). */
export const ACR_AAD_SCOPE = 'https://containerregistry.azure.net/.default';

/** Token lifetimes used when a token server does not say (seconds). */
export const TOKEN_DEFAULTS = {
  /** Docker token spec: a token without `expires_in` is good for 60 s. */
  challengeTokenSeconds: 60,
  /** ACR access tokens live about 75 minutes; without a readable `exp` assume 4 minutes. */
  acrAccessTokenSeconds: 4 * 60,
  /** ACR refresh tokens live about 3 hours; renew after one hour at most. */
  acrRefreshTokenSeconds: 60 * 60,
  /** Renew this long before the stated expiry, to absorb clock skew and request time. */
  skewSeconds: 30,
} as const;

/** A parsed `WWW-Authenticate: Bearer …` challenge. */
export interface BearerChallenge {
  realm: string;
  service?: string;
  scope?: string;
}

/** Parses a Bearer challenge (quoted parameters, any order); undefined for other schemes or without a realm. */
export function parseBearerChallenge(header: string | null): BearerChallenge | undefined {
  if (!header || !/^bearer\s/i.test(header)) return undefined;
  const params: Record<string, string> = {};
  const re = /([a-zA-Z_]+)="([^"]*)"/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(header)) !== null) params[m[1].toLowerCase()] = m[2];
  if (!params.realm) return undefined;
  return { realm: params.realm, service: params.service, scope: params.scope };
}

/** Seconds until a JWT's `exp`, read without verifying it (only to know when to renew); undefined if unreadable. */
export function jwtSecondsLeft(token: string, nowMs: number): number | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof payload.exp === 'number' ? payload.exp - nowMs / 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** Options for {@link RegistryAuth}. */
export interface RegistryAuthOptions {
  /** Registry host, lower case, with port. */
  host: string;
  plainHttp: boolean;
  basic?: { username: string; password: string };
  credential?: TokenCredential;
  /** Entra ID scope asked of `credential` (default {@link ACR_AAD_SCOPE}). */
  aadScope?: string;
  /** Entra ID tenant sent to `/oauth2/exchange`, when known. */
  tenantId?: string;
  acr: boolean;
  fetch: typeof fetch;
  timeoutMs: number;
  userAgent: string;
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

/** Obtains and caches bearer tokens for one registry host. */
export class RegistryAuth {
  private readonly tokens = new Map<string, CachedToken>();
  /** In-flight token requests per scope, so parallel requests share one round trip. */
  private readonly pending = new Map<string, Promise<CachedToken>>();
  private refreshToken?: CachedToken;
  /** Set once the registry asked for basic auth: later requests send it up front (one round trip, not two). */
  private basicAsked = false;

  constructor(private readonly options: RegistryAuthOptions) {}

  /** The Authorization header to send proactively for `scope`: an unexpired cached token, or basic once asked for. */
  cachedHeader(scope: string): string | undefined {
    const cached = this.tokens.get(scope);
    if (cached && cached.expiresAt > Date.now()) return `Bearer ${cached.token}`;
    return this.basicAsked ? this.basicHeader() : undefined;
  }

  /** Answers a 401 challenge: returns the Authorization header to retry with, or undefined when none applies. */
  async answer(challengeHeader: string | null, scope: string): Promise<string | undefined> {
    const challenge = parseBearerChallenge(challengeHeader);
    if (!challenge) {
      if (this.options.basic && challengeHeader && /^basic\s/i.test(challengeHeader)) {
        this.basicAsked = true;
        return this.basicHeader();
      }
      return undefined;
    }
    this.checkRealm(challenge.realm);
    // Ask for the operation's own scopes (a mount names two repositories) and whatever the challenge
    // names, space-delimited as in the token specs.
    const wanted = [...new Set(`${scope} ${challenge.scope ?? ''}`.split(' ').filter(Boolean))].join(' ');
    let inFlight = this.pending.get(wanted);
    if (!inFlight) {
      inFlight = (
        this.options.acr && this.options.credential
          ? this.acrToken(challenge, wanted)
          : this.challengeToken(challenge, wanted)
      ).finally(() => this.pending.delete(wanted));
      this.pending.set(wanted, inFlight);
    }
    const token = await inFlight;
    this.tokens.set(scope, token);
    return `Bearer ${token.token}`;
  }

  private basicHeader(): string {
    const { username, password } = this.options.basic as { username: string; password: string };
    return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  }

  /**
   * A realm is where credentials go, and the registry (or anyone in the path) chooses it. Trusted: https;
   * plain http only for a plain-http registry and only on the registry's own host. A realm on another host
   * is followed only anonymously (public registries use a separate auth host); with basic credentials or an
   * Entra ID credential configured it is refused, so a hostile registry cannot harvest them.
   */
  private checkRealm(realm: string): void {
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new GuardError(ErrorCodes.REGISTRY_AUTH, `registry ${this.options.host} sent an unusable token realm`);
    }
    const sameHost = url.host.toLowerCase() === this.options.host;
    const schemeOk = url.protocol === 'https:' || (this.options.plainHttp && url.protocol === 'http:' && sameHost);
    if (!schemeOk) {
      throw new GuardError(
        ErrorCodes.REGISTRY_AUTH,
        `registry ${this.options.host} asked for a token from ${url.protocol}//${url.host} over an insecure scheme; refused`,
      );
    }
    if (!sameHost && (this.options.basic || this.options.credential)) {
      throw new GuardError(
        ErrorCodes.REGISTRY_AUTH,
        `registry ${this.options.host} asked for credentials at ${url.host}, which is not the registry itself; refused to send them`,
      );
    }
  }

  private async send(url: URL, init: RequestInit, what: string): Promise<Record<string, unknown>> {
    let res: Response;
    let text: string;
    try {
      res = await this.options.fetch(url, {
        ...init,
        redirect: 'error',
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      text = await res.text();
    } catch (err) {
      const why =
        (err as Error).name === 'TimeoutError'
          ? `timed out after ${this.options.timeoutMs} ms`
          : (err as Error).message;
      throw new GuardError(
        ErrorCodes.TRANSIENT,
        `registry ${this.options.host}: ${what} at ${url.pathname} failed: ${why}`,
        { cause: err },
      );
    }
    const status = res.status;
    if (status === 408 || status === 429 || status >= 500) {
      const retryAfter = Number(res.headers.get('retry-after'));
      throw new GuardError(
        ErrorCodes.TRANSIENT,
        `registry ${this.options.host}: ${what} at ${url.pathname} answered ${status}; retry later`,
        {
          status,
          retryAfterSeconds: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
        },
      );
    }
    if (!res.ok) {
      throw new GuardError(
        ErrorCodes.REGISTRY_AUTH,
        `registry ${this.options.host}: ${what} at ${url.pathname} was refused (${status}); check the identity's role or the credentials for this registry`,
        { status },
      );
    }
    try {
      const body = JSON.parse(text) as unknown;
      if (body && typeof body === 'object' && !Array.isArray(body)) return body as Record<string, unknown>;
    } catch {
      // fall through
    }
    throw new GuardError(
      ErrorCodes.MALFORMED,
      `registry ${this.options.host}: ${what} at ${url.pathname} answered with something that is not a JSON object`,
    );
  }

  private post(url: URL, form: Record<string, string>, what: string): Promise<Record<string, unknown>> {
    return this.send(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': this.options.userAgent },
        body: new URLSearchParams(form).toString(),
      },
      what,
    );
  }

  /** Docker token spec: GET realm?service=…&scope=… (with basic credentials when configured). */
  private async challengeToken(challenge: BearerChallenge, scope: string): Promise<CachedToken> {
    const url = new URL(challenge.realm);
    if (challenge.service) url.searchParams.set('service', challenge.service);
    // Several scopes are sent as repeated `scope` parameters, as the token spec describes.
    for (const s of scope.split(' ').filter(Boolean)) url.searchParams.append('scope', s);
    const headers: Record<string, string> = { 'user-agent': this.options.userAgent };
    if (this.options.basic) headers.authorization = this.basicHeader();
    const body = await this.send(url, { headers }, 'token request');
    const token =
      typeof body.token === 'string'
        ? body.token
        : typeof body.access_token === 'string'
          ? body.access_token
          : undefined;
    if (!token)
      throw new GuardError(ErrorCodes.MALFORMED, `registry ${this.options.host}: token response has no token`);
    const expiresIn =
      typeof body.expires_in === 'number' && body.expires_in > 0
        ? body.expires_in
        : TOKEN_DEFAULTS.challengeTokenSeconds;
    return { token, expiresAt: Date.now() + Math.max(0, expiresIn - TOKEN_DEFAULTS.skewSeconds) * 1000 };
  }

  private async aadToken(): Promise<string> {
    const scope = this.options.aadScope ?? ACR_AAD_SCOPE;
    let aad: { token: string } | null;
    try {
      aad = await (this.options.credential as TokenCredential).getToken(scope);
    } catch (err) {
      // CredentialUnavailableError: no identity here at all (a configuration problem). Anything else (the
      // identity endpoint failing, a throttled token service) may pass on retry.
      const unavailable = (err as Error).name === 'CredentialUnavailableError';
      throw new GuardError(
        unavailable ? ErrorCodes.REGISTRY_AUTH : ErrorCodes.TRANSIENT,
        `registry ${this.options.host}: could not get an Entra ID token for ${scope} (${(err as Error).name}); check the managed identity`,
        { cause: err },
      );
    }
    if (!aad?.token)
      throw new GuardError(
        ErrorCodes.REGISTRY_AUTH,
        `registry ${this.options.host}: no Entra ID token for ${scope}; check the managed identity`,
      );
    return aad.token;
  }

  /** ACR: Entra ID access token → ACR refresh token (cached) → ACR access token for the scope. */
  private async acrToken(challenge: BearerChallenge, scope: string, retried = false): Promise<CachedToken> {
    const realm = new URL(challenge.realm);
    const service = challenge.service ?? this.options.host;
    if (!this.refreshToken || this.refreshToken.expiresAt <= Date.now()) {
      const form: Record<string, string> = { grant_type: 'access_token', service, access_token: await this.aadToken() };
      if (this.options.tenantId) form.tenant = this.options.tenantId;
      const exchanged = await this.post(new URL('/oauth2/exchange', realm), form, 'Entra ID token exchange');
      if (typeof exchanged.refresh_token !== 'string' || !exchanged.refresh_token)
        throw new GuardError(
          ErrorCodes.MALFORMED,
          `registry ${this.options.host}: /oauth2/exchange returned no refresh_token`,
        );
      const left = jwtSecondsLeft(exchanged.refresh_token, Date.now()) ?? TOKEN_DEFAULTS.acrRefreshTokenSeconds;
      this.refreshToken = {
        token: exchanged.refresh_token,
        expiresAt:
          Date.now() +
          Math.max(0, Math.min(left, TOKEN_DEFAULTS.acrRefreshTokenSeconds) - TOKEN_DEFAULTS.skewSeconds) * 1000,
      };
    }
    let body: Record<string, unknown>;
    try {
      body = await this.post(
        realm,
        { grant_type: 'refresh_token', service, scope, refresh_token: this.refreshToken.token },
        'ACR token request',
      );
    } catch (err) {
      // A refresh token revoked or expired early (role change, registry restart): exchange again, once.
      if (!retried && err instanceof GuardError && err.code === ErrorCodes.REGISTRY_AUTH && err.status === 401) {
        this.refreshToken = undefined;
        return this.acrToken(challenge, scope, true);
      }
      throw err;
    }
    if (typeof body.access_token !== 'string' || !body.access_token)
      throw new GuardError(
        ErrorCodes.MALFORMED,
        `registry ${this.options.host}: /oauth2/token returned no access_token`,
      );
    const left =
      typeof body.expires_in === 'number' && body.expires_in > 0
        ? body.expires_in
        : (jwtSecondsLeft(body.access_token, Date.now()) ?? TOKEN_DEFAULTS.acrAccessTokenSeconds);
    return { token: body.access_token, expiresAt: Date.now() + Math.max(0, left - TOKEN_DEFAULTS.skewSeconds) * 1000 };
  }
}
