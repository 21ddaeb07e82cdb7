/**
 * What acr-guard writes to Log Analytics (Logs Ingestion API, infra/modules/logIngestion.bicep): verdicts,
 * purge outcomes and runtime statuses as rows of the custom tables `AcrGuardVerdicts_CL`, `AcrGuardPurges_CL`
 * and `AcrGuardRuntime_CL`. Pure: a row is built from what was recorded, never from a clock. The columns are
 * the ones the Bicep declares (test/infra/workbook.test.ts keeps the two equal); every text and list is
 * bounded so one row stays far below the service's 1 MB request limit.
 */
import type { Verdict } from './types';
import type { PurgeSummary } from './purge/summary';
import type { RuntimeReport } from './runtime/classify';

/** The data collection rule's input stream of each table (`Custom-<table>`). */
export const LOG_STREAMS = {
  verdicts: 'Custom-AcrGuardVerdicts_CL',
  purges: 'Custom-AcrGuardPurges_CL',
  runtime: 'Custom-AcrGuardRuntime_CL',
} as const;

/** Which table a row goes to. */
export type LogStream = keyof typeof LOG_STREAMS;

/** One row: column name → JSON value. */
export type LogRow = Readonly<Record<string, string | number | boolean | null | readonly unknown[] | object>>;

/** Longest text written to a column (longer texts are cut and end with `…`). */
export const MAX_LOG_TEXT = 2_000;
/** Most entries of a list column (blocking findings, failed checks, workloads). */
export const MAX_LOG_LIST = 50;
/** Longest text of one field of a listed finding (id, severity, package, versions). */
export const MAX_LOG_FINDING_FIELD = 128;
/**
 * Largest JSON size of one row. Every row the builders make stays under it whatever the record holds (texts
 * and lists are cut above), so a pusher padding a report's package names cannot get a verdict's row dropped
 * from the dashboards (test/unit/core/logRows.test.ts).
 */
export const MAX_LOG_ROW_BYTES = 256 * 1024;

/** The columns each row builder writes, by stream (the Bicep declares the same). */
export const LOG_COLUMNS: Readonly<Record<LogStream, readonly string[]>> = {
  verdicts: [
    'TimeGenerated',
    'Registry',
    'Repository',
    'Digest',
    'Tag',
    'Decision',
    'Summary',
    'Rule',
    'PolicyHash',
    'FailedChecks',
    'BlockingFindings',
    'Critical',
    'High',
    'Medium',
    'Low',
    'SignatureStatus',
  ],
  purges: [
    'TimeGenerated',
    'Registry',
    'Repository',
    'Trigger',
    'DryRun',
    'RunStartedAt',
    'Rule',
    'Status',
    'Deleted',
    'AlreadyGone',
    'Failed',
    'NotAttempted',
    'BytesFreed',
    'KeptByReason',
    'ErrorCode',
  ],
  runtime: ['TimeGenerated', 'Image', 'Digest', 'Status', 'Reason', 'ByTag', 'Workloads', 'GraceUntil', 'PolicyHash'],
};

/**
 * Control characters become spaces and lone surrogates U+FFFD: in JSON they would cost 6 bytes each (`\u0000`),
 * which would let a long enough text push a row over {@link MAX_LOG_ROW_BYTES}; none has a use on a dashboard.
 */
function clean(value: string): string {
  return (
    value
      // eslint-disable-next-line no-control-regex -- replacing control characters is the point
      .replace(/[\u0000-\u001f\u007f]/g, ' ')
      .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd')
  );
}

function cut(value: string, max: number): string {
  // Cut first (bounded work on a huge text), then clean; a pair split by the cut becomes U+FFFD.
  return clean(value.length > max ? `${value.slice(0, max - 1)}…` : value);
}

function text(value: string | undefined): string {
  return cut(value ?? '', MAX_LOG_TEXT);
}

function field(value: unknown): string {
  return typeof value === 'string' ? cut(value, MAX_LOG_FINDING_FIELD) : '';
}

/** The listed blocking findings of every failed vulnerabilities check (per manifest of an index), bounded. */
function blockingFindings(verdict: Verdict): object[] {
  const out: object[] = [];
  for (const check of verdict.checks) {
    if (check.name !== 'vulnerabilities' || check.status !== 'fail') continue;
    const listed = check.details?.blocking;
    if (!Array.isArray(listed)) continue;
    for (const f of listed as Array<Record<string, unknown>>) {
      if (out.length >= MAX_LOG_LIST) return out;
      out.push({
        id: field(f.id),
        severity: field(f.severity),
        package: field(f.package),
        installedVersion: field(f.installedVersion),
        fixedVersion: field(f.fixedVersion),
        ...(check.manifest ? { manifest: field(check.manifest) } : {}),
      });
    }
  }
  return out;
}

/** The `AcrGuardVerdicts_CL` row of a recorded verdict. */
export function verdictRow(verdict: Verdict): LogRow {
  const signatures = verdict.checks.find((c) => c.name === 'signatures');
  return {
    TimeGenerated: verdict.decidedAt,
    Registry: text(verdict.image.registry),
    Repository: text(verdict.image.repository),
    Digest: text(verdict.image.digest),
    Tag: text(verdict.tag),
    Decision: verdict.decision,
    Summary: text(verdict.summary),
    Rule: text(verdict.rule),
    PolicyHash: text(verdict.policy.hash),
    FailedChecks: [
      ...new Set(verdict.checks.filter((c) => c.status === 'fail' || c.status === 'inconclusive').map((c) => c.name)),
    ]
      .slice(0, MAX_LOG_LIST)
      .map(field),
    BlockingFindings: blockingFindings(verdict),
    Critical: verdict.findingCounts.critical ?? 0,
    High: verdict.findingCounts.high ?? 0,
    Medium: verdict.findingCounts.medium ?? 0,
    Low: verdict.findingCounts.low ?? 0,
    SignatureStatus: field(signatures?.status),
  };
}

/** The `AcrGuardPurges_CL` rows of a purge run: one per repository (deletions, kept manifests, errors). */
export function purgeRows(summary: PurgeSummary): LogRow[] {
  return summary.outcomes.map((o) => ({
    TimeGenerated: summary.finishedAt,
    Registry: text(summary.registry),
    Repository: text(o.repository),
    Trigger: summary.trigger,
    DryRun: summary.dryRun,
    RunStartedAt: summary.startedAt,
    Rule: text(o.rule),
    Status: o.status,
    Deleted: o.deleted,
    AlreadyGone: o.alreadyGone,
    Failed: o.failed,
    NotAttempted: o.notAttempted,
    BytesFreed: o.bytesFreed,
    KeptByReason: { ...o.keptByReason },
    ErrorCode: field(o.error?.code),
  }));
}

/** The `AcrGuardRuntime_CL` rows of a runtime report: one per image found running. */
export function runtimeRows(report: RuntimeReport): LogRow[] {
  return report.images.map((e) => ({
    TimeGenerated: report.generatedAt,
    Image: text(e.image),
    Digest: text(e.digest),
    Status: e.status,
    Reason: text(e.reason),
    ByTag: e.byTag,
    Workloads: e.workloads.slice(0, MAX_LOG_LIST).map(text),
    GraceUntil: e.graceUntil ?? null,
    PolicyHash: text(report.policyHash),
  }));
}
