/**
 * The activities of `imageGate`: plain async functions from JSON input to JSON output, registered with the
 * Functions host at the bottom and handed to the local durable driver as {@link gateActivities}.
 *
 * Errors lose their class across the activity boundary, so outcomes are data: a permanent failure comes back
 * as `{ ok: false, code, detail }`; a transient one (`GuardError` `TRANSIENT`) is thrown so the orchestration's
 * Durable retry options retry it.
 */
import { ErrorCodes, GuardError, isGuardError, type ErrorCode } from '../core/errors';
import {
  applyModeFor,
  effectiveSources,
  findGateRule,
  findRetentionRule,
  isRegistryAllowed,
  promoteTarget,
} from '../core/policy';
import type { ApplyMode, GateRule, Policy } from '../core/policyTypes';
import { boundFindingsResult } from '../core/findingsSummary';
import { classifyIndexChild, distinctIndexChildren, hasFilesystemLayer, MAX_INDEX_DEPTH } from '../core/indexChildren';
import { runnableByContent } from '../core/runnable';
import { ruleLabel } from '../core/purge/plan';
import {
  MediaTypes,
  type ApplyResult,
  type Descriptor,
  type FindingsResult,
  type FindingsSourceName,
  type ImageId,
  type ResolvedManifest,
  type SignatureResult,
  type Verdict,
} from '../core/types';
import type { RegistryClient } from '../adapters/ports';
import { publishVerdictEvent, type PublishReport } from '../adapters/verdictEvents';
import { verdictEvent } from '../core/verdictEvent';
import { mapLimit } from '../core/mapLimit';
import type { ReleaseProof } from '../core/releaseProof';
import { buildVsaStatement, vsaRepositoryName } from '../core/vsa';
import { attachVsa, copyReferrerGraph } from '../jobs/releaseProof';
import { Activities } from './names';
import { SILENT_ACTIVITY_CONTEXT, type ActivityContext, type GateServices } from './services';

/** A permanent failure of an activity, as data. */
export interface ActivityFailure {
  ok: false;
  code: ErrorCode;
  detail: string;
}

/** Runs `work`; permanent GuardErrors become {@link ActivityFailure}, transient ones (and bugs) are rethrown. */
async function permanentAsData<T>(work: () => Promise<T>): Promise<T | ActivityFailure> {
  try {
    return await work();
  } catch (err) {
    if (isGuardError(err) && err.code !== ErrorCodes.TRANSIENT)
      return { ok: false, code: err.code, detail: err.message };
    throw err;
  }
}

// ---- loadGateContext ----

/** Input of {@link loadGateContext}. */
export interface LoadGateContextInput {
  image: ImageId;
}

/** What the policy says about one image, resolved once at the start of the gate. */
export interface GateContext {
  ok: true;
  registryAllowed: boolean;
  rule?: GateRule;
  /** `gate[<i>] scope "<glob>"`, or `none` when no rule matches. */
  ruleLabel: string;
  sources: FindingsSourceName[];
  applyMode: ApplyMode;
  /** Release repository for `promote` mode. */
  promoteTarget?: string;
  policyVersion: number;
  policyHash: string;
  scanDeadlineMs: number;
  pollIntervalMs: number;
  maxReportAgeMs: number;
  trustPolicy?: string;
  /** The retention rule covering the repository, when one does: the gate runs it after recording the verdict. */
  retentionRule?: string;
  /** Whether verdict events are configured: the gate then publishes the recorded verdict (absent in old histories). */
  publishVerdicts?: boolean;
}

/** Reads the policy for an image: allowlist, gate rule, sources, apply mode, wait times. */
export async function loadGateContext(
  services: GateServices,
  input: LoadGateContextInput,
): Promise<GateContext | ActivityFailure> {
  return permanentAsData(async () => {
    const policy = services.policy();
    const { registry, repository } = input.image;
    const rule = findGateRule(policy, repository);
    const applyMode = applyModeFor(policy, registry, rule);
    return {
      ok: true as const,
      registryAllowed: isRegistryAllowed(policy, registry),
      rule,
      ruleLabel: rule ? `gate[${rule.index}] scope "${rule.scope}"` : 'none',
      sources: rule ? effectiveSources(rule, registry) : [],
      applyMode,
      promoteTarget: rule && applyMode === 'promote' ? promoteTarget(rule, repository) : undefined,
      policyVersion: policy.version,
      policyHash: policy.hash,
      scanDeadlineMs: rule?.vulnerabilities.scanDeadlineMs ?? 0,
      pollIntervalMs: rule?.vulnerabilities.pollIntervalMs ?? 60_000,
      maxReportAgeMs: rule?.vulnerabilities.maxReportAgeMs ?? 0,
      trustPolicy: rule?.signatures.trustPolicy,
      ...retentionOf(policy, repository),
      ...(services.verdictEvents && services.verdictEvents.length > 0 ? { publishVerdicts: true } : {}),
    };
  });
}

