/**
 * The hint a person needs under a runtime error: what to do next, keyed on the error's codes and classes (the
 * cause chain), never on its message text. Added at the edge (the CLI), so the adapters' errors stay as they are.
 */
import { causeOf } from '../core/errors';
import { isLoopbackHost } from '../core/loopback';

/** Names of @azure/identity errors that mean "no usable Azure sign-in" (no login, no managed identity). */
export const AZURE_SIGN_IN_ERRORS = ['CredentialUnavailableError', 'AggregateAuthenticationError'];

/** The fix for a missing Azure sign-in. */
export const AZURE_SIGN_IN_FIX =
  'sign in with `az login` (or `azd auth login`), or run where a managed identity or workload identity is set ' +
  '(AZURE_CLIENT_ID for a user-assigned one)';

/** TLS errors a TLS client gets from a server that answers plain HTTP. */
const PLAIN_HTTP_TLS_CODES = ['ERR_SSL_WRONG_VERSION_NUMBER', 'EPROTO', 'ERR_SSL_PACKET_LENGTH_TOO_LONG'];

type Chained = { name?: unknown; code?: unknown; cause?: unknown; errors?: unknown; registryHost?: unknown };

/** The error and its causes (bounded: a cause chain is not trusted to end). */
function chain(err: unknown): Chained[] {
  const out: Chained[] = [];
  let e: unknown = err;
  while (e !== null && typeof e === 'object' && out.length < 8) {
    out.push(e as Chained);
    e = (e as Chained).cause;
  }
  return out;
}

/** The registry host the error is about: the registry client tags its errors with it. */
function registryHostOf(errs: Chained[]): string | undefined {
  const tagged = errs.find((e) => typeof e.registryHost === 'string');
  return tagged ? (tagged.registryHost as string) : undefined;
}

/** True when the error (or a cause) is @azure/identity's "no credential". */
export function isAzureSignInError(err: unknown): boolean {
  return chain(err).some((e) => typeof e.name === 'string' && AZURE_SIGN_IN_ERRORS.includes(e.name));
}

/**
 * A one-line hint for a runtime error, or undefined when there is none to give.
 * - a TLS "wrong version number" from a loopback registry, without `--plain-http`: it answers plain HTTP;
 * - ECONNREFUSED from a registry: is it running there?
 * - no Azure sign-in: how to sign in.
 */
export function errorHint(err: unknown, argv: readonly string[]): string | undefined {
  const errs = chain(err);
  const codes = errs.map((e) => e.code).filter((c): c is string => typeof c === 'string');
  const host = registryHostOf(errs);
  if (host && codes.some((c) => PLAIN_HTTP_TLS_CODES.includes(c)) && !argv.includes('--plain-http')) {
    return isLoopbackHost(host)
      ? `the registry at ${host} answers plain HTTP: add --plain-http (allowed for loopback registries only)`
      : `the registry at ${host} does not speak TLS; acr-guard talks plain HTTP to loopback registries only`;
  }
  if (codes.includes('ECONNREFUSED'))
    return host
      ? `is the registry running at ${host}? nothing accepted the connection`
      : 'is the server running? nothing accepted the connection';
  if (isAzureSignInError(err)) return `no Azure sign-in was found: ${AZURE_SIGN_IN_FIX}`;
  return undefined;
}

/**
 * The hints for failures a command reports inside its own result (the envelope's `errors`) rather than by
 * throwing: the same {@link errorHint} of each failure's kept error (`withCause`, src/core/errors.ts), each hint
 * once, in order. `failures` are the recorded failure objects (a purge outcome's `error`, a token's `error`, a rule
 * outcome); those without a kept error give none.
 */
export function hintsForFailures(failures: readonly unknown[], argv: readonly string[]): string[] {
  const hints: string[] = [];
  for (const f of failures) {
    const cause = causeOf(f);
    const hint = cause === undefined ? undefined : errorHint(cause, argv);
    if (hint !== undefined && !hints.includes(hint)) hints.push(hint);
  }
  return hints;
}

/**
 * The hints for failures reported inside a result ({@link hintsForFailures}), on stderr as `main` prints the hint
 * under a thrown error.
 */
export function printFailureHints(
  io: { err: (s: string) => void },
  failures: readonly unknown[],
  argv: readonly string[],
): void {
  for (const h of hintsForFailures(failures, argv)) io.err(`hint: ${h}`);
}
