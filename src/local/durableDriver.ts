/**
 * Runs a durable-functions orchestrator in this process, without the Functions host, through the library's
 * own replay engine. This is the ONE module that touches durable-functions internals (pinned: 3.5.0):
 * `lib/src/util/testingUtils` (`createOrchestrator`, `DurableOrchestrationInput`, `DummyOrchestrationContext`)
 * and the history event classes in `lib/src/history/`. durable-functions 4 drops these paths; when it lands,
 * this module is the only one to rewrite.
 *
 * The driver plays the part of the host's Durable Task framework:
 * - it keeps the orchestration history (host-shaped events: PascalCase fields, `Timestamp` as ISO string,
 *   `Input`/`Result` as JSON strings) and replays it through the real replay handler after every new event;
 * - it schedules the activities and timers the replay asks for, numbering them exactly as the library
 *   numbers its tasks (completions are matched to tasks by that number only, so this is the fragile part);
 * - it runs `callActivityWithRetry` retries host-side: after each failed attempt a retry timer, then a new
 *   attempt (the library emits one action for all of them and counts the attempts itself). First interval,
 *   backoff coefficient, maximum interval and maximum attempts are honoured; `retryTimeoutInMilliseconds` is not;
 * - it detects non-determinism, which the JavaScript library does not: the actions already in history must be
 *   asked for again, identically and in the same order, by every replay.
 *
 * Numbering rules mirrored from `TaskOrchestrationExecutor` (3.5.0): every atomic task gets the next sequence
 * number when the orchestrator first yields it (children of `Task.all`/`Task.any` depth-first); a failed
 * attempt of a retryable task takes the next number for its retry timer while that failure is processed, and
 * the fired retry timer takes the next one for the new attempt. The driver appends ONE completion per replay,
 * so the order in which the library processes events, and therefore hands out numbers, is the order the driver
 * numbers them in.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type * as df from 'durable-functions';
import { SILENT_ACTIVITY_CONTEXT, type ActivityContext } from '../orchestrations/services';

// ---- durable-functions internals (untyped deep imports; esbuild bundles them from these literal paths) ----

interface HistoryEventOptionsLike {
  eventId: number;
  timestamp: Date;
  isPlayed: boolean;
  [key: string]: unknown;
}
type HistoryEventClass = new (options: HistoryEventOptionsLike) => object;

interface OrchestratorStateLike {
  isDone: boolean;
  actions: unknown[][];
  output?: unknown;
  error?: string;
  customStatus?: unknown;
}

type ReplayHandler = (input: object, context: object) => Promise<OrchestratorStateLike>;

interface TestingUtilsModule {
  createOrchestrator(fn: (context: df.OrchestrationContext) => unknown): ReplayHandler;
  DurableOrchestrationInput: new (instanceId: string, history: unknown[], input: unknown) => object;
  DummyOrchestrationContext: new (
    functionName?: string,
    invocationId?: string,
    logHandler?: (level: string, ...args: unknown[]) => void,
  ) => object;
}

/* eslint-disable @typescript-eslint/no-require-imports -- untyped internal modules of the pinned library */
const testingUtils = require('durable-functions/lib/src/util/testingUtils') as TestingUtilsModule;
const historyClasses = {
  OrchestratorStartedEvent: (
    require('durable-functions/lib/src/history/OrchestratorStartedEvent') as Record<string, HistoryEventClass>
  ).OrchestratorStartedEvent,
  OrchestratorCompletedEvent: (
    require('durable-functions/lib/src/history/OrchestratorCompletedEvent') as Record<string, HistoryEventClass>
  ).OrchestratorCompletedEvent,
  ExecutionStartedEvent: (
    require('durable-functions/lib/src/history/ExecutionStartedEvent') as Record<string, HistoryEventClass>
  ).ExecutionStartedEvent,
  TaskScheduledEvent: (
    require('durable-functions/lib/src/history/TaskScheduledEvent') as Record<string, HistoryEventClass>
  ).TaskScheduledEvent,
  TaskCompletedEvent: (
    require('durable-functions/lib/src/history/TaskCompletedEvent') as Record<string, HistoryEventClass>
  ).TaskCompletedEvent,
  TaskFailedEvent: (require('durable-functions/lib/src/history/TaskFailedEvent') as Record<string, HistoryEventClass>)
    .TaskFailedEvent,
  TimerCreatedEvent: (
    require('durable-functions/lib/src/history/TimerCreatedEvent') as Record<string, HistoryEventClass>
  ).TimerCreatedEvent,
  TimerFiredEvent: (require('durable-functions/lib/src/history/TimerFiredEvent') as Record<string, HistoryEventClass>)
    .TimerFiredEvent,
  SubOrchestrationInstanceCreatedEvent: (
    require('durable-functions/lib/src/history/SubOrchestrationInstanceCreatedEvent') as Record<
      string,
      HistoryEventClass
    >
  ).SubOrchestrationInstanceCreatedEvent,
  SubOrchestrationInstanceCompletedEvent: (
    require('durable-functions/lib/src/history/SubOrchestrationInstanceCompletedEvent') as Record<
      string,
      HistoryEventClass
    >
  ).SubOrchestrationInstanceCompletedEvent,
  SubOrchestrationInstanceFailedEvent: (
    require('durable-functions/lib/src/history/SubOrchestrationInstanceFailedEvent') as Record<
      string,
      HistoryEventClass
    >
  ).SubOrchestrationInstanceFailedEvent,
};
/* eslint-enable @typescript-eslint/no-require-imports */

