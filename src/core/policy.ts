/**
 * The policy file: loading, strict validation and defaults (the look-ups the gate and the purge use are in
 * `policyLookup.ts`).
 *
 * Every field is validated; a bad one is a `GuardError` `INVALID_POLICY` whose `field` is its path
 * (`gate[0].vulnerabilities.exceptions[1].expires`) and whose message says the expected form. Unknown keys
 * are errors too: a typo such as `onlyFixabel: true` must not silently leave a policy weaker than written.
 * The result is normalised (defaults filled, durations in ms), hashed, and deep-frozen.
 */
import { createHash } from 'node:crypto';
import { parseDocument } from 'yaml';
import { GuardError, ErrorCodes, isGuardError } from './errors';
import { JsonReader } from './jsonReader';
import { SEVERITIES, type FindingsSourceName, type Severity } from './types';
import type {
  ApplyMode,
  DeletionCap,
  GateRule,
  Policy,
  PromotePolicy,
  RegistryPolicy,
  RetentionRule,
  RuntimePolicy,
  GraceKey,
  SignaturePolicy,
  VulnerabilityException,
  VulnerabilityPolicy,
} from './policyTypes';
import { validateRegistryHost, validateRepository } from './reference';
import { validateGlob } from './glob';
import { parseDuration } from './duration';

/** Largest policy document accepted (1 MiB). */
export const MAX_POLICY_BYTES = 1024 * 1024;
/** Most YAML aliases expanded while loading (guards against "billion laughs"). */
export const MAX_POLICY_ALIASES = 50;
/** Longest retention `tagPattern` accepted. */
export const MAX_TAG_PATTERN_LENGTH = 200;

/** Defaults applied when a field is absent (documented on the types in policyTypes.ts). */
export const POLICY_DEFAULTS = {
  block: ['critical', 'high'] as Severity[],
  onlyFixable: false,
  maxReportAgeMs: 7 * 86_400_000,
  require: 'any' as const,
  scanDeadlineMs: 30 * 60_000,
  pollIntervalMs: 60_000,
  signaturesRequired: false,
  protectInUse: true,
  includeLocked: false,
};

/** Default runtime grace by worst blocking severity (`other`: a block no finding caused). */
export const RUNTIME_GRACE_DEFAULTS: Readonly<Record<GraceKey, number>> = Object.freeze({
  critical: 3 * 86_400_000,
  high: 14 * 86_400_000,
  medium: 30 * 86_400_000,
  low: 90 * 86_400_000,
  negligible: 90 * 86_400_000,
  unknown: 14 * 86_400_000,
  other: 3 * 86_400_000,
});
/** Default `runtime.regateAfter`: 24h. */
export const RUNTIME_REGATE_AFTER_DEFAULT_MS = 86_400_000;
const GRACE_KEYS: readonly GraceKey[] = [...SEVERITIES, 'other'];

const SOURCES: readonly FindingsSourceName[] = ['defender', 'reports'];
const APPLY_MODES: readonly ApplyMode[] = ['quarantine', 'promote', 'none'];
const ADVISORY_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

type Json = Record<string, unknown>;

/** The path that stands for the whole policy document. */
const DOCUMENT = '(document)';

/**
 * Validation context: the core JSON reader speaking `INVALID_POLICY` with the policy's source name before each
 * path (`policy.yaml: gate[0].name: expected …, got …`), plus the policy's own shapes.
 */
class Checker extends JsonReader {
  constructor(source: string) {
    super({ code: ErrorCodes.INVALID_POLICY, source, root: DOCUMENT });
  }

  /** Re-raises a validator's INVALID_INPUT as INVALID_POLICY at `path`, keeping its expected-form text. */
  rewrap(err: unknown, path: string): GuardError {
    if (isGuardError(err, ErrorCodes.INVALID_INPUT)) {
      const text = err.message.startsWith(`${err.field}: `) ? err.message.slice(`${err.field}: `.length) : err.message;
      return new GuardError(ErrorCodes.INVALID_POLICY, `${this.source}: ${path}: ${text}`, { field: path });
    }
    return err instanceof GuardError ? err : this.fail(path, 'a valid value', undefined, false);
  }

