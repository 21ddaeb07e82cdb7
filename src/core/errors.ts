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
  /** An orchestration's activity failed after its retries without a code of its own (the host passed none). */
  ACTIVITY_FAILED: 'ACTIVITY_FAILED',
  /** A sub-orchestration failed or did not finish (its own retries included). */
  SUBORCHESTRATION_FAILED: 'SUBORCHESTRATION_FAILED',
  /** No retention rule covers the repository: nothing was purged. */
  NO_RULE: 'NO_RULE',
  /** The audit store could not record (a purge summary, a verdict); what it recorded is unchanged. */
  AUDIT_FAILED: 'AUDIT_FAILED',
  /** A secret read back from Key Vault did not match what was written: the rotation is not published. */
  VERIFY_MISMATCH: 'VERIFY_MISMATCH',
  /** An error that carried no code (a bug or an unexpected library error); its message says what happened. */
  ERROR: 'ERROR',
  /** A vulnerability report is over `MAX_REPORT_BYTES` (declared or read); not read (`core/reports.ts`). */
  REPORT_TOO_LARGE: 'REPORT_TOO_LARGE',
  /** A vulnerability report holds more than `MAX_JSON_CONTAINERS` JSON objects and arrays; not parsed. */
  REPORT_TOO_MANY_VALUES: 'REPORT_TOO_MANY_VALUES',
  /** A vulnerability report holds more than `MAX_REPORT_FINDINGS` entries; refused before reading them. */
  REPORT_TOO_MANY_FINDINGS: 'REPORT_TOO_MANY_FINDINGS',
  /** A paged listing went round in circles: a continuation repeated, a page added nothing new, an entry came twice. */
  LISTING_LOOP: 'LISTING_LOOP',
  /** A paged listing passed its bound on pages or entries (src/core/listing.ts); nothing was decided from part of it. */
  LISTING_TOO_LARGE: 'LISTING_TOO_LARGE',
  /** A paged listing did not finish within its time bound; nothing was decided from part of it. */
  LISTING_TIMEOUT: 'LISTING_TIMEOUT',
  /** A paged listing's continuation could not be read or leaves the listing (another host, path or query). */
  LISTING_INVALID: 'LISTING_INVALID',
  /** An operator's file (policy, trust policy, trust store, alert rules, `--deployed`) is over its limit; nothing was parsed. */
  FILE_TOO_LARGE: 'FILE_TOO_LARGE',
  /** A doctor snapshot file is larger than `MAX_SNAPSHOT_BYTES`; nothing was parsed. */
  SNAPSHOT_TOO_LARGE: 'SNAPSHOT_TOO_LARGE',
  /** A doctor snapshot holds more than `MAX_SNAPSHOT_RESOURCES` resources. */
  SNAPSHOT_TOO_MANY_RESOURCES: 'SNAPSHOT_TOO_MANY_RESOURCES',
  /** A doctor snapshot file nests JSON deeper than `MAX_SNAPSHOT_DEPTH`; nothing was parsed or checked. */
  SNAPSHOT_TOO_DEEP: 'SNAPSHOT_TOO_DEEP',
  /** A doctor snapshot file holds more than `MAX_SNAPSHOT_CONTAINERS` objects and arrays; nothing was parsed or checked. */
  SNAPSHOT_TOO_MANY_VALUES: 'SNAPSHOT_TOO_MANY_VALUES',
  /** A doctor snapshot names one resource id twice (compared case-insensitively, as ARM does); nothing was checked. */
  SNAPSHOT_DUPLICATE_ID: 'SNAPSHOT_DUPLICATE_ID',
  /** A live inventory (Resource Graph or ARM) needed more pages than `MAX_INVENTORY_PAGES`; no partial snapshot is used. */
  INVENTORY_TOO_MANY_PAGES: 'INVENTORY_TOO_MANY_PAGES',
  /** The runtime inventory (running containers, or images due for a re-gate) is over its bound; no report is made from part of it. */
  RUNTIME_INVENTORY_TOO_LARGE: 'RUNTIME_INVENTORY_TOO_LARGE',
  /** A batched verdict read would scan more audit rows than its bound; no report is made from part of them. */
  VERDICT_SCAN_TOO_LARGE: 'VERDICT_SCAN_TOO_LARGE',
  /** An image index lists more entries, more distinct platform manifests or deeper nesting than the gate reads. */
  INDEX_TOO_LARGE: 'INDEX_TOO_LARGE',
  /** More fresh report referrers on one image than `MAX_REPORTS_PER_IMAGE`: none is read, the reports are inconclusive. */
  TOO_MANY_REPORTS: 'TOO_MANY_REPORTS',
  /** `deploy`: the new revision, job template or container group failed to provision or to run. */
  DEPLOY_FAILED: 'DEPLOY_FAILED',
  /** `deploy`: the target did not reach running (or failed) within `--timeout`. */
  DEPLOY_TIMEOUT: 'DEPLOY_TIMEOUT',
  /**
   * A purge plan would delete more of a repository's tagged manifests than its retention rule's `maxDeletes`
   * (default 25%) allows: the repository's plan is held, nothing of it is deleted, and the run alerts.
   */
  PURGE_CAP_EXCEEDED: 'PURGE_CAP_EXCEEDED',
  /** A release's referrers graph has more referrers than a promotion copies (PROOF_BOUNDS.maxReferrers). */
  PROOF_TOO_MANY_REFERRERS: 'PROOF_TOO_MANY_REFERRERS',
  /** A release's referrers graph nests deeper than a promotion follows (PROOF_BOUNDS.maxDepth). */
  PROOF_TOO_DEEP: 'PROOF_TOO_DEEP',
  /** A verification summary attestation is missing, unsigned by the key, or does not say what is required. */
  VSA_REJECTED: 'VSA_REJECTED',
  /** Rows for Log Analytics over the ingestion bounds (rows, bytes per row or per send): the excess is not sent, and logged. */
  LOG_ROWS_TOO_LARGE: 'LOG_ROWS_TOO_LARGE',
  /** A report names a subject digest other than the image's: it is about something else (the gate blocks). */
  REPORT_SUBJECT_MISMATCH: 'REPORT_SUBJECT_MISMATCH',
  /** A CycloneDX document without `vulnerabilities`: an SBOM, not a scan result (callers skip it). */
  NOT_A_VULNERABILITY_REPORT: 'NOT_A_VULNERABILITY_REPORT',
  /** The local durable driver: an orchestrator replayed differently from its history (a code change or a bug). */
  NON_DETERMINISTIC: 'NON_DETERMINISTIC',
  /** Purge: a delete not attempted because a manifest that lists or refers to it was not deleted. */
  KEPT_BY_FAILED_DELETE: 'KEPT_BY_FAILED_DELETE',
  /** HTTP: the caller is not authenticated. */
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  /** HTTP: the caller is authenticated but not allowed. */
  FORBIDDEN: 'FORBIDDEN',
  /** HTTP: a request body over its bound, refused before it is read. */
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  /** HTTP: a request body of a content type the route does not take. */
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  /** HTTP (local service): the route exists under another method. */
  METHOD_NOT_ALLOWED: 'METHOD_NOT_ALLOWED',
  /** Not a GuardError: a bug or an unexpected failure inside acr-guard (its text is not shown: see the log). */
  INTERNAL: 'INTERNAL',
  /** HTTP (local service): the request conflicts with one already running (a second purge run, say). */
  CONFLICT: 'CONFLICT',
  /** HTTP (local service): a request for a host name the service does not answer for. */
  MISDIRECTED_REQUEST: 'MISDIRECTED_REQUEST',
  /** CLI: a usage error that names no field and wraps no other code (an unknown command, a missing argument). */
  USAGE: 'USAGE',
  /** CLI `gate`: the tag to gate is not in the repository; nothing was gated or released (exit 3, as a block). */
  IMAGE_NOT_FOUND: 'IMAGE_NOT_FOUND',
  /** Purge: a manifest's tags or lock changed between the plan and its delete; it was left for the next run. */
  CHANGED_SINCE_PLAN: 'CHANGED_SINCE_PLAN',
  /** Purge: the in-use lookup failed without a code of its own; the repository was not purged. */
  IN_USE_UNKNOWN: 'IN_USE_UNKNOWN',
  /** Alerts: Log Analytics answered with part of the data (its own code is kept beside); incidents may be missing. */
  PARTIAL_RESULT: 'PARTIAL_RESULT',
  /** Token rotation: reading the token or its published secret failed; nothing was changed. */
  ROTATION_READ_FAILED: 'ROTATION_READ_FAILED',
  /** Token rotation: ACR did not generate the new password; the published one is unchanged. */
  ROTATION_GENERATE_FAILED: 'ROTATION_GENERATE_FAILED',
  /** Token rotation: the new password could not be written to Key Vault; the published one is unchanged. */
  ROTATION_PUBLISH_FAILED: 'ROTATION_PUBLISH_FAILED',
  /** Token rotation: the secret read back did not match or could not be read; see `VERIFY_MISMATCH`. */
  ROTATION_VERIFY_FAILED: 'ROTATION_VERIFY_FAILED',
} as const;

