/**
 * The `imageGate` apply step: puts a verdict into effect on the registry (quarantine attributes, or a promotion
 * into the release repository with its release tag), then carries its proof (the referrers graph copied, a
 * signed VSA attached). Registered through {@link gateActivities} in `activities.ts`.
 */
import { ErrorCodes, GuardError, isGuardError } from '../core/errors';
import type { ApplyMode } from '../core/policyTypes';
import type { ApplyResult, Verdict } from '../core/types';
import type { RegistryClient } from '../adapters/ports';
import type { ReleaseProof } from '../core/releaseProof';
import { buildVsaStatement, vsaRepositoryName } from '../core/vsa';
import { attachVsa, copyReferrerGraph } from '../jobs/releaseProof';
import { permanentAsData } from './activityFailure';
import { SILENT_ACTIVITY_CONTEXT, type ActivityContext, type GateServices } from './services';

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
