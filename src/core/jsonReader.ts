/**
 * One path-aware reader over untrusted JSON (or YAML parsed to JSON values). It reads fields out of objects
 * while tracking the JSON path (`data.target.digest`, `gate[0].exceptions[1]`) and refuses anything outside
 * the expected form with the project's one message form:
 *
 *     [<source>: ]<path>: expected <form>, got <value>
 *
 * where `<value>` is {@link describeValue}'s short, safe description (or `nothing` when the field is absent)
 * and the error's `field` is the path. The error code is `INVALID_INPUT` unless the caller names another
 * (a policy file says `INVALID_POLICY`). Readers of events and of the policy use it, so a bad value reads
 * the same wherever it came from.
 */
import { ErrorCodes, GuardError, describeFound, describeValue, type ErrorCode } from './errors';

/** A JSON object (not null, not an array). */
export type JsonObject = Record<string, unknown>;

/** How a {@link JsonReader} words its errors. */
export interface JsonReaderOptions {
  /** The error code of every refusal (default `INVALID_INPUT`). */
  code?: ErrorCode;
  /** A name put before the path (a file name, `policy.yaml`); none by default. */
  source?: string;
  /** The path that stands for the whole value (default `(body)`); a key under it starts a fresh path. */
  root?: string;
  /** Between the source and the path (default `": "`; the trust policy's older form writes `" "`). */
  sourceSeparator?: string;
  /**
   * The older dialect of the trust policy and cosign keys file: "found <value>" by {@link describeFound}
   * instead of "got <value>", kept so the messages operators and tests already know do not change.
   */
  found?: boolean;
}

/** True for a JSON object: not null, not an array. */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A path-tracking reader; see the module comment for the message form. */
export class JsonReader {
  /** The path that stands for the whole value. */
  readonly root: string;
  private readonly code: ErrorCode;
  private readonly sourceSeparator: string;
  private readonly found: boolean;
  /** The name put before every path, if any. */
  readonly source: string | undefined;

  constructor(options: JsonReaderOptions = {}) {
    this.code = options.code ?? ErrorCodes.INVALID_INPUT;
    this.source = options.source;
    this.root = options.root ?? '(body)';
    this.sourceSeparator = options.sourceSeparator ?? ': ';
    this.found = options.found ?? false;
  }

  /**
   * The refusal at `path`: "expected `expected`, got `got`" (`got nothing` when `got` is undefined; no
   * "got" part at all when `gotShown` is false, for a refusal where the value says nothing, like an unknown key).
   */
  fail(path: string, expected: string, got?: unknown, gotShown = true): GuardError {
    const at = path === '' ? this.root : path;
    const shown = !gotShown
      ? ''
      : this.found
        ? `, found ${describeFound(got)}`
        : got === undefined
          ? ', got nothing'
          : `, got ${describeValue(got)}`;
    const prefix = this.source === undefined ? '' : `${this.source}${this.sourceSeparator}`;
    return new GuardError(this.code, `${prefix}${at}: expected ${expected}${shown}`, { field: at });
  }

  /** `path` joined with a key (`a.b`) or an index (`a[0]`); a key under the root starts a fresh path. */
  join(path: string, key: string | number): string {
    if (typeof key === 'number') return `${path}[${key}]`;
    return path === '' || path === this.root ? key : `${path}.${key}`;
  }

  /** `parent[key]`, which must be an object. */
  requireObject(parent: JsonObject, key: string, path: string): JsonObject {
    const value = parent[key];
    if (!isJsonObject(value)) throw this.fail(this.join(path, key), 'an object', value);
    return value;
  }

  /** `parent[key]`, which must be a non-empty string. */
  requireString(parent: JsonObject, key: string, path: string): string {
    const value = parent[key];
    if (typeof value !== 'string' || value.length === 0)
      throw this.fail(this.join(path, key), 'a non-empty string', value);
    return value;
  }

  /** `parent[key]` when it is a string; undefined when absent or null. */
  optionalString(parent: JsonObject, key: string, path: string): string | undefined {
    const value = parent[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string') throw this.fail(this.join(path, key), 'a string', value);
    return value;
  }

  /** `parent[key]` when it is a non-negative safe integer; undefined when absent or null. */
  optionalCount(parent: JsonObject, key: string, path: string): number | undefined {
    const value = parent[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)
      throw this.fail(this.join(path, key), 'a non-negative integer', value);
    return value;
  }
}
