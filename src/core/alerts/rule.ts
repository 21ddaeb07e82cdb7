/**
 * Alert rules as data: a KQL query over Log Analytics, the window it looks back over, a threshold, a severity,
 * the columns that identify one incident (de-duplication key) and the columns an alert carries.
 *
 * Values a user supplies (allowlists, names) never reach the query text by concatenation: a rule declares
 * typed `parameters`, each validated here and rendered as a KQL `let` statement with a properly escaped
 * literal ({@link renderQuery}); the rule's own query text is fixed by whoever wrote the rule.
 */
import { parseDuration } from '../duration';
import { ErrorCodes, GuardError } from '../errors';
import { isJsonObject, JsonReader } from '../jsonReader';

/** Alert severities (the Event Grid/webhook payloads carry the word). */
export type AlertSeverity = 'critical' | 'high' | 'medium' | 'low';
export const ALERT_SEVERITIES: readonly AlertSeverity[] = ['critical', 'high', 'medium', 'low'];

/** A parameter value: a string, a number, or a list of strings (rendered as `dynamic([...])`). */
export type RuleParameter = string | number | readonly string[];

/** When a rule fires: per incident, `metric > above`. */
export interface Threshold {
  /**
   * A numeric column summed over the rows of one incident; when absent the metric is the number of rows of
   * the incident.
   */
  column?: string;
  /** Fires when the metric is strictly greater than this. */
  above: number;
}

/** One validated, frozen alert rule. */
export interface AlertRule {
  /** `[a-z0-9-]{3,63}`; unique; names the rule in alerts, state and the CLI's `--rule`. */
  name: string;
  description: string;
  enabled: boolean;
  /** The KQL, without parameters (they are declared with `let` in front of it). */
  query: string;
  /** Look-back window (ms): the query's time range, ending now. */
  windowMs: number;
  /** The window as written (`10m`). */
  window: string;
  threshold: Threshold;
  severity: AlertSeverity;
  /** Columns whose values identify one incident (empty: the whole rule is one incident). */
  dedupKey: readonly string[];
  /** An incident alerted once is not alerted again for this long (ms); default the window. */
  suppressForMs: number;
  /** Columns (of the first row of an incident) copied into the alert. */
  columns: readonly string[];
  /** Typed parameters declared with `let` in front of the query. */
  parameters: Readonly<Record<string, RuleParameter>>;
  /**
   * Rows are kept only when the gate has not released the image they name: the app looks the image up in
   * the gate's audit store after the query (the verdicts live in Table storage, not in Log Analytics).
   */
  unreleasedImagesOnly?: { registryColumn: string; repositoryColumn: string; digestColumn: string };
}

const NAME = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;
const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/** Strings a parameter may hold: printable, no control characters, bounded. */
const SAFE_STRING = /^[\x20-\x7e\u00a0-\uffff]{0,256}$/u;
const MAX_QUERY_CHARS = 20_000;
const MAX_LIST = 500;

/**
 * The core JSON reader speaking `INVALID_POLICY`: an alert rule's bad key reads as every other bad input does
 * (`rules[1].threshold.above: expected a number >= 0, got number -1`).
 */
export const ruleReader = new JsonReader({ code: ErrorCodes.INVALID_POLICY });
/** `a.b`, `a[0]`, `a["console-errors"]`: the reader's one way of joining paths. */
const join = ruleReader.join.bind(ruleReader);

function bad(field: string, expected: string, got: unknown): GuardError {
  return ruleReader.fail(field, expected, got);
}

function stringList(value: unknown, field: string, item: RegExp, expected: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw bad(field, `a list of ${expected}`, value);
  return value.map((v, i) => {
    if (typeof v !== 'string' || !item.test(v)) throw bad(join(field, i), expected, v);
    return v;
  });
}

/** Validates one parameter value at `field`; throws `INVALID_POLICY` naming it. */
export function validateParameter(value: unknown, field: string): RuleParameter {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && SAFE_STRING.test(value)) return value;
  if (Array.isArray(value) && value.length <= MAX_LIST)
    return Object.freeze(stringList(value, field, SAFE_STRING, 'a printable string of at most 256 characters'));
  throw bad(
    field,
    `a finite number, a printable string of at most 256 characters, or a list of at most ${MAX_LIST} such strings`,
    value,
  );
}

/**
 * Validates one rule (from YAML or JSON) at `field` (e.g. `alerts.rules[2]`); throws `INVALID_POLICY` naming
 * the exact path of the bad key.
 */
