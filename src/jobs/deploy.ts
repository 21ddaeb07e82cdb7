/**
 * `deploy` use case: from an image reference to a decision (resolve the reference to a digest now, read the
 * release evidence, verify signatures now when the rule requires them, decide in `core/deploy.ts`, confirm the
 * release repository holds the digest in promote mode), then — only for `deploy` — the one ARM update of the
 * named container, waited on until it runs or fails.
 *
 * Nothing is written anywhere before the decision is `deploy`; a refusal changes nothing.
 */
import {
  decideDeploy,
  deployedRepository,
  type DeployDecision,
  type RefusalKind,
  type ReleaseEvidence,
} from '../core/deploy';
import { ErrorCodes, isGuardError } from '../core/errors';
import { findGateRule } from '../core/policyLookup';
import type { Policy } from '../core/policyTypes';
import type { ImageId, ImageReference, SignatureResult, Verdict } from '../core/types';
import { VSA_CHECKS_FIELD, checkVsa, newestVsa, openVsa, policyHashHex, type VsaStatement } from '../core/vsa';
import { fetchAttestationEnvelopes } from '../adapters/vsaSource';
import type { FetchedManifest, AuditStore, RegistryClientFactory, ReleaseEvidenceSource } from '../adapters/ports';
import type { WorkloadDeployer, WorkloadRollout, WorkloadTarget } from '../adapters/workloadDeployer';

/** How many of a repository's latest verdicts are searched for the tag's own verdict. */
export const TAG_VERDICT_SCAN = 200;

/** Release evidence from the audit store: the digest's latest verdict, and the tag's latest among the repository's. */
export function auditStoreEvidence(audit: Pick<AuditStore, 'latestVerdict' | 'listVerdicts'>): ReleaseEvidenceSource {
  return {
    name: 'audit-store',
    async evidenceFor(image: ImageId, tag?: string): Promise<ReleaseEvidence> {
      const verdict = await audit.latestVerdict(image);
      let tagVerdict;
      if (tag !== undefined)
        tagVerdict = (await audit.listVerdicts(image.registry, image.repository, TAG_VERDICT_SCAN)).find(
          (v) => v.tag === tag,
        );
      return {
        source: 'audit-store',
        ...(verdict ? { verdict } : {}),
        ...(tagVerdict ? { tagVerdict } : {}),
      };
    },
  };
}

/** Options of {@link vsaEvidence}. */
export interface VsaEvidenceOptions {
  registry: RegistryClientFactory;
  /** acr-guard's attestation public key (PEM). */
  publicKey: string;
  /** The current policy: where the image is deployed from (promote mode) and the policy hash a VSA must carry. */
  policy: Policy;
}

/** A VSA signed by the key and naming the digest, where it was found. */
interface SignedVsa {
  statement: VsaStatement;
  envelope: Buffer;
  repository: string;
}

/** A bounded string field of a signed statement, or undefined. */
function text(value: unknown, max: number): string | undefined {
  return typeof value === 'string' ? value.slice(0, max) : undefined;
}

/** The verdict a signed VSA stands for: `release` only for `PASSED`; its policy hash and time as the verdict's. */
function verdictOfVsa(image: ImageId, v: SignedVsa, policy: Policy, accepted: boolean): Verdict {
  const p = v.statement.predicate;
  const extension = (p[VSA_CHECKS_FIELD] ?? {}) as Partial<VsaStatement['predicate'][typeof VSA_CHECKS_FIELD]>;
  const hex = text(p.policy?.digest?.sha256, 128) ?? '';
  // The policy hash in the current policy's own form, so decideDeploy's comparison is a string comparison.
  const hash =
    hex === policyHashHex(policy.hash) ? policy.hash : policy.hash.startsWith('sha256:') ? `sha256:${hex}` : hex;
  const passed = p.verificationResult === 'PASSED';
  return {
    image,
    decision: passed ? 'release' : 'block',
    summary:
      text(extension.summary, 500) ??
      `VSA verificationResult ${text(String(p.verificationResult), 40)}${accepted ? '' : ' (not accepted)'}`,
    checks: [],
    findingCounts: {},
    rule: `${text(extension.rule, 200) ?? '(rule not named)'} (VSA on ${v.repository})`,
    policy: { version: policy.version, hash },
    decidedAt: text(p.timeVerified, 64) ?? '',
  };
}

