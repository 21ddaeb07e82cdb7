/**
 * The Azure Table storage verdict audit store (managed identity in Azure; Azurite's dev account locally).
 * On the Table store, verdicts with equal `decidedAt` are in random order.
 */
import { createHash, randomBytes } from 'node:crypto';
import type * as DataTables from '@azure/data-tables';
import type { NamedKeyCredential, TableClient, TableEntity, TransactionAction } from '@azure/data-tables';
import type { TokenCredential } from '@azure/identity';
import { ErrorCodes, GuardError, invalidInput } from '../../core/errors';
import type { ImageId, Verdict } from '../../core/types';
import { purgeSummaryOfRecord, type PurgeSummary } from '../../core/purge/summary';
import type { AuditStore, RuntimeAssuranceStore, RuntimeState, VerdictListing } from '../ports';
import type { RuntimeReport } from '../../core/runtime/classify';
import {
  checkImage,
  checkVerdict,
  checkSummary,
  purgeSummaryKey,
  latestPerImage,
  checkMaxRows,
  normalLimit,
  MAX_RUNTIME_VERDICT_ROWS,
  checkRuntimeReport,
  checkRuntimeState,
  tooManyVerdictRows,
  byRepository,
  invertedTicks,
} from './shared';

/** `@azure/data-tables`, loaded on first use: a cold start that does not reach this adapter does not pay for it. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dataTables = (): typeof DataTables => require('@azure/data-tables');

/** Default table name of the verdict store. */
export const DEFAULT_AUDIT_TABLE = 'AcrGuardVerdicts';

/**
 * Azurite's well-known development account (public constants documented by Microsoft for the storage
 * emulator: https://learn.microsoft.com/azure/storage/common/storage-use-azurite). Not a secret.
 */
export const AZURITE_DEV_ACCOUNT = Object.freeze({
  name: 'devstoreaccount1',
  key: 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==',
  /** Azurite's default Table endpoint (what `UseDevelopmentStorage=true` means for tables). */
  tableUrl: 'http://127.0.0.1:10002/devstoreaccount1',
});

/** A credential for Azurite's well-known development account. */
export function azuriteDevCredential(): NamedKeyCredential {
  return new (dataTables().AzureNamedKeyCredential)(AZURITE_DEV_ACCOUNT.name, AZURITE_DEV_ACCOUNT.key);
}

/** Options for {@link TableAuditStore}. */
export interface TableAuditStoreOptions {
  /** Table service URL, e.g. `https://<account>.table.core.windows.net` or Azurite's `http://127.0.0.1:<port>/devstoreaccount1`. */
  endpoint: string;
  /** Table name (default {@link DEFAULT_AUDIT_TABLE}); created when missing. */
  tableName?: string;
  /** Managed identity in Azure; Azurite's well-known dev account ({@link azuriteDevCredential}) locally. */
  credential: TokenCredential | NamedKeyCredential;
  /** Allow plain http (Azurite on loopback only). */
  allowInsecureConnection?: boolean;
  /** SDK retries of a failed request before the store reports `TRANSIENT` (SDK default: 3). */
  maxRetries?: number;
}

/**
 * Characters per verdict property. The Table service counts strings as UTF-16 and allows 64 KiB per
 * property, i.e. 32,768 chars; 32,000 leaves room.
 */
const CHUNK_CHARS = 32_000;
/** Chunks per entity: 15 x 64,000 bytes = 960,000 bytes, under the 1 MiB entity limit with the columns. */
const MAX_CHUNKS = 15;
const MAX_JSON_CHARS = CHUNK_CHARS * MAX_CHUNKS;
/** Longest `summary` column (the verdict JSON keeps the whole summary). */
const SUMMARY_COLUMN_CHARS = 1_000;

/**
 * PartitionKey for a repository: base64url of `registry/repository` — its alphabet (`A-Z a-z 0-9 - _`) has
 * none of the characters keys forbid (`/ \ # ?`, controls), it is reversible and keeps distinct names
 * distinct. Keys are limited to 1 KiB, so a very long name uses `~` + base64url(sha256(name)) instead (`~` is
 * outside the base64url alphabet, so the two forms never collide); rows carry the plain names as columns.
 */