/**
 * The library's internals, for tests that feed a hand-written history straight to the replay handler.
 * Nothing outside this module and its tests should use them.
 */
export const durableInternals = { ...testingUtils, history: historyClasses } as const;

// ---- history ----

/** Host history event types (`HistoryEventType` in the library), by name. */
export const EventType = {
  ExecutionStarted: 0,
  ExecutionCompleted: 1,
  TaskScheduled: 4,
  TaskCompleted: 5,
  TaskFailed: 6,
  SubOrchestrationInstanceCreated: 7,
  SubOrchestrationInstanceCompleted: 8,
  SubOrchestrationInstanceFailed: 9,
  TimerCreated: 10,
  TimerFired: 11,
  OrchestratorStarted: 12,
  OrchestratorCompleted: 13,
} as const;

/**
 * One history event as the host serialises it: PascalCase fields, `Timestamp` an ISO string. Events the
 * driver adds for host-side retries carry `RetryOf` (the event id of the retried task's first attempt); the
 * library ignores unknown fields.
 */
export interface HistoryEvent {
  EventType: number;
  EventId: number;
  IsPlayed: boolean;
  Timestamp: string;
  Name?: string;
  Input?: string;
  Result?: string;
  TaskScheduledId?: number;
  TimerId?: number;
  FireAt?: string;
  Reason?: string;
  Details?: string;
  FailureDetails?: {
    ErrorType: string;
    ErrorMessage: string;
    StackTrace?: string;
    IsNonRetriable: boolean;
    Properties?: Record<string, unknown>;
  };
  OrchestrationStatus?: 'Completed' | 'Failed';
  RetryOf?: number;
  /** Instance id of a sub-orchestration (`SubOrchestrationInstanceCreated`). */
  InstanceId?: string;
}

/** Events that record something the orchestrator asked for: an activity, a timer or a sub-orchestration. */
function isScheduling(e: HistoryEvent): boolean {
  return (
    e.EventType === EventType.TaskScheduled ||
    e.EventType === EventType.TimerCreated ||
    e.EventType === EventType.SubOrchestrationInstanceCreated
  );
}

/** Events that record an attempt of a retryable task (an activity or a sub-orchestration). */
function isAttempt(e: HistoryEvent): boolean {
  return e.EventType === EventType.TaskScheduled || e.EventType === EventType.SubOrchestrationInstanceCreated;
}

/** Where histories are kept between replays, so a restarted process resumes an orchestration where it stopped. */
export interface HistoryStore {
  /** The saved history of an instance, or undefined when it has none. */
  load(instanceId: string): Promise<HistoryEvent[] | undefined>;
  /** Replaces the saved history of an instance (called after every episode). */
  save(instanceId: string, history: readonly HistoryEvent[]): Promise<void>;
}

/** A {@link HistoryStore} in memory (copies in and out, so callers cannot alter a saved history). */
export class MemoryHistoryStore implements HistoryStore {
  private readonly histories = new Map<string, string>();

  async load(instanceId: string): Promise<HistoryEvent[] | undefined> {
    const saved = this.histories.get(instanceId);
    return saved === undefined ? undefined : (JSON.parse(saved) as HistoryEvent[]);
  }

  async save(instanceId: string, history: readonly HistoryEvent[]): Promise<void> {
    this.histories.set(instanceId, JSON.stringify(history));
  }
}

/** Builds a host-shaped event with the library's own class, then serialises it as the host would. */
function makeEvent(
  kind: keyof typeof historyClasses,
  eventId: number,
  at: Date,
  fields: Record<string, unknown> = {},
): HistoryEvent {
  const event = new historyClasses[kind]({ eventId, timestamp: at, isPlayed: false, ...fields });
  return JSON.parse(JSON.stringify(event)) as HistoryEvent;
}

// ---- actions ----

/** What the orchestrator asked for, normalised for comparison with history. */
export type ActionRecord =
  | { kind: 'activity'; name: string; input?: string; retry?: RetryPolicy }
  | { kind: 'timer'; fireAt: string; canceled: boolean }
  | { kind: 'suborchestration'; name: string; input?: string; instanceId?: string; retry?: RetryPolicy };

