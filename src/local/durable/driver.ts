/**
 * Runs a durable-functions orchestrator in this process, without the Functions host, through the library's
 * own replay engine (./replay.ts; the pinned library internals are in ./internals.ts, the history in ./history.ts).
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
import { SILENT_ACTIVITY_CONTEXT, type ActivityContext } from '../../orchestrations/services';
import { EventType, isAttempt, isScheduling, makeEvent, type HistoryEvent, type HistoryStore } from './history';
import {
  NonDeterminismError,
  describeAction,
  describeEvent,
  replayHistory,
  sameAction,
  type ActionRecord,
  type RetryPolicy,
} from './replay';

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
   * The version a new instance is created with (recorded in `ExecutionStarted`, read by `context.df.version`), as
   * host.json's `durableTask.defaultVersion` does in Azure; sub-orchestrations get it too. Default: none (an
   * instance from before versions). A resumed instance keeps the version in its saved history.
   */
  defaultVersion?: string;
  /**
   * `virtual` (default): a timer fires as soon as nothing else is running, and the orchestration clock jumps to
   * its fire time. `real`: the driver waits for the fire time; the clock follows the wall clock from `startTime`.
   */
  timers?: 'virtual' | 'real' | 'race';
  /**
   * `race` mode only: how long an activity takes on the orchestration clock, in milliseconds (default 0). An
   * activity finishing at virtual time `start + duration` is delivered before a timer firing later, and a timer
   * firing earlier wins the race; `Infinity` is an activity that never completes (it is not run at all), so a
   * `Task.any([activity, timer])` timeout branch can be driven. Other modes ignore it.
   */
  activityDurationMs?: (name: string, input: unknown) => number;
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
  /** `race` mode: orchestration time (ms) at which the task finishes. */
  at?: number;
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
  /** `race` mode: orchestration time (ms) at which each running task finishes. */
  private readonly dueAt = new Map<number, number>();
  private lastCustomStatus: string | undefined;

  constructor(private readonly options: RunOrchestrationOptions) {
    this.clock = new Date(options.startTime.getTime());
    // Real mode measures elapsed wall time from now; this offset only shifts it to the requested start.
    this.realOffsetMs = options.startTime.getTime() - new Date().getTime();
  }

  /** Whether the orchestration clock is virtual (`virtual` and `race` modes) rather than the wall clock. */
  private get virtual(): boolean {
    return (this.options.timers ?? 'virtual') !== 'real';
  }

  private get race(): boolean {
    return this.options.timers === 'race';
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
      this.append(
        makeEvent('ExecutionStartedEvent', -1, this.clock, {
          name: options.name,
          input,
          version: options.defaultVersion,
        }),
      );
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
    // `race` mode: a sub-orchestration keeps its own clock; the parent sees it finish when it started.
    if (this.race) this.dueAt.set(id, this.clock.getTime());
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
      defaultVersion: this.options.defaultVersion,
      timers: this.options.timers,
      activityDurationMs: this.options.activityDurationMs,
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
    const input = scheduled.Input === undefined ? undefined : JSON.parse(scheduled.Input);
    if (this.race) {
      const duration = this.options.activityDurationMs?.(name, input) ?? 0;
      // Never completes: not run, never waited for; only a timer (or nothing) can end the wait.
      if (duration === Infinity) {
        this.started.add(id);
        return;
      }
      this.dueAt.set(id, this.clock.getTime() + Math.max(0, duration));
    }
    this.inFlight.add(id);
    this.started.add(id);
    const fn = this.options.activities[name];
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
    this.done.push({ ...completion, at: this.dueAt.get(id) });
    this.dueAt.delete(id);
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
    if (this.race) return this.nextRaceCompletion(actions);
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
   * `race` mode: the next event on the orchestration clock. Tasks due no later than the earliest open timer are
   * waited for (they may come first); then the earliest of the finished tasks (by due time, then by finishing
   * order) and that timer wins, a task on a tie. The clock moves to the winner's time.
   */
  private async nextRaceCompletion(actions: readonly ActionRecord[]): Promise<Completion> {
    for (;;) {
      const timer = this.openTimers(actions)[0];
      const timerAt = timer ? Date.parse(String(timer.FireAt)) : Infinity;
      const mustWait = [...this.inFlight].some((id) => (this.dueAt.get(id) ?? this.clock.getTime()) <= timerAt);
      if (mustWait) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      let best = -1;
      this.done.forEach((c, i) => {
        if (best < 0 || (c.at ?? 0) < (this.done[best].at ?? 0)) best = i;
      });
      if (best >= 0 && (this.done[best].at ?? 0) <= timerAt) {
        const [completion] = this.done.splice(best, 1);
        if (completion.at !== undefined && completion.at > this.clock.getTime()) this.clock = new Date(completion.at);
        for (const event of completion.events) event.Timestamp = this.clock.toISOString();
        return completion;
      }
      if (timer) {
        const fireAt = new Date(timerAt);
        if (fireAt > this.clock) this.clock = fireAt;
        return { events: [makeEvent('TimerFiredEvent', -1, this.clock, { timerId: timer.EventId, fireAt })] };
      }
      throw new Error(
        `orchestration "${this.options.name}" (instance ${this.options.instanceId}) is waiting, but no timer is pending and ` +
          'every activity it waits for never completes (activityDurationMs returned Infinity); the local durable driver cannot complete what it waits for',
      );
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
