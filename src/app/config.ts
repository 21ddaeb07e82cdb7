/**
 * App configuration, read once from the app settings (an env-like record), validated with messages that
 * name the setting and the expected form, and frozen. No setting may hold a secret.
 */
import { ErrorCodes, GuardError, isGuardError } from '../core/errors';
import { GUID, httpsUrl, invalid, list, optionalHttps, type Env } from './settings';
import { validateRegistryHost } from '../core/reference';
import { isLoopbackHost } from '../core/loopback';
import { parseInUseScopes, type InUseScope } from '../core/inUseScopes';
import { DCR_IMMUTABLE_ID } from '../adapters/logIngestion';
import { AZURITE_DEV_ACCOUNT } from '../adapters/auditStore';

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
  /**
   * In-use protection (`ACR_GUARD_INUSE_SCOPES`): where the purge looks for images deployed in Container Apps
   * and Container Instances, and the ARM endpoint (`ACR_GUARD_ARM_ENDPOINT`). Absent when the setting is empty
   * (local runs): the purge then reports in-use protection as off. The Bicep always sets it.
   */
  inUse?: { scopes: readonly InUseScope[]; armEndpoint: string };
  /**
   * Where verdicts, purges and runtime statuses are copied for the workbook (`ACR_GUARD_LOG_INGESTION_ENDPOINT`
   * + `ACR_GUARD_LOG_INGESTION_RULE_ID`, both or neither): the data collection endpoint's logs ingestion URL
   * and the data collection rule's immutable id. Absent: nothing is sent to Log Analytics.
   */
  logIngestion?: { endpoint: string; ruleId: string };
  /**
   * Verdict events (`ACR_GUARD_VERDICT_EVENTGRID_ENDPOINT`): the Event Grid topic each recorded verdict is
   * published to as a CloudEvent (docs/verdict-events.md). Absent: no events.
   */
  verdictEvents?: { eventGridEndpoint: string };
  /**
   * The key that signs the verification summary (VSA) attached after each verdict: a Key Vault key
   * (`ACR_GUARD_ATTESTATION_KEY_ID`, Azure: signed in the vault) or a PEM file (`ACR_GUARD_ATTESTATION_KEY_FILE`,
   * local runs), with the verifier id (`ACR_GUARD_VERIFIER_ID`) and where verifiers find the policy
   * (`ACR_GUARD_POLICY_URI`). Absent: no VSA is attached.
   */
  attestation?: AttestationConfig;
}

/** The VSA signing key and identity (see {@link AppConfig.attestation}). */
export interface AttestationConfig {
  key: { kind: 'keyvault'; keyId: string } | { kind: 'file'; path: string };
  verifierId: string;
  policyUri: string;
}

/** The default `verifier.id` of acr-guard's VSAs. */
export const DEFAULT_VERIFIER_ID = 'https://github.com/acr-guard/acr-guard';

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

const DEV_STORAGE = /^\s*UseDevelopmentStorage=true\s*;?\s*$/i;
/** Azurite's default Table endpoint for `UseDevelopmentStorage=true` (one constant, with the dev account). */
const DEV_TABLE_ENDPOINT = AZURITE_DEV_ACCOUNT.tableUrl;
/** Storage account names: 3-24 lower-case letters and digits. */
const ACCOUNT_NAME = /^[a-z0-9]{3,24}$/;