/** Host-side retry policy of a `callActivityWithRetry` (or `callSubOrchestratorWithRetry`) action. */
export interface RetryPolicy {
  firstRetryIntervalMs: number;
  maxNumberOfAttempts: number;
  backoffCoefficient: number;
  maxRetryIntervalMs?: number;
}

interface RawAction {
  actionType: number;
  functionName?: string;
  instanceId?: string;
  input?: unknown;
  fireAt?: Date | string;
  isCanceled?: boolean;
  retryOptions?: {
    firstRetryIntervalInMilliseconds: number;
    maxNumberOfAttempts: number;
    backoffCoefficient?: number;
    maxRetryIntervalInMilliseconds?: number;
  };
  compoundActions?: RawAction[];
}

const ActionType = {
  CallActivity: 0,
  CallActivityWithRetry: 1,
  CallSubOrchestrator: 2,
  CallSubOrchestratorWithRetry: 3,
  CreateTimer: 5,
  WhenAny: 11,
  WhenAll: 12,
} as const;
const ACTION_NAMES: Record<number, string> = {
  4: 'continueAsNew',
  6: 'waitForExternalEvent',
  7: 'callEntity',
  8: 'callHttp',
  9: 'signalEntity',
  13: 'lock',
  14: 'releaseLocks',
};

/** Activity input as the host carries it: a JSON text (the library already JSON-encodes string inputs). */
function canonicalInput(input: unknown): string | undefined {
  if (input === undefined) return undefined;
  return typeof input === 'string' ? input : JSON.stringify(input);
}

function retryPolicyOf(action: RawAction): RetryPolicy {
  const o = action.retryOptions;
  if (!o) throw new Error(`"${action.functionName}" was called with retry but has no retry options`);
  return {
    firstRetryIntervalMs: o.firstRetryIntervalInMilliseconds,
    maxNumberOfAttempts: o.maxNumberOfAttempts,
    backoffCoefficient: o.backoffCoefficient ?? 1,
    maxRetryIntervalMs: o.maxRetryIntervalInMilliseconds,
  };
}

/**
 * Flattens the (cumulative) action list of one replay into its atomic actions, depth-first — the order in
 * which the library numbers the tasks. The same action object listed twice (a task yielded again inside a
 * `Task.all`) is one task, so it is kept once.
 */
function flattenActions(actions: readonly unknown[]): ActionRecord[] {
  const seen = new Set<unknown>();
  const out: ActionRecord[] = [];
  const visit = (item: unknown): void => {
    if (Array.isArray(item)) {
      item.forEach(visit);
      return;
    }
    const action = item as RawAction;
    if (seen.has(action)) return;
    seen.add(action);
    switch (action.actionType) {
      case ActionType.WhenAll:
      case ActionType.WhenAny:
        (action.compoundActions ?? []).forEach(visit);
        return;
      case ActionType.CallActivity:
        out.push({ kind: 'activity', name: String(action.functionName), input: canonicalInput(action.input) });
        return;
      case ActionType.CallActivityWithRetry: {
        const o = action.retryOptions;
        if (!o) throw new Error(`callActivityWithRetry("${action.functionName}") has no retry options`);
        out.push({
          kind: 'activity',
          name: String(action.functionName),
          input: canonicalInput(action.input),
          retry: {
            firstRetryIntervalMs: o.firstRetryIntervalInMilliseconds,
            maxNumberOfAttempts: o.maxNumberOfAttempts,
            backoffCoefficient: o.backoffCoefficient ?? 1,
            maxRetryIntervalMs: o.maxRetryIntervalInMilliseconds,
          },
        });
        return;
      }
      case ActionType.CallSubOrchestrator:
      case ActionType.CallSubOrchestratorWithRetry: {
        // The library JSON-encodes activity inputs but passes sub-orchestration inputs as they are: encode here.
        const record: ActionRecord = {
          kind: 'suborchestration',
          name: String(action.functionName),
          input: action.input === undefined ? undefined : JSON.stringify(action.input),
        };
        if (action.instanceId) record.instanceId = action.instanceId;
        if (action.actionType === ActionType.CallSubOrchestratorWithRetry) record.retry = retryPolicyOf(action);
        out.push(record);
        return;
      }
      case ActionType.CreateTimer:
        out.push({
          kind: 'timer',
          fireAt: new Date(action.fireAt as Date | string).toISOString(),
          canceled: action.isCanceled === true,
        });
        return;
      default:
        throw new Error(
          `the local durable driver does not support ${ACTION_NAMES[action.actionType] ?? `action type ${action.actionType}`}; ` +
            'only activities and sub-orchestrations (with or without retry), timers, Task.all and Task.any are driven in-process',
        );
    }
  };
  visit(actions);
  return out;
}

