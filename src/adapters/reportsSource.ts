/**
 * Findings from vulnerability reports attached to the image as OCI referrers (SARIF or CycloneDX, e.g.
 * `oras attach --artifact-type application/sarif+json`, `trivy … --format sarif`, `grype -o cyclonedx-json`).
 * Lists the referrers of the digest, reads each report's manifest and its single layer (size-limited,
 * digest-verified by the registry client) and parses it with src/core/reports.ts.
 *
 * Outcome for one image manifest:
 * - any fresh report that cannot be used (unparseable, wrong version, names another image, over the size
 *   limit, not one layer): `error`, naming the report digest. A report that cannot be parsed at all counts
 *   as fresh unless its manifest annotation `org.opencontainers.image.created` shows it is old (fail closed);
 * - no fresh report: `pending` (a CycloneDX SBOM without `vulnerabilities` is not a report and is skipped);
 * - more candidate reports than {@link MAX_REPORTS_PER_IMAGE} (not dated older than the age limit): `error`
 *   TOO_MANY_REPORTS, none read (a cut would let newer reports push the scanner's off the list);
 * - otherwise `ready` with the findings of EVERY fresh report, merged: the worst result wins. A newer report
 *   never replaces an older one (whoever can push can attach one); a report superseded by a newer one of the
 *   same format is still named in the detail, with its counts, and its findings still count.
 */
import { ErrorCodes, GuardError, isGuardError, type ErrorCode } from '../core/errors';
import { mergeSummaries } from '../core/findingsSummary';
import { MAX_REPORT_BYTES, parseReport, ReportErrorCodes, reportFormatOf, type ReportFormat } from '../core/reports';
import type {
  Descriptor,
  Finding,
  FindingsResult,
  FindingsTally,
  ImageId,
  ResolvedManifest,
  SignatureResult,
} from '../core/types';
import type { FetchedManifest, FindingsQuery, FindingsSource, RegistryClient } from './ports';

/** Options of {@link ReportsFindingsSource}. */
export interface ReportsFindingsSourceOptions {
  /** Opens a registry client for a host (the composition root applies the allowlist). */
  registry: (host: string) => RegistryClient;
  /** Largest report blob read (default and ceiling: 20 MiB). */
  maxReportBytes?: number;
  /** Most report referrers read per image (default and ceiling: {@link MAX_REPORTS_PER_IMAGE}). */
  maxReports?: number;
  /**
   * Verifies the signatures whose subject is a report manifest under a named trust policy entry (the gate's own
   * signature verifier, src/adapters/signatureVerifier.ts). Used only when the query sets `reportsSignedBy`;
   * absent then, every report is untrusted (fail closed).
   */
  verifyReport?: (input: {
    image: ImageId;
    manifest: ResolvedManifest;
    trustPolicy: string;
  }) => Promise<SignatureResult>;
}

/**
 * Most candidate reports (report-typed referrers not dated older than the age limit) read per image. A scanner
 * attaches one per scan, so 32 covers a month of daily rescans within a 7-day age limit many times over; past it
 * the reports are inconclusive (TOO_MANY_REPORTS) rather than cut, so that newer reports cannot push an older
 * one off the list.
 */
export const MAX_REPORTS_PER_IMAGE = 32;
const CREATED = 'org.opencontainers.image.created';

/** A fresh report that was read and parsed. */
export interface UsableReport {
  digest: string;
  format: ReportFormat;
  createdMs: number;
  createdAt: string;
  /** The worst findings of the report, with counts of all of them. */
  findings: Finding[];
  tally: FindingsTally;
}

/** A report ignored because no signature on it verified under the trust policy `reportsSignedBy` names. */
interface UntrustedReport {
  digest: string;
  reason: string;
}

interface ReportProblem {
  digest: string;
  code: ErrorCode;
  detail: string;
}

/** Reads vulnerability reports attached to an image manifest. */
export class ReportsFindingsSource implements FindingsSource {
  readonly name = 'reports' as const;
  private readonly registry: (host: string) => RegistryClient;
  private readonly maxReportBytes: number;
  private readonly maxReports: number;
  private readonly verifyReport: ReportsFindingsSourceOptions['verifyReport'];

