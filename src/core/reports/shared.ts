/**
 * What the SARIF and CycloneDX readers share: the bounds every report is held to (bytes, nesting, containers,
 * entries, clock skew, fixed versions), the failure type and its codes, the bounded JSON decoding, the core
 * JSON reader speaking `MALFORMED` with JSONPath paths (`$.runs[0].results[3].ruleId: expected a string, got
 * number 7`), digest and vulnerability-id patterns, and fixed-version parsing.
 */
import { ErrorCodes, GuardError, type ErrorCode } from '../errors';
import { JsonReader } from '../jsonReader';
import { findJsonNestingExcess } from '../jsonNesting';

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
  MALFORMED: ErrorCodes.MALFORMED,
  REPORT_SUBJECT_MISMATCH: ErrorCodes.REPORT_SUBJECT_MISMATCH,
  UNSUPPORTED: ErrorCodes.UNSUPPORTED,
  /** A CycloneDX document without `vulnerabilities`: an SBOM, not a scan result (callers skip it). */
  NOT_A_VULNERABILITY_REPORT: ErrorCodes.NOT_A_VULNERABILITY_REPORT,
  /** More entries than {@link MAX_REPORT_FINDINGS}: refused before reading them (the gate blocks). */
  REPORT_TOO_MANY_FINDINGS: ErrorCodes.REPORT_TOO_MANY_FINDINGS,
  /** More bytes than {@link MAX_REPORT_BYTES} (declared or read): refused before parsing (the gate blocks). */
  REPORT_TOO_LARGE: ErrorCodes.REPORT_TOO_LARGE,
  /** More JSON objects and arrays than {@link MAX_JSON_CONTAINERS}: refused before parsing (the gate blocks). */
  REPORT_TOO_MANY_VALUES: ErrorCodes.REPORT_TOO_MANY_VALUES,
} as const;

/** Report formats acr-guard reads. */
export type ReportFormat = 'sarif' | 'cyclonedx';

/**
 * A refused report that is not about one field's form (a bound, the subject, an SBOM): `code` is one of
 * {@link ReportErrorCodes}. Like the reader's refusals it is a GuardError, which `parseReport` returns as
 * `{ ok: false }`.
 */
export class ReportFailure extends GuardError {
  constructor(code: ErrorCode, message: string) {
    super(code, message);
  }
}

/**
 * The reader of every report field: refusals are `MALFORMED`, paths start at the document (`$.runs[0]`), so a bad
 * field reads as every other bad input does (`<path>: expected <form>, got <value>`).
 */
export const reportReader = new JsonReader({ code: ReportErrorCodes.MALFORMED, root: '$', rootInPaths: true });

/** A `MALFORMED` failure naming the JSON path, what was expected there and what was found (`nothing` when absent). */
export function malformed(path: string, expected: string, got?: unknown): GuardError {
  return reportReader.fail(path, expected, got);
}

/**
 * A `MALFORMED` failure of the whole document, where what was found is a description (`a syntax error (…)`), not
 * a value to quote.
 */
function malformedDocument(expected: string, found: string): ReportFailure {
  return new ReportFailure(ReportErrorCodes.MALFORMED, `$: expected ${expected}, got ${found}`);
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i;

/** Epoch ms of an RFC 3339 date-time (fractions beyond milliseconds trimmed); `MALFORMED` otherwise. */
export function parseTime(value: string, path: string): number {
  if (!RFC3339.test(value)) throw malformed(path, 'an RFC 3339 date-time', value);
  // Date.parse handles at most millisecond precision; trim longer fractions (.NET writes 7 digits).
  const ms = Date.parse(value.replace(/(\.\d{3})\d+/, '$1'));
  if (Number.isNaN(ms)) throw malformed(path, 'an RFC 3339 date-time', value);
  return ms;
}

// ---------------------------------------------------------------------------------------------------------
// JSON decoding with limits

/** Decodes UTF-8 JSON after checking nesting and container count, so a hostile document is refused unparsed. */
export function decodeJson(bytes: Buffer): unknown {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw malformedDocument('UTF-8 JSON', 'bytes that are not valid UTF-8');
  }
  checkDepth(text);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw malformedDocument('JSON', `a syntax error (${err instanceof Error ? err.message.slice(0, 100) : 'unknown'})`);
  }
}

