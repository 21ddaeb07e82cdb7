/**
 * Verdict audit stores: Azure Table storage in Azure (managed identity; Azurite locally), and in-memory and
 * JSON-lines file stores for the CLI and local runs. All append-only: a verdict is never overwritten.
 */
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { TableClient, type NamedKeyCredential, type TableEntity } from '@azure/data-tables';
import type { TokenCredential } from '@azure/identity';
import { ErrorCodes, GuardError } from '../core/errors';
import type { ImageId, Verdict } from '../core/types';
import type { AuditStore } from './ports';

/** Newest first, then by insertion (stable). */
function newestFirst(a: Verdict, b: Verdict): number {
  return b.decidedAt.localeCompare(a.decidedAt);
}

/** Keeps verdicts in memory (dry runs, tests, the benchmark). */
export class MemoryAuditStore implements AuditStore {
  private readonly verdicts: Verdict[] = [];

  async recordVerdict(verdict: Verdict): Promise<void> {
    this.verdicts.push(structuredClone(verdict));
  }

  async latestVerdict(image: ImageId): Promise<Verdict | undefined> {
    return this.verdicts
      .filter((v) => v.image.registry === image.registry && v.image.repository === image.repository && v.image.digest === image.digest)
      .sort(newestFirst)[0];
  }

  async listVerdicts(registry: string, repository: string, limit = 100): Promise<Verdict[]> {
    return this.verdicts.filter((v) => v.image.registry === registry && v.image.repository === repository).sort(newestFirst).slice(0, limit);
  }
}

/** One JSON-lines file per repository under `dir` (the local CLI without Azurite). */
export class FileAuditStore implements AuditStore {
  constructor(private readonly dir: string) {}

  private file(registry: string, repository: string): string {
    // A hash, not the names: no path traversal whatever the names are.
    return join(this.dir, `${createHash('sha256').update(`${registry}/${repository}`).digest('hex').slice(0, 32)}.jsonl`);
  }

  async recordVerdict(verdict: Verdict): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await appendFile(this.file(verdict.image.registry, verdict.image.repository), `${JSON.stringify(verdict)}\n`, 'utf8');
  }

  async listVerdicts(registry: string, repository: string, limit = 100): Promise<Verdict[]> {
    let text: string;
    try {
      text = await readFile(this.file(registry, repository), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const all = text
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as Verdict)
      .filter((v) => v.image.registry === registry && v.image.repository === repository);
    return all.reverse().sort(newestFirst).slice(0, limit);
  }

  async latestVerdict(image: ImageId): Promise<Verdict | undefined> {
    return (await this.listVerdicts(image.registry, image.repository, Number.MAX_SAFE_INTEGER)).find((v) => v.image.digest === image.digest);
  }
}

/** Options for {@link TableAuditStore}. */
export interface TableAuditStoreOptions {
  /** Table service URL, e.g. `https://<account>.table.core.windows.net` or Azurite's `http://127.0.0.1:<port>/devstoreaccount1`. */
  endpoint: string;
  tableName?: string;
  /** Managed identity in Azure; Azurite's well-known dev account locally. */
  credential: TokenCredential | NamedKeyCredential;
  allowInsecureConnection?: boolean;
}

/** Largest string stored in one property (Table properties hold up to 64 KiB: 32K UTF-16 chars). */
const CHUNK_CHARS = 30_000;
/** At most this many chunks (~900 KB, under the 1 MiB entity limit). */
const MAX_CHUNKS = 30;
/** Far-future epoch ms used to invert time so that newer rows sort first. */
const INVERT_BASE = 9_999_999_999_999;

/** PartitionKey for a repository: base64url of `registry/repository` (no `/ \ # ?` or control chars). */
export function partitionKeyFor(registry: string, repository: string): string {
  return Buffer.from(`${registry}/${repository}`).toString('base64url');
}

function rowKeyPrefix(digest: string): string {
  return digest.replace(':', '-');
}

function toStoreError(err: unknown, what: string): GuardError {
  const status = (err as { statusCode?: number }).statusCode;
  if (status === 403) return new GuardError(ErrorCodes.UPSTREAM, `audit store: ${what} was refused (403); grant the app's identity "Storage Table Data Contributor" on the storage account`, { status });
  if (status === undefined || status === 408 || status === 429 || status >= 500) return new GuardError(ErrorCodes.TRANSIENT, `audit store: ${what} failed (${status ?? (err as Error).name}); retry later`, { status });
  return new GuardError(ErrorCodes.UPSTREAM, `audit store: ${what} failed (${status})`, { status });
}

