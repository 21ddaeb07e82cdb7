/**
 * The Functions app's runtime: configuration read once from the app settings, the policy loaded once, and
 * the gate services wired with managed identity. Built lazily on first use so a bad setting fails the
 * invocation with a message naming the setting instead of crashing the worker at import.
 */
import { readFileSync } from 'node:fs';
import { DefaultAzureCredential, ManagedIdentityCredential, type TokenCredential } from '@azure/identity';
import { loadConfig, type AppConfig } from './config';
import { loadPolicy } from './core/policy';
import type { Policy } from './core/policyTypes';
import { TableAuditStore, FileAuditStore } from './adapters/auditStore';
import type { AuditStore } from './adapters/ports';
import { composeGateServices } from './compose';
import type { GateServices } from './orchestrations/services';

/** What the triggers need from the runtime. */
export interface Runtime {
  config: AppConfig;
  policy: () => Policy;
  services: GateServices;
}

let runtime: Runtime | undefined;

function credentialFor(config: AppConfig): TokenCredential {
  // A user-assigned identity is named by AZURE_CLIENT_ID; otherwise the system-assigned one (or, on a
  // developer machine, whatever DefaultAzureCredential finds).
  return config.azureClientId ? new ManagedIdentityCredential({ clientId: config.azureClientId }) : new DefaultAzureCredential();
}

function auditFor(config: AppConfig, credential: TokenCredential): AuditStore {
  if (config.audit.kind === 'table') {
    return new TableAuditStore({ endpoint: config.audit.endpoint, tableName: config.audit.tableName, credential });
  }
  return new FileAuditStore(config.audit.dir);
}

/** The runtime, built on first call from `process.env`. */
export function getRuntime(): Runtime {
  if (runtime) return runtime;
  const config = loadConfig(process.env);
  const policyText = config.policy.kind === 'inline' ? config.policy.text : readFileSync(config.policy.path, 'utf8');
  const policy = loadPolicy(policyText, config.policy.kind === 'inline' ? 'ACR_GUARD_POLICY' : config.policy.path);
  const credential = credentialFor(config);
  const services = composeGateServices({
    policy: () => policy,
    audit: auditFor(config, credential),
    credential,
    plainHttpHosts: config.plainHttpRegistries,
    defenderSubscriptions: config.defenderSubscriptions,
  });
  runtime = Object.freeze({ config, policy: () => policy, services });
  return runtime;
}
