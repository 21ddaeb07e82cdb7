/**
 * Orchestration history as the host keeps it: event types, the host-shaped event record, where histories are
 * saved between episodes, and the one way the driver builds an event (with the library's own classes).
 */
import { durableInternals } from './internals';

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
export function isScheduling(e: HistoryEvent): boolean {
  return (
    e.EventType === EventType.TaskScheduled ||
    e.EventType === EventType.TimerCreated ||
    e.EventType === EventType.SubOrchestrationInstanceCreated
  );
}

/** Events that record an attempt of a retryable task (an activity or a sub-orchestration). */
export function isAttempt(e: HistoryEvent): boolean {
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
export function makeEvent(
  kind: keyof typeof durableInternals.history,
  eventId: number,
  at: Date,
  fields: Record<string, unknown> = {},
): HistoryEvent {
  const event = new durableInternals.history[kind]({ eventId, timestamp: at, isPlayed: false, ...fields });
  return jsonShaped(event) as HistoryEvent;
}

/**
 * What `JSON.parse(JSON.stringify(value))` gives for the values a history event holds (the library's event
 * classes: primitives, `Date`s, plain objects and arrays), without the text in between: `undefined` and
 * functions dropped from objects (`null` in arrays), a `Date` as its ISO string, non-finite numbers as `null`.
 * The driver builds every event with it, once per event, so it is on the gate's path.
 */
export function jsonShaped(value: unknown): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (value instanceof Date) return value.toJSON();
  if (Array.isArray(value))
    return value.map((v) => (v === undefined || typeof v === 'function' ? null : jsonShaped(v)));
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      const v = (value as Record<string, unknown>)[key];
      if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
      // As JSON.parse does, `__proto__` becomes an own property (an assignment would set the prototype).
      if (key === '__proto__')
        Object.defineProperty(out, key, { value: jsonShaped(v), enumerable: true, writable: true, configurable: true });
      else out[key] = jsonShaped(v);
    }
    return out;
  }
  return undefined;
}
