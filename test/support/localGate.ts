/**
 * One gate run through the real durable-functions replay driver (src/local/gateRunner.ts) with virtual timers,
 * composed as the app composes it (src/app/compose.ts): the real reports source against the plain-http loopback
 * registry the image is on, and a fresh in-memory audit store.
 */
import { MemoryAuditStore } from '../../src/adapters/auditStore';
import { composeGateServices, type ComposeOptions } from '../../src/app/compose';
import type { Policy } from '../../src/core/policyTypes';
import type { ImageId } from '../../src/core/types';
import { runGateLocally } from '../../src/local/gateRunner';
import type { GateOutcome } from '../../src/orchestrations/imageGate';

/** How {@link gatePushed} gates: the policy, the orchestration's start time, and how signatures are verified. */
export interface GatePushedOptions extends Pick<ComposeOptions, 'verifySignatures' | 'signatureTrust'> {
  policy: Policy;
  /** The orchestration's start time (the replay's clock). */
  startTime: Date;
  /** The tag the push named (default `1.0`). */
  tag?: string;
}

/**
 * Gates `image` once as a push of its tag, under `instanceId`, and returns the outcome. Signatures go to
 * `verifySignatures` when given, else to the gate's own verifier under `signatureTrust`.
 */
export function gatePushed(image: ImageId, instanceId: string, options: GatePushedOptions): Promise<GateOutcome> {
  const { policy } = options;
  return runGateLocally({
    image,
    tag: options.tag ?? '1.0',
    trigger: 'push',
    services: composeGateServices({
      policy: () => policy,
      audit: new MemoryAuditStore(),
      plainHttpHosts: [image.registry],
      ...(options.verifySignatures ? { verifySignatures: options.verifySignatures } : {}),
      ...(options.signatureTrust ? { signatureTrust: options.signatureTrust } : {}),
    }),
    timers: 'virtual',
    startTime: options.startTime,
    instanceId,
  });
}