function auditConfig(env: Env): AuditConfig {
  const tableName = env.ACR_GUARD_AUDIT_TABLE?.trim() || 'AcrGuardVerdicts';
  if (!/^[A-Za-z][A-Za-z0-9]{2,62}$/.test(tableName))
    throw invalid('ACR_GUARD_AUDIT_TABLE', 'a table name of 3-63 letters and digits starting with a letter', tableName);
  const table = (from: string, endpoint: string, devAccount = false): AuditConfig => ({
    kind: 'table',
    endpoint,
    tableName,
    devAccount,
    from,
  });
  // Plain http is accepted for a loopback Azurite only, and Azurite takes only its dev account over http.
  const tableAt = (from: string, value: string): AuditConfig => {
    const endpoint = httpsUrl(from, value, true);
    return table(from, endpoint, endpoint.startsWith('http:'));
  };
  const explicit = env.ACR_GUARD_AUDIT_TABLE_ENDPOINT?.trim();
  const dir = env.ACR_GUARD_AUDIT_DIR?.trim();
  if (explicit && dir)
    throw invalid(
      'ACR_GUARD_AUDIT_DIR',
      'only one of ACR_GUARD_AUDIT_TABLE_ENDPOINT and ACR_GUARD_AUDIT_DIR to be set',
    );
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
    if (!ACCOUNT_NAME.test(accountName))
      throw invalid(
        'AzureWebJobsStorage__accountName',
        'a storage account name of 3-24 lower-case letters and digits',
        accountName,
      );
    return table('AzureWebJobsStorage__accountName', `https://${accountName}.table.core.windows.net`);
  }
  if (env.AzureWebJobsStorage && DEV_STORAGE.test(env.AzureWebJobsStorage))
    return table('AzureWebJobsStorage', DEV_TABLE_ENDPOINT, true);
  throw invalid(
    'ACR_GUARD_AUDIT_TABLE_ENDPOINT',
    'the Table service URL for verdicts, e.g. https://<account>.table.core.windows.net (or AzureWebJobsStorage__tableServiceUri / __accountName, UseDevelopmentStorage=true for Azurite, or ACR_GUARD_AUDIT_DIR for a local file store)',
  );
}

/** Reads and validates the configuration; throws `INVALID_CONFIG` naming the setting. */
export function loadConfig(env: Env): AppConfig {
  const policyFile = env.ACR_GUARD_POLICY_FILE?.trim();
  const policyInline = env.ACR_GUARD_POLICY;
  if (policyFile && policyInline && policyInline.trim() !== '')
    throw invalid('ACR_GUARD_POLICY', 'only one of ACR_GUARD_POLICY and ACR_GUARD_POLICY_FILE to be set');
  const policy: AppConfig['policy'] =
    policyInline && policyInline.trim() !== ''
      ? { kind: 'inline', text: policyInline }
      : { kind: 'file', path: policyFile || 'policy/acr-guard.yaml' };

  // Managed identity only: a key or SAS in any setting the app reads is refused (naming the setting, never
  // showing the value). The Azurite dev account (`UseDevelopmentStorage=true`) is the one exception.
  for (const [key, value] of Object.entries(env)) {
    if (!(key.startsWith('ACR_GUARD_') || key.startsWith('AzureWebJobsStorage')) || !value || DEV_STORAGE.test(value))
      continue;
    if (/AccountKey=|SharedAccessSignature=|[?&;]sig=|^sig=/i.test(value)) {
      throw invalid(
        key,
        'no account key or SAS token (acr-guard uses its managed identity: grant it "Storage Table Data Contributor" and set the service URL instead)',
      );
    }
  }

  const audit = auditConfig(env);
  const azureClientId = env.AZURE_CLIENT_ID?.trim() || undefined;
  if (azureClientId && !GUID.test(azureClientId))
    throw invalid('AZURE_CLIENT_ID', 'the client id (a GUID) of the user-assigned managed identity', azureClientId);

  const defenderSubscriptions = list(env.ACR_GUARD_DEFENDER_SUBSCRIPTIONS);
  defenderSubscriptions.forEach((s, i) => {
    if (!GUID.test(s))
      throw invalid(
        'ACR_GUARD_DEFENDER_SUBSCRIPTIONS',
        `comma-separated subscription ids (GUIDs); item ${i + 1} is not one`,
        s,
      );
  });

  const plainHttpRegistries = list(env.ACR_GUARD_PLAIN_HTTP_REGISTRIES).map((h, i) => {
    const host = validateRegistryHost(h, `ACR_GUARD_PLAIN_HTTP_REGISTRIES[${i}]`);
    if (!isLoopbackHost(host))
      throw invalid(
        'ACR_GUARD_PLAIN_HTTP_REGISTRIES',
        'loopback hosts only (127.0.0.0/8, localhost, [::1]); a registry elsewhere must use https',
        h,
      );
    return host;
  });

  const dryRunText = (env.ACR_GUARD_DRY_RUN ?? 'false').trim().toLowerCase();
  if (dryRunText !== 'true' && dryRunText !== 'false')
    throw invalid('ACR_GUARD_DRY_RUN', '"true" or "false"', env.ACR_GUARD_DRY_RUN);

  const trustPolicyFile = env.ACR_GUARD_TRUST_POLICY_FILE?.trim();
  const trustStoreDir = env.ACR_GUARD_TRUST_STORE_DIR?.trim();
  if (Boolean(trustPolicyFile) !== Boolean(trustStoreDir)) {
    const missing = trustPolicyFile ? 'ACR_GUARD_TRUST_STORE_DIR' : 'ACR_GUARD_TRUST_POLICY_FILE';
    throw invalid(
      missing,
      'to be set together with ' +
        (trustPolicyFile
          ? 'ACR_GUARD_TRUST_POLICY_FILE (a notation trust store directory: x509/ca/<name>/...)'
          : 'ACR_GUARD_TRUST_STORE_DIR (a notation trustpolicy.json path)'),
    );
  }
  const trustBlobUrl = env.ACR_GUARD_TRUST_BLOB_URL?.trim();
  if (trustBlobUrl && trustPolicyFile)
    throw invalid(
      'ACR_GUARD_TRUST_BLOB_URL',
      'either ACR_GUARD_TRUST_BLOB_URL or the ACR_GUARD_TRUST_POLICY_FILE/ACR_GUARD_TRUST_STORE_DIR pair, not both',
    );
  if (trustBlobUrl) {
    let url: URL | undefined;
    try {
      url = new URL(trustBlobUrl);
    } catch {
      url = undefined;
    }
    const ok =
      url &&
      (url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.host))) &&
      !url.search &&
      !url.username &&
      url.pathname.length > 1;
    if (!ok)
      throw invalid(
        'ACR_GUARD_TRUST_BLOB_URL',
        'a blob container URL https://<account>.blob.core.windows.net/<container>[/<folder>] (no SAS: the managed identity reads it)',
        trustBlobUrl,
      );
  }
  const signatureTrust: AppConfig['signatureTrust'] = trustBlobUrl
    ? Object.freeze({ kind: 'blob' as const, url: trustBlobUrl })
    : trustPolicyFile && trustStoreDir
      ? Object.freeze({ kind: 'files' as const, policyFile: trustPolicyFile, storeDir: trustStoreDir })
      : undefined;

  const inUse = inUseConfig(env);
  const logIngestion = logIngestionConfig(env);
  const verdictEventGrid = optionalHttps(env, 'ACR_GUARD_VERDICT_EVENTGRID_ENDPOINT');
  const attestation = attestationConfig(env, policy);

  return Object.freeze({
    ...(verdictEventGrid ? { verdictEvents: Object.freeze({ eventGridEndpoint: verdictEventGrid }) } : {}),
    signatureTrust,
    inUse,
    ...(logIngestion ? { logIngestion } : {}),
    ...(attestation ? { attestation } : {}),
    policy: Object.freeze(policy),
    audit: Object.freeze(audit),
    azureClientId,
    defenderSubscriptions: Object.freeze(defenderSubscriptions),
    plainHttpRegistries: Object.freeze(plainHttpRegistries),
    dryRun: dryRunText === 'true',
  });
}

