/**
 * The audit store with a copy of what it records sent to Log Analytics (the workbook's tables): a verdict,
 * each repository of a purge summary, each image of a runtime report. The record is written first and its
 * outcome is the caller's; the copy is sent after it and can only log: a failed or dropped copy never changes
 * a verdict, a purge or a report (fail closed stays with the audit store).
 */
import type { AuditStore, LogSink, RuntimeAssuranceStore, RuntimeState, VerdictListing } from '../adapters/ports';
import { purgeRows, runtimeRows, verdictRow, type LogRow, type LogStream } from '../core/logRows';
import type { ImageId, Verdict } from '../core/types';
import type { PurgeSummary } from '../core/purge/summary';
import type { RuntimeReport } from '../core/runtime/classify';

/** An audit store that also copies its records to a {@link LogSink}. */
export class LogRowsAuditStore implements AuditStore, RuntimeAssuranceStore, VerdictListing {
  constructor(
    private readonly inner: AuditStore & RuntimeAssuranceStore & VerdictListing,
    private readonly sink: LogSink,
    private readonly log: (message: string) => void,
  ) {}

  async recordVerdict(verdict: Verdict): Promise<void> {
    await this.inner.recordVerdict(verdict);
    await this.copy('verdicts', () => [verdictRow(verdict)]);
  }

  async recordPurgeSummary(summary: PurgeSummary): Promise<void> {
    await this.inner.recordPurgeSummary(summary);
    await this.copy('purges', () => purgeRows(summary));
  }

  async recordRuntimeReport(report: RuntimeReport): Promise<void> {
    await this.inner.recordRuntimeReport(report);
    await this.copy('runtime', () => runtimeRows(report));
  }

  latestVerdict(image: ImageId): Promise<Verdict | undefined> {
    return this.inner.latestVerdict(image);
  }

  listVerdicts(registry: string, repository: string, limit?: number): Promise<Verdict[]> {
    return this.inner.listVerdicts(registry, repository, limit);
  }

  latestPurgeSummary(registry: string): Promise<PurgeSummary | undefined> {
    return this.inner.latestPurgeSummary(registry);
  }

  latestImageVerdicts(maxRows: number): Promise<{ verdicts: Verdict[]; truncated: boolean }> {
    return this.inner.latestImageVerdicts(maxRows);
  }

  latestVerdicts(images: readonly ImageId[]): Promise<Map<string, Verdict>> {
    return this.inner.latestVerdicts(images);
  }

  latestRuntimeReport(): Promise<RuntimeReport | undefined> {
    return this.inner.latestRuntimeReport();
  }

  readRuntimeState(): Promise<RuntimeState> {
    return this.inner.readRuntimeState();
  }

  writeRuntimeState(state: RuntimeState): Promise<void> {
    return this.inner.writeRuntimeState(state);
  }

  private async copy(stream: LogStream, rows: () => LogRow[]): Promise<void> {
    try {
      await this.sink.send(stream, rows());
    } catch (err) {
      // The sink never throws; building the rows could (a record of an unexpected shape). Logged, never raised.
      this.log(
        `log ingestion: ${stream} rows not sent (${err instanceof Error ? err.message.slice(0, 300) : 'error'}); the record itself is kept`,
      );
    }
  }
}
