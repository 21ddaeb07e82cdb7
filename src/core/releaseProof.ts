/**
 * What a release carries (its "proof"): the referrers copied with it into the release repository (signatures,
 * reports, SBOMs, attestations and their own referrers) and the signed verdict (VSA). Pure data and rules: the
 * bounds of the copy, the cosign tag forms, and how a proof shows in a verdict.
 */
import type { ErrorCode } from './errors';
import type { Check, Verdict } from './types';

/** The bounds of a referrers-graph copy; a graph beyond them is not copied in part silently: it is a failure. */
export const PROOF_BOUNDS = {
  /**
   * Levels of referrers followed below the released digest (1: its signatures and reports; 2: their signatures,
   * e.g. a signed SBOM; …). Deeper referrers are not copied and the proof says so (PROOF_TOO_DEEP).
   */
  maxDepth: 4,
  /** Referrers copied per release in all (every level, every platform child); beyond: PROOF_TOO_MANY_REFERRERS. */
  maxReferrers: 256,
  /** Referrers copied at once. */
  concurrency: 4,
} as const;

/** cosign's tag-form suffixes, beside `sha256-<hex>` in the image's repository. */
export const COSIGN_TAG_SUFFIXES = ['.sig', '.att', '.sbom'] as const;

/** The cosign tags that may hold a digest's signatures, attestations and SBOM (`sha256-<hex>.sig`, …). */
export function cosignTagsFor(digest: string): string[] {
  const base = digest.replace(':', '-');
  return COSIGN_TAG_SUFFIXES.map((s) => `${base}${s}`);
}

/** What kind of proof an item is, by its artifact type and form (for people: the page and the API). */
export type ProofKind = 'signature' | 'sbom' | 'report' | 'attestation' | 'vsa' | 'other';

/** One artifact a release carries. */
export interface ProofItem {
  kind: ProofKind;
  digest: string;
  /** The digest it refers to (the released digest, a platform child, or another referrer). */
  subject: string;
  artifactType?: string;
  /** The cosign tag it was found (and copied) under, for the tag form. */
  tag?: string;
}

/** One referrer (or listing) that could not be copied. */
export interface ProofFailure {
  /** The referrer's digest, or the subject whose referrers could not be listed. */
  digest: string;
  code: ErrorCode;
  detail: string;
}

/** What applying a release did about its proof. */
export interface ReleaseProof {
  /** Referrers copied (0 in quarantine mode: the image and its referrers stay where they are). */
  copied: number;
  failed: ProofFailure[];
  /** What the release carries, each with its digest. */
  items: ProofItem[];
  /** The signed verdict: attached (with the digest of the manifest holding it) or why not. */
  vsa?:
    | { attached: true; digest: string; tag: string; result: 'PASSED' | 'FAILED' }
    | { attached: false; reason: string };
}

/** Classifies a referrer by its artifact type (or cosign tag suffix). */
export function proofKind(artifactType: string | undefined, tag?: string): ProofKind {
  if (tag?.endsWith('.sig')) return 'signature';
  if (tag?.endsWith('.sbom')) return 'sbom';
  if (tag?.endsWith('.att')) return 'attestation';
  const t = (artifactType ?? '').toLowerCase();
  if (t === 'application/vnd.cncf.notary.signature' || t.includes('sigstore.bundle') || t.includes('signature'))
    return 'signature';
  if (t.includes('spdx') || t.includes('sbom') || t.includes('syft')) return 'sbom';
  if (t.includes('sarif') || t.includes('vulnerab') || t.includes('vex') || t.includes('cyclonedx')) return 'report';
  if (t.includes('in-toto') || t.includes('dsse') || t.includes('attestation')) return 'attestation';
  return 'other';
}

/** The `proof` check of a release: `pass` when everything was copied (and the VSA attached when asked), else `inconclusive`. */
export function proofCheck(proof: ReleaseProof): Check {
  const problems = [
    ...proof.failed.map((f) => `${f.digest}: ${f.code}: ${f.detail}`),
    ...(proof.vsa && !proof.vsa.attached ? [`verification summary not attached: ${proof.vsa.reason}`] : []),
  ];
  if (problems.length === 0)
    return {
      name: 'proof',
      status: 'pass',
      reason: `release carries ${proof.items.length} artifact(s) (${proof.copied} copied)${proof.vsa?.attached ? ' and a signed verification summary' : ''}`,
    };
  const shown = problems.slice(0, 5).join('; ');
  return {
    name: 'proof',
    status: 'inconclusive',
    reason: `the release does NOT carry all of its proof (${proof.copied} copied, ${proof.failed.length} failed): ${shown}${problems.length > 5 ? `; and ${problems.length - 5} more` : ''}`,
    details: { copied: proof.copied, failed: proof.failed.slice(0, 20) },
  };
}

/**
 * The verdict as recorded, with what its release carries: the proof and its check. The decision stands (the
 * image is already applied); a proof that failed is said in the check and the summary, never silently.
 */
export function withProof(verdict: Verdict, proof: ReleaseProof | undefined): Verdict {
  if (!proof) return verdict;
  const check = proofCheck(proof);
  return {
    ...verdict,
    checks: [...verdict.checks.filter((c) => c.name !== 'proof'), check],
    proof,
    ...(check.status === 'pass' ? {} : { summary: `${verdict.summary}; proof incomplete` }),
  };
}
