/**
 * The one local orchestration host (the CLI, the local service, the demo, the benchmarks and the tests all
 * use it): it hosts every orchestration of the function table (`src/app/functionTable.ts`: `imageGate`,
 * `registryPurge`, `repositoryPurge` and `runtimeReconcile`) in this process through the local durable driver (the
 * real orchestrators, replayed), with the table's activity maps built over the services it is given.
 *
 * Started gates are tracked: every history is kept in a {@link HistoryStore} (on disk for the service), and on
 * start-up {@link LocalOrchestrationHost.resume} resumes every instance whose history has no `ExecutionCompleted`.
 * It is the local stand-in for the Durable Task backend: the triggers talk to it through the same
 * {@link OrchestrationStatusStarter} interface as to the durable client in Azure. {@link LocalOrchestrationHost.run} runs one
 * orchestration to completion instead (the CLI's gate, a purge).
 *
 * One process owns a history directory at a time. An activity that was running when the process died is run
 * again on resume (Durable's at-least-once activity semantics); the orchestration itself completes once.
 */
import { messageOf } from '../core/errors';
import { ACTIVITY_MAPS, ORCHESTRATORS, type ActivityMap, type OrchestrationName } from '../app/orchestrationTable';
import type { InstanceState, InstanceStatus, OrchestrationStatusStarter } from '../app/orchestrationStarter';
import { gateInstanceId } from '../core/reference';
import type { ImageId } from '../core/types';
import { type GateInput, type GateOutcome, type GateProgress } from '../orchestrations/imageGate';
import type { RegistryPurgeInput, RegistryPurgeOutput } from '../orchestrations/purge';
import { ORCH_IMAGE_GATE, ORCH_REGISTRY_PURGE, ORCH_RUNTIME_RECONCILE } from '../orchestrations/names';
import { ORCHESTRATION_VERSION } from '../orchestrations/versions';
import type { RuntimeServices } from '../orchestrations/runtimeReconcileActivities';
import type { RuntimeReconcileOutput } from '../orchestrations/runtimeReconcile';
import type { ActivityContext, GateServices } from '../orchestrations/services';
import {
  EventType,
  MemoryHistoryStore,
  runOrchestration,
  type DriverEvent,
  type HistoryEvent,
  type HistoryStore,
  type OrchestrationResult,
} from './durableDriver';

/** A name of an orchestration the local host hosts (every one in the function table). */
export type LocalOrchestration = OrchestrationName;

/** A history store that can list its instances (needed to resume after a restart). */
export type ListableHistoryStore = HistoryStore & { list(): Promise<string[]> };

/** One instance as the host knows it. */
export interface GateInstance extends InstanceStatus {
  input?: GateInput;
}

/** Options of {@link LocalOrchestrationHost}. */
export interface LocalOrchestrationHostOptions {
  services: GateServices;
  /** What `runtimeReconcile` needs besides the gate's services (absent: that orchestration's activities are not hosted). */
  runtime?: RuntimeServices;
  /** Where histories live (default in memory: nothing survives the process). */
  history?: ListableHistoryStore;
  /** `real` waits for durable timers (the service); `virtual` fires them at once (tests). */
  timers?: 'real' | 'virtual';
  /** Orchestration start time of new instances (default the wall clock; this is the edge). */
  now?: () => Date;
  /**
   * The version new instances are created with (default {@link ORCHESTRATION_VERSION}, what host.json stamps in
   * Azure; `null`: none, an instance as created before versions, which replays version 1).
   */
  orchestrationVersion?: string | null;
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
  const runtimeStatus: InstanceState = completed
    ? completed.OrchestrationStatus === 'Failed'
      ? 'Failed'
      : 'Completed'
    : 'Running';
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

/**
 * Hosts the function table's orchestrations in-process: tracked gates with durable histories (the triggers'
 * starter), and any orchestration run to completion ({@link LocalOrchestrationHost.run}).
 */
export class LocalOrchestrationHost implements OrchestrationStatusStarter {
  private readonly instances = new Map<string, GateInstance>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly history: ListableHistoryStore;
  /** The activities of every hosted orchestration, built once over this host's services. */
  private readonly activities: ActivityMap;
  private readonly activityContext: ActivityContext;
  private stopped = false;