/** The retention rule covering a repository, as a label (only present when one does: the gate then runs it). */
function retentionOf(policy: Policy, repository: string): { retentionRule?: string } {
  const rule = findRetentionRule(policy, repository);
  return rule ? { retentionRule: ruleLabel(rule) } : {};
}

// ---- resolveManifest ----

/** A platform manifest to gate. */
export interface PlatformManifest {
  digest: string;
  /** `os/architecture[/variant]`. */
  platform?: string;
}

/** What was pushed. */
export interface ResolvedImage {
  ok: true;
  /** `artifact`: a referrer (signature, report, SBOM) or a non-image artifact; not gated. */
  kind: 'image' | 'index' | 'artifact';
  manifest: ResolvedManifest;
  /** The manifests to collect findings for: the image itself, or an index's platform manifests. */
  platforms: PlatformManifest[];
}

const INDEX_TYPES: ReadonlySet<string> = new Set([MediaTypes.ociIndex, MediaTypes.dockerManifestList]);
const IMAGE_CONFIG_TYPES: ReadonlySet<string> = new Set([
  MediaTypes.ociConfig,
  'application/vnd.docker.container.image.v1+json',
]);

function platformLabel(platform: Descriptor['platform']): string | undefined {
  if (!platform) return undefined;
  return [platform.os, platform.architecture, platform.variant].filter((p) => p !== undefined && p !== '').join('/');
}

/**
 * An index that calls itself an artifact (a `subject`, or an `artifactType` that is not an image config's): it is
 * then skipped only if none of its children is runnable (never on these labels alone).
 */
function isArtifactIndex(manifest: ResolvedManifest): boolean {
  if (manifest.subject) return true;
  return manifest.artifactType !== undefined && !IMAGE_CONFIG_TYPES.has(manifest.artifactType);
}

/** Only the JSON-safe descriptor data of a fetched manifest (no bytes) crosses the activity boundary. */
function plainManifest(m: ResolvedManifest): ResolvedManifest {
  return {
    digest: m.digest,
    mediaType: m.mediaType,
    children: m.children,
    blobs: m.blobs,
    artifactType: m.artifactType,
    subject: m.subject,
    annotations: m.annotations,
    size: m.size,
  };
}

/** Children of an index read at once (at most MAX_INDEX_PLATFORMS in all). */
export const INDEX_CHILD_READS = 8;

/**
 * The platform manifests of an index, by content: within the index bounds, each distinct child is read once
 * and skipped only when its own manifest is an attestation; a child that cannot be read (permanently) or is
 * itself an index fails the resolution, so the gate blocks (never a label decides, never a release).
 */
async function indexPlatforms(
  registry: RegistryClient,
  image: ImageId,
  index: ResolvedManifest,
): Promise<PlatformManifest[]> {
  const children = distinctIndexChildren(index);
  const kinds = await mapLimit(
    children,
    INDEX_CHILD_READS,
    async (child) => {
      const where = `index child ${child.digest}${child.platform ? ` (${platformLabel(child.platform)})` : ''}`;
      let body;
      try {
        body = await registry.getManifest(image.repository, child.digest);
      } catch (err) {
        if (isGuardError(err) && err.code !== ErrorCodes.TRANSIENT)
          throw new GuardError(err.code, `${where} cannot be read: ${err.message}`);
        throw err;
      }
      const kind = classifyIndexChild(body);
      if (kind.kind === 'index') {
        throw new GuardError(
          ErrorCodes.INDEX_TOO_LARGE,
          `${where} is itself an index; indexes nested deeper than ${MAX_INDEX_DEPTH} level (MAX_INDEX_DEPTH) are not gated`,
        );
      }
      if (kind.kind === 'malformed')
        throw new GuardError(
          ErrorCodes.MALFORMED,
          `${where} is neither an image manifest nor an attestation: ${kind.why}`,
        );
      return kind;
    },
    { stopOnError: true },
  );
  return children
    .filter((_, i) => kinds[i].kind === 'platform')
    .map((c) => ({ digest: c.digest, platform: platformLabel(c.platform) }));
}

