/**
 * Vulnerability reports attached to an image as OCI referrers: SARIF 2.1.0 (Trivy, Grype) and CycloneDX
 * 1.4–1.7 (Trivy, Grype/Syft), parsed into normalised findings. Pure: bytes, digests and time come in as
 * values; nothing here throws on bad bytes, every failure is an `{ ok: false }` result naming the path.
 *
 * Decisions (fail closed unless the reason is written here):
 * - Subject. A report that names one or more image digests must name the gated digest, otherwise
 *   `REPORT_SUBJECT_MISMATCH`. A report that names no digest at all is accepted: it is only ever read as a
 *   referrer whose manifest `subject` is the gated digest (the manifest bytes are digest-verified by the
 *   registry client, and the adapter checks the subject again), so the binding is structural; Grype's SARIF
 *   never names the image digest, so refusing those would refuse a mainstream scanner outright. Config
 *   digests (`imageID`, Trivy's `ImageID` property) are not manifest digests and are never compared.
 * - Age. The newest scan time in the report (SARIF `invocations[].endTimeUtc|startTimeUtc`, CycloneDX
 *   `metadata.timestamp`), else the `org.opencontainers.image.created` annotation. No time at all means
 *   `stale: true` (an undated report is never evidence of a recent scan). A time more than
 *   {@link MAX_CLOCK_SKEW_MS} in the future is MALFORMED (it would otherwise stay "fresh" forever).
 * - Severity. The most severe of the signals a scanner gives (CVSS `security-severity`, textual severity in
 *   properties/tags/help text, CycloneDX ratings); SARIF `level` only when nothing else is there.
 * - Rating source. A CycloneDX vulnerability may carry several ratings (NVD, the distribution, GHSA …). The most
 *   severe decides unless the policy names `ratingSources`: then the first listed source that rated it decides
 *   (the most severe when none of them did). The finding names the source that decided (`severitySource`).
 * - Fixed versions. Every fixed version a report lists is kept (`"6.0.3.1, 5.2.4.3"`): CycloneDX
 *   `recommendation` text and `affects[].versions[]` with status `unaffected`, SARIF `Fixed Version:` lines and
 *   `fixedVersion` properties. Several fix lines of a package are one fix: "no fix" only when none is listed.
 * - Package. CycloneDX `affects[].ref` is resolved through `components`, else read as a purl or as a BOM-Link
 *   (`urn:cdx:<serial>/<version>#<bom-ref>`, whose bom-ref is usually a purl), so a BOM without `components`
 *   keeps its package names (exceptions scoped to `packages` rely on them).
 * - Count. A report with more than {@link MAX_REPORT_FINDINGS} entries (SARIF results, CycloneDX
 *   vulnerability × affected package) is refused as `REPORT_TOO_MANY_FINDINGS` before any entry is read: no
 *   scanner writes that many for one image, and one that does is broken or hostile (the gate blocks). Below
 *   it, findings are aggregated while reading: duplicates merge, and only the worst `MAX_VERDICT_FINDINGS` are
 *   returned with counts of all (`tally`).
 * - Scanner-side suppressions (CycloneDX `analysis.state` such as `not_affected`) do not drop findings: the
 *   policy's exceptions (with expiry) are the one place where a finding is waived.
 *
 * The format readers are in ./reports/sarif.ts and ./reports/cyclonedx.ts; the bounds, failure codes and bounded
 * JSON decoding they share are in ./reports/shared.ts. Fields are read with the core JSON reader (./jsonReader.ts),
 * so a malformed field reads `$.runs[0].results[3].ruleId: expected a string, got number 7` (paths from the
 * document's `$`, keys that are not identifiers in brackets: `["security-severity"]`).
 */
import { GuardError, describeFound, type ErrorCode, messageOf } from './errors';
import { FindingsAggregator, MAX_VERDICT_FINDINGS } from './findingsSummary';
import { severityFromScore, severityFromText } from './severity';
import type { Finding, FindingsTally } from './types';
import {
  MAX_REPORT_BYTES,
  MAX_CLOCK_SKEW_MS,
  ReportErrorCodes,
  ReportFailure,
  type ReportFormat,
  malformed,
  parseTime,
  decodeJson,
} from './reports/shared';
import { readSarif } from './reports/sarif';
import { checkCycloneDxMediaTypeVersion, readCycloneDx } from './reports/cyclonedx';

export {
  MAX_CLOCK_SKEW_MS,
  MAX_FIXED_VERSIONS,
  MAX_JSON_CONTAINERS,
  MAX_JSON_DEPTH,
  MAX_REPORT_BYTES,
  MAX_REPORT_FINDINGS,
  ReportErrorCodes,
  type ReportFormat,
} from './reports/shared';