export function partitionKeyFor(registry: string, repository: string): string {
  const name = `${registry}/${repository}`;
  const plain = Buffer.from(name, 'utf8').toString('base64url');
  return plain.length <= 512 ? plain : `~${createHash('sha256').update(name).digest('base64url')}`;
}

/** PartitionKey of a registry's purge summaries (see {@link TableAuditStore.recordPurgeSummary}). */
function purgePartitionKey(registry: string): string {
  return `p~${Buffer.from(registry, 'utf8').toString('base64url')}`;
}

/** `sha256:abc…` -> `sha256-abc…` (`:` is allowed in keys, but `-` keeps keys URL-friendly). */
function digestKey(digest: string): string {
  return digest.replace(':', '-');
}

/**
 * Fits a verdict into `MAX_JSON_CHARS` of JSON. Findings-heavy `details` go first, then long reasons, then
 * checks beyond what fits; each step says what it dropped, in the record itself.
 */
function fitVerdict(verdict: Verdict): { json: string; truncation?: string } {
  const json = JSON.stringify(verdict);
  if (json.length <= MAX_JSON_CHARS) return { json };
  const note = `details dropped: the verdict (${json.length} chars of JSON) exceeded the audit record limit`;
  const noDetails: Verdict = {
    ...verdict,
    checks: verdict.checks.map((c) => (c.details === undefined ? c : { ...c, details: { truncated: note } })),
  };
  let out = JSON.stringify(noDetails);
  if (out.length <= MAX_JSON_CHARS) return { json: out, truncation: note };
  const shortReasons: Verdict = {
    ...noDetails,
    checks: noDetails.checks.map((c) =>
      c.reason.length > 2_000 ? { ...c, reason: `${c.reason.slice(0, 2_000)}…(truncated)` } : c,
    ),
  };
  out = JSON.stringify(shortReasons);
  const note2 = `${note}; reasons cut to 2000 chars`;
  if (out.length <= MAX_JSON_CHARS) return { json: out, truncation: note2 };
  // Keep the checks that fit (failing ones first, they explain a block), then say how many were left out.
  const ordered = [...shortReasons.checks].sort((a, b) => Number(b.status === 'fail') - Number(a.status === 'fail'));
  const base =
    JSON.stringify({ ...shortReasons, summary: shortReasons.summary.slice(0, 10_000), checks: [] }).length + 500;
  const kept: Verdict['checks'] = [];
  let size = base;
  for (const c of ordered) {
    const s = JSON.stringify(c).length + 1;
    if (size + s > MAX_JSON_CHARS) break;
    kept.push(c);
    size += s;
  }
  const note3 = `${note2}; ${ordered.length - kept.length} of ${ordered.length} checks left out`;
  kept.push({ name: 'audit', status: 'skip', reason: note3 });
  return {
    json: JSON.stringify({ ...shortReasons, summary: shortReasons.summary.slice(0, 10_000), checks: kept }),
    truncation: note3,
  };
}

function toStoreError(err: unknown, what: string): GuardError {
  // Only the status and the service's error code are used: a RestError's message and request can carry
  // the request URL and headers, which must not reach an error or a log.
  const status = (err as { statusCode?: unknown }).statusCode;
  const code = (err as { code?: unknown }).code;
  const shown = typeof code === 'string' && /^[A-Za-z_]{1,60}$/.test(code) ? ` ${code}` : '';
  if (status === 403) {
    return new GuardError(
      ErrorCodes.UPSTREAM,
      `audit store: ${what} was refused (403${shown}); grant the app's managed identity the "Storage Table Data Contributor" role on the storage account`,
      { status },
    );
  }
  if (typeof status !== 'number' || status === 408 || status === 429 || status >= 500) {
    return new GuardError(
      ErrorCodes.TRANSIENT,
      `audit store: ${what} failed (${typeof status === 'number' ? status : 'no response'}${shown}); retry later`,
      { status: typeof status === 'number' ? status : undefined },
    );
  }
  return new GuardError(ErrorCodes.UPSTREAM, `audit store: ${what} failed (${status}${shown})`, { status });
}

