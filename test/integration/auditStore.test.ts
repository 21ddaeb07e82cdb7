/**
 * The Table audit store through the real @azure/data-tables client against Azurite; the file store on disk.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileAuditStore, MemoryAuditStore, TableAuditStore } from '../../src/adapters/auditStore';
import type { AuditStore } from '../../src/adapters/ports';
import type { Verdict } from '../../src/core/types';
import { startAzurite, type RunningAzurite } from '../support/azurite';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;

function verdict(options: { repository?: string; digest?: string; decidedAt: string; decision?: 'release' | 'block'; bulk?: number }): Verdict {
  return {
    image: { registry: 'contoso.azurecr.io', repository: options.repository ?? 'team/api', digest: options.digest ?? D1 },
    tag: 'v1',
    decision: options.decision ?? 'block',
    summary: `${options.decision ?? 'block'} at ${options.decidedAt}`,
    checks: [{ name: 'vulnerabilities', status: 'fail', reason: 'CVE-2024-1 (critical)', details: options.bulk ? { blob: 'x'.repeat(options.bulk) } : undefined }],
    findingCounts: { critical: 1 },
    rule: 'gate[0] scope "team/*"',
    policy: { version: 1, hash: 'abc' },
    decidedAt: options.decidedAt,
  };
}

function contract(name: string, make: () => AuditStore) {
  describe(name, () => {
    it('returns the newest verdict of a digest, and lists a repository newest first', async () => {
      const store = make();
      await store.recordVerdict(verdict({ decidedAt: '2026-11-01T00:00:00.000Z' }));
      await store.recordVerdict(verdict({ decidedAt: '2026-11-03T00:00:00.000Z', decision: 'release' }));
      await store.recordVerdict(verdict({ decidedAt: '2026-11-02T00:00:00.000Z' }));
      await store.recordVerdict(verdict({ digest: D2, decidedAt: '2026-11-04T00:00:00.000Z' }));
      const latest = await store.latestVerdict({ registry: 'contoso.azurecr.io', repository: 'team/api', digest: D1 });
      expect(latest?.decidedAt).toBe('2026-11-03T00:00:00.000Z');
      expect(latest?.decision).toBe('release');
      const list = await store.listVerdicts('contoso.azurecr.io', 'team/api');
      expect(list.map((v) => v.decidedAt)).toEqual(['2026-11-04T00:00:00.000Z', '2026-11-03T00:00:00.000Z', '2026-11-02T00:00:00.000Z', '2026-11-01T00:00:00.000Z']);
      expect(await store.latestVerdict({ registry: 'contoso.azurecr.io', repository: 'team/other', digest: D1 })).toBeUndefined();
    });

    it('keeps repositories apart whatever their names (/ # ? % and path-like names)', async () => {
      const store = make();
      const names = ['a/b', 'a', 'a/b/c', 'x#y', 'x?y', 'x%2fy', '../../etc'];
      for (const [i, repository] of names.entries()) await store.recordVerdict(verdict({ repository, decidedAt: `2026-11-0${i + 1}T00:00:00.000Z` }));
      for (const [i, repository] of names.entries()) {
        const list = await store.listVerdicts('contoso.azurecr.io', repository);
        expect(list.map((v) => v.image.repository)).toEqual([repository]);
        expect(list[0].decidedAt).toBe(`2026-11-0${i + 1}T00:00:00.000Z`);
      }
    });

    it('stores a large verdict intact, and 20 concurrent writes', async () => {
      const store = make();
      await store.recordVerdict(verdict({ repository: 'big/one', decidedAt: '2026-11-05T00:00:00.000Z', bulk: 200_000 }));
      const big = await store.latestVerdict({ registry: 'contoso.azurecr.io', repository: 'big/one', digest: D1 });
      expect((big?.checks[0].details as { blob: string }).blob).toHaveLength(200_000);
      await Promise.all(Array.from({ length: 20 }, (_, i) => store.recordVerdict(verdict({ repository: 'many/writes', decidedAt: new Date(Date.UTC(2026, 10, 1, 0, 0, i)).toISOString() }))));
      expect(await store.listVerdicts('contoso.azurecr.io', 'many/writes', 50)).toHaveLength(20);
    });
  });
}

describe('audit stores', () => {
  let azurite: RunningAzurite;
  let table = 0;
  beforeAll(async () => {
    azurite = await startAzurite();
  });
  afterAll(async () => {
    await azurite?.stop();
  });

  contract('TableAuditStore on Azurite', () => new TableAuditStore({ endpoint: azurite.tableUrl, tableName: `Verdicts${++table}`, credential: azurite.credential, allowInsecureConnection: true }));
  contract('FileAuditStore', () => new FileAuditStore(mkdtempSync(join(tmpdir(), 'acr-guard-audit-'))));
  contract('MemoryAuditStore', () => new MemoryAuditStore());

  it('reports an unreachable table service as TRANSIENT without echoing the key', async () => {
    const store = new TableAuditStore({ endpoint: 'http://127.0.0.1:1/devstoreaccount1', credential: azurite.credential, allowInsecureConnection: true });
    const error = (await store.recordVerdict(verdict({ decidedAt: '2026-11-01T00:00:00.000Z' })).catch((e: unknown) => e)) as Error & { code?: string };
    expect(error.code).toBe('TRANSIENT');
    expect(error.message).not.toContain('Eby8vdM02');
  });
});
