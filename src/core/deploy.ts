/**
 * `deploy`, pure part: whether an image may be deployed, and as which pinned reference. No I/O and no clock:
 * the edge resolves the reference to a digest now, reads the release evidence (the latest recorded verdicts, or
 * acr-guard's signed VSA attached in the registry, see {@link ReleaseEvidence}), verifies signatures when the rule requires them,
 * and passes `nowMs`.
 *
 * A digest is deployed only with a `release` verdict under the current policy (same hash), no older than the
 * policy's `runtime.regateAfter` (the same staleness the runtime audit re-gates on), and, by tag, only when the
 * tag's own latest verdict is for the digest the tag points at now (a tag that moved after its gate is refused,
 * naming both digests). In promote mode the pinned reference names the release repository.
 */
import { formatDuration } from './duration';
import type { Policy } from './policyTypes';
import { applyModeFor, findGateRule, isRegistryAllowed, promoteTarget, runtimePolicyOf } from './policyLookup';
import type { ImageId, ImageReference, SignatureResult, Verdict } from './types';

/** Where the evidence came from and what it says, for one digest (and the tag it was asked by). */
export interface ReleaseEvidence {
  /** Which source answered: `audit-store` or `vsa`. */
  source: string;
  /** The latest verdict recorded for the digest, if any. */
  verdict?: Verdict;
  /** By tag: the latest verdict recorded with this tag in the repository (whatever its digest), if any. */
  tagVerdict?: Verdict;
  /** Without a verdict: why the source has none (e.g. no VSA signed by the key is attached), for the refusal. */
  missing?: string;
  /** What this source cannot check (e.g. a VSA names the digest, not the tag), said in a deploy's reason. */
  notChecked?: string;
}

/** The edge's signature answer when the rule requires signatures: the verifier's result now, or why none ran. */
export type DeploySignatureCheck = { required: false } | { required: true; result: SignatureResult };

/** Input of {@link decideDeploy}. */
export interface DeployDecisionInput {
  /** What the caller asked for (tag and/or digest). */
  requested: ImageReference;
  /** The digest the reference names now (the tag resolved by the edge, or the digest given). */
  digest: string;
  evidence: ReleaseEvidence;
  policy: Policy;
  nowMs: number;
  signatures: DeploySignatureCheck;
}

/** The verdict as the decision reports it (JSON-friendly, small). */
export interface DeployVerdictSummary {
  decision: Verdict['decision'];
  decidedAt: string;
  summary: string;
  rule: string;
  policyHash: string;
  source: string;
}

/** What {@link decideDeploy} returns. */
export interface DeployDecision {
  decision: 'deploy' | 'refuse';
  /** The pinned reference deployed (or that would be): `registry/<release repository>@sha256:…`. */
  image: string;
  /** The digest the reference resolved to. */
  digest: string;
  /** The verdict the decision stands on (absent when none exists). */
  verdict?: DeployVerdictSummary;
  /** One sentence: why deploy, or why not and what to do. */
  reason: string;
  /** In promote mode, the release repository the image is deployed from. */
  releaseRepository?: string;
}

/** Why a deploy was refused, as a stable word (JSON `refusal`). */
export type RefusalKind =
  | 'not-allowlisted'
  | 'never-gated'
  | 'blocked'
  | 'stale'
  | 'tag-moved'
  | 'signatures'
  | 'not-promoted'
  /** The tag or digest is not in the registry: nothing to deploy (exit 3, like a gate of a missing image). */
  | 'not-found';

function summaryOf(verdict: Verdict, source: string): DeployVerdictSummary {
  return {
    decision: verdict.decision,
    decidedAt: verdict.decidedAt,
    summary: verdict.summary,
    rule: verdict.rule,
    policyHash: String(verdict.policy?.hash ?? ''),
    source,
  };
}

