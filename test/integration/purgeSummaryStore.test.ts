/**
 * Purge summaries in the audit stores: memory, JSON-lines files, and Azure Table storage (Azurite through the
 * real Table SDK). Same contract for all three: append-only, the latest by `finishedAt` per registry, verdicts
 * untouched beside them; an oversized summary keeps its totals and says how many outcomes it left out.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileAuditStore, MemoryAuditStore, TableAuditStore } from '../../src/adapters/auditStore';
import type { AuditStore } from '../../src/adapters/ports';
import { summarisePurge, type PurgeSummary, type RepositoryOutcome } from '../../src/core/purge/summary';
import { useAzurite } from '../support/azurite';

jest.setTimeout(30_000);

const REGISTRY = 'contoso.azurecr.io';

function outcome(repository: string, deleted: number, extra: Partial<RepositoryOutcome> = {}): RepositoryOutcome {
  return { repository, rule: 'retention[0] scope "team/*"', status: 'done', deleted, alreadyGone: 0, failed: 0, notAttempted: 0, bytesFreed: deleted * 1000, sizeUnknown: 0, keptByReason: { 'within-keep': 3, 'in-use': 1 }, ...extra };
}

function summary(finishedAt: string, outcomes: RepositoryOutcome[], registry = REGISTRY): PurgeSummary {
  return summarisePurge({ registry, trigger: 'timer', dryRun: false, startedAt: '2026-11-30T03:00:00.000Z', finishedAt, outcomes });
}

function contract(name: string, make: () => AuditStore): void {
  describe(name, () => {
    it('returns the latest summary of a registry, whatever the order of writes', async () => {
      const store = make();
      expect(await store.latestPurgeSummary(REGISTRY)).toBeUndefined();
      await store.recordPurgeSummary(summary('2026-11-30T03:10:00.000Z', [outcome('team/a', 5)]));
      await store.recordPurgeSummary(summary('2026-12-01T03:10:00.000Z', [outcome('team/a', 2), outcome('team/b', 1, { status: 'skipped', error: { code: 'UPSTREAM', detail: 'in-use lookup failed' } })]));
      await store.recordPurgeSummary(summary('2026-11-29T03:10:00.000Z', [outcome('team/a', 9)]));
      await store.recordPurgeSummary(summary('2026-12-02T03:10:00.000Z', [outcome('x', 1)], 'other.azurecr.io'));
      const latest = await store.latestPurgeSummary(REGISTRY);
      expect(latest).toMatchObject({ finishedAt: '2026-12-01T03:10:00.000Z', deleted: 3, bytesFreed: 3000, keptByReason: { 'within-keep': 6, 'in-use': 2 }, errors: [{ repository: 'team/b', code: 'UPSTREAM' }] });
      expect(latest?.outcomes.map((o) => o.repository)).toEqual(['team/a', 'team/b']);
      expect((await store.latestPurgeSummary('other.azurecr.io'))?.deleted).toBe(1);
      expect(await store.latestPurgeSummary('none.azurecr.io')).toBeUndefined();
    });

    it('refuses a summary without a registry or a valid finishedAt', async () => {
      const store = make();
      await expect(store.recordPurgeSummary({ ...summary('2026-11-30T03:10:00.000Z', []), registry: '' })).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'summary.registry' });
      await expect(store.recordPurgeSummary(summary('yesterday', []))).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'summary.finishedAt' });
    });
  });
}

contract('MemoryAuditStore', () => new MemoryAuditStore());
contract('FileAuditStore', () => new FileAuditStore(mkdtempSync(join(tmpdir(), 'acr-guard-purge-audit-'))));

describe('TableAuditStore (Azurite)', () => {
  const azurite = useAzurite();
  let n = 0;
  const make = (): TableAuditStore => new TableAuditStore({ endpoint: azurite().tableUrl, tableName: `Purge${++n}x${Date.now() % 100000}`, credential: azurite().credential, allowInsecureConnection: true });
  contract('contract', make);

  it('keeps the totals of a summary too large for one record and says how many outcomes it left out', async () => {
    const store = make();
    const many = Array.from({ length: 4000 }, (_, i) => outcome(`team/repository-with-a-long-name-${String(i).padStart(5, '0')}`, 1, { error: { code: 'X', detail: 'y'.repeat(80) } }));
    await store.recordPurgeSummary(summary('2026-11-30T03:10:00.000Z', many));
    const latest = await store.latestPurgeSummary(REGISTRY);
    expect(latest?.deleted).toBe(4000);
    expect(latest?.repositories).toBe(4000);
    expect(latest?.outcomes.length).toBeLessThan(4000);
    expect((latest as PurgeSummary & { truncation?: string }).truncation).toMatch(/^\d+ of 4000 repository outcomes and \d+ of 4000 errors left out/);
    expect(JSON.stringify(latest).length).toBeLessThan(480_000);
  });
});
