/**
 * Shared edges of the HTTP triggers: JSON error responses with stable codes, bounded JSON bodies (413, 415),
 * and the Entra ID (App Service "Easy Auth") caller check on `x-ms-client-principal` (401, 403).
 *
 * Two auth layers protect every HTTP function in Azure: the function key (`authLevel: 'function'`, sent as
 * `x-functions-key`), checked by the Functions host before the handler runs, and the caller's Entra ID app
 * role, checked here from the principal Easy Auth injects. Easy Auth removes a client-sent
 * `x-ms-client-principal` and writes its own, so the header is trusted only because Easy Auth is required
 * in front of the app; without it a caller holding the function key could forge it (docs/http-api.md).
 */
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { ErrorCodes, isGuardError, type ErrorCode } from '../core/errors';
import { errorResultOf } from '../core/result';

/** Largest request body any acr-guard HTTP function reads (bytes). */
export const MAX_BODY_BYTES = 4096;
/** Largest `x-ms-client-principal` header accepted (chars of base64). */
export const MAX_PRINCIPAL_CHARS = 16_384;

/** App roles of the acr-guard API (defined on its Entra ID app registration). */
export const AppRoles = {
  /** May start rescans (and follow them: read their status and verdicts). */
  rescan: 'Rescan.Request',
  /** May read verdicts and rescan status. */
  read: 'Verdicts.Read',
  /** May run retention on demand (the local service's `POST /api/purge`). */
  purge: 'Purge.Run',
} as const;

/**
 * How callers are authenticated beyond the function key: `easyauth` trusts the principal App Service
 * authentication passes; `unconfigured` refuses every call (App Service authentication is off, so the header
 * could be forged by any holder of a function key); `off` checks nothing (the local service, by default).
 */
export type HttpAuthMode = 'easyauth' | 'unconfigured' | 'off';

/**
 * The mode of the HTTP functions in Azure: `easyauth` when App Service authentication is on (App Service sets
 * `WEBSITE_AUTH_ENABLED=True` then), `unconfigured` otherwise.
 */
export function azureAuthMode(env: Record<string, string | undefined>): HttpAuthMode {
  return env.WEBSITE_AUTH_ENABLED?.trim().toLowerCase() === 'true' ? 'easyauth' : 'unconfigured';
}

/** Codes of HTTP-level refusals (beside the GuardError codes). */
export const HttpErrorCodes = {
  UNAUTHENTICATED: ErrorCodes.UNAUTHENTICATED,
  FORBIDDEN: ErrorCodes.FORBIDDEN,
  PAYLOAD_TOO_LARGE: ErrorCodes.PAYLOAD_TOO_LARGE,
  UNSUPPORTED_MEDIA_TYPE: ErrorCodes.UNSUPPORTED_MEDIA_TYPE,
  NOT_FOUND: ErrorCodes.NOT_FOUND,
} as const;

const SECURITY_HEADERS = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' } as const;

/** A JSON response with the security headers every answer carries. */
export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponseInit {
  return {
    status,
    jsonBody: body,
    headers: { 'content-type': 'application/json; charset=utf-8', ...SECURITY_HEADERS, ...headers },
  };
}

/**
 * An error answer with `status`: the result envelope (`kind: Error`, `outcome: error`, `errors[0]` the code, message
 * and field; exit code 2 for a 4xx, the caller's to fix, 1 for a 5xx), and `error: { code, message, field? }` as
 * before (the page and older scripts read it).
 */
export function errorResponse(status: number, code: ErrorCode, message: string, field?: string): HttpResponseInit {
  const error = { code, message, ...(field ? { field } : {}) };
  return jsonResponse(status, {
    ...errorResultOf({ subject: `HTTP ${status}`, error, errorKind: status < 500 ? 'usage' : 'runtime' }),
    error,
  });
}

/**
 * Maps a GuardError to its HTTP answer: input errors 400 (naming the field), a registry outside the
 * allowlist 403, not found 404, transient upstream trouble 503, any other upstream failure 502. The
 * message of a GuardError never holds a secret (errors.ts); anything else is reported without its text.
 */
export function guardErrorResponse(err: unknown): HttpResponseInit {
  if (!isGuardError(err))
    return errorResponse(
      500,
      'INTERNAL',
      'the request failed inside acr-guard; nothing was started. See the function logs (invocation id) for the cause.',
    );
  const status =
    err.code === ErrorCodes.INVALID_INPUT
      ? 400
      : err.code === ErrorCodes.REGISTRY_NOT_ALLOWED
        ? 403
        : err.code === ErrorCodes.NOT_FOUND
          ? 404
          : err.code === ErrorCodes.TRANSIENT
            ? 503
            : 502;
  return errorResponse(status, err.code, err.message, err.field);
}

/** A refusal that ends the request with an HTTP answer. */
export class HttpRefusal extends Error {
  constructor(readonly response: HttpResponseInit) {
    super(`HTTP ${response.status}`);
    this.name = 'HttpRefusal';
  }
}

/** True for `application/json` with no parameter but `charset=utf-8`. */
function isJsonContentType(value: string | null): boolean {
  if (!value) return false;
  const [type, ...params] = value.split(';').map((p) => p.trim().toLowerCase());
  if (type !== 'application/json') return false;
  return params.every((p) => p === '' || p === 'charset=utf-8' || p === 'charset="utf-8"');
}