/** Where a released digest is deployed from: the release repository in promote mode, else where it was pushed. */
export function deployedRepository(policy: Policy, image: ImageId): { repository: string; promoted: boolean } {
  const rule = findGateRule(policy, image.repository);
  if (rule && applyModeFor(policy, image.registry, rule) === 'promote') {
    const target = promoteTarget(rule, image.repository);
    if (target) return { repository: target, promoted: true };
  }
  return { repository: image.repository, promoted: false };
}

/**
 * Decides a deploy. Fail closed: no verdict, a block, a verdict under another policy or older than
 * `runtime.regateAfter`, a tag whose own verdict is for another digest, or a required signature that does not
 * verify now: refuse, naming what to do next.
 */
export function decideDeploy(input: DeployDecisionInput): DeployDecision & { refusal?: RefusalKind } {
  const { requested, digest, evidence, policy, nowMs } = input;
  const image: ImageId = { registry: requested.registry, repository: requested.repository, digest };
  const asked = `${requested.registry}/${requested.repository}@${digest}`;
  const refuse = (
    refusal: RefusalKind,
    reason: string,
    verdict?: Verdict,
  ): DeployDecision & { refusal: RefusalKind } => ({
    decision: 'refuse',
    refusal,
    image: asked,
    digest,
    ...(verdict ? { verdict: summaryOf(verdict, evidence.source) } : {}),
    reason,
  });
  if (!isRegistryAllowed(policy, requested.registry))
    return refuse(
      'not-allowlisted',
      `registry ${requested.registry} is not in the policy's registries: nothing from it passed the gate`,
    );
  const verdict = evidence.verdict;
  if (requested.tag !== undefined && evidence.tagVerdict && evidence.tagVerdict.image.digest !== digest) {
    return refuse(
      'tag-moved',
      `tag ${requested.tag} now points at ${digest}, but it was gated at ${evidence.tagVerdict.image.digest} ` +
        `(${evidence.tagVerdict.decision}, ${evidence.tagVerdict.decidedAt}): the tag moved after its gate. ` +
        `Deploy by digest, or gate ${requested.registry}/${requested.repository}:${requested.tag} again`,
      verdict,
    );
  }
  if (!verdict)
    return refuse(
      'never-gated',
      `no verdict exists for ${digest} (${evidence.source}${evidence.missing ? `: ${evidence.missing}` : ''}): ` +
        `it never passed the gate. Run acr-guard gate on it first`,
    );
  if (verdict.decision !== 'release')
    return refuse('blocked', `the gate blocked ${digest}: ${verdict.summary}`, verdict);
  if (verdict.policy?.hash !== policy.hash)
    return refuse(
      'stale',
      `the release of ${digest} (${verdict.decidedAt}) was decided under policy ${String(verdict.policy?.hash).slice(0, 12)}, ` +
        `not the current ${policy.hash.slice(0, 12)}: gate it again under this policy`,
      verdict,
    );
  const regateAfterMs = runtimePolicyOf(policy).regateAfterMs;
  const age = nowMs - Date.parse(verdict.decidedAt);
  if (!(age <= regateAfterMs))
    return refuse(
      'stale',
      `the release of ${digest} was decided ${verdict.decidedAt}, longer ago than runtime.regateAfter ` +
        `(${formatDuration(regateAfterMs)}): gate it again`,
      verdict,
    );
  if (input.signatures.required && input.signatures.result.status !== 'verified')
    return refuse(
      'signatures',
      `the policy requires signatures and they are ${input.signatures.result.status} now: ${input.signatures.result.reason}`,
      verdict,
    );
  const target = deployedRepository(policy, image);
  const pinned = `${requested.registry}/${target.repository}@${digest}`;
  return {
    decision: 'deploy',
    image: pinned,
    digest,
    verdict: summaryOf(verdict, evidence.source),
    reason:
      `released ${verdict.decidedAt} under the current policy (${verdict.rule})` +
      (input.signatures.required ? '; signatures verified now' : '') +
      (target.promoted ? `; deployed from the release repository ${target.repository}` : '') +
      (evidence.notChecked ? `; not checked: ${evidence.notChecked}` : ''),
    ...(target.promoted ? { releaseRepository: target.repository } : {}),
  };
}
