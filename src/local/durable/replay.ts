/**
 * One replay: runs a history through the library's replay handler (`createOrchestrator`) and normalises the
 * actions the orchestrator asked for, in the order the library numbers its tasks, so the driver can compare
 * them with the history (determinism) and schedule what is new.
 */
import type * as df from 'durable-functions';
import { ErrorCodes, messageOf } from '../../core/errors';
import { EventType, type HistoryEvent } from './history';
import { durableInternals, type OrchestratorStateLike } from './internals';

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

export function describeAction(a: ActionRecord | undefined): string {
  if (!a) return 'nothing';
  if (a.kind === 'timer') return `timer firing at ${a.fireAt}`;
  const input = a.input === undefined ? '' : a.input.length > 200 ? `${a.input.slice(0, 200)}…` : a.input;
  return a.kind === 'suborchestration' ? `sub-orchestration "${a.name}"(${input})` : `activity "${a.name}"(${input})`;
}

export function describeEvent(e: HistoryEvent): ActionRecord {
  if (e.EventType === EventType.TimerCreated) return { kind: 'timer', fireAt: String(e.FireAt), canceled: false };
  if (e.EventType === EventType.SubOrchestrationInstanceCreated)
    return { kind: 'suborchestration', name: String(e.Name), input: e.Input };
  return { kind: 'activity', name: String(e.Name), input: e.Input };
}

export function sameAction(fromHistory: HistoryEvent, replayed: ActionRecord): boolean {
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
  readonly code = ErrorCodes.NON_DETERMINISTIC;
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
  const handler = durableInternals.createOrchestrator((context) => {
    captured = context;
    return options.orchestrator(context);
  });
  // One copy per event is enough: the library only replaces each event's own `Timestamp` (a string) with its
  // Date, which the copy already holds (the library leaves a Date as it is).
  const history = options.history.map((event) => ({ ...event, Timestamp: new Date(event.Timestamp) })) as unknown[];
  const input = options.input === undefined ? undefined : JSON.parse(JSON.stringify(options.input));
  const trigger = new durableInternals.DurableOrchestrationInput(options.instanceId, history, input);
  const context = new durableInternals.DummyOrchestrationContext(
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
    const message = messageOf(err);
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
