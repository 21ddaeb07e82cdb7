/** The JSON-lines file verdict audit store (the local CLI and service without Azurite). */
import { appendFile, mkdir, readFile, readdir, rename, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { ErrorCodes, GuardError } from '../../core/errors';
import type { ImageId, Verdict } from '../../core/types';
import { purgeSummaryOfRecord, type PurgeSummary } from '../../core/purge/summary';
import type { AuditStore, RuntimeAssuranceStore, RuntimeState, VerdictListing } from '../ports';
import type { RuntimeReport } from '../../core/runtime/classify';
import {
  checkImage,
  checkVerdict,
  checkSummary,
  purgeSummaryKey,
  latestOf,
  newestFirst,
  latestPerImage,
  checkMaxRows,
  normalLimit,
  MAX_RUNTIME_VERDICT_ROWS,
  checkRuntimeReport,
  checkRuntimeState,
  tooManyVerdictRows,
  latestByDigest,
  byRepository,
  latestReport,
} from './shared';

/**
 * One JSON-lines file per repository under `dir` (the local CLI without Azurite). The file name is a hash of
 * `registry/repository`, so no repository name can reach outside `dir`. Appends from one process are
 * serialised per file; a line that does not parse (a write cut short by a crash) is skipped when reading.
 */
export class FileAuditStore implements AuditStore, RuntimeAssuranceStore, VerdictListing {
  private readonly writing = new Map<string, Promise<void>>();

  constructor(private readonly dir: string) {}

  /** Every repository file (`<32 hex>.jsonl`), in name order; stops reading at `maxRows` verdict lines. */
  async latestImageVerdicts(maxRows: number): Promise<{ verdicts: Verdict[]; truncated: boolean }> {
    checkMaxRows(maxRows);
    let names: string[];
    try {
      names = (await readdir(this.dir)).filter((n) => /^[0-9a-f]{32}\.jsonl$/.test(n)).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { verdicts: [], truncated: false };
      throw new GuardError(
        ErrorCodes.UPSTREAM,
        `audit store: listing ${this.dir} failed (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
    const read: Verdict[] = [];
    let truncated = false;
    for (const name of names) {
      const file = join(this.dir, name);
      await this.writing.get(file);
      const text = await readFile(file, 'utf8').catch(() => '');
      for (const line of text.split('\n')) {
        if (line.trim() === '') continue;
        if (read.length >= maxRows) {
          truncated = true;
          break;
        }
        try {
          const v = JSON.parse(line) as Verdict;
          if (typeof v?.image?.digest === 'string' && typeof v.decidedAt === 'string') read.push(v);
        } catch {
          // A partial line from an interrupted write (see readAll).
        }
      }
      if (truncated) break;
    }
    return { verdicts: latestPerImage(read), truncated };
  }

  private file(registry: string, repository: string): string {
    return join(
      this.dir,
      `${createHash('sha256').update(`${registry}/${repository}`).digest('hex').slice(0, 32)}.jsonl`,
    );
  }

  /** Purge summaries of a registry: `purge-<hash>.jsonl` (a verdict file name has no prefix, so they never meet). */
  private purgeFile(registry: string): string {
    return join(this.dir, `purge-${createHash('sha256').update(registry).digest('hex').slice(0, 32)}.jsonl`);
  }

  async recordPurgeSummary(summary: PurgeSummary): Promise<void> {
    checkSummary(summary);
    const file = this.purgeFile(summary.registry);
    const line = JSON.stringify(summary);
    const key = purgeSummaryKey(summary);
    await this.serialise(file, async () => {
      let text = '';
      try {
        text = await readFile(file, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
          throw new GuardError(
            ErrorCodes.UPSTREAM,
            `audit store: reading ${file} failed (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
          );
      }
      const lines = text.split('\n');
      const same = lines.findIndex((l) => {
        try {
          const s = JSON.parse(l) as PurgeSummary;
          return s?.registry === summary.registry && purgeSummaryKey(s) === key;
        } catch {
          return false;
        }
      });
      if (same < 0) {
        await appendFile(file, `${line}\n`, 'utf8');
        return;
      }
      // The same run recorded again: replace its line (write aside, then rename, so a crash leaves one or the other).
      lines[same] = line;
      const aside = `${file}.${process.pid}.tmp`;
      await writeFile(aside, lines.join('\n'), 'utf8');
      await rename(aside, file);
    });
  }

  async latestPurgeSummary(registry: string): Promise<PurgeSummary | undefined> {
    const file = this.purgeFile(registry);
    await this.writing.get(file);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new GuardError(
        ErrorCodes.UPSTREAM,
        `audit store: reading ${file} failed (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
    const all: PurgeSummary[] = [];
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      try {
        const s = JSON.parse(line) as PurgeSummary;
        if (s?.registry === registry) all.push(s);
      } catch {
        // a partial line from an interrupted write
      }
    }
    const latest = latestOf(all);
    return latest && purgeSummaryOfRecord(latest);
  }

  async recordVerdict(verdict: Verdict): Promise<void> {
    checkVerdict(verdict);
    await this.append(this.file(verdict.image.registry, verdict.image.repository), `${JSON.stringify(verdict)}\n`);
  }

  /** Appends a line; appends from one process are serialised per file. */
  private async append(file: string, line: string): Promise<void> {
    await this.serialise(file, () => appendFile(file, line, 'utf8'));
  }

  /** Runs `write` on `file` after the writes to it already queued (in this process), the directory created. */
  private async serialise(file: string, write: () => Promise<void>): Promise<void> {
    const previous = this.writing.get(file) ?? Promise.resolve();
    const next = previous.then(async () => {
      await mkdir(this.dir, { recursive: true });
      await write();
    });
    // The chain must not stay rejected after one failed write.
    const settled = next.catch(() => undefined);
    this.writing.set(file, settled);
    void settled.then(() => {
      if (this.writing.get(file) === settled) this.writing.delete(file);
    });
    await next;
  }

  private async readAll(registry: string, repository: string): Promise<Verdict[]> {
    const file = this.file(registry, repository);
    await this.writing.get(file);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new GuardError(
        ErrorCodes.UPSTREAM,
        `audit store: reading ${file} failed (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
    const out: Verdict[] = [];
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      try {
        const v = JSON.parse(line) as Verdict;
        if (v?.image?.registry === registry && v.image.repository === repository) out.push(v);
      } catch {
        // A partial line from an interrupted write: skip it rather than lose the whole history.
      }
    }
    return out;
  }

  async listVerdicts(registry: string, repository: string, limit?: number): Promise<Verdict[]> {
    const n = normalLimit(limit);
    return newestFirst(await this.readAll(registry, repository)).slice(0, n);
  }

  async latestVerdict(image: ImageId): Promise<Verdict | undefined> {
    checkImage(image, 'image');
    return newestFirst(
      (await this.readAll(image.registry, image.repository)).filter((v) => v.image.digest === image.digest),
    )[0];
  }

  /** One read of each repository's file, whatever the number of digests asked for. */
  async latestVerdicts(images: readonly ImageId[]): Promise<Map<string, Verdict>> {
    const out = new Map<string, Verdict>();
    let rows = 0;
    for (const g of byRepository(images).values()) {
      const all = await this.readAll(g.registry, g.repository);
      rows += all.length;
      if (rows > MAX_RUNTIME_VERDICT_ROWS) throw tooManyVerdictRows();
      latestByDigest(all, g.keys, out);
    }
    return out;
  }

  /** Runtime reports: `runtime-reports.jsonl` (no verdict or purge file has this name). */
  private get reportFile(): string {
    return join(this.dir, 'runtime-reports.jsonl');
  }

  private get stateFile(): string {
    return join(this.dir, 'runtime-state.json');
  }

  async recordRuntimeReport(report: RuntimeReport): Promise<void> {
    checkRuntimeReport(report);
    await this.append(this.reportFile, `${JSON.stringify(report)}\n`);
  }

  async latestRuntimeReport(): Promise<RuntimeReport | undefined> {
    const text = await this.readOptional(this.reportFile);
    const all: RuntimeReport[] = [];
    for (const line of (text ?? '').split('\n')) {
      if (line.trim() === '') continue;
      try {
        const r = JSON.parse(line) as RuntimeReport;
        if (typeof r?.generatedAt === 'string') all.push(r);
      } catch {
        // a partial line from an interrupted write
      }
    }
    return latestReport(all);
  }

  async readRuntimeState(): Promise<RuntimeState> {
    const text = await this.readOptional(this.stateFile);
    if (text === undefined) return { graceState: {}, lastAlerted: {} };
    try {
      const state = JSON.parse(text) as RuntimeState;
      checkRuntimeState(state);
      return state;
    } catch {
      // Fail closed on the grace clock: an unreadable state must not silently restart every clock.
      throw new GuardError(
        ErrorCodes.MALFORMED,
        `audit store: ${this.stateFile} does not hold a runtime state; fix or remove it (removing restarts every grace clock)`,
      );
    }
  }

  async writeRuntimeState(state: RuntimeState): Promise<void> {
    checkRuntimeState(state);
    const file = this.stateFile;
    await this.serialise(file, async () => {
      // Write aside, then rename: a crash leaves the old state or the new one, never half of one.
      const aside = `${file}.${process.pid}.tmp`;
      await writeFile(aside, JSON.stringify(state), 'utf8');
      await rename(aside, file);
    });
  }

  private async readOptional(file: string): Promise<string | undefined> {
    await this.writing.get(file);
    try {
      return await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new GuardError(
        ErrorCodes.UPSTREAM,
        `audit store: reading ${file} failed (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
  }
}