  object(value: unknown, path: string, allowed: readonly string[], what = 'a mapping'): Json {
    if (!isPlainObject(value)) throw this.fail(path, `${what} with keys ${allowed.join(', ')}`, value);
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) {
        throw this.fail(
          this.join(path, key),
          `no unknown keys (allowed here: ${allowed.join(', ')}); check the spelling`,
          undefined,
          false,
        );
      }
    }
    return value;
  }

  array(value: unknown, path: string, what: string, options: { min?: number; max?: number } = {}): unknown[] {
    const min = options.min ?? 0;
    const max = options.max ?? 1000;
    if (!Array.isArray(value) || value.length < min || value.length > max) {
      const count = min > 0 ? `a list of ${min}-${max} ${what}` : `a list of at most ${max} ${what}`;
      throw this.fail(path, count, value);
    }
    return value;
  }

  string(value: unknown, path: string, expected = 'a non-empty string', max = 1024): string {
    if (typeof value !== 'string' || value.trim().length === 0 || value.length > max)
      throw this.fail(path, `${expected} (at most ${max} chars)`, value);
    return value;
  }

  boolean(value: unknown, path: string, fallback: boolean): boolean {
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') throw this.fail(path, 'true or false', value);
    return value;
  }

  oneOf<T extends string>(value: unknown, path: string, options: readonly T[]): T {
    if (typeof value !== 'string' || !(options as readonly string[]).includes(value))
      throw this.fail(path, `one of ${options.join(', ')}`, value);
    return value as T;
  }

  duration(
    value: unknown,
    path: string,
    fallback: number | undefined,
    options: { positive: boolean },
  ): number | undefined {
    if (value === undefined) return fallback;
    if (typeof value !== 'string') throw this.fail(path, 'a duration string like 30s, 15m, 12h, 7d or 1d12h', value);
    let ms: number;
    try {
      ms = parseDuration(value, path);
    } catch (err) {
      throw this.rewrap(err, path);
    }
    if (options.positive && ms === 0) throw this.fail(path, 'a duration greater than zero', value);
    return ms;
  }

  glob(value: unknown, path: string): string {
    try {
      return validateGlob(value as string, path);
    } catch (err) {
      throw this.rewrap(err, path);
    }
  }
}

function isPlainObject(value: unknown): value is Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Parses `YYYY-MM-DD` (string, or a Date at UTC midnight from a YAML 1.1 timestamp) into the date text. */
function calendarDate(check: Checker, value: unknown, path: string): { text: string; endOfDayMs: number } {
  const expected = 'a calendar date YYYY-MM-DD (the exception applies through the end of that UTC day)';
  let text: string;
  if (value instanceof Date) {
    // YAML 1.1 documents (`%YAML 1.1`) turn 2027-01-31 into a Date at 00:00 UTC; anything with a time is not a date.
    if (
      Number.isNaN(value.getTime()) ||
      value.getUTCHours() + value.getUTCMinutes() + value.getUTCSeconds() + value.getUTCMilliseconds() !== 0
    ) {
      throw check.fail(path, expected, String(value));
    }
    text = value.toISOString().slice(0, 10);
  } else if (typeof value === 'string') {
    text = value;
  } else {
    throw check.fail(path, expected, value);
  }
  const match = DATE_RE.exec(text);
  if (!match) throw check.fail(path, expected, value);
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const start = Date.UTC(year, month - 1, day);
  const back = new Date(start);
  // Date.UTC rolls 2027-02-30 over into March; a real calendar date survives the round trip.
  if (year < 2000 || back.getUTCFullYear() !== year || back.getUTCMonth() !== month - 1 || back.getUTCDate() !== day) {
    throw check.fail(path, `${expected}; ${text} is not a real date`, value);
  }
  return { text, endOfDayMs: Date.UTC(year, month - 1, day + 1) };
}