/**
 * Verdicts in Azure Table storage. Each verdict is written as two rows of one entity-group transaction (so
 * both or neither exist), in the partition {@link partitionKeyFor}(registry, repository):
 * - `<alg>-<hex>_<inverted ticks, 19 digits>_<8 hex random>`: the newest verdict of a digest is the first
 *   row of the range `[<alg>-<hex>_, <alg>-<hex>\`)` — `latestVerdict` is one query with `top: 1`;
 * - `t_<inverted ticks>_<same random>`: the repository's verdicts newest first — `listVerdicts` is one
 *   range query with `top: limit`. (`t_` cannot collide with a digest row: those have `-` after the algorithm.)
 * The verdict JSON is split across `v0..vN` properties (see {@link fitVerdict} for oversized ones), beside
 * the queryable columns registry, repository, digest, tag, decision, summary, decidedAt, policyHash.
 * Rows are only ever created (`createEntity`), never updated.
 */
/** A read of a table that does not exist yet (nothing was ever recorded): 404 TableNotFound. */
function isTableNotFound(err: unknown): boolean {
  const e = err as { statusCode?: number; code?: string };
  return e?.statusCode === 404 && (e.code === undefined || e.code === 'TableNotFound' || e.code === 'ResourceNotFound');
}

export class TableAuditStore implements AuditStore, RuntimeAssuranceStore, VerdictListing {
  private readonly client: TableClient;
  private created?: Promise<void>;

  constructor(options: TableAuditStoreOptions) {
    const tableName = options.tableName ?? DEFAULT_AUDIT_TABLE;
    if (!/^[A-Za-z][A-Za-z0-9]{2,62}$/.test(tableName))
      throw invalidInput('tableName', 'a table name of 3-63 letters and digits starting with a letter', tableName);
    // The client's overloads take either credential type; the union is resolved at runtime by the SDK.
    this.client = new (dataTables().TableClient)(options.endpoint, tableName, options.credential as TokenCredential, {
      allowInsecureConnection: options.allowInsecureConnection,
      ...(options.maxRetries === undefined ? {} : { retryOptions: { maxRetries: options.maxRetries } }),
    });
  }

  /** Creates the table once per store; `createTable` itself treats 409 TableAlreadyExists as success. */
  private ensureTable(): Promise<void> {
    this.created ??= this.client.createTable().catch((err: unknown) => {
      this.created = undefined;
      if ((err as { statusCode?: number }).statusCode === 409) return;
      throw toStoreError(err, 'creating the verdict table');
    });
    return this.created;
  }

  async recordVerdict(verdict: Verdict): Promise<void> {
    const ms = checkVerdict(verdict);
    await this.ensureTable();
    const { json, truncation } = fitVerdict(verdict);
    const chunks: Record<string, string> = {};
    for (let i = 0; i * CHUNK_CHARS < json.length; i++)
      chunks[`v${i}`] = json.slice(i * CHUNK_CHARS, (i + 1) * CHUNK_CHARS);
    const inv = invertedTicks(ms);
    const uniq = randomBytes(4).toString('hex');
    const partitionKey = partitionKeyFor(verdict.image.registry, verdict.image.repository);
    const columns = {
      registry: verdict.image.registry,
      repository: verdict.image.repository,
      digest: verdict.image.digest,
      tag: verdict.tag ?? '',
      decision: verdict.decision,
      summary:
        verdict.summary.length > SUMMARY_COLUMN_CHARS
          ? `${verdict.summary.slice(0, SUMMARY_COLUMN_CHARS)}…`
          : verdict.summary,
      decidedAt: verdict.decidedAt,
      policyHash: verdict.policy?.hash ?? '',
      chunks: Object.keys(chunks).length,
      truncated: truncation !== undefined,
      ...(truncation === undefined ? {} : { truncation }),
      ...chunks,
    };
    const rows: TableEntity[] = [
      { partitionKey, rowKey: `${digestKey(verdict.image.digest)}_${inv}_${uniq}`, ...columns },
      { partitionKey, rowKey: `t_${inv}_${uniq}`, ...columns },
    ];
    const actions: TransactionAction[] = rows.map((row) => ['create', row]);
    try {
      await this.client.submitTransaction(actions);
    } catch (err) {
      throw toStoreError(err, `recording the verdict of ${verdict.image.repository}@${verdict.image.digest}`);
    }
  }

