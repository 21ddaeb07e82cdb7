/**
 * Where verdict events go (see `core/verdictEvent.ts`):
 * - an Event Grid topic in the CloudEvents 1.0 schema, through `@azure/eventgrid`'s `EventGridPublisherClient`
 *   with the managed identity (role "EventGrid Data Sender" on the topic);
 * - a webhook (the local service's `--verdict-webhook`): one structured-mode CloudEvent per POST
 *   (`content-type: application/cloudevents+json`), https or loopback http only, bounded in time.
 *
 * Delivery never decides anything: {@link publishVerdictEvent} tries each publisher a bounded number of times and
 * reports what happened; it never throws, and the verdict stands whatever the answer.
 */
import type { TokenCredential } from '@azure/identity';
import type * as EventGrid from '@azure/eventgrid';
import { ErrorCodes, GuardError, isGuardError } from '../core/errors';
import { isLoopbackHost } from '../core/loopback';
import type { VerdictCloudEvent } from '../core/verdictEvent';
import type { VerdictPublisher } from './ports';
import { sdkError } from './sdkErrors';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const eventGrid = (): typeof EventGrid => require('@azure/eventgrid');

/** Deadline of one delivery attempt. */
export const VERDICT_EVENT_TIMEOUT_MS = 10_000;
/** Attempts per publisher for one event (the first and the retries). */
export const VERDICT_EVENT_ATTEMPTS = 3;

/** Options of {@link EventGridVerdictPublisher}. */
export interface EventGridVerdictPublisherOptions {
  /** Topic endpoint, `https://<topic>.<region>-1.eventgrid.azure.net/api/events`. */
  endpoint: string;
  credential: TokenCredential;
  /** Extra CA (PEM) to trust, for loopback test servers only. */
  ca?: string;
  timeoutMs?: number;
}

/** Publishes to an Event Grid topic in the CloudEvents schema with the managed identity. */
export class EventGridVerdictPublisher implements VerdictPublisher {
  readonly name = 'eventgrid';
  private readonly client: EventGrid.EventGridPublisherClient<'CloudEvent'>;

  constructor(private readonly options: EventGridVerdictPublisherOptions) {
    this.client = new (eventGrid().EventGridPublisherClient)(options.endpoint, 'CloudEvent', options.credential, {
      // One attempt per call: publishVerdictEvent owns the (bounded) retries.
      retryOptions: { maxRetries: 0 },
      ...(options.ca ? { tlsOptions: { ca: options.ca } } : {}),
    });
  }

  async publish(event: VerdictCloudEvent): Promise<void> {
    try {
      await this.client.send(
        [
          {
            type: event.type,
            source: event.source,
            id: event.id,
            time: new Date(event.time),
            subject: event.subject,
            datacontenttype: event.datacontenttype,
            data: event.data,
          },
        ],
        { abortSignal: AbortSignal.timeout(this.options.timeoutMs ?? VERDICT_EVENT_TIMEOUT_MS) },
      );
    } catch (err) {
      throw sdkError(
        err,
        'publishing the verdict event to Event Grid',
        'grant the app "EventGrid Data Sender" on the topic',
      );
    }
  }
}

/** Validates a webhook URL: https, or http to a loopback host; no credentials, no fragment. */
export function verdictWebhookUrl(value: string, field = '--verdict-webhook'): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new GuardError(ErrorCodes.INVALID_CONFIG, `${field}: expected an absolute URL`, { field });
  }
  const loopbackHttp = url.protocol === 'http:' && isLoopbackHost(url.host);
  if ((url.protocol !== 'https:' && !loopbackHttp) || url.username || url.password || url.hash)
    throw new GuardError(
      ErrorCodes.INVALID_CONFIG,
      `${field}: expected an https URL, or http to a loopback host (127.0.0.0/8, localhost, [::1]), without credentials or fragment`,
      { field },
    );
  return url;
}

/** POSTs each event to a webhook as one structured-mode CloudEvent. */
export class WebhookVerdictPublisher implements VerdictPublisher {
  readonly name = 'webhook';
  private readonly url: URL;

  constructor(
    url: string,
    private readonly options: { timeoutMs?: number; fetch?: typeof fetch } = {},
  ) {
    this.url = verdictWebhookUrl(url);
  }

  async publish(event: VerdictCloudEvent): Promise<void> {
    const fetchFn = this.options.fetch ?? fetch;
    // The URL may carry a token in its path or query: messages name only its origin.
    const what = `verdict webhook ${this.url.origin}`;
    let res: Response;
    try {
      res = await fetchFn(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/cloudevents+json; charset=utf-8' },
        body: JSON.stringify(event),
        redirect: 'error',
        signal: AbortSignal.timeout(this.options.timeoutMs ?? VERDICT_EVENT_TIMEOUT_MS),
      });
    } catch (err) {
      throw new GuardError(ErrorCodes.TRANSIENT, `${what}: no answer (${(err as Error).name})`);
    }
    // The answer's body is not read: nothing a receiver says changes anything.
    await res.body?.cancel().catch(() => undefined);
    if (res.status < 200 || res.status > 299)
      throw new GuardError(
        res.status === 429 || res.status >= 500 ? ErrorCodes.TRANSIENT : ErrorCodes.UPSTREAM,
        `${what}: answered ${res.status}`,
        { status: res.status },
      );
  }
}

/** What one publication did, per publisher. */
export interface PublishReport {
  publisher: string;
  delivered: boolean;
  attempts: number;
  /** The last error's code and message, when not delivered. */
  error?: string;
}

/**
 * Publishes `event` to every publisher, each at most `attempts` times with a doubling delay between attempts
 * (a 4xx other than 429 is not retried). Never throws: the reports say what happened.
 */
export async function publishVerdictEvent(
  publishers: readonly VerdictPublisher[],
  event: VerdictCloudEvent,
  options: { attempts?: number; firstDelayMs?: number; sleep?: (ms: number) => Promise<void> } = {},
): Promise<PublishReport[]> {
  const attempts = Math.max(1, options.attempts ?? VERDICT_EVENT_ATTEMPTS);
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const reports: PublishReport[] = [];
  for (const publisher of publishers) {
    let error = '';
    let n = 0;
    let delivered = false;
    while (n < attempts && !delivered) {
      n += 1;
      try {
        await publisher.publish(event);
        delivered = true;
      } catch (err) {
        error = isGuardError(err) ? `${err.code}: ${err.message}` : `ERROR: ${(err as Error)?.name ?? 'error'}`;
        if (isGuardError(err, ErrorCodes.UPSTREAM, ErrorCodes.INVALID_CONFIG)) break;
        if (n < attempts) await sleep((options.firstDelayMs ?? 1000) * 2 ** (n - 1));
      }
    }
    reports.push({ publisher: publisher.name, delivered, attempts: n, ...(delivered ? {} : { error }) });
  }
  return reports;
}