/**
 * Whether any child of an index that calls itself an artifact (a `subject` or an `artifactType`) is runnable.
 * Within the index bounds; a child that cannot be read counts as runnable, so the index is gated (and then blocks
 * on that child) rather than waved through as an artifact.
 */
async function anyRunnableChild(registry: RegistryClient, image: ImageId, index: ResolvedManifest): Promise<boolean> {
  const runnable = await mapLimit(distinctIndexChildren(index), INDEX_CHILD_READS, async (child) => {
    try {
      return hasFilesystemLayer((await registry.getManifest(image.repository, child.digest)).json);
    } catch (err) {
      if (isGuardError(err) && err.code !== ErrorCodes.TRANSIENT) return true;
      throw err;
    }
  });
  return runnable.includes(true);
}

/** Fetches the pushed manifest by digest and classifies it. */
export async function resolveManifest(
  services: GateServices,
  input: { image: ImageId },
): Promise<ResolvedImage | ActivityFailure> {
  return permanentAsData(async () => {
    const { image } = input;
    const registry = services.registry(image.registry);
    const fetched = await registry.getManifest(image.repository, image.digest);
    const manifest = plainManifest(fetched);
    // `subject` and `artifactType` are the pusher's words: a manifest is skipped only when no runtime would run
    // it (src/core/runnable.ts, by content alone), and an index only when none of its children is runnable
    // (an unreadable child counts as runnable).
    const artifact = INDEX_TYPES.has(manifest.mediaType)
      ? isArtifactIndex(manifest) && !(await anyRunnableChild(registry, image, manifest))
      : !runnableByContent(fetched.json).runnable;
    if (artifact) return { ok: true as const, kind: 'artifact' as const, manifest, platforms: [] };
    if (INDEX_TYPES.has(manifest.mediaType)) {
      return {
        ok: true as const,
        kind: 'index' as const,
        manifest,
        platforms: await indexPlatforms(registry, image, manifest),
      };
    }
    return { ok: true as const, kind: 'image' as const, manifest, platforms: [{ digest: image.digest }] };
  });
}

// ---- collectFindings ----

/** Input of {@link collectFindings}: one platform manifest, one source. */
export interface CollectFindingsInput {
  /** The platform manifest (never an index). */
  image: ImageId;
  source: FindingsSourceName;
  maxReportAgeMs: number;
  /** Orchestration time, epoch ms. */
  nowMs: number;
  /** The gate rule's `ratingSources` (CycloneDX rating preference), when it names any. */
  ratingSources?: string[];
  /** The gate rule's `reportsSignedBy` (trust policy entry reports must be signed under), when set. */
  reportsSignedBy?: string;
}

/**
 * Asks one findings source about one manifest. Never reports a permanent failure as a failure: a source that
 * errs gives a `status: 'error'` result, which the decision treats as inconclusive (never clean).
 *
 * The result goes into Durable history (and is replayed), so it carries at most `MAX_VERDICT_FINDINGS`
 * findings, the worst, with counts of all: never a whole findings list.
 */
export async function collectFindings(
  services: GateServices,
  input: CollectFindingsInput,
  context: ActivityContext = SILENT_ACTIVITY_CONTEXT,
): Promise<FindingsResult> {
  const source = services.sources.find((s) => s.name === input.source);
  if (!source) {
    return {
      source: input.source,
      status: 'error',
      code: ErrorCodes.UNSUPPORTED,
      detail: `findings source "${input.source}" is not configured in this deployment`,
    };
  }
  try {
    const query = {
      image: input.image,
      maxReportAgeMs: input.maxReportAgeMs,
      nowMs: input.nowMs,
      ...(input.ratingSources ? { ratingSources: input.ratingSources } : {}),
      ...(input.reportsSignedBy ? { reportsSignedBy: input.reportsSignedBy } : {}),
    };
    return boundFindingsResult(await source.collect(query));
  } catch (err) {
    if (isGuardError(err) && err.code !== ErrorCodes.TRANSIENT) {
      context.warn(
        `collectFindings: ${input.source} for ${input.image.repository}@${input.image.digest}: ${err.code}: ${err.message}`,
      );
      return { source: input.source, status: 'error', code: err.code, detail: err.message };
    }
    throw err;
  }
}

