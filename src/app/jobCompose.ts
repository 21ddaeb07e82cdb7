/**
 * Builds the alert run and the rotation run from validated settings, for the timers and the CLI alike.
 * `ca` (a PEM to trust) exists for loopback stand-ins in tests and local runs; Azure uses the system CAs.
 */
import { readBoundedTextSync } from '../adapters/boundedFile';
import type { TokenCredential } from '@azure/identity';
import { Agent as HttpsAgent } from 'node:https';
import { inUseConfig, type AuditConfig } from './config';
import type { AlertsConfig, AlertSinksConfig, RotationConfig } from './timerConfig';
import { buildSnapshot } from '../core/doctor/snapshot';
import { AzureInventory } from '../adapters/azureInventory';
import { alertDiagnoser } from '../jobs/doctor';
import { MAX_FILE_BYTES, loadRuleSet } from '../core/alerts/ruleSet';
import type { AlertRule } from '../core/alerts/rule';
import { ErrorCodes, GuardError, isGuardError } from '../core/errors';
import { azuriteDevCredential } from '../adapters/auditStore';
import { auditStoreFor } from './compose';
import { EventGridSink, WebhookSink } from '../adapters/alertSinks';
import { MemoryAlertStateStore, TableAlertStateStore } from '../adapters/alertState';
import { ArmTokenAdmin } from '../adapters/acrTokens';
import { KeyVaultSecretStore } from '../adapters/keyVaultSecrets';
import { LogAnalyticsQueryClient } from '../adapters/logAnalytics';
import type { AlertSink, AlertStateStore } from '../adapters/ports';
import { createTlsFetch } from '../adapters/registry/tlsFetch';
import type { AlertRunOptions, Log } from '../jobs/alertRun';
import type { RotationRunOptions } from '../jobs/tokenRotation';

/** What every timer run needs besides its settings. */
export interface TimerDeps {
  credential: TokenCredential;
  /** Extra CA (PEM) for loopback stand-ins (tests, local runs). */
  ca?: string;
  log?: Log;
  /** Reads a file (alerts rules file); default `fs.readFileSync`. */
  readFile?: (path: string) => string;
}

/** Reads the alert rules file through the bounded reader (at most {@link MAX_FILE_BYTES}, before parsing). */
function readRulesFile(path: string): string {
  return readBoundedTextSync(path, {
    maxBytes: MAX_FILE_BYTES,
    field: 'ACR_GUARD_ALERT_RULES_FILE',
    what: 'alert rules file',
  });
}

/** The alert rules: shipped, changed by the alerts file when one is configured. */
export function rulesFor(
  config: Pick<AlertsConfig, 'rulesFile'>,
  readFile: (path: string) => string = readRulesFile,
): AlertRule[] {
  if (!config.rulesFile) return loadRuleSet(undefined);
  let text: string;
  try {
    text = readFile(config.rulesFile);
  } catch (err) {
    if (isGuardError(err)) throw err; // the bounded reader's own errors already name the setting and the limit
    throw new GuardError(
      ErrorCodes.INVALID_CONFIG,
      `app setting ACR_GUARD_ALERT_RULES_FILE: cannot read ${config.rulesFile} (${String((err as NodeJS.ErrnoException).code ?? 'error')})`,
      { field: 'ACR_GUARD_ALERT_RULES_FILE' },
    );
  }
  return loadRuleSet(text, config.rulesFile);
}

/** The configured sinks (Event Grid topic, webhook whose URL is read from Key Vault once per process). */
export function sinksFor(config: AlertSinksConfig, deps: TimerDeps): AlertSink[] {
  const fetchFn = deps.ca ? createTlsFetch({ ca: deps.ca }) : undefined;
  const sinks: AlertSink[] = [];
  if (config.eventGridEndpoint)
    sinks.push(new EventGridSink({ endpoint: config.eventGridEndpoint, credential: deps.credential, fetch: fetchFn }));
  if (config.webhookUrlSecret && config.keyVaultUrl) {
    const vault = new KeyVaultSecretStore({ credential: deps.credential, vaultUrl: config.keyVaultUrl, ca: deps.ca });
    const name = config.webhookUrlSecret;
    let url: Promise<string> | undefined;
    sinks.push(
      new WebhookSink({
        url: () => {
          url ??= vault.readBack(name).then(
            (s) => s.value,
            (err: unknown) => {
              url = undefined;
              throw err;
            },
          );
          return url;
        },
        format: config.webhookFormat,
        fetch: fetchFn,
      }),
    );
  }
  return sinks;
}