  constructor(options: ReportsFindingsSourceOptions) {
    this.registry = options.registry;
    this.maxReportBytes = Math.min(options.maxReportBytes ?? MAX_REPORT_BYTES, MAX_REPORT_BYTES);
    this.verifyReport = options.verifyReport;
    this.maxReports = Math.min(options.maxReports ?? MAX_REPORTS_PER_IMAGE, MAX_REPORTS_PER_IMAGE);
  }

  /** Never throws for "no report yet" (`pending`); throws `TRANSIENT` when the registry is unavailable. */
  async collect(query: FindingsQuery): Promise<FindingsResult> {
    const { image } = query;
    let client: RegistryClient;
    let referrers: Descriptor[];
    try {
      client = this.registry(image.registry);
      referrers = await client.listReferrers(image.repository, image.digest);
    } catch (err) {
      return failure(err, `listing the referrers of ${image.repository}@${image.digest}`);
    }

    // Reports by artifactType; descriptors without one are checked against their manifest below. Those dated
    // older than the age limit are left out before counting (a date can only make a report ignored, and on a
    // registry with the referrers API it is the report manifest's own annotation).
    const candidates = referrers
      .filter((d) => d.artifactType === undefined || reportFormatOf(d.artifactType) !== undefined)
      .filter((d) => {
        const t = annotationTime(d.annotations);
        return !(t > 0 && query.nowMs - t > query.maxReportAgeMs);
      })
      .sort((a, b) => annotationTime(b.annotations) - annotationTime(a.annotations));
    if (candidates.length > this.maxReports) {
      return {
        source: 'reports',
        status: 'error',
        code: ErrorCodes.TOO_MANY_REPORTS,
        detail: `${candidates.length} candidate reports are attached to ${image.repository}@${image.digest}, over the limit of ${this.maxReports} (MAX_REPORTS_PER_IMAGE); none was read and the reports are inconclusive. Delete the extra report referrers (or let them age past maxReportAge), then rescan`,
      };
    }

    const usable: UsableReport[] = [];
    const problems: ReportProblem[] = [];
    const staleOnes: string[] = [];
    const untrusted: UntrustedReport[] = [];
    for (const descriptor of candidates) {
      const outcome = await this.readReport(client, descriptor, query);
      if (outcome.kind === 'skip') continue;
      if (outcome.kind === 'untrusted') untrusted.push(outcome.untrusted);
      else if (outcome.kind === 'problem') problems.push(outcome.problem);
      else if (outcome.kind === 'stale') staleOnes.push(descriptor.digest);
      else usable.push(outcome.report);
    }

    const name = `${image.registry}/${image.repository}@${image.digest}`;
    // Reports ignored for want of a trusted signature are named in every outcome (the verdict quotes the detail).
    const ignored =
      untrusted.length > 0
        ? `; ${untrusted.length} report(s) ignored, not signed under trust policy "${query.reportsSignedBy}" (reportsSignedBy): ${untrusted.map((u) => `${u.digest} (${u.reason})`).join('; ')}`
        : '';
    if (problems.length > 0) {
      const first = problems[0];
      return {
        source: 'reports',
        status: 'error',
        code: first.code,
        detail: `${problems.length} attached report(s) of ${name} could not be used; ${problems.map((p) => `report ${p.digest}: ${p.detail}`).join('; ')}${ignored}`,
      };
    }
    if (usable.length === 0) {
      const days = Math.round((query.maxReportAgeMs / 86_400_000) * 10) / 10;
      const stale = staleOnes.length > 0 ? ` (${staleOnes.length} older or undated report(s) ignored)` : '';
      return {
        source: 'reports',
        status: 'pending',
        detail: `no ${query.reportsSignedBy ? 'signed ' : ''}vulnerability report attached to ${name} younger than ${days}d${stale}${ignored}`,
      };
    }
    const { merged, detail } = worstOfAll(usable);
    return {
      source: 'reports',
      status: 'ready',
      findings: merged.findings,
      tally: merged.tally,
      detail: `${detail}${ignored}`,
    };
  }

  private untrustedWhy(image: ImageId, manifest: FetchedManifest, trustPolicy: string): Promise<string | undefined> {
    return untrustedWhyOf(this.verifyReport, image, manifest, trustPolicy);
  }

