/**
 * The validated, normalised policy. The YAML file (see `policy/acr-guard.yaml`) is loaded by
 * `loadPolicy` in `policy.ts`, which fills defaults, converts durations to milliseconds and freezes it.
 */
import type { FindingsSourceName, Severity } from './types';

/** How a verdict is applied on a registry. */
export type ApplyMode = 'quarantine' | 'promote' | 'none';

/** One registry acr-guard may act on. The YAML accepts a bare host string for `{ host }`. */
export interface RegistryPolicy {
  /** Lower-case host[:port], e.g. `contosoacrprod.azurecr.io`, `127.0.0.1:5000`. */
  host: string;
  /**
   * How verdicts are applied. Default: `quarantine` for `*.azurecr.io` hosts (ACR quarantine attributes),
   * otherwise `promote` when the matching gate rule names `promote.repository`, else `none` (record only).
   */
  apply?: ApplyMode;
}

/** A CVE exception: the finding does not block until `expires` (end of that UTC day). */
export interface VulnerabilityException {
  id: string;
  /** `YYYY-MM-DD`; the exception applies through the end of that UTC day. */
  expires: string;
  /** Epoch ms of the end of the expiry day (exclusive), derived from `expires`. */
  expiresAtMs: number;
  reason: string;
  /** Optional: only for these packages (exact names); all packages when absent. */
  packages?: string[];
}

export interface VulnerabilityPolicy {
  /** Severities that block. Default `[critical, high]`. */
  block: Severity[];
  /** Block only findings that have a fixed version. Default false. */
  onlyFixable: boolean;
  /** Attached reports older than this are ignored (stale). YAML duration like `7d`; default 7d. */
  maxReportAgeMs: number;
  exceptions: VulnerabilityException[];
  /** Which sources to consult. Default `[defender, reports]` on ACR hosts, `[reports]` elsewhere (resolved at decision time when absent). */
  sources?: FindingsSourceName[];
  /**
   * `any`: decide once at least one source is ready (others still pending are recorded as skipped).
   * `all`: every listed source must be ready. Default `any`.
   */
  require: 'any' | 'all';
  /** How long to wait for a pending source before blocking. YAML duration; default 30m. */
  scanDeadlineMs: number;
  /** How often to poll a pending source while waiting. YAML duration; default 1m. */
  pollIntervalMs: number;
  /**
   * CycloneDX rating sources in order of preference, e.g. `[debian, nvd]` (the distribution's own rating
   * first, as Trivy shows it): the first listed source that rated a vulnerability decides its severity.
   * Absent: the most severe rating decides. See docs/vulnerability-reports.md (rating sources).
   */
  ratingSources?: string[];
  /**
   * Name of a trust policy entry (in the trust policy file; its stores hold the notation CAs or cosign keys) that
   * every report must be signed under, as Ratify's vulnerability-report verifier does: a report without a
   * signature that verifies under it is ignored and named. Absent: every fresh report counts, signed or not
   * (docs/vulnerability-reports.md, "Who can clear an image").
   */
  reportsSignedBy?: string;
}

export interface SignaturePolicy {
  /** When true, at least one signature must verify against `trustPolicy`. Default false. */
  required: boolean;
  /** Name of the trust policy (notation `trustpolicy.json` entry) that applies. */
  trustPolicy?: string;
}

export interface PromotePolicy {
  /**
   * Target repository for released images on registries without quarantine. `{repository}` is replaced
   * by the source repository: `release/{repository}`.
   */
  repository: string;
}

/** One gate rule. The first rule whose `scope` glob matches the repository applies. */
export interface GateRule {
  /** Repository glob: `*` matches within one path segment, `**` across segments. `contoso/*`. */
  scope: string;
  vulnerabilities: VulnerabilityPolicy;
  signatures: SignaturePolicy;
  promote?: PromotePolicy;
  /** Position in the file, for verdict reasons: `gate[0]`. */
  index: number;
}

/** One retention rule (applied by the purge feature; validated here). */
export interface RetentionRule {
  scope: string;
  /** Keep this many most recent tagged manifests. */
  keep?: number;
  /** Only delete manifests older than this (ms). */
  olderThanMs?: number;
  /** Delete untagged manifests. */
  untagged?: boolean;
  /** Regex on tags eligible for deletion. */
  tagPattern?: string;
  /** Never delete images in use in Container Apps / ACI. Default true. */
  protectInUse: boolean;
  /** Delete locked manifests too. Default false. */
  includeLocked: boolean;
  /**
   * Most tagged manifests one run may delete from one repository (`maxDeletes`: `25%` or `40`); past it the
   * repository's plan is held. Absent: the default, 25% (`DEFAULT_DELETION_CAP`); absent rather than filled in
   * so the policy hash of a file that does not name it is unchanged.
   */
  maxDeletes?: DeletionCap;
  index: number;
}

/** A cap on deletions: a percentage of the repository's tagged manifests, or a number of them. */
export type DeletionCap = { percent: number } | { count: number };

/** What a grace period can be keyed by: a severity, or `other` for blocks no finding caused (signatures, scans pending). */
export type GraceKey = Severity | 'other';

/**
 * Runtime assurance (`runtime:` in the YAML; see docs/runtime.md). Never part of the policy hash: it changes how
 * running images are reported, not what a verdict is, so editing it does not re-gate everything.
 */
export interface RuntimePolicy {
  /** How long a running image may stay blocked before it is `overdue`, by worst blocking severity (ms). */
  graceMs: Record<GraceKey, number>;
  /** Running digests whose verdict is older than this are gated again (ms). Default 24h. */
  regateAfterMs: number;
  /** Registries outside `registries` whose running images are tolerated (`allowed-external`), lower-case hosts. */
  allowRegistries: string[];
  /**
   * Whether a workload deployed by tag counts as `released` when the tag resolves to a released digest now.
   * Default false: it is `by-tag` (exit 3), because Container Apps does not record which digest a replica
   * pulled and the tag can move after the pull.
   */
  tolerateTags: boolean;
}

/** The whole policy. Frozen after load. */
export interface Policy {
  version: 1;
  registries: RegistryPolicy[];
  gate: GateRule[];
  retention: RetentionRule[];
  /** Runtime assurance settings; defaults filled when the file has no `runtime:` section. Optional for policies built in code. */
  runtime?: RuntimePolicy;
  /** sha256 (hex) of the canonical JSON of the normalised policy; recorded in every verdict. */
  hash: string;
}