function describeAction(a: ActionRecord | undefined): string {
  if (!a) return 'nothing';
  if (a.kind === 'timer') return `timer firing at ${a.fireAt}`;
  const input = a.input === undefined ? '' : a.input.length > 200 ? `${a.input.slice(0, 200)}…` : a.input;
  return a.kind === 'suborchestration' ? `sub-orchestration "${a.name}"(${input})` : `activity "${a.name}"(${input})`;
}

function describeEvent(e: HistoryEvent): ActionRecord {
  if (e.EventType === EventType.TimerCreated) return { kind: 'timer', fireAt: String(e.FireAt), canceled: false };
  if (e.EventType === EventType.SubOrchestrationInstanceCreated)
    return { kind: 'suborchestration', name: String(e.Name), input: e.Input };
  return { kind: 'activity', name: String(e.Name), input: e.Input };
}

function sameAction(fromHistory: HistoryEvent, replayed: ActionRecord): boolean {
  if (fromHistory.EventType === EventType.TimerCreated)
    return replayed.kind === 'timer' && replayed.fireAt === fromHistory.FireAt;
  if (fromHistory.EventType === EventType.SubOrchestrationInstanceCreated) {
    return (
      replayed.kind === 'suborchestration' &&
      replayed.name === fromHistory.Name &&
      replayed.input === fromHistory.Input &&
      (replayed.instanceId === undefined || replayed.instanceId === fromHistory.InstanceId)
    );
  }
  return replayed.kind === 'activity' && replayed.name === fromHistory.Name && replayed.input === fromHistory.Input;
}

/** The orchestrator did not ask again for what its history says it asked for. Code `NON_DETERMINISTIC`. */
export class NonDeterminismError extends Error {
  readonly code = 'NON_DETERMINISTIC';
  constructor(
    message: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(message);
    this.name = 'NonDeterminismError';
  }
}

// ---- one replay ----

/** What one replay of a history produced. */
export interface ReplayResult {
  status: 'Running' | 'Completed' | 'Failed';
  output?: unknown;
  error?: string;
  customStatus?: unknown;
  /** Every atomic action asked for so far, in task-number order. */
  actions: ActionRecord[];
}

/** Options for {@link replayHistory}. */
export interface ReplayOptions {
  orchestrator: (context: df.OrchestrationContext) => Generator<unknown, unknown, unknown>;
  instanceId: string;
  name: string;
  input: unknown;
  history: readonly HistoryEvent[];
}

const OUT_OF_PROC_LABEL = '\n\n$OutOfProcData$:';

/**
 * Replays `history` once through the library's replay handler (`createOrchestrator`) and returns the
 * orchestrator's state. The history is copied first: the library converts `Timestamp`s in place.
 */
export async function replayHistory(options: ReplayOptions): Promise<ReplayResult> {
  let captured: df.OrchestrationContext | undefined;
  const handler = testingUtils.createOrchestrator((context) => {
    captured = context;
    return options.orchestrator(context);
  });
  const history = JSON.parse(JSON.stringify(options.history)) as unknown[];
  const input = options.input === undefined ? undefined : JSON.parse(JSON.stringify(options.input));
  const trigger = new testingUtils.DurableOrchestrationInput(options.instanceId, history, input);
  const context = new testingUtils.DummyOrchestrationContext(
    options.name,
    `${options.instanceId}:replay`,
    () => undefined,
  );
  try {
    const state = await handler(trigger, context);
    return {
      status: state.isDone ? 'Completed' : 'Running',
      output: state.output,
      customStatus: state.customStatus,
      actions: flattenActions(state.actions),
    };
  } catch (err) {
    // The library reports an orchestrator exception as an OrchestrationFailureError whose message carries the
    // state as JSON; the live action objects are still on the executor, and only they keep object identity.
    const message = err instanceof Error ? err.message : String(err);
    const cut = message.indexOf(OUT_OF_PROC_LABEL);
    if (cut < 0) throw err;
    const executor = (captured?.df as unknown as { taskOrchestratorExecutor?: { actions?: unknown[] } } | undefined)
      ?.taskOrchestratorExecutor;
    // 3.5.0 puts a boolean before the label; the orchestrator's own error message is the state's `error`.
    let state: Partial<OrchestratorStateLike> = {};
    try {
      state = JSON.parse(message.slice(cut + OUT_OF_PROC_LABEL.length)) as OrchestratorStateLike;
    } catch {
      state = {};
    }
    const error = typeof state.error === 'string' ? state.error : message.slice(0, cut);
    return {
      status: 'Failed',
      error,
      customStatus: state.customStatus,
      actions: flattenActions(executor?.actions ?? []),
    };
  }
}

// ---- the driver ----

/** What the driver reports while it runs (for logs and progress displays). */
export type DriverEvent = { kind: 'history'; event: HistoryEvent } | { kind: 'customStatus'; customStatus: unknown };

