/** The in-memory verdict audit store (dry runs, tests, the benchmark). */
import type { ImageId, Verdict } from '../../core/types';
import type { PurgeSummary } from '../../core/purge/summary';
import type { AuditStore, RuntimeAssuranceStore, RuntimeState, VerdictListing } from '../ports';
import { digestKey, type RuntimeReport } from '../../core/runtime/classify';
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
 * A copy of JSON data through its JSON text: what this store keeps and hands out is what every other store
 * writes and reads back (a later change to the caller's object must not rewrite history), and it is cheaper than
 * `structuredClone` for these records.
 */
function jsonCopy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** Keeps verdicts in memory (dry runs, tests, the benchmark). */
export class MemoryAuditStore implements AuditStore, RuntimeAssuranceStore, VerdictListing {
  private readonly verdicts: Verdict[] = [];
  private readonly summaries: PurgeSummary[] = [];
  /** The same verdicts by image (`registry/repository@digest`), recorded oldest first. */
  private readonly byImage = new Map<string, Verdict[]>();

  async latestImageVerdicts(maxRows: number): Promise<{ verdicts: Verdict[]; truncated: boolean }> {
    checkMaxRows(maxRows);
    // The newest records when there are more than maxRows (memory keeps them in the order recorded).
    const read = this.verdicts.slice(-maxRows);
    return { verdicts: jsonCopy(latestPerImage(read)), truncated: this.verdicts.length > maxRows };
  }

  async recordPurgeSummary(summary: PurgeSummary): Promise<void> {
    checkSummary(summary);
    // The same run recorded again replaces its record (see `purgeSummaryKey`).
    const key = purgeSummaryKey(summary);
    const same = this.summaries.findIndex((s) => s.registry === summary.registry && purgeSummaryKey(s) === key);
    if (same >= 0) this.summaries[same] = jsonCopy(summary);
    else this.summaries.push(jsonCopy(summary));
  }

  async latestPurgeSummary(registry: string): Promise<PurgeSummary | undefined> {
    const latest = latestOf(this.summaries.filter((s) => s.registry === registry));
    return latest && jsonCopy(latest);
  }

  async recordVerdict(verdict: Verdict): Promise<void> {
    checkVerdict(verdict);
    const copy = jsonCopy(verdict);
    this.verdicts.push(copy);
    const key = digestKey(copy.image);
    const same = this.byImage.get(key);
    if (same) same.push(copy);
    else this.byImage.set(key, [copy]);
  }

  async latestVerdict(image: ImageId): Promise<Verdict | undefined> {
    checkImage(image, 'image');
    // Looked up by image (each gate reads its image's latest verdict; a scan of every verdict grew with the store).
    const latest = newestFirst(this.byImage.get(digestKey(image)) ?? [])[0];
    return latest && jsonCopy(latest);
  }

  async listVerdicts(registry: string, repository: string, limit?: number): Promise<Verdict[]> {
    const n = normalLimit(limit);
    return jsonCopy(
      newestFirst(
        this.verdicts.filter((v) => v.image.registry === registry && v.image.repository === repository),
      ).slice(0, n),
    );
  }

  private readonly runtimeReports: RuntimeReport[] = [];
  private runtimeState: RuntimeState = { graceState: {}, lastAlerted: {} };

  async latestVerdicts(images: readonly ImageId[]): Promise<Map<string, Verdict>> {
    const wanted = new Set([...byRepository(images).values()].flatMap((g) => [...g.keys]));
    const out = new Map<string, Verdict>();
    if (this.verdicts.length > MAX_RUNTIME_VERDICT_ROWS) throw tooManyVerdictRows();
    latestByDigest(this.verdicts, wanted, out);
    return new Map([...out].map(([k, v]) => [k, jsonCopy(v)]));
  }

  async recordRuntimeReport(report: RuntimeReport): Promise<void> {
    checkRuntimeReport(report);
    const same = this.runtimeReports.findIndex((r) => r.generatedAt === report.generatedAt);
    if (same >= 0) this.runtimeReports[same] = jsonCopy(report);
    else this.runtimeReports.push(jsonCopy(report));
  }

  async latestRuntimeReport(): Promise<RuntimeReport | undefined> {
    const r = latestReport(this.runtimeReports);
    return r && jsonCopy(r);
  }

  async readRuntimeState(): Promise<RuntimeState> {
    return jsonCopy(this.runtimeState);
  }

  async writeRuntimeState(state: RuntimeState): Promise<void> {
    checkRuntimeState(state);
    this.runtimeState = jsonCopy(state);
  }
}