/**
 * Verdicts in Azure Table storage. PartitionKey = base64url(registry/repository); RowKey =
 * `<alg>-<hex>_<inverted epoch ms, 13 digits>_<random>` so the newest verdict of a digest is the first row of
 * a range query. The verdict JSON is split across `v0..vN` properties; queryable columns sit beside it.
 */
export class TableAuditStore implements AuditStore {
  private readonly client: TableClient;
  private created?: Promise<void>;

  constructor(options: TableAuditStoreOptions) {
    this.client = new TableClient(options.endpoint, options.tableName ?? 'AcrGuardVerdicts', options.credential as TokenCredential, {
      allowInsecureConnection: options.allowInsecureConnection,
    });
  }

  private ensureTable(): Promise<void> {
    this.created ??= this.client.createTable().catch((err: unknown) => {
      this.created = undefined;
      throw toStoreError(err, 'creating the verdict table');
    });
    return this.created;
  }

  async recordVerdict(verdict: Verdict): Promise<void> {
    await this.ensureTable();
    let json = JSON.stringify(verdict);
    let truncated = false;
    if (json.length > CHUNK_CHARS * MAX_CHUNKS) {
      // Keep the decision and every check's status and reason; drop bulky details.
      json = JSON.stringify({ ...verdict, checks: verdict.checks.map(({ details: _details, ...rest }) => rest) });
      truncated = true;
    }
    const chunks: Record<string, string> = {};
    for (let i = 0; i * CHUNK_CHARS < json.length && i < MAX_CHUNKS; i++) chunks[`v${i}`] = json.slice(i * CHUNK_CHARS, (i + 1) * CHUNK_CHARS);
    const decidedMs = Date.parse(verdict.decidedAt);
    const entity: TableEntity = {
      partitionKey: partitionKeyFor(verdict.image.registry, verdict.image.repository),
      rowKey: `${rowKeyPrefix(verdict.image.digest)}_${String(INVERT_BASE - (Number.isFinite(decidedMs) ? decidedMs : 0)).padStart(13, '0')}_${randomBytes(4).toString('hex')}`,
      registry: verdict.image.registry,
      repository: verdict.image.repository,
      digest: verdict.image.digest,
      tag: verdict.tag ?? '',
      decision: verdict.decision,
      summary: verdict.summary.slice(0, 4000),
      decidedAt: verdict.decidedAt,
      policyHash: verdict.policy.hash,
      chunks: Object.keys(chunks).length,
      truncated,
      ...chunks,
    };
    try {
      await this.client.createEntity(entity);
    } catch (err) {
      throw toStoreError(err, `recording the verdict of ${verdict.image.repository}@${verdict.image.digest}`);
    }
  }

  private static parse(entity: Record<string, unknown>): Verdict {
    const n = Number(entity.chunks ?? 0);
    let json = '';
    for (let i = 0; i < n; i++) json += String(entity[`v${i}`] ?? '');
    return JSON.parse(json) as Verdict;
  }

  private async query(filter: string, limit: number): Promise<Verdict[]> {
    await this.ensureTable();
    const out: Verdict[] = [];
    try {
      const pages = this.client.listEntities<Record<string, unknown>>({ queryOptions: { filter } }).byPage({ maxPageSize: Math.min(limit, 1000) });
      for await (const page of pages) {
        for (const entity of page) {
          out.push(TableAuditStore.parse(entity));
          if (out.length >= limit) return out;
        }
      }
    } catch (err) {
      throw toStoreError(err, 'reading verdicts');
    }
    return out;
  }

  async latestVerdict(image: ImageId): Promise<Verdict | undefined> {
    const pk = partitionKeyFor(image.registry, image.repository);
    const prefix = rowKeyPrefix(image.digest);
    // RowKeys of one digest lie in [prefix_, prefix`) ('`' follows '_'); the newest sorts first.
    const filter = `PartitionKey eq '${pk}' and RowKey ge '${prefix}_' and RowKey lt '${prefix}\`'`;
    return (await this.query(filter, 1))[0];
  }

  async listVerdicts(registry: string, repository: string, limit = 100): Promise<Verdict[]> {
    const verdicts = await this.query(`PartitionKey eq '${partitionKeyFor(registry, repository)}'`, 10_000);
    return verdicts.sort(newestFirst).slice(0, limit);
  }
}