/**
 * The Logs Ingestion settings (`ACR_GUARD_LOG_INGESTION_ENDPOINT`, `ACR_GUARD_LOG_INGESTION_RULE_ID`): both or
 * neither; undefined when neither is set. Throws `INVALID_CONFIG` naming the setting.
 */
export function logIngestionConfig(env: Env): AppConfig['logIngestion'] {
  const endpointText = env.ACR_GUARD_LOG_INGESTION_ENDPOINT?.trim() ?? '';
  const ruleId = env.ACR_GUARD_LOG_INGESTION_RULE_ID?.trim() ?? '';
  if (!endpointText && !ruleId) return undefined;
  if (!endpointText)
    throw invalid(
      'ACR_GUARD_LOG_INGESTION_ENDPOINT',
      'the logs ingestion URL of the data collection endpoint (https://<endpoint>.<region>-1.ingest.monitor.azure.com), set together with ACR_GUARD_LOG_INGESTION_RULE_ID',
    );
  if (!DCR_IMMUTABLE_ID.test(ruleId))
    throw invalid(
      'ACR_GUARD_LOG_INGESTION_RULE_ID',
      'the immutable id of the data collection rule (dcr- and 32 hex digits), set together with ACR_GUARD_LOG_INGESTION_ENDPOINT',
      ruleId || undefined,
    );
  const endpoint = optionalHttps(env, 'ACR_GUARD_LOG_INGESTION_ENDPOINT')!;
  return Object.freeze({ endpoint, ruleId });
}

