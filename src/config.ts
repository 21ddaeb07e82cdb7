/**
 * App configuration, read once from the app settings (an env-like record), validated with messages that
 * name the setting and the expected form, and frozen. No setting may hold a secret.
 */
import { ErrorCodes, GuardError } from './core/errors';
import { validateRegistryHost } from './core/reference';
import { isLoopbackHost } from './local/loopback';

/** Validated configuration of the Functions app. */
export interface AppConfig {
  /** Where the policy comes from: a file path, or inline YAML (`ACR_GUARD_POLICY`). */
  policy: { kind: 'file'; path: string } | { kind: 'inline'; text: string };
  /** Where verdicts are recorded. */
  audit: { kind: 'table'; endpoint: string; tableName: string } | { kind: 'file'; dir: string };
  /** Client id of a user-assigned managed identity, when one is used. */
  azureClientId?: string;
  /** Subscriptions Resource Graph searches for Defender findings (all accessible when empty). */
  defenderSubscriptions: readonly string[];
  /** Loopback registries that may be reached over plain http. */
  plainHttpRegistries: readonly string[];
  dryRun: boolean;
}

type Env = Record<string, string | undefined>;

function invalid(setting: string, expected: string, got?: string): GuardError {
  const shown = got === undefined ? '' : `, got ${JSON.stringify(got.length > 80 ? `${got.slice(0, 80)}…` : got)}`;
  return new GuardError(ErrorCodes.INVALID_CONFIG, `app setting ${setting}: expected ${expected}${shown}`, { field: setting });
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function httpsUrl(setting: string, value: string, allowLoopbackHttp: boolean): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(setting, 'an absolute https URL such as https://<account>.table.core.windows.net', value);
  }
  if (url.username || url.password || url.search || url.hash) throw invalid(setting, 'a URL without credentials, query or fragment (no SAS tokens: the app uses its managed identity)');
  if (url.protocol !== 'https:' && !(allowLoopbackHttp && url.protocol === 'http:' && isLoopbackHost(url.host))) {
    throw invalid(setting, 'an https URL (plain http only for a loopback Azurite)', value);
  }
  return value.replace(/\/+$/, '');
}

/** Reads and validates the configuration; throws `INVALID_CONFIG` naming the setting. */
export function loadConfig(env: Env): AppConfig {
  const policyFile = env.ACR_GUARD_POLICY_FILE?.trim();
  const policyInline = env.ACR_GUARD_POLICY;
  if (policyFile && policyInline && policyInline.trim() !== '') throw invalid('ACR_GUARD_POLICY', 'only one of ACR_GUARD_POLICY and ACR_GUARD_POLICY_FILE to be set');
  const policy: AppConfig['policy'] = policyInline && policyInline.trim() !== '' ? { kind: 'inline', text: policyInline } : { kind: 'file', path: policyFile || 'policy/acr-guard.yaml' };

  for (const [key, value] of Object.entries(env)) {
    if (key.startsWith('ACR_GUARD_') && value && /AccountKey=|SharedAccessSignature=|[?&]sig=/i.test(value)) {
      throw invalid(key, 'no account key or SAS token (acr-guard uses its managed identity; grant it a data role instead)');
    }
  }

  const tableName = env.ACR_GUARD_AUDIT_TABLE?.trim() || 'AcrGuardVerdicts';
  if (!/^[A-Za-z][A-Za-z0-9]{2,62}$/.test(tableName)) throw invalid('ACR_GUARD_AUDIT_TABLE', 'a table name of 3-63 letters and digits starting with a letter', tableName);
  const tableEndpoint = env.ACR_GUARD_AUDIT_TABLE_ENDPOINT?.trim() || env.AzureWebJobsStorage__tableServiceUri?.trim();
  const auditDir = env.ACR_GUARD_AUDIT_DIR?.trim();
  let audit: AppConfig['audit'];
  if (tableEndpoint) {
    const setting = env.ACR_GUARD_AUDIT_TABLE_ENDPOINT?.trim() ? 'ACR_GUARD_AUDIT_TABLE_ENDPOINT' : 'AzureWebJobsStorage__tableServiceUri';
    audit = { kind: 'table', endpoint: httpsUrl(setting, tableEndpoint, true), tableName };
  } else if (auditDir) {
    audit = { kind: 'file', dir: auditDir };
  } else {
    throw invalid('ACR_GUARD_AUDIT_TABLE_ENDPOINT', 'the Table service URL for verdicts (or AzureWebJobsStorage__tableServiceUri, or ACR_GUARD_AUDIT_DIR for a local file store)');
  }

  const azureClientId = env.AZURE_CLIENT_ID?.trim() || undefined;
  if (azureClientId && !GUID.test(azureClientId)) throw invalid('AZURE_CLIENT_ID', 'the client id (a GUID) of the user-assigned managed identity', azureClientId);

  const defenderSubscriptions = list(env.ACR_GUARD_DEFENDER_SUBSCRIPTIONS);
  defenderSubscriptions.forEach((s, i) => {
    if (!GUID.test(s)) throw invalid('ACR_GUARD_DEFENDER_SUBSCRIPTIONS', `comma-separated subscription ids (GUIDs); item ${i + 1} is not one`, s);
  });

  const plainHttpRegistries = list(env.ACR_GUARD_PLAIN_HTTP_REGISTRIES).map((h, i) => {
    const host = validateRegistryHost(h, `ACR_GUARD_PLAIN_HTTP_REGISTRIES[${i}]`);
    if (!isLoopbackHost(host)) throw invalid('ACR_GUARD_PLAIN_HTTP_REGISTRIES', 'loopback hosts only (127.0.0.0/8, localhost, [::1]); a registry elsewhere must use https', h);
    return host;
  });

  const dryRunText = (env.ACR_GUARD_DRY_RUN ?? 'false').trim().toLowerCase();
  if (dryRunText !== 'true' && dryRunText !== 'false') throw invalid('ACR_GUARD_DRY_RUN', '"true" or "false"', env.ACR_GUARD_DRY_RUN);

  return Object.freeze({
    policy: Object.freeze(policy),
    audit: Object.freeze(audit),
    azureClientId,
    defenderSubscriptions: Object.freeze(defenderSubscriptions),
    plainHttpRegistries: Object.freeze(plainHttpRegistries),
    dryRun: dryRunText === 'true',
  });
}

/** A log-safe summary of the configuration (it holds no secret, but the policy text is long). */
export function describeConfig(config: AppConfig): string {
  const policy = config.policy.kind === 'file' ? `file ${config.policy.path}` : `inline (${config.policy.text.length} chars)`;
  const audit = config.audit.kind === 'table' ? `table ${config.audit.tableName} at ${config.audit.endpoint}` : `files in ${config.audit.dir}`;
  return `policy: ${policy}; audit: ${audit}; identity: ${config.azureClientId ? `user-assigned ${config.azureClientId}` : 'system-assigned'}; defender subscriptions: ${config.defenderSubscriptions.length || 'all accessible'}; dry run: ${config.dryRun}`;
}
