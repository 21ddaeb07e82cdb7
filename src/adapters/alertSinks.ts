/**
 * Alert sinks over plain HTTPS:
 * - an Event Grid custom topic (Event Grid event schema, Entra ID bearer token for
 *   `https://eventgrid.azure.net/.default`; role "EventGrid Data Sender" on the topic);
 * - an HTTPS webhook with JSON both Teams (MessageCard: `@type`, `summary`, `sections[].facts`) and Slack
 *   (`text`) accept. A webhook URL embeds its own secret, so in Azure it is read from Key Vault, not a setting.
 * A sink throws on any non-2xx answer; the runner then leaves the incident un-alerted so the next run retries.
 */
import { createHash } from 'node:crypto';
import type { TokenCredential } from '@azure/identity';
import { ErrorCodes, GuardError } from '../core/errors';
import type { Alert } from '../core/alerts/evaluate';
import type { AlertSink } from './ports';

type Fetch = typeof fetch;
const TIMEOUT_MS = 15_000;

function httpsOnly(url: string, field: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new GuardError(ErrorCodes.INVALID_CONFIG, `${field}: expected an https URL`, { field });
  }
  if (u.protocol !== 'https:' || u.username || u.password || u.hash)
    throw new GuardError(ErrorCodes.INVALID_CONFIG, `${field}: expected an https URL without credentials or fragment`, {
      field,
    });
  return u;
}

async function post(
  fetchFn: Fetch,
  url: string,
  body: unknown,
  headers: Record<string, string>,
  what: string,
): Promise<void> {
  let res: Response;
  try {
    res = await fetchFn(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (err) {
    throw new GuardError(ErrorCodes.TRANSIENT, `${what}: no response (${(err as Error).name})`, { cause: undefined });
  }
  await res.arrayBuffer().catch(() => undefined);
  if (res.status < 200 || res.status > 299) {
    const code = res.status === 429 || res.status >= 500 ? ErrorCodes.TRANSIENT : ErrorCodes.UPSTREAM;
    throw new GuardError(code, `${what}: answered ${res.status}`, { status: res.status });
  }
}

/** Options of {@link EventGridSink}. */
export interface EventGridSinkOptions {
  /** Topic endpoint, `https://<topic>.<region>-1.eventgrid.azure.net/api/events`. */
  endpoint: string;
  credential: TokenCredential;
  fetch?: Fetch;
}

/** Event type of an alert in the Event Grid schema. */
export function eventTypeOf(alert: Alert): string {
  return alert.kind === 'incident' ? 'AcrGuard.Alert.Incident' : 'AcrGuard.Alert.Operational';
}

/** Sends each alert as one Event Grid event. */
export class EventGridSink implements AlertSink {
  readonly name = 'eventgrid';
  private readonly endpoint: string;

  constructor(private readonly options: EventGridSinkOptions) {
    this.endpoint = httpsOnly(options.endpoint, 'ACR_GUARD_ALERT_EVENTGRID_ENDPOINT').toString();
  }

  async send(alert: Alert): Promise<void> {
    const token = await this.options.credential.getToken('https://eventgrid.azure.net/.default');
    if (!token)
      throw new GuardError(ErrorCodes.UPSTREAM, 'Event Grid: no Entra ID token for https://eventgrid.azure.net');
    const event = {
      // Stable per incident and time, so a retried delivery is recognisable downstream.
      id: createHash('sha256').update(`${alert.incidentId}/${alert.raisedAt}`).digest('hex').slice(0, 32),
      subject: `acr-guard/alerts/${alert.rule}`,
      eventType: eventTypeOf(alert),
      eventTime: alert.raisedAt,
      dataVersion: '1.0',
      data: alert,
    };
    await post(
      this.options.fetch ?? fetch,
      this.endpoint,
      [event],
      { authorization: `Bearer ${token.token}` },
      'Event Grid topic',
    );
  }
}

/** Options of {@link WebhookSink}. */
export interface WebhookSinkOptions {
  /** Returns the webhook URL (read from Key Vault in Azure; it embeds its own secret). */
  url: () => Promise<string>;
  /** JSON flavour (default `messagecard`). */
  format?: WebhookFormat;
  fetch?: Fetch;
}

const COLOURS: Record<Alert['severity'], string> = {
  critical: 'A4262C',
  high: 'D83B01',
  medium: 'FFB900',
  low: '0078D4',
};

/**
 * Webhook JSON flavours: `messagecard` (default) is a Teams MessageCard whose `text` Slack shows as the
 * message, so one URL of either kind works; `adaptivecard` is the `{type: "message", attachments: [Adaptive
 * Card]}` envelope Teams Workflows ("when a webhook request is received") expects; `slack` is `{text}` only.
 */
export type WebhookFormat = 'messagecard' | 'adaptivecard' | 'slack';
export const WEBHOOK_FORMATS: readonly WebhookFormat[] = ['messagecard', 'adaptivecard', 'slack'];

/** The JSON posted to a webhook for `alert` in `format`. */
export function webhookPayload(alert: Alert, format: WebhookFormat = 'messagecard'): Record<string, unknown> {
  const facts = Object.entries(alert.fields).map(([name, value]) => ({
    name,
    value: typeof value === 'string' ? value : JSON.stringify(value),
  }));
  const headline = `[${alert.severity.toUpperCase()}] ${alert.title}`;
  const text = `${headline}\n${facts.map((f) => `${f.name}: ${f.value}`).join('\n')}`;
  if (format === 'slack') return { text };
  if (format === 'adaptivecard') {
    return {
      type: 'message',
      attachments: [
        {
          contentType: 'application/vnd.microsoft.card.adaptive',
          content: {
            $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
            type: 'AdaptiveCard',
            version: '1.4',
            body: [
              {
                type: 'TextBlock',
                text: headline,
                weight: 'Bolder',
                wrap: true,
                color: alert.severity === 'low' ? 'Default' : 'Attention',
              },
              { type: 'TextBlock', text: `acr-guard ${alert.kind} alert: ${alert.rule}`, isSubtle: true, wrap: true },
              { type: 'FactSet', facts: facts.map((f) => ({ title: f.name, value: f.value })) },
            ],
          },
        },
      ],
    };
  }
  return {
    '@type': 'MessageCard',
    '@context': 'https://schema.org/extensions',
    summary: alert.title.slice(0, 200),
    themeColor: COLOURS[alert.severity],
    title: headline,
    text,
    sections: [{ activityTitle: `acr-guard ${alert.kind} alert: ${alert.rule}`, facts }],
  };
}

/** Sends each alert as one webhook POST. */
export class WebhookSink implements AlertSink {
  readonly name = 'webhook';
  constructor(private readonly options: WebhookSinkOptions) {}

  async send(alert: Alert): Promise<void> {
    const url = httpsOnly(await this.options.url(), 'webhook URL').toString();
    // The URL is a secret: errors name the sink, never the URL.
    await post(this.options.fetch ?? fetch, url, webhookPayload(alert, this.options.format), {}, 'webhook');
  }
}
