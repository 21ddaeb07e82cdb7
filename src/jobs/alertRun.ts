/**
 * One run of the alert rules (what the `alertQueries` timer and `acr-guard alerts run` do): each enabled rule
 * is queried in parallel (bounded), evaluated in pure code, and each incident is alerted once per suppression
 * window. A rule that could not run (throttled, failed, partial answer, a result missing columns) raises an
 * operational alert, de-duplicated the same way, so a silent gap in coverage is never mistaken for calm.
 *
 * Order per incident: send to every sink, then record the state. A failed send leaves the state unchanged
 * so the next run retries (at least once); a failed state write may repeat an alert, never lose one.
 */
import { describeValue, isGuardError, ErrorCodes, type ErrorCode } from '../core/errors';
import { evaluateRule, incidentAlert, operationalAlert, type Alert, type Incident } from '../core/alerts/evaluate';
import { renderQuery, type AlertRule } from '../core/alerts/rule';
import type { AlertSink, AlertStateStore, AuditStore, LogQueryClient } from '../adapters/ports';
import { mapLimit } from '../core/mapLimit';
import { notifyOnce } from './notify';

/** A log line sink (InvocationContext.log / console); never given a secret. */
export type Log = (line: string) => void;

/** Dependencies and inputs of {@link runAlertRules}. */
export interface AlertRunOptions {
  rules: readonly AlertRule[];
  logs: LogQueryClient;
  state: AlertStateStore;
  sinks: readonly AlertSink[];
  /** The gate's verdicts, for rules with `unreleasedImagesOnly`. */
  audit?: AuditStore;
  nowMs: number;
  /** Queries in flight at once (default 4). */
  concurrency?: number;
  /** Evaluate and report, but send nothing and write no state. */
  dryRun?: boolean;
  /** Suppression of operational alerts (default 1 h). */
  operationalSuppressMs?: number;
  log?: Log;
  /**
   * `acr-guard doctor pull <app>` for the image-pull alert: its result (or why it could not run) becomes the
   * alert's `diagnosis` field. Bounded in time by the implementation; never blocks or fails the alert.
   */
  diagnose?: (app: string) => Promise<unknown>;
}

/** The rule whose alerts carry a doctor diagnosis, and the column naming the Container App. */
export const DIAGNOSED_RULE = { name: 'image-pull-failures', appColumn: 'App' } as const;

/** What happened to one rule. */
export interface RuleOutcome {
  rule: string;
  status: 'ok' | 'partial' | 'error';
  incidents: number;
  alerted: number;
  suppressed: number;
  /** Alerts that could not be sent (state left unchanged; retried next run). */
  failed: number;
  detail?: string;
  /** Alerts this run sent (or would send, in a dry run). */
  alerts: Alert[];
}

/** The outcome of a run. */
export interface AlertRunReport {
  dryRun: boolean;
  rules: RuleOutcome[];
}

const OPERATIONAL_SUPPRESS_MS = 3_600_000;

/** Adds `diagnosis` to an image-pull incident alert (the reason when doctor fails). */
function diagnosisFor(alert: Alert, o: AlertRunOptions): ((a: Alert) => Promise<Alert>) | undefined {
  const diagnose = o.diagnose;
  const app = alert.fields[DIAGNOSED_RULE.appColumn];
  if (
    !diagnose ||
    alert.kind !== 'incident' ||
    alert.rule !== DIAGNOSED_RULE.name ||
    typeof app !== 'string' ||
    app === ''
  )
    return undefined;
  return async (a) => {
    let diagnosis: unknown;
    try {
      diagnosis = await diagnose(app);
    } catch (err) {
      diagnosis = {
        command: `acr-guard doctor pull ${app}`,
        status: 'error',
        reason: isGuardError(err) ? `${err.code}: ${err.message}` : 'unexpected error',
      };
    }
    return { ...a, fields: { ...a.fields, diagnosis } };
  };
}

