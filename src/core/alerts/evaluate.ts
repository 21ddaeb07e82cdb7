/**
 * Pure evaluation of a rule's query result: rows are grouped into incidents by the rule's de-duplication key,
 * each incident's metric (a summed column, or its row count) is compared with the threshold, and an incident
 * already alerted within the suppression window is not alerted again. Time is passed in.
 */
import { createHash } from 'node:crypto';
import { ErrorCodes, GuardError, type ErrorCode } from '../errors';
import type { AlertRule, AlertSeverity } from './rule';
import type { TokenFlag } from '../rotation';

/** A query result table: column names and rows (values as the query API returns them). */
export interface ResultTable {
  columns: readonly string[];
  rows: readonly (readonly unknown[])[];
}

/** One incident: the rows of one de-duplication key that crossed the threshold. */
export interface Incident {
  rule: string;
  /** Stable id of the incident: sha256 hex of the rule name and the key values. */
  id: string;
  /** The de-duplication key's values. */
  key: Record<string, string>;
  metric: number;
  rows: number;
  /** The rule's `columns`, from the incident's first row. */
  fields: Record<string, unknown>;
}

/** An alert as the sinks send it. */
export interface Alert {
  /** `incident` for a rule that fired; `operational` when acr-guard itself could not do its job. */
  kind: 'incident' | 'operational';
  rule: string;
  severity: AlertSeverity;
  title: string;
  incidentId: string;
  /** ISO time the alert was raised. */
  raisedAt: string;
  fields: Record<string, unknown>;
}

function keyText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (value instanceof Date) return value.toISOString();
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** Stable incident id for a rule and its key values. */
export function incidentId(rule: string, keyValues: readonly string[]): string {
  return createHash('sha256')
    .update(JSON.stringify([rule, ...keyValues]))
    .digest('hex');
}

/**
 * The incidents of `rule` in `table`. Throws `MALFORMED` naming the rule when a column the rule needs
 * (de-duplication key, threshold column, alert columns) is missing from the result: a rule that cannot be
 * evaluated must not look like "nothing happened".
 */
export function evaluateRule(rule: AlertRule, table: ResultTable): Incident[] {
  const index = new Map(table.columns.map((c, i) => [c, i]));
  const needed = [...rule.dedupKey, ...rule.columns, ...(rule.threshold.column ? [rule.threshold.column] : [])];
  const missing = needed.filter((c) => !index.has(c));
  if (missing.length > 0) {
    throw new GuardError(
      ErrorCodes.MALFORMED,
      `rule ${rule.name}: the query result has no column ${missing.join(', ')} (it has ${table.columns.join(', ') || 'none'})`,
      { field: `${rule.name}.columns` },
    );
  }
  const groups = new Map<string, { key: string[]; rows: (readonly unknown[])[] }>();
  for (const row of table.rows) {
    const key = rule.dedupKey.map((c) => keyText(row[index.get(c)!]));
    const k = JSON.stringify(key);
    const group = groups.get(k) ?? { key, rows: [] };
    group.rows.push(row);
    groups.set(k, group);
  }
  const incidents: Incident[] = [];
  for (const { key, rows } of groups.values()) {
    const metric = rule.threshold.column
      ? rows.reduce((sum, r) => sum + toNumber(r[index.get(rule.threshold.column!)!]), 0)
      : rows.length;
    if (!(metric > rule.threshold.above)) continue;
    const first = rows[0];
    incidents.push({
      rule: rule.name,
      id: incidentId(rule.name, key),
      key: Object.fromEntries(rule.dedupKey.map((c, i) => [c, key[i]])),
      metric,
      rows: rows.length,
      fields: Object.fromEntries(rule.columns.map((c) => [c, first[index.get(c)!]])),
    });
  }
  return incidents;
}

function toNumber(value: unknown): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN;
  return Number.isFinite(n) ? n : 0;
}

/** What the state store remembers of an incident. */
export interface IncidentState {
  /** Epoch ms of the last alert sent for it. */
  lastAlertedAt: number;
  /** Alerts sent for it so far. */
  alerts: number;
}

/** True when an incident should be alerted now: never alerted, or the last alert is older than `suppressForMs`. */
export function shouldAlert(state: IncidentState | undefined, nowMs: number, suppressForMs: number): boolean {
  return state === undefined || nowMs - state.lastAlertedAt >= suppressForMs;
}

/** The alert for an incident. */
export function incidentAlert(rule: AlertRule, incident: Incident, nowMs: number): Alert {
  const key = Object.entries(incident.key)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  return {
    kind: 'incident',
    rule: rule.name,
    severity: rule.severity,
    title: `${rule.name}: ${incident.metric} > ${rule.threshold.above} in ${rule.window}${key ? ` (${key})` : ''}`,
    incidentId: incident.id,
    raisedAt: new Date(nowMs).toISOString(),
    fields: { ...incident.fields, metric: incident.metric },
  };
}

/** The code of an operational alert: one of acr-guard's codes, or a token rotation flag (`expired`, `no-expiry`, …). */
export type OperationalAlertCode = ErrorCode | TokenFlag['code'];

/**
 * An operational alert: acr-guard could not do its job (a rule's query failed or returned partial results,
 * a token rotation failed). Its id covers the subject and the code, so repeats are suppressed like incidents.
 */
export function operationalAlert(options: {
  subject: string;
  code: OperationalAlertCode;
  title: string;
  severity?: AlertSeverity;
  fields?: Record<string, unknown>;
  nowMs: number;
}): Alert {
  return {
    kind: 'operational',
    rule: options.subject,
    severity: options.severity ?? 'high',
    title: options.title,
    incidentId: incidentId(`operational:${options.subject}`, [options.code]),
    raisedAt: new Date(options.nowMs).toISOString(),
    fields: { code: options.code, ...(options.fields ?? {}) },
  };
}
