/**
 * The composition shared by every host: builds the gate's services (registry clients, findings sources, audit
 * store, in-use lookup) from a policy, the validated configuration and a few options. The Functions app
 * (`functions/runtime.ts`), the CLI and the local service all use it, so they run the same adapters; adapters
 * never read the configuration themselves.
 */
import type { TokenCredential } from '@azure/identity';
import { GuardError, ErrorCodes } from '../core/errors';
import { isRegistryAllowed } from '../core/policyLookup';
import { isAcrHost } from '../core/acrHost';
import type { Policy } from '../core/policyTypes';
import type {
  AuditStore,
  FindingsSource,
  InUseLookup,
  RegistryClient,
  RegistryClientFactory,
  RuntimeAssuranceStore,
  VerdictListing,
} from '../adapters/ports';
import { createRegistryClient } from '../adapters/registry';
import { FileAuditStore, TableAuditStore, azuriteDevCredential } from '../adapters/auditStore';
import { ArmInUseLookup } from '../adapters/inUseLookup';
import type { AppConfig, AuditConfig } from './config';
import { LogIngestionSink } from '../adapters/logIngestion';
import { LogRowsAuditStore } from './logRowsStore';
import { ReportsFindingsSource } from '../adapters/reportsSource';
import { DefenderFindingsSource } from '../adapters/defenderSource';
import { createSignatureVerifier, type SignatureTrust } from '../adapters/signatureVerifier';
import type { GateServices } from '../orchestrations/services';

/** Product token of the User-Agent acr-guard's registry clients send (`acr-guard/<version>`). */
export const ACR_GUARD_USER_AGENT = 'acr-guard';

/** Options for {@link composeGateServices}. */
export interface ComposeOptions {
  /** Returns the current policy (loaded and validated once by the caller). */
  policy: () => Policy;
  audit: AuditStore;
  /** Entra ID credential for ACR and Resource Graph; absent locally (anonymous registries, no Defender). */
  credential?: TokenCredential;
  /** Hosts that may be reached over plain http (loopback only; validated by config/CLI). */
  plainHttpHosts?: readonly string[];
  /** Subscriptions Resource Graph searches for Defender findings; all accessible ones when empty. */
  defenderSubscriptions?: readonly string[];
  /**
   * Builds the client for an (allowlisted) host instead of the default: for registries that need options the
   * defaults cannot infer, such as an ACR-compatible endpoint on a non-`azurecr.io` host in tests.
   */
  createClient?: (host: string) => RegistryClient;
  /** Overrides the signature verifier (tests). */
  verifySignatures?: GateServices['verifySignatures'];
  /**
   * Trust policy and trust store for the in-process signature verifier (or a loader run on first use).
   * Absent: signatures answer inconclusive, saying what to configure.
   */
  signatureTrust?: SignatureTrust | (() => Promise<SignatureTrust>);
  /** Deployed-image lookup for retention's in-use protection (absent: rules that protect images in use do not run). */
  inUse?: InUseLookup;
  /** Record of the apply step's promotion writes (the local service's notification receiver reads it). */
  promotions?: GateServices['promotions'];
  /** Verdict event publishers (Event Grid topic in Azure, webhook locally). */
  verdictEvents?: GateServices['verdictEvents'];
  /** The signed verdict's signer and identity (absent: no VSA is attached). */
  attestation?: GateServices['attestation'];
}

/**
 * A registry client factory that refuses any host outside the policy's allowlist before a connection is
 * made (defence in depth: triggers check the allowlist too), and reuses one client (and its token cache)
 * per host.
 */
export function allowlistedRegistryFactory(
  options: Pick<ComposeOptions, 'policy' | 'credential' | 'plainHttpHosts' | 'createClient'>,
): RegistryClientFactory {
  const clients = new Map<string, RegistryClient>();
  return (host: string): RegistryClient => {
    if (!isRegistryAllowed(options.policy(), host)) {
      throw new GuardError(
        ErrorCodes.REGISTRY_NOT_ALLOWED,
        `registry ${host} is not in the policy's registries allowlist; no request was made`,
        { field: 'registry' },
      );
    }
    let client = clients.get(host);
    if (!client) {
      client =
        options.createClient?.(host) ??
        createRegistryClient({
          host,
          plainHttp: options.plainHttpHosts?.includes(host) ?? false,
          credential: isAcrHost(host) ? options.credential : undefined,
          userAgent: `${ACR_GUARD_USER_AGENT}/0.1`,
        });
      clients.set(host, client);
    }
    return client;
  };
}