/** The VSA signing settings; undefined when neither key setting is set. */
export function attestationConfig(env: Env, policy: AppConfig['policy']): AttestationConfig | undefined {
  const keyId = env.ACR_GUARD_ATTESTATION_KEY_ID?.trim();
  const keyFile = env.ACR_GUARD_ATTESTATION_KEY_FILE?.trim();
  if (keyId && keyFile)
    throw invalid(
      'ACR_GUARD_ATTESTATION_KEY_ID',
      'either ACR_GUARD_ATTESTATION_KEY_ID (a Key Vault key) or ACR_GUARD_ATTESTATION_KEY_FILE (a PEM file), not both',
    );
  if (!keyId && !keyFile) return undefined;
  if (keyId && !/^https:\/\/[^/?#@]+\/keys\/[0-9a-zA-Z-]{1,127}(\/[0-9a-f]{32})?$/.test(keyId))
    throw invalid(
      'ACR_GUARD_ATTESTATION_KEY_ID',
      'a Key Vault key id https://<vault>.vault.azure.net/keys/<name>[/<version>]',
      keyId,
    );
  const uri = (setting: string, fallback: string): string => {
    const value = env[setting]?.trim() || fallback;
    if (!/^[a-z][a-z0-9+.-]*:\S+$/i.test(value)) throw invalid(setting, 'a URI (e.g. https://… or file:…)', value);
    return value;
  };
  return Object.freeze({
    key: Object.freeze(
      keyId ? { kind: 'keyvault' as const, keyId } : { kind: 'file' as const, path: keyFile as string },
    ),
    verifierId: uri('ACR_GUARD_VERIFIER_ID', DEFAULT_VERIFIER_ID),
    policyUri: uri(
      'ACR_GUARD_POLICY_URI',
      policy.kind === 'file' ? `file:${policy.path}` : 'acr-guard:ACR_GUARD_POLICY',
    ),
  });
}

/** The in-use lookup's settings (`ACR_GUARD_INUSE_SCOPES`, `ACR_GUARD_ARM_ENDPOINT`); undefined when no scope is set. */
export function inUseConfig(env: Env): AppConfig['inUse'] {
  let scopes: InUseScope[];
  try {
    scopes = parseInUseScopes(env.ACR_GUARD_INUSE_SCOPES ?? '', 'ACR_GUARD_INUSE_SCOPES');
  } catch (err) {
    throw new GuardError(ErrorCodes.INVALID_CONFIG, `app setting ${(err as Error).message}`, {
      field: 'ACR_GUARD_INUSE_SCOPES',
    });
  }
  if (scopes.length === 0) return undefined;
  return Object.freeze({
    scopes: Object.freeze(scopes.map((s) => Object.freeze(s))),
    armEndpoint: optionalHttps(env, 'ACR_GUARD_ARM_ENDPOINT', 'https://management.azure.com')!,
  });
}

/**
 * A log-safe summary of the configuration: it holds no secret (keys and SAS are refused), and the inline
 * policy is shown by size only.
 */
export function describeConfig(config: AppConfig): string {
  const policy =
    config.policy.kind === 'file' ? `file ${config.policy.path}` : `inline (${config.policy.text.length} chars)`;
  const audit =
    config.audit.kind === 'table'
      ? `table ${config.audit.tableName} at ${config.audit.endpoint}${config.audit.devAccount ? ' (Azurite dev account)' : ''} (from ${config.audit.from})`
      : `files in ${config.audit.dir}`;
  const plainHttp = config.plainHttpRegistries.length ? config.plainHttpRegistries.join(',') : 'none';
  return `policy: ${policy}; audit: ${audit}; identity: ${config.azureClientId ? `user-assigned ${config.azureClientId}` : 'system-assigned'}; defender subscriptions: ${config.defenderSubscriptions.length || 'all accessible'}; plain-http registries: ${plainHttp}; dry run: ${config.dryRun}; signature trust: ${describeTrust(config.signatureTrust)}; in-use protection: ${config.inUse ? `${config.inUse.scopes.length} scope(s)` : 'off (ACR_GUARD_INUSE_SCOPES not set)'}`;
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
    if (isGuardError(err)) throw err; // the bounded reader's own errors already name the setting and the limit
    const code = (err as NodeJS.ErrnoException).code;
    throw new GuardError(
      ErrorCodes.INVALID_CONFIG,
      `app setting ACR_GUARD_POLICY_FILE: cannot read the policy file ${config.policy.path} (${typeof code === 'string' ? code : 'error'})`,
      { field: 'ACR_GUARD_POLICY_FILE' },
    );
  }
}
