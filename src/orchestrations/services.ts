/**
 * The services the `imageGate` activities use. Activities are invoked by the host (or the local driver) with
 * JSON input only, so their dependencies live in one process-wide container set once at startup by the
 * composition root (`runtime.ts` in Azure, `local/localGate.ts` locally).
 */
import type { AuditStore, FindingsSource, InUseLookup, RegistryClientFactory } from '../adapters/ports';
import type { Policy } from '../core/policyTypes';
import type { ImageId, ResolvedManifest, SignatureResult } from '../core/types';

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
}

let current: GateServices | undefined;
let provider: (() => GateServices) | undefined;

/** Installs the services (replacing any earlier ones). */
export function setGateServices(services: GateServices): void {
  current = services;
}

/**
 * Installs a provider that builds the services on first use. In Azure an activity may run on a worker
 * that never ran a trigger, so the app registers the runtime's builder here instead of relying on order.
 */
export function setGateServicesProvider(build: () => GateServices): void {
  provider = build;
}

/** The installed services; throws when none were installed (a wiring mistake, not a runtime condition). */
export function getGateServices(): GateServices {
  if (!current && provider) current = provider();
  if (!current) {
    throw new Error(
      'imageGate services are not configured: call setGateServices() (runtime.ts in Azure, runGateLocally locally) before running the gate',
    );
  }
  return current;
}

/**
 * A signature verifier that answers inconclusive for every image (orchestration tests that are not about
 * signatures). The app's verifier is `adapters/signatureVerifier.ts`, wired by `compose.ts`.
 */
export const notYetVerifySignatures: GateServices['verifySignatures'] = async () => ({
  status: 'inconclusive',
  reason: 'signature verification is not available yet (no verifier configured)',
  signatures: [],
});
