/**
 * Runtime alerts, de-duplicated: one alert per running image and status change. The last alerted status of
 * each image is state the edge keeps (the alert state store); an image whose status did not change raises
 * nothing, and an image that goes back to an OK status raises nothing but clears its state, so that a later
 * relapse alerts again.
 */
import { incidentId, type Alert } from '../alerts/evaluate';
import type { AlertSeverity } from '../alerts/rule';
import { RUNTIME_OK_STATUSES, type RuntimeEntry, type RuntimeStatus } from './classify';

/** Alert severity per status that needs action. */
export const RUNTIME_ALERT_SEVERITY: Readonly<Partial<Record<RuntimeStatus, AlertSeverity>>> = Object.freeze({
  overdue: 'high',
  'never-gated': 'high',
  'outside-allowlist': 'high',
  blocked: 'medium',
  unresolved: 'medium',
  'by-tag': 'low',
});

/** Rule name of runtime alerts (in the alert's `rule` and incident id). */
export const RUNTIME_ALERT_RULE = 'runtime';

/** The de-duplication key of an image's status: image reference + status. */
export function runtimeIncidentId(image: string, status: RuntimeStatus): string {
  return incidentId(RUNTIME_ALERT_RULE, [image, status]);
}

/**
 * The alerts to raise for `entries` given the last alerted status per image, and the state to keep when they
 * were all delivered. Images that no longer run drop out of the state.
 */
export function runtimeAlerts(options: {
  entries: readonly RuntimeEntry[];
  lastAlerted: Readonly<Record<string, RuntimeStatus>>;
  nowMs: number;
}): { alerts: Alert[]; next: Record<string, RuntimeStatus> } {
  const alerts: Alert[] = [];
  const next: Record<string, RuntimeStatus> = {};
  const raisedAt = new Date(options.nowMs).toISOString();
  for (const e of options.entries) {
    if (RUNTIME_OK_STATUSES.includes(e.status)) continue;
    next[e.image] = e.status;
    if (options.lastAlerted[e.image] === e.status) continue;
    alerts.push({
      kind: 'incident',
      rule: RUNTIME_ALERT_RULE,
      severity: RUNTIME_ALERT_SEVERITY[e.status] ?? 'medium',
      title: `running image ${e.status}: ${e.image}`,
      incidentId: runtimeIncidentId(e.image, e.status),
      raisedAt,
      fields: {
        image: e.image,
        status: e.status,
        reason: e.reason,
        workloads: e.workloads.slice(0, 20),
        ...(e.digest ? { digest: e.digest } : {}),
        ...(e.graceUntil ? { graceUntil: e.graceUntil } : {}),
        byTag: e.byTag,
      },
    });
  }
  return { alerts, next };
}
