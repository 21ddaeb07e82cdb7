/**
 * Sub-orchestrations in the local durable driver: numbering with activities and timers, fan-out, host-side
 * retries of a failed sub-orchestration, failures surfacing in the parent, determinism, resume.
 */
import * as df from 'durable-functions';
import {
  EventType,
  MemoryHistoryStore,
  NonDeterminismError,
  runOrchestration,
  type HistoryEvent,
} from '../../src/local/durableDriver';

const START = new Date('2025-03-01T10:00:00.000Z');
type Orchestrator = (context: df.OrchestrationContext) => Generator<df.Task, unknown, any>;

const child: Orchestrator = function* (context) {
  const input = context.df.getInput() as { n: number; wait?: boolean };
  if (input.wait) yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 60_000));
  const doubled: number = yield context.df.callActivity('Double', input.n);
  return { n: input.n, doubled, instance: context.df.instanceId };
};

const double = async (n: number): Promise<number> => {
  await new Promise((r) => setTimeout(r, (5 - (n % 5)) * 3));
  return n * 2;
};

function events(history: HistoryEvent[], type: number): HistoryEvent[] {
  return history.filter((e) => e.EventType === type);
}

describe('runOrchestration with sub-orchestrations', () => {
  it('fans out sub-orchestrations between activities and hands each result to its own task', async () => {
    const parent: Orchestrator = function* (context) {
      const first: number = yield context.df.callActivity('Double', 100);
      const results: unknown[] = yield context.df.Task.all(
        [1, 2, 3, 4].map((n) => context.df.callSubOrchestrator('Child', { n, wait: n % 2 === 0 }, `child-${n}`)),
      );
      const last: number = yield context.df.callActivity('Double', first);
      return { first, results, last };
    };
    const result = await runOrchestration({
      name: 'Parent',
      orchestrator: parent,
      orchestrators: { Child: child },
      activities: { Double: double },
      instanceId: 'p-1',
      input: null,
      startTime: START,
    });
    expect(result.status).toBe('Completed');
    expect(result.output).toEqual({
      first: 200,
      results: [1, 2, 3, 4].map((n) => ({ n, doubled: n * 2, instance: `child-${n}` })),
      last: 400,
    });
    const created = events(result.history, EventType.SubOrchestrationInstanceCreated);
    expect(created.map((e) => [e.EventId, e.Name, e.InstanceId, e.Input])).toEqual(
      [1, 2, 3, 4].map((n) => [n, 'Child', `child-${n}`, JSON.stringify({ n, wait: n % 2 === 0 })]),
    );
    expect(
      events(result.history, EventType.SubOrchestrationInstanceCompleted)
        .map((e) => e.TaskScheduledId)
        .sort(),
    ).toEqual([1, 2, 3, 4]);
    expect(events(result.history, EventType.TaskScheduled).map((e) => e.EventId)).toEqual([0, 5]);
  });

  it('names an unnamed sub-orchestration from its parent and task number, and passes a string input through', async () => {
    // eslint-disable-next-line require-yield -- an orchestrator that returns at once
    const echo: Orchestrator = function* (context) {
      return `${context.df.instanceId}:${String(context.df.getInput())}`;
    };
    const parent: Orchestrator = function* (context) {
      return yield context.df.callSubOrchestrator('Echo', 'plain text');
    };
    const result = await runOrchestration({
      name: 'P',
      orchestrator: parent,
      orchestrators: { Echo: echo },
      activities: {},
      instanceId: 'p-2',
      input: null,
      startTime: START,
    });
    expect(result.output).toBe('p-2:0:plain text');
  });

  it('retries a failing sub-orchestration host-side as a new instance, then succeeds', async () => {
    let calls = 0;
    const flaky = async (n: number): Promise<number> => {
      calls++;
      if (calls < 3) throw Object.assign(new Error(`flaky attempt ${calls}`), { code: 'TRANSIENT' });
      return n * 10;
    };
    const inner: Orchestrator = function* (context) {
      return yield context.df.callActivity('Flaky', context.df.getInput());
    };
    const parent: Orchestrator = function* (context) {
      const retry = new df.RetryOptions(1000, 4);
      const value: number = yield context.df.callSubOrchestratorWithRetry('Inner', retry, 7, 'inner-7');
      const after: number = yield context.df.callActivity('Double', value);
      return after;
    };
    const result = await runOrchestration({
      name: 'P',
      orchestrator: parent,
      orchestrators: { Inner: inner },
      activities: { Flaky: flaky, Double: double },
      instanceId: 'p-3',
      input: null,
      startTime: START,
    });
    expect(result.status).toBe('Completed');
    expect(result.output).toBe(140);
    const created = events(result.history, EventType.SubOrchestrationInstanceCreated);
    expect(created.map((e) => [e.EventId, e.InstanceId, e.RetryOf])).toEqual([
      [0, 'inner-7', undefined],
      [2, 'inner-7-attempt2', 0],
      [4, 'inner-7-attempt3', 0],
    ]);
    expect(events(result.history, EventType.TimerCreated).map((e) => [e.EventId, e.RetryOf])).toEqual([
      [1, 0],
      [3, 0],
    ]);
    expect(events(result.history, EventType.SubOrchestrationInstanceFailed)).toHaveLength(2);
    expect(events(result.history, EventType.TaskScheduled).at(-1)).toMatchObject({ EventId: 5, Name: 'Double' });
  });

  it('surfaces a failed sub-orchestration as a TaskFailedError the parent can catch', async () => {
    // eslint-disable-next-line require-yield -- an orchestrator that fails at once
    const broken: Orchestrator = function* () {
      throw new Error('inner broke');
    };
    const parent: Orchestrator = function* (context) {
      try {
        yield context.df.callSubOrchestrator('Broken', null, 'b-1');
        return 'no';
      } catch (err) {
        return `caught: ${(err as Error).message}`;
      }
    };
    const result = await runOrchestration({
      name: 'P',
      orchestrator: parent,
      orchestrators: { Broken: broken },
      activities: {},
      instanceId: 'p-4',
      input: null,
      startTime: START,
    });
    expect(result.status).toBe('Completed');
    expect(String(result.output)).toMatch(/^caught: .*inner broke/);
    const missing = await runOrchestration({
      name: 'P',
      orchestrator: parent,
      orchestrators: {},
      activities: {},
      instanceId: 'p-5',
      input: null,
      startTime: START,
    });
    expect(String(missing.output)).toMatch(/not registered/);
  });

  it('detects a parent that asks for a different sub-orchestration on replay', async () => {
    let flip = false;
    const parent: Orchestrator = function* (context) {
      const name = flip ? 'Other' : 'Child';
      flip = true;
      return yield context.df.callSubOrchestrator(name, { n: 1 }, 'c');
    };
    await expect(
      runOrchestration({
        name: 'P',
        orchestrator: parent,
        orchestrators: { Child: child, Other: child },
        activities: { Double: double },
        instanceId: 'p-6',
        input: null,
        startTime: START,
      }),
    ).rejects.toBeInstanceOf(NonDeterminismError);
  });

  it('resumes a parent and its sub-orchestrations from saved histories', async () => {
    const store = new MemoryHistoryStore();
    const parent: Orchestrator = function* (context) {
      return yield context.df.Task.all([1, 2].map((n) => context.df.callSubOrchestrator('Child', { n }, `r-${n}`)));
    };
    const first = await runOrchestration({
      name: 'P',
      orchestrator: parent,
      orchestrators: { Child: child },
      activities: { Double: double },
      instanceId: 'p-7',
      input: null,
      startTime: START,
      history: store,
    });
    let ran = 0;
    const counting = async (n: number): Promise<number> => {
      ran++;
      return n * 2;
    };
    const again = await runOrchestration({
      name: 'P',
      orchestrator: parent,
      orchestrators: { Child: child },
      activities: { Double: counting },
      instanceId: 'p-7',
      input: null,
      startTime: START,
      history: store,
    });
    expect(again.output).toEqual(first.output);
    expect(ran).toBe(0);
    expect((await store.load('r-1'))?.at(-1)).toMatchObject({ EventType: EventType.ExecutionCompleted });
  });
});