function loadRegistries(check: Checker, value: unknown): RegistryPolicy[] {
  const list = check.array(value, 'registries', 'registry hosts (or { host, apply })', { min: 1, max: 100 });
  const seen = new Map<string, number>();
  return list.map((item, i) => {
    const path = `registries[${i}]`;
    let hostValue: unknown = item;
    let apply: ApplyMode | undefined;
    let hostPath = path;
    if (typeof item !== 'string') {
      const obj = check.object(item, path, ['host', 'apply'], 'a registry host string or a mapping');
      hostValue = obj.host;
      hostPath = `${path}.host`;
      if (obj.apply !== undefined) apply = check.oneOf(obj.apply, `${path}.apply`, APPLY_MODES);
    }
    if (typeof hostValue !== 'string') throw check.fail(hostPath, 'a registry host like contoso.azurecr.io', hostValue);
    let host: string;
    try {
      host = validateRegistryHost(hostValue, hostPath);
    } catch (err) {
      throw check.rewrap(err, hostPath);
    }
    const earlier = seen.get(host);
    if (earlier !== undefined)
      throw check.fail(hostPath, `each host once; ${host} is already registries[${earlier}]`, hostValue);
    seen.set(host, i);
    const registry: RegistryPolicy = { host };
    if (apply !== undefined) registry.apply = apply;
    return registry;
  });
}

function loadExceptions(check: Checker, value: unknown, path: string): VulnerabilityException[] {
  if (value === undefined) return [];
  const list = check.array(value, path, 'exceptions', { max: 1000 });
  return list.map((item, i) => {
    const p = `${path}[${i}]`;
    const obj = check.object(item, p, ['id', 'expires', 'reason', 'packages']);
    const id = obj.id;
    if (typeof id !== 'string' || !ADVISORY_ID_RE.test(id))
      throw check.fail(`${p}.id`, 'an advisory id like CVE-2024-1234 or GHSA-xxxx-xxxx-xxxx', id);
    if (obj.expires === undefined)
      throw check.fail(`${p}.expires`, 'an expiry date YYYY-MM-DD (every exception must expire)');
    const expires = calendarDate(check, obj.expires, `${p}.expires`);
    if (obj.reason === undefined) throw check.fail(`${p}.reason`, 'a reason saying why the finding is accepted');
    const reason = check.string(obj.reason, `${p}.reason`, 'a reason saying why the finding is accepted');
    const exception: VulnerabilityException = { id, expires: expires.text, expiresAtMs: expires.endOfDayMs, reason };
    if (obj.packages !== undefined) {
      const packages = check.array(obj.packages, `${p}.packages`, 'package names', { min: 1, max: 100 });
      exception.packages = packages.map((pkg, k) => check.string(pkg, `${p}.packages[${k}]`, 'a package name', 512));
    }
    return exception;
  });
}

function loadVulnerabilities(check: Checker, value: unknown, path: string): VulnerabilityPolicy {
  const obj =
    value === undefined
      ? {}
      : check.object(value, path, [
          'block',
          'onlyFixable',
          'maxReportAge',
          'exceptions',
          'sources',
          'require',
          'scanDeadline',
          'pollInterval',
          'ratingSources',
          'reportsSignedBy',
        ]);
  let block: Severity[] = [...POLICY_DEFAULTS.block];
  if (obj.block !== undefined) {
    const list = check.array(obj.block, `${path}.block`, `severities (${SEVERITIES.join(', ')})`, {
      max: SEVERITIES.length,
    });
    block = list.map((s, i) => check.oneOf(s, `${path}.block[${i}]`, SEVERITIES));
    const dup = block.findIndex((s, i) => block.indexOf(s) !== i);
    if (dup >= 0) throw check.fail(`${path}.block[${dup}]`, 'each severity once', block[dup]);
  }
  const policy: VulnerabilityPolicy = {
    block,
    onlyFixable: check.boolean(obj.onlyFixable, `${path}.onlyFixable`, POLICY_DEFAULTS.onlyFixable),
    maxReportAgeMs: check.duration(obj.maxReportAge, `${path}.maxReportAge`, POLICY_DEFAULTS.maxReportAgeMs, {
      positive: true,
    }) as number,
    exceptions: loadExceptions(check, obj.exceptions, `${path}.exceptions`),
    require:
      obj.require === undefined
        ? POLICY_DEFAULTS.require
        : check.oneOf(obj.require, `${path}.require`, ['any', 'all'] as const),
    scanDeadlineMs: check.duration(obj.scanDeadline, `${path}.scanDeadline`, POLICY_DEFAULTS.scanDeadlineMs, {
      positive: false,
    }) as number,
    pollIntervalMs: check.duration(obj.pollInterval, `${path}.pollInterval`, POLICY_DEFAULTS.pollIntervalMs, {
      positive: true,
    }) as number,
  };
  if (obj.sources !== undefined) {
    const list = check.array(obj.sources, `${path}.sources`, `findings sources (${SOURCES.join(', ')})`, {
      min: 1,
      max: SOURCES.length,
    });
    const sources = list.map((s, i) => check.oneOf(s, `${path}.sources[${i}]`, SOURCES));
    const dup = sources.findIndex((s, i) => sources.indexOf(s) !== i);
    if (dup >= 0) throw check.fail(`${path}.sources[${dup}]`, 'each source once', sources[dup]);
    policy.sources = sources;
  }
  if (obj.ratingSources !== undefined) {
    const expected = 'rating source names like debian, nvd, ghsa, redhat (lower case letters, digits, "-", "_", ".")';
    const list = check.array(obj.ratingSources, `${path}.ratingSources`, expected, { min: 1, max: MAX_RATING_SOURCES });
    const names = list.map((s, i) => {
      const p = `${path}.ratingSources[${i}]`;
      if (typeof s !== 'string' || !RATING_SOURCE_RE.test(s))
        throw check.fail(p, 'a rating source name like debian or nvd (lower case letters, digits, "-", "_", ".")', s);
      return s;
    });
    const dup = names.findIndex((s, i) => names.indexOf(s) !== i);
    if (dup >= 0) throw check.fail(`${path}.ratingSources[${dup}]`, 'each rating source once', names[dup]);
    policy.ratingSources = names;
  }
  if (obj.reportsSignedBy !== undefined) {
    if (typeof obj.reportsSignedBy !== 'string' || !NAME_RE.test(obj.reportsSignedBy))
      throw check.fail(
        `${path}.reportsSignedBy`,
        'the name of a trust policy entry (1-128 chars [A-Za-z0-9._-]) that reports must be signed under',
        obj.reportsSignedBy,
      );
    policy.reportsSignedBy = obj.reportsSignedBy;
  }
  return policy;
}