  private static parse(entity: Record<string, unknown>): Verdict {
    const n = Number(entity.chunks ?? 0);
    let json = '';
    for (let i = 0; i < n; i++) json += String(entity[`v${i}`] ?? '');
    try {
      return JSON.parse(json) as Verdict;
    } catch {
      throw new GuardError(
        ErrorCodes.MALFORMED,
        `audit store: the record ${String(entity.rowKey)} does not hold a verdict`,
      );
    }
  }

  private async query(
    filter: string,
    limit: number,
    keep: (e: Record<string, unknown>) => boolean,
  ): Promise<Verdict[]> {
    if (limit === 0) return [];
    // Reads never create the table (a reader such as doctor may hold read rights only): a missing table is empty.
    const out: Verdict[] = [];
    try {
      const pages = this.client
        .listEntities<Record<string, unknown>>({ queryOptions: { filter } })
        .byPage({ maxPageSize: Math.min(limit, 1000) });
      for await (const page of pages) {
        for (const entity of page) {
          if (!keep(entity)) continue;
          out.push(TableAuditStore.parse(entity));
          if (out.length >= limit) return out;
        }
      }
    } catch (err) {
      if (err instanceof GuardError) throw err;
      if (isTableNotFound(err)) return [];
      throw toStoreError(err, 'reading verdicts');
    }
    return out;
  }

  /**
   * Purge summaries live in the same table, partition `p~<base64url(registry)>` (a verdict partition is plain
   * base64url or `~<hash>`, so `p~` cannot be one), row {@link purgeSummaryKey} (inverted ticks of finishedAt,
   * then a hash of the run): the latest summary is the first row, and recording the same run again replaces
   * its row (upsert) instead of adding one. The JSON is split across `v0..vN` like a verdict; per-repository outcomes that do
   * not fit are left out, and the record says how many.
   */
  async recordPurgeSummary(summary: PurgeSummary): Promise<void> {
    const ms = checkSummary(summary);
    await this.ensureTable();
    let json = JSON.stringify(summary);
    let truncation: string | undefined;
    if (json.length > MAX_JSON_CHARS) {
      // Keep the totals; keep the outcomes, then the errors, that fit (in order), and say what was left out.
      const budget = MAX_JSON_CHARS - JSON.stringify({ ...summary, outcomes: [], errors: [] }).length - 500;
      const fit = <T>(items: readonly T[], room: number): { kept: T[]; used: number } => {
        const kept: T[] = [];
        let used = 0;
        for (const item of items) {
          const size = JSON.stringify(item).length + 1;
          if (used + size > room) break;
          kept.push(item);
          used += size;
        }
        return { kept, used };
      };
      const errors = fit(summary.errors, Math.floor(budget / 2));
      const outcomes = fit(summary.outcomes, budget - errors.used);
      truncation = `${summary.outcomes.length - outcomes.kept.length} of ${summary.outcomes.length} repository outcomes and ${summary.errors.length - errors.kept.length} of ${summary.errors.length} errors left out (over the audit record limit); the totals cover all`;
      json = JSON.stringify({ ...summary, outcomes: outcomes.kept, errors: errors.kept, truncation });
    }
    const chunks: Record<string, string> = {};
    for (let i = 0; i * CHUNK_CHARS < json.length; i++)
      chunks[`v${i}`] = json.slice(i * CHUNK_CHARS, (i + 1) * CHUNK_CHARS);
    const entity: TableEntity = {
      partitionKey: purgePartitionKey(summary.registry),
      rowKey: purgeSummaryKey(summary, ms),
      registry: summary.registry,
      finishedAt: summary.finishedAt,
      deleted: summary.deleted,
      failed: summary.failed,
      dryRun: summary.dryRun,
      chunks: Object.keys(chunks).length,
      ...(truncation === undefined ? {} : { truncation }),
      ...chunks,
    };
    try {
      // Replace, not merge: a shorter record must not keep chunks of a longer one.
      await this.client.upsertEntity(entity, 'Replace');
    } catch (err) {
      throw toStoreError(err, `recording the purge summary of ${summary.registry}`);
    }
  }

