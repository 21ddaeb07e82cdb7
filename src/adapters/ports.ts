/**
 * The small interfaces the orchestrations' activities depend on. One adapter module implements each;
 * tests and the local service plug in real implementations pointed at loopback servers.
 */
import type { Descriptor, FindingsResult, ImageId, ResolvedManifest, Verdict } from '../core/types';
import type { ReleaseEvidence } from '../core/deploy';
import type { VerdictCloudEvent } from '../core/verdictEvent';
import type { Alert, IncidentState, ResultTable } from '../core/alerts/evaluate';
import type { PasswordSlot, PublishedInfo, TokenInfo } from '../core/rotation';
import type { PurgeSummary } from '../core/purge/summary';
import type { GraceState, RuntimeReport, RuntimeStatus } from '../core/runtime/classify';
import type { LogRow, LogStream } from '../core/logRows';
import type { ErrorCode } from '../core/errors';

/** A manifest fetched from a registry, with its raw bytes (needed to verify digests and to copy it). */
export interface FetchedManifest extends ResolvedManifest {
  /** Raw manifest bytes exactly as served. */
  bytes: Buffer;
  /** Parsed JSON of `bytes`. */
  json: Record<string, unknown>;
}

/** ACR manifest attributes (`/acr/v1/<repo>/_manifests/<digest>` `changeableAttributes`). */
export interface ManifestAttributes {
  deleteEnabled?: boolean;
  writeEnabled?: boolean;
  readEnabled?: boolean;
  listEnabled?: boolean;
  quarantineState?: string;
  quarantineDetails?: string;
}

/** One manifest as ACR's `/acr/v1/<repo>/_manifests` listing reports it. */
export interface AcrManifestInfo {
  digest: string;
  tags: string[];
  mediaType?: string;
  /** ISO 8601 times. */
  createdTime?: string;
  lastUpdateTime?: string;
  /** Bytes of the manifest and its layers as ACR counts them. */
  imageSize?: number;
  /** For an index: the digests of the manifests it lists (ACR `references`). */
  references?: string[];
  changeableAttributes: ManifestAttributes;
}

/** One page-able listing result. */
export interface Page<T> {
  items: T[];
  /** Opaque continuation for the next page (the `last` value), absent on the last page. */
  next?: string;
}

/**
 * OCI distribution client for one registry host (with ACR extensions where the host supports them).
 * Every repository name and reference is validated before it reaches a URL; a bad one throws
 * `GuardError` `INVALID_INPUT` and makes no request. Transient failures throw `TRANSIENT`.
 */
export interface RegistryClient {
  /** The registry host this client talks to. */
  readonly host: string;
  /** Resolve a tag to a digest (HEAD, falling back to GET). */
  resolveTag(repository: string, tag: string): Promise<string>;
  /** GET a manifest by digest or tag with an Accept header listing OCI and Docker types; verifies the digest. */
  getManifest(repository: string, reference: string): Promise<FetchedManifest>;
  /** PUT a manifest (bytes as given) by tag or digest; returns the digest the registry reports. */
  putManifest(repository: string, reference: string, bytes: Buffer, mediaType: string): Promise<string>;
  /** DELETE a manifest by digest; a 404 counts as done (returns false when it was already gone). */
  deleteManifest(repository: string, digest: string): Promise<boolean>;
  /** GET a blob's bytes (verifies the digest); `maxBytes` guards memory (MALFORMED when exceeded). */
  getBlob(repository: string, digest: string, maxBytes?: number): Promise<Buffer>;
  /** Upload a blob (monolithic POST+PUT). */
  putBlob(repository: string, bytes: Buffer): Promise<string>;
  /** Cross-repository blob mount; falls back to copy when the registry does not mount. */
  mountBlob(targetRepository: string, digest: string, fromRepository: string): Promise<void>;
  /** Referrers of a digest (OCI 1.1 API, with the `sha256-<hex>` tag-schema fallback). */
  listReferrers(repository: string, digest: string, artifactType?: string): Promise<Descriptor[]>;
  /** Tags of a repository, one page (`n`, `last`, `Link` pagination). */
  listTags(repository: string, options?: { pageSize?: number; last?: string }): Promise<Page<string>>;
  /** Repositories of the registry, one page. */
  listRepositories(options?: { pageSize?: number; last?: string }): Promise<Page<string>>;
  /** True when the host supports ACR's `/acr/v1` metadata and quarantine attributes. */
  supportsAcrAttributes(): boolean;
  /**
   * ACR: one page of `/acr/v1/<repo>/_manifests` (digests, tags, times, size, attributes); `next` is the
   * `last` digest of the following page. Throws `UNSUPPORTED` elsewhere. Optional: clients of registries
   * without ACR's API need not have it.
   */
  listAcrManifests?(repository: string, options?: { pageSize?: number; last?: string }): Promise<Page<AcrManifestInfo>>;
  /**
   * ACR: read a manifest's changeable attributes, and its tags as ACR reports them now (`[]` when it has none).
   * Throws `UNSUPPORTED` elsewhere.
   */
  getManifestAttributes(repository: string, digest: string): Promise<ManifestAttributes & { tags?: string[] }>;
  /** ACR: PATCH a manifest's changeable attributes. Throws `UNSUPPORTED` elsewhere. */
  setManifestAttributes(repository: string, digest: string, attributes: ManifestAttributes): Promise<void>;
}

