/**
 * The gate's signature verifier: discovers the signatures of a digest in the registry (Notary Project
 * signatures through the referrers API or its tag-schema fallback; cosign's `sha256-<hex>.sig` tag), fetches
 * their manifests and envelopes, and verifies them in-process with `core/signatures` against a trust policy
 * and a trust store loaded once (warm). Registry failures propagate (TRANSIENT retries; others become an
 * inconclusive result in the activity) — never a pass.
 */
import { ErrorCodes, isGuardError } from '../core/errors';
import {
  CosignNames,
  MAX_ENVELOPE_BYTES,
  NotationMediaTypes,
  cosignSignatureTag,
  selectTrustPolicy,
  summarize,
  verifyCosignSignature,
  verifyNotationSignature,
  type SignatureVerification,
  type TrustPolicy,
  type TrustPolicyDocument,
  type TrustStore,
} from '../core/signatures';
import type { ImageId, ResolvedManifest, SignatureResult } from '../core/types';
import type { RegistryClient, RegistryClientFactory } from './ports';

/** Trust material: a validated trust policy document and the parsed trust store. */
export interface SignatureTrust {
  trustPolicy: TrustPolicyDocument;
  trustStore: TrustStore;
}

/** Options for {@link createSignatureVerifier}. */
export interface SignatureVerifierOptions {
  registry: RegistryClientFactory;
  /**
   * The trust material, or a loader run once on first use (loading reads files; a failure is retried on the
   * next call and answers inconclusive meanwhile). Absent: every result is inconclusive with a reason saying
   * what to configure (fail closed).
   */
  trust?: SignatureTrust | (() => Promise<SignatureTrust>);
  /** Verification time; defaults to the wall clock. */
  now?: () => Date;
  /** Cap on signatures verified per image (bounds work on an image with many referrers). Default 16. */
  maxSignatures?: number;
}

/** Input of a verification: the gated image, its manifest, and the trust policy the gate rule names. */
export interface VerifyRequest {
  image: ImageId;
  manifest: ResolvedManifest;
  trustPolicy?: string;
}

/** Default cap on signatures verified per image. */
export const MAX_SIGNATURES_PER_IMAGE = 16;

/** Reason given when no trust policy/store is configured. */
export const NO_TRUST_CONFIGURED =
  'no trust policy is configured (app settings ACR_GUARD_TRUST_POLICY_FILE and ACR_GUARD_TRUST_STORE_DIR, or --trust-policy/--trust-store); signatures were not verified';

/** Builds the `verifySignatures` service the gate activity calls. */
export function createSignatureVerifier(
  options: SignatureVerifierOptions,
): (input: VerifyRequest) => Promise<SignatureResult> {
  const now = options.now ?? (() => new Date());
  const max = options.maxSignatures ?? MAX_SIGNATURES_PER_IMAGE;
  const source = options.trust;
  let loading: Promise<SignatureTrust> | undefined;
  const trustNow = async (): Promise<SignatureTrust | undefined> => {
    if (typeof source !== 'function') return source;
    loading ??= source().catch((err: unknown) => {
      loading = undefined;
      throw err;
    });
    return loading;
  };
  return async (input) => {
    const trust = await trustNow();
    if (!trust) return { status: 'inconclusive', reason: NO_TRUST_CONFIGURED, signatures: [] };
    const scope = `${input.image.registry}/${input.image.repository}`;
    const policy = selectTrustPolicy(trust.trustPolicy, scope, input.trustPolicy);
    if (!policy) {
      const why = input.trustPolicy
        ? `the gate names trust policy "${input.trustPolicy}", which the trust policy file does not define`
        : `no trust policy's registryScopes covers ${scope} (and there is no "*" policy)`;
      return { status: 'inconclusive', reason: `${why}; signatures were not verified`, signatures: [] };
    }
    const client = options.registry(input.image.registry);
    const verifications = await verifyAll({
      client,
      image: input.image,
      manifest: input.manifest,
      policy,
      store: trust.trustStore,
      now: now(),
      max,
    });
    return summarize(policy, verifications);
  };
}

interface VerifyAllInput {
  client: RegistryClient;
  image: ImageId;
  manifest: ResolvedManifest;
  policy: TrustPolicy;
  store: TrustStore;
  now: Date;
  max: number;
}

