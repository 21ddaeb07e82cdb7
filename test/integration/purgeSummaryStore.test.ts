/**
 * Purge summaries in the audit stores: memory, JSON-lines files, and Azure Table storage (Azurite through the
 * real Table SDK). Same contract for all three: one record per run (the same run recorded again, as a retried
 * activity does, replaces its record), the latest by `finishedAt` per registry, verdicts untouched beside them;
 * an oversized summary keeps its totals and says how many outcomes it left out.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TableClient } from '@azure/data-tables';
import { FileAuditStore, MemoryAuditStore, TableAuditStore } from '../../src/adapters/auditStore';
import type { AuditStore } from '../../src/adapters/ports';
import { summarisePurge, type PurgeSummary, type RepositoryOutcome } from '../../src/core/purge/summary';
import { useAzurite } from '../support/azurite';

jest.setTimeout(30_000);

const REGISTRY = 'contoso.azurecr.io';

function outcome(repository: string, deleted: number, extra: Partial<RepositoryOutcome> = {}): RepositoryOutcome {
  return {
    repository,
    rule: 'retention[0] scope "team/*"',
    status: 'done',
    deleted,
    alreadyGone: 0,
    failed: 0,
    notAttempted: 0,
    bytesFreed: deleted * 1000,
    sizeUnknown: 0,
    keptByReason: { 'within-keep': 3, 'in-use': 1 },
    ...extra,
  };
}

function summary(finishedAt: string, outcomes: RepositoryOutcome[], registry = REGISTRY): PurgeSummary {
  return summarisePurge({
    registry,
    trigger: 'timer',
    dryRun: false,
    startedAt: '2026-11-30T03:00:00.000Z',
    finishedAt,
    outcomes,
  });
}

/** A store, and how many purge summary records it holds for a registry (read past the store's own interface). */
type Made = { store: AuditStore; records: (registry: string) => Promise<number> };

function contract(name: string, makeWith: () => Made): void {
  const make = (): AuditStore => makeWith().store;
  describe(name, () => {
    it('keeps one record of a run recorded twice (a retried activity), and still returns the newest', async () => {
      const { store, records } = makeWith();
      const run = summary('2026-11-30T03:10:00.000Z', [outcome('team/a', 5)]);
      await store.recordPurgeSummary(run);
      await store.recordPurgeSummary(structuredClone(run));
      expect(await records(REGISTRY)).toBe(1);
      // A later run, then the first one retried once more: still one record each, and the later run is the latest.
      const later = summarisePurge({
        registry: REGISTRY,
        trigger: 'manual',
        dryRun: true,
        startedAt: '2026-12-01T10:00:00.000Z',
        finishedAt: '2026-12-01T10:05:00.000Z',
        outcomes: [outcome('team/a', 1)],
      });
      await store.recordPurgeSummary(later);
      await store.recordPurgeSummary(run);
      expect(await records(REGISTRY)).toBe(2);
      expect(await store.latestPurgeSummary(REGISTRY)).toEqual(later);
      // Another run finishing in the same instant as the first is a record of its own.
      await store.recordPurgeSummary({ ...run, trigger: 'cli' });
      expect(await records(REGISTRY)).toBe(3);
    });

    it('returns the latest summary of a registry, whatever the order of writes', async () => {
      const store = make();
      expect(await store.latestPurgeSummary(REGISTRY)).toBeUndefined();
      await store.recordPurgeSummary(summary('2026-11-30T03:10:00.000Z', [outcome('team/a', 5)]));
      await store.recordPurgeSummary(
        summary('2026-12-01T03:10:00.000Z', [
          outcome('team/a', 2),
          outcome('team/b', 1, { status: 'skipped', error: { code: 'UPSTREAM', detail: 'in-use lookup failed' } }),
        ]),
      );
      await store.recordPurgeSummary(summary('2026-11-29T03:10:00.000Z', [outcome('team/a', 9)]));
      await store.recordPurgeSummary(summary('2026-12-02T03:10:00.000Z', [outcome('x', 1)], 'other.azurecr.io'));
      const latest = await store.latestPurgeSummary(REGISTRY);
      expect(latest).toMatchObject({
        finishedAt: '2026-12-01T03:10:00.000Z',
        deleted: 3,
        bytesFreed: 3000,
        keptByReason: { 'within-keep': 6, 'in-use': 2 },
        errors: [{ repository: 'team/b', code: 'UPSTREAM' }],
      });
      expect(latest?.outcomes.map((o) => o.repository)).toEqual(['team/a', 'team/b']);
      expect((await store.latestPurgeSummary('other.azurecr.io'))?.deleted).toBe(1);
      expect(await store.latestPurgeSummary('none.azurecr.io')).toBeUndefined();
    });

    it('refuses a summary without a registry or a valid finishedAt', async () => {
      const store = make();
      await expect(
        store.recordPurgeSummary({ ...summary('2026-11-30T03:10:00.000Z', []), registry: '' }),
      ).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'summary.registry' });
      await expect(store.recordPurgeSummary(summary('yesterday', []))).rejects.toMatchObject({
        code: 'INVALID_INPUT',
        field: 'summary.finishedAt',
      });
    });
  });
}