/**
 * Rejects nesting deeper than {@link MAX_JSON_DEPTH} and more than {@link MAX_JSON_CONTAINERS} objects and arrays,
 * in one linear pass ({@link findJsonNestingExcess}), before JSON.parse sees the text.
 */
function checkDepth(text: string): void {
  const excess = findJsonNestingExcess(text, { maxDepth: MAX_JSON_DEPTH, maxContainers: MAX_JSON_CONTAINERS });
  if (excess?.bound === 'containers') {
    throw new ReportFailure(
      ReportErrorCodes.REPORT_TOO_MANY_VALUES,
      `$: expected at most ${MAX_JSON_CONTAINERS} JSON objects and arrays, got more (at offset ${excess.offset}); refused unparsed`,
    );
  }
  if (excess?.bound === 'depth')
    throw malformedDocument(
      `JSON nested at most ${MAX_JSON_DEPTH} levels deep`,
      `deeper nesting at offset ${excess.offset}`,
    );
}

// ---------------------------------------------------------------------------------------------------------
// Values

/** A non-empty trimmed string or undefined (scanners write `""` for "no fixed version"). */
export function nonEmpty(v: string | undefined): string | undefined {
  const t = v?.trim();
  return t ? t : undefined;
}

/** What a format reader returns besides the findings it put in the sink. */
export interface Parsed {
  /** Manifest digests the report names (lower case). */
  digests: string[];
  createdAt?: string;
  createdPath?: string;
}

/** A whole manifest digest (sha256 or sha512, lower-case hex): the one pattern in ../digest. */
export { DIGEST_PATTERN as DIGEST_RE, DIGEST_IN_TEXT } from '../digest';

/** The `REPORT_TOO_MANY_FINDINGS` failure, naming what was counted and how many. */
export function tooMany(count: number, what: string): ReportFailure {
  return new ReportFailure(
    ReportErrorCodes.REPORT_TOO_MANY_FINDINGS,
    `${what}: expected at most ${MAX_REPORT_FINDINGS} entries per report, got ${count}; refused unread (no scanner writes that many for one image)`,
  );
}

// ---------------------------------------------------------------------------------------------------------
// Fixed versions

/**
 * The versions in a fix text: `6.0.3.1, 5.2.4.3` (Trivy joins several with ", "), `1.2.3 or 1.3.0`,
 * `[1.2.3]` (Grype's list form). Empty for absent or blank text.
 */
export function splitVersions(text: string | undefined): string[] {
  if (!text) return [];
  return text
    .replace(/^\[|\]$/g, '')
    .split(/\s*,\s*|\s+or\s+/)
    .map((v) => v.trim().replace(/\.$/, ''))
    .filter((v) => v !== '')
    .slice(0, MAX_FIXED_VERSIONS);
}

/** Distinct fixed versions as one text (`"6.0.3.1, 5.2.4.3"`), at most {@link MAX_FIXED_VERSIONS}; undefined when none. */
export function joinVersions(versions: readonly string[]): string | undefined {
  const unique = [...new Set(versions)].slice(0, MAX_FIXED_VERSIONS);
  return unique.length > 0 ? unique.join(', ') : undefined;
}

/** The fixed versions a CycloneDX `recommendation` names: Trivy's "Upgrade <pkg> to version <v>[, <v>…]". */
export function versionsFromRecommendation(text: string | undefined): string[] {
  if (!text) return [];
  const m = /\bto versions?\s+(.+?)\s*\.?\s*$/is.exec(text.trim());
  return m ? splitVersions(m[1]) : [];
}
