/**
 * Shared data shapes of acr-guard. Everything here is plain JSON-serialisable data, because it crosses
 * Durable activity boundaries and goes into the audit store.
 */
import type { ErrorCode } from './errors';
import type { ReleaseProof } from './releaseProof';

/** An image named by digest: what every decision and action works on (never a tag). */
export interface ImageId {
  /** Registry host as it appears in references, lower case, with port when not default: `contoso.azurecr.io`, `127.0.0.1:5000`. */
  registry: string;
  /** Repository path, OCI grammar: `contoso/api`. */
  repository: string;
  /** `sha256:<64 hex>` (or `sha512:<128 hex>`). */
  digest: string;
}

/** A parsed image reference; `digest` or `tag` (or both) are present. */
export interface ImageReference {
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

/** Vulnerability severities, normalised across Defender, SARIF and CycloneDX. */
export type Severity = 'critical' | 'high' | 'medium' | 'low' | 'negligible' | 'unknown';

/** All severities, most severe first. */
export const SEVERITIES: readonly Severity[] = ['critical', 'high', 'medium', 'low', 'negligible', 'unknown'];

/** Where findings came from. */
export type FindingsSourceName = 'defender' | 'reports';

/** One vulnerability finding, normalised. */
export interface Finding {
  /** CVE or advisory id, e.g. `CVE-2024-1234`, `GHSA-xxxx-xxxx-xxxx`. */
  id: string;
  severity: Severity;
  /** Package name (purl or plain name) when the source gives it. */
  package?: string;
  installedVersion?: string;
  /** Version that fixes it; absent when no fix is known. */
  fixedVersion?: string;
  /**
   * True when the source says a fix exists without naming its version (Defender's `fixStatus: FixAvailable`
   * with an empty `fixedVersion`): fixable for `onlyFixable`, like a finding with a `fixedVersion`.
   */
  fixAvailable?: boolean;
  /** `defender`, or `sarif:<report digest>` / `cyclonedx:<report digest>`. */
  source: string;
  title?: string;
  /** Which rating decided the severity, when the report names it (CycloneDX `ratings[].source.name`, e.g. `nvd`). */
  severitySource?: string;
}

/**
 * Counts of a findings list of which only the worst entries are kept (`MAX_VERDICT_FINDINGS`, see
 * `core/findingsSummary.ts`). Counts cover every distinct finding, listed or not, so a verdict can count
 * what it does not list, and a finding that was not listed can never release an image.
 */
export interface FindingsTally {
  /** Distinct findings in total (listed + omitted). */
  total: number;
  /** Distinct findings by severity (listed + omitted). */
  bySeverity: Partial<Record<Severity, number>>;
  /** Of those, the ones with a known fixed version, by severity (`onlyFixable` needs them). */
  fixableBySeverity: Partial<Record<Severity, number>>;
  /** How many distinct findings are not in the list. */
  omitted: number;
}

/**
 * What one findings source said about one image manifest.
 * - `ready`: the source has a conclusive answer (possibly zero findings).
 * - `pending`: not known yet (Defender has no rows yet, no report attached yet). Never means "clean".
 * - `error`: the source failed or returned something unparseable; an inconclusive check, never a pass.
 */
export type FindingsResult =
  | {
      source: FindingsSourceName;
      status: 'ready';
      /** The worst findings (all of them when `tally` is absent or `tally.omitted` is 0), worst first when cut. */
      findings: Finding[];
      detail: string;
      /** Counts over every finding, present when the list may have been cut to the worst ones. */
      tally?: FindingsTally;
    }
  | { source: FindingsSourceName; status: 'pending'; detail: string }
  | { source: FindingsSourceName; status: 'error'; code: ErrorCode; detail: string };

/** Status of one check in a verdict. */
export type CheckStatus = 'pass' | 'fail' | 'skip' | 'inconclusive';

/** What every check carries, whatever its name. */
interface CheckCommon {
  status: CheckStatus;
  /** Human-readable reason: which CVE, which policy line, which source. */
  reason: string;
  /** Platform manifest digest the check is about, for indexes. */
  manifest?: string;
  /** Structured detail (blocking finding ids, expired exceptions, …). */
  details?: Record<string, unknown>;
}

/** The name of a findings source's check in a verdict: `scan:defender`, `scan:reports`. */
export type ScanCheckName = `scan:${FindingsSourceName}`;

/** The source of each scan check name: a closed table, so that no code parses a source out of a name. */
export const SCAN_CHECK_SOURCE: Readonly<Record<ScanCheckName, FindingsSourceName>> = {
  'scan:defender': 'defender',
  'scan:reports': 'reports',
};

/** The scan check name of `source` (the name recorded in verdicts). */
export function scanCheckName(source: FindingsSourceName): ScanCheckName {
  return `scan:${source}`;
}

/**
 * The names of a verdict's checks other than the scan checks:
 * - `vulnerabilities`, `exceptions`, `signatures`: the decision over a manifest's evidence (`core/gateChecks.ts`);
 * - `policy` (no rule or no policy), `manifest` (no evidence, or it could not be resolved), `decision` (the
 *   decision itself failed), `apply` (a release that could not be carried out): fail-closed checks;
 * - `proof`: what the release carries (`core/releaseProof.ts`);
 * - `audit`: the note the audit table adds when it left checks out of an over-long verdict.
 */
export type VerdictCheckName =
  | 'vulnerabilities'
  | 'exceptions'
  | 'signatures'
  | 'policy'
  | 'manifest'
  | 'decision'
  | 'apply'
  | 'proof'
  | 'audit';

/** Every name a verdict's check can have. */
export type CheckName = ScanCheckName | VerdictCheckName;

/**
 * One recorded check: every verdict keeps all of them, with a reason for each. Matched by `name`; a scan check
 * also says its `source`. The JSON is the same as before `source` existed plus that field: verdicts recorded
 * earlier have scan checks without it, so read it with {@link scanCheckSource}, never from the name.
 */
export type Check =
  | (CheckCommon & {
      name: ScanCheckName;
      /** The findings source the check is about; absent in verdicts recorded before it was added. */
      source?: FindingsSourceName;
    })
  | (CheckCommon & { name: VerdictCheckName });

/** A scan check: one findings source's answer for a manifest. */
export type ScanCheck = Extract<Check, { name: ScanCheckName }>;

/** True when `check` is a scan check (`scan:defender`, `scan:reports`). */
export function isScanCheck(check: Check): check is ScanCheck {
  return Object.hasOwn(SCAN_CHECK_SOURCE, check.name);
}

/** The findings source of a scan check: its `source`, or for one recorded before that field, its name's. */
export function scanCheckSource(check: ScanCheck): FindingsSourceName {
  return check.source ?? SCAN_CHECK_SOURCE[check.name];
}

/**
 * The names of the checks of one signature (`core/signatures/checks.ts`): the Notary Project's validations
 * (`envelope` and `target` are integrity; `revocation` is always `skip`: it needs the network), cosign's
 * `envelope` and `target`.
 */
export type SignatureCheckName =
  | 'envelope'
  | 'target'
  | 'authenticity'
  | 'trustedIdentity'
  | 'authenticTimestamp'
  | 'expiry'
  | 'revocation';

/** One check of one signature, inside a {@link SignatureResult}. */
export type SignatureCheck = CheckCommon & { name: SignatureCheckName };

/** The outcome of a gate. */
export type Decision = 'release' | 'block';

/** Result of verifying the signatures of one manifest (`core/signatures`, `adapters/signatureVerifier.ts`). */
export interface SignatureResult {
  status: 'verified' | 'failed' | 'inconclusive' | 'skipped';
  reason: string;
  /** Per signature found, its checks (issue: signature verification). */
  signatures: Array<{
    digest: string;
    /** `notation` (Notary Project) or `cosign`. */
    kind?: 'notation' | 'cosign';
    /** This signature's own outcome. */
    outcome?: 'verified' | 'failed' | 'inconclusive' | 'skipped';
    reason?: string;
    checks: SignatureCheck[];
  }>;
  /**
   * The trust policy entry that decided and what it did with authenticity (who signed). Only `strict` and
   * `permissive` with authenticity `enforce` satisfy `signatures.required`; absent means not enforced.
   */
  enforcement?: {
    trustPolicy: string;
    level: 'strict' | 'permissive' | 'audit' | 'skip';
    authenticity: 'enforce' | 'log' | 'skip';
  };
}

/** A decided verdict for one image (an index's verdict covers all its platform manifests). */
export interface Verdict {
  image: ImageId;
  /** Tag the image was pushed or requested with, when known (informational only). */
  tag?: string;
  decision: Decision;
  /** One-line summary, e.g. `blocked: CVE-2024-1 (critical) in openssl 3.0.1; signatures inconclusive`. */
  summary: string;
  checks: Check[];
  /** Counts of (non-excepted) findings by severity across all sources. */
  findingCounts: Partial<Record<Severity, number>>;
  /**
   * Findings counted in `findingCounts` but not listed in any check (only the worst `MAX_VERDICT_FINDINGS` per
   * source and manifest are listed); absent when every finding is listed.
   */
  findingsOmitted?: number;
  /** The gate rule that applied: `gate[<index>] scope "<glob>"`. */
  rule: string;
  /** Policy identity: its `version` and a sha256 of its normalised content. */
  policy: { version: number; hash: string };
  /** ISO 8601 time the decision was made (orchestration time, not wall clock). */
  decidedAt: string;
  /** What the release carries (referrers copied, the signed verdict), once applied; see core/releaseProof. */
  proof?: ReleaseProof;
}

/** What every {@link ApplyResult} carries. */
interface ApplyCommon {
  /** `quarantine` (ACR attribute), `promote` (copy into a release repository), `none` (record only), `dry-run`. */
  mode: 'quarantine' | 'promote' | 'none' | 'dry-run';
  /** What was done, e.g. `quarantineState=Passed` or `promoted to release/contoso/api@sha256:…`. */
  detail: string;
  /** What the release carries: referrers copied (`copied`, `failed`), their digests, the signed verdict. */
  proof?: ReleaseProof;
}

/**
 * What applying a verdict did, on `ok`: applied (with, on a promotion with a tag, whether the release tag was
 * written), or not applied with its `code`. The JSON of older histories has the same fields and values.
 */
export type ApplyResult =
  | (ApplyCommon & {
      ok: true;
      /**
       * promote with a tag: whether the release tag was written. It is written only when the source repository's
       * tag still pointed at the gated digest when the verdict was applied; `reason` says why it was not.
       */
      releaseTag?: { tag: string; written: boolean; reason?: string };
    })
  | (ApplyCommon & { ok: false; code: ErrorCode });

/** Manifest media types acr-guard understands. */
export const MediaTypes = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  sarif: 'application/sarif+json',
  cyclonedx: 'application/vnd.cyclonedx+json',
  notarySignature: 'application/vnd.cncf.notary.signature',
} as const;

/** An OCI descriptor. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string; variant?: string };
}

/** A resolved manifest: what the registry adapter returns and the gate reasons about. */
export interface ResolvedManifest {
  digest: string;
  mediaType: string;
  /** For an index: its platform manifests. Empty for a single manifest. */
  children: Descriptor[];
  /** For a manifest: its config and layers (blobs). Empty for an index. */
  blobs: Descriptor[];
  artifactType?: string;
  subject?: Descriptor;
  annotations?: Record<string, string>;
  /** Size of the manifest bytes. */
  size: number;
}