/**
 * Reads a JSON body of at most `maxBytes`: 415 unless `Content-Type: application/json`, 413 when the
 * declared or actual length exceeds the limit (reading stops there), 400 when it is not UTF-8 JSON.
 */
export async function readJsonBody(request: HttpRequest, maxBytes = MAX_BODY_BYTES): Promise<unknown> {
  if (!isJsonContentType(request.headers.get('content-type'))) {
    throw new HttpRefusal(
      errorResponse(
        415,
        HttpErrorCodes.UNSUPPORTED_MEDIA_TYPE,
        'Content-Type: expected application/json (charset utf-8)',
        'content-type',
      ),
    );
  }
  const tooLarge = (): HttpRefusal =>
    new HttpRefusal(
      errorResponse(413, HttpErrorCodes.PAYLOAD_TOO_LARGE, `body: expected at most ${maxBytes} bytes of JSON`, 'body'),
    );
  const declared = request.headers.get('content-length');
  if (declared !== null && (!/^[0-9]{1,15}$/.test(declared) || Number(declared) > maxBytes)) throw tooLarge();
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (request.body) {
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const chunk = typeof value === 'string' ? Buffer.from(value) : (value as Uint8Array);
      size += chunk.byteLength;
      if (size > maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw tooLarge();
      }
      chunks.push(chunk);
    }
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new HttpRefusal(errorResponse(400, ErrorCodes.INVALID_INPUT, 'body: expected UTF-8 JSON', 'body'));
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpRefusal(
      errorResponse(
        400,
        ErrorCodes.INVALID_INPUT,
        `body: expected a JSON object, got ${text.length === 0 ? 'an empty body' : 'text that is not JSON'}`,
        'body',
      ),
    );
  }
}

/** The caller as Easy Auth describes it. */
export interface ClientPrincipal {
  /** The identity provider (`aad`). */
  authType: string;
  /** Display name or object id, for logs (never a token). */
  name?: string;
  roles: string[];
}

const ROLE_CLAIMS = new Set(['roles', 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role']);

/**
 * Decodes `x-ms-client-principal` (base64 JSON `{ auth_typ, claims: [{ typ, val }], name_typ, role_typ }`).
 * Roles are the claims of type `role_typ`, `roles` or the WS-Fed role claim. Undefined when the header is
 * absent or cannot be read (treated as "not signed in").
 */
export function readClientPrincipal(request: HttpRequest): ClientPrincipal | undefined {
  const header = request.headers.get('x-ms-client-principal');
  if (!header || header.length > MAX_PRINCIPAL_CHARS || !/^[A-Za-z0-9+/=_-]+$/.test(header)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(header, 'base64').toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const p = parsed as { auth_typ?: unknown; claims?: unknown; name_typ?: unknown; role_typ?: unknown };
  if (typeof p.auth_typ !== 'string' || !Array.isArray(p.claims)) return undefined;
  const roleTypes = new Set(ROLE_CLAIMS);
  if (typeof p.role_typ === 'string') roleTypes.add(p.role_typ);
  const roles: string[] = [];
  let name: string | undefined;
  for (const claim of p.claims as unknown[]) {
    if (typeof claim !== 'object' || claim === null) continue;
    const { typ, val } = claim as { typ?: unknown; val?: unknown };
    if (typeof typ !== 'string' || typeof val !== 'string') continue;
    if (roleTypes.has(typ)) roles.push(val);
    if (typ === p.name_typ && name === undefined) name = val.slice(0, 200);
  }
  return { authType: p.auth_typ, name, roles };
}

/**
 * Requires a signed-in caller holding one of `roles` (when `mode` is `easyauth`): 401 without a principal,
 * 403 without the role. Returns the principal (undefined when auth is off).
 */
export function requireRole(
  request: HttpRequest,
  mode: HttpAuthMode,
  roles: readonly string[],
): ClientPrincipal | undefined {
  if (mode === 'off') return undefined;
  if (mode === 'unconfigured') {
    throw new HttpRefusal(
      errorResponse(
        401,
        HttpErrorCodes.UNAUTHENTICATED,
        'App Service authentication (Easy Auth) is not enabled on this function app, so no caller can be trusted; deploy with guardApiClientId (azd GUARD_API_CLIENT_ID) set (docs/http-api.md)',
        'x-ms-client-principal',
      ),
    );
  }
  const principal = readClientPrincipal(request);
  if (!principal) {
    throw new HttpRefusal(
      errorResponse(
        401,
        HttpErrorCodes.UNAUTHENTICATED,
        'x-ms-client-principal: expected an Entra ID caller signed in through App Service authentication (Easy Auth)',
        'x-ms-client-principal',
      ),
    );
  }
  if (!roles.some((role) => principal.roles.includes(role))) {
    throw new HttpRefusal(
      errorResponse(
        403,
        HttpErrorCodes.FORBIDDEN,
        `the caller lacks the app role ${roles.join(' or ')} on the acr-guard API; ask an admin to assign it`,
        'roles',
      ),
    );
  }
  return principal;
}

/** Runs a handler body, turning refusals and GuardErrors into their HTTP answers. */
export async function answer(
  body: () => Promise<HttpResponseInit>,
  log: (line: string) => void,
): Promise<HttpResponseInit> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof HttpRefusal) return err.response;
    if (!isGuardError(err))
      log(`unexpected error: ${err instanceof Error ? `${err.name}: ${err.message}` : 'non-error thrown'}`);
    return guardErrorResponse(err);
  }
}