// ---- verifySignatures ----

/** Input of {@link verifySignatures}. */
export interface VerifySignaturesActivityInput {
  /** The pushed digest: an index's signatures sign the index. */
  image: ImageId;
  manifest: ResolvedManifest;
  trustPolicy?: string;
}

/** Verifies the signatures of the pushed manifest; a permanent error is an inconclusive result, never a pass. */
export async function verifySignatures(
  services: GateServices,
  input: VerifySignaturesActivityInput,
  context: ActivityContext = SILENT_ACTIVITY_CONTEXT,
): Promise<SignatureResult> {
  try {
    return await services.verifySignatures(input);
  } catch (err) {
    if (isGuardError(err) && err.code !== ErrorCodes.TRANSIENT) {
      context.warn(`verifySignatures: ${input.image.repository}@${input.image.digest}: ${err.code}: ${err.message}`);
      return {
        status: 'inconclusive',
        reason: `signature verification failed to run: ${err.code}: ${err.message}`,
        signatures: [],
      };
    }
    throw err;
  }
}

// ---- applyVerdict ----

/** Input of {@link applyVerdict}. */
export interface ApplyVerdictInput {
  verdict: Verdict;
  mode: ApplyMode;
  dryRun: boolean;
  /** Release repository (promote mode). */
  promoteTarget?: string;
}

/** What applying a verdict will do; computed first, then executed (or, for a dry run, only described). */
type ApplyPlan =
  | {
      kind: 'attributes';
      attributes: { quarantineState: 'Passed' | 'Quarantined'; quarantineDetails: string };
      detail: string;
    }
  | { kind: 'promote'; target: string; tag?: string; detail: string }
  | { kind: 'nothing'; detail: string };

/** ACR's `quarantineDetails` is a free string; keep it small (4 KiB) and machine-readable. */
export const MAX_QUARANTINE_DETAILS = 4096;

/** A compact JSON summary of a verdict for `quarantineDetails`: decision, summary, rule, failing checks. */
export function quarantineDetails(verdict: Verdict): string {
  const failing = verdict.checks
    .filter((c) => c.status === 'fail' || c.status === 'inconclusive')
    .map((c) => ({
      name: c.name,
      status: c.status,
      reason: c.reason.length > 300 ? `${c.reason.slice(0, 300)}…` : c.reason,
      ...(c.manifest ? { manifest: c.manifest } : {}),
    }));
  const base = {
    scanner: 'acr-guard',
    decision: verdict.decision,
    summary: verdict.summary.length > 500 ? `${verdict.summary.slice(0, 500)}…` : verdict.summary,
    rule: verdict.rule,
    policy: verdict.policy,
    decidedAt: verdict.decidedAt,
    findingCounts: verdict.findingCounts,
    ...(verdict.findingsOmitted ? { findingsOmitted: verdict.findingsOmitted } : {}),
  };
  // Drop failing checks from the end until the whole document fits; say how many were left out.
  for (let keep = failing.length; keep >= 0; keep--) {
    const text = JSON.stringify({
      ...base,
      checks: failing.slice(0, keep),
      ...(keep < failing.length ? { omittedChecks: failing.length - keep } : {}),
    });
    if (Buffer.byteLength(text, 'utf8') <= MAX_QUARANTINE_DETAILS) return text;
  }
  return JSON.stringify({
    scanner: 'acr-guard',
    decision: verdict.decision,
    decidedAt: verdict.decidedAt,
    omittedChecks: failing.length,
  });
}

function planApply(input: ApplyVerdictInput): ApplyPlan {
  const { verdict, mode } = input;
  const released = verdict.decision === 'release';
  switch (mode) {
    case 'quarantine': {
      const state = released ? 'Passed' : 'Quarantined';
      return {
        kind: 'attributes',
        attributes: { quarantineState: state, quarantineDetails: quarantineDetails(verdict) },
        detail: `quarantineState=${state}`,
      };
    }
    case 'promote': {
      if (!released) return { kind: 'nothing', detail: 'blocked: not promoted' };
      if (!input.promoteTarget)
        throw new GuardError(
          ErrorCodes.INVALID_POLICY,
          `promote mode needs promote.repository in gate rule ${verdict.rule}`,
          { field: 'gate.promote.repository' },
        );
      return {
        kind: 'promote',
        target: input.promoteTarget,
        tag: verdict.tag,
        detail: `promoted to ${input.promoteTarget}@${verdict.image.digest}${verdict.tag ? ` and :${verdict.tag}` : ''}`,
      };
    }
    default:
      return { kind: 'nothing', detail: 'verdict recorded only (apply mode none)' };
  }
}

