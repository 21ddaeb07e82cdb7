/**
 * Pins the local durable driver to the host it imitates:
 * - the library internals it deep-imports are those of the exact durable-functions version package.json pins,
 *   and another version fails loudly;
 * - the event sequences it writes have the shapes of the histories durable-functions' own tests feed its replay
 *   (test/testobjects/testhistories.ts upstream: "AnyAOrB", "TimerActivityRace" activity wins / timer wins).
 *   The expected histories below are written here from those shapes with the library's own event classes, then
 *   projected to what the replay reads (type, task number, name, task/timer reference, orchestration time);
 * - `timers: 'race'` lets a timer fire while an activity runs, so a `Task.any` timeout branch runs through the
 *   real replay.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as df from 'durable-functions';
import {
  EventType,
  PINNED_DURABLE_FUNCTIONS_VERSION,
  durableInternals,
  replayHistory,
  runOrchestration,
  type HistoryEvent,
} from '../../src/local/durableDriver';
import { assertPinnedDurableFunctions } from '../../src/local/durable/internals';

const START = new Date('2025-03-01T10:00:00.000Z');
const at = (ms: number): Date => new Date(START.getTime() + ms);

type Orchestrator = (context: df.OrchestrationContext) => Generator<df.Task, unknown, any>;

/** What the replay handler reads from an event, in a comparable form. */
interface Shape {
  type: number;
  id: number;
  name?: string;
  taskScheduledId?: number;
  timerId?: number;
  fireAt?: string;
  /** Only for OrchestratorStarted: it sets `currentUtcDateTime`. */
  time?: string;
}

function shapeOf(events: readonly object[]): Shape[] {
  return (JSON.parse(JSON.stringify(events)) as HistoryEvent[]).map((e) => {
    const s: Shape = { type: e.EventType, id: e.EventId };
    if (e.Name !== undefined && e.EventType !== EventType.ExecutionStarted) s.name = e.Name;
    if (e.TaskScheduledId !== undefined) s.taskScheduledId = e.TaskScheduledId;
    if (e.TimerId !== undefined) s.timerId = e.TimerId;
    if (e.FireAt !== undefined) s.fireAt = new Date(e.FireAt).toISOString();
    if (e.EventType === EventType.OrchestratorStarted) s.time = new Date(e.Timestamp).toISOString();
    return s;
  });
}

/** Library-built events (the classes upstream's test histories use), at orchestration time `ms`. */
const H = durableInternals.history;
const ev = {
  started: (ms: number) => new H.OrchestratorStartedEvent({ eventId: -1, timestamp: at(ms), isPlayed: false }),
  completed: (ms: number) => new H.OrchestratorCompletedEvent({ eventId: -1, timestamp: at(ms), isPlayed: false }),
  execution: (name: string) =>
    new H.ExecutionStartedEvent({ eventId: -1, timestamp: START, isPlayed: false, name, input: 'null' }),
  scheduled: (id: number, name: string, ms: number) =>
    new H.TaskScheduledEvent({ eventId: id, timestamp: at(ms), isPlayed: false, name }),
  taskDone: (id: number, ms: number, result: unknown) =>
    new H.TaskCompletedEvent({
      eventId: -1,
      timestamp: at(ms),
      isPlayed: false,
      taskScheduledId: id,
      result: JSON.stringify(result),
    }),
  timer: (id: number, fireMs: number, ms: number) =>
    new H.TimerCreatedEvent({ eventId: id, timestamp: at(ms), isPlayed: false, fireAt: at(fireMs) }),
  fired: (id: number, fireMs: number) =>
    new H.TimerFiredEvent({ eventId: -1, timestamp: at(fireMs), isPlayed: false, timerId: id, fireAt: at(fireMs) }),
};

/** The driver's history up to (not including) its ExecutionCompleted record, which upstream's inputs never hold. */
function beforeCompletion(history: readonly HistoryEvent[]): HistoryEvent[] {
  return history.filter((e) => e.EventType !== EventType.ExecutionCompleted);
}

