/**
 * Translation of Azure SDK errors (core-rest-pipeline `RestError` and friends) into GuardErrors with stable
 * codes. Only the HTTP status, the service's error code and `Retry-After` are read: an SDK error's message
 * and request can carry URLs, headers or bodies, which must not reach an error or a log.
 */
import { ErrorCodes, GuardError } from '../core/errors';

interface RestErrorLike {
  statusCode?: unknown;
  code?: unknown;
  response?: { headers?: { get?(name: string): string | undefined } };
  details?: { error?: { code?: unknown } };
}

function retryAfterSeconds(err: RestErrorLike): number | undefined {
  const value = err.response?.headers?.get?.('retry-after');
  if (value === undefined) return undefined;
  const n = Number(value);
  if (Number.isFinite(n) && n >= 0) return n;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

/**
 * `TRANSIENT` for no response, 408, 429 and 5xx (with `retryAfterSeconds`); `UPSTREAM` otherwise, with
 * `onForbidden` appended for 401/403 (the role to grant) and `NOT_FOUND` for 404.
 */
export function sdkError(err: unknown, what: string, onForbidden: string): GuardError {
  if (err instanceof GuardError) return err;
  // No Azure sign-in at all (@azure/identity found no credential): not "no response", and not the service's fault.
  // Still TRANSIENT (in Azure a managed identity endpoint can be briefly unavailable); the class is kept as the cause.
  const name = (err as { name?: unknown } | null)?.name;
  if (name === 'CredentialUnavailableError' || name === 'AggregateAuthenticationError') {
    return new GuardError(
      ErrorCodes.TRANSIENT,
      `${what} was not sent: no Azure sign-in (DefaultAzureCredential found no credential); ` +
        'sign in with `az login`, or run with a managed identity or workload identity',
      { cause: err },
    );
  }
  const e = (err ?? {}) as RestErrorLike;
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  const rawCode =
    typeof e.code === 'string' ? e.code : typeof e.details?.error?.code === 'string' ? e.details.error.code : undefined;
  const code = rawCode && /^[A-Za-z_.]{1,60}$/.test(rawCode) ? ` ${rawCode}` : '';
  if (status === undefined || status === 408 || status === 429 || status >= 500) {
    return new GuardError(ErrorCodes.TRANSIENT, `${what} failed (${status ?? 'no response'}${code}); retry later`, {
      status,
      retryAfterSeconds: retryAfterSeconds(e),
      // No response: only the connection's code is kept as the cause (for the CLI's hints: "is the server
      // running?"), never the SDK's error with its request.
      ...(status === undefined && code ? { cause: { code: rawCode } } : {}),
    });
  }
  if (status === 401 || status === 403)
    return new GuardError(ErrorCodes.UPSTREAM, `${what} was refused (${status}${code}); ${onForbidden}`, { status });
  if (status === 404) return new GuardError(ErrorCodes.NOT_FOUND, `${what}: not found (404${code})`, { status });
  return new GuardError(ErrorCodes.UPSTREAM, `${what} failed (${status}${code})`, { status });
}