/** Notes a manifest write into the release repository before it is made (see {@link GateServices.promotions}). */
function notePromotion(services: GateServices, client: RegistryClient, repository: string, digest: string): void {
  services.promotions?.record({ registry: client.host, repository, digest });
}

/** Copies one manifest (and, for an index, its child manifests) with all blobs into `target`, by digest. */
async function copyByDigest(
  services: GateServices,
  client: RegistryClient,
  from: string,
  target: string,
  digest: string,
): Promise<void> {
  const manifest = await client.getManifest(from, digest);
  // Each distinct child once: an index listing one child many times must not multiply the copy's requests.
  for (const digest of new Set(manifest.children.map((c) => c.digest)))
    await copyByDigest(services, client, from, target, digest);
  for (const blob of manifest.blobs) await client.mountBlob(target, blob.digest, from);
  notePromotion(services, client, target, digest);
  const put = await client.putManifest(target, digest, manifest.bytes, manifest.mediaType);
  if (put !== digest)
    throw new GuardError(
      ErrorCodes.DIGEST_MISMATCH,
      `${target}: the registry stored ${put} for manifest ${digest}; the copy is not faithful`,
    );
}

/**
 * Whether `repository:tag` points at `digest` in the registry now. The tag a gate carries comes from an event,
 * a notification or a rescan request: it was true (at best) when it was sent, and the tag may have moved
 * since. Writing it into the release repository unchecked would give a release tag to a digest the source
 * never (or no longer) had under that tag, e.g. roll `release/app:1.2` back to an older passing digest.
 */
async function tagStillPoints(
  client: RegistryClient,
  repository: string,
  tag: string,
  digest: string,
): Promise<{ ok: true } | { ok: false; reason: string }> {
  let current: string;
  try {
    current = await client.resolveTag(repository, tag);
  } catch (err) {
    if (isGuardError(err, ErrorCodes.NOT_FOUND)) return { ok: false, reason: `${repository}:${tag} no longer exists` };
    // Any other permanent failure: the tag cannot be confirmed, so it is not written. The digest was already
    // promoted (the image passed); failing the apply here would block a release whose copy is already there.
    if (isGuardError(err) && err.code !== ErrorCodes.TRANSIENT)
      return { ok: false, reason: `${repository}:${tag} could not be checked (${err.code}: ${err.message})` };
    throw err;
  }
  return current === digest
    ? { ok: true }
    : { ok: false, reason: `${repository}:${tag} now points at ${current}, not at the gated digest` };
}

/**
 * Applies a verdict on the registry. Idempotent: setting attributes and copying by digest can be repeated.
 * quarantine: `Passed` on release, `Quarantined` (with the reasons) on block. promote: copy into the release
 * repository on release; nothing on block. none: nothing. Dry run: nothing, and says what it would have done.
 * promote writes the release tag only when the source repository's tag still points at the gated digest at
 * this moment (otherwise by digest only, and `releaseTag` says why the tag was skipped).
 */
