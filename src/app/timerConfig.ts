/**
 * The timers' settings: their schedules (NCRONTAB, with defaults), the alert sinks, the alert rules timer
 * (`alertQueries`) and token rotation (`rotateTokens`). Validated with messages that name the setting and the
 * expected form, and frozen. No setting may hold a secret.
 */
import { ErrorCodes, GuardError } from '../core/errors';
import { parseDuration } from '../core/duration';
import { parseTokenId, validateRotationSettings } from '../core/rotation';
import { GUID, invalid, list, optionalHttps, type Env } from './settings';

/** Where alerts go. At least one sink is required outside dry runs. */
export interface AlertSinksConfig {
  /** Event Grid custom topic endpoint (Entra ID auth; role "EventGrid Data Sender"). */
  eventGridEndpoint?: string;
  /** Name of the Key Vault secret holding the webhook URL (the URL embeds its own secret). */
  webhookUrlSecret?: string;
  /** Webhook JSON flavour: `messagecard` (Teams connector + Slack), `adaptivecard` (Teams Workflows), `slack`. */
  webhookFormat: 'messagecard' | 'adaptivecard' | 'slack';
  /** Key Vault holding the webhook URL secret and the token passwords. */
  keyVaultUrl?: string;
}

/** Settings of the alert rules timer. */
export interface AlertsConfig {
  workspaceId: string;
  /** Log Analytics query API base including the version. */
  logsEndpoint: string;
  /** Optional alerts file (YAML): enable/disable/parameters/rules. */
  rulesFile?: string;
  concurrency: number;
  sinks: AlertSinksConfig;
  /** Table of de-duplication state (in the audit store's account). */
  stateTable: string;
}

/** Settings of the token rotation timer. */
export interface RotationConfig {
  /** ARM ids of the tokens to rotate. */
  tokens: readonly string[];
  keyVaultUrl: string;
  validityMs: number;
  renewBeforeMs: number;
  armEndpoint: string;
  sinks: AlertSinksConfig;
  /** Table de-duplicating rotation alerts (shared with the alert timer). */
  stateTable: string;
}

/** Timer schedules (NCRONTAB, six fields) and their defaults. */
export const TIMER_SCHEDULES = {
  ACR_GUARD_ALERT_SCHEDULE: '0 */5 * * * *',
  ACR_GUARD_ROTATION_SCHEDULE: '0 30 3 * * *',
  /** `nightlyPurge` (retention over every repository a rule covers); the Bicep's default is the same. */
  ACR_GUARD_PURGE_SCHEDULE: '0 0 3 * * *',
  /** Timer `runtimeAudit` (every running image checked against the gate): hourly. */
  ACR_GUARD_RUNTIME_SCHEDULE: '0 0 * * * *',
} as const;

const NCRONTAB = /^\s*(\S+\s+){5}\S+\s*$/;

/** The schedule of a timer from its setting (or the default); throws `INVALID_CONFIG` naming the setting. */
export function timerSchedule(env: Env, setting: keyof typeof TIMER_SCHEDULES): string {
  const value = env[setting]?.trim() || TIMER_SCHEDULES[setting];
  if (!NCRONTAB.test(value) || !/^[0-9*/,\- A-Za-z]+$/.test(value))
    throw invalid(setting, 'a six-field NCRONTAB expression such as "0 */5 * * * *"', value);
  return value;
}

function durationSetting(env: Env, setting: string, fallback: string): number {
  try {
    return parseDuration(env[setting]?.trim() || fallback, setting);
  } catch {
    throw invalid(setting, 'a duration like 30d or 12h', env[setting]);
  }
}

function stateTableSetting(env: Env): string {
  const stateTable = env.ACR_GUARD_ALERT_STATE_TABLE?.trim() || 'AcrGuardAlertState';
  if (!/^[A-Za-z][A-Za-z0-9]{2,62}$/.test(stateTable))
    throw invalid(
      'ACR_GUARD_ALERT_STATE_TABLE',
      'a table name of 3-63 letters and digits starting with a letter',
      stateTable,
    );
  return stateTable;
}

function sinksConfig(env: Env): AlertSinksConfig {
  const webhookUrlSecret = env.ACR_GUARD_ALERT_WEBHOOK_SECRET?.trim() || undefined;
  if (webhookUrlSecret && !/^[0-9a-zA-Z-]{1,127}$/.test(webhookUrlSecret))
    throw invalid(
      'ACR_GUARD_ALERT_WEBHOOK_SECRET',
      'the name of a Key Vault secret (1-127 letters, digits and dashes) holding the webhook URL',
      webhookUrlSecret,
    );
  const keyVaultUrl = optionalHttps(env, 'ACR_GUARD_KEY_VAULT_URL');
  if (webhookUrlSecret && !keyVaultUrl)
    throw invalid(
      'ACR_GUARD_KEY_VAULT_URL',
      'the vault URL (https://<vault>.vault.azure.net) holding ACR_GUARD_ALERT_WEBHOOK_SECRET',
    );
  const webhookFormat = (env.ACR_GUARD_ALERT_WEBHOOK_FORMAT?.trim() ||
    'messagecard') as AlertSinksConfig['webhookFormat'];
  if (!['messagecard', 'adaptivecard', 'slack'].includes(webhookFormat))
    throw invalid('ACR_GUARD_ALERT_WEBHOOK_FORMAT', 'messagecard, adaptivecard or slack', webhookFormat);
  return Object.freeze({
    eventGridEndpoint: optionalHttps(env, 'ACR_GUARD_ALERT_EVENTGRID_ENDPOINT'),
    webhookUrlSecret,
    webhookFormat,
    keyVaultUrl,
  });
}

