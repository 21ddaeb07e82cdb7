/**
 * The ONE module that deep-imports durable-functions internals: `lib/src/util/testingUtils`
 * (`createOrchestrator`, `DurableOrchestrationInput`, `DummyOrchestrationContext`) and the history event
 * classes in `lib/src/history/`. These paths are not public API and durable-functions 4 removes them, so the
 * module is pinned to the exact version in package.json and refuses to load with any other: upgrading the
 * library means rewriting this module (and re-running test/orchestrations/durableDriverPinned.test.ts), not
 * finding out from a subtly different replay.
 */
import type * as df from 'durable-functions';

/** The durable-functions version whose internals this module was written against (package.json pins it). */
export const PINNED_DURABLE_FUNCTIONS_VERSION = '3.5.0';

/**
 * Throws unless `installed` is the pinned version. Exported so a test can prove it fails loudly; called once
 * below, before any deep import, with the version actually installed.
 */
export function assertPinnedDurableFunctions(installed: unknown): void {
  if (installed !== PINNED_DURABLE_FUNCTIONS_VERSION) {
    throw new Error(
      `the local durable driver deep-imports durable-functions ${PINNED_DURABLE_FUNCTIONS_VERSION} internals, but ` +
        `${typeof installed === 'string' ? installed : 'an unknown version'} is installed; nothing was run. Pin ` +
        `"durable-functions": "${PINNED_DURABLE_FUNCTIONS_VERSION}" in package.json, or port src/local/durable/internals.ts ` +
        'to the new version and update PINNED_DURABLE_FUNCTIONS_VERSION.',
    );
  }
}

/* eslint-disable-next-line @typescript-eslint/no-require-imports -- the installed library's own manifest */
assertPinnedDurableFunctions((require('durable-functions/package.json') as { version?: unknown }).version);

// ---- untyped deep imports (esbuild bundles them from these literal paths) ----

interface HistoryEventOptionsLike {
  eventId: number;
  timestamp: Date;
  isPlayed: boolean;
  [key: string]: unknown;
}
type HistoryEventClass = new (options: HistoryEventOptionsLike) => object;

/** The replay handler's state (`OrchestratorState`), as far as the driver reads it. */
export interface OrchestratorStateLike {
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