/** De-duplication state beside the audit table (same account); in memory when the audit store is files. */
export function alertStateFor(
  audit: AuditConfig | undefined,
  tableName: string,
  credential: TokenCredential,
): AlertStateStore {
  if (!audit || audit.kind === 'file') return new MemoryAlertStateStore();
  return audit.devAccount
    ? new TableAlertStateStore({
        endpoint: audit.endpoint,
        tableName,
        credential: azuriteDevCredential(),
        allowInsecureConnection: true,
      })
    : new TableAlertStateStore({ endpoint: audit.endpoint, tableName, credential });
}

/** Where the image-pull alert's doctor diagnosis reads (see {@link doctorScopeFrom}). */
export interface DoctorScope {
  /** A subscription or resource group id. */
  scope: string;
  armEndpoint: string;
}

/**
 * The scope the alert's diagnosis reads: the first subscription or resource group of `ACR_GUARD_INUSE_SCOPES`
 * (the deployment's own resource group, where the custom reader role grants doctor's read actions); none when
 * unset or invalid (the in-use lookup reports that; the alert must not fail for it).
 */
export function doctorScopeFrom(env: Record<string, string | undefined>): DoctorScope | undefined {
  try {
    const inUse = inUseConfig(env);
    const first = inUse?.scopes.find((s) => s.kind === 'subscription' || s.kind === 'resourceGroup');
    return inUse && first ? { scope: first.id, armEndpoint: inUse.armEndpoint } : undefined;
  } catch {
    return undefined;
  }
}

/** Everything {@link runAlertRules} needs except the time (with `doctor`, the image-pull alert carries a diagnosis). */
export function alertRunFor(
  config: AlertsConfig,
  audit: AuditConfig | undefined,
  deps: TimerDeps,
  options: { dryRun: boolean; rule?: string; doctor?: DoctorScope },
): Omit<AlertRunOptions, 'nowMs'> {
  let rules = rulesFor(config, deps.readFile);
  if (options.rule !== undefined) {
    const one = rules.find((r) => r.name === options.rule);
    if (!one)
      throw new GuardError(
        ErrorCodes.INVALID_INPUT,
        `--rule: expected one of ${rules.map((r) => r.name).join(', ')}, got ${JSON.stringify(options.rule)}`,
        { field: 'rule' },
      );
    rules = [{ ...one, enabled: true }];
  }
  return {
    rules,
    logs: new LogAnalyticsQueryClient({
      credential: deps.credential,
      workspaceId: config.workspaceId,
      endpoint: config.logsEndpoint,
      ca: deps.ca,
    }),
    state: alertStateFor(audit, config.stateTable, deps.credential),
    sinks: sinksFor(config.sinks, deps),
    audit: audit ? auditStoreFor(audit, deps.credential) : undefined,
    concurrency: config.concurrency,
    dryRun: options.dryRun,
    log: deps.log,
    ...(options.doctor ? { diagnose: diagnoserFor(options.doctor, audit, deps) } : {}),
  };
}

/** `doctor pull <app>` over the live inventory of the scope, with the gate's verdicts, bounded in time. */
function diagnoserFor(
  doctor: DoctorScope,
  audit: AuditConfig | undefined,
  deps: TimerDeps,
): (app: string) => Promise<unknown> {
  const inventory = new AzureInventory({
    credential: deps.credential,
    endpoint: doctor.armEndpoint,
    httpsAgent: deps.ca ? new HttpsAgent({ ca: deps.ca, keepAlive: false }) : undefined,
  });
  return alertDiagnoser({
    snapshot: async () => buildSnapshot((await inventory.snapshot(doctor.scope)).resources),
    audit: audit ? auditStoreFor(audit, deps.credential) : undefined,
  });
}

/** Everything {@link rotateTokens} needs except the time. */
export function rotationRunFor(
  config: RotationConfig,
  audit: AuditConfig | undefined,
  deps: TimerDeps,
  options: { dryRun: boolean },
): Omit<RotationRunOptions, 'nowMs'> {
  return {
    state: alertStateFor(audit, config.stateTable, deps.credential),
    tokenIds: config.tokens,
    tokens: new ArmTokenAdmin({ credential: deps.credential, endpoint: config.armEndpoint, ca: deps.ca }),
    secrets: new KeyVaultSecretStore({ credential: deps.credential, vaultUrl: config.keyVaultUrl, ca: deps.ca }),
    sinks: sinksFor(config.sinks, deps),
    settings: { validityMs: config.validityMs, renewBeforeMs: config.renewBeforeMs },
    dryRun: options.dryRun,
    log: deps.log,
  };
}
