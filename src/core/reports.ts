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
 */
import { describeFound, ErrorCodes } from './errors';
import { FindingsAggregator, MAX_VERDICT_FINDINGS } from './findingsSummary';
import { SEVERITY_RANK, moreSevere, severityFromScore, severityFromText } from './severity';
import { cvssVersionOfMethod, scoreCvssVector } from './cvss';
import type { Finding, FindingsTally, Severity } from './types';

/** Largest report acr-guard parses (20 MiB). */
export const MAX_REPORT_BYTES = 20 * 1024 * 1024;
/** Deepest JSON nesting accepted; real reports stay well under 20 levels. */
export const MAX_JSON_DEPTH = 64;
/** How far in the future a report time may be (clock skew between scanner and gate). */
export const MAX_CLOCK_SKEW_MS = 10 * 60 * 1000;
/**
 * Most entries one report may hold (SARIF results over all runs; CycloneDX vulnerabilities × affected
 * packages), counted before any is read. Trivy on a large distribution image writes a few thousand.
 */
export const MAX_REPORT_FINDINGS = 50_000;
/**
 * Most JSON objects and arrays in one report, counted in the pass that checks nesting, before `JSON.parse`
 * builds them. A real report spends far more than 40 bytes per object (20 MiB / 500,000); a report of a million
 * `{}` would cost hundreds of MB to parse only to be refused afterwards.
 */
export const MAX_JSON_CONTAINERS = 500_000;
/** Most fixed versions kept per finding (a recommendation text may list many). */
export const MAX_FIXED_VERSIONS = 16;

/** Stable codes of {@link parseReport} failures. */
export const ReportErrorCodes = {
  MALFORMED: 'MALFORMED',
  REPORT_SUBJECT_MISMATCH: 'REPORT_SUBJECT_MISMATCH',
  UNSUPPORTED: 'UNSUPPORTED',
  /** A CycloneDX document without `vulnerabilities`: an SBOM, not a scan result (callers skip it). */
  NOT_A_VULNERABILITY_REPORT: 'NOT_A_VULNERABILITY_REPORT',
  /** More entries than {@link MAX_REPORT_FINDINGS}: refused before reading them (the gate blocks). */
  REPORT_TOO_MANY_FINDINGS: ErrorCodes.REPORT_TOO_MANY_FINDINGS,
  /** More bytes than {@link MAX_REPORT_BYTES} (declared or read): refused before parsing (the gate blocks). */
  REPORT_TOO_LARGE: ErrorCodes.REPORT_TOO_LARGE,
  /** More JSON objects and arrays than {@link MAX_JSON_CONTAINERS}: refused before parsing (the gate blocks). */
  REPORT_TOO_MANY_VALUES: ErrorCodes.REPORT_TOO_MANY_VALUES,
} as const;