contract('MemoryAuditStore', () => {
  const store = new MemoryAuditStore();
  return {
    store,
    records: async (registry) =>
      (store as unknown as { summaries: PurgeSummary[] }).summaries.filter((s) => s.registry === registry).length,
  };
});
contract('FileAuditStore', () => {
  const dir = mkdtempSync(join(tmpdir(), 'acr-guard-purge-audit-'));
  const records = async (registry: string): Promise<number> =>
    readdirSync(dir)
      .filter((f) => f.startsWith('purge-') && f.endsWith('.jsonl'))
      .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n'))
      .filter((l) => l.trim() !== '' && (JSON.parse(l) as PurgeSummary).registry === registry).length;
  return { store: new FileAuditStore(dir), records };
});

describe('TableAuditStore (Azurite)', () => {
  const azurite = useAzurite();
  let n = 0;
  const tableNameNext = (): string => `Purge${++n}x${Date.now() % 100000}`;
  const make = (): TableAuditStore =>
    new TableAuditStore({
      endpoint: azurite().tableUrl,
      tableName: tableNameNext(),
      credential: azurite().credential,
      allowInsecureConnection: true,
    });
  contract('contract', () => {
    const tableName = tableNameNext();
    const store = new TableAuditStore({
      endpoint: azurite().tableUrl,
      tableName,
      credential: azurite().credential,
      allowInsecureConnection: true,
    });
    const records = async (registry: string): Promise<number> => {
      const table = new TableClient(azurite().tableUrl, tableName, azurite().credential, {
        allowInsecureConnection: true,
      });
      let count = 0;
      for await (const e of table.listEntities<{ registry?: string }>())
        if (String(e.partitionKey).startsWith('p~') && e.registry === registry) count++;
      return count;
    };
    return { store, records };
  });

  it('keeps the totals of a summary too large for one record and says how many outcomes it left out', async () => {
    const store = make();
    const many = Array.from({ length: 4000 }, (_, i) =>
      outcome(`team/repository-with-a-long-name-${String(i).padStart(5, '0')}`, 1, {
        error: { code: 'UPSTREAM', detail: 'y'.repeat(80) },
      }),
    );
    await store.recordPurgeSummary(summary('2026-11-30T03:10:00.000Z', many));
    const latest = await store.latestPurgeSummary(REGISTRY);
    expect(latest?.deleted).toBe(4000);
    expect(latest?.repositories).toBe(4000);
    expect(latest?.outcomes.length).toBeLessThan(4000);
    expect((latest as PurgeSummary & { truncation?: string }).truncation).toMatch(
      /^\d+ of 4000 repository outcomes and \d+ of 4000 errors left out/,
    );
    expect(JSON.stringify(latest).length).toBeLessThan(480_000);
  });
});
