/**
 * The audit stores' runtime side under one contract: the batched latest-verdict read (one read per repository),
 * runtime reports, and the grace state that survives a new store instance (a restart). The Table store runs
 * through the real SDK against Azurite.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileAuditStore, MemoryAuditStore, TableAuditStore } from '../../src/adapters/auditStore';
import type { AuditStore, RuntimeAssuranceStore } from '../../src/adapters/ports';
import type { RuntimeReport } from '../../src/core/runtime/classify';
import type { Verdict } from '../../src/core/types';
import { useAzurite } from '../support/azurite';

jest.setTimeout(30_000);

const REGISTRY = 'contoso.azurecr.io';
const D = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;
const at = (minute: number): string => new Date(Date.UTC(2026, 10, 1, 0, minute)).toISOString();

function verdict(repository: string, digest: string, minute: number, decision: 'release' | 'block'): Verdict {
  return {
    image: { registry: REGISTRY, repository, digest },
    decision,
    summary: `${decision} at ${minute}`,
    checks: [],
    findingCounts: {},
    rule: 'gate[0]',
    policy: { version: 1, hash: 'abc' },
    decidedAt: at(minute),
  };
}

function report(minute: number, images = 1): RuntimeReport {
  return {
    generatedAt: at(minute),
    policyHash: 'abc',
    inventory: 'test',
    images: Array.from({ length: images }, (_, i) => ({
      image: `${REGISTRY}/r${i}@${D(i)}`,
      digest: D(i),
      byTag: false,
      workloads: ['w'],
      status: 'released' as const,
      reason: 'r',
    })),
    summary: {
      released: images,
      'by-tag': 0,
      blocked: 0,
      overdue: 0,
      'never-gated': 0,
      'outside-allowlist': 0,
      'allowed-external': 0,
      unresolved: 0,
    },
    regated: [],
    regatesLeft: 0,
  };
}

type Store = AuditStore & RuntimeAssuranceStore;

function contract(name: string, make: () => Store, again: (s: Store) => Store) {
  describe(name, () => {
    it('reads the latest verdict of many digests across repositories in one batched call; digests without one are absent', async () => {
      const store = make();
      await store.recordVerdict(verdict('team/api', D(1), 1, 'release'));
      await store.recordVerdict(verdict('team/api', D(1), 3, 'block'));
      await store.recordVerdict(verdict('team/api', D(1), 2, 'release'));
      await store.recordVerdict(verdict('team/api', D(2), 1, 'release'));
      await store.recordVerdict(verdict('team/api', D(3), 1, 'release'));
      await store.recordVerdict(verdict('team/web', D(1), 5, 'release'));
      const got = await store.latestVerdicts([
        { registry: REGISTRY, repository: 'team/api', digest: D(1) },
        { registry: REGISTRY, repository: 'team/api', digest: D(3) },
        { registry: REGISTRY, repository: 'team/web', digest: D(1) },
        { registry: REGISTRY, repository: 'team/web', digest: D(9) },
        { registry: REGISTRY, repository: 'team/api', digest: D(1) },
      ]);
      expect([...got.keys()].sort()).toEqual([
        `${REGISTRY}/team/api@${D(1)}`,
        `${REGISTRY}/team/api@${D(3)}`,
        `${REGISTRY}/team/web@${D(1)}`,
      ]);
      expect(got.get(`${REGISTRY}/team/api@${D(1)}`)?.decision).toBe('block');
      expect(got.get(`${REGISTRY}/team/web@${D(1)}`)?.decidedAt).toBe(at(5));
      expect((await store.latestVerdicts([])).size).toBe(0);
      await expect(
        store.latestVerdicts([{ registry: REGISTRY, repository: 'x', digest: 'nope' }]),
      ).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    });

    it('keeps the latest runtime report and the grace state across a new store instance (a restart)', async () => {
      const store = make();
      expect(await store.latestRuntimeReport()).toBeUndefined();
      expect(await store.readRuntimeState()).toEqual({ graceState: {}, lastAlerted: {} });
      await store.recordRuntimeReport(report(2));
      await store.recordRuntimeReport(report(5, 2));
      await store.recordRuntimeReport(report(3));
      await store.recordRuntimeReport(report(5, 3));
      const state = {
        graceState: { [`${REGISTRY}/a@${D(1)}`]: at(1) },
        lastAlerted: { [`${REGISTRY}/a@${D(1)}`]: 'blocked' as const },
      };
      await store.writeRuntimeState(state);
      const restarted = again(store);
      const latest = await restarted.latestRuntimeReport();
      expect(latest?.generatedAt).toBe(at(5));
      expect(latest?.images.length).toBe(3);
      expect(await restarted.readRuntimeState()).toEqual(state);
      await expect(store.recordRuntimeReport({ ...report(1), generatedAt: 'yesterday' })).rejects.toMatchObject({
        code: 'INVALID_INPUT',
      });
    });
  });
}

describe('runtime side of the audit stores', () => {
  const azurite = useAzurite();
  let table = 0;
  contract(
    'TableAuditStore on Azurite',
    () => {
      const tableName = `Runtime${++table}`;
      const s = new TableAuditStore({
        endpoint: azurite().tableUrl,
        tableName,
        credential: azurite().credential,
        allowInsecureConnection: true,
      }) as Store & { name?: string };
      s.name = tableName;
      return s;
    },
    (s) =>
      new TableAuditStore({
        endpoint: azurite().tableUrl,
        tableName: (s as Store & { name: string }).name,
        credential: azurite().credential,
        allowInsecureConnection: true,
      }),
  );
  const dirs = new WeakMap<Store, string>();
  contract(
    'FileAuditStore',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'acr-guard-runtime-'));
      const s = new FileAuditStore(dir);
      dirs.set(s, dir);
      return s;
    },
    (s) => new FileAuditStore(dirs.get(s) as string),
  );
  contract(
    'MemoryAuditStore',
    () => new MemoryAuditStore(),
    (s) => s,
  );

  it('a file state that does not parse is an error, not a silent restart of every grace clock', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'acr-guard-runtime-'));
    writeFileSync(join(dir, 'runtime-state.json'), '{"graceState": {');
    await expect(new FileAuditStore(dir).readRuntimeState()).rejects.toMatchObject({ code: 'MALFORMED' });
  });
});