/**
 * Release evidence from acr-guard's signed verdict (SLSA VSA) attached in the registry, for a pipeline that cannot
 * read the verdict store: no store, pull access only. The VSA is read where acr-guard attaches it after a release
 * (the release repository in promote mode, else the repository itself); only envelopes signed by `publicKey`
 * whose subject names the digest count, and the newest of them (by `timeVerified`) is the verdict. In promote
 * mode a FAILED VSA on the pushed repository counts too (a block after the release is newer than the PASSED one
 * in the release repository); a PASSED one there does not (a release is deployed from the release repository).
 * The chosen VSA must pass {@link checkVsa} (PASSED, the current policy hash) to stand as a `release`; otherwise
 * it is the `block` or the release under another policy it says, and decideDeploy refuses it. Its `timeVerified`
 * is the verdict's time: older than `runtime.regateAfter` is stale, as with the store.
 *
 * Not checked from a VSA alone: whether a tag moved after its gate (a VSA names the digest, not the tag), and
 * whether a newer verdict exists that is not attached (whoever can push to the repository can remove a FAILED
 * VSA, though never forge one: a replayed PASSED one is refused once older than `runtime.regateAfter`).
 */
export function vsaEvidence(options: VsaEvidenceOptions): ReleaseEvidenceSource {
  const { policy, publicKey } = options;
  return {
    name: 'vsa',
    async evidenceFor(image: ImageId, tag?: string): Promise<ReleaseEvidence> {
      const client = options.registry(image.registry);
      const target = deployedRepository(policy, image);
      const signed: SignedVsa[] = [];
      const reasons: string[] = [];
      let attached = 0;
      const read = async (repository: string, failedOnly: boolean) => {
        const envelopes = await fetchAttestationEnvelopes(client, repository, image.digest);
        attached += envelopes.length;
        for (const envelope of envelopes) {
          const opened = openVsa(envelope, { digest: image.digest, publicKey });
          if (!opened.ok) reasons.push(`${repository}: ${opened.reason}`);
          else if (!failedOnly || opened.statement.predicate.verificationResult !== 'PASSED')
            signed.push({ statement: opened.statement, envelope, repository });
        }
      };
      await read(target.repository, false);
      if (target.promoted) await read(image.repository, true);
      const notChecked =
        tag !== undefined
          ? `whether tag ${tag} moved after its gate (a VSA names the digest, not the tag: deploy by digest to avoid the question)`
          : undefined;
      const base = { source: 'vsa', ...(notChecked ? { notChecked } : {}) };
      if (signed.length === 0) {
        const where = `${image.registry}/${target.repository}@${image.digest}`;
        return {
          ...base,
          missing:
            attached === 0
              ? `no attestation is attached to ${where}`
              : `no attestation of ${where} is a VSA signed by the key for this digest: ${reasons.slice(0, 5).join('; ')}`,
        };
      }
      // The newest wins; on a tie, a FAILED one (fail closed).
      const newest = newestVsa(signed) as SignedVsa;
      const checked = checkVsa(newest.envelope, { digest: image.digest, publicKey, policyHash: policy.hash });
      const verdict = verdictOfVsa(image, newest, policy, checked.ok);
      // Belt and braces: only a VSA checkVsa accepts may stand as a release under the current policy.
      if (!checked.ok && verdict.decision === 'release' && verdict.policy.hash === policy.hash)
        return { ...base, verdict: { ...verdict, decision: 'block', summary: checked.reason } };
      return { ...base, verdict };
    },
  };
}

/** Input of {@link decideDeployment}. */
export interface DecideDeploymentInput {
  ref: ImageReference;
  policy: Policy;
  registry: RegistryClientFactory;
  evidence: ReleaseEvidenceSource;
  /** The gate's verifier (`createSignatureVerifier`); used only when the rule requires signatures. */
  verify: (input: { image: ImageId; manifest: FetchedManifest; trustPolicy?: string }) => Promise<SignatureResult>;
  nowMs: number;
}