/** Most entries of `ratingSources` in one gate rule. */
export const MAX_RATING_SOURCES = 20;
/** A rating source name as scanners write it in CycloneDX `ratings[].source.name` (`nvd`, `debian`, `ghsa`, `redhat`, `photon`, …). */
const RATING_SOURCE_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;

function loadSignatures(check: Checker, value: unknown, path: string): SignaturePolicy {
  const obj = value === undefined ? {} : check.object(value, path, ['required', 'trustPolicy']);
  const signatures: SignaturePolicy = {
    required: check.boolean(obj.required, `${path}.required`, POLICY_DEFAULTS.signaturesRequired),
  };
  if (obj.trustPolicy !== undefined) {
    if (typeof obj.trustPolicy !== 'string' || !NAME_RE.test(obj.trustPolicy)) {
      throw check.fail(`${path}.trustPolicy`, 'a trust policy name of 1-128 chars [A-Za-z0-9._-]', obj.trustPolicy);
    }
    signatures.trustPolicy = obj.trustPolicy;
  }
  return signatures;
}

function loadPromote(check: Checker, value: unknown, path: string): PromotePolicy {
  const obj = check.object(value, path, ['repository']);
  const template = check.string(
    obj.repository,
    `${path}.repository`,
    'a repository template like release/{repository}',
    255,
  );
  // The template must give a valid repository for any source repository: check with a short sample name.
  const sample = template.split('{repository}').join('x');
  if (!template.includes('{repository}') || /[{}]/.test(sample)) {
    throw check.fail(
      `${path}.repository`,
      'a repository template containing {repository}, like release/{repository}',
      template,
    );
  }
  try {
    validateRepository(sample, `${path}.repository`);
  } catch (err) {
    throw check.rewrap(err, `${path}.repository`);
  }
  return { repository: template };
}

function loadGate(check: Checker, value: unknown): GateRule[] {
  const list = check.array(value, 'gate', 'gate rules', { max: 1000 });
  const scopes = new Map<string, number>();
  return list.map((item, i) => {
    const path = `gate[${i}]`;
    const obj = check.object(item, path, ['scope', 'vulnerabilities', 'signatures', 'promote']);
    const scope = check.glob(obj.scope, `${path}.scope`);
    const earlier = scopes.get(scope);
    // First match wins, so a repeated scope is dead text: almost always an editing mistake.
    if (earlier !== undefined)
      throw check.fail(
        `${path}.scope`,
        `a scope not already used (gate[${earlier}] has the same scope and always wins)`,
        scope,
      );
    scopes.set(scope, i);
    const rule: GateRule = {
      scope,
      vulnerabilities: loadVulnerabilities(check, obj.vulnerabilities, `${path}.vulnerabilities`),
      signatures: loadSignatures(check, obj.signatures, `${path}.signatures`),
      index: i,
    };
    if (obj.promote !== undefined) rule.promote = loadPromote(check, obj.promote, `${path}.promote`);
    return rule;
  });
}

