/**
 * The services the orchestrations' activities use. Each host builds them once in its composition root and
 * hands them to `gateActivities(services)` / `purgeActivities(services)`, which close over them: nothing here
 * is process-wide, so two runners in one process never see each other's services.
 */
import type {
  AlertSink,
  AlertStateStore,
  AuditStore,
  FindingsSource,
  InUseLookup,
  RegistryClientFactory,
  VerdictPublisher,
} from '../adapters/ports';
import type { Policy } from '../core/policyTypes';
import type { ImageId, ResolvedManifest, SignatureResult } from '../core/types';
import type { AttestationSigner } from '../adapters/attestationSigner';

/** Input of {@link GateServices.verifySignatures}. */
export interface VerifySignaturesInput {
  /** The pushed image (for an index: the index digest, which is what its signatures sign). */
  image: ImageId;
  manifest: ResolvedManifest;
  /** Trust policy name from the gate rule. */
  trustPolicy?: string;
}

/** Everything the gate's activities depend on. */
export interface GateServices {
  /** The current, validated policy. */
  policy: () => Policy;
  /** Registry clients by host (allowlisted by the factory). */
  registry: RegistryClientFactory;
  /** Findings sources; the rule's effective sources pick among them by name. */
  sources: FindingsSource[];
  audit: AuditStore;
  verifySignatures: (input: VerifySignaturesInput) => Promise<SignatureResult>;
  /**
   * Images deployed in Container Apps and Container Instances (retention's in-use protection). Absent: a
   * retention rule that protects images in use does not run (fail closed).
   */
  inUse?: InUseLookup;
  /**
   * Where the apply step notes each manifest it writes into a release repository, before writing it (the local
   * service's notification receiver recognises acr-guard's own pushes by this record). Absent: not recorded.
   */
  promotions?: { record(image: ImageId): void };
  /**
   * Where each recorded verdict is published as a CloudEvent (after recordVerdict; delivery never changes the
   * verdict). Absent or empty: no event, and the gate schedules no publishing step.
   */
  verdictEvents?: readonly VerdictPublisher[];
  /**
   * Where the purge alerts a plan held past the deletion cap, built on first use (absent, or failing to build:
   * the held plan is still in the recorded summary, and logged).
   */
  purgeAlerts?: () => PurgeAlerts;
  /**
   * The signed verdict (VSA) attached after each applied verdict: the signer (a PEM file or a Key Vault key),
   * the verifier id and where the policy lives. Absent: no VSA is attached (promotions still copy referrers).
   */
  attestation?: { signer: AttestationSigner; verifierId: string; policyUri: string };
}

/**
 * What an activity gets from its host besides its input: the invocation's log (in Azure the
 * `InvocationContext`, so lines carry the orchestration's correlation; locally the driver's logger).
 */
export interface ActivityContext {
  log(...args: unknown[]): void;
  warn(...args: unknown[]): void;
}

/** An activity context that drops every line (tests and callers that run an activity directly). */
export const SILENT_ACTIVITY_CONTEXT: ActivityContext = Object.freeze({ log: () => undefined, warn: () => undefined });

/** Where the purge raises its alerts (a plan held past the deletion cap): the sinks and their de-duplication. */
export interface PurgeAlerts {
  sinks: readonly AlertSink[];
  state: AlertStateStore;
}

/** What the purge's activities depend on: a subset of the gate's services. */
export type PurgeServices = Pick<GateServices, 'policy' | 'registry' | 'audit' | 'inUse' | 'purgeAlerts'>;