  constructor(private readonly options: LocalOrchestrationHostOptions) {
    this.history = options.history ?? new ListableMemoryHistoryStore();
    // Every activity map of the table (a push runs its repository's retention after the verdict: the gate needs
    // the purge's activities too); runtime assurance's only when given its services.
    const runtime = options.runtime;
    this.activities = Object.assign(
      {},
      ...ACTIVITY_MAPS.filter((entry) => !entry.needsRuntime || runtime).map((entry) =>
        entry.build({ services: options.services, runtime: () => runtime as RuntimeServices }),
      ),
    ) as ActivityMap;
    const log = options.log ?? (() => undefined);
    this.activityContext = {
      log: (...args) => log(args.map(String).join(' ')),
      warn: (...args) => log(args.map(String).join(' ')),
    };
  }

  /**
   * Runs one orchestration to completion, untracked (its history is kept only in `history` when given);
   * throws when the orchestration failed.
   */
  async run(options: {
    name: LocalOrchestration;
    instanceId: string;
    input: unknown;
    startTime?: Date;
    history?: HistoryStore;
    onEvent?: (event: DriverEvent) => void;
  }): Promise<{ output: unknown; result: OrchestrationResult }> {
    const result = await runOrchestration({
      ...this.driverOptions(
        options.name,
        options.instanceId,
        options.input,
        options.startTime ?? (this.options.now ?? (() => new Date()))(),
      ),
      history: options.history,
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    });
    if (result.status !== 'Completed')
      throw new Error(`${options.name} ${options.instanceId} failed: ${result.error ?? 'unknown error'}`);
    return { output: result.output, result };
  }