/** Options for {@link runOrchestration}. */
export interface RunOrchestrationOptions {
  /** Orchestrator function name (recorded in `ExecutionStarted`). */
  name: string;
  orchestrator: (context: df.OrchestrationContext) => Generator<unknown, unknown, unknown>;
  /** Activity functions by name: JSON in, JSON out; a throw is a failed attempt. */
  activities: Readonly<Record<string, (input: never, context: ActivityContext) => Promise<unknown>>>;
  /** The context every activity gets (its log); default: lines are dropped. */
  activityContext?: ActivityContext;
  /**
   * Orchestrators the orchestration may call as sub-orchestrations, by name. Each runs through this driver
   * with the same activities, orchestrators, timer mode and history store; a failed sub-orchestration is a
   * failed attempt of its task (retried host-side like an activity when called with retry).
   */
  orchestrators?: Readonly<Record<string, (context: df.OrchestrationContext) => Generator<unknown, unknown, unknown>>>;
  instanceId: string;
  input: unknown;
  /** Orchestration time of the first episode. */
  startTime: Date;
  /**
   * `virtual` (default): a timer fires as soon as nothing else is running, and the orchestration clock jumps to
   * its fire time. `real`: the driver waits for the fire time; the clock follows the wall clock from `startTime`.
   */
  timers?: 'virtual' | 'real';
  /** Saves the history after every episode; a saved history is resumed instead of starting over. */
  history?: HistoryStore;
  onEvent?: (event: DriverEvent) => void;
}

/** How an orchestration ended. */
export interface OrchestrationResult {
  status: 'Completed' | 'Failed';
  output?: unknown;
  error?: string;
  customStatus?: unknown;
  history: HistoryEvent[];
}

interface Completion {
  events: HistoryEvent[];
}

/** Delay before retry number `failures` (1-based), as Durable Task computes it. */
export function retryDelayMs(policy: RetryPolicy, failures: number): number {
  const delay = policy.firstRetryIntervalMs * Math.pow(policy.backoffCoefficient, failures - 1);
  return policy.maxRetryIntervalMs !== undefined && policy.maxRetryIntervalMs > 0
    ? Math.min(delay, policy.maxRetryIntervalMs)
    : delay;
}

function errorFields(err: unknown): { type: string; message: string; stack?: string; code?: string } {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return {
      type: err.name,
      message: err.message,
      stack: err.stack,
      code: typeof code === 'string' ? code : undefined,
    };
  }
  return { type: 'Error', message: typeof err === 'string' ? err : JSON.stringify(err) };
}

/**
 * Runs an orchestration to completion in-process: replays, executes the activities it asks for (in parallel
 * when it fans out), fires its timers, retries failed attempts host-side, and fails with
 * {@link NonDeterminismError} when a replay departs from the history.
 */
export async function runOrchestration(options: RunOrchestrationOptions): Promise<OrchestrationResult> {
  return new OrchestrationRun(options).run();
}

class OrchestrationRun {
  private history: HistoryEvent[] = [];
  private clock: Date;
  /** Wall-clock offset so that real-mode orchestration time starts at `startTime`. */
  private readonly realOffsetMs: number;
  private readonly inFlight = new Set<number>();
  /** Every task started by this run: a finished one may wait in `done` before its event reaches the history. */
  private readonly started = new Set<number>();
  private readonly done: Completion[] = [];
  private wake: (() => void) | undefined;
  private lastCustomStatus: string | undefined;

  constructor(private readonly options: RunOrchestrationOptions) {
    this.clock = new Date(options.startTime.getTime());
    // Real mode measures elapsed wall time from now; this offset only shifts it to the requested start.
    this.realOffsetMs = options.startTime.getTime() - new Date().getTime();
  }

  private get virtual(): boolean {
    return (this.options.timers ?? 'virtual') === 'virtual';
  }

  private append(event: HistoryEvent): void {
    this.history.push(event);
    this.options.onEvent?.({ kind: 'history', event });
  }

  private nextEventId(): number {
    let max = -1;
    for (const e of this.history) {
      if (isScheduling(e) && e.EventId > max) max = e.EventId;
    }
    return max + 1;
  }

  private scheduledById(id: number): HistoryEvent | undefined {
    return this.history.find((e) => isScheduling(e) && e.EventId === id);
  }

  private advanceClock(): void {
    if (this.virtual) return;
    const now = new Date(new Date().getTime() + this.realOffsetMs);
    if (now > this.clock) this.clock = now;
  }

