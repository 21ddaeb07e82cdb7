/**
 * The Table audit store through the real @azure/data-tables client against a real Azurite; the file and
 * memory stores under the same contract.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AzureNamedKeyCredential, TableClient, TableServiceClient } from '@azure/data-tables';
import { FileAuditStore, MemoryAuditStore, TableAuditStore, partitionKeyFor } from '../../src/adapters/auditStore';
import type { AuditStore, VerdictListing } from '../../src/adapters/ports';
import type { Verdict } from '../../src/core/types';
import { useAzurite } from '../support/azurite';

jest.setTimeout(20_000);

const REGISTRY = 'contoso.azurecr.io';
const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;

function at(minute: number): string {
  return new Date(Date.UTC(2026, 10, 1, 0, minute)).toISOString();
}

function verdict(options: {
  repository?: string;
  digest?: string;
  decidedAt: string;
  decision?: 'release' | 'block';
  bulk?: number;
}): Verdict {
  return {
    image: { registry: REGISTRY, repository: options.repository ?? 'team/api', digest: options.digest ?? D1 },
    tag: 'v1',
    decision: options.decision ?? 'block',
    summary: `${options.decision ?? 'block'} at ${options.decidedAt}`,
    checks: [
      {
        name: 'vulnerabilities',
        status: 'fail',
        reason: 'CVE-2024-1 (critical)',
        details: options.bulk ? { blob: 'x'.repeat(options.bulk) } : { findings: ['CVE-2024-1'] },
      },
      { name: 'signatures', status: 'inconclusive', reason: 'no verifier yet' },
    ],
    findingCounts: { critical: 1 },
    rule: 'gate[0] scope "team/*"',
    policy: { version: 1, hash: 'abc' },
    decidedAt: options.decidedAt,
  };
}

const HOSTILE = [
  'a/b',
  'a',
  'a/b/c',
  `long/${'n'.repeat(600)}`,
  'x#y',
  'x?y',
  'x%2fy',
  'x%y',
  'back\\slash',
  'ctl\u0001\u007f',
  '../../etc',
  "quote'd",
  'ünï/cødé',
];

function contract(name: string, make: () => AuditStore & VerdictListing) {
  describe(name, () => {
    it('returns the newest verdict of a digest, and lists a repository newest first', async () => {
      const store = make();
      await store.recordVerdict(verdict({ decidedAt: at(1) }));
      await store.recordVerdict(verdict({ decidedAt: at(3), decision: 'release' }));
      await store.recordVerdict(verdict({ decidedAt: at(2) }));
      await store.recordVerdict(verdict({ digest: D2, decidedAt: at(4) }));
      const latest = await store.latestVerdict({ registry: REGISTRY, repository: 'team/api', digest: D1 });
      expect(latest?.decidedAt).toBe(at(3));
      expect(latest?.decision).toBe('release');
      expect(latest?.checks[0].details).toEqual({ findings: ['CVE-2024-1'] });
      expect((await store.listVerdicts(REGISTRY, 'team/api')).map((v) => v.decidedAt)).toEqual([
        at(4),
        at(3),
        at(2),
        at(1),
      ]);
      expect((await store.listVerdicts(REGISTRY, 'team/api', 2)).map((v) => v.decidedAt)).toEqual([at(4), at(3)]);
      expect(await store.listVerdicts(REGISTRY, 'team/api', 0)).toEqual([]);
      expect(await store.latestVerdict({ registry: REGISTRY, repository: 'team/other', digest: D1 })).toBeUndefined();
      expect(
        await store.latestVerdict({ registry: 'other.azurecr.io', repository: 'team/api', digest: D1 }),
      ).toBeUndefined();
      expect(await store.listVerdicts(REGISTRY, 'team')).toEqual([]);
    });

    it('lists the latest verdict of each image across repositories, newest first, within a row bound', async () => {
      // Every store lists its images' verdicts: `make`'s type says so, checked by the compiler, not at run time.
      const store = make();
      expect(await store.latestImageVerdicts(10)).toEqual({ verdicts: [], truncated: false });
      await store.recordVerdict(verdict({ decidedAt: at(1) }));
      await store.recordVerdict(verdict({ decidedAt: at(3), decision: 'release' }));
      await store.recordVerdict(verdict({ digest: D2, decidedAt: at(2) }));
      await store.recordVerdict(verdict({ repository: 'team/web', decidedAt: at(5) }));
      await store.recordVerdict(verdict({ repository: HOSTILE[9], decidedAt: at(4) }));
      const all = await store.latestImageVerdicts(100);
      expect(all.truncated).toBe(false);
      expect(all.verdicts.map((v) => `${v.image.repository}@${v.image.digest.slice(7, 8)} ${v.decidedAt}`)).toEqual([
        `team/web@1 ${at(5)}`,
        `${HOSTILE[9]}@1 ${at(4)}`,
        `team/api@1 ${at(3)}`,
        `team/api@2 ${at(2)}`,
      ]);
      expect(all.verdicts[2].decision).toBe('release');
      // Five records, three read: truncated, and only images among what was read.
      const some = await store.latestImageVerdicts(3);
      expect(some.truncated).toBe(true);
      expect(some.verdicts.length).toBeGreaterThan(0);
      expect(some.verdicts.length).toBeLessThanOrEqual(3);
      await expect(store.latestImageVerdicts(0)).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'maxRows' });
    });

    it('keeps every verdict of one digest (append-only), the newest first whatever the order of writes', async () => {
      const store = make();
      const minutes = [
        7, 3, 29, 11, 0, 18, 25, 5, 14, 22, 1, 9, 27, 16, 20, 2, 12, 24, 6, 28, 4, 19, 8, 26, 10, 15, 21, 13, 23, 17,
      ];
      for (const m of minutes)
        await store.recordVerdict(
          verdict({ repository: 'one/digest', decidedAt: at(m), decision: m % 2 ? 'block' : 'release' }),
        );
      // The same verdict twice is two records, not one overwritten.
      await store.recordVerdict(verdict({ repository: 'one/digest', decidedAt: at(29) }));
      const latest = await store.latestVerdict({ registry: REGISTRY, repository: 'one/digest', digest: D1 });
      expect(latest?.decidedAt).toBe(at(29));
      const all = await store.listVerdicts(REGISTRY, 'one/digest', 1000);
      expect(all).toHaveLength(31);
      expect(all.map((v) => v.decidedAt)).toEqual([at(29), ...[...minutes].sort((a, b) => b - a).map(at)]);
    });

    it('keeps repositories apart whatever their names (/ \\ # ? % quotes, control chars, path-like names)', async () => {
      const store = make();
      for (const [i, repository] of HOSTILE.entries())
        await store.recordVerdict(verdict({ repository, decidedAt: at(i) }));
      for (const [i, repository] of HOSTILE.entries()) {
        const list = await store.listVerdicts(REGISTRY, repository);
        expect(list.map((v) => [v.image.repository, v.decidedAt])).toEqual([[repository, at(i)]]);
        expect((await store.latestVerdict({ registry: REGISTRY, repository, digest: D1 }))?.image.repository).toBe(
          repository,
        );
      }
    });

    it('stores a 200 KB verdict intact, and 20 concurrent writes', async () => {
      const store = make();
      await store.recordVerdict(verdict({ repository: 'big/one', decidedAt: at(5), bulk: 200_000 }));
      const big = await store.latestVerdict({ registry: REGISTRY, repository: 'big/one', digest: D1 });
      expect((big?.checks[0].details as { blob: string }).blob).toBe('x'.repeat(200_000));
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          store.recordVerdict(verdict({ repository: 'many/writes', decidedAt: at(i) })),
        ),
      );
      const list = await store.listVerdicts(REGISTRY, 'many/writes', 50);
      expect(list.map((v) => v.decidedAt)).toEqual(Array.from({ length: 20 }, (_, i) => at(19 - i)));
    });

    it('refuses a digest or time that does not fit the grammar, and writes nothing', async () => {
      const store = make();
      for (const digest of ['sha256:../../x', 'sha256:a/b', 'latest', 'sha256:a#b', '']) {
        await expect(
          store.recordVerdict(verdict({ repository: 'bad/input', digest, decidedAt: at(1) })),
        ).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'verdict.image.digest' });
      }
      await expect(
        store.recordVerdict(verdict({ repository: 'bad/input', decidedAt: 'yesterday' })),
      ).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'verdict.decidedAt' });
      await expect(
        store.latestVerdict({ registry: REGISTRY, repository: 'bad/input', digest: 'sha256:x?y' }),
      ).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      expect(await store.listVerdicts(REGISTRY, 'bad/input')).toEqual([]);
    });
  });
}

describe('audit stores', () => {
  const azurite = useAzurite();
  let table = 0;

  contract(
    'TableAuditStore on Azurite',
    () =>
      new TableAuditStore({
        endpoint: azurite().tableUrl,
        tableName: `Verdicts${++table}`,
        credential: azurite().credential,
        allowInsecureConnection: true,
      }),
  );
  contract('FileAuditStore', () => new FileAuditStore(mkdtempSync(join(tmpdir(), 'acr-guard-audit-'))));
  contract('MemoryAuditStore', () => new MemoryAuditStore());

  describe('TableAuditStore reads', () => {
    it('reads from a table that does not exist yet as empty, and never creates it (readers may hold read rights only)', async () => {
      const tableName = 'NeverWritten';
      const store = new TableAuditStore({
        endpoint: azurite().tableUrl,
        tableName,
        credential: azurite().credential,
        allowInsecureConnection: true,
      });
      const image = { registry: REGISTRY, repository: 'team/api', digest: D1 };
      await expect(store.latestVerdict(image)).resolves.toBeUndefined();
      await expect(store.listVerdicts(REGISTRY, 'team/api', 10)).resolves.toEqual([]);
      await expect(store.latestVerdicts([image])).resolves.toEqual(new Map());
      await expect(store.latestPurgeSummary(REGISTRY)).resolves.toBeUndefined();
      await expect(store.latestRuntimeReport()).resolves.toBeUndefined();
      await expect(store.readRuntimeState()).resolves.toEqual({ graceState: {}, lastAlerted: {} });
      const service = new TableServiceClient(azurite().tableUrl, azurite().credential, {
        allowInsecureConnection: true,
      });
      const tables: string[] = [];
      for await (const t of service.listTables()) tables.push(String(t.name));
      expect(tables).not.toContain(tableName);
    });
  });

  describe('TableAuditStore rows', () => {
    it('uses keys without / \\ # ? or control characters, and queryable columns beside the verdict', async () => {
      const tableName = 'VerdictRows';
      const store = new TableAuditStore({
        endpoint: azurite().tableUrl,
        tableName,
        credential: azurite().credential,
        allowInsecureConnection: true,
      });
      for (const [i, repository] of HOSTILE.entries())
        await store.recordVerdict(verdict({ repository, decidedAt: at(i) }));
      const client = new TableClient(azurite().tableUrl, tableName, azurite().credential, {
        allowInsecureConnection: true,
      });
      const rows: Array<Record<string, unknown>> = [];
      for await (const row of client.listEntities<Record<string, unknown>>()) rows.push(row);
      expect(rows).toHaveLength(HOSTILE.length * 2);
      for (const row of rows) {
        // Both keys use only URL-safe letters, digits, '-', '_' (and '~' for a hashed partition key).
        expect(row.partitionKey).toMatch(/^~?[A-Za-z0-9_-]+$/);
        expect(row.partitionKey).toBe(partitionKeyFor(REGISTRY, row.repository as string));
        expect(row.rowKey).toMatch(/^(sha256-1{64}|t)_\d{19}_[0-9a-f]{8}$/);
        expect(row).toMatchObject({
          registry: REGISTRY,
          digest: D1,
          tag: 'v1',
          decision: 'block',
          policyHash: 'abc',
          truncated: false,
        });
        expect(row.summary).toBe(`block at ${String(row.decidedAt)}`);
      }
    });

    it('fits a verdict over the entity limit by dropping details, and says so in the record', async () => {
      const store = new TableAuditStore({
        endpoint: azurite().tableUrl,
        tableName: 'VerdictsHuge',
        credential: azurite().credential,
        allowInsecureConnection: true,
      });
      await store.recordVerdict(verdict({ repository: 'huge/one', decidedAt: at(1), bulk: 2_000_000 }));
      const stored = await store.latestVerdict({ registry: REGISTRY, repository: 'huge/one', digest: D1 });
      expect(stored).toMatchObject({ decision: 'block', summary: `block at ${at(1)}`, findingCounts: { critical: 1 } });
      expect(stored?.checks.map((c) => [c.name, c.status, c.reason])).toEqual([
        ['vulnerabilities', 'fail', 'CVE-2024-1 (critical)'],
        ['signatures', 'inconclusive', 'no verifier yet'],
      ]);
      expect(String((stored?.checks[0].details as { truncated: string }).truncated)).toMatch(/details dropped/);
      const client = new TableClient(azurite().tableUrl, 'VerdictsHuge', azurite().credential, {
        allowInsecureConnection: true,
      });
      for await (const row of client.listEntities<Record<string, unknown>>()) {
        expect(row).toMatchObject({ truncated: true, truncation: expect.stringMatching(/details dropped/) });
      }
    });

    it('reports a refused key as UPSTREAM naming the role to grant, without echoing the key', async () => {
      const wrongKey = Buffer.from('not-the-azurite-key-0123456789').toString('base64');
      const store = new TableAuditStore({
        endpoint: azurite().tableUrl,
        credential: new AzureNamedKeyCredential(azurite().accountName, wrongKey),
        allowInsecureConnection: true,
      });
      const error = (await store.recordVerdict(verdict({ decidedAt: at(1) })).catch((e: unknown) => e)) as Error & {
        code?: string;
        status?: number;
      };
      expect(error).toMatchObject({ code: 'UPSTREAM', status: 403 });
      expect(error.message).toContain('Storage Table Data Contributor');
      expect(error.message).not.toContain(wrongKey);
      expect(error.message).not.toContain('SharedKey');
    });

    it('reports an unreachable table service as TRANSIENT without echoing the key', async () => {
      // No SDK retries, to keep the test short (in production the SDK's retries come before TRANSIENT).
      const store = new TableAuditStore({
        endpoint: 'http://127.0.0.1:1/devstoreaccount1',
        credential: azurite().credential,
        allowInsecureConnection: true,
        maxRetries: 0,
      });
      const error = (await store.recordVerdict(verdict({ decidedAt: at(1) })).catch((e: unknown) => e)) as Error & {
        code?: string;
      };
      expect(error.code).toBe('TRANSIENT');
      expect(error.message).not.toContain(azurite().accountKey.slice(0, 12));
    });
  });
});