/** Every code acr-guard reports (errors, refusals, failures as data): one union, matched by value. */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

const ALL_CODES: ReadonlySet<string> = new Set(Object.values(ErrorCodes));

/** Whether `value` is one of acr-guard's codes (a code read back from a host's failure details, say). */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && ALL_CODES.has(value);
}

/**
 * The one way a code from outside becomes one of ours: `value` itself when it is one of acr-guard's codes (a
 * record read back, a failure that crossed an activity boundary), else `fallback`. A foreign code (Node's
 * `ECONNRESET`, an Azure service's `PartialError`, a record a later version wrote) is never passed on as ours;
 * keep it in a field of its own where it helps.
 */
export function toErrorCode(value: unknown, fallback: ErrorCode = ErrorCodes.ERROR): ErrorCode {
  return isErrorCode(value) ? value : fallback;
}

/** The code of a failure: a GuardError's, or a `code` property that is one of ours (see {@link toErrorCode}), else `fallback`. */
export function errorCodeOf(err: unknown, fallback: ErrorCode = ErrorCodes.ERROR): ErrorCode {
  if (err instanceof GuardError) return err.code;
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return toErrorCode(code, fallback);
}

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
/** The message of what was thrown: an Error's `message`, anything else as text. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

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

/**
 * Keeps the error behind a failure recorded as data (a purge outcome's `error`, a rotation's `error`, an alert
 * rule's outcome) on that data, for the CLI's hints (src/cli/hints.ts): as a non-enumerable property, so JSON, the
 * result envelope, object spreads and activity boundaries never see it, and what is recorded stays as it was.
 * Returns `data`.
 */
export function withCause<T extends object>(data: T, err: unknown): T {
  Object.defineProperty(data, 'cause', { value: err, enumerable: false, configurable: true, writable: true });
  return data;
}

/** The error {@link withCause} kept on `data`, if any. */
export function causeOf(data: unknown): unknown {
  if (data === null || typeof data !== 'object') return undefined;
  const d = Object.getOwnPropertyDescriptor(data, 'cause');
  return d && !d.enumerable ? d.value : undefined;
}
