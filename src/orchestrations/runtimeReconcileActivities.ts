/**
 * The activities of `runtimeReconcile`, built from the services they are given (like the gate's): the
 * inventory of what runs (the in-use lookup: Container Apps revisions and container groups), the audit store's
 * runtime side, and the alert sinks. The registry clients and the policy are the gate's services.
 *
 * `assess` lists what runs and says which digests are due for a re-gate; `report` classifies again after the
 * re-gates, records the report, raises the alerts (one per image and status change) and keeps the state.
 * Both read the inventory through the lookup's `maxAgeMs`, so one run asks Azure once.
 */
import { ErrorCodes, GuardError } from '../core/errors';
import type { ImageId } from '../core/types';
import type { RuntimeReport, RuntimeSummary } from '../core/runtime/classify';
import { runtimeAlerts } from '../core/runtime/alerts';
import type { AlertSink, InUseLookup, RuntimeAssuranceStore } from '../adapters/ports';
import { assessRuntime, runtimeReportOf } from '../jobs/runtimeAssessment';
import { RuntimeReconcileActivities } from './names';
import type { ActivityContext, GateServices } from './services';

/** How old an inventory answer the two activities of one run may share. */
export const RUNTIME_IN_USE_MAX_AGE_MS = 10 * 60_000;

/** What the runtime activities need besides the gate's services. */
export interface RuntimeServices {
  /** What runs (absent: not configured, and the run fails saying so). */
  inventory?: InUseLookup;
  /** How the report names the inventory, e.g. `azure (ACR_GUARD_INUSE_SCOPES)` or `demo`. */
  inventoryLabel: string;
  audit: RuntimeAssuranceStore;
  sinks: AlertSink[];
}

/** Input of both activities: the orchestration's time. */
export interface RuntimeAssessInput {
  /** ISO orchestration time. */
  now: string;
}

/** What `assess` returns: the digests to re-gate (bounded) and how many were left for a later run. */
export interface RuntimeAssessOutput {
  due: Array<{ image: ImageId; tag?: string; why: string }>;
  dueLeft: number;
}

/** Input of `report`. */
export interface RuntimeReportInput extends RuntimeAssessInput {
  regated: RuntimeReport['regated'];
}

/** What `report` returns (small: the full report is in the audit store). */
export interface RuntimeReportOutput {
  summary: RuntimeSummary;
  images: number;
  alerts: number;
  /** Alerts no sink accepted; they are raised again by the next run. */
  alertsFailed: number;
}

/** The gate's services the runtime activities use: the policy and the (allowlisted) registry clients. */
export type RuntimeGateServices = Pick<GateServices, 'policy' | 'registry'>;

async function classifyNow(gate: RuntimeGateServices, runtime: RuntimeServices, nowIso: string) {
  if (!runtime.inventory) {
    throw new GuardError(
      ErrorCodes.INVALID_CONFIG,
      'runtimeAudit: no inventory: set ACR_GUARD_INUSE_SCOPES to the Container Apps / Container Instances scopes to check',
      { field: 'ACR_GUARD_INUSE_SCOPES' },
    );
  }
  const nowMs = Date.parse(nowIso);
  const policy = gate.policy();
  const containers = await runtime.inventory.listDeployedImages({ maxAgeMs: RUNTIME_IN_USE_MAX_AGE_MS });
  const state = await runtime.audit.readRuntimeState();
  const { classification } = await assessRuntime({
    containers,
    policy,
    registry: gate.registry,
    audit: runtime.audit,
    graceState: state.graceState,
    ...(state.graceSeen ? { graceSeen: state.graceSeen } : {}),
    nowMs,
  });
  return { runtime, policy, nowMs, state, classification };
}

/** `runtimeAudit_assess`: the due digests. Failures throw (Durable retries; after that the run reports the error). */
export async function assessActivity(
  gate: RuntimeGateServices,
  runtime: RuntimeServices,
  input: RuntimeAssessInput,
): Promise<RuntimeAssessOutput> {
  const { classification } = await classifyNow(gate, runtime, input.now);
  return { due: classification.due, dueLeft: classification.dueLeft };
}

/**
 * `runtimeAudit_report`: classifies on the verdicts as they are after the re-gates, records the report (the
 * same run recorded again replaces it), stores the grace clocks, sends the alerts, then stores the statuses
 * whose alerts went out (an alert no sink accepted is raised again next run). The clocks are written before any
 * alert goes out, so a failure while alerting (or a retry of this activity) never loses a clock: at worst an
 * alert is sent again.
 */
export async function reportActivity(
  gate: RuntimeGateServices,
  runtime: RuntimeServices,
  input: RuntimeReportInput,
  context?: ActivityContext,
): Promise<RuntimeReportOutput> {
  const { policy, nowMs, state, classification } = await classifyNow(gate, runtime, input.now);
  await runtime.audit.recordRuntimeReport(
    runtimeReportOf({ classification, policy, nowMs, inventory: runtime.inventoryLabel, regated: input.regated }),
  );
  const clocks = { graceState: classification.graceState, graceSeen: classification.graceSeen };
  await runtime.audit.writeRuntimeState({ ...clocks, lastAlerted: state.lastAlerted });
  const { alerts, next } = runtimeAlerts({ entries: classification.entries, lastAlerted: state.lastAlerted, nowMs });
  let failed = 0;
  for (const alert of alerts) {
    const results = await Promise.allSettled(runtime.sinks.map((sink) => sink.send(alert)));
    if (runtime.sinks.length > 0 && results.every((r) => r.status === 'rejected')) {
      failed++;
      const image = String(alert.fields.image);
      if (state.lastAlerted[image] !== undefined) next[image] = state.lastAlerted[image];
      else delete next[image];
    }
  }
  await runtime.audit.writeRuntimeState({ ...clocks, lastAlerted: next });
  context?.log(
    `runtimeAudit report: ${classification.entries.length} image(s), ${alerts.length - failed} alert(s) sent${failed ? `, ${failed} not accepted by any sink` : ''}`,
  );
  return {
    summary: classification.summary,
    images: classification.entries.length,
    alerts: alerts.length - failed,
    alertsFailed: failed,
  };
}

/** The activities of `runtimeReconcile` over the given services, by their registered names. */
export function runtimeReconcileActivities(gate: RuntimeGateServices, runtime: RuntimeServices) {
  return {
    [RuntimeReconcileActivities.assess]: (input: RuntimeAssessInput, _context: ActivityContext) =>
      assessActivity(gate, runtime, input),
    [RuntimeReconcileActivities.report]: (input: RuntimeReportInput, context: ActivityContext) =>
      reportActivity(gate, runtime, input, context),
  } as const;
}