  async run(): Promise<OrchestrationResult> {
    const { options } = this;
    const saved = await options.history?.load(options.instanceId);
    if (saved && saved.length > 0) {
      this.history = saved;
      const last = [...saved].reverse().find((e) => e.EventType === EventType.OrchestratorStarted);
      if (last && new Date(last.Timestamp) > this.clock) this.clock = new Date(last.Timestamp);
      const completed = saved.find((e) => e.EventType === EventType.ExecutionCompleted);
      if (completed) {
        return {
          status: completed.OrchestrationStatus ?? 'Completed',
          output: completed.Result === undefined ? undefined : JSON.parse(completed.Result),
          error: completed.Details,
          history: saved,
        };
      }
    } else {
      this.advanceClock();
      this.append(makeEvent('OrchestratorStartedEvent', -1, this.clock));
      const input = options.input === undefined ? undefined : JSON.stringify(options.input);
      this.append(makeEvent('ExecutionStartedEvent', -1, this.clock, { name: options.name, input }));
    }
    // A resumed instance keeps the input it started with.
    const started = this.history.find((e) => e.EventType === EventType.ExecutionStarted);
    const input: unknown = started?.Input === undefined ? undefined : JSON.parse(started.Input);

    for (;;) {
      const replay = await replayHistory({
        orchestrator: options.orchestrator,
        instanceId: options.instanceId,
        name: options.name,
        input,
        history: this.history,
      });
      this.reportCustomStatus(replay.customStatus);
      const orchestratorEvents = this.checkDeterminism(replay.actions);

      if (replay.status !== 'Running') {
        const failed = replay.status === 'Failed';
        this.append({
          EventType: EventType.ExecutionCompleted,
          EventId: -1,
          IsPlayed: false,
          Timestamp: this.clock.toISOString(),
          OrchestrationStatus: failed ? 'Failed' : 'Completed',
          Result: replay.output === undefined ? undefined : JSON.stringify(replay.output),
          Details: failed ? replay.error : undefined,
        });
        await options.history?.save(options.instanceId, this.history);
        await this.settleInFlight();
        return failed
          ? { status: 'Failed', error: replay.error, customStatus: replay.customStatus, history: this.history }
          : { status: 'Completed', output: replay.output, customStatus: replay.customStatus, history: this.history };
      }

      // Schedule what this replay asked for beyond what the history already holds.
      let id = this.nextEventId();
      for (const action of replay.actions.slice(orchestratorEvents.length)) {
        if (action.kind === 'activity') {
          this.append(makeEvent('TaskScheduledEvent', id++, this.clock, { name: action.name, input: action.input }));
        } else if (action.kind === 'suborchestration') {
          // The host names an unnamed sub-orchestration deterministically from its parent and task number.
          const instanceId = action.instanceId ?? `${options.instanceId}:${id}`;
          this.append(
            makeEvent('SubOrchestrationInstanceCreatedEvent', id++, this.clock, {
              name: action.name,
              input: action.input,
              instanceId,
            }),
          );
        } else {
          this.append(makeEvent('TimerCreatedEvent', id++, this.clock, { fireAt: new Date(action.fireAt) }));
        }
      }
      this.append(makeEvent('OrchestratorCompletedEvent', -1, this.clock));
      await options.history?.save(options.instanceId, this.history);

      this.startOpenActivities();
      const completion = await this.nextCompletion(replay.actions);
      this.advanceClock();
      this.append(makeEvent('OrchestratorStartedEvent', -1, this.clock));
      for (const event of completion.events) this.append(event);
      this.scheduleRetryStep(completion.events[0], replay.actions);
    }
  }

  private reportCustomStatus(customStatus: unknown): void {
    const text = customStatus === undefined ? undefined : JSON.stringify(customStatus);
    if (text !== this.lastCustomStatus) {
      this.lastCustomStatus = text;
      this.options.onEvent?.({ kind: 'customStatus', customStatus });
    }
  }

  /**
   * The events that record orchestrator actions (not the driver's retry events), in task-number order, must
   * match the head of the replayed action list one for one.
   */
  private checkDeterminism(actions: readonly ActionRecord[]): HistoryEvent[] {
    const recorded = this.history
      .filter((e) => isScheduling(e) && e.RetryOf === undefined)
      .sort((a, b) => a.EventId - b.EventId);
    recorded.forEach((event, i) => {
      const replayed = actions[i];
      if (!replayed || !sameAction(event, replayed)) {
        const expected = describeAction(describeEvent(event));
        const actual = describeAction(replayed);
        throw new NonDeterminismError(
          `non-deterministic orchestrator "${this.options.name}" (instance ${this.options.instanceId}): task ${event.EventId} in history is ` +
            `${expected}, but the replay asked for ${actual}. Orchestrators must make the same calls in the same order on every ` +
            'replay: take time from context.df.currentUtcDateTime and decisions from activity results only.',
          expected,
          actual,
        );
      }
    });
    return recorded;
  }

