/**
 * The local durable driver: the real durable-functions replay engine, driven without the Functions host.
 * These tests exercise the driver's own mechanics (numbering, retries, timers, determinism, resume) with
 * small orchestrators; imageGate.test.ts runs the real gate through it.
 */
import * as df from 'durable-functions';
import {
  EventType,
  MemoryHistoryStore,
  NonDeterminismError,
  durableInternals,
  replayHistory,
  runOrchestration,
  type DriverEvent,
  type HistoryEvent,
} from '../../src/local/durableDriver';

const START = new Date('2025-03-01T10:00:00.000Z');

type Orchestrator = (context: df.OrchestrationContext) => Generator<df.Task, unknown, any>;

function scheduled(history: HistoryEvent[]): HistoryEvent[] {
  return history.filter((e) => e.EventType === EventType.TaskScheduled);
}

function ofType(history: HistoryEvent[], type: number): HistoryEvent[] {
  return history.filter((e) => e.EventType === type);
}

const hello = async (name: string): Promise<string> => `Hello, ${name}!`;

describe('runOrchestration', () => {
  it('runs a sequence of activities and numbers them in order', async () => {
    const sequence: Orchestrator = function* (context) {
      const out: string[] = [];
      for (const city of ['Tokyo', 'Seattle', 'London']) out.push(yield context.df.callActivity('Hello', city));
      return out;
    };
    const result = await runOrchestration({
      name: 'Seq',
      orchestrator: sequence,
      activities: { Hello: hello },
      instanceId: 'seq-1',
      input: null,
      startTime: START,
    });
    expect(result.status).toBe('Completed');
    expect(result.output).toEqual(['Hello, Tokyo!', 'Hello, Seattle!', 'Hello, London!']);
    expect(scheduled(result.history).map((e) => [e.EventId, e.Name, e.Input])).toEqual([
      [0, 'Hello', '"Tokyo"'],
      [1, 'Hello', '"Seattle"'],
      [2, 'Hello', '"London"'],
    ]);
    const completed = ofType(result.history, EventType.TaskCompleted);
    expect(completed.map((e) => [e.TaskScheduledId, e.Result])).toEqual([
      [0, '"Hello, Tokyo!"'],
      [1, '"Hello, Seattle!"'],
      [2, '"Hello, London!"'],
    ]);
    expect(result.history[0].EventType).toBe(EventType.OrchestratorStarted);
    expect(result.history[1]).toMatchObject({ EventType: EventType.ExecutionStarted, Name: 'Seq', Input: 'null' });
    expect(typeof result.history[0].Timestamp).toBe('string');
    expect(result.history.at(-1)).toMatchObject({
      EventType: EventType.ExecutionCompleted,
      OrchestrationStatus: 'Completed',
    });
  });

  it('runs a fan-out in parallel and hands each result to its own task', async () => {
    const n = 5;
    let started = 0;
    let releaseAll!: () => void;
    const allStarted = new Promise<void>((resolve) => (releaseAll = resolve));
    // Each activity waits until all of them have started: only a parallel driver gets past this.
    const finished = new Map<number, () => void>();
    const finishedAt = new Map<number, Promise<void>>();
    for (let x = 1; x <= n; x++) finishedAt.set(x, new Promise<void>((resolve) => finished.set(x, resolve)));
    const square = async (x: number): Promise<number> => {
      started++;
      if (started === n) releaseAll();
      await allStarted;
      // Finish in reverse order so completion order differs from task order: each waits for the next one to have
      // finished, and a turn of the event loop more, so the driver has taken that completion first (not timing
      // alone, which a loaded machine can reorder).
      if (x < n) {
        await finishedAt.get(x + 1);
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
      finished.get(x)?.();
      return x * x;
    };
    const fanOut: Orchestrator = function* (context) {
      const tasks = [1, 2, 3, 4, 5].map((x) => context.df.callActivity('Square', x));
      const results: number[] = yield context.df.Task.all(tasks);
      const total: number = yield context.df.callActivity(
        'Square',
        results.reduce((a, b) => a + b, 0),
      );
      return { results, total };
    };
    const result = await runOrchestration({
      name: 'FanOut',
      orchestrator: fanOut,
      activities: { Square: square },
      instanceId: 'fan-1',
      input: null,
      startTime: START,
    });
    expect(result.output).toEqual({ results: [1, 4, 9, 16, 25], total: 55 * 55 });
    // Each activity ran exactly once, though completions waited their turn to enter the history.
    expect(started).toBe(n + 1);
    const completions = ofType(result.history, EventType.TaskCompleted).map((e) => e.TaskScheduledId);
    expect(completions.slice(0, 5)).toEqual([4, 3, 2, 1, 0]);
    expect(scheduled(result.history).map((e) => e.EventId)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('retries a failing activity host-side with backoff, then succeeds', async () => {
    let calls = 0;
    const flaky = async (): Promise<string> => {
      calls++;
      if (calls < 3) throw Object.assign(new Error(`registry timed out (attempt ${calls})`), { code: 'TRANSIENT' });
      return 'ok';
    };
    const withRetry: Orchestrator = function* (context) {
      const options = new df.RetryOptions(2000, 4);
      options.backoffCoefficient = 2;
      const value: string = yield context.df.callActivityWithRetry('Flaky', options, { x: 1 });
      return { value, at: context.df.currentUtcDateTime.toISOString() };
    };
    const result = await runOrchestration({
      name: 'Retry',
      orchestrator: withRetry,
      activities: { Flaky: flaky },
      instanceId: 'retry-1',
      input: null,
      startTime: START,
    });
    expect(result.status).toBe('Completed');
    expect(calls).toBe(3);
    // 2 s after the first failure, 4 s after the second: the orchestration clock moved 6 s.
    expect(result.output).toEqual({ value: 'ok', at: '2025-03-01T10:00:06.000Z' });
    const shape = result.history
      .filter((e) =>
        [
          EventType.TaskScheduled,
          EventType.TaskCompleted,
          EventType.TaskFailed,
          EventType.TimerCreated,
          EventType.TimerFired,
        ].includes(e.EventType as never),
      )
      .map((e) =>
        [EventType.TaskScheduled, EventType.TimerCreated].includes(e.EventType as never)
          ? `${e.EventType}:${e.EventId}`
          : `${e.EventType}:${e.TaskScheduledId ?? e.TimerId}`,
      );
    const S = EventType.TaskScheduled,
      F = EventType.TaskFailed,
      C = EventType.TaskCompleted,
      TC = EventType.TimerCreated,
      TF = EventType.TimerFired;
    expect(shape).toEqual([
      `${S}:0`,
      `${F}:0`,
      `${TC}:1`,
      `${TF}:1`,
      `${S}:2`,
      `${F}:2`,
      `${TC}:3`,
      `${TF}:3`,
      `${S}:4`,
      `${C}:4`,
    ]);
    const timers = ofType(result.history, EventType.TimerCreated).map((e) => e.FireAt);
    expect(timers).toEqual(['2025-03-01T10:00:02.000Z', '2025-03-01T10:00:06.000Z']);
    const failed = ofType(result.history, EventType.TaskFailed)[0];
    expect(failed.FailureDetails).toMatchObject({
      ErrorType: 'Error',
      ErrorMessage: 'registry timed out (attempt 1)',
      Properties: { code: 'TRANSIENT' },
    });
  });

  it('numbers retry timers and new attempts inside a fan-out so every result reaches its own task', async () => {
    const failedOnce = new Set<string>();
    const echo = async (x: string): Promise<string> => {
      if ((x === 'a' || x === 'c') && !failedOnce.has(x)) {
        failedOnce.add(x);
        throw new Error(`first attempt for ${x} fails`);
      }
      return x.toUpperCase();
    };
    const fanOut: Orchestrator = function* (context) {
      const retry = new df.RetryOptions(500, 3);
      const first: string[] = yield context.df.Task.all(
        ['a', 'b', 'c', 'd'].map((x) => context.df.callActivityWithRetry('Echo', retry, x)),
      );
      const after: string = yield context.df.callActivity('Echo', 'e');
      return [...first, after];
    };
    const result = await runOrchestration({
      name: 'RetryFan',
      orchestrator: fanOut,
      activities: { Echo: echo },
      instanceId: 'rf-1',
      input: null,
      startTime: START,
    });
    expect(result.output).toEqual(['A', 'B', 'C', 'D', 'E']);
    // Four first attempts (0-3), then per failure a retry timer and a new attempt, then the last activity.
    const ids = result.history
      .filter((e) => e.EventType === EventType.TaskScheduled || e.EventType === EventType.TimerCreated)
      .map((e) => e.EventId);
    expect([...ids].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(scheduled(result.history).at(-1)).toMatchObject({ Name: 'Echo', Input: '"e"', EventId: 8 });
  });

  it('surfaces an exhausted retry as a thrown TaskFailedError in the orchestrator', async () => {
    let calls = 0;
    const broken = async (): Promise<never> => {
      calls++;
      throw Object.assign(new Error('connection reset'), { code: 'TRANSIENT' });
    };
    const catching: Orchestrator = function* (context) {
      try {
        yield context.df.callActivityWithRetry('Broken', new df.RetryOptions(1000, 3), null);
        return { caught: false };
      } catch (err) {
        const failure = err as df.TaskFailedError;
        return {
          caught: true,
          message: failure.message,
          code: failure.failureDetails?.properties?.code,
          at: context.df.currentUtcDateTime.toISOString(),
        };
      }
    };
    const result = await runOrchestration({
      name: 'Exhaust',
      orchestrator: catching,
      activities: { Broken: broken },
      instanceId: 'ex-1',
      input: null,
      startTime: START,
    });
    expect(calls).toBe(3);
    expect(result.output).toEqual({
      caught: true,
      message: 'Error: connection reset',
      code: 'TRANSIENT',
      at: '2025-03-01T10:00:03.000Z',
    });
    // Three attempts, three retry timers (the library waits for one after the last failure too).
    expect(scheduled(result.history)).toHaveLength(3);
    expect(ofType(result.history, EventType.TimerFired)).toHaveLength(3);
  });

  it('fails the orchestration when it does not catch a failed activity', async () => {
    const uncaught: Orchestrator = function* (context) {
      yield context.df.callActivity('Broken', null);
      return 'unreachable';
    };
    const result = await runOrchestration({
      name: 'Uncaught',
      orchestrator: uncaught,
      activities: { Broken: async () => Promise.reject(new Error('no such manifest')) },
      instanceId: 'unc-1',
      input: null,
      startTime: START,
    });
    expect(result.status).toBe('Failed');
    expect(result.error).toContain('no such manifest');
    expect(result.history.at(-1)).toMatchObject({
      EventType: EventType.ExecutionCompleted,
      OrchestrationStatus: 'Failed',
    });
  });

  it('fires virtual timers at once and advances the orchestration clock to their fire time', async () => {
    const polling: Orchestrator = function* (context) {
      const seen: string[] = [context.df.currentUtcDateTime.toISOString()];
      for (let i = 0; i < 3; i++) {
        yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 5 * 60_000));
        seen.push(context.df.currentUtcDateTime.toISOString());
      }
      return seen;
    };
    const t0 = Date.now();
    const result = await runOrchestration({
      name: 'Poll',
      orchestrator: polling,
      activities: {},
      instanceId: 'poll-1',
      input: null,
      startTime: START,
    });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(result.output).toEqual([
      '2025-03-01T10:00:00.000Z',
      '2025-03-01T10:05:00.000Z',
      '2025-03-01T10:10:00.000Z',
      '2025-03-01T10:15:00.000Z',
    ]);
    expect(ofType(result.history, EventType.TimerCreated).map((e) => [e.EventId, e.FireAt])).toEqual([
      [0, '2025-03-01T10:05:00.000Z'],
      [1, '2025-03-01T10:10:00.000Z'],
      [2, '2025-03-01T10:15:00.000Z'],
    ]);
    expect(ofType(result.history, EventType.TimerFired).map((e) => e.TimerId)).toEqual([0, 1, 2]);
  });

  it('waits for real timers in real mode', async () => {
    const short: Orchestrator = function* (context) {
      yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 150));
      return context.df.currentUtcDateTime.getTime() - START.getTime();
    };
    const t0 = Date.now();
    const result = await runOrchestration({
      name: 'Real',
      orchestrator: short,
      activities: {},
      instanceId: 'real-1',
      input: null,
      startTime: START,
      timers: 'real',
    });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    expect(result.output as number).toBeGreaterThanOrEqual(150);
  });

  it('lets a timer race an activity with Task.any', async () => {
    const race: Orchestrator = function* (context) {
      const deadline = context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 60_000));
      const work = context.df.callActivity('Hello', 'race');
      const winner: df.Task = yield context.df.Task.any([deadline, work]);
      if (winner === work) {
        deadline.cancel();
        return work.result;
      }
      return 'timeout';
    };
    const result = await runOrchestration({
      name: 'Race',
      orchestrator: race,
      activities: { Hello: hello },
      instanceId: 'race-1',
      input: null,
      startTime: START,
    });
    expect(result.output).toBe('Hello, race!');
    expect(ofType(result.history, EventType.TimerFired)).toHaveLength(0);
  });

  it('detects an orchestrator that asks for a different activity on replay', async () => {
    let replays = 0; // module-level state: exactly what an orchestrator must not depend on
    const nondeterministic: Orchestrator = function* (context) {
      replays++;
      yield context.df.callActivity(replays === 1 ? 'Hello' : 'Goodbye', 'x');
      return 'done';
    };
    const run = runOrchestration({
      name: 'Bad',
      orchestrator: nondeterministic,
      activities: { Hello: hello, Goodbye: hello },
      instanceId: 'bad-1',
      input: null,
      startTime: START,
    });
    await expect(run).rejects.toBeInstanceOf(NonDeterminismError);
    await expect(run).rejects.toMatchObject({
      code: 'NON_DETERMINISTIC',
      expected: 'activity "Hello"("x")',
      actual: 'activity "Goodbye"("x")',
    });
  });

  it('detects a timer whose fire time comes from the wall clock', async () => {
    let offset = 0;
    const wallClock: Orchestrator = function* (context) {
      offset += 1000; // stands in for Date.now() moving between replays
      yield context.df.createTimer(new Date(START.getTime() + offset));
      yield context.df.callActivity('Hello', 'after');
      return 'done';
    };
    await expect(
      runOrchestration({
        name: 'Clock',
        orchestrator: wallClock,
        activities: { Hello: hello },
        instanceId: 'clock-1',
        input: null,
        startTime: START,
      }),
    ).rejects.toThrow(
      /task 0 in history is timer firing at 2025-03-01T10:00:01.000Z, but the replay asked for timer firing at 2025-03-01T10:00:02.000Z/,
    );
  });

  it('reports custom status changes', async () => {
    const statuses: unknown[] = [];
    const withStatus: Orchestrator = function* (context) {
      context.df.setCustomStatus({ step: 'one' });
      yield context.df.callActivity('Hello', 'a');
      context.df.setCustomStatus({ step: 'two' });
      yield context.df.callActivity('Hello', 'b');
      return 'ok';
    };
    const onEvent = (e: DriverEvent): void => {
      if (e.kind === 'customStatus') statuses.push(e.customStatus);
    };
    const result = await runOrchestration({
      name: 'Status',
      orchestrator: withStatus,
      activities: { Hello: hello },
      instanceId: 'st-1',
      input: null,
      startTime: START,
      onEvent,
    });
    expect(statuses).toEqual([{ step: 'one' }, { step: 'two' }]);
    expect(result.customStatus).toEqual({ step: 'two' });
  });

  it('resumes from a saved history without re-running completed activities', async () => {
    const calls: string[] = [];
    const activities = {
      Hello: async (name: string) => {
        calls.push(name);
        return `Hello, ${name}!`;
      },
    };
    const twoSteps: Orchestrator = function* (context) {
      const input = context.df.getInput() as { cities: string[] };
      const out: string[] = [];
      for (const city of input.cities) out.push(yield context.df.callActivity('Hello', city));
      return out;
    };
    const full = await runOrchestration({
      name: 'Two',
      orchestrator: twoSteps,
      activities,
      instanceId: 'two-1',
      input: { cities: ['Oslo', 'Rome'] },
      startTime: START,
    });
    // Simulate a crash right after Rome was scheduled: keep the history up to that episode's end.
    const cut = full.history.findIndex((e) => e.EventType === EventType.TaskScheduled && e.EventId === 1);
    const store = new MemoryHistoryStore();
    await store.save('two-1', full.history.slice(0, cut + 2));
    calls.length = 0;
    // The input passed on resume is ignored: the instance keeps the one it started with.
    const resumed = await runOrchestration({
      name: 'Two',
      orchestrator: twoSteps,
      activities,
      instanceId: 'two-1',
      input: { cities: ['X'] },
      startTime: START,
      history: store,
    });
    expect(resumed.output).toEqual(['Hello, Oslo!', 'Hello, Rome!']);
    expect(calls).toEqual(['Rome']);
    // A finished instance is not run again.
    calls.length = 0;
    const again = await runOrchestration({
      name: 'Two',
      orchestrator: twoSteps,
      activities,
      instanceId: 'two-1',
      input: null,
      startTime: START,
      history: store,
    });
    expect(again.output).toEqual(['Hello, Oslo!', 'Hello, Rome!']);
    expect(calls).toEqual([]);
  });

  it('re-running the final history through the replay handler gives the same actions', async () => {
    const fanOut: Orchestrator = function* (context) {
      const values: string[] = yield context.df.Task.all(
        ['a', 'b'].map((x) => context.df.callActivityWithRetry('Hello', new df.RetryOptions(1000, 2), x)),
      );
      yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 1000));
      return values;
    };
    const result = await runOrchestration({
      name: 'Again',
      orchestrator: fanOut,
      activities: { Hello: hello },
      instanceId: 'again-1',
      input: null,
      startTime: START,
    });
    const replay = await replayHistory({
      orchestrator: fanOut,
      instanceId: 'again-1',
      name: 'Again',
      input: null,
      history: result.history,
    });
    expect(replay.status).toBe('Completed');
    expect(replay.output).toEqual(result.output);
    expect(replay.actions).toEqual([
      {
        kind: 'activity',
        name: 'Hello',
        input: '"a"',
        retry: {
          firstRetryIntervalMs: 1000,
          maxNumberOfAttempts: 2,
          backoffCoefficient: 1,
          maxRetryIntervalMs: undefined,
        },
      },
      {
        kind: 'activity',
        name: 'Hello',
        input: '"b"',
        retry: {
          firstRetryIntervalMs: 1000,
          maxNumberOfAttempts: 2,
          backoffCoefficient: 1,
          maxRetryIntervalMs: undefined,
        },
      },
      { kind: 'timer', fireAt: '2025-03-01T10:00:01.000Z', canceled: false },
    ]);
  });
});