async function verifyAll(input: VerifyAllInput): Promise<SignatureVerification[]> {
  const { client, image } = input;
  const out: SignatureVerification[] = [];
  // Both discoveries at once: one round trip of latency instead of two.
  const [referrers, cosign] = await Promise.all([
    client.listReferrers(image.repository, image.digest),
    cosignManifest(client, image),
  ]);
  const notation = referrers.filter((r) => r.artifactType === NotationMediaTypes.signature).slice(0, input.max);
  out.push(...(await Promise.all(notation.map((ref) => verifyNotationReferrer(input, ref.digest)))));
  // Sigstore bundles (cosign v3, keyless, attestations) as referrers: seen, not verified here — inconclusive.
  for (const ref of referrers
    .filter((r) => r.artifactType?.startsWith(CosignNames.bundleArtifactPrefix))
    .slice(0, Math.max(0, input.max - out.length))) {
    out.push({
      digest: ref.digest,
      kind: 'cosign',
      outcome: input.policy.level === 'skip' ? 'skipped' : 'inconclusive',
      reason: `envelope: sigstore bundle (${ref.artifactType}) is not verified by acr-guard yet`,
      checks: [
        {
          name: 'envelope',
          status: input.policy.level === 'skip' ? 'skip' : 'inconclusive',
          reason: `sigstore bundle (${ref.artifactType}) is not verified by acr-guard yet (key-based cosign signatures under the sha256-<hex>.sig tag are)`,
          details: { validation: 'integrity' },
        },
      ],
    });
  }
  if (cosign) {
    const layers = cosign.blobs
      .filter((b) => b.mediaType === CosignNames.simpleSigning)
      .slice(0, Math.max(0, input.max - out.length));
    for (const [i, layer] of layers.entries()) {
      const signatureDigest = `${cosign.digest}#${i}`;
      out.push(
        await asCandidate(input, signatureDigest, 'cosign', async () => {
          const payload = await client.getBlob(image.repository, layer.digest, MAX_ENVELOPE_BYTES);
          return verifyCosignSignature({
            signatureDigest,
            payload,
            annotations: layer.annotations ?? {},
            digest: image.digest,
            policy: input.policy,
            store: input.store,
          });
        }),
      );
    }
  }
  return out;
}

/** A signature candidate that could not be checked: failed (never verified), with the reason, so other candidates still count. */
function unusable(
  input: Pick<VerifyAllInput, 'policy'>,
  digest: string,
  kind: SignatureVerification['kind'],
  reason: string,
): SignatureVerification {
  const skip = input.policy.level === 'skip';
  return {
    digest,
    kind,
    outcome: skip ? 'skipped' : 'failed',
    reason: `envelope: ${reason}`,
    checks: [{ name: 'envelope', status: skip ? 'skip' : 'fail', reason, details: { validation: 'integrity' } }],
  };
}

/**
 * Verifies one candidate; a permanent error reading or parsing it (oversize manifest or envelope, malformed
 * JSON, a digest mismatch, a missing blob, a parser error on hostile bytes) makes that candidate a failed one with the reason. Anyone who can push to
 * the repository can attach a referrer claiming to be a signature: it must not turn the verification of an
 * image that has a valid signature into an error. Transient errors still propagate (the activity retries).
 */
async function asCandidate(
  input: Pick<VerifyAllInput, 'policy'>,
  digest: string,
  kind: SignatureVerification['kind'],
  verify: () => Promise<SignatureVerification>,
): Promise<SignatureVerification> {
  try {
    return await verify();
  } catch (err) {
    if (isGuardError(err, ErrorCodes.TRANSIENT)) throw err;
    if (isGuardError(err)) return unusable(input, digest, kind, `unreadable signature (${err.code}): ${err.message}`);
    // A parser tripping over hostile bytes is this candidate's failure too (never a pass), not the image's error.
    return unusable(
      input,
      digest,
      kind,
      `unreadable signature (${err instanceof Error ? err.name : 'error'}): ${err instanceof Error ? err.message.slice(0, 200) : String(err).slice(0, 200)}`,
    );
  }
}

async function verifyNotationReferrer(input: VerifyAllInput, digest: string): Promise<SignatureVerification> {
  return asCandidate(input, digest, 'notation', () => verifyNotationCandidate(input, digest));
}

async function verifyNotationCandidate(input: VerifyAllInput, digest: string): Promise<SignatureVerification> {
  const { client, image } = input;
  const sig = await client.getManifest(image.repository, digest);
  const malformed = (reason: string): SignatureVerification => unusable(input, digest, 'notation', reason);
  if (sig.subject?.digest !== image.digest)
    return malformed(`signature manifest's subject is ${sig.subject?.digest ?? 'missing'}, not ${image.digest}`);
  // The signature's blob: OCI 1.1 image manifest layers (config is the empty/notary config, not a blob to verify).
  const layers = sig.blobs.filter((b) => b.digest !== (sig.json.config as { digest?: string } | undefined)?.digest);
  if (layers.length !== 1)
    return malformed(`signature manifest has ${layers.length} layers, expected exactly one signature envelope`);
  const envelope = await client.getBlob(image.repository, layers[0].digest, MAX_ENVELOPE_BYTES);
  return verifyNotationSignature({
    signatureDigest: digest,
    envelope,
    envelopeMediaType: layers[0].mediaType,
    target: { mediaType: input.manifest.mediaType, digest: image.digest, size: input.manifest.size },
    policy: input.policy,
    store: input.store,
    now: input.now,
  });
}

async function cosignManifest(client: RegistryClient, image: ImageId): Promise<ResolvedManifest | undefined> {
  try {
    return await client.getManifest(image.repository, cosignSignatureTag(image.digest));
  } catch (err) {
    if (isGuardError(err, ErrorCodes.NOT_FOUND)) return undefined;
    throw err;
  }
}