/** The alert sinks the runtime audit raises its alerts through (none configured: the report is recorded, nothing is sent). */
export function runtimeSinksConfig(env: Env): AlertSinksConfig {
  return sinksConfig(env);
}

function requireSink(sinks: AlertSinksConfig): void {
  if (!sinks.eventGridEndpoint && !sinks.webhookUrlSecret) {
    throw invalid(
      'ACR_GUARD_ALERT_EVENTGRID_ENDPOINT',
      'at least one alert sink: an Event Grid topic endpoint here, or ACR_GUARD_ALERT_WEBHOOK_SECRET naming a Key Vault secret with the webhook URL',
    );
  }
}

/** Reads the alert timer's settings; `requireSinks` false for dry runs. Throws `INVALID_CONFIG` naming the setting. */
export function loadAlertsConfig(env: Env, options: { requireSinks?: boolean } = {}): AlertsConfig {
  const workspaceId = env.ACR_GUARD_LOG_ANALYTICS_WORKSPACE_ID?.trim() ?? '';
  if (!GUID.test(workspaceId))
    throw invalid(
      'ACR_GUARD_LOG_ANALYTICS_WORKSPACE_ID',
      'the Log Analytics workspace id (customer id, a GUID)',
      workspaceId,
    );
  const concurrencyText = env.ACR_GUARD_ALERT_CONCURRENCY?.trim() || '4';
  const concurrency = Number(concurrencyText);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 16)
    throw invalid('ACR_GUARD_ALERT_CONCURRENCY', 'an integer from 1 to 16', concurrencyText);
  const stateTable = stateTableSetting(env);
  const sinks = sinksConfig(env);
  if (options.requireSinks !== false) requireSink(sinks);
  return Object.freeze({
    workspaceId,
    logsEndpoint: optionalHttps(env, 'ACR_GUARD_LOG_ANALYTICS_ENDPOINT', 'https://api.loganalytics.io/v1')!,
    rulesFile: env.ACR_GUARD_ALERT_RULES_FILE?.trim() || undefined,
    concurrency,
    sinks,
    stateTable,
  });
}

/** Reads the rotation timer's settings; throws `INVALID_CONFIG` naming the setting. */
export function loadRotationConfig(env: Env, options: { requireSinks?: boolean } = {}): RotationConfig {
  const tokens = list(env.ACR_GUARD_ROTATION_TOKENS).map((id, i) => parseTokenIdSetting(id, i));
  if (tokens.length === 0)
    throw invalid(
      'ACR_GUARD_ROTATION_TOKENS',
      'comma-separated ACR token resource ids (/subscriptions/…/registries/<r>/tokens/<t>)',
    );
  const sinks = sinksConfig(env);
  if (!sinks.keyVaultUrl)
    throw invalid(
      'ACR_GUARD_KEY_VAULT_URL',
      'the vault URL (https://<vault>.vault.azure.net) that receives the token passwords',
    );
  if (options.requireSinks !== false) requireSink(sinks);
  const validityMs = durationSetting(env, 'ACR_GUARD_ROTATION_VALIDITY', '30d');
  const renewBeforeMs = durationSetting(env, 'ACR_GUARD_ROTATION_RENEW_BEFORE', '7d');
  try {
    validateRotationSettings({ validityMs, renewBeforeMs }, 'ACR_GUARD_ROTATION_VALIDITY');
  } catch (err) {
    throw new GuardError(ErrorCodes.INVALID_CONFIG, `app setting ${(err as Error).message}`, {
      field: 'ACR_GUARD_ROTATION_VALIDITY',
    });
  }
  return Object.freeze({
    tokens: Object.freeze(tokens),
    keyVaultUrl: sinks.keyVaultUrl,
    validityMs,
    renewBeforeMs,
    armEndpoint: optionalHttps(env, 'ACR_GUARD_ARM_ENDPOINT', 'https://management.azure.com')!,
    sinks,
    stateTable: stateTableSetting(env),
  });
}

function parseTokenIdSetting(id: string, i: number): string {
  try {
    return parseTokenId(id, `ACR_GUARD_ROTATION_TOKENS[${i}]`).id;
  } catch (err) {
    throw new GuardError(ErrorCodes.INVALID_CONFIG, `app setting ${(err as Error).message}`, {
      field: 'ACR_GUARD_ROTATION_TOKENS',
    });
  }
}
