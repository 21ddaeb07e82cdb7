/**
 * Runs `imageGate` in-process: the real durable-functions orchestrator, replayed by the local driver, with
 * the real activities over the given services. Used by the CLI, `npm start`, the benchmark and tests.
 */
import { gateInstanceId } from '../core/reference';
import type { ImageId } from '../core/types';
import { imageGateOrchestrator, type GateInput, type GateOutcome, type GateProgress } from '../orchestrations/imageGate';
import { ORCH_IMAGE_GATE } from '../orchestrations/names';
import { gateActivities } from '../orchestrations/activities';
import { purgeActivities } from '../orchestrations/purgeActivities';
import { setGateServices, type GateServices } from '../orchestrations/services';
import { runOrchestration, type DriverEvent } from './durableDriver';

/** Options for {@link runGateLocally}. */
export interface LocalGateOptions {
  image: ImageId;
  tag?: string;
  trigger: GateInput['trigger'];
  dryRun?: boolean;
  services: GateServices;
  /** `real` waits for durable timers (the CLI); `virtual` fires them at once, advancing orchestration time (tests). */
  timers?: 'real' | 'virtual';
  /** Orchestration start time; defaults to the wall clock (this is the edge, not the orchestrator). */
  startTime?: Date;
  /** Instance id; defaults to the digest-derived gate id. */
  instanceId?: string;
  /** Called with each new progress (custom status) of the gate, e.g. every poll while it waits for scans. */
  onProgress?: (progress: GateProgress) => void;
}

/** Gates one image and returns the orchestration's outcome; throws when the orchestration itself failed. */
export async function runGateLocally(options: LocalGateOptions): Promise<GateOutcome> {
  setGateServices(options.services);
  const input: GateInput = { image: options.image, tag: options.tag, trigger: options.trigger, dryRun: options.dryRun };
  const result = await runOrchestration({
    name: ORCH_IMAGE_GATE,
    orchestrator: imageGateOrchestrator,
    // The purge activities too: a push runs its repository's retention after the verdict.
    activities: { ...gateActivities, ...purgeActivities },
    instanceId: options.instanceId ?? gateInstanceId(options.image),
    input,
    startTime: options.startTime ?? new Date(),
    timers: options.timers ?? 'real',
    ...(options.onProgress ? { onEvent: (e: DriverEvent) => e.kind === 'customStatus' && e.customStatus !== undefined && options.onProgress?.(e.customStatus as GateProgress) } : {}),
  });
  if (result.status !== 'Completed') {
    throw new Error(`imageGate ${options.instanceId ?? gateInstanceId(options.image)} failed: ${result.error ?? 'unknown error'}`);
  }
  return result.output as GateOutcome;
}