describe('the pinned durable-functions version', () => {
  it('is the exact version in package.json and the one installed', () => {
    const pkg = JSON.parse(readFileSync(resolve(__dirname, '../../package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    expect(pkg.dependencies['durable-functions']).toBe(PINNED_DURABLE_FUNCTIONS_VERSION);
    const installed = JSON.parse(readFileSync(require.resolve('durable-functions/package.json'), 'utf8')) as {
      version: string;
    };
    expect(installed.version).toBe(PINNED_DURABLE_FUNCTIONS_VERSION);
  });

  it('refuses another version loudly, naming both and what to do', () => {
    expect(() => assertPinnedDurableFunctions('4.0.0')).toThrow(
      /deep-imports durable-functions 3\.5\.0 internals, but 4\.0\.0 is installed; nothing was run\. Pin/,
    );
    expect(() => assertPinnedDurableFunctions(undefined)).toThrow(/an unknown version is installed/);
    expect(() => assertPinnedDurableFunctions(PINNED_DURABLE_FUNCTIONS_VERSION)).not.toThrow();
  });
});

describe('driver histories in the shapes of the library tests', () => {
  it('AnyAOrB: two activities in one Task.any, the first to finish wins', async () => {
    const anyAOrB: Orchestrator = function* (context) {
      const a = context.df.callActivity('TaskA', null);
      const b = context.df.callActivity('TaskB', null);
      const winner: df.Task = yield context.df.Task.any([a, b]);
      return winner.result;
    };
    const result = await runOrchestration({
      name: 'AnyAOrB',
      orchestrator: anyAOrB,
      activities: { TaskA: async () => 'A', TaskB: async () => 'B' },
      instanceId: 'any-a-or-b',
      input: null,
      startTime: START,
      timers: 'race',
      activityDurationMs: (name) => (name === 'TaskA' ? 1000 : 2000),
    });
    expect(result.output).toBe('A');
    const expected = [
      ev.started(0),
      ev.execution('AnyAOrB'),
      ev.scheduled(0, 'TaskA', 0),
      ev.scheduled(1, 'TaskB', 0),
      ev.completed(0),
      ev.started(1000),
      ev.taskDone(0, 1000, 'A'),
    ];
    expect(shapeOf(beforeCompletion(result.history))).toEqual(shapeOf(expected));
  });

  /** Upstream's TimerActivityRace: a 1 s timer against TaskA; if TaskA wins, TaskB runs next. */
  const timerActivityRace: Orchestrator = function* (context) {
    const timer = context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 1000));
    const taskA = context.df.callActivity('TaskA', null);
    const winner: df.Task = yield context.df.Task.any([timer, taskA]);
    if (winner === timer) return 'timeout';
    yield context.df.callActivity('TaskB', null);
    return 'activity';
  };
  const both = { TaskA: async () => ({}), TaskB: async () => ({}) };

  it('TimerActivityRace, activity wins: the uncanceled timer still fires while TaskB runs', async () => {
    const durations: Record<string, number> = { TaskA: 500, TaskB: 600 };
    const result = await runOrchestration({
      name: 'TimerActivityRace',
      orchestrator: timerActivityRace,
      activities: both,
      instanceId: 'race-activity-wins',
      input: null,
      startTime: START,
      timers: 'race',
      activityDurationMs: (name) => durations[name],
    });
    expect(result.output).toBe('activity');
    const expected = [
      ev.started(0),
      ev.execution('TimerActivityRace'),
      ev.timer(0, 1000, 0),
      ev.scheduled(1, 'TaskA', 0),
      ev.completed(0),
      ev.started(500),
      ev.taskDone(1, 500, {}),
      ev.scheduled(2, 'TaskB', 500),
      ev.completed(500),
      ev.started(1000),
      ev.fired(0, 1000),
      ev.completed(1000),
      ev.started(1100),
      ev.taskDone(2, 1100, {}),
    ];
    expect(shapeOf(beforeCompletion(result.history))).toEqual(shapeOf(expected));
  });

  it('TimerActivityRace, timer wins: the Task.any timeout branch runs through the real replay', async () => {
    const result = await runOrchestration({
      name: 'TimerActivityRace',
      orchestrator: timerActivityRace,
      activities: both,
      instanceId: 'race-timer-wins',
      input: null,
      startTime: START,
      timers: 'race',
      activityDurationMs: () => 2000,
    });
    expect(result.status).toBe('Completed');
    expect(result.output).toBe('timeout');
    const expected = [
      ev.started(0),
      ev.execution('TimerActivityRace'),
      ev.timer(0, 1000, 0),
      ev.scheduled(1, 'TaskA', 0),
      ev.completed(0),
      ev.started(1000),
      ev.fired(0, 1000),
    ];
    expect(shapeOf(beforeCompletion(result.history))).toEqual(shapeOf(expected));
  });

  it('the library-built history replays to the same outcome as the driver history', async () => {
    const libraryHistory = [
      ev.started(0),
      ev.execution('TimerActivityRace'),
      ev.timer(0, 1000, 0),
      ev.scheduled(1, 'TaskA', 0),
      ev.completed(0),
      ev.started(1000),
      ev.fired(0, 1000),
    ];
    const replayOf = (history: readonly object[], instanceId: string) =>
      replayHistory({
        orchestrator: timerActivityRace,
        instanceId,
        name: 'TimerActivityRace',
        input: null,
        history: JSON.parse(JSON.stringify(history)) as HistoryEvent[],
      });
    const fromLibrary = await replayOf(libraryHistory, 'library-timer-wins');
    expect(fromLibrary.status).toBe('Completed');
    expect(fromLibrary.output).toBe('timeout');
    expect(fromLibrary.actions).toEqual([
      { kind: 'timer', fireAt: at(1000).toISOString(), canceled: false },
      { kind: 'activity', name: 'TaskA', input: 'null' },
    ]);
    const driven = await runOrchestration({
      name: 'TimerActivityRace',
      orchestrator: timerActivityRace,
      activities: both,
      instanceId: 'driver-timer-wins',
      input: null,
      startTime: START,
      timers: 'race',
      activityDurationMs: () => Infinity,
    });
    const fromDriver = await replayOf(driven.history, 'driver-timer-wins');
    expect(fromDriver).toEqual(fromLibrary);
  });
});

describe('fan-out/fan-in in the shape of the library tests (FanOutFanInDiskUsage)', () => {
  const files = ['a.txt', 'b.txt', 'c.txt'];
  const sizes: Record<string, number> = { 'a.txt': 1, 'b.txt': 2, 'c.txt': 3 };
  const diskUsage: Orchestrator = function* (context) {
    const list: string[] = yield context.df.callActivity('GetFileList', 'C:\\Dev');
    const each: number[] = yield context.df.Task.all(list.map((file) => context.df.callActivity('GetFileSize', file)));
    return each.reduce((a, b) => a + b, 0);
  };

  it('numbers the list task 0 and the fanned-out tasks 1..n, and replays like the host-batched history', async () => {
    const result = await runOrchestration({
      name: 'FanOutFanInDiskUsage',
      orchestrator: diskUsage,
      activities: {
        GetFileList: async () => files,
        GetFileSize: async (file: string) => sizes[file],
      },
      instanceId: 'disk-usage',
      input: null,
      startTime: START,
      timers: 'race',
      // Finishes at 1 s (the list), then 3 s, 3 s and 4 s, as upstream's "Complete" history has them.
      activityDurationMs: (name, input) => (name === 'GetFileList' ? 1000 : input === 'c.txt' ? 3000 : 2000),
    });
    expect(result.output).toBe(6);
    const scheduledShape = shapeOf(result.history).filter((e) => e.type === EventType.TaskScheduled);
    expect(scheduledShape).toEqual(
      shapeOf([ev.scheduled(0, 'GetFileList', 0), ...files.map((_, i) => ev.scheduled(i + 1, 'GetFileSize', 1000))]),
    );
    const completions = result.history.filter((e) => e.EventType === EventType.TaskCompleted);
    expect(completions.map((e) => [e.TaskScheduledId, e.Timestamp])).toEqual([
      [0, at(1000).toISOString()],
      [1, at(3000).toISOString()],
      [2, at(3000).toISOString()],
      [3, at(4000).toISOString()],
    ]);

    // The host may hand several completions to one episode (upstream batches tasks 1 and 2); the driver appends
    // one per episode. The replay must end the same either way.
    const batched = [
      ev.started(0),
      ev.execution('FanOutFanInDiskUsage'),
      ev.scheduled(0, 'GetFileList', 0),
      ev.completed(0),
      ev.started(1000),
      ev.taskDone(0, 1000, files),
      ev.completed(1000),
      ev.started(1000),
      ...files.map((_, i) => ev.scheduled(i + 1, 'GetFileSize', 1000)),
      ev.completed(1000),
      ev.started(3000),
      ev.taskDone(1, 3000, 1),
      ev.taskDone(2, 3000, 2),
      ev.completed(3000),
      ev.started(4000),
      ev.taskDone(3, 4000, 3),
    ];
    const replayOf = (history: readonly object[]) =>
      replayHistory({
        orchestrator: diskUsage,
        instanceId: 'disk-usage',
        name: 'FanOutFanInDiskUsage',
        input: null,
        history: JSON.parse(JSON.stringify(history)) as HistoryEvent[],
      });
    const fromLibrary = await replayOf(batched);
    const fromDriver = await replayOf(result.history);
    expect(fromLibrary.status).toBe('Completed');
    expect(fromLibrary.output).toBe(6);
    expect({ ...fromDriver, actions: fromDriver.actions.map((a) => a.kind) }).toEqual({
      ...fromLibrary,
      actions: fromLibrary.actions.map((a) => a.kind),
    });
  });
});

describe("timers: 'race'", () => {
  /** A gate-like wait: an activity with a deadline; on timeout the orchestrator records it and stops. */
  const withDeadline: Orchestrator = function* (context) {
    const deadline = context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 60_000));
    const work = context.df.callActivity('Scan', 'image');
    const winner: df.Task = yield context.df.Task.any([work, deadline]);
    if (winner === work) {
      deadline.cancel();
      return { verdict: work.result, at: context.df.currentUtcDateTime.toISOString() };
    }
    return { verdict: 'timed-out', at: context.df.currentUtcDateTime.toISOString() };
  };

  it('an activity that never completes lets the timer win, and is never run', async () => {
    let ran = 0;
    const result = await runOrchestration({
      name: 'Deadline',
      orchestrator: withDeadline,
      activities: {
        Scan: async () => {
          ran++;
          return 'clean';
        },
      },
      instanceId: 'deadline-never',
      input: null,
      startTime: START,
      timers: 'race',
      activityDurationMs: () => Infinity,
    });
    expect(result.output).toEqual({ verdict: 'timed-out', at: at(60_000).toISOString() });
    expect(ran).toBe(0);
    expect(result.history.filter((e) => e.EventType === EventType.TaskCompleted)).toHaveLength(0);
  });

  it('an activity due before the deadline wins and moves the clock by its duration', async () => {
    const result = await runOrchestration({
      name: 'Deadline',
      orchestrator: withDeadline,
      activities: { Scan: async () => 'clean' },
      instanceId: 'deadline-in-time',
      input: null,
      startTime: START,
      timers: 'race',
      activityDurationMs: () => 59_999,
    });
    expect(result.output).toEqual({ verdict: 'clean', at: at(59_999).toISOString() });
    expect(result.history.filter((e) => e.EventType === EventType.TimerFired)).toHaveLength(0);
  });

  it('waits for a slow real activity that is due first, even when a timer is open', async () => {
    const result = await runOrchestration({
      name: 'Deadline',
      orchestrator: withDeadline,
      activities: {
        Scan: async () => {
          await new Promise((r) => setTimeout(r, 50));
          return 'clean';
        },
      },
      instanceId: 'deadline-slow-real',
      input: null,
      startTime: START,
      timers: 'race',
    });
    expect(result.output).toEqual({ verdict: 'clean', at: START.toISOString() });
  });

  it('fails clearly when nothing it waits for can ever complete', async () => {
    const waitsForever: Orchestrator = function* (context) {
      return yield context.df.callActivity('Scan', 'image');
    };
    await expect(
      runOrchestration({
        name: 'Forever',
        orchestrator: waitsForever,
        activities: { Scan: async () => 'clean' },
        instanceId: 'forever',
        input: null,
        startTime: START,
        timers: 'race',
        activityDurationMs: () => Infinity,
      }),
    ).rejects.toThrow(/no timer is pending and every activity it waits for never completes/);
  });

  it('without race mode the same deadline cannot win against a running activity (why the mode exists)', async () => {
    const result = await runOrchestration({
      name: 'Deadline',
      orchestrator: withDeadline,
      activities: { Scan: async () => 'clean' },
      instanceId: 'deadline-virtual',
      input: null,
      startTime: START,
    });
    expect(result.output).toEqual({ verdict: 'clean', at: START.toISOString() });
  });
});
