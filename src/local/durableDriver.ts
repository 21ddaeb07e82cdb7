/**
 * The local durable driver, re-exported from its parts so importers keep one path:
 * - ./durable/internals.ts: the only module that deep-imports durable-functions internals (pinned version);
 * - ./durable/history.ts: host-shaped history events and history stores;
 * - ./durable/replay.ts: one replay through the library's replay handler, and the actions it asked for;
 * - ./durable/driver.ts: `runOrchestration`, which plays the host around the replay.
 */
export { durableInternals, PINNED_DURABLE_FUNCTIONS_VERSION } from './durable/internals';
export { EventType, MemoryHistoryStore, type HistoryEvent, type HistoryStore } from './durable/history';
export {
  NonDeterminismError,
  replayHistory,
  type ActionRecord,
  type ReplayOptions,
  type ReplayResult,
  type RetryPolicy,
} from './durable/replay';
export {
  retryDelayMs,
  runOrchestration,
  type DriverEvent,
  type OrchestrationResult,
  type RunOrchestrationOptions,
} from './durable/driver';
