/**
 * Reads acr-guard's signed verdict (VSA) of a digest back from a registry, where `cosign attest` (and acr-guard)
 * store attestations: the DSSE envelope layers of the manifest tagged `sha256-<hex>.att`. What a consumer
 * requires of it is the pure {@link checkVsa}; this adapter only fetches, within bounds.
 */
import { ErrorCodes, isGuardError } from '../core/errors';
import {
  DSSE_MEDIA_TYPE,
  MAX_VSA_ENVELOPE_BYTES,
  checkVsa,
  cosignAttestationTag,
  newestVsa,
  openVsa,
  type VsaCheck,
  type VsaRequirement,
  type VsaStatement,
} from '../core/vsa';
import type { RegistryClient } from './ports';

/** Attestation layers read per digest at most (an `.att` manifest is written by whoever can push). */
export const MAX_VSA_LAYERS = 16;

/** The DSSE envelopes attached to `repository@digest` in cosign's tag form (at most {@link MAX_VSA_LAYERS}). */
export async function fetchAttestationEnvelopes(
  client: RegistryClient,
  repository: string,
  digest: string,
): Promise<Buffer[]> {
  let layers;
  try {
    layers = (await client.getManifest(repository, cosignAttestationTag(digest))).blobs.slice(1);
  } catch (err) {
    if (isGuardError(err, ErrorCodes.NOT_FOUND)) return [];
    throw err;
  }
  const dsse = layers.filter((l) => l.mediaType === DSSE_MEDIA_TYPE && l.size <= MAX_VSA_ENVELOPE_BYTES);
  // The newest layers last (acr-guard appends its VSA): read from the end.
  return Promise.all(
    dsse
      .slice(-MAX_VSA_LAYERS)
      .reverse()
      .map((l) => client.getBlob(repository, l.digest, MAX_VSA_ENVELOPE_BYTES)),
  );
}

/**
 * Checks that `repository@digest` carries a VSA meeting `want` (signed by the key, naming the digest, `PASSED`,
 * the current policy hash). Of the VSAs signed by the key for this digest, the newest (by `timeVerified`; on a
 * tie a FAILED one) speaks: an older PASSED one never outvotes a later block. Otherwise the reasons of each, or
 * "none attached".
 */
export async function checkVsaInRegistry(
  client: RegistryClient,
  repository: string,
  want: VsaRequirement,
): Promise<VsaCheck> {
  const envelopes = await fetchAttestationEnvelopes(client, repository, want.digest);
  const where = `${client.host}/${repository}@${want.digest}`;
  if (envelopes.length === 0)
    return {
      ok: false,
      code: ErrorCodes.VSA_REJECTED,
      reason: `no attestation is attached to ${where} (tag ${cosignAttestationTag(want.digest)})`,
    };
  const reasons: string[] = [];
  const signed: Array<{ envelope: Buffer; statement: VsaStatement }> = [];
  for (const envelope of envelopes) {
    const opened = openVsa(envelope, want);
    if (opened.ok) signed.push({ envelope, statement: opened.statement });
    else reasons.push(opened.reason);
  }
  const newest = newestVsa(signed);
  if (newest) return checkVsa(newest.envelope, want);
  return {
    ok: false,
    code: ErrorCodes.VSA_REJECTED,
    reason: `no attestation of ${where} is an acceptable VSA: ${reasons.slice(0, 5).join('; ')}`,
  };
}
