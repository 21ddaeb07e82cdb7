/**
 * Signature verification over bytes (Notary Project JWS, cosign key-based), trust policy and trust store.
 * {@link summarize} is the one place that turns per-signature outcomes into the gate's SignatureResult.
 */
import type { SignatureResult } from '../types';
import type { SignatureVerification } from './checks';
import type { TrustPolicy } from './trustPolicy';

export * from './checks';
export * from './trustPolicy';
export * from './notation';
export * from './cosign';
export { parseCertificate, CertificateParseError, chainProblems, parseDistinguishedName } from './x509';

/**
 * True when a trust policy entry can satisfy `signatures.required`: level `strict` or `permissive` (both
 * enforce integrity and authenticity; permissive only logs expiry and revocation) with authenticity still
 * enforced after overrides. `audit` (authenticity logged: anyone's key passes) and `skip` never do.
 */
export function enforcesAuthenticity(policy: Pick<TrustPolicy, 'level' | 'actions'>): boolean {
  return (policy.level === 'strict' || policy.level === 'permissive') && policy.actions.authenticity === 'enforce';
}

/**
 * The image's result: verified when at least one signature satisfies the trust policy; otherwise
 * inconclusive when some signature could not be checked (keyless cosign, COSE, timestamp), failed when all
 * were refused or none was found, skipped when the policy's level is skip (the gate treats that as not
 * verified when signatures are required). `enforcement` names the entry and whether it enforced
 * authenticity: a `verified` under `audit` only means the bytes were intact, not who signed them.
 */
export function summarize(policy: TrustPolicy, verifications: SignatureVerification[]): SignatureResult {
  const signatures = verifications.map((v) => ({
    digest: v.digest,
    kind: v.kind,
    outcome: v.outcome,
    reason: v.reason,
    checks: v.checks,
  }));
  const enforcement = { trustPolicy: policy.name, level: policy.level, authenticity: policy.actions.authenticity };
  const under = `trust policy ${policy.name} (${policy.level})`;
  if (policy.level === 'skip')
    return {
      status: 'skipped',
      reason: `${under} is configured to skip signature verification`,
      signatures,
      enforcement,
    };
  const ok = verifications.find((v) => v.outcome === 'verified');
  if (ok)
    return {
      status: 'verified',
      reason: enforcesAuthenticity(policy)
        ? `${ok.kind} signature ${ok.digest} satisfies ${under}; ${describeChecks(ok)}`
        : `audit only: ${ok.kind} signature ${ok.digest} is intact, but ${under} logs authenticity instead of enforcing it (a signature from any key passes); ${describeChecks(ok)}`,
      signatures,
      enforcement,
    };
  if (verifications.length === 0)
    return {
      status: 'failed',
      reason: `no signature is associated with the image (${under})`,
      signatures,
      enforcement,
    };
  const unsure = verifications.find((v) => v.outcome === 'inconclusive');
  const count = `${verifications.length} signature(s) found, none verified under ${under}`;
  if (unsure)
    return {
      status: 'inconclusive',
      reason: `${count}: ${unsure.kind} ${unsure.digest}: ${unsure.reason}`,
      signatures,
      enforcement,
    };
  return {
    status: 'failed',
    reason: `${count}: ${verifications.map((v) => `${v.kind} ${v.digest}: ${v.reason}`).join('; ')}`,
    signatures,
    enforcement,
  };
}

function describeChecks(v: SignatureVerification): string {
  const logged = v.checks.filter((c) => c.status === 'skip' && c.details?.outcome !== undefined);
  const revocation = v.checks.find((c) => c.name === 'revocation');
  const parts = logged.map((c) => `${c.name} logged: ${c.reason}`);
  if (revocation) parts.push('revocation not performed');
  return parts.length > 0 ? parts.join('; ') : 'all checks passed';
}
export { parseCoseEnvelope } from './cose';
export { verifyTimestampToken, TimestampError, type VerifiedTimestamp } from './timestamp';
