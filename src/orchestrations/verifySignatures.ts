/** The gate's signature step: the pushed manifest's signatures verified under the trust policy. */
import { ErrorCodes, isGuardError } from '../core/errors';
import type { ImageId, ResolvedManifest, SignatureResult } from '../core/types';
import { SILENT_ACTIVITY_CONTEXT, type ActivityContext, type GateServices } from './services';

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