export async function applyVerdict(
  services: GateServices,
  input: ApplyVerdictInput,
  context: ActivityContext = SILENT_ACTIVITY_CONTEXT,
): Promise<ApplyResult> {
  let plan: ApplyPlan;
  try {
    plan = planApply(input);
  } catch (err) {
    if (isGuardError(err)) return { mode: input.mode, ok: false, code: err.code, detail: err.message };
    throw err;
  }
  if (input.dryRun) return { mode: 'dry-run', ok: true, detail: `dry run (${input.mode}): would apply ${plan.detail}` };
  const { image } = input.verdict;
  const result = await permanentAsData(async () => {
    const client = services.registry(image.registry);
    if (plan.kind === 'attributes') await client.setManifestAttributes(image.repository, image.digest, plan.attributes);
    if (plan.kind === 'promote') {
      await copyByDigest(services, client, image.repository, plan.target, image.digest);
      if (plan.tag) {
        const check = await tagStillPoints(client, image.repository, plan.tag, image.digest);
        if (!check.ok) {
          const detail = `promoted to ${plan.target}@${image.digest} by digest only; tag ${plan.tag} not written: ${check.reason}`;
          return {
            mode: input.mode,
            ok: true,
            detail,
            releaseTag: { tag: plan.tag, written: false, reason: check.reason },
          } satisfies ApplyResult;
        }
        const manifest = await client.getManifest(image.repository, image.digest);
        notePromotion(services, client, plan.target, image.digest);
        try {
          await client.putManifest(plan.target, plan.tag, manifest.bytes, manifest.mediaType);
        } catch (err) {
          if (!isGuardError(err) || err.code === ErrorCodes.TRANSIENT) throw err;
          // The release by digest stands (it is already copied); only the tag could not be written.
          const reason = `writing ${plan.target}:${plan.tag} failed (${err.code}: ${err.message})`;
          return {
            mode: input.mode,
            ok: true,
            detail: `promoted to ${plan.target}@${image.digest} by digest only; ${reason}`,
            releaseTag: { tag: plan.tag, written: false, reason },
          } satisfies ApplyResult;
        }
        return {
          mode: input.mode,
          ok: true,
          detail: plan.detail,
          releaseTag: { tag: plan.tag, written: true },
        } satisfies ApplyResult;
      }
    }
    return { mode: input.mode, ok: true, detail: plan.detail } satisfies ApplyResult;
  });
  let applied: ApplyResult =
    'code' in result && result.ok === false
      ? { mode: input.mode, ok: false, code: result.code, detail: result.detail }
      : (result as ApplyResult);
  const proof = await releaseProof(services, input, plan, applied, context);
  if (proof) applied = { ...applied, proof };
  context.log(
    `applyVerdict: ${image.repository}@${image.digest} ${input.verdict.decision}: ${applied.ok ? 'applied' : `not applied (${applied.code})`}: ${applied.detail}`,
  );
  return applied;
}

/**
 * What the applied verdict carries: on a promoted release, its referrers graph copied into the release
 * repository; with an attestation key, the signed verdict (VSA) attached where the image now lives (the release
 * repository after a promotion, else the pushed repository: a block's VSA is a record, `FAILED`). Undefined when
 * there is nothing to do (no promotion, no key). Permanent failures are data in the proof; transient ones throw.
 */
async function releaseProof(
  services: GateServices,
  input: ApplyVerdictInput,
  plan: ApplyPlan,
  applied: ApplyResult,
  context: ActivityContext,
): Promise<ReleaseProof | undefined> {
  const { image } = input.verdict;
  const promoted = plan.kind === 'promote' && applied.ok;
  const attestation = services.attestation;
  if (!promoted && !attestation) return undefined;
  // A release whose apply failed is about to be re-applied as a block: that call attaches the (FAILED) VSA.
  if (input.verdict.decision === 'release' && !applied.ok) return undefined;
  const client = services.registry(image.registry);
  const where = promoted ? plan.target : image.repository;
  let roots = [image.digest];
  try {
    const children = (await client.getManifest(image.repository, image.digest)).children;
    roots = [image.digest, ...new Set(children.map((c) => c.digest))];
  } catch (err) {
    if (!isGuardError(err) || err.code === ErrorCodes.TRANSIENT) throw err;
    return { copied: 0, failed: [{ digest: image.digest, code: err.code, detail: err.message }], items: [] };
  }
  const proof = await copyReferrerGraph(client, {
    from: image.repository,
    ...(promoted ? { target: plan.target } : {}),
    roots,
    beforeWrite: (repository, digest) => notePromotion(services, client, repository, digest),
  });
  if (!attestation) return proof;
  const statement = buildVsaStatement({
    verdict: input.verdict,
    repository: vsaRepositoryName(image, where),
    verifierId: attestation.verifierId,
    policyUri: attestation.policyUri,
    inputAttestations: proof.items
      .filter((i) => i.digest.startsWith('sha256:'))
      .map((i) => ({ uri: `${vsaRepositoryName(image, where)}@${i.digest}`, digest: { sha256: i.digest.slice(7) } })),
  });
  try {
    const vsa = await attachVsa(client, where, image.digest, statement, attestation.signer, (repository, digest) =>
      notePromotion(services, client, repository, digest),
    );
    proof.vsa = { attached: true, ...vsa, result: statement.predicate.verificationResult };
    proof.items.push({ kind: 'vsa', digest: vsa.digest, subject: image.digest, tag: vsa.tag });
  } catch (err) {
    if (!isGuardError(err) || err.code === ErrorCodes.TRANSIENT) throw err;
    context.warn(`applyVerdict: VSA for ${where}@${image.digest} not attached: ${err.code}: ${err.message}`);
    proof.vsa = { attached: false, reason: `${err.code}: ${err.message}` };
  }
  return proof;
}