  private async readReport(
    client: RegistryClient,
    descriptor: Descriptor,
    query: FindingsQuery,
  ): Promise<
    | { kind: 'skip' }
    | { kind: 'problem'; problem: ReportProblem }
    | { kind: 'stale' }
    | { kind: 'untrusted'; untrusted: UntrustedReport }
    | { kind: 'report'; report: UsableReport }
  > {
    const { image } = query;
    const problem = (code: ErrorCode, detail: string) => ({
      kind: 'problem' as const,
      problem: { digest: descriptor.digest, code, detail },
    });
    // An unusable report still only counts when it may be fresh: its annotation is the only time we have.
    const isOld = (annotations?: Record<string, string>): boolean => {
      const t = annotationTime(annotations ?? descriptor.annotations);
      return t > 0 && query.nowMs - t > query.maxReportAgeMs;
    };

    let manifest: FetchedManifest;
    try {
      manifest = await client.getManifest(image.repository, descriptor.digest);
    } catch (err) {
      if (isGuardError(err, ErrorCodes.NOT_FOUND)) return { kind: 'skip' }; // deleted since it was listed
      if (isGuardError(err, ErrorCodes.TRANSIENT)) throw err;
      // Without an artifactType we cannot tell a report from a signature: only a declared report counts.
      if (reportFormatOf(descriptor.artifactType) === undefined || isOld()) return { kind: 'skip' };
      return problem(
        isGuardError(err) ? err.code : ErrorCodes.MALFORMED,
        `its manifest could not be read (${messageOf(err)})`,
      );
    }
    const json = manifest.json;
    const config =
      typeof json.config === 'object' && json.config !== null ? (json.config as { mediaType?: unknown }) : undefined;
    const artifactType =
      manifest.artifactType ??
      descriptor.artifactType ??
      (typeof config?.mediaType === 'string' ? config.mediaType : undefined);
    const format = reportFormatOf(artifactType);
    if (!format) return { kind: 'skip' }; // a referrer of another kind (signature, SBOM without findings, …)
    const annotations = { ...(descriptor.annotations ?? {}), ...(manifest.annotations ?? {}) };

    if (manifest.subject?.digest !== image.digest) {
      return problem(
        'REPORT_SUBJECT_MISMATCH',
        `its manifest subject is ${manifest.subject?.digest ?? 'absent'}, not ${image.digest}`,
      );
    }
    if (query.reportsSignedBy !== undefined) {
      // Before a byte of the report is read: only a report signed under the named trust policy counts.
      const why = await this.untrustedWhy(image, manifest, query.reportsSignedBy);
      if (why !== undefined) return { kind: 'untrusted', untrusted: { digest: descriptor.digest, reason: why } };
    }
    const layers = Array.isArray(json.layers) ? (json.layers as Descriptor[]) : [];
    if (layers.length !== 1 || typeof layers[0]?.digest !== 'string') {
      if (isOld(annotations)) return { kind: 'stale' };
      return problem(ErrorCodes.MALFORMED, `expected exactly one layer holding the report, found ${layers.length}`);
    }
    const layer = layers[0];
    // The size is checked from the descriptor before a byte of the blob is read (OCI requires it); the client
    // then checks Content-Length and cuts the stream at the same limit, and verifies the digest.
    if (typeof layer.size !== 'number' || !Number.isSafeInteger(layer.size) || layer.size < 0) {
      if (isOld(annotations)) return { kind: 'stale' };
      return problem(
        ErrorCodes.MALFORMED,
        `layers[0].size: expected the blob size in bytes (a non-negative integer), got ${JSON.stringify(layer.size) ?? 'nothing'}`,
      );
    }
    if (layer.size > this.maxReportBytes) {
      if (isOld(annotations)) return { kind: 'stale' };
      return problem(
        ReportErrorCodes.REPORT_TOO_LARGE,
        `layers[0] is ${layer.size} bytes; the limit is ${this.maxReportBytes} (not read)`,
      );
    }
    let bytes: Buffer;
    try {
      bytes = await client.getBlob(image.repository, layer.digest, this.maxReportBytes);
    } catch (err) {
      if (isGuardError(err, ErrorCodes.TRANSIENT)) throw err;
      if (isOld(annotations)) return { kind: 'stale' };
      return problem(
        isGuardError(err) ? err.code : ErrorCodes.MALFORMED,
        `its report blob ${layer.digest} could not be read (${messageOf(err)})`,
      );
    }
    const layerFormat = reportFormatOf(layer.mediaType);
    const parsed = parseReport({
      mediaType: layerFormat === format ? layer.mediaType : (artifactType as string),
      bytes,
      imageDigest: image.digest,
      reportDigest: descriptor.digest,
      nowMs: query.nowMs,
      maxAgeMs: query.maxReportAgeMs,
      annotations,
      ratingSources: query.ratingSources,
    });
    if (!parsed.ok) {
      if (parsed.code === ReportErrorCodes.NOT_A_VULNERABILITY_REPORT) return { kind: 'skip' }; // an SBOM
      if (isOld(annotations)) return { kind: 'stale' };
      return problem(parsed.code, parsed.detail);
    }
    if (parsed.stale || parsed.createdAt === undefined) return { kind: 'stale' };
    return {
      kind: 'report',
      report: {
        digest: descriptor.digest,
        format: parsed.format,
        createdAt: parsed.createdAt,
        createdMs: Date.parse(parsed.createdAt.replace(/(\.\d{3})\d+/, '$1')),
        findings: parsed.findings,
        tally: parsed.tally,
      },
    };
  }
}

