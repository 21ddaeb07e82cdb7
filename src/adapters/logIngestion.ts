/**
 * Rows to Log Analytics with the real `LogsIngestionClient` of `@azure/monitor-ingestion` 1.2.0: `POST
 * {endpoint}/dataCollectionRules/{immutableId}/streams/{stream}?api-version=2023-01-01`, gzipped JSON array,
 * bearer token for `https://monitor.azure.com/.default` (the identity needs Monitoring Metrics Publisher on the
 * data collection rule). 429 and 5xx are retried by the SDK's policies (honouring `Retry-After`) up to
 * `maxRetries`.
 *
 * Bounded before any request: rows per send, bytes per row (256 KiB) and per send (the excess is dropped, counted and
 * logged with `LOG_ROWS_TOO_LARGE`), rows per request (`batchRows`; the client also splits at 1 MB), and time
 * (`timeoutMs` for a whole send). It never throws: what acr-guard decided is recorded in the audit store first;
 * the rows here are a copy for dashboards, and a failure to send them is logged, never fatal.
 */
import type { TokenCredential } from '@azure/identity';
import type * as MonitorIngestion from '@azure/monitor-ingestion';
import { ErrorCodes, GuardError } from '../core/errors';
import { LOG_STREAMS, MAX_LOG_ROW_BYTES, type LogRow, type LogStream } from '../core/logRows';
import type { LogSendResult, LogSink } from './ports';
import { sdkError } from './sdkErrors';

/** `@azure/monitor-ingestion`, loaded on first use: a cold start that never sends rows does not pay for it. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const monitorIngestion = (): typeof MonitorIngestion => require('@azure/monitor-ingestion');

/** Options of {@link LogIngestionSink}. */
export interface LogIngestionOptions {
  credential: TokenCredential;
  /** Logs ingestion URL of the data collection endpoint, e.g. `https://dce-x.westeurope-1.ingest.monitor.azure.com`. */
  endpoint: string;
  /** Immutable id of the data collection rule (`dcr-` and 32 hex digits). */
  ruleId: string;
  /** Where failures and drops are reported (one line each, no row content). */
  log: (message: string) => void;
  /** Extra CA (PEM) to trust, for loopback test servers only. */
  ca?: string;
  /** Rows per request (default 500). */
  batchRows?: number;
  /** Most rows one send takes (default 10,000); more are dropped. */
  maxRows?: number;
  /** Largest JSON size of one row in bytes (default `MAX_LOG_ROW_BYTES`, 256 KiB); larger rows are dropped. */
  maxRowBytes?: number;
  /** Most JSON bytes one send takes (default 8 MiB); rows past it are dropped. */
  maxBytes?: number;
  /** Time for a whole send, retries included (default 20 s). */
  timeoutMs?: number;
  /** SDK retries of 429/5xx (default 2). */
  maxRetries?: number;
}

/** Immutable id of a data collection rule. */
export const DCR_IMMUTABLE_ID = /^dcr-[0-9a-f]{32}$/;

const ROLE_HINT =
  'grant the app\'s managed identity "Monitoring Metrics Publisher" on the data collection rule (infra/modules/logIngestion.bicep does)';

/** {@link LogSink} over one data collection endpoint and rule. */
export class LogIngestionSink implements LogSink {
  private readonly client: MonitorIngestion.LogsIngestionClient;
  private readonly options: Required<Omit<LogIngestionOptions, 'ca' | 'credential' | 'endpoint'>>;

  constructor(options: LogIngestionOptions) {
    if (!DCR_IMMUTABLE_ID.test(options.ruleId))
      throw new GuardError(
        ErrorCodes.INVALID_CONFIG,
        'ruleId: expected the immutable id of the data collection rule (dcr- and 32 hex digits)',
        { field: 'ruleId' },
      );
    this.options = {
      ruleId: options.ruleId,
      log: options.log,
      batchRows: options.batchRows ?? 500,
      maxRows: options.maxRows ?? 10_000,
      maxRowBytes: options.maxRowBytes ?? MAX_LOG_ROW_BYTES,
      maxBytes: options.maxBytes ?? 8 * 1024 * 1024,
      timeoutMs: options.timeoutMs ?? 20_000,
      maxRetries: options.maxRetries ?? 2,
    };
    this.client = new (monitorIngestion().LogsIngestionClient)(
      options.endpoint.replace(/\/+$/, ''),
      options.credential,
      {
        retryOptions: { maxRetries: this.options.maxRetries, maxRetryDelayInMs: 10_000 },
        ...(options.ca ? { tlsOptions: { ca: options.ca } } : {}),
      },
    );
  }