/** Opens a client for a registry host (the allowlist is checked before this is called). */
export type RegistryClientFactory = (host: string) => RegistryClient;

/** Request to a findings source for one manifest (a platform manifest, never an index). */
export interface FindingsQuery {
  image: ImageId;
  /** Reports older than this (ms) are stale and ignored. */
  maxReportAgeMs: number;
  /** Epoch ms "now" (orchestration time) used for report age. */
  nowMs: number;
  /** CycloneDX rating sources in order of preference (policy `ratingSources`); most severe rating when absent. */
  ratingSources?: readonly string[];
  /** Trust policy entry every report must be signed under (policy `reportsSignedBy`); any report counts when absent. */
  reportsSignedBy?: string;
}

/** One source of vulnerability findings (Defender through Resource Graph; reports attached as referrers). */
export interface FindingsSource {
  readonly name: FindingsResult['source'];
  /** Never throws for "no data yet" (that is `pending`); throws `TRANSIENT` for retryable failures. */
  collect(query: FindingsQuery): Promise<FindingsResult>;
}

/** Where verdicts are recorded (Azure Table storage in Azure, the same against Azurite locally). */
export interface AuditStore {
  /** Append a verdict (never overwrites an earlier one). */
  recordVerdict(verdict: Verdict): Promise<void>;
  /** The latest recorded verdict of an image, or undefined. */
  latestVerdict(image: ImageId): Promise<Verdict | undefined>;
  /** Latest verdicts of a repository (newest first). */
  listVerdicts(registry: string, repository: string, limit?: number): Promise<Verdict[]>;
  /** Record the summary of a purge run (never overwrites another run's; the same run recorded again replaces its own). */
  recordPurgeSummary(summary: PurgeSummary): Promise<void>;
  /** The most recent purge summary of a registry (latest `finishedAt`), or undefined. */
  latestPurgeSummary(registry: string): Promise<PurgeSummary | undefined>;
}

/** The latest verdict of each image the store holds, newest first, from at most `maxRows` verdict records. */
export interface VerdictListing {
  /**
   * Reads at most `maxRows` verdict records (any order the store keeps them in) and returns the latest verdict of
   * each image among them, newest first; `truncated` when more records exist than were read.
   */
  latestImageVerdicts(maxRows: number): Promise<{ verdicts: Verdict[]; truncated: boolean }>;
}

/** What runtime assurance keeps between runs: the grace clocks and the last alerted status per image. */
export interface RuntimeState {
  graceState: GraceState;
  /** When each clock's digest was last seen running (the clock is kept 90 days after that). */
  graceSeen?: GraceState;
  lastAlerted: Record<string, RuntimeStatus>;
}

/** The audit store's side of runtime assurance (the three audit stores implement it beside {@link AuditStore}). */
export interface RuntimeAssuranceStore {
  /**
   * The latest verdict of each image, keyed by `registry/repository@digest`; images without one are absent.
   * Batched: at most one (paged) read per repository, never one per image.
   */
  latestVerdicts(images: readonly ImageId[]): Promise<Map<string, Verdict>>;
  /** Records a runtime report (the same run recorded again replaces its record). */
  recordRuntimeReport(report: RuntimeReport): Promise<void>;
  /** The latest runtime report (latest `generatedAt`), or undefined. */
  latestRuntimeReport(): Promise<RuntimeReport | undefined>;
  /** The runtime state (empty when never written). */
  readRuntimeState(): Promise<RuntimeState>;
  /** Replaces the runtime state. */
  writeRuntimeState(state: RuntimeState): Promise<void>;
}

// ---- Log Analytics rows (Logs Ingestion API) ----

/** What one {@link LogSink.send} did: rows sent, rows dropped by the bounds, rows the service did not take. */
export interface LogSendResult {
  sent: number;
  dropped: number;
  failed: number;
  /** The error code and message of the first failure or drop (never a row's content). */
  error?: { code: ErrorCode; message: string };
}

