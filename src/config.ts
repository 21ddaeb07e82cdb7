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
  audit: AuditConfig;
  /** Client id of a user-assigned managed identity, when one is used. */
  azureClientId?: string;
  /** Subscriptions Resource Graph searches for Defender findings (all accessible when empty). */
  defenderSubscriptions: readonly string[];
  /** Loopback registries that may be reached over plain http. */
  plainHttpRegistries: readonly string[];
  dryRun: boolean;
  /**
   * Where the signature trust material is: a notation trust policy file and trust store directory
   * (`ACR_GUARD_TRUST_POLICY_FILE` + `ACR_GUARD_TRUST_STORE_DIR`), or a blob container holding
   * `trustpolicy.json` and `truststore/` (`ACR_GUARD_TRUST_BLOB_URL`). Absent: signatures are inconclusive.
   */
  signatureTrust?: { kind: 'files'; policyFile: string; storeDir: string } | { kind: 'blob'; url: string };
}

/**
 * Where verdicts are recorded: an Azure Table (managed identity; or Azurite's well-known dev account when
 * `devAccount`, from `UseDevelopmentStorage=true`), or JSON-lines files in a local directory.
 */
export type AuditConfig =
  | {
      kind: 'table';
      /** Table service URL, without a trailing slash. */
      endpoint: string;
      /** Table name (3-63 letters and digits, starting with a letter). */
      tableName: string;
      /**
       * True for Azurite (`UseDevelopmentStorage=true` or a loopback http URL): use its well-known dev account
       * over plain http instead of the managed identity.
       */
      devAccount: boolean;
      /** The setting the endpoint came from (for messages). */
      from: string;
    }
  | { kind: 'file'; dir: string };

type Env = Record<string, string | undefined>;

const DEV_STORAGE = /^\s*UseDevelopmentStorage=true\s*;?\s*$/i;
/** Azurite's default Table endpoint for `UseDevelopmentStorage=true`. */
const DEV_TABLE_ENDPOINT = 'http://127.0.0.1:10002/devstoreaccount1';
/** Storage account names: 3-24 lower-case letters and digits. */
const ACCOUNT_NAME = /^[a-z0-9]{3,24}$/;

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

function auditConfig(env: Env): AuditConfig {
  const tableName = env.ACR_GUARD_AUDIT_TABLE?.trim() || 'AcrGuardVerdicts';
  if (!/^[A-Za-z][A-Za-z0-9]{2,62}$/.test(tableName)) throw invalid('ACR_GUARD_AUDIT_TABLE', 'a table name of 3-63 letters and digits starting with a letter', tableName);
  const table = (from: string, endpoint: string, devAccount = false): AuditConfig => ({ kind: 'table', endpoint, tableName, devAccount, from });
  // Plain http is accepted for a loopback Azurite only, and Azurite takes only its dev account over http.
  const tableAt = (from: string, value: string): AuditConfig => {
    const endpoint = httpsUrl(from, value, true);
    return table(from, endpoint, endpoint.startsWith('http:'));
  };
  const explicit = env.ACR_GUARD_AUDIT_TABLE_ENDPOINT?.trim();
  const dir = env.ACR_GUARD_AUDIT_DIR?.trim();
  if (explicit && dir) throw invalid('ACR_GUARD_AUDIT_DIR', 'only one of ACR_GUARD_AUDIT_TABLE_ENDPOINT and ACR_GUARD_AUDIT_DIR to be set');
  if (explicit) {
    if (DEV_STORAGE.test(explicit)) return table('ACR_GUARD_AUDIT_TABLE_ENDPOINT', DEV_TABLE_ENDPOINT, true);
    return tableAt('ACR_GUARD_AUDIT_TABLE_ENDPOINT', explicit);
  }
  // An explicit local directory wins over the Functions host's own storage settings.
  if (dir) return { kind: 'file', dir };
  const serviceUri = env.AzureWebJobsStorage__tableServiceUri?.trim();
  if (serviceUri) return tableAt('AzureWebJobsStorage__tableServiceUri', serviceUri);
  const accountName = env.AzureWebJobsStorage__accountName?.trim();
  if (accountName) {
    if (!ACCOUNT_NAME.test(accountName)) throw invalid('AzureWebJobsStorage__accountName', 'a storage account name of 3-24 lower-case letters and digits', accountName);
    return table('AzureWebJobsStorage__accountName', `https://${accountName}.table.core.windows.net`);
  }
  if (env.AzureWebJobsStorage && DEV_STORAGE.test(env.AzureWebJobsStorage)) return table('AzureWebJobsStorage', DEV_TABLE_ENDPOINT, true);
  throw invalid(
    'ACR_GUARD_AUDIT_TABLE_ENDPOINT',
    'the Table service URL for verdicts, e.g. https://<account>.table.core.windows.net (or AzureWebJobsStorage__tableServiceUri / __accountName, UseDevelopmentStorage=true for Azurite, or ACR_GUARD_AUDIT_DIR for a local file store)',
  );
}