/** A decision with its refusal kind. */
export type Deployment = DeployDecision & { refusal?: RefusalKind };

/**
 * Decides a deploy. The registry is contacted only for an allowlisted registry (the decision refuses the rest
 * without a request).
 */
export async function decideDeployment(input: DecideDeploymentInput): Promise<Deployment> {
  const { ref, policy } = input;
  const notAllowed = decideDeploy({
    requested: ref,
    digest: ref.digest ?? '',
    evidence: { source: input.evidence.name },
    policy,
    nowMs: input.nowMs,
    signatures: { required: false },
  });
  if (notAllowed.refusal === 'not-allowlisted') return { ...notAllowed, image: `${ref.registry}/${ref.repository}` };
  const client = input.registry(ref.registry);
  // Act on digests, never tags: the tag is resolved once, here, and everything after works on the digest.
  const manifest = await client.getManifest(ref.repository, ref.digest ?? (ref.tag as string));
  const digest = manifest.digest;
  const image: ImageId = { registry: ref.registry, repository: ref.repository, digest };
  const evidence = await input.evidence.evidenceFor(image, ref.digest ? undefined : ref.tag);
  const rule = findGateRule(policy, ref.repository);
  const signatures =
    rule?.signatures.required === true
      ? {
          required: true as const,
          result: await input.verify({
            image,
            manifest,
            ...(rule.signatures.trustPolicy ? { trustPolicy: rule.signatures.trustPolicy } : {}),
          }),
        }
      : { required: false as const };
  const decision = decideDeploy({ requested: ref, digest, evidence, policy, nowMs: input.nowMs, signatures });
  if (decision.decision !== 'deploy' || !decision.releaseRepository) return decision;
  // Promote mode: the release repository must hold the digest (an apply that failed never copied it).
  try {
    await client.getManifest(decision.releaseRepository, digest);
  } catch (err) {
    if (!isGuardError(err, ErrorCodes.NOT_FOUND)) throw err;
    return {
      ...decision,
      decision: 'refuse',
      refusal: 'not-promoted',
      reason: `released, but ${decision.releaseRepository} does not hold ${digest}: the promotion did not happen. Gate it again`,
    };
  }
  return decision;
}

/** The container to update: `--container`, or the only one. Throws a usage-shaped error naming the choices. */
export function pickContainer(names: readonly string[], wanted: string | undefined): string {
  const list = names.map((n) => JSON.stringify(n)).join(', ');
  if (wanted !== undefined) {
    if (names.includes(wanted)) return wanted;
    throw new DeployUsageError(
      `--container: the target has no container named ${JSON.stringify(wanted)}; its containers: ${list}`,
    );
  }
  if (names.length === 1) return names[0];
  if (names.length === 0) throw new DeployUsageError('the target has no containers to deploy to');
  throw new DeployUsageError(`the target has ${names.length} containers (${list}): name one with --container <name>`);
}

/** A caller's mistake found while reading the target (the CLI exits 2). */
export class DeployUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeployUsageError';
  }
}

/** What carrying out a deploy did. */
export interface DeployOutcome {
  container: string;
  previousImage: string;
  rollout: WorkloadRollout;
}

/** Updates the target's container to the decided image and waits (see `ArmWorkloadDeployer.update`). */
export async function carryOutDeployment(options: {
  deployer: WorkloadDeployer;
  target: WorkloadTarget;
  container?: string;
  image: string;
  timeoutMs: number;
  onProgress?: (line: string) => void;
}): Promise<DeployOutcome> {
  const described = await options.deployer.describe(options.target);
  const container = pickContainer(
    described.containers.map((c) => c.name),
    options.container,
  );
  const previousImage = described.containers.find((c) => c.name === container)?.image ?? '';
  const rollout = await options.deployer.update(options.target, container, options.image, {
    timeoutMs: options.timeoutMs,
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  return { container, previousImage, rollout };
}