  /** Activities and sub-orchestrations scheduled in history but neither finished nor running (new ones, or left over by a restart). */
  private startOpenActivities(): void {
    const finishedTypes: number[] = [
      EventType.TaskCompleted,
      EventType.TaskFailed,
      EventType.SubOrchestrationInstanceCompleted,
      EventType.SubOrchestrationInstanceFailed,
    ];
    const finished = new Set(
      this.history.filter((e) => finishedTypes.includes(e.EventType)).map((e) => e.TaskScheduledId),
    );
    for (const event of this.history) {
      if (!isAttempt(event) || finished.has(event.EventId) || this.started.has(event.EventId)) continue;
      if (event.EventType === EventType.SubOrchestrationInstanceCreated) this.startSubOrchestration(event);
      else this.startActivity(event);
    }
  }

  /** Runs a sub-orchestration through this driver; its outcome completes (or fails) the parent's task. */
  private startSubOrchestration(created: HistoryEvent): void {
    const id = created.EventId;
    const name = String(created.Name);
    this.inFlight.add(id);
    this.started.add(id);
    const orchestrator = this.options.orchestrators?.[name];
    const input = created.Input === undefined ? undefined : JSON.parse(created.Input);
    const fail = (message: string, type = 'Error', stack?: string): void =>
      this.finish(id, {
        events: [
          makeEvent('SubOrchestrationInstanceFailedEvent', -1, this.clock, {
            taskScheduledId: id,
            reason: `Sub-orchestration '${name}' failed: ${message}`,
            details: stack ?? message,
            failureDetails: { ErrorType: type, ErrorMessage: message, StackTrace: stack, IsNonRetriable: false },
          }),
        ],
      });
    if (!orchestrator) {
      // Reported as a failure of the task, as the host does for an unknown function.
      void Promise.resolve().then(() => fail(`orchestrator "${name}" is not registered with the local durable driver`));
      return;
    }
    runOrchestration({
      name,
      orchestrator,
      activities: this.options.activities,
      activityContext: this.options.activityContext,
      orchestrators: this.options.orchestrators,
      instanceId: String(created.InstanceId),
      input,
      startTime: new Date(this.clock.getTime()),
      timers: this.options.timers,
      history: this.options.history,
    }).then(
      (result) => {
        if (result.status === 'Completed') {
          this.finish(id, {
            events: [
              makeEvent('SubOrchestrationInstanceCompletedEvent', -1, this.clock, {
                taskScheduledId: id,
                result: JSON.stringify(result.output ?? null),
              }),
            ],
          });
        } else fail(result.error ?? 'failed');
      },
      (err: unknown) => {
        const e = errorFields(err);
        fail(e.message, e.type, e.stack);
      },
    );
  }

  private startActivity(scheduled: HistoryEvent): void {
    const id = scheduled.EventId;
    const name = String(scheduled.Name);
    this.inFlight.add(id);
    this.started.add(id);
    const fn = this.options.activities[name];
    const input = scheduled.Input === undefined ? undefined : JSON.parse(scheduled.Input);
    const run = async (): Promise<unknown> => {
      if (!fn) throw new Error(`activity "${name}" is not registered with the local durable driver`);
      return fn(input as never, this.options.activityContext ?? SILENT_ACTIVITY_CONTEXT);
    };
    run().then(
      (result) =>
        this.finish(id, {
          events: [
            makeEvent('TaskCompletedEvent', -1, this.clock, {
              taskScheduledId: id,
              result: JSON.stringify(result ?? null),
            }),
          ],
        }),
      (err: unknown) => {
        const e = errorFields(err);
        this.finish(id, {
          events: [
            makeEvent('TaskFailedEvent', -1, this.clock, {
              taskScheduledId: id,
              reason: `Activity function '${name}' failed: ${e.message}`,
              details: e.stack ?? e.message,
              failureDetails: {
                ErrorType: e.type,
                ErrorMessage: e.message,
                StackTrace: e.stack,
                IsNonRetriable: false,
                Properties: e.code ? { code: e.code } : undefined,
              },
            }),
          ],
        });
      },
    );
  }

  private finish(id: number, completion: Completion): void {
    this.inFlight.delete(id);
    this.done.push(completion);
    this.wake?.();
  }

  private async settleInFlight(): Promise<void> {
    while (this.inFlight.size > 0) await new Promise<void>((resolve) => (this.wake = resolve));
    this.wake = undefined;
  }

  /** Timers created in history that have not fired, earliest first (canceled orchestrator timers excluded). */
  private openTimers(actions: readonly ActionRecord[]): HistoryEvent[] {
    const fired = new Set(this.history.filter((e) => e.EventType === EventType.TimerFired).map((e) => e.TimerId));
    const orchestratorIndex = new Map<number, number>();
    this.history
      .filter((e) => isScheduling(e) && e.RetryOf === undefined)
      .sort((a, b) => a.EventId - b.EventId)
      .forEach((e, i) => orchestratorIndex.set(e.EventId, i));
    return this.history
      .filter((e) => e.EventType === EventType.TimerCreated && !fired.has(e.EventId))
      .filter((e) => {
        const index = orchestratorIndex.get(e.EventId);
        const action = index === undefined ? undefined : actions[index];
        return !(action?.kind === 'timer' && action.canceled);
      })
      .sort((a, b) => Date.parse(String(a.FireAt)) - Date.parse(String(b.FireAt)) || a.EventId - b.EventId);
  }