/** Input of {@link parseReport}. */
export interface ParseReportInput {
  /** Media type of the report blob (the referrer's layer, or its artifactType). */
  mediaType: string;
  bytes: Buffer;
  /** The gated image manifest digest the report must be about. */
  imageDigest: string;
  /** Digest of the report blob (used in `Finding.source`). */
  reportDigest: string;
  /** Epoch ms "now" (orchestration time). */
  nowMs: number;
  /** Reports older than this are `stale`. */
  maxAgeMs: number;
  /** Annotations of the referrer manifest (for `org.opencontainers.image.created`). */
  annotations?: Record<string, string>;
  /**
   * CycloneDX rating sources in order of preference (the policy's `ratingSources`, lower case); absent or
   * empty: the most severe rating decides.
   */
  ratingSources?: readonly string[];
}

/** Result of {@link parseReport}. */
export type ParsedReport =
  | {
      ok: true;
      format: ReportFormat;
      /** The worst findings ({@link MAX_VERDICT_FINDINGS} at most), worst first. */
      findings: Finding[];
      /** Counts of every distinct finding in the report, listed or not. */
      tally: FindingsTally;
      /** ISO time the scan ran (or the report was made), when the report or its annotations say. */
      createdAt?: string;
      stale: boolean;
      /** True when the report itself names the gated digest; false when only the OCI subject ties it. */
      subjectNamed: boolean;
    }
  | { ok: false; code: ErrorCode; detail: string };

/** Maps a media type to a report format; undefined for anything else. Parameters are ignored here. */
export function reportFormatOf(mediaType: string | undefined): ReportFormat | undefined {
  if (typeof mediaType !== 'string') return undefined;
  const base = mediaType.split(';')[0].trim().toLowerCase();
  if (base === 'application/sarif+json') return 'sarif';
  if (base === 'application/vnd.cyclonedx+json') return 'cyclonedx';
  return undefined;
}

/**
 * Parses one attached vulnerability report. Never throws: unparseable, wrongly typed, too large or too
 * deeply nested input gives `{ ok: false, code: 'MALFORMED', detail }` with the JSON path at fault.
 */
export function parseReport(input: ParseReportInput): ParsedReport {
  try {
    return parseOrThrow(input);
  } catch (err) {
    // Every refusal (a field's form from the JSON reader, a bound, the subject) is a GuardError with its code.
    if (err instanceof GuardError) return { ok: false, code: err.code, detail: err.message };
    // A bug here must not release anything: report it as malformed with the error's message only.
    return {
      ok: false,
      code: ReportErrorCodes.MALFORMED,
      detail: `report could not be read: ${messageOf(err)}`,
    };
  }
}

function parseOrThrow(input: ParseReportInput): ParsedReport {
  const format = reportFormatOf(input.mediaType);
  if (!format) {
    throw new ReportFailure(
      ReportErrorCodes.UNSUPPORTED,
      `media type ${describeFound(input.mediaType)} is not a SARIF or CycloneDX JSON report`,
    );
  }
  if (!Buffer.isBuffer(input.bytes)) throw malformed('$', 'report bytes', input.bytes);
  if (input.bytes.length > MAX_REPORT_BYTES) {
    throw new ReportFailure(
      ReportErrorCodes.REPORT_TOO_LARGE,
      `$: expected at most ${MAX_REPORT_BYTES} bytes (20 MiB), got ${input.bytes.length} bytes`,
    );
  }
  if (format === 'cyclonedx') checkCycloneDxMediaTypeVersion(input.mediaType);
  const doc = decodeJson(input.bytes);
  const sink = new FindingsAggregator(MAX_VERDICT_FINDINGS);
  const ratingSources = (input.ratingSources ?? []).map((s) => s.toLowerCase());
  const parsed =
    format === 'sarif'
      ? readSarif(doc, input.reportDigest, sink)
      : readCycloneDx(doc, input.reportDigest, sink, ratingSources);

  const named = parsed.digests;
  const subjectNamed = named.includes(input.imageDigest.toLowerCase());
  if (named.length > 0 && !subjectNamed) {
    throw new ReportFailure(
      ReportErrorCodes.REPORT_SUBJECT_MISMATCH,
      `report names ${named.slice(0, 3).join(', ')} but is attached to ${input.imageDigest}; it is about another image`,
    );
  }

  let createdAt = parsed.createdAt;
  let createdPath = parsed.createdPath;
  if (
    createdAt === undefined &&
    input.annotations &&
    typeof input.annotations['org.opencontainers.image.created'] === 'string'
  ) {
    createdAt = input.annotations['org.opencontainers.image.created'];
    createdPath = 'annotations["org.opencontainers.image.created"]';
  }
  let stale = true;
  if (createdAt !== undefined) {
    const ms = parseTime(createdAt, createdPath ?? '$');
    if (ms > input.nowMs + MAX_CLOCK_SKEW_MS)
      throw malformed(createdPath ?? '$', 'a time that is not in the future', createdAt);
    stale = input.nowMs - ms > input.maxAgeMs;
  }
  const { findings, tally } = sink.result();
  return { ok: true, format, findings, tally, createdAt, stale, subjectNamed };
}

// ---------------------------------------------------------------------------------------------------------
// Severity

// moreSevere, severityFromScore and severityFromText live in severity.ts (shared with Defender).
export { severityFromScore, severityFromText };
