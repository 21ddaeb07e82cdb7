/**
 * Every error acr-guard raises carries a stable `code`; callers match codes, never classes or messages.
 * Errors that cross a Durable activity boundary lose their class, so activities return codes in data.
 */
export const ErrorCodes = {
  /** Input (event, request, CLI argument) failed validation; `field` names what was wrong. */
  INVALID_INPUT: 'INVALID_INPUT',
  /** The policy file failed validation; `field` is the path of the bad key. */
  INVALID_POLICY: 'INVALID_POLICY',
  /** Configuration (environment, settings) failed validation; `field` names the setting. */
  INVALID_CONFIG: 'INVALID_CONFIG',
  /** The registry is not in the configured allowlist; no request was made to it. */
  REGISTRY_NOT_ALLOWED: 'REGISTRY_NOT_ALLOWED',
  /** The registry answered 401/403 even after authenticating. */
  REGISTRY_AUTH: 'REGISTRY_AUTH',
  /** The manifest, blob or repository does not exist. */
  NOT_FOUND: 'NOT_FOUND',
  /** The registry refused the request permanently (4xx other than 401/403/404/408/429). */
  REGISTRY_REJECTED: 'REGISTRY_REJECTED',
  /** Transient failure: 408, 429, 5xx, connection reset, timeout. Retrying may help. */
  TRANSIENT: 'TRANSIENT',
  /** A document (manifest, report, response) could not be parsed or violated its schema. */
  MALFORMED: 'MALFORMED',
  /** Content did not match its digest. */
  DIGEST_MISMATCH: 'DIGEST_MISMATCH',
  /** The operation is not supported by this registry (e.g. quarantine on a plain OCI registry). */
  UNSUPPORTED: 'UNSUPPORTED',
  /** An upstream Azure service failed permanently. */
  UPSTREAM: 'UPSTREAM',
  /** An image index lists more entries, more distinct platform manifests or deeper nesting than the gate reads. */
  INDEX_TOO_LARGE: 'INDEX_TOO_LARGE',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** Options for {@link GuardError}. */
export interface GuardErrorOptions {
  /** The field or path that was wrong, e.g. `data.target.digest` or `gate[0].vulnerabilities.block[1]`. */
  field?: string;
  /** HTTP status that caused the error, when there was one. */
  status?: number;
  /** Seconds to wait before retrying (from `Retry-After`), when known. */
  retryAfterSeconds?: number;
  cause?: unknown;
}

/** The one error class of acr-guard. Match on `code`. Messages never contain secrets or tokens. */
export class GuardError extends Error {
  readonly code: ErrorCode;
  readonly field?: string;
  readonly status?: number;
  readonly retryAfterSeconds?: number;

  constructor(code: ErrorCode, message: string, options: GuardErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GuardError';
    this.code = code;
    this.field = options.field;
    this.status = options.status;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  /** Plain data for crossing an activity boundary or a JSON response. */
  toJSON(): { code: ErrorCode; message: string; field?: string; status?: number } {
    return { code: this.code, message: this.message, field: this.field, status: this.status };
  }
}

/** True when `err` is a GuardError with one of `codes` (any code when none given). */
export function isGuardError(err: unknown, ...codes: ErrorCode[]): err is GuardError {
  return err instanceof GuardError && (codes.length === 0 || codes.includes(err.code));
}

/** Shorthand for an input validation error naming the field and the expected form. */
export function invalidInput(field: string, expected: string, got?: unknown): GuardError {
  const shown = got === undefined ? '' : `, got ${describeValue(got)}`;
  return new GuardError(ErrorCodes.INVALID_INPUT, `${field}: expected ${expected}${shown}`, { field });
}

/** A short, safe description of a value for an error message (never the whole value). */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'string') {
    const shown = value.length > 80 ? `${value.slice(0, 80)}…(${value.length} chars)` : value;
    return JSON.stringify(shown);
  }
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

/** How a JSON validator shows what it found instead of the expected form (`nothing`, `null`, a short string, …). */
export function describeFound(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}