async function deliver(alert: Alert, suppressMs: number, o: AlertRunOptions, outcome: RuleOutcome): Promise<void> {
  const result = await notifyOnce(alert, suppressMs, {
    ...o,
    enrich: diagnosisFor(alert, o),
    onFailure: (sink, err) =>
      o.log?.(
        `alerts: rule ${alert.rule}: sending to ${sink} failed (${isGuardError(err) ? err.message : describeValue((err as Error).name)}); will retry next run`,
      ),
  });
  if (result === 'suppressed') outcome.suppressed++;
  else {
    if (result !== 'failed') outcome.alerts.push(alert);
    if (result === 'sent') outcome.alerted++;
    if (result === 'failed') outcome.failed++;
  }
}

/** Drops rows naming an image the gate released (an audit lookup failure keeps the row: alert rather than miss). */
async function unreleasedOnly(
  rule: AlertRule,
  incidents: Incident[],
  audit: AuditStore | undefined,
): Promise<Incident[]> {
  const cols = rule.unreleasedImagesOnly;
  if (!cols || !audit) return incidents;
  const kept: Incident[] = [];
  for (const incident of incidents) {
    const registry = String(incident.key[cols.registryColumn] ?? incident.fields[cols.registryColumn] ?? '');
    const repository = String(incident.key[cols.repositoryColumn] ?? incident.fields[cols.repositoryColumn] ?? '');
    const digest = String(incident.key[cols.digestColumn] ?? incident.fields[cols.digestColumn] ?? '');
    let released = false;
    try {
      released = (await audit.latestVerdict({ registry, repository, digest }))?.decision === 'release';
    } catch {
      released = false;
    }
    if (!released) kept.push(incident);
  }
  return kept;
}

async function runRule(rule: AlertRule, o: AlertRunOptions): Promise<RuleOutcome> {
  const outcome: RuleOutcome = {
    rule: rule.name,
    status: 'ok',
    incidents: 0,
    alerted: 0,
    suppressed: 0,
    failed: 0,
    alerts: [],
  };
  const operational = async (code: ErrorCode, title: string) => {
    const alert = operationalAlert({
      subject: rule.name,
      code,
      title,
      nowMs: o.nowMs,
      fields: { window: rule.window },
    });
    await deliver(alert, o.operationalSuppressMs ?? OPERATIONAL_SUPPRESS_MS, o, outcome);
  };
  try {
    const result = await o.logs.query(renderQuery(rule), rule.windowMs);
    let incidents = evaluateRule(rule, result.table);
    incidents = await unreleasedOnly(rule, incidents, o.audit);
    outcome.incidents = incidents.length;
    for (const incident of incidents)
      await deliver(incidentAlert(rule, incident, o.nowMs), rule.suppressForMs, o, outcome);
    if (result.status === 'partial') {
      // Incidents found in the partial data were alerted above; the gap itself is alerted too.
      outcome.status = 'partial';
      const serviceCode = result.partialError?.serviceCode ?? 'PartialError';
      outcome.detail = `partial result (${serviceCode}): incidents may be missing`;
      await operational(
        ErrorCodes.PARTIAL_RESULT,
        `alert rule ${rule.name} got a partial result from Log Analytics (${serviceCode}); incidents may have been missed`,
      );
    }
  } catch (err) {
    const code = isGuardError(err) ? err.code : ErrorCodes.ERROR;
    const message = isGuardError(err) ? err.message : 'unexpected error';
    outcome.status = 'error';
    outcome.detail = message;
    try {
      await operational(code, `alert rule ${rule.name} could not run: ${message}`);
    } catch (inner) {
      o.log?.(
        `alerts: rule ${rule.name}: operational alert failed too (${isGuardError(inner) ? inner.message : 'unexpected error'})`,
      );
    }
  }
  o.log?.(
    `alerts: rule ${rule.name}: ${outcome.status}, ${outcome.incidents} incident(s), ${outcome.alerted} alerted, ${outcome.suppressed} suppressed, ${outcome.failed} failed${outcome.detail ? ` — ${outcome.detail}` : ''}`,
  );
  return outcome;
}

/** Runs every enabled rule once. Never throws for a rule's failure (it is in the report and alerted). */
export async function runAlertRules(options: AlertRunOptions): Promise<AlertRunReport> {
  const enabled = options.rules.filter((r) => r.enabled);
  const rules = await mapLimit(enabled, options.concurrency ?? 4, (rule) => runRule(rule, options));
  return { dryRun: options.dryRun === true, rules };
}
