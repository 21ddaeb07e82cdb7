/**
 * The local service's orchestration runner: starts `imageGate` instances in this process through the local
 * durable driver (the real orchestrator, replayed), keeps every history in a {@link HistoryStore} (on disk
 * for the service), and on start-up resumes every instance whose history has no `ExecutionCompleted`.
 * It is the local stand-in for the Durable Task backend: the triggers talk to it through the same
 * {@link GateStatusStarter} interface as to the durable client in Azure.
 *
 * One process owns a history directory at a time. An activity that was running when the process died is run
 * again on resume (Durable's at-least-once activity semantics); the orchestration itself completes once.
 */
import type { GateStatusStarter, InstanceState, InstanceStatus } from '../functions/gateStarter';
import type { GateInput } from '../orchestrations/imageGate';
import { imageGateOrchestrator } from '../orchestrations/imageGate';
import { gateActivities } from '../orchestrations/activities';
import { purgeActivities } from '../orchestrations/purgeActivities';
import { ORCH_IMAGE_GATE } from '../orchestrations/names';
import { setGateServices, type GateServices } from '../orchestrations/services';
import { EventType, MemoryHistoryStore, runOrchestration, type HistoryEvent, type HistoryStore } from './durableDriver';

/** A history store that can list its instances (needed to resume after a restart). */
export type ListableHistoryStore = HistoryStore & { list(): Promise<string[]> };

/** One instance as the runner knows it. */
export interface GateInstance extends InstanceStatus {
  input?: GateInput;
}

/** Options of {@link LocalGateRunner}. */
export interface LocalGateRunnerOptions {
  services: GateServices;
  /** Where histories live (default in memory: nothing survives the process). */
  history?: ListableHistoryStore;
  /** `real` waits for durable timers (the service); `virtual` fires them at once (tests). */
  timers?: 'real' | 'virtual';
  /** Orchestration start time of new instances (default the wall clock; this is the edge). */
  now?: () => Date;
  log?: (line: string) => void;
  /** Called whenever an instance changes state or progress (the page's live updates). */
  onChange?: (instance: GateInstance) => void;
}

/** A listable in-memory history store. */
export class ListableMemoryHistoryStore extends MemoryHistoryStore implements ListableHistoryStore {
  private readonly ids = new Set<string>();

  override async save(instanceId: string, history: readonly HistoryEvent[]): Promise<void> {
    this.ids.add(instanceId);
    await super.save(instanceId, history);
  }

  async list(): Promise<string[]> {
    return [...this.ids];
  }
}

/** What a history says about its instance. */
export function statusFromHistory(instanceId: string, history: readonly HistoryEvent[]): GateInstance {
  const started = history.find((e) => e.EventType === EventType.ExecutionStarted);
  const completed = history.find((e) => e.EventType === EventType.ExecutionCompleted);
  const runtimeStatus: InstanceState = completed ? (completed.OrchestrationStatus === 'Failed' ? 'Failed' : 'Completed') : 'Running';
  const instance: GateInstance = {
    instanceId,
    runtimeStatus,
    createdTime: started?.Timestamp ?? history[0]?.Timestamp,
    lastUpdatedTime: history[history.length - 1]?.Timestamp,
  };
  if (started?.Input !== undefined) instance.input = JSON.parse(started.Input) as GateInput;
  if (completed?.Result !== undefined) instance.output = JSON.parse(completed.Result);
  if (completed?.OrchestrationStatus === 'Failed') instance.output = { error: completed.Details };
  return instance;
}

/** Runs gates in-process with durable histories. */
export class LocalGateRunner implements GateStatusStarter {
  private readonly instances = new Map<string, GateInstance>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly history: ListableHistoryStore;
  private stopped = false;

  constructor(private readonly options: LocalGateRunnerOptions) {
    this.history = options.history ?? new ListableMemoryHistoryStore();
  }