describe('the replay mechanism itself (no driver)', () => {
  it('replays a hand-written host history and asks for the next activity', async () => {
    const { createOrchestrator, DurableOrchestrationInput, DummyOrchestrationContext, history: H } = durableInternals;
    const sequence = function* (context: df.OrchestrationContext): Generator<df.Task, string[], any> {
      const a: string = yield context.df.callActivity('Hello', 'Tokyo');
      const b: string = yield context.df.callActivity('Hello', 'Seattle');
      return [a, b];
    };
    const t0 = START;
    const t1 = new Date(START.getTime() + 1000);
    const history = [
      new H.OrchestratorStartedEvent({ eventId: -1, timestamp: t0, isPlayed: false }),
      new H.ExecutionStartedEvent({
        eventId: -1,
        timestamp: t0,
        isPlayed: true,
        name: 'Seq',
        input: JSON.stringify(null),
      }),
      new H.TaskScheduledEvent({ eventId: 0, timestamp: t0, isPlayed: false, name: 'Hello', input: '"Tokyo"' }),
      new H.OrchestratorCompletedEvent({ eventId: -1, timestamp: t0, isPlayed: false }),
      new H.OrchestratorStartedEvent({ eventId: -1, timestamp: t1, isPlayed: false }),
      new H.TaskCompletedEvent({
        eventId: -1,
        timestamp: t1,
        isPlayed: false,
        taskScheduledId: 0,
        result: JSON.stringify('Hello, Tokyo!'),
      }),
    ];
    const handler = createOrchestrator(sequence as never);
    const state = await handler(
      new DurableOrchestrationInput('hand-1', history, null),
      new DummyOrchestrationContext('Seq', 'inv-1', () => undefined),
    );
    expect(state.isDone).toBe(false);
    expect(JSON.parse(JSON.stringify(state.actions))).toEqual([
      [{ functionName: 'Hello', actionType: 0, input: '"Tokyo"' }],
      [{ functionName: 'Hello', actionType: 0, input: '"Seattle"' }],
    ]);

    history.push(
      new H.TaskScheduledEvent({ eventId: 1, timestamp: t1, isPlayed: false, name: 'Hello', input: '"Seattle"' }),
      new H.OrchestratorCompletedEvent({ eventId: -1, timestamp: t1, isPlayed: false }),
      new H.OrchestratorStartedEvent({ eventId: -1, timestamp: t1, isPlayed: false }),
      new H.TaskCompletedEvent({
        eventId: -1,
        timestamp: t1,
        isPlayed: false,
        taskScheduledId: 1,
        result: JSON.stringify('Hello, Seattle!'),
      }),
    );
    const done = await createOrchestrator(sequence as never)(
      new DurableOrchestrationInput('hand-1', history, null),
      new DummyOrchestrationContext('Seq', 'inv-2', () => undefined),
    );
    expect(done.isDone).toBe(true);
    expect(done.output).toEqual(['Hello, Tokyo!', 'Hello, Seattle!']);
  });

  it('silently hands a result to whatever task has the number (why the driver checks determinism)', async () => {
    const { createOrchestrator, DurableOrchestrationInput, DummyOrchestrationContext, history: H } = durableInternals;
    const asksForC = function* (context: df.OrchestrationContext): Generator<df.Task, unknown, any> {
      return yield context.df.callActivity('C', null);
    };
    const history = [
      new H.OrchestratorStartedEvent({ eventId: -1, timestamp: START, isPlayed: false }),
      new H.ExecutionStartedEvent({ eventId: -1, timestamp: START, isPlayed: false, name: 'X', input: 'null' }),
      new H.TaskScheduledEvent({ eventId: 0, timestamp: START, isPlayed: false, name: 'A', input: 'null' }),
      new H.OrchestratorCompletedEvent({ eventId: -1, timestamp: START, isPlayed: false }),
      new H.OrchestratorStartedEvent({ eventId: -1, timestamp: START, isPlayed: false }),
      new H.TaskCompletedEvent({
        eventId: -1,
        timestamp: START,
        isPlayed: false,
        taskScheduledId: 0,
        result: '"result of A"',
      }),
    ];
    const state = await createOrchestrator(asksForC as never)(
      new DurableOrchestrationInput('x', history, null),
      new DummyOrchestrationContext('X', 'inv', () => undefined),
    );
    expect(state.output).toBe('result of A');
  });
});