/**
 * Every fresh report counts (the worst result wins): their findings are merged, and the detail names each report,
 * newest first per format, a superseded one with what it still contributes. Exported for the property tests.
 */
export function worstOfAll(usable: readonly UsableReport[]): {
  merged: { findings: Finding[]; tally: FindingsTally };
  detail: string;
} {
  const ordered = [...usable].sort(
    (a, b) =>
      a.format.localeCompare(b.format) ||
      b.createdMs - a.createdMs ||
      (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0),
  );
  const newest = new Map<ReportFormat, UsableReport>();
  for (const r of ordered) if (!newest.has(r.format)) newest.set(r.format, r);
  // Only the worst findings of each report travel on (into Durable history and the verdict), with counts of all.
  const merged = mergeSummaries(ordered);
  const detail = ordered
    .map((r) => {
      const head = newest.get(r.format);
      const base = `${r.format} report ${r.digest} (${r.createdAt}, ${r.tally.total} finding(s)`;
      if (head === r) return `${base})`;
      const counts = Object.entries(r.tally.bySeverity)
        .filter(([, n]) => (n ?? 0) > 0)
        .map(([sev, n]) => `${n} ${sev}`)
        .join(', ');
      return `${base}; superseded by the newer ${head?.digest}, still counted${counts ? `: ${counts}` : ''})`;
    })
    .join('; ');
  return { merged, detail };
}

/**
 * Why a report manifest does not count under `reportsSignedBy` (undefined: a signature on it verified). The
 * signatures looked at are those whose subject is the report manifest, verified by the gate's verifier; an
 * unverifiable one (not found, failed, inconclusive, a permanent error) makes the report untrusted, never an error.
 */
async function untrustedWhyOf(
  verify: ReportsFindingsSourceOptions['verifyReport'],
  image: ImageId,
  manifest: FetchedManifest,
  trustPolicy: string,
): Promise<string | undefined> {
  if (!verify) return 'no signature verifier is configured for reports';
  let result: SignatureResult;
  try {
    result = await verify({
      image: { ...image, digest: manifest.digest },
      manifest: {
        digest: manifest.digest,
        mediaType: manifest.mediaType,
        children: manifest.children,
        blobs: manifest.blobs,
        size: manifest.size,
        ...(manifest.subject ? { subject: manifest.subject } : {}),
        ...(manifest.artifactType ? { artifactType: manifest.artifactType } : {}),
      },
      trustPolicy,
    });
  } catch (err) {
    if (isGuardError(err, ErrorCodes.TRANSIENT)) throw err;
    return `its signatures could not be verified: ${messageOf(err)}`;
  }
  return result.status === 'verified' ? undefined : `${result.status}: ${result.reason.slice(0, 300)}`;
}

function annotationTime(annotations?: Record<string, string>): number {
  const value = annotations?.[CREATED];
  const ms = typeof value === 'string' ? Date.parse(value) : NaN;
  return Number.isNaN(ms) ? 0 : ms;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message.slice(0, 200) : String(err).slice(0, 200);
}

function failure(err: unknown, doing: string): FindingsResult {
  if (isGuardError(err, ErrorCodes.TRANSIENT)) throw err;
  if (err instanceof GuardError)
    return { source: 'reports', status: 'error', code: err.code, detail: `${doing}: ${err.message}` };
  throw err;
}