/** Report formats acr-guard reads. */
export type ReportFormat = 'sarif' | 'cyclonedx';

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
  | { ok: false; code: string; detail: string };

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
    if (err instanceof ReportFailure) return { ok: false, code: err.code, detail: err.message };
    // A bug here must not release anything: report it as malformed with the error's message only.
    return {
      ok: false,
      code: ReportErrorCodes.MALFORMED,
      detail: `report could not be read: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
}

class ReportFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function malformed(path: string, expected: string, got?: unknown): ReportFailure {
  const shown = got === undefined ? '' : `, got ${describeFound(got)}`;
  return new ReportFailure(ReportErrorCodes.MALFORMED, `${path}: expected ${expected}${shown}`);
}

function parseOrThrow(input: ParseReportInput): ParsedReport {
  const format = reportFormatOf(input.mediaType);
  if (!format) {
    throw new ReportFailure(
      ReportErrorCodes.UNSUPPORTED,
      `media type ${describeFound(input.mediaType)} is not a SARIF or CycloneDX JSON report`,
    );
  }
  if (!Buffer.isBuffer(input.bytes)) throw malformed('$', 'report bytes');
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

function checkCycloneDxMediaTypeVersion(mediaType: string): void {
  const params = mediaType.split(';').slice(1);
  for (const param of params) {
    const [key, value] = param.split('=').map((s) => s.trim().toLowerCase());
    if (key === 'version' && !/^1\.[4-7]$/.test(value ?? '')) {
      throw malformed('mediaType;version', 'CycloneDX version 1.4 to 1.7', value);
    }
  }
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i;

function parseTime(value: string, path: string): number {
  if (!RFC3339.test(value)) throw malformed(path, 'an RFC 3339 date-time', value);
  // Date.parse handles at most millisecond precision; trim longer fractions (.NET writes 7 digits).
  const ms = Date.parse(value.replace(/(\.\d{3})\d+/, '$1'));
  if (Number.isNaN(ms)) throw malformed(path, 'an RFC 3339 date-time', value);
  return ms;
}

// ---------------------------------------------------------------------------------------------------------
// JSON decoding with limits

function decodeJson(bytes: Buffer): unknown {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw malformed('$', 'UTF-8 JSON', 'bytes that are not valid UTF-8');
  }
  checkDepth(text);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw malformed('$', 'JSON', `a syntax error (${err instanceof Error ? err.message.slice(0, 100) : 'unknown'})`);
  }
}

/**
 * Rejects nesting deeper than {@link MAX_JSON_DEPTH} and more than {@link MAX_JSON_CONTAINERS} objects and arrays,
 * in one linear pass, before JSON.parse sees the text.
 */
function checkDepth(text: string): void {
  let depth = 0;
  let containers = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      depth++;
      if (++containers > MAX_JSON_CONTAINERS) {
        throw new ReportFailure(
          ReportErrorCodes.REPORT_TOO_MANY_VALUES,
          `$: expected at most ${MAX_JSON_CONTAINERS} JSON objects and arrays, got more (at offset ${i}); refused unparsed`,
        );
      }
      if (depth > MAX_JSON_DEPTH)
        throw malformed('$', `JSON nested at most ${MAX_JSON_DEPTH} levels deep`, `deeper nesting at offset ${i}`);
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Typed readers that name the path at fault

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function obj(v: unknown, path: string): Json {
  if (!isObject(v)) throw malformed(path, 'an object', v);
  return v;
}

function optObj(v: unknown, path: string): Json | undefined {
  return v === undefined || v === null ? undefined : obj(v, path);
}

function arr(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) throw malformed(path, 'an array', v);
  return v;
}

function optArr(v: unknown, path: string): unknown[] {
  return v === undefined || v === null ? [] : arr(v, path);
}

function str(v: unknown, path: string): string {
  if (typeof v !== 'string') throw malformed(path, 'a string', v);
  return v;
}

function optStr(v: unknown, path: string): string | undefined {
  return v === undefined || v === null ? undefined : str(v, path);
}

/** A non-empty trimmed string or undefined (scanners write `""` for "no fixed version"). */
function nonEmpty(v: string | undefined): string | undefined {
  const t = v?.trim();
  return t ? t : undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Severity

// moreSevere, severityFromScore and severityFromText live in severity.ts (shared with Defender).
export { severityFromScore, severityFromText };

// ---------------------------------------------------------------------------------------------------------
// SARIF 2.1.0

interface Parsed {
  /** Manifest digests the report names (lower case). */
  digests: string[];
  createdAt?: string;
  createdPath?: string;
}

const DIGEST_RE = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;
const DIGEST_IN_TEXT = /(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})/i;
/** Vulnerability ids at the start of a rule id (Grype writes `CVE-2024-1234-openssl`). */
const VULN_ID_PREFIX = /^(CVE-\d{4}-\d{4,}|GHSA(-[23456789cfghjmpqrvwx]{4}){3}|[A-Z][A-Z0-9]*-[A-Za-z0-9:._-]+)/;
const CVE_OR_GHSA = /^(CVE-\d{4}-\d{4,}|GHSA(-[23456789cfghjmpqrvwx]{4}){3})/i;

function tooMany(count: number, what: string): ReportFailure {
  return new ReportFailure(
    ReportErrorCodes.REPORT_TOO_MANY_FINDINGS,
    `${what}: expected at most ${MAX_REPORT_FINDINGS} entries per report, got ${count}; refused unread (no scanner writes that many for one image)`,
  );
}

function readSarif(doc: unknown, reportDigest: string, sink: FindingsAggregator): Parsed {
  const root = obj(doc, '$');
  if (root.version !== '2.1.0') throw malformed('$.version', 'SARIF version "2.1.0"', root.version);
  const runs = arr(root.runs, '$.runs');
  // SARIF allows an empty `runs`, but a report that ran nothing says nothing about the image.
  if (runs.length === 0) throw malformed('$.runs', 'at least one run', runs);
  // Count every run's results before reading any (the bound is checked before the work it limits).
  let entries = 0;
  runs.forEach((runValue, r) => {
    const results = isObject(runValue) ? runValue.results : undefined;
    if (Array.isArray(results)) entries += results.length;
    if (entries > MAX_REPORT_FINDINGS) throw tooMany(entries, `$.runs[0..${r}].results`);
  });
  const digests = new Set<string>();
  let newest: { ms: number; value: string; path: string } | undefined;
  const source = `sarif:${reportDigest}`;

  runs.forEach((runValue, r) => {
    const runPath = `$.runs[${r}]`;
    const run = obj(runValue, runPath);
    const driver = obj(obj(run.tool, `${runPath}.tool`).driver, `${runPath}.tool.driver`);
    str(driver.name, `${runPath}.tool.driver.name`);
    const rules = optArr(driver.rules, `${runPath}.tool.driver.rules`).map((rule, i) =>
      obj(rule, `${runPath}.tool.driver.rules[${i}]`),
    );
    const rulesById = new Map<string, { rule: Json; index: number }>();
    rules.forEach((rule, i) => {
      const id = str(rule.id, `${runPath}.tool.driver.rules[${i}].id`);
      if (!rulesById.has(id)) rulesById.set(id, { rule, index: i });
    });

    const props = optObj(run.properties, `${runPath}.properties`);
    if (props) collectSarifDigests(props, `${runPath}.properties`, digests);

    optArr(run.invocations, `${runPath}.invocations`).forEach((invValue, i) => {
      const inv = obj(invValue, `${runPath}.invocations[${i}]`);
      for (const key of ['endTimeUtc', 'startTimeUtc'] as const) {
        const path = `${runPath}.invocations[${i}].${key}`;
        const value = optStr(inv[key], path);
        if (value === undefined) continue;
        const ms = parseTime(value, path);
        if (!newest || ms > newest.ms) newest = { ms, value, path };
        break; // end time preferred; start time only when there is no end time
      }
    });

    // Absent `results` means the tool did not run to completion (SARIF §3.14.23); an empty array is "no results".
    const results = arr(run.results, `${runPath}.results`);
    for (let i = 0; i < results.length; i++) {
      const path = `${runPath}.results[${i}]`;
      const result = obj(results[i], path);
      const { rule, ruleId } = resolveRule(result, rules, rulesById, path);
      sink.add(sarifFinding({ result, rule, ruleId, path, source }));
    }
  });

  return { digests: [...digests], createdAt: newest?.value, createdPath: newest?.path };
}

function collectSarifDigests(props: Json, path: string, into: Set<string>): void {
  // Trivy: repoDigests ["repo@sha256:…"]; others write imageDigest / digest. `imageID` is Trivy's config
  // digest, not a manifest digest, so it is deliberately not read.
  optArr(props.repoDigests, `${path}.repoDigests`).forEach((v, i) => {
    const s = str(v, `${path}.repoDigests[${i}]`);
    const at = s.lastIndexOf('@');
    const digest = (at >= 0 ? s.slice(at + 1) : s).toLowerCase();
    if (!DIGEST_RE.test(digest)) throw malformed(`${path}.repoDigests[${i}]`, 'name@<digest>', s);
    into.add(digest);
  });
  for (const key of ['imageDigest', 'digest']) {
    const v = optStr(props[key], `${path}.${key}`);
    if (v === undefined) continue;
    const digest = v.toLowerCase();
    if (!DIGEST_RE.test(digest)) throw malformed(`${path}.${key}`, 'a digest', v);
    into.add(digest);
  }
}

function resolveRule(
  result: Json,
  rules: Json[],
  rulesById: Map<string, { rule: Json; index: number }>,
  path: string,
): { rule?: Json; ruleId: string } {
  let ruleId = optStr(result.ruleId, `${path}.ruleId`);
  const ruleRef = optObj(result.rule, `${path}.rule`);
  if (ruleId === undefined && ruleRef) ruleId = optStr(ruleRef.id, `${path}.rule.id`);
  let index: number | undefined;
  const rawIndex = result.ruleIndex ?? ruleRef?.index;
  if (rawIndex !== undefined && rawIndex !== null) {
    if (typeof rawIndex !== 'number' || !Number.isInteger(rawIndex) || rawIndex < 0)
      throw malformed(`${path}.ruleIndex`, 'a non-negative integer', rawIndex);
    index = rawIndex;
  }
  let rule: Json | undefined;
  if (index !== undefined) {
    rule = rules[index];
    if (!rule) throw malformed(`${path}.ruleIndex`, `an index below ${rules.length}`, index);
    if (ruleId !== undefined && rule.id !== ruleId)
      throw malformed(`${path}.ruleIndex`, `the index of rule ${JSON.stringify(ruleId)}`, index);
  } else if (ruleId !== undefined) {
    rule = rulesById.get(ruleId)?.rule;
  }
  const id = ruleId ?? (rule ? (rule.id as string) : undefined);
  if (id === undefined || id.trim() === '') throw malformed(`${path}.ruleId`, 'a rule id (the vulnerability id)');
  return { rule, ruleId: id };
}

/** `Key: value` lines of Trivy/Grype message and help texts. */
function textFields(text: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!text) return out;
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*([A-Za-z][A-Za-z ]{1,30}):\s?(.*)$/.exec(line);
    if (m && !out.has(m[1].toLowerCase())) out.set(m[1].toLowerCase(), m[2].trim());
  }
  return out;
}

/** The id in a "Vulnerability CVE-…" line (Trivy's and Grype's message/help text). */
function vulnerabilityNamedIn(text: string | undefined): string | undefined {
  return text ? /^\W*Vulnerability\s+([A-Za-z][A-Za-z0-9:._-]+)/m.exec(text)?.[1] : undefined;
}

function messageText(v: unknown, path: string): string | undefined {
  const m = optObj(v, path);
  return m ? optStr(m.text, `${path}.text`) : undefined;
}

function sarifFinding(options: { result: Json; rule?: Json; ruleId: string; path: string; source: string }): Finding {
  const { result, rule, path, source } = options;
  let ruleId = options.ruleId.trim();

  // Trivy's older template wrote rule ids like "[HIGH] CVE-2024-1234".
  let severity: Severity = 'unknown';
  const bracket = /^\[([A-Za-z]+)\]\s*(.+)$/.exec(ruleId);
  if (bracket) {
    severity = moreSevere(severity, severityFromText(bracket[1]) ?? 'unknown');
    ruleId = bracket[2].trim();
  }

  const resultProps = optObj(result.properties, `${path}.properties`);
  const ruleProps = rule ? optObj(rule.properties, `${path}(rule).properties`) : undefined;
  const message = messageText(result.message, `${path}.message`);
  const help = rule ? messageText(rule.help, `${path}(rule).help`) : undefined;
  const fields = textFields(message);
  for (const [k, v] of textFields(help)) if (!fields.has(k)) fields.set(k, v);

  let explicit = severity !== 'unknown';
  for (const [props, where] of [
    [resultProps, `${path}.properties`],
    [ruleProps, `${path}(rule).properties`],
  ] as const) {
    if (!props) continue;
    const score = props['security-severity'];
    if (score !== undefined && score !== null) {
      const n =
        typeof score === 'number' ? score : typeof score === 'string' && score.trim() !== '' ? Number(score) : NaN;
      if (!Number.isFinite(n) || n < 0 || n > 10)
        throw malformed(`${where}["security-severity"]`, 'a CVSS score 0.0–10.0', score);
      severity = moreSevere(severity, severityFromScore(n));
      explicit = true;
    }
    const text = optStr(props.severity, `${where}.severity`);
    const fromText = text === undefined ? undefined : severityFromText(text);
    if (fromText) {
      severity = moreSevere(severity, fromText);
      explicit = true;
    }
    optArr(props.tags, `${where}.tags`).forEach((tag, i) => {
      const fromTag = severityFromText(str(tag, `${where}.tags[${i}]`));
      if (fromTag && fromTag !== 'unknown') {
        severity = moreSevere(severity, fromTag);
        explicit = true;
      }
    });
  }
  const fromField = fields.get('severity');
  if (fromField && severityFromText(fromField)) {
    severity = moreSevere(severity, severityFromText(fromField)!);
    explicit = true;
  }
  if (!explicit) {
    const level = optStr(result.level, `${path}.level`) ?? (rule ? levelOfRule(rule, path) : undefined);
    if (level === 'error') severity = 'high';
    else if (level === 'warning') severity = 'medium';
    else if (level === 'note') severity = 'low';
  }

  // The vulnerability id: Trivy's rule id is the CVE; Grype's is "<CVE>-<package>"; the message or help
  // text ("Vulnerability CVE-…") settles which prefix is the id.
  const named = vulnerabilityNamedIn(message) ?? vulnerabilityNamedIn(help);
  let id = ruleId;
  if (named && ruleId.startsWith(named)) id = named;
  else {
    const m = CVE_OR_GHSA.exec(ruleId);
    if (m) id = m[1].toUpperCase();
    else if (!named) id = VULN_ID_PREFIX.exec(ruleId)?.[1] ?? ruleId;
  }

  const pkg =
    nonEmpty(optStr(resultProps?.pkgName ?? resultProps?.package, `${path}.properties.pkgName`)) ??
    nonEmpty(fields.get('package'));
  const installed =
    nonEmpty(optStr(resultProps?.installedVersion, `${path}.properties.installedVersion`)) ??
    nonEmpty(fields.get('installed version')) ??
    nonEmpty(fields.get('version'));
  const fixed = joinVersions(
    splitVersions(
      nonEmpty(optStr(resultProps?.fixedVersion, `${path}.properties.fixedVersion`)) ??
        nonEmpty(fields.get('fixed version')) ??
        nonEmpty(fields.get('fix version')),
    ),
  );
  const title = rule ? messageText(rule.shortDescription, `${path}(rule).shortDescription`) : undefined;

  const finding: Finding = { id, severity, source };
  if (pkg) finding.package = pkg;
  if (installed) finding.installedVersion = installed;
  if (fixed) finding.fixedVersion = fixed;
  if (title) finding.title = title.slice(0, 200);
  return finding;
}

function levelOfRule(rule: Json, path: string): string | undefined {
  const config = optObj(rule.defaultConfiguration, `${path}(rule).defaultConfiguration`);
  return config ? optStr(config.level, `${path}(rule).defaultConfiguration.level`) : undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Fixed versions

/**
 * The versions in a fix text: `6.0.3.1, 5.2.4.3` (Trivy joins several with ", "), `1.2.3 or 1.3.0`,
 * `[1.2.3]` (Grype's list form). Empty for absent or blank text.
 */
function splitVersions(text: string | undefined): string[] {
  if (!text) return [];
  return text
    .replace(/^\[|\]$/g, '')
    .split(/\s*,\s*|\s+or\s+/)
    .map((v) => v.trim().replace(/\.$/, ''))
    .filter((v) => v !== '')
    .slice(0, MAX_FIXED_VERSIONS);
}

function joinVersions(versions: readonly string[]): string | undefined {
  const unique = [...new Set(versions)].slice(0, MAX_FIXED_VERSIONS);
  return unique.length > 0 ? unique.join(', ') : undefined;
}

/** The fixed versions a CycloneDX `recommendation` names: Trivy's "Upgrade <pkg> to version <v>[, <v>…]". */
function versionsFromRecommendation(text: string | undefined): string[] {
  if (!text) return [];
  const m = /\bto versions?\s+(.+?)\s*\.?\s*$/is.exec(text.trim());
  return m ? splitVersions(m[1]) : [];
}

// ---------------------------------------------------------------------------------------------------------
// CycloneDX 1.4–1.7

/** The bom-ref a BOM-Link (`urn:cdx:<serial>/<version>#<bom-ref>`) points at, percent-decoded; undefined otherwise. */
function bomRefOfLink(ref: string): string | undefined {
  const m = /^urn:cdx:[^/#]+\/\d+#(.+)$/i.exec(ref);
  if (!m) return undefined;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return m[1];
  }
}

/** Name and version of a purl (`pkg:rpm/redhat/openssl-libs@1:3.0.7-27.el9?arch=x86_64`); undefined when not a purl. */
function purlParts(purl: string): { name: string; version?: string } | undefined {
  const name = nameFromPurl(purl);
  if (!name) return undefined;
  const at = purl.split(/[?#]/)[0].lastIndexOf('@');
  if (at < 0) return { name };
  const raw = purl.split(/[?#]/)[0].slice(at + 1);
  let version = raw;
  try {
    version = decodeURIComponent(raw);
  } catch {
    /* keep raw */
  }
  return version ? { name, version } : { name };
}

/**
 * The severity of one vulnerability from its ratings: the most severe, or (with `preferred`) the first listed
 * source that rated it. Returns the rating source that decided, when the rating names one.
 */
function rateVulnerability(
  ratings: unknown[],
  path: string,
  preferred: readonly string[],
): { severity: Severity; source?: string } {
  let worst: { severity: Severity; source?: string } = { severity: 'unknown' };
  const bySource = new Map<string, Severity>();
  ratings.forEach((rValue, j) => {
    const rPath = `${path}.ratings[${j}]`;
    const rating = obj(rValue, rPath);
    const sourceObj = optObj(rating.source, `${rPath}.source`);
    const sourceName = sourceObj ? nonEmpty(optStr(sourceObj.name, `${rPath}.source.name`)) : undefined;
    let s: Severity | undefined;
    const text = optStr(rating.severity, `${rPath}.severity`);
    if (text !== undefined) {
      s = severityFromText(text);
      if (!s) throw malformed(`${rPath}.severity`, 'critical, high, medium, low, info, none or unknown', text);
    }
    // A score is a severity only for CVSS (or an unnamed method): Grype adds EPSS probabilities and the CISA KEV
    // flag as ratings with method `other` (score 0.03, 1), which say nothing about severity.
    const method = optStr(rating.method, `${rPath}.method`);
    if (rating.score !== undefined && rating.score !== null && (method === undefined || /^cvss/i.test(method))) {
      if (typeof rating.score !== 'number') throw malformed(`${rPath}.score`, 'a number', rating.score);
      const fromScore = severityFromScore(rating.score);
      if (fromScore !== 'unknown') s = moreSevere(s ?? 'unknown', fromScore);
    } else if (
      rating.vector !== undefined &&
      rating.vector !== null &&
      (method === undefined || /^cvss/i.test(method))
    ) {
      // A CVSS vector without a score (issue 17 case 5): scored here; a malformed one is ignored (the rating
      // then says nothing, as a rating without severity or score does), never a failure of the report.
      const scored = scoreCvssVector(rating.vector, cvssVersionOfMethod(method));
      if (scored.ok) s = moreSevere(s ?? 'unknown', scored.severity);
    }
    if (s === undefined) return;
    if (
      SEVERITY_RANK[s] > SEVERITY_RANK[worst.severity] ||
      (worst.source === undefined && s === worst.severity && sourceName)
    ) {
      worst = sourceName ? { severity: s, source: sourceName } : { severity: s };
    }
    const key = sourceName?.toLowerCase();
    // One source may rate twice (Trivy writes NVD's CVSS v2 and v3 ratings): the more severe of its own counts.
    if (key !== undefined && s !== 'unknown') bySource.set(key, moreSevere(bySource.get(key) ?? 'unknown', s));
  });
  for (const want of preferred) {
    const s = bySource.get(want);
    if (s !== undefined) return { severity: s, source: want };
  }
  return worst;
}

function readCycloneDx(
  doc: unknown,
  reportDigest: string,
  sink: FindingsAggregator,
  ratingSources: readonly string[],
): Parsed {
  const root = obj(doc, '$');
  if (root.bomFormat !== 'CycloneDX') throw malformed('$.bomFormat', '"CycloneDX"', root.bomFormat);
  const spec = str(root.specVersion, '$.specVersion');
  if (!/^1\.[4-7]$/.test(spec)) throw malformed('$.specVersion', 'CycloneDX 1.4 to 1.7', spec);
  const source = `cyclonedx:${reportDigest}`;
  // An SBOM attached with the same media type is not a scan: "no vulnerabilities key" must never read as
  // "no vulnerabilities". Scanners write `"vulnerabilities": []` when they found none.
  if (root.vulnerabilities === undefined) {
    throw new ReportFailure(
      ReportErrorCodes.NOT_A_VULNERABILITY_REPORT,
      '$.vulnerabilities is absent: this CycloneDX document is an SBOM, not a vulnerability scan',
    );
  }

  const digests = new Set<string>();
  let createdAt: string | undefined;
  const metadata = optObj(root.metadata, '$.metadata');
  if (metadata) {
    createdAt = optStr(metadata.timestamp, '$.metadata.timestamp');
    const component = optObj(metadata.component, '$.metadata.component');
    if (component) collectComponentDigests(component, '$.metadata.component', digests);
    collectPropertyDigests(metadata.properties, '$.metadata.properties', digests);
  }

  // Components by bom-ref, walking nested components without recursion (bounded by the JSON depth check).
  const components = new Map<string, { name?: string; version?: string; purl?: string }>();
  const stack: Array<{ value: unknown; path: string }> = optArr(root.components, '$.components').map((value, i) => ({
    value,
    path: `$.components[${i}]`,
  }));
  while (stack.length > 0) {
    const { value, path } = stack.pop()!;
    const c = obj(value, path);
    const ref = optStr(c['bom-ref'], `${path}["bom-ref"]`);
    const entry = {
      name: optStr(c.name, `${path}.name`),
      version: optStr(c.version, `${path}.version`),
      purl: optStr(c.purl, `${path}.purl`),
    };
    if (ref !== undefined) components.set(ref, entry);
    optArr(c.components, `${path}.components`).forEach((child, i) =>
      stack.push({ value: child, path: `${path}.components[${i}]` }),
    );
  }

  const vulnerabilities = arr(root.vulnerabilities, '$.vulnerabilities');
  // Count the entries (vulnerability × affected package) before reading any.
  let entries = 0;
  for (let i = 0; i < vulnerabilities.length; i++) {
    const v = vulnerabilities[i];
    const affects = isObject(v) && Array.isArray(v.affects) ? v.affects.length : 0;
    entries += Math.max(1, affects);
    if (entries > MAX_REPORT_FINDINGS) throw tooMany(entries, `$.vulnerabilities[0..${i}]`);
  }
  for (let i = 0; i < vulnerabilities.length; i++) {
    const path = `$.vulnerabilities[${i}]`;
    const v = obj(vulnerabilities[i], path);
    const id = str(v.id, `${path}.id`).trim();
    if (id === '') throw malformed(`${path}.id`, 'a vulnerability id', v.id);
    const rated = rateVulnerability(optArr(v.ratings, `${path}.ratings`), path, ratingSources);
    const severity = rated.severity;
    const title = nonEmpty(optStr(v.description, `${path}.description`));
    const recommendation = optStr(v.recommendation, `${path}.recommendation`);
    const fromRecommendation = versionsFromRecommendation(recommendation);
    const base = (): Finding => {
      const f: Finding = { id, severity, source };
      if (rated.source) f.severitySource = rated.source;
      return f;
    };
    const analysis = optObj(v.analysis, `${path}.analysis`);
    if (analysis) optStr(analysis.state, `${path}.analysis.state`);

    const affects = optArr(v.affects, `${path}.affects`);
    if (affects.length === 0) {
      const f = base();
      if (title) f.title = title.slice(0, 200);
      const fixedVersion = joinVersions(fromRecommendation);
      if (fixedVersion) f.fixedVersion = fixedVersion;
      sink.add(f);
      continue;
    }
    affects.forEach((aValue, j) => {
      const aPath = `${path}.affects[${j}]`;
      const a = obj(aValue, aPath);
      const ref = str(a.ref, `${aPath}.ref`);
      // components by bom-ref; else the BOM-Link's bom-ref; else the ref itself read as a purl.
      const linked = bomRefOfLink(ref);
      const component = components.get(ref) ?? (linked !== undefined ? components.get(linked) : undefined);
      const fromPurl = purlParts(component?.purl ?? linked ?? ref);
      const fixed: string[] = [];
      let affectedVersion: string | undefined;
      optArr(a.versions, `${aPath}.versions`).forEach((verValue, k) => {
        const verPath = `${aPath}.versions[${k}]`;
        const ver = obj(verValue, verPath);
        const version = nonEmpty(optStr(ver.version, `${verPath}.version`) ?? optStr(ver.range, `${verPath}.range`));
        const status = optStr(ver.status, `${verPath}.status`) ?? 'affected';
        if (status === 'unaffected' && version) fixed.push(...splitVersions(version));
        if (status === 'affected' && version && !affectedVersion) affectedVersion = version;
      });
      const f = base();
      const pkg = component?.name ?? fromPurl?.name;
      if (pkg) f.package = pkg;
      const installed = component?.version ?? fromPurl?.version ?? affectedVersion;
      if (installed) f.installedVersion = installed;
      const fixedVersion = joinVersions([...fixed, ...fromRecommendation]);
      if (fixedVersion) f.fixedVersion = fixedVersion;
      if (title) f.title = title.slice(0, 200);
      sink.add(f);
    });
  }

  return {
    digests: [...digests],
    createdAt,
    createdPath: createdAt === undefined ? undefined : '$.metadata.timestamp',
  };
}

function collectComponentDigests(component: Json, path: string, into: Set<string>): void {
  const version = optStr(component.version, `${path}.version`);
  if (version && DIGEST_RE.test(version.toLowerCase())) into.add(version.toLowerCase());
  for (const key of ['purl', 'bom-ref']) {
    const value = optStr(component[key], `${path}["${key}"]`);
    const digest = value ? digestFromPurl(value) : undefined;
    if (digest) into.add(digest);
  }
  optArr(component.hashes, `${path}.hashes`).forEach((hValue, i) => {
    const h = obj(hValue, `${path}.hashes[${i}]`);
    const alg = str(h.alg, `${path}.hashes[${i}].alg`).toUpperCase();
    const content = str(h.content, `${path}.hashes[${i}].content`).toLowerCase();
    if (alg === 'SHA-256' && /^[a-f0-9]{64}$/.test(content)) into.add(`sha256:${content}`);
    if (alg === 'SHA-512' && /^[a-f0-9]{128}$/.test(content)) into.add(`sha512:${content}`);
  });
  collectPropertyDigests(component.properties, `${path}.properties`, into);
}

/** `properties: [{ name, value }]`: Trivy's `aquasecurity:trivy:RepoDigest` and any `…digest` property (not `ImageID`). */
function collectPropertyDigests(value: unknown, path: string, into: Set<string>): void {
  optArr(value, path).forEach((pValue, i) => {
    const p = obj(pValue, `${path}[${i}]`);
    const name = str(p.name, `${path}[${i}].name`);
    const v = optStr(p.value, `${path}[${i}].value`);
    if (!v || !/digest/i.test(name)) return;
    const m = DIGEST_IN_TEXT.exec(v);
    if (m) into.add(m[1].toLowerCase());
  });
}

/** The version of a `pkg:oci/…@<digest>` purl (percent-encoded `sha256%3A…`), when it is a digest. */
function digestFromPurl(purl: string): string | undefined {
  if (!/^pkg:oci\//i.test(purl)) return undefined;
  const at = purl.indexOf('@');
  if (at < 0) return undefined;
  let version = purl.slice(at + 1).split(/[?#]/)[0];
  try {
    version = decodeURIComponent(version);
  } catch {
    return undefined;
  }
  version = version.toLowerCase();
  return DIGEST_RE.test(version) ? version : undefined;
}

function nameFromPurl(purl: string): string | undefined {
  const m = /^pkg:[a-z0-9.+-]+\/(?:[^@?#]*\/)?([^/@?#]+)/i.exec(purl);
  if (!m) return undefined;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return m[1];
  }
}
