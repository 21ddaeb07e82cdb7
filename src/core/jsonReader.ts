/**
 * One path-aware reader over untrusted JSON (or YAML parsed to JSON values). It reads fields out of objects
 * while tracking the JSON path (`data.target.digest`, `gate[0].exceptions[1]`) and refuses anything outside
 * the expected form with the project's one message form:
 *
 *     [<source>: ]<path>: expected <form>, got <value>
 *
 * where `<value>` is {@link describeValue}'s short, safe description (or `nothing` when the field is absent)
 * and the error's `field` is the path. The error code is `INVALID_INPUT` unless the caller names another
 * (a policy file says `INVALID_POLICY`, a vulnerability report `MALFORMED`). A key that is not an identifier
 * is written in brackets (`properties["security-severity"]`). Readers of events, the policy, the trust policy,
 * vulnerability reports, Defender's Resource Graph rows, the doctor's snapshot and the alert rules use it, so a
 * bad value reads the same wherever it came from. Bounds (bytes, entries, depth) stay with each reader, checked
 * before it reads; this module only reads and words refusals.
 *
 * The readers take the parent, the key and the parent's path, and join the path only when they refuse: a
 * report of 50,000 results is read without building a path string per field.
 */
import { ErrorCodes, GuardError, describeValue, type ErrorCode } from './errors';

/** A JSON object (not null, not an array). */
export type JsonObject = Record<string, unknown>;

/** What a field is read from: an object (by key) or an array (by index). */
export type JsonParent = JsonObject | readonly unknown[];

/** How a {@link JsonReader} words its errors. */
export interface JsonReaderOptions {
  /** The error code of every refusal (default `INVALID_INPUT`). */
  code?: ErrorCode;
  /** A name put before the path (a file name, `policy.yaml`); none by default. */
  source?: string;
  /** The path that stands for the whole value (default `(body)`); a key under it starts a fresh path. */
  root?: string;
  /**
   * Whether paths under the root start with it, as JSONPath's `$` does (`$.runs[0]`); by default a key under
   * the root starts a fresh path (`gate[0]`).
   */
  rootInPaths?: boolean;
}

/** A key written after a dot; any other key is written in brackets as a JSON string. */
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** `parent[key]`: one keyed read for objects and arrays. */
function at(parent: JsonParent, key: string | number): unknown {
  return (parent as Record<string | number, unknown>)[key];
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
  private readonly rootInPaths: boolean;
  /** The name put before every path, if any. */
  readonly source: string | undefined;

  constructor(options: JsonReaderOptions = {}) {
    this.code = options.code ?? ErrorCodes.INVALID_INPUT;
    this.source = options.source;
    this.root = options.root ?? '(body)';
    this.rootInPaths = options.rootInPaths ?? false;
  }

  /** `path` as messages show it: the source, if any, in front (`policy.yaml: gate[0]`). */
  where(path: string): string {
    const shown = path === '' ? this.root : path;
    return this.source === undefined ? shown : `${this.source}: ${shown}`;
  }

  /**
   * The refusal at `path`: "expected `expected`, got `got`" (`got nothing` when `got` is undefined; no
   * "got" part at all when `gotShown` is false, for a refusal where the value says nothing, like an unknown key).
   */
  fail(path: string, expected: string, got?: unknown, gotShown = true): GuardError {
    const field = path === '' ? this.root : path;
    const shown = !gotShown ? '' : got === undefined ? ', got nothing' : `, got ${describeValue(got)}`;
    return new GuardError(this.code, `${this.where(field)}: expected ${expected}${shown}`, { field });
  }

  /**
   * `path` joined with a key (`a.b`, `a["bom-ref"]`) or an index (`a[0]`); a key under the root starts a fresh
   * path unless {@link JsonReaderOptions.rootInPaths}.
   */
  join(path: string, key: string | number): string {
    if (typeof key === 'number') return `${path}[${key}]`;
    if (!this.rootInPaths && (path === '' || path === this.root)) return key;
    const parent = path === '' ? this.root : path;
    return IDENTIFIER.test(key) ? `${parent}.${key}` : `${parent}[${JSON.stringify(key)}]`;
  }

  /** `value` itself (the document, an element already taken out), which must be an object. */
  expectObject(value: unknown, path: string): JsonObject {
    if (!isJsonObject(value)) throw this.fail(path, 'an object', value);
    return value;
  }

  /** `parent[key]`, which must be an object. */
  requireObject(parent: JsonParent, key: string | number, path: string): JsonObject {
    const value = at(parent, key);
    if (!isJsonObject(value)) throw this.fail(this.join(path, key), 'an object', value);
    return value;
  }

  /** `parent[key]` when it is an object; undefined when absent or null. */
  optionalObject(parent: JsonParent, key: string | number, path: string): JsonObject | undefined {
    const value = at(parent, key);
    if (value === undefined || value === null) return undefined;
    if (!isJsonObject(value)) throw this.fail(this.join(path, key), 'an object', value);
    return value;
  }

  /** `parent[key]`, which must be an array. */
  requireArray(parent: JsonParent, key: string | number, path: string): readonly unknown[] {
    const value = at(parent, key);
    if (!Array.isArray(value)) throw this.fail(this.join(path, key), 'an array', value);
    return value;
  }

  /** `parent[key]` when it is an array; empty when absent or null. */
  optionalArray(parent: JsonParent, key: string | number, path: string): readonly unknown[] {
    const value = at(parent, key);
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) throw this.fail(this.join(path, key), 'an array', value);
    return value;
  }

  /** `parent[key]`, which must be a non-empty string (any string, `""` too, with `emptyAllowed`). */
  requireString(parent: JsonParent, key: string | number, path: string, emptyAllowed = false): string {
    const value = at(parent, key);
    if (typeof value !== 'string' || (value.length === 0 && !emptyAllowed))
      throw this.fail(this.join(path, key), emptyAllowed ? 'a string' : 'a non-empty string', value);
    return value;
  }

  /** `parent[key]` when it is a string; undefined when absent or null. */
  optionalString(parent: JsonParent, key: string | number, path: string): string | undefined {
    const value = at(parent, key);
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string') throw this.fail(this.join(path, key), 'a string', value);
    return value;
  }

  /** `parent[key]` when it is a non-negative safe integer; undefined when absent or null. */
  optionalCount(parent: JsonParent, key: string | number, path: string): number | undefined {
    const value = at(parent, key);
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)
      throw this.fail(this.join(path, key), 'a non-negative integer', value);
    return value;
  }
}