  async latestPurgeSummary(registry: string): Promise<PurgeSummary | undefined> {
    const filter = dataTables().odata`PartitionKey eq ${purgePartitionKey(registry)}`;
    try {
      const pages = this.client
        .listEntities<Record<string, unknown>>({ queryOptions: { filter } })
        .byPage({ maxPageSize: 1 });
      for await (const page of pages) {
        for (const entity of page) {
          if (entity.registry !== registry) continue;
          const n = Number(entity.chunks ?? 0);
          let json = '';
          for (let i = 0; i < n; i++) json += String(entity[`v${i}`] ?? '');
          try {
            return purgeSummaryOfRecord(JSON.parse(json) as PurgeSummary);
          } catch {
            throw new GuardError(
              ErrorCodes.MALFORMED,
              `audit store: the record ${String(entity.rowKey)} does not hold a purge summary`,
            );
          }
        }
      }
    } catch (err) {
      if (err instanceof GuardError) throw err;
      if (isTableNotFound(err)) return undefined;
      throw toStoreError(err, 'reading purge summaries');
    }
    return undefined;
  }

  async latestVerdict(image: ImageId): Promise<Verdict | undefined> {
    checkImage(image, 'image');
    const pk = partitionKeyFor(image.registry, image.repository);
    const prefix = digestKey(image.digest);
    // '`' is the character after '_', so this range is exactly the rows that start with `<prefix>_`.
    const filter = dataTables()
      .odata`PartitionKey eq ${pk} and RowKey ge ${`${prefix}_`} and RowKey lt ${`${prefix}\``}`;
    return (await this.query(filter, 1, (e) => e.registry === image.registry && e.repository === image.repository))[0];
  }

  /**
   * The `t_` rows of every verdict partition (one cross-partition range query, paged), at most `maxRows` of them:
   * partitions come in key order, each newest first, so a table with more rows shows every repository's newest
   * records only up to the bound (`truncated` says so).
   */
  async latestImageVerdicts(maxRows: number): Promise<{ verdicts: Verdict[]; truncated: boolean }> {
    checkMaxRows(maxRows);
    const filter = dataTables().odata`RowKey ge ${'t_'} and RowKey lt ${'t`'}`;
    const read = await this.query(
      filter,
      maxRows + 1,
      (e) => typeof e.registry === 'string' && typeof e.repository === 'string',
    );
    const truncated = read.length > maxRows;
    // Rows come newest first within a partition; latestPerImage wants them oldest first.
    return { verdicts: latestPerImage(read.slice(0, maxRows).reverse()), truncated };
  }

  async listVerdicts(registry: string, repository: string, limit?: number): Promise<Verdict[]> {
    const n = normalLimit(limit);
    const filter = dataTables()
      .odata`PartitionKey eq ${partitionKeyFor(registry, repository)} and RowKey ge ${'t_'} and RowKey lt ${'t`'}`;
    return this.query(filter, n, (e) => e.registry === registry && e.repository === repository);
  }

  /**
   * One paged range query per repository: the digest rows from the smallest wanted digest to the largest. Rows
   * of one digest are newest first, so the first row of each wanted digest is its latest verdict; the rows
   * of other digests in the range are skipped unparsed.
   */
  async latestVerdicts(images: readonly ImageId[]): Promise<Map<string, Verdict>> {
    const out = new Map<string, Verdict>();
    const groups = byRepository(images);
    if (groups.size === 0) return out;
    let rows = 0;
    for (const g of groups.values()) {
      const prefixes = g.digests.map(digestKey).sort();
      const first = prefixes[0];
      const last = prefixes[prefixes.length - 1];
      const filter = dataTables()
        .odata`PartitionKey eq ${partitionKeyFor(g.registry, g.repository)} and RowKey ge ${`${first}_`} and RowKey lt ${`${last}\``}`;
      try {
        for await (const page of this.client
          .listEntities<Record<string, unknown>>({ queryOptions: { filter } })
          .byPage({ maxPageSize: 1000 })) {
          for (const entity of page) {
            if (++rows > MAX_RUNTIME_VERDICT_ROWS) throw tooManyVerdictRows();
            if (
              entity.registry !== g.registry ||
              entity.repository !== g.repository ||
              typeof entity.digest !== 'string'
            )
              continue;
            const key = `${g.registry}/${g.repository}@${entity.digest}`;
            if (!g.keys.has(key) || out.has(key)) continue;
            out.set(key, TableAuditStore.parse(entity));
          }
        }
      } catch (err) {
        if (err instanceof GuardError) throw err;
        if (isTableNotFound(err)) return out;
        throw toStoreError(err, 'reading verdicts (batched)');
      }
    }
    return out;
  }

  /**
   * Runtime reports live in partition `r~runtime`, row = inverted ticks of `generatedAt` (latest first; the
   * same run recorded again replaces its row); the JSON is split across `v0..vN` like a verdict. A report over
   * the entity limit keeps its summary and the entries that need action first, and says how many it left out.
   */
  async recordRuntimeReport(report: RuntimeReport): Promise<void> {
    const ms = checkRuntimeReport(report);
    await this.ensureTable();
    let json = JSON.stringify(report);
    if (json.length > MAX_JSON_CHARS) {
      const ordered = [...report.images].sort(
        (a, b) =>
          Number(a.status === 'released' || a.status === 'allowed-external') -
          Number(b.status === 'released' || b.status === 'allowed-external'),
      );
      const kept: RuntimeReport['images'] = [];
      let size = JSON.stringify({ ...report, images: [] }).length + 500;
      for (const e of ordered) {
        const n = JSON.stringify(e).length + 1;
        if (size + n > MAX_JSON_CHARS) break;
        kept.push(e);
        size += n;
      }
      json = JSON.stringify({
        ...report,
        images: kept,
        truncation: `${report.images.length - kept.length} of ${report.images.length} images left out (over the audit record limit); the summary covers all`,
      });
    }
    await this.upsertChunked(
      'r~runtime',
      invertedTicks(ms),
      json,
      { generatedAt: report.generatedAt },
      'recording the runtime report',
    );
  }

  async latestRuntimeReport(): Promise<RuntimeReport | undefined> {
    return this.firstChunked<RuntimeReport>(dataTables().odata`PartitionKey eq ${'r~runtime'}`, 'runtime report');
  }

  /** The runtime state: one entity, partition `s~runtime`, row `state` (replaced whole on each write). */
  async readRuntimeState(): Promise<RuntimeState> {
    const state = await this.firstChunked<RuntimeState>(
      dataTables().odata`PartitionKey eq ${'s~runtime'} and RowKey eq ${'state'}`,
      'runtime state',
    );
    return state ?? { graceState: {}, lastAlerted: {} };
  }

  async writeRuntimeState(state: RuntimeState): Promise<void> {
    checkRuntimeState(state);
    await this.ensureTable();
    const json = JSON.stringify(state);
    if (json.length > MAX_JSON_CHARS)
      throw new GuardError(
        ErrorCodes.RUNTIME_INVENTORY_TOO_LARGE,
        `runtime state: ${json.length} chars of JSON, over the audit record limit; the previous state is kept`,
      );
    await this.upsertChunked('s~runtime', 'state', json, {}, 'recording the runtime state');
  }

  private async upsertChunked(
    partitionKey: string,
    rowKey: string,
    json: string,
    columns: Record<string, string>,
    what: string,
  ): Promise<void> {
    const chunks: Record<string, string> = {};
    for (let i = 0; i * CHUNK_CHARS < json.length; i++)
      chunks[`v${i}`] = json.slice(i * CHUNK_CHARS, (i + 1) * CHUNK_CHARS);
    try {
      // Replace, not merge: a shorter record must not keep chunks of a longer one.
      await this.client.upsertEntity(
        { partitionKey, rowKey, ...columns, chunks: Object.keys(chunks).length, ...chunks },
        'Replace',
      );
    } catch (err) {
      throw toStoreError(err, what);
    }
  }

  private async firstChunked<T>(filter: string, what: string): Promise<T | undefined> {
    try {
      for await (const page of this.client
        .listEntities<Record<string, unknown>>({ queryOptions: { filter } })
        .byPage({ maxPageSize: 1 })) {
        for (const entity of page) {
          const n = Number(entity.chunks ?? 0);
          let json = '';
          for (let i = 0; i < n; i++) json += String(entity[`v${i}`] ?? '');
          try {
            return JSON.parse(json) as T;
          } catch {
            throw new GuardError(
              ErrorCodes.MALFORMED,
              `audit store: the record ${String(entity.rowKey)} does not hold a ${what}`,
            );
          }
        }
      }
    } catch (err) {
      if (err instanceof GuardError) throw err;
      if (isTableNotFound(err)) return undefined;
      throw toStoreError(err, `reading the ${what}`);
    }
    return undefined;
  }
}