  /** Waits for the next thing that happens: an activity finishing, or (when due) the earliest timer firing. */
  private async nextCompletion(actions: readonly ActionRecord[]): Promise<Completion> {
    for (;;) {
      const ready = this.done.shift();
      if (ready) return ready;
      const timer = this.openTimers(actions)[0];
      if (!timer && this.inFlight.size === 0) {
        throw new Error(
          `orchestration "${this.options.name}" (instance ${this.options.instanceId}) is waiting, but no activity is running and no timer is pending; ` +
            'the local durable driver cannot complete what it waits for',
        );
      }
      const fireAt = timer ? new Date(String(timer.FireAt)) : undefined;
      if (timer && fireAt && this.virtual && this.inFlight.size === 0) {
        if (fireAt > this.clock) this.clock = fireAt;
        return { events: [makeEvent('TimerFiredEvent', -1, this.clock, { timerId: timer.EventId, fireAt })] };
      }
      if (timer && fireAt && !this.virtual) {
        this.advanceClock();
        const waitMs = fireAt.getTime() - this.clock.getTime();
        if (waitMs <= 0)
          return { events: [makeEvent('TimerFiredEvent', -1, this.clock, { timerId: timer.EventId, fireAt })] };
        const woken = new Promise<void>((resolve) => (this.wake = resolve));
        const ac = new AbortController();
        // Timers longer than setTimeout's limit are waited for in slices.
        await Promise.race([
          woken,
          sleep(Math.min(waitMs, 2 ** 31 - 1), undefined, { signal: ac.signal }).catch(() => undefined),
        ]);
        ac.abort();
        this.wake = undefined;
        continue;
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }

  /**
   * Host-side retries. After a failed attempt of a retryable activity the host creates a retry timer (also
   * after the last attempt: the library waits for it before failing the task); when that timer fires and
   * attempts remain, the host schedules the next attempt. Both take the next task number, as the library's
   * `RetryableTask` expects.
   */
  private scheduleRetryStep(event: HistoryEvent, actions: readonly ActionRecord[]): void {
    if (event.EventType === EventType.TaskFailed || event.EventType === EventType.SubOrchestrationInstanceFailed) {
      const attempt = this.scheduledById(Number(event.TaskScheduledId));
      if (!attempt) return;
      const firstId = attempt.RetryOf ?? attempt.EventId;
      const policy = this.retryPolicyOf(firstId, actions);
      if (!policy) return;
      const failures = this.attemptsOf(firstId);
      const fireAt = new Date(this.clock.getTime() + retryDelayMs(policy, failures));
      this.append({ ...makeEvent('TimerCreatedEvent', this.nextEventId(), this.clock, { fireAt }), RetryOf: firstId });
    } else if (event.EventType === EventType.TimerFired) {
      const timer = this.scheduledById(Number(event.TimerId));
      if (!timer || timer.RetryOf === undefined) return;
      const firstId = timer.RetryOf;
      const policy = this.retryPolicyOf(firstId, actions);
      const first = this.scheduledById(firstId);
      if (!policy || !first) return;
      const attempts = this.attemptsOf(firstId);
      if (attempts < policy.maxNumberOfAttempts) {
        const next = this.nextEventId();
        if (first.EventType === EventType.SubOrchestrationInstanceCreated) {
          // A new attempt is a new instance (the failed one keeps its history).
          const instanceId = `${String(first.InstanceId)}-attempt${attempts + 1}`;
          this.append({
            ...makeEvent('SubOrchestrationInstanceCreatedEvent', next, this.clock, {
              name: first.Name,
              input: first.Input,
              instanceId,
            }),
            RetryOf: firstId,
          });
        } else {
          this.append({
            ...makeEvent('TaskScheduledEvent', next, this.clock, { name: first.Name, input: first.Input }),
            RetryOf: firstId,
          });
        }
      }
    }
  }

  private attemptsOf(firstId: number): number {
    return this.history.filter((e) => isAttempt(e) && (e.EventId === firstId || e.RetryOf === firstId)).length;
  }

  private retryPolicyOf(firstId: number, actions: readonly ActionRecord[]): RetryPolicy | undefined {
    const index = this.history
      .filter((e) => isScheduling(e) && e.RetryOf === undefined)
      .sort((a, b) => a.EventId - b.EventId)
      .findIndex((e) => e.EventId === firstId);
    const action = index < 0 ? undefined : actions[index];
    return action?.kind === 'activity' || action?.kind === 'suborchestration' ? action.retry : undefined;
  }
}
