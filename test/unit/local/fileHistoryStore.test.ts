import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileHistoryStore } from '../../../src/local/fileHistoryStore';
import { EventType, type HistoryEvent } from '../../../src/local/durableDriver';

describe('FileHistoryStore', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'acr-guard-history-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const event = (id: number): HistoryEvent => ({
    EventType: EventType.TaskScheduled,
    EventId: id,
    IsPlayed: false,
    Timestamp: '2026-01-01T00:00:00.000Z',
    Name: 'x',
  });

  it('saves, replaces and lists histories, leaving no temporary file behind', async () => {
    const store = new FileHistoryStore(join(dir, 'history'));
    expect(await store.list()).toEqual([]);
    expect(await store.load('gate-abc')).toBeUndefined();
    await store.save('gate-abc', [event(0)]);
    await store.save('gate-abc', [event(0), event(1)]);
    await store.save('rescan-def', [event(0)]);
    expect((await store.load('gate-abc'))?.map((e) => e.EventId)).toEqual([0, 1]);
    expect((await store.list()).sort()).toEqual(['gate-abc', 'rescan-def']);
    expect(readdirSync(join(dir, 'history')).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('keeps sub-orchestration ids (<parent>:<n>) under a file name without ":" and lists them back', async () => {
    const store = new FileHistoryStore(dir);
    await store.save('purge-1:3', [event(0)]);
    expect(readdirSync(dir)).toEqual(['purge-1~3.json']);
    expect(await store.list()).toEqual(['purge-1:3']);
    expect((await store.load('purge-1:3'))?.map((e) => e.EventId)).toEqual([0]);
  });

  it.each(['../escape', 'a/b', '', '.hidden', 'a~b', 'x'.repeat(201)])(
    'refuses the instance id %j as a file name',
    async (id) => {
      const store = new FileHistoryStore(dir);
      await expect(store.save(id, [])).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'instanceId' });
      await expect(store.load(id)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    },
  );
});