/** `maxDeletes`: a percentage `1%`..`100%` of the repository's tagged manifests, or a whole number 0..100000. */
function parseDeletionCap(check: Checker, value: unknown, path: string): DeletionCap {
  const expected =
    'a percentage of the repository\'s tagged manifests ("25%", 1%..100%) or a whole number 0..100000 of tagged manifests one run may delete';
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0 || value > 100_000) throw check.fail(path, expected, value);
    return { count: value };
  }
  if (typeof value === 'string') {
    const m = /^(\d{1,3})%$/.exec(value.trim());
    if (m && Number(m[1]) >= 1 && Number(m[1]) <= 100) return { percent: Number(m[1]) };
    if (/^\d{1,6}$/.test(value.trim()) && Number(value) <= 100_000) return { count: Number(value) };
  }
  throw check.fail(path, expected, value);
}

function loadRetention(check: Checker, value: unknown): RetentionRule[] {
  if (value === undefined) return [];
  const list = check.array(value, 'retention', 'retention rules', { max: 1000 });
  return list.map((item, i) => {
    const path = `retention[${i}]`;
    const obj = check.object(item, path, [
      'scope',
      'keep',
      'olderThan',
      'untagged',
      'tagPattern',
      'protectInUse',
      'includeLocked',
      'maxDeletes',
    ]);
    const rule: RetentionRule = {
      scope: check.glob(obj.scope, `${path}.scope`),
      protectInUse: check.boolean(obj.protectInUse, `${path}.protectInUse`, POLICY_DEFAULTS.protectInUse),
      includeLocked: check.boolean(obj.includeLocked, `${path}.includeLocked`, POLICY_DEFAULTS.includeLocked),
      index: i,
    };
    if (obj.keep !== undefined) {
      if (typeof obj.keep !== 'number' || !Number.isInteger(obj.keep) || obj.keep < 0 || obj.keep > 100_000) {
        throw check.fail(`${path}.keep`, 'a whole number 0..100000 of most recent tagged manifests to keep', obj.keep);
      }
      rule.keep = obj.keep;
    }
    const olderThan = check.duration(obj.olderThan, `${path}.olderThan`, undefined, { positive: true });
    if (olderThan !== undefined) rule.olderThanMs = olderThan;
    if (obj.untagged !== undefined) rule.untagged = check.boolean(obj.untagged, `${path}.untagged`, false);
    if (obj.tagPattern !== undefined) {
      const pattern = obj.tagPattern;
      const expected = `a JavaScript regular expression of at most ${MAX_TAG_PATTERN_LENGTH} chars matching tags eligible for deletion`;
      if (typeof pattern !== 'string' || pattern.length === 0 || pattern.length > MAX_TAG_PATTERN_LENGTH)
        throw check.fail(`${path}.tagPattern`, expected, pattern);
      try {
        new RegExp(pattern);
      } catch (err) {
        throw check.fail(`${path}.tagPattern`, `${expected} (${(err as Error).message})`, pattern);
      }
      rule.tagPattern = pattern;
    }
    if (obj.maxDeletes !== undefined) rule.maxDeletes = parseDeletionCap(check, obj.maxDeletes, `${path}.maxDeletes`);
    if (
      rule.keep === undefined &&
      rule.olderThanMs === undefined &&
      rule.untagged === undefined &&
      rule.tagPattern === undefined
    ) {
      throw check.fail(
        path,
        'at least one of keep, olderThan, untagged, tagPattern (a rule without criteria is ambiguous)',
        undefined,
        false,
      );
    }
    return rule;
  });
}

