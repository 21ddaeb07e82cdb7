/**
 * cosign key-based signature verification over bytes. A cosign signature is a layer of the
 * `sha256-<hex>.sig` manifest: the layer blob is the "simple signing" payload, the annotation
 * `dev.cosignproject.cosign/signature` its base64 signature. The signature must verify with a public key
 * from the policy's `cosign:<name>` stores and the payload must name the gated digest. Keyless signatures
 * (Fulcio certificate / Rekor bundle) are not verified here and answer inconclusive, never verified.
 */
import { verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { CheckTable, bad, good, unsure, type Finding, type SignatureVerification } from './checks';
import type { TrustPolicy, TrustStore } from './trustPolicy';

/** cosign's media type and annotations. */
export const CosignNames = {
  simpleSigning: 'application/vnd.dev.cosign.simplesigning.v1+json',
  signature: 'dev.cosignproject.cosign/signature',
  certificate: 'dev.sigstore.cosign/certificate',
  bundle: 'dev.sigstore.cosign/bundle',
  artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json',
  /** Sigstore bundles attached as referrers: `application/vnd.dev.sigstore.bundle.v0.3+json` and later. */
  bundleArtifactPrefix: 'application/vnd.dev.sigstore.bundle',
} as const;

/** cosign's signature tag for a digest: `sha256-<hex>.sig`. */
export function cosignSignatureTag(digest: string): string {
  return `${digest.replace(':', '-')}.sig`;
}

/** Input of {@link verifyCosignSignature}: one layer of a cosign signature manifest. */
export interface CosignVerifyInput {
  /** `<signature manifest digest>#<layer index>` for the result. */
  signatureDigest: string;
  payload: Buffer;
  annotations: Record<string, string>;
  /** The gated digest. */
  digest: string;
  policy: TrustPolicy;
  store: TrustStore;
}

function verifyWithKey(key: KeyObject, payload: Buffer, signature: Buffer): boolean {
  try {
    const type = key.asymmetricKeyType;
    if (type === 'ed25519') return cryptoVerify(null, payload, key, signature);
    const hash =
      type === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'secp384r1'
        ? 'sha384'
        : type === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'secp521r1'
          ? 'sha512'
          : 'sha256';
    return cryptoVerify(hash, payload, key, signature);
  } catch {
    return false;
  }
}

/** Verifies one cosign signature layer; never throws for bad input. */
export function verifyCosignSignature(input: CosignVerifyInput): SignatureVerification {
  const { policy } = input;
  if (policy.level === 'skip')
    return {
      digest: input.signatureDigest,
      kind: 'cosign',
      outcome: 'skipped',
      reason: `trust policy ${policy.name} is configured to skip verification`,
      checks: [],
    };
  const table = new CheckTable(policy.actions, policy.level);
  const sigText = input.annotations[CosignNames.signature] ?? '';
  const signature = /^[A-Za-z0-9+/]+={0,2}$/.test(sigText) ? Buffer.from(sigText, 'base64') : Buffer.alloc(0);
  const stores = policy.trustStores.filter((s) => s.type === 'cosign');
  const keys = stores.flatMap((s) =>
    (input.store.cosignKeys.get(`cosign:${s.name}`) ?? []).map((key) => ({ key, store: `cosign:${s.name}` })),
  );
  const keyless =
    input.annotations[CosignNames.certificate] !== undefined || input.annotations[CosignNames.bundle] !== undefined;
  const match = signature.length > 0 ? keys.find((k) => verifyWithKey(k.key, input.payload, signature)) : undefined;
  let ok: boolean;
  if (signature.length === 0)
    ok = table.record('envelope', 'integrity', bad(`layer has no base64 ${CosignNames.signature} annotation`));
  else if (match)
    ok = table.record(
      'envelope',
      'integrity',
      good(`cosign signature verifies with a key from ${match.store}`, { trustStore: match.store }),
    );
  else if (keyless)
    ok = table.record(
      'envelope',
      'integrity',
      unsure('keyless cosign signature (Fulcio certificate / Rekor bundle) is not verified by acr-guard yet'),
    );
  else if (keys.length === 0)
    ok = table.record(
      'envelope',
      'integrity',
      bad(`trust policy ${policy.name} names no cosign:<store> with public keys, so no cosign key is trusted`),
    );
  else
    ok = table.record(
      'envelope',
      'integrity',
      bad(
        `the cosign signature does not verify with any key of ${stores.map((s) => `cosign:${s.name}`).join(', ')} (tampered or signed by an untrusted key)`,
      ),
    );
  if (!ok) {
    table.notEvaluated(['target'], 'integrity failed');
    return table.outcome(input.signatureDigest, 'cosign');
  }
  table.record('target', 'integrity', cosignTarget(input.payload, input.digest));
  return table.outcome(input.signatureDigest, 'cosign');
}

function cosignTarget(payload: Buffer, digest: string): Finding {
  let doc: unknown;
  try {
    doc = JSON.parse(payload.toString('utf8'));
  } catch {
    return bad('the simple-signing payload is not JSON');
  }
  const critical = (doc as { critical?: { image?: Record<string, unknown>; type?: unknown } } | null)?.critical;
  const signed = critical?.image?.['docker-manifest-digest'];
  if (typeof critical?.type !== 'string' || critical.type.toLowerCase() !== 'cosign container image signature')
    return bad('the payload is not a cosign container image signature');
  if (signed !== digest)
    return bad(`the signature is for another artifact: digest ${JSON.stringify(signed)} (gated ${digest})`);
  return good(`payload names ${digest}`);
}
