/**
 * `deploy` use case: from an image reference to a decision (resolve the reference to a digest now, read the
 * release evidence, verify signatures now when the rule requires them, decide in `core/deploy.ts`, confirm the
 * release repository holds the digest in promote mode), then — only for `deploy` — the one ARM update of the
 * named container, waited on until it runs or fails.
 *
 * Nothing is written anywhere before the decision is `deploy`; a refusal changes nothing.
 */
import { decideDeploy, type DeployDecision, type RefusalKind, type ReleaseEvidence } from '../core/deploy';
import { ErrorCodes, isGuardError } from '../core/errors';
import { findGateRule } from '../core/policy';
import type { Policy } from '../core/policyTypes';
import type { ImageId, ImageReference, SignatureResult } from '../core/types';
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
