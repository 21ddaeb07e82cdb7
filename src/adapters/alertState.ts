/**
 * De-duplication state of alert incidents: one Table entity per incident (PartitionKey = rule name,
 * RowKey = incident id, a sha256 hex), holding when it was last alerted and how often. A memory store serves
 * the CLI's dry runs and tests.
 */
import type * as DataTables from '@azure/data-tables';
import type { NamedKeyCredential, TableClient } from '@azure/data-tables';
import type { TokenCredential } from '@azure/identity';
import type { IncidentState } from '../core/alerts/evaluate';
import type { AlertStateStore } from './ports';
import { sdkError } from './sdkErrors';

/** `@azure/data-tables`, loaded on first use: a cold start that does not reach this adapter does not pay for it. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dataTables = (): typeof DataTables => require('@azure/data-tables');

/** Default table of alert state. */
export const DEFAULT_ALERT_STATE_TABLE = 'AcrGuardAlertState';

/** Options of {@link TableAlertStateStore}. */
export interface TableAlertStateStoreOptions {
  endpoint: string;
  tableName?: string;
  credential: TokenCredential | NamedKeyCredential;
  allowInsecureConnection?: boolean;
}

const ROLE_HINT = 'grant the app\'s managed identity "Storage Table Data Contributor" on the storage account';

/** {@link AlertStateStore} in Azure Table storage (Azurite locally). */
export class TableAlertStateStore implements AlertStateStore {
  private readonly client: TableClient;
  private created?: Promise<void>;

  constructor(options: TableAlertStateStoreOptions) {
    this.client = new (dataTables().TableClient)(
      options.endpoint,
      options.tableName ?? DEFAULT_ALERT_STATE_TABLE,
      options.credential as TokenCredential,
      {
        allowInsecureConnection: options.allowInsecureConnection,
      },
    );
  }

  private ensureTable(): Promise<void> {
    this.created ??= this.client.createTable().catch((err: unknown) => {
      this.created = undefined;
      if ((err as { statusCode?: number }).statusCode === 409) return;
      throw sdkError(err, 'creating the alert state table', ROLE_HINT);
    });
    return this.created;
  }

  async get(rule: string, incidentId: string): Promise<IncidentState | undefined> {
    await this.ensureTable();
    try {
      const e = await this.client.getEntity<{ lastAlertedAt: string; alerts: number }>(rule, incidentId);
      const at = Date.parse(e.lastAlertedAt);
      return Number.isNaN(at) ? undefined : { lastAlertedAt: at, alerts: Number(e.alerts) || 0 };
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return undefined;
      throw sdkError(err, 'reading alert state', ROLE_HINT);
    }
  }

  async put(rule: string, incidentId: string, state: IncidentState): Promise<void> {
    await this.ensureTable();
    try {
      await this.client.upsertEntity(
        {
          partitionKey: rule,
          rowKey: incidentId,
          lastAlertedAt: new Date(state.lastAlertedAt).toISOString(),
          alerts: state.alerts,
        },
        'Replace',
      );
    } catch (err) {
      throw sdkError(err, 'writing alert state', ROLE_HINT);
    }
  }
}

/** {@link AlertStateStore} in memory (one process). */
export class MemoryAlertStateStore implements AlertStateStore {
  readonly states = new Map<string, IncidentState>();
  async get(rule: string, incidentId: string): Promise<IncidentState | undefined> {
    return this.states.get(`${rule}/${incidentId}`);
  }
  async put(rule: string, incidentId: string, state: IncidentState): Promise<void> {
    this.states.set(`${rule}/${incidentId}`, { ...state });
  }
}
