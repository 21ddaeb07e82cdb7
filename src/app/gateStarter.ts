/**
 * Starting `imageGate` exactly once per image. Shared by the Event Grid trigger, the registry notification
 * receiver and the CLI; the durable client is behind the small {@link GateStarter} interface so the same
 * logic runs against the Functions host's client and the local driver.
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

/** The two durable-client operations the triggers need. */
export interface GateStarter {
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
  starter: GateStarter,
  request: { image: ImageId; tag?: string; trigger: GateInput['trigger'] },
): Promise<StartResult> {
  const instanceId = gateInstanceId(request.image);
  const image = formatImage(request.image);
  const state = await starter.getState(instanceId);
  if (state && ACTIVE_OR_DONE.has(state)) {
    return { started: false, instanceId, image, reason: `a gate for ${image} is already ${state.toLowerCase()} (${instanceId}); use a rescan to gate it again` };
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

/** A {@link GateStarter} that can also report an instance's status (the rescan status endpoint). */
export interface GateStatusStarter extends GateStarter {
  /** The instance's status, or undefined when no instance has that id. */
  getStatus(instanceId: string): Promise<InstanceStatus | undefined>;
}

/**
 * Starts a rescan: `imageGate` under a fresh instance id (`rescan-…`, from the image and `nonce`), so it runs
 * even when the push-triggered gate of the same digest has completed. A nonce already used is refused by the
 * state check, so a retried request with the same nonce does not start a second gate.
 */
export async function startRescan(starter: GateStarter, request: { image: ImageId; tag?: string; nonce: string }): Promise<StartResult> {
  const instanceId = rescanInstanceId(request.image, request.nonce);
  const image = formatImage(request.image);
  if ((await starter.getState(instanceId)) !== undefined) {
    return { started: false, instanceId, image, reason: `a rescan with this id already exists (${instanceId})` };
  }
  const input: GateInput = { image: request.image, tag: request.tag, trigger: 'rescan' };
  await starter.start(ORCH_IMAGE_GATE, instanceId, input);
  return { started: true, instanceId, image };
}