  /** Loads every saved instance and resumes the unfinished ones; resolves to the ids resumed. */
  async resume(): Promise<string[]> {
    const resumed: string[] = [];
    for (const id of await this.history.list()) {
      const saved = await this.history.load(id);
      if (!saved || saved.length === 0) continue;
      const instance = statusFromHistory(id, saved);
      this.instances.set(id, instance);
      if (instance.runtimeStatus === 'Running' && instance.input) {
        resumed.push(id);
        this.options.log?.(`resuming gate ${id} for ${instance.input.image.repository}@${instance.input.image.digest.slice(0, 19)}… from its saved history`);
        this.launch(id, instance.input);
      }
    }
    return resumed;
  }

  async getState(instanceId: string): Promise<InstanceState | undefined> {
    return (await this.getStatus(instanceId))?.runtimeStatus;
  }

  async getStatus(instanceId: string): Promise<GateInstance | undefined> {
    const known = this.instances.get(instanceId);
    if (known) return { ...known };
    const saved = await this.history.load(instanceId).catch(() => undefined);
    return saved && saved.length > 0 ? statusFromHistory(instanceId, saved) : undefined;
  }

  async start(orchestrator: string, instanceId: string, input: unknown): Promise<void> {
    if (orchestrator !== ORCH_IMAGE_GATE) throw new Error(`the local runner runs ${ORCH_IMAGE_GATE} only, not ${orchestrator}`);
    // Like the Durable client: a second start of a running instance does not start a second run.
    if (this.running.has(instanceId)) return;
    this.launch(instanceId, input as GateInput);
  }

  /** Every instance known, newest first. */
  list(): GateInstance[] {
    return [...this.instances.values()].map((i) => ({ ...i })).sort((a, b) => String(b.createdTime).localeCompare(String(a.createdTime)));
  }

  /** Resolves when every running gate has finished. */
  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running.values()]);
  }

  /** Stops reporting (the process is about to exit; histories on disk are complete up to the last episode). */
  stop(): void {
    this.stopped = true;
  }

  private update(instance: GateInstance): void {
    this.instances.set(instance.instanceId, instance);
    if (!this.stopped) this.options.onChange?.({ ...instance });
  }

  private launch(instanceId: string, input: GateInput): void {
    // Activities find their services in the process-wide container (as on a Functions worker); set when a
    // gate starts, so a runner that never runs one (a service that failed to start) changes nothing.
    setGateServices(this.options.services);
    const now = (this.options.now ?? (() => new Date()))();
    const current = this.instances.get(instanceId);
    this.update({ ...(current ?? { createdTime: now.toISOString() }), instanceId, runtimeStatus: 'Running', input, lastUpdatedTime: now.toISOString() });
    const run = runOrchestration({
      name: ORCH_IMAGE_GATE,
      orchestrator: imageGateOrchestrator,
      // The gate's activities and the purge's: a push runs its repository's retention after the verdict.
      activities: { ...gateActivities, ...purgeActivities },
      instanceId,
      input,
      startTime: now,
      timers: this.options.timers ?? 'real',
      history: this.history,
      onEvent: (event) => {
        if (event.kind !== 'customStatus') return;
        const known = this.instances.get(instanceId);
        if (known) this.update({ ...known, customStatus: event.customStatus, lastUpdatedTime: new Date().toISOString() });
      },
    }).then(
      (result) => {
        const final = statusFromHistory(instanceId, result.history);
        this.update({ ...final, customStatus: result.customStatus });
        this.options.log?.(`gate ${instanceId} ${final.runtimeStatus.toLowerCase()}${result.status === 'Failed' ? `: ${result.error ?? ''}` : ''}`);
      },
      (err: unknown) => {
        const known = this.instances.get(instanceId);
        this.update({ ...(known ?? { instanceId }), instanceId, runtimeStatus: 'Failed', output: { error: err instanceof Error ? err.message : String(err) } });
        this.options.log?.(`gate ${instanceId} failed in the local driver: ${err instanceof Error ? err.message : String(err)}`);
      },
    );
    const tracked = run.finally(() => this.running.delete(instanceId));
    this.running.set(instanceId, tracked);
  }
}
