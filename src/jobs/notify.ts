/**
 * Delivery of one alert to every sink, at most once per suppression window: the alert is sent when the
 * state store has no alert for its incident within `suppressForMs`, and recorded only after every sink
 * accepted it. A failed send leaves the state unchanged, so the next run retries (at least once); a failed
 * state write may repeat an alert, never lose one.
 */
import { shouldAlert, type Alert } from '../core/alerts/evaluate';
import type { AlertSink, AlertStateStore } from '../adapters/ports';

/** What happened to one alert. */
export type Delivery = 'sent' | 'suppressed' | 'failed' | 'dry-run';

/** Dependencies of {@link notifyOnce}. */
export interface NotifyOptions {
  state: AlertStateStore;
  sinks: readonly AlertSink[];
  nowMs: number;
  /** Decide only: send nothing, record nothing. */
  dryRun?: boolean;
  /** Told why a send failed (never the alert's secret-free payload only: no URL, no token). */
  onFailure?: (sink: string, err: unknown) => void;
  /**
   * Adds to an alert that will be sent (after the suppression check, so a suppressed incident costs nothing);
   * must not throw: a failure is a field of the alert, never a reason not to send it.
   */
  enrich?: (alert: Alert) => Promise<Alert>;
}

/** Sends `alert` unless the same incident was alerted within `suppressForMs`. */
export async function notifyOnce(alert: Alert, suppressForMs: number, o: NotifyOptions): Promise<Delivery> {
  const previous = await o.state.get(alert.rule, alert.incidentId);
  if (!shouldAlert(previous, o.nowMs, suppressForMs)) return 'suppressed';
  if (o.dryRun) return 'dry-run';
  let payload = alert;
  if (o.enrich) {
    try {
      payload = await o.enrich(alert);
    } catch {
      payload = alert;
    }
  }
  for (const sink of o.sinks) {
    try {
      await sink.send(payload);
    } catch (err) {
      o.onFailure?.(sink.name, err);
      return 'failed';
    }
  }
  await o.state.put(alert.rule, alert.incidentId, { lastAlertedAt: o.nowMs, alerts: (previous?.alerts ?? 0) + 1 });
  return 'sent';
}
