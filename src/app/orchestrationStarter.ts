/**
 * Starting orchestrations exactly once: `imageGate` once per image (the Event Grid trigger, the registry
 * notification receiver, the CLI), rescans, and the timers' scheduled runs (`registryPurge`, `runtimeReconcile`).
 * The durable client is behind the small {@link OrchestrationStarter} interface so the same logic runs against
 * the Functions host's client and the local orchestration host.
 */
import { gateInstanceId, formatImage, rescanInstanceId } from '../core/reference';
import type { ImageId } from '../core/types';
import { ORCH_IMAGE_GATE } from '../orchestrations/names';
import type { GateInput } from '../orchestrations/imageGate';

/** Runtime states of an orchestration instance, as the durable client reports them. */
export type InstanceState =
  | 'Pending'
  | 'Running'
  | 'Completed'
  | 'ContinuedAsNew'
  | 'Failed'
  | 'Terminated'
  | 'Canceled'
  | 'Suspended'
  | 'Unknown';

/** The two durable-client operations the triggers need (for every orchestration, not only the gate). */
export interface OrchestrationStarter {
  /** The instance's state, or undefined when no instance has that id. */
  getState(instanceId: string): Promise<InstanceState | undefined>;
  /** Start `orchestrator` with this instance id and input. */
  start(orchestrator: string, instanceId: string, input: unknown): Promise<void>;
}

/** States in which a gate for the digest exists and must not be started again (a rescan re-gates). */
const ACTIVE_OR_DONE: ReadonlySet<InstanceState> = new Set<InstanceState>([
  'Pending',
  'Running',
  'Completed',
  'ContinuedAsNew',
  'Suspended',
]);

/** What a start request did. */
export type StartResult =
  | { started: true; instanceId: string; image: string }
  | { started: false; instanceId: string; image: string; reason: string };

/**
 * Starts the gate for a pushed image unless one already ran or is running for the same digest.
 * The instance id is derived from registry + repository + digest, so a duplicate Event Grid delivery or
 * the same digest pushed under a second tag maps to the same instance. A `Failed` or `Terminated` instance
 * is started again: it produced no verdict, and the image stays quarantined until one exists.
 */
export async function startGateOnce(
  starter: OrchestrationStarter,
  request: { image: ImageId; tag?: string; trigger: GateInput['trigger'] },
): Promise<StartResult> {
  const instanceId = gateInstanceId(request.image);
  const image = formatImage(request.image);
  const state = await starter.getState(instanceId);
  if (state && ACTIVE_OR_DONE.has(state)) {
    return {
      started: false,
      instanceId,
      image,
      reason: `a gate for ${image} is already ${state.toLowerCase()} (${instanceId}); use a rescan to gate it again`,
    };
  }
  const input: GateInput = { image: request.image, tag: request.tag, trigger: request.trigger };
  await starter.start(ORCH_IMAGE_GATE, instanceId, input);
  return { started: true, instanceId, image };
}

/** What the durable client reports about one instance (no history, no input). */
export interface InstanceStatus {
  instanceId: string;
  runtimeStatus: InstanceState;
  customStatus?: unknown;
  output?: unknown;
  createdTime?: string;
  lastUpdatedTime?: string;
}

/** An {@link OrchestrationStarter} that can also report an instance's status (the rescan status endpoint). */
export interface OrchestrationStatusStarter extends OrchestrationStarter {
  /** The instance's status, or undefined when no instance has that id. */
  getStatus(instanceId: string): Promise<InstanceStatus | undefined>;
}

/**
 * Starts a rescan: `imageGate` under a fresh instance id (`rescan-…`, from the image and `nonce`), so it runs
 * even when the push-triggered gate of the same digest has completed. A nonce already used is refused by the
 * state check, so a retried request with the same nonce does not start a second gate.
 */
export async function startRescan(
  starter: OrchestrationStarter,
  request: { image: ImageId; tag?: string; nonce: string },
): Promise<StartResult> {
  const instanceId = rescanInstanceId(request.image, request.nonce);
  const image = formatImage(request.image);
  if ((await starter.getState(instanceId)) !== undefined) {
    return { started: false, instanceId, image, reason: `a rescan with this id already exists (${instanceId})` };
  }
  const input: GateInput = { image: request.image, tag: request.tag, trigger: 'rescan' };
  await starter.start(ORCH_IMAGE_GATE, instanceId, input);
  return { started: true, instanceId, image };
}

/** States in which a scheduled run's instance already exists (a re-delivered timer must not start a second one). */
const RUN_EXISTS: ReadonlySet<InstanceState> = new Set<InstanceState>([
  'Pending',
  'Running',
  'Completed',
  'ContinuedAsNew',
  'Suspended',
]);

/** The instance id of a scheduled run at `nowMs`: `<prefix>-YYYYMMDDHHMM` (one per scheduled minute). */
export function scheduledInstanceId(prefix: string, nowMs: number): string {
  return `${prefix}-${new Date(nowMs).toISOString().slice(0, 16).replace(/[-:T]/g, '')}`;
}

/**
 * Starts `orchestrator` as `instanceId` unless that instance exists already (a timer delivered twice starts one
 * run); `log` gets one line either way, naming `source`.
 */
export async function startScheduledOnce(
  starter: OrchestrationStarter,
  run: { source: string; orchestrator: string; instanceId: string; input: unknown; note?: string },
  log: (line: string) => void,
): Promise<{ instanceId: string; started: boolean }> {
  const state = await starter.getState(run.instanceId);
  if (state && RUN_EXISTS.has(state)) {
    log(`${run.source}: ${run.instanceId} is already ${state}; not started again`);
    return { instanceId: run.instanceId, started: false };
  }
  await starter.start(run.orchestrator, run.instanceId, run.input);
  log(`${run.source}: started ${run.orchestrator} ${run.instanceId}${run.note ?? ''}`);
  return { instanceId: run.instanceId, started: true };
}
