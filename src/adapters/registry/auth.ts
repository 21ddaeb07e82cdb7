/**
 * Registry authentication: bearer token challenges (`WWW-Authenticate: Bearer realm=…,service=…,scope=…`),
 * HTTP basic, and ACR's Entra ID exchange (`/oauth2/exchange` then `/oauth2/token`). Tokens are cached per
 * scope until shortly before they expire. No token or password ever reaches an error message.
 */
import type { TokenCredential } from '@azure/identity';
import { ErrorCodes, GuardError } from '../../core/errors';

/** The scope ACR accepts for Entra ID access tokens used in the exchange. */
export const ACR_AAD_SCOPE = 'https://containerregistry.azure.net/.default';

/** A parsed `WWW-Authenticate: Bearer …` challenge. */
export interface BearerChallenge {
  realm: string;
  service?: string;
  scope?: string;
}

/** Parses a Bearer challenge; undefined for other schemes. */
export function parseBearerChallenge(header: string | null): BearerChallenge | undefined {
  if (!header || !/^bearer\s/i.test(header)) return undefined;
  const params: Record<string, string> = {};
  const re = /([a-zA-Z_]+)="([^"]*)"/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(header)) !== null) params[m[1].toLowerCase()] = m[2];
  if (!params.realm) return undefined;
  return { realm: params.realm, service: params.service, scope: params.scope };
}

/** Options for {@link RegistryAuth}. */
export interface RegistryAuthOptions {
  host: string;
  plainHttp: boolean;
  basic?: { username: string; password: string };
  credential?: TokenCredential;
  acr: boolean;
  fetch: typeof fetch;
  timeoutMs: number;
  userAgent: string;
}

/** Obtains and caches bearer tokens for one registry host. */
export class RegistryAuth {
  private readonly tokens = new Map<string, { token: string; expiresAt: number }>();
  private refreshToken?: { token: string; expiresAt: number };

  constructor(private readonly options: RegistryAuthOptions) {}

  /** The Authorization header to send proactively for `scope`, if a cached token exists (or basic is configured). */
  cachedHeader(scope: string): string | undefined {
    const cached = this.tokens.get(scope);
    return cached && cached.expiresAt > Date.now() ? `Bearer ${cached.token}` : undefined;
  }

  /** Answers a 401 challenge: returns the Authorization header to retry with, or undefined when none applies. */
  async answer(challengeHeader: string | null, scope: string): Promise<string | undefined> {
    const challenge = parseBearerChallenge(challengeHeader);
    if (!challenge) {
      if (this.options.basic && challengeHeader && /^basic\s/i.test(challengeHeader)) return this.basicHeader();
      return undefined;
    }
    this.checkRealm(challenge.realm);
    const wanted = challenge.scope ?? scope;
    const token = this.options.acr && this.options.credential ? await this.acrToken(challenge, wanted) : await this.challengeToken(challenge, wanted);
    this.tokens.set(scope, token);
    return `Bearer ${token.token}`;
  }

  private basicHeader(): string {
    const { username, password } = this.options.basic as { username: string; password: string };
    return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  }

  /**
   * A realm on another host or over http could harvest credentials: only the registry's own host (or,
   * for ACR, its own `/oauth2/` endpoints) over https is trusted; plain http only for a plain-http registry.
   */
  private checkRealm(realm: string): void {
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new GuardError(ErrorCodes.REGISTRY_AUTH, `registry ${this.options.host} sent an unusable token realm`);
    }
    const sameHost = url.host.toLowerCase() === this.options.host;
    const schemeOk = url.protocol === 'https:' || (this.options.plainHttp && url.protocol === 'http:');
    if (!schemeOk || (!sameHost && (this.options.basic || this.options.credential))) {
      throw new GuardError(ErrorCodes.REGISTRY_AUTH, `registry ${this.options.host} asked for credentials at ${url.protocol}//${url.host}, which is not the registry itself; refused to send them`);
    }
  }

  private async post(url: string, form: Record<string, string>): Promise<Record<string, unknown>> {
    const res = await this.options.fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': this.options.userAgent },
      body: new URLSearchParams(form).toString(),
      signal: AbortSignal.timeout(this.options.timeoutMs),
    });
    return this.tokenResponse(res, url);
  }

  private async tokenResponse(res: Response, url: string): Promise<Record<string, unknown>> {
    const text = await res.text();
    const where = new URL(url).pathname;
    if (res.status === 429 || res.status >= 500) throw new GuardError(ErrorCodes.TRANSIENT, `registry ${this.options.host}: token endpoint ${where} answered ${res.status}`, { status: res.status });
    if (!res.ok) throw new GuardError(ErrorCodes.REGISTRY_AUTH, `registry ${this.options.host}: token endpoint ${where} refused the request (${res.status}); check the identity's role on the registry`, { status: res.status });
    try {
      return JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new GuardError(ErrorCodes.MALFORMED, `registry ${this.options.host}: token endpoint ${where} answered with something that is not JSON`);
    }
  }

  private async challengeToken(challenge: BearerChallenge, scope: string): Promise<{ token: string; expiresAt: number }> {
    const url = new URL(challenge.realm);
    if (challenge.service) url.searchParams.set('service', challenge.service);
    if (scope) url.searchParams.set('scope', scope);
    const headers: Record<string, string> = { 'user-agent': this.options.userAgent };
    if (this.options.basic) headers.authorization = this.basicHeader();
    const res = await this.options.fetch(url, { headers, signal: AbortSignal.timeout(this.options.timeoutMs) });
    const body = await this.tokenResponse(res, url.href);
    const token = typeof body.token === 'string' ? body.token : typeof body.access_token === 'string' ? body.access_token : undefined;
    if (!token) throw new GuardError(ErrorCodes.MALFORMED, `registry ${this.options.host}: token response has no token`);
    const expiresIn = typeof body.expires_in === 'number' ? body.expires_in : 60;
    return { token, expiresAt: Date.now() + Math.max(0, expiresIn - 10) * 1000 };
  }

  /** ACR: Entra ID access token → ACR refresh token (cached) → ACR access token for the scope. */
  private async acrToken(challenge: BearerChallenge, scope: string): Promise<{ token: string; expiresAt: number }> {
    const base = new URL(challenge.realm).origin;
    const service = challenge.service ?? this.options.host;
    if (!this.refreshToken || this.refreshToken.expiresAt <= Date.now()) {
      const aad = await (this.options.credential as TokenCredential).getToken(ACR_AAD_SCOPE);
      if (!aad) throw new GuardError(ErrorCodes.REGISTRY_AUTH, `no Entra ID token for ${ACR_AAD_SCOPE}; check the managed identity`);
      const exchanged = await this.post(`${base}/oauth2/exchange`, { grant_type: 'access_token', service, access_token: aad.token });
      if (typeof exchanged.refresh_token !== 'string') throw new GuardError(ErrorCodes.MALFORMED, `registry ${this.options.host}: /oauth2/exchange returned no refresh_token`);
      // ACR refresh tokens live about three hours; renew well before.
      this.refreshToken = { token: exchanged.refresh_token, expiresAt: Math.min(aad.expiresOnTimestamp, Date.now() + 60 * 60 * 1000) };
    }
    const body = await this.post(`${base}/oauth2/token`, { grant_type: 'refresh_token', service, scope, refresh_token: this.refreshToken.token });
    if (typeof body.access_token !== 'string') throw new GuardError(ErrorCodes.MALFORMED, `registry ${this.options.host}: /oauth2/token returned no access_token`);
    return { token: body.access_token, expiresAt: Date.now() + 4 * 60 * 1000 };
  }
}
