/**
 * Log Analytics queries with the real `LogsQueryClient` of `@azure/monitor-query-logs` 1.0.0 (the maintained
 * successor of the deprecated `@azure/monitor-query`; CommonJS build, Node >= 20): `POST
 * <endpoint>/workspaces/<id>/query` with `{query, timespan}`. A partial answer (HTTP 200 with `error` beside
 * the tables) comes back as `partial`, never as complete. 429 and 5xx are retried by the SDK's own
 * throttling/exponential policies (honouring `Retry-After`) up to `maxRetries`, then reported `TRANSIENT`.
 */
import type { TokenCredential } from '@azure/identity';
import type * as MonitorQueryLogs from '@azure/monitor-query-logs';
import type { LogsQueryClient, LogsTable } from '@azure/monitor-query-logs';
import { ErrorCodes, GuardError } from '../core/errors';
import type { ResultTable } from '../core/alerts/evaluate';
import type { LogQueryClient, LogQueryResult } from './ports';
import { sdkError } from './sdkErrors';

/** `@azure/monitor-query-logs`, loaded on first use: a cold start that does not reach this adapter does not pay for it. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const monitorQueryLogs = (): typeof MonitorQueryLogs => require('@azure/monitor-query-logs');

/** Options of {@link LogAnalyticsQueryClient}. */
export interface LogAnalyticsOptions {
  credential: TokenCredential;
  /** Workspace (customer) id, a GUID. */
  workspaceId: string;
  /** Query API base including the version; default `https://api.loganalytics.io/v1` (tests: a loopback server). */
  endpoint?: string;
  /** Extra CA (PEM) to trust, for loopback test servers only. */
  ca?: string;
  /** SDK retries of 429/5xx before `TRANSIENT` (default 2). */
  maxRetries?: number;
  /** Seconds the service may spend on one query (default 120). */
  serverTimeoutSeconds?: number;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ROLE_HINT = 'grant the app\'s managed identity "Log Analytics Reader" on the workspace';

/** ISO 8601 duration of whole seconds (the query API's `timespan`). */
export function isoDuration(ms: number): string {
  return `PT${Math.max(1, Math.round(ms / 1000))}S`;
}

function toTable(tables: LogsTable[]): ResultTable {
  const primary = tables[0];
  if (!primary) return { columns: [], rows: [] };
  return { columns: primary.columnDescriptors.map((c) => c.name ?? ''), rows: primary.rows };
}

/** {@link LogQueryClient} over one workspace. */
export class LogAnalyticsQueryClient implements LogQueryClient {
  private readonly client: LogsQueryClient;
  private readonly workspaceId: string;
  private readonly serverTimeoutSeconds: number;

  constructor(options: LogAnalyticsOptions) {
    if (!GUID.test(options.workspaceId))
      throw new GuardError(ErrorCodes.INVALID_CONFIG, 'workspaceId: expected the Log Analytics workspace id (a GUID)', {
        field: 'workspaceId',
      });
    this.workspaceId = options.workspaceId;
    this.serverTimeoutSeconds = options.serverTimeoutSeconds ?? 120;
    this.client = new (monitorQueryLogs().LogsQueryClient)(options.credential, {
      endpoint: (options.endpoint ?? 'https://api.loganalytics.io/v1').replace(/\/+$/, ''),
      retryOptions: { maxRetries: options.maxRetries ?? 2, maxRetryDelayInMs: 30_000 },
      ...(options.ca ? { tlsOptions: { ca: options.ca } } : {}),
    });
  }

  async query(kql: string, windowMs: number): Promise<LogQueryResult> {
    let result;
    try {
      result = await this.client.queryWorkspace(
        this.workspaceId,
        kql,
        { duration: isoDuration(windowMs) },
        { serverTimeoutInSeconds: this.serverTimeoutSeconds },
      );
    } catch (err) {
      throw sdkError(err, 'Log Analytics query', ROLE_HINT);
    }
    if (result.status === monitorQueryLogs().LogsQueryResultStatus.PartialFailure) {
      const serviceCode =
        typeof result.partialError.code === 'string' ? result.partialError.code.slice(0, 100) : 'PartialError';
      return {
        status: 'partial',
        table: toTable(result.partialTables),
        partialError: {
          code: ErrorCodes.PARTIAL_RESULT,
          serviceCode,
          message: String(result.partialError.message ?? '').slice(0, 500),
        },
      };
    }
    return { status: 'complete', table: toTable(result.tables) };
  }
}