  /** Loads every saved instance and resumes the unfinished ones; resolves to the ids resumed. */
  async resume(): Promise<string[]> {
    const resumed: string[] = [];
    for (const id of await this.history.list()) {
      // A gate started while resume runs (a notification or rescan that arrived early) is already running: one
      // driver per history, never two.
      if (this.running.has(id)) continue;
      const saved = await this.history.load(id);
      if (!saved || saved.length === 0) continue;
      const instance = statusFromHistory(id, saved);
      if (this.running.has(id)) continue;
      this.instances.set(id, instance);
      if (instance.runtimeStatus === 'Running' && instance.input) {
        resumed.push(id);
        this.options.log?.(
          `resuming gate ${id} for ${instance.input.image.repository}@${instance.input.image.digest.slice(0, 19)}… from its saved history`,
        );
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
    if (orchestrator !== ORCH_IMAGE_GATE)
      throw new Error(
        `the local orchestration host tracks started ${ORCH_IMAGE_GATE} instances only, not ${orchestrator} (use run())`,
      );
    // Like the Durable client: a second start of a running instance does not start a second run.
    if (this.running.has(instanceId)) return;
    // A start over a completed instance (the starter restarts a Failed gate, as Azure's startNew does) runs anew:
    // its old history would otherwise be replayed to its old end, and the image would never get a verdict.
    const saved = await this.history.load(instanceId).catch(() => undefined);
    if (saved?.some((e) => e.EventType === EventType.ExecutionCompleted)) await this.history.save(instanceId, []);
    if (this.running.has(instanceId)) return;
    this.launch(instanceId, input as GateInput);
  }

  /** Every instance known, newest first. */
  list(): GateInstance[] {
    return [...this.instances.values()]
      .map((i) => ({ ...i }))
      .sort((a, b) => String(b.createdTime).localeCompare(String(a.createdTime)));
  }

  /** The names of the orchestrations this host runs. */
  orchestrations(): string[] {
    return Object.keys(ORCHESTRATORS);
  }

  /** The names of the activities this host runs (runtime assurance's only when it was given its services). */
  hostedActivities(): string[] {
    return Object.keys(this.activities);
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

  /** What the driver needs to run `name` with this host's activities, orchestrators and timer mode. */
  private driverOptions(name: LocalOrchestration, instanceId: string, input: unknown, startTime: Date) {
    return {
      name,
      orchestrator: ORCHESTRATORS[name],
      orchestrators: ORCHESTRATORS,
      activities: this.activities,
      activityContext: this.activityContext,
      instanceId,
      input,
      startTime,
      // What host.json's durableTask.defaultVersion stamps in Azure.
      defaultVersion:
        this.options.orchestrationVersion === null
          ? undefined
          : (this.options.orchestrationVersion ?? ORCHESTRATION_VERSION),
      timers: this.options.timers ?? 'real',
    } as const;
  }

  private launch(instanceId: string, input: GateInput): void {
    const now = (this.options.now ?? (() => new Date()))();
    const current = this.instances.get(instanceId);
    this.update({
      ...(current ?? { createdTime: now.toISOString() }),
      instanceId,
      runtimeStatus: 'Running',
      input,
      lastUpdatedTime: now.toISOString(),
    });
    const run = runOrchestration({
      ...this.driverOptions(ORCH_IMAGE_GATE, instanceId, input, now),
      history: this.history,
      onEvent: (event) => {
        if (event.kind !== 'customStatus') return;
        const known = this.instances.get(instanceId);
        if (known)
          this.update({ ...known, customStatus: event.customStatus, lastUpdatedTime: new Date().toISOString() });
      },
    }).then(
      (result) => {
        const final = statusFromHistory(instanceId, result.history);
        this.update({ ...final, customStatus: result.customStatus });
        this.options.log?.(
          `gate ${instanceId} ${final.runtimeStatus.toLowerCase()}${result.status === 'Failed' ? `: ${result.error ?? ''}` : ''}`,
        );
      },
      (err: unknown) => {
        const known = this.instances.get(instanceId);
        this.update({
          ...(known ?? { instanceId }),
          instanceId,
          runtimeStatus: 'Failed',
          output: { error: messageOf(err) },
        });
        this.options.log?.(`gate ${instanceId} failed in the local driver: ${messageOf(err)}`);
      },
    );
    const tracked = run.finally(() => this.running.delete(instanceId));
    this.running.set(instanceId, tracked);
  }
}

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
  log?: (line: string) => void;
  /** Called with each new progress (custom status) of the gate, e.g. every poll while it waits for scans. */
  onProgress?: (progress: GateProgress) => void;
}

/** Gates one image to completion with a host of its own; throws when the orchestration itself failed. */
export async function runGateLocally(options: LocalGateOptions): Promise<GateOutcome> {
  const host = new LocalOrchestrationHost({
    services: options.services,
    timers: options.timers ?? 'real',
    log: options.log,
  });
  const input: GateInput = { image: options.image, tag: options.tag, trigger: options.trigger, dryRun: options.dryRun };
  const onProgress = options.onProgress;
  const { output } = await host.run({
    name: ORCH_IMAGE_GATE,
    instanceId: options.instanceId ?? gateInstanceId(options.image),
    input,
    startTime: options.startTime,
    ...(onProgress
      ? {
          onEvent: (e: DriverEvent) =>
            void (
              e.kind === 'customStatus' &&
              e.customStatus !== undefined &&
              onProgress(e.customStatus as GateProgress)
            ),
        }
      : {}),
  });
  return output as GateOutcome;
}

/** Options for {@link runPurgeLocally}. */
export interface LocalPurgeOptions {
  input: RegistryPurgeInput;
  services: GateServices;
  instanceId: string;
  startTime: Date;
  timers?: 'real' | 'virtual';
  history?: HistoryStore;
}

/** Runs one `registryPurge` (and its `repositoryPurge` sub-orchestrations) to completion with a host of its own. */
export async function runPurgeLocally(
  options: LocalPurgeOptions,
): Promise<{ output: RegistryPurgeOutput; result: OrchestrationResult }> {
  const host = new LocalOrchestrationHost({ services: options.services, timers: options.timers ?? 'virtual' });
  const { output, result } = await host.run({
    name: ORCH_REGISTRY_PURGE,
    instanceId: options.instanceId,
    input: options.input,
    startTime: options.startTime,
    history: options.history,
  });
  return { output: output as RegistryPurgeOutput, result };
}

/** Options for {@link runRuntimeReconcileLocally}. */
export interface LocalRuntimeReconcileOptions {
  services: GateServices;
  runtime: RuntimeServices;
  instanceId: string;
  startTime: Date;
  timers?: 'real' | 'virtual';
  history?: HistoryStore;
}

/** Runs one `runtimeReconcile` (and its `imageGate` re-gates) to completion with a host of its own. */
export async function runRuntimeReconcileLocally(
  options: LocalRuntimeReconcileOptions,
): Promise<{ output: RuntimeReconcileOutput; result: OrchestrationResult }> {
  const host = new LocalOrchestrationHost({
    services: options.services,
    runtime: options.runtime,
    timers: options.timers ?? 'virtual',
  });
  const { output, result } = await host.run({
    name: ORCH_RUNTIME_RECONCILE,
    instanceId: options.instanceId,
    input: { trigger: 'local' },
    startTime: options.startTime,
    history: options.history,
  });
  return { output: output as RuntimeReconcileOutput, result };
}
