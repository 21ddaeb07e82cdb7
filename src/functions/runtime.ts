/**
 * The Functions app's runtime: configuration read from the app settings, the policy loaded, and the gate
 * services wired with managed identity. `functions/index.ts` builds it once, on first use, so a bad setting
 * fails the invocation with a message naming the setting instead of crashing the worker at import.
 */
import type * as Identity from '@azure/identity';
import type { TokenCredential } from '@azure/identity';
import { readBoundedTextSync } from '../adapters/boundedFile';
import { keyVaultSigner, pemFileSigner } from '../adapters/attestationSigner';
import { loadConfig, readPolicyText, type AppConfig } from '../app/config';
import { MAX_POLICY_BYTES, loadPolicy } from '../core/policy';
import type { Policy } from '../core/policyTypes';
import { auditStoreFor, composeGateServices, inUseLookupFor, type ConfiguredAuditStore } from '../app/compose';
import { loadSignatureTrust } from '../adapters/trustStoreFiles';
import { loadSignatureTrustFromBlob } from '../adapters/trustStoreBlob';
import { EventGridVerdictPublisher } from '../adapters/verdictEvents';
import type { SignatureTrust } from '../adapters/signatureVerifier';
import type { GateServices } from '../orchestrations/services';

/** What the triggers need from the runtime. */
export interface Runtime {
  config: AppConfig;
  policy: () => Policy;
  /** The gate's services; their audit store is the configured one, with its runtime side and its listing. */
  services: GateServices & { audit: ConfiguredAuditStore };
  /** The app's Entra ID credential (managed identity), for the timers' Azure clients. */
  credential: TokenCredential;
}

/** `@azure/identity`, loaded on first use: a cold start that does not reach this adapter does not pay for it. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const identity = (): typeof Identity => require('@azure/identity');

function credentialFor(config: AppConfig): TokenCredential {
  // A user-assigned identity is named by AZURE_CLIENT_ID; otherwise the system-assigned one (or, on a
  // developer machine, whatever DefaultAzureCredential finds).
  return config.azureClientId
    ? new (identity().ManagedIdentityCredential)({ clientId: config.azureClientId })
    : new (identity().DefaultAzureCredential)();
}

/** Loads the signature trust material named by the settings once, on the first verification. */
function trustLoader(config: AppConfig, credential: TokenCredential): (() => Promise<SignatureTrust>) | undefined {
  const t = config.signatureTrust;
  if (!t) return undefined;
  if (t.kind === 'blob')
    return () => loadSignatureTrustFromBlob({ url: t.url, credential, field: 'ACR_GUARD_TRUST_BLOB_URL' });
  return () =>
    loadSignatureTrust(t.policyFile, t.storeDir, {
      policy: 'ACR_GUARD_TRUST_POLICY_FILE',
      store: 'ACR_GUARD_TRUST_STORE_DIR',
    });
}

/** The VSA signer the settings name (a Key Vault key in Azure: the private key never leaves the vault). */
function attestationFor(config: AppConfig, credential: TokenCredential): GateServices['attestation'] {
  const a = config.attestation;
  if (!a) return undefined;
  const signer =
    a.key.kind === 'keyvault'
      ? keyVaultSigner({ credential, keyId: a.key.keyId })
      : pemFileSigner(a.key.path, 'ACR_GUARD_ATTESTATION_KEY_FILE');
  return { signer, verifierId: a.verifierId, policyUri: a.policyUri };
}

/** The settings and the identity: all the timers need (they never depend on the policy being valid). */
export interface RuntimeBase {
  config: AppConfig;
  credential: TokenCredential;
}

/** Reads the settings and builds the app's identity. */
export function buildRuntimeBase(env: Record<string, string | undefined>): RuntimeBase {
  const config = loadConfig(env);
  return { config, credential: credentialFor(config) };
}

/** Builds the runtime (policy and gate services) on top of the settings and identity. */
export function buildRuntime(base: RuntimeBase): Runtime {
  const { config, credential } = base;
  const policyText = readPolicyText(config, (path) =>
    readBoundedTextSync(path, { maxBytes: MAX_POLICY_BYTES, field: 'ACR_GUARD_POLICY_FILE', what: 'policy file' }),
  );
  const policy = loadPolicy(policyText, config.policy.kind === 'inline' ? 'ACR_GUARD_POLICY' : config.policy.path);
  const services = composeGateServices({
    policy: () => policy,
    // Verdicts, purge summaries and runtime reports are also copied to Log Analytics when the Logs Ingestion
    // settings are set (the workbook's tables); a failed copy is logged and changes nothing.
    audit: auditStoreFor(config.audit, credential, { logIngestion: config.logIngestion }),
    credential,
    plainHttpHosts: config.plainHttpRegistries,
    defenderSubscriptions: config.defenderSubscriptions,
    signatureTrust: trustLoader(config, credential),
    // Retention (per push and nightly) never deletes what Container Apps or container groups run; without
    // ACR_GUARD_INUSE_SCOPES, rules that protect images in use skip their repositories.
    inUse: inUseLookupFor(config, credential),
    // Each recorded verdict as a CloudEvent to the topic (ACR_GUARD_VERDICT_EVENTGRID_ENDPOINT), when set.
    ...(config.verdictEvents
      ? {
          verdictEvents: [
            new EventGridVerdictPublisher({ endpoint: config.verdictEvents.eventGridEndpoint, credential }),
          ],
        }
      : {}),
    attestation: attestationFor(config, credential),
  });
  return Object.freeze({ config, policy: () => policy, services, credential });
}