/** Reads and validates the configuration; throws `INVALID_CONFIG` naming the setting. */
export function loadConfig(env: Env): AppConfig {
  const policyFile = env.ACR_GUARD_POLICY_FILE?.trim();
  const policyInline = env.ACR_GUARD_POLICY;
  if (policyFile && policyInline && policyInline.trim() !== '') throw invalid('ACR_GUARD_POLICY', 'only one of ACR_GUARD_POLICY and ACR_GUARD_POLICY_FILE to be set');
  const policy: AppConfig['policy'] = policyInline && policyInline.trim() !== '' ? { kind: 'inline', text: policyInline } : { kind: 'file', path: policyFile || 'policy/acr-guard.yaml' };

  // Managed identity only: a key or SAS in any setting the app reads is refused (naming the setting, never
  // showing the value). The Azurite dev account (`UseDevelopmentStorage=true`) is the one exception.
  for (const [key, value] of Object.entries(env)) {
    if (!(key.startsWith('ACR_GUARD_') || key.startsWith('AzureWebJobsStorage')) || !value || DEV_STORAGE.test(value)) continue;
    if (/AccountKey=|SharedAccessSignature=|[?&;]sig=|^sig=/i.test(value)) {
      throw invalid(key, 'no account key or SAS token (acr-guard uses its managed identity: grant it "Storage Table Data Contributor" and set the service URL instead)');
    }
  }

  const audit = auditConfig(env);
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

  const trustPolicyFile = env.ACR_GUARD_TRUST_POLICY_FILE?.trim();
  const trustStoreDir = env.ACR_GUARD_TRUST_STORE_DIR?.trim();
  if (Boolean(trustPolicyFile) !== Boolean(trustStoreDir)) {
    const missing = trustPolicyFile ? 'ACR_GUARD_TRUST_STORE_DIR' : 'ACR_GUARD_TRUST_POLICY_FILE';
    throw invalid(missing, 'to be set together with ' + (trustPolicyFile ? 'ACR_GUARD_TRUST_POLICY_FILE (a notation trust store directory: x509/ca/<name>/...)' : 'ACR_GUARD_TRUST_STORE_DIR (a notation trustpolicy.json path)'));
  }
  const trustBlobUrl = env.ACR_GUARD_TRUST_BLOB_URL?.trim();
  if (trustBlobUrl && trustPolicyFile) throw invalid('ACR_GUARD_TRUST_BLOB_URL', 'either ACR_GUARD_TRUST_BLOB_URL or the ACR_GUARD_TRUST_POLICY_FILE/ACR_GUARD_TRUST_STORE_DIR pair, not both');
  if (trustBlobUrl) {
    let url: URL | undefined;
    try {
      url = new URL(trustBlobUrl);
    } catch {
      url = undefined;
    }
    const ok = url && (url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.host))) && !url.search && !url.username && url.pathname.length > 1;
    if (!ok) throw invalid('ACR_GUARD_TRUST_BLOB_URL', 'a blob container URL https://<account>.blob.core.windows.net/<container>[/<folder>] (no SAS: the managed identity reads it)', trustBlobUrl);
  }
  const signatureTrust: AppConfig['signatureTrust'] = trustBlobUrl
    ? Object.freeze({ kind: 'blob' as const, url: trustBlobUrl })
    : trustPolicyFile && trustStoreDir
      ? Object.freeze({ kind: 'files' as const, policyFile: trustPolicyFile, storeDir: trustStoreDir })
      : undefined;

  return Object.freeze({
    signatureTrust,
    policy: Object.freeze(policy),
    audit: Object.freeze(audit),
    azureClientId,
    defenderSubscriptions: Object.freeze(defenderSubscriptions),
    plainHttpRegistries: Object.freeze(plainHttpRegistries),
    dryRun: dryRunText === 'true',
  });
}

/**
 * A log-safe summary of the configuration: it holds no secret (keys and SAS are refused), and the inline
 * policy is shown by size only.
 */
export function describeConfig(config: AppConfig): string {
  const policy = config.policy.kind === 'file' ? `file ${config.policy.path}` : `inline (${config.policy.text.length} chars)`;
  const audit =
    config.audit.kind === 'table'
      ? `table ${config.audit.tableName} at ${config.audit.endpoint}${config.audit.devAccount ? ' (Azurite dev account)' : ''} (from ${config.audit.from})`
      : `files in ${config.audit.dir}`;
  const plainHttp = config.plainHttpRegistries.length ? config.plainHttpRegistries.join(',') : 'none';
  return `policy: ${policy}; audit: ${audit}; identity: ${config.azureClientId ? `user-assigned ${config.azureClientId}` : 'system-assigned'}; defender subscriptions: ${config.defenderSubscriptions.length || 'all accessible'}; plain-http registries: ${plainHttp}; dry run: ${config.dryRun}; signature trust: ${describeTrust(config.signatureTrust)}`;
}

function describeTrust(trust: AppConfig['signatureTrust']): string {
  if (!trust) return 'not configured';
  return trust.kind === 'blob' ? `blob ${trust.url}` : `${trust.policyFile} + ${trust.storeDir}`;
}

/**
 * The policy YAML the configuration names: the inline text, or the file read with `readFile` (relative paths
 * resolve against the process's working directory). A missing or unreadable file is `INVALID_CONFIG` naming
 * `ACR_GUARD_POLICY_FILE`.
 */
export function readPolicyText(config: AppConfig, readFile: (path: string) => string): string {
  if (config.policy.kind === 'inline') return config.policy.text;
  try {
    return readFile(config.policy.path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new GuardError(ErrorCodes.INVALID_CONFIG, `app setting ACR_GUARD_POLICY_FILE: cannot read the policy file ${config.policy.path} (${typeof code === 'string' ? code : 'error'})`, { field: 'ACR_GUARD_POLICY_FILE' });
  }
}
