/**
 * One gate run through the real durable-functions replay driver: {@link gatePushed} composed as the app composes
 * it (src/app/compose.ts) through src/local/orchestrationHost.ts with virtual timers, the real reports source against the
 * plain-http loopback registry the image is on, and a fresh in-memory audit store; {@link replayGate} the real
 * `imageGate` orchestrator over activities the test chose.
 */
import { MemoryAuditStore } from '../../src/adapters/auditStore';
import { composeGateServices, type ComposeOptions } from '../../src/app/compose';
import type { Policy } from '../../src/core/policyTypes';
import type { ImageId } from '../../src/core/types';
import { runOrchestration } from '../../src/local/durableDriver';
import { runGateLocally } from '../../src/local/orchestrationHost';
import type { gateActivities } from '../../src/orchestrations/activities';
import { imageGateOrchestrator, type GateInput, type GateOutcome } from '../../src/orchestrations/imageGate';
import { ORCH_IMAGE_GATE } from '../../src/orchestrations/names';
import { ORCHESTRATION_VERSION } from '../../src/orchestrations/versions';

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

/**
 * Runs the real `imageGate` orchestrator on `input` under `instanceId` through the local replay driver, over
 * `activities` (the real ones, or the real ones with one wrapped), starting now; throws unless it completed.
 */
export async function replayGate(
  activities: ReturnType<typeof gateActivities>,
  input: GateInput,
  instanceId: string,
): Promise<GateOutcome> {
  const result = await runOrchestration({
    name: ORCH_IMAGE_GATE,
    orchestrator: imageGateOrchestrator,
    activities,
    instanceId,
    input,
    startTime: new Date(),
    defaultVersion: ORCHESTRATION_VERSION,
  });
  if (result.status !== 'Completed') throw new Error(`orchestration failed: ${result.error}`);
  return result.output as GateOutcome;
}