export function validateRule(raw: unknown, field: string): AlertRule {
  if (!isJsonObject(raw)) throw bad(field, 'a rule object', raw);
  const known = new Set([
    'name',
    'description',
    'enabled',
    'query',
    'window',
    'threshold',
    'severity',
    'dedupKey',
    'suppressFor',
    'columns',
    'parameters',
    'unreleasedImagesOnly',
  ]);
  for (const key of Object.keys(raw))
    if (!known.has(key)) throw bad(join(field, key), `one of the keys ${[...known].join(', ')}`, key);
  const { name, query, severity } = raw;
  if (typeof name !== 'string' || !NAME.test(name))
    throw bad(join(field, 'name'), '3-63 lower-case letters, digits and dashes', name);
  if (typeof query !== 'string' || query.trim() === '' || query.length > MAX_QUERY_CHARS)
    throw bad(join(field, 'query'), `a KQL query of at most ${MAX_QUERY_CHARS} characters`, query);
  if (typeof raw.window !== 'string') throw bad(join(field, 'window'), 'a duration like 10m or 1h', raw.window);
  const windowMs = parseDurationAt(raw.window, join(field, 'window'));
  if (windowMs < 60_000 || windowMs > 7 * 86_400_000)
    throw bad(join(field, 'window'), 'a duration between 1m and 7d', raw.window);
  if (typeof severity !== 'string' || !(ALERT_SEVERITIES as readonly string[]).includes(severity))
    throw bad(join(field, 'severity'), ALERT_SEVERITIES.join(', '), severity);
  const description = raw.description === undefined ? '' : raw.description;
  if (typeof description !== 'string' || description.length > 1000)
    throw bad(join(field, 'description'), 'a string of at most 1000 characters', description);
  const enabled = raw.enabled === undefined ? true : raw.enabled;
  if (typeof enabled !== 'boolean') throw bad(join(field, 'enabled'), 'true or false', enabled);

  const t = raw.threshold === undefined ? { above: 0 } : raw.threshold;
  if (!isJsonObject(t)) throw bad(join(field, 'threshold'), 'an object { above: <number>, column?: <name> }', t);
  for (const key of Object.keys(t))
    if (key !== 'above' && key !== 'column')
      throw bad(join(join(field, 'threshold'), key), 'one of the keys above, column', key);
  if (typeof t.above !== 'number' || !Number.isFinite(t.above) || t.above < 0)
    throw bad(join(join(field, 'threshold'), 'above'), 'a number >= 0', t.above);
  if (t.column !== undefined && (typeof t.column !== 'string' || !IDENT.test(t.column)))
    throw bad(join(join(field, 'threshold'), 'column'), 'a column name', t.column);
  const threshold: Threshold = Object.freeze(
    t.column === undefined ? { above: t.above } : { above: t.above, column: t.column as string },
  );

  const dedupKey = stringList(raw.dedupKey, join(field, 'dedupKey'), IDENT, 'a column name');
  const columns = stringList(raw.columns, join(field, 'columns'), IDENT, 'a column name');
  let suppressForMs = windowMs;
  if (raw.suppressFor !== undefined) {
    if (typeof raw.suppressFor !== 'string')
      throw bad(join(field, 'suppressFor'), 'a duration like 1h', raw.suppressFor);
    suppressForMs = parseDurationAt(raw.suppressFor, join(field, 'suppressFor'));
  }
  const parameters: Record<string, RuleParameter> = {};
  if (raw.parameters !== undefined) {
    if (!isJsonObject(raw.parameters))
      throw bad(join(field, 'parameters'), 'a map of parameter name to value', raw.parameters);
    for (const [key, value] of Object.entries(raw.parameters)) {
      if (!IDENT.test(key)) throw bad(join(field, 'parameters'), 'parameter names that are KQL identifiers', key);
      parameters[key] = validateParameter(value, join(join(field, 'parameters'), key));
    }
  }
  let unreleasedImagesOnly: AlertRule['unreleasedImagesOnly'];
  if (raw.unreleasedImagesOnly !== undefined) {
    const u = raw.unreleasedImagesOnly;
    if (!isJsonObject(u))
      throw bad(join(field, 'unreleasedImagesOnly'), 'an object { registryColumn, repositoryColumn, digestColumn }', u);
    for (const key of ['registryColumn', 'repositoryColumn', 'digestColumn'] as const) {
      if (typeof u[key] !== 'string' || !IDENT.test(u[key] as string))
        throw bad(join(join(field, 'unreleasedImagesOnly'), key), 'a column name', u[key]);
    }
    unreleasedImagesOnly = Object.freeze({
      registryColumn: u.registryColumn as string,
      repositoryColumn: u.repositoryColumn as string,
      digestColumn: u.digestColumn as string,
    });
  }
  return Object.freeze({
    name,
    description,
    enabled,
    query,
    window: raw.window,
    windowMs,
    threshold,
    severity: severity as AlertSeverity,
    dedupKey: Object.freeze(dedupKey),
    suppressForMs,
    columns: Object.freeze(columns),
    parameters: Object.freeze(parameters),
    ...(unreleasedImagesOnly ? { unreleasedImagesOnly } : {}),
  });
}

function parseDurationAt(text: string, field: string): number {
  try {
    return parseDuration(text, field);
  } catch (err) {
    throw new GuardError(ErrorCodes.INVALID_POLICY, (err as Error).message, { field });
  }
}

/** A KQL string literal: double-quoted, with backslash, quote and line breaks escaped. */
export function kqlString(value: string): string {
  return `"${value
    .replace(/[\\"]/g, (c) => `\\${c}`)
    .replace(/\r/g, '\\r')
    .replace(/\n/g, '\\n')
    .replace(/\t/g, '\\t')}"`;
}

function kqlLiteral(value: RuleParameter): string {
  if (typeof value === 'number') return Number.isInteger(value) ? `${value}` : `real(${value})`;
  if (typeof value === 'string') return kqlString(value);
  return `dynamic([${value.map(kqlString).join(', ')}])`;
}

/**
 * The query sent to Log Analytics: one `let name = <literal>;` per parameter (sorted by name), then the
 * rule's query. Literals are escaped here, never spliced by callers.
 */
export function renderQuery(rule: Pick<AlertRule, 'query' | 'parameters'>): string {
  const lets = Object.keys(rule.parameters)
    .sort()
    .map((name) => `let ${name} = ${kqlLiteral(rule.parameters[name])};\n`);
  return `${lets.join('')}${rule.query}`;
}

/** The CLI/JSON view of a rule. */
export function ruleSummary(rule: AlertRule): {
  name: string;
  description: string;
  query: string;
  window: string;
  threshold: Threshold;
  severity: AlertSeverity;
  dedupKey: readonly string[];
  columns: readonly string[];
} {
  return {
    name: rule.name,
    description: rule.description,
    query: renderQuery(rule),
    window: rule.window,
    threshold: rule.threshold,
    severity: rule.severity,
    dedupKey: rule.dedupKey,
    columns: rule.columns,
  };
}
