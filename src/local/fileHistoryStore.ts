/**
 * A {@link HistoryStore} on disk: one JSON file per orchestration instance, replaced atomically (write to a
 * temporary file, then rename) after every episode, so a process killed at any moment leaves either the
 * previous or the new history, never half of one. The local service keeps its gates here, which is what
 * lets a restart resume them.
 */
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { invalidInput } from '../core/errors';
import type { HistoryEvent, HistoryStore } from './durableDriver';

/**
 * Instance ids the store accepts (Durable ids acr-guard makes: `gate-…`, `rescan-…`, and the driver's default
 * sub-orchestration ids `<parent>:<n>`). In file names `:` becomes `~` (not allowed in ids, so reversible;
 * some file systems refuse `:`).
 */
const INSTANCE_ID = /^[A-Za-z0-9][A-Za-z0-9_:-]{0,199}$/;

/** Histories as `<dir>/<instanceId with : as ~>.json`. */
export class FileHistoryStore implements HistoryStore {
  private writes = 0;

  constructor(readonly dir: string) {}

  private file(instanceId: string): string {
    if (!INSTANCE_ID.test(instanceId))
      throw invalidInput(
        'instanceId',
        'an instance id of letters, digits, "-", "_" and ":" (at most 200 chars)',
        instanceId,
      );
    return join(this.dir, `${instanceId.replace(/:/g, '~')}.json`);
  }

  async load(instanceId: string): Promise<HistoryEvent[] | undefined> {
    try {
      return JSON.parse(await readFile(this.file(instanceId), 'utf8')) as HistoryEvent[];
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async save(instanceId: string, history: readonly HistoryEvent[]): Promise<void> {
    const file = this.file(instanceId);
    await mkdir(this.dir, { recursive: true });
    const temp = `${file}.${process.pid}.${++this.writes}.tmp`;
    await writeFile(temp, JSON.stringify(history), 'utf8');
    await rename(temp, file);
  }

  /** Ids of every instance with a saved history. */
  async list(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return names
      .filter((n) => n.endsWith('.json'))
      .map((n) => n.slice(0, -'.json'.length).replace(/~/g, ':'))
      .filter((id) => INSTANCE_ID.test(id));
  }
}