function loadRuntime(check: Checker, value: unknown, registries: readonly RegistryPolicy[]): RuntimePolicy {
  const obj =
    value === undefined
      ? {}
      : check.object(value, 'runtime', ['grace', 'regateAfter', 'allowRegistries', 'tolerateTags']);
  const graceMs: Record<GraceKey, number> = { ...RUNTIME_GRACE_DEFAULTS };
  if (obj.grace !== undefined) {
    const grace = check.object(obj.grace, 'runtime.grace', GRACE_KEYS, 'a mapping of severity to duration');
    for (const key of GRACE_KEYS) {
      const ms = check.duration(grace[key], `runtime.grace.${key}`, undefined, { positive: false });
      if (ms !== undefined) graceMs[key] = ms;
    }
  }
  const regateAfterMs = check.duration(obj.regateAfter, 'runtime.regateAfter', RUNTIME_REGATE_AFTER_DEFAULT_MS, {
    positive: true,
  }) as number;
  const allowRegistries: string[] = [];
  if (obj.allowRegistries !== undefined) {
    const list = check.array(
      obj.allowRegistries,
      'runtime.allowRegistries',
      'registry hosts (e.g. mcr.microsoft.com)',
      { max: 100 },
    );
    list.forEach((item, i) => {
      const path = `runtime.allowRegistries[${i}]`;
      if (typeof item !== 'string') throw check.fail(path, 'a registry host like mcr.microsoft.com', item);
      let host: string;
      try {
        host = validateRegistryHost(item, path);
      } catch (err) {
        throw check.rewrap(err, path);
      }
      // Docker Hub is spelled three ways in references; the runtime inventory normalises them all to docker.io.
      if (host === 'index.docker.io' || host === 'registry-1.docker.io') host = 'docker.io';
      if (allowRegistries.includes(host)) throw check.fail(path, `each host once; ${host} is already listed`, item);
      if (registries.some((r) => r.host === host))
        throw check.fail(path, `a host not under registries (${host} is gated there, not tolerated)`, item);
      allowRegistries.push(host);
    });
  }
  const tolerateTags = check.boolean(obj.tolerateTags, 'runtime.tolerateTags', false);
  return { graceMs, regateAfterMs, allowRegistries, tolerateTags };
}

/** JSON with object keys sorted, so equal policies hash equally whatever the key order in the file. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .filter((k) => (value as Json)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Json)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}

/**
 * Loads and validates a policy YAML document. Errors are `INVALID_POLICY` with `field` set to the path of
 * the bad key and a message starting with `${source}: `. Returns the normalised, hashed, frozen policy.
 */
export function loadPolicy(text: string, source = 'policy'): Policy {
  const check = new Checker(source);
  if (typeof text !== 'string') throw check.fail('(document)', 'YAML text', text);
  if (Buffer.byteLength(text, 'utf8') > MAX_POLICY_BYTES)
    throw check.fail('(document)', `a document of at most ${MAX_POLICY_BYTES} bytes`, undefined, false);
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) {
    // Warnings (e.g. an unknown !tag) are errors here: a policy must mean exactly what it says.
    const message = problem.message.split('\n')[0].replace(/:\s*$/, '');
    throw new GuardError(ErrorCodes.INVALID_POLICY, `${source}: (document): expected valid YAML: ${message}`, {
      field: '(document)',
    });
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: MAX_POLICY_ALIASES });
  } catch (err) {
    throw new GuardError(
      ErrorCodes.INVALID_POLICY,
      `${source}: (document): expected YAML with at most ${MAX_POLICY_ALIASES} alias expansions: ${(err as Error).message}`,
      {
        field: '(document)',
      },
    );
  }
  const top = check.object(
    raw,
    '(document)',
    ['version', 'registries', 'gate', 'retention', 'runtime'],
    'a policy mapping',
  );
  if (top.version !== 1) throw check.fail('version', '1 (the only policy version)', top.version);
  if (top.gate === undefined) throw check.fail('gate', 'a list of gate rules (an empty list blocks every image)');
  const body = {
    version: 1 as const,
    registries: loadRegistries(check, top.registries),
    gate: loadGate(check, top.gate),
    retention: loadRetention(check, top.retention),
  };
  const runtime = loadRuntime(check, top.runtime, body.registries);
  // `runtime` stays out of the hash: it does not change any verdict, so editing it must not re-gate everything.
  const hash = createHash('sha256').update(canonicalJson(body), 'utf8').digest('hex');
  return deepFreeze({ ...body, runtime, hash });
}