// ---- recordVerdict ----

/**
 * Appends the verdict to the audit store, once. Activities run at least once: a worker (or the local service)
 * that dies after the write but before its completion is recorded runs this again with the same verdict. The
 * gate's verdict is deterministic (decided at orchestration time), so the latest verdict of the image being
 * this one means the write happened: it is not appended twice.
 */
export async function recordVerdict(
  services: GateServices,
  input: { verdict: Verdict },
  context: ActivityContext = SILENT_ACTIVITY_CONTEXT,
): Promise<{ ok: true } | ActivityFailure> {
  return permanentAsData(async () => {
    const { audit } = services;
    const v = input.verdict;
    const latest = await audit.latestVerdict(v.image);
    const same =
      latest !== undefined &&
      latest.decidedAt === v.decidedAt &&
      latest.decision === v.decision &&
      latest.summary === v.summary &&
      latest.policy?.hash === v.policy?.hash;
    if (!same) await audit.recordVerdict(v);
    else
      context.log(
        `recordVerdict: ${v.image.repository}@${v.image.digest}: this verdict is already the latest (an activity retry); not appended again`,
      );
    return { ok: true as const };
  });
}

// ---- publishVerdict ----

/** What {@link publishVerdict} reports (never a failure: delivery does not change the verdict). */
export interface PublishVerdictResult {
  ok: true;
  reports: PublishReport[];
}

/**
 * Publishes a recorded verdict as a CloudEvent to every configured publisher, each a bounded number of times.
 * Never fails: an undelivered event is logged (warn) and reported; the verdict stands as recorded.
 */
export async function publishVerdict(
  services: GateServices,
  input: { verdict: Verdict },
  context: ActivityContext = SILENT_ACTIVITY_CONTEXT,
): Promise<PublishVerdictResult> {
  const publishers = services.verdictEvents ?? [];
  if (publishers.length === 0) return { ok: true, reports: [] };
  let reports: PublishReport[];
  try {
    reports = await publishVerdictEvent(publishers, verdictEvent(input.verdict));
  } catch (err) {
    // Building the event from a malformed record: say so, decide nothing.
    reports = publishers.map((p) => ({
      publisher: p.name,
      delivered: false,
      attempts: 0,
      error: String((err as Error)?.message),
    }));
  }
  const v = input.verdict;
  for (const r of reports) {
    if (r.delivered)
      context.log(`publishVerdict: ${v.image.repository}@${v.image.digest} ${v.decision}: sent to ${r.publisher}`);
    else
      context.warn(
        `publishVerdict: ${v.image.repository}@${v.image.digest} ${v.decision}: not delivered to ${r.publisher} after ${r.attempts} attempt(s) (${r.error}); the verdict is recorded and unchanged`,
      );
  }
  return { ok: true, reports };
}

/**
 * The activities of `imageGate` over `services`, by their registered names: what a host registers (Azure) or
 * hands to the local durable driver. Each handler gets the JSON input and the invocation's context (its log).
 */
export function gateActivities(services: GateServices) {
  return {
    [Activities.loadGateContext]: (input: LoadGateContextInput, _context: ActivityContext) =>
      loadGateContext(services, input),
    [Activities.resolveManifest]: (input: { image: ImageId }, _context: ActivityContext) =>
      resolveManifest(services, input),
    [Activities.collectFindings]: (input: CollectFindingsInput, context: ActivityContext) =>
      collectFindings(services, input, context),
    [Activities.verifySignatures]: (input: VerifySignaturesActivityInput, context: ActivityContext) =>
      verifySignatures(services, input, context),
    [Activities.applyVerdict]: (input: ApplyVerdictInput, context: ActivityContext) =>
      applyVerdict(services, input, context),
    [Activities.recordVerdict]: (input: { verdict: Verdict }, context: ActivityContext) =>
      recordVerdict(services, input, context),
    [Activities.publishVerdict]: (input: { verdict: Verdict }, context: ActivityContext) =>
      publishVerdict(services, input, context),
  } as const;
}