  async send(stream: LogStream, rows: readonly LogRow[]): Promise<LogSendResult> {
    const name = LOG_STREAMS[stream];
    const { kept, dropped, why } = this.bound(rows);
    let error: LogSendResult['error'] = why
      ? { code: ErrorCodes.LOG_ROWS_TOO_LARGE, message: `${name}: ${dropped} of ${rows.length} rows not sent (${why})` }
      : undefined;
    if (error) this.options.log(`log ingestion: ${error.message}; the records themselves are kept in the audit store`);
    let sent = 0;
    let failed = 0;
    const abort = AbortSignal.timeout(this.options.timeoutMs);
    for (let i = 0; i < kept.length; i += this.options.batchRows) {
      const batch = kept.slice(i, i + this.options.batchRows) as Record<string, unknown>[];
      if (abort.aborted) {
        failed += kept.length - i;
        error ??= { code: ErrorCodes.TRANSIENT, message: `${name}: timed out after ${this.options.timeoutMs} ms` };
        break;
      }
      try {
        await this.client.upload(this.options.ruleId, name, batch, { maxConcurrency: 1, abortSignal: abort });
        sent += batch.length;
      } catch (err) {
        const failedRows = failedCount(err, batch.length);
        failed += failedRows;
        sent += batch.length - failedRows;
        const e = sdkError(firstCause(err), `Logs Ingestion upload to ${name}`, ROLE_HINT);
        error ??= { code: e.code, message: e.message };
      }
    }
    if (failed > 0)
      this.options.log(
        `log ingestion: ${failed} of ${kept.length} rows to ${name} not accepted (${error?.code}: ${error?.message}); the records themselves are kept in the audit store, only the dashboard copy is missing`,
      );
    return { sent, dropped, failed, ...(error ? { error } : {}) };
  }

  /** Applies the row, byte and count bounds before any request. */
  private bound(rows: readonly LogRow[]): { kept: LogRow[]; dropped: number; why?: string } {
    const reasons = new Set<string>();
    const kept: LogRow[] = [];
    let bytes = 0;
    for (const [i, row] of rows.entries()) {
      if (i >= this.options.maxRows) {
        reasons.add(`more than ${this.options.maxRows} rows`);
        break;
      }
      const size = Buffer.byteLength(JSON.stringify(row), 'utf8');
      if (size > this.options.maxRowBytes) {
        reasons.add(`row over ${this.options.maxRowBytes} bytes`);
        continue;
      }
      if (bytes + size > this.options.maxBytes) {
        reasons.add(`over ${this.options.maxBytes} bytes in one send`);
        break;
      }
      bytes += size;
      kept.push(row);
    }
    const dropped = rows.length - kept.length;
    return { kept, dropped, ...(dropped > 0 ? { why: [...reasons].join(', ') } : {}) };
  }
}

/** The first cause of the client's `AggregateLogsUploadError` (or the error itself). */
function firstCause(err: unknown): unknown {
  const errors = (err as { errors?: Array<{ cause?: unknown }> } | undefined)?.errors;
  return Array.isArray(errors) && errors[0]?.cause !== undefined ? errors[0].cause : err;
}

/** Rows the client reports as failed (all of the batch when it does not say). */
function failedCount(err: unknown, batch: number): number {
  const errors = (err as { errors?: Array<{ failedLogs?: unknown[] }> } | undefined)?.errors;
  if (!Array.isArray(errors)) return batch;
  const n = errors.reduce((sum, e) => sum + (Array.isArray(e.failedLogs) ? e.failedLogs.length : 0), 0);
  return Math.min(batch, n || batch);
}
