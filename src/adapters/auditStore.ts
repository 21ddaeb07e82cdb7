/**
 * Verdict audit stores: Azure Table storage in Azure (managed identity; Azurite's dev account locally), and
 * in-memory and JSON-lines file stores for the CLI and local runs. All append-only: a verdict is never
 * updated or overwritten, and all three order verdicts the same way (newest `decidedAt` first; among equal
 * times, the one recorded last first — on the Table store, equal times are in random order). Purge summaries
 * are idempotent instead: each has a key derived from the run (see {@link purgeSummaryKey}), so an activity
 * retried after it recorded one replaces that record rather than adding a second.
 *
 * This module re-exports them from src/adapters/audit/: shared.ts (checks and ordering all three share),
 * memory.ts, file.ts and table.ts.
 */
export { MAX_RUNTIME_STATE_CHARS, MAX_RUNTIME_VERDICT_ROWS, purgeSummaryKey } from './audit/shared';
export { MemoryAuditStore } from './audit/memory';
export { FileAuditStore } from './audit/file';
export {
  AZURITE_DEV_ACCOUNT,
  DEFAULT_AUDIT_TABLE,
  TableAuditStore,
  azuriteDevCredential,
  partitionKeyFor,
  type TableAuditStoreOptions,
} from './audit/table';