/**
 * Every audit store the configuration can name (file, Table, either wrapped for Log Analytics) records the gate's
 * verdicts, keeps runtime assurance's side and lists verdicts for the page: the type says all three, so no
 * caller tests a store for a side it might lack.
 */
export type ConfiguredAuditStore = AuditStore & RuntimeAssuranceStore & VerdictListing;

/** Builds the services the `imageGate` activities use (`audit` keeps the type it was given). */
export function composeGateServices<A extends AuditStore>(
  options: ComposeOptions & { audit: A },
): GateServices & { audit: A } {
  const registry = allowlistedRegistryFactory(options);
  const verifySignatures =
    options.verifySignatures ?? createSignatureVerifier({ registry, trust: options.signatureTrust });
  // Reports signed under a named trust policy (policy `reportsSignedBy`) are checked by the same verifier.
  const sources: FindingsSource[] = [new ReportsFindingsSource({ registry, verifyReport: verifySignatures })];
  if (options.credential) {
    sources.push(
      new DefenderFindingsSource({
        credential: options.credential,
        subscriptions: options.defenderSubscriptions ? [...options.defenderSubscriptions] : undefined,
      }),
    );
  }
  const services: GateServices & { audit: A } = {
    policy: options.policy,
    registry,
    sources,
    audit: options.audit,
    verifySignatures,
    ...(options.inUse ? { inUse: options.inUse } : {}),
    ...(options.verdictEvents && options.verdictEvents.length > 0 ? { verdictEvents: options.verdictEvents } : {}),
    ...(options.promotions ? { promotions: options.promotions } : {}),
    ...(options.attestation ? { attestation: options.attestation } : {}),
  };
  return services;
}

/** Options of {@link auditStoreFor}: the Logs Ingestion copy of what is recorded. */
export interface AuditStoreOptions {
  /** `AppConfig.logIngestion`: set, every verdict, purge summary and runtime report is also sent as rows. */
  logIngestion?: AppConfig['logIngestion'];
  /** Where a failed copy is reported (default `console.warn`, which the Functions host logs). */
  log?: (message: string) => void;
  /** Extra CA (PEM) for a loopback Logs Ingestion stand-in (tests). */
  ca?: string;
}

/**
 * The audit store the configuration names: a Table store with `credential` (managed identity), or with
 * Azurite's dev account over http when the configuration says Azurite, or a file store; with
 * `options.logIngestion`, wrapped so that what it records is also copied to Log Analytics.
 */
export function auditStoreFor(
  audit: AuditConfig,
  credential: TokenCredential,
  options: AuditStoreOptions = {},
): ConfiguredAuditStore {
  const store = baseAuditStore(audit, credential);
  if (!options.logIngestion) return store;
  const log = options.log ?? ((message: string) => console.warn(message));
  const sink = new LogIngestionSink({
    credential,
    endpoint: options.logIngestion.endpoint,
    ruleId: options.logIngestion.ruleId,
    log,
    ca: options.ca,
  });
  return new LogRowsAuditStore(store, sink, log);
}

function baseAuditStore(audit: AuditConfig, credential: TokenCredential): FileAuditStore | TableAuditStore {
  if (audit.kind === 'file') return new FileAuditStore(audit.dir);
  return audit.devAccount
    ? new TableAuditStore({
        endpoint: audit.endpoint,
        tableName: audit.tableName,
        credential: azuriteDevCredential(),
        allowInsecureConnection: true,
      })
    : new TableAuditStore({ endpoint: audit.endpoint, tableName: audit.tableName, credential });
}

/**
 * The in-use lookup the configuration asks for, or `undefined` when `ACR_GUARD_INUSE_SCOPES` is empty (local
 * runs): the purge must then say that in-use protection is off. `ca` trusts a loopback ARM stand-in.
 */
export function inUseLookupFor(
  config: Pick<AppConfig, 'inUse'>,
  credential: TokenCredential,
  options: { ca?: string } = {},
): ArmInUseLookup | undefined {
  if (!config.inUse) return undefined;
  return new ArmInUseLookup({
    credential,
    scopes: config.inUse.scopes,
    endpoint: config.inUse.armEndpoint,
    ca: options.ca,
  });
}