/**
 * Sends rows to acr-guard's custom tables. Never throws: a failure is reported in the result (and logged by
 * the adapter), so it can never change a verdict or a purge.
 */
export interface LogSink {
  send(stream: LogStream, rows: readonly LogRow[]): Promise<LogSendResult>;
}

// ---- Alert rules and token rotation (timers `alertQueries` and `rotateTokens`) ----

/** A query result as the alert runner sees it. */
export interface LogQueryResult {
  /** `partial`: Log Analytics answered with part of the data and an error (limits, a failing workspace). */
  status: 'complete' | 'partial';
  /** The primary result table (empty when the service returned none). */
  table: ResultTable;
  /**
   * Why a result is partial: `PARTIAL_RESULT`, the service's own code (`serviceCode`, e.g. `PartialError`: not one
   * of acr-guard's codes, so kept apart) and its message (never the query text).
   */
  partialError?: { code: ErrorCode; serviceCode: string; message: string };
}

/** Runs KQL over one Log Analytics workspace. Throws `TRANSIENT` (429/5xx) or `UPSTREAM` (bad query, access). */
export interface LogQueryClient {
  query(kql: string, windowMs: number): Promise<LogQueryResult>;
}

/** Remembers which incidents were alerted, for de-duplication across timer runs. */
export interface AlertStateStore {
  get(rule: string, incidentId: string): Promise<IncidentState | undefined>;
  put(rule: string, incidentId: string, state: IncidentState): Promise<void>;
}

/** Where alerts go (Event Grid custom topic, HTTPS webhook). Throws on failure; the caller keeps state unchanged. */
export interface AlertSink {
  readonly name: string;
  send(alert: Alert): Promise<void>;
}

/** ARM side of ACR tokens. Never logs or returns a password except the one `generatePassword` returns. */
export interface TokenAdmin {
  getToken(tokenId: string): Promise<TokenInfo>;
  /** Generates `slot` with `expiry` (ISO) and returns the new password (shown once by ARM). */
  generatePassword(tokenId: string, slot: PasswordSlot, expiry: string): Promise<string>;
}

/** Metadata written with a published password. */
export interface PublishOptions {
  expiresOn: Date;
  tags: Record<string, string>;
  contentType: string;
}

/** Key Vault side of token passwords. */
export interface SecretStore {
  /** What is published under `name` (from tags and attributes), or undefined when no secret exists. */
  getPublished(name: string): Promise<PublishedInfo | undefined>;
  /** Writes a new version of `name`. */
  publish(name: string, value: string, options: PublishOptions): Promise<void>;
  /** Reads the current version back (value, tags, expiry) to confirm a write. */
  readBack(name: string): Promise<{ value: string; tags: Record<string, string>; expiresOn?: Date }>;
}

// ---- Retention and purge: images still deployed ----

/** One container image reference found deployed. */
export interface DeployedImage {
  /** The reference exactly as deployed (`host/repo:tag`, `host/repo@sha256:…` or `host/repo:tag@sha256:…`). */
  image: string;
  /** Where it runs: the ARM id of the Container Apps revision or container group, and the container's name. */
  source: string;
}

/**
 * Lists the images referenced by running Container Apps revisions and Container Instances groups in the
 * configured scopes (`ACR_GUARD_INUSE_SCOPES`). Throws when any scope cannot be listed completely: the purge
 * then does not run (fail closed), it never purges on a partial answer.
 */
export interface InUseLookup {
  /**
   * `maxAgeMs`: a complete answer started at most this long ago may be returned instead of asking again
   * (default 0: always a fresh answer). A failed lookup is never reused.
   */
  listDeployedImages(options?: { maxAgeMs?: number }): Promise<DeployedImage[]>;
}

/**
 * Where `deploy` finds the evidence that a digest passed the gate: the audit store's verdicts
 * (`auditStoreEvidence` in `jobs/deploy.ts`) or acr-guard's signed verification summary attestation (VSA) attached
 * to the image in the registry (`vsaEvidence`). An answer without a verdict means "never gated".
 */
export interface ReleaseEvidenceSource {
  /** Name shown in decisions (`audit-store`, `vsa`). */
  readonly name: string;
  /** The evidence for `image` (a digest) and, when deployed by tag, the tag's own latest verdict. */
  evidenceFor(image: ImageId, tag?: string): Promise<ReleaseEvidence>;
}

/** Where verdict events are published (an Event Grid topic in Azure, a webhook locally). */
export interface VerdictPublisher {
  /** `eventgrid`, `webhook`: for logs. */
  readonly name: string;
  /** Delivers one event; throws a GuardError (`TRANSIENT` worth retrying, `UPSTREAM` not) when it was not taken. */
  publish(event: VerdictCloudEvent): Promise<void>;
}
