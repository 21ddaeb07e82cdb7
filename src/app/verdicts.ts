/**
 * HTTP `GET /api/verdicts/{*image}`: the latest recorded verdict of one image, by digest.
 *
 * The route is a catch-all because repositories contain slashes: `/api/verdicts/<registry>/<repository>@<digest>`,
 * e.g. `/api/verdicts/contoso.azurecr.io/team/api@sha256:…`. When the policy allows exactly one registry,
 * `/api/verdicts/<repository>@<digest>` names an image in it. Tags are refused (verdicts are per digest).
 * 200 with the verdict JSON, 404 when none is recorded, 403 for a registry outside the allowlist.
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { invalidInput } from '../core/errors';
import { isRegistryAllowed } from '../core/policyLookup';
import type { Policy } from '../core/policyTypes';
import { formatImage, parseImageReference } from '../core/reference';
import { verdictResultOf } from '../core/result';
import type { ImageId } from '../core/types';
import type { AuditStore } from '../adapters/ports';
import { AppRoles, HttpErrorCodes, answer, errorResponse, jsonResponse, requireRole, type HttpAuthMode } from './http';

/** Dependencies of {@link handleVerdict}. */
export interface VerdictDeps {
  policy: Policy;
  audit: Pick<AuditStore, 'latestVerdict'>;
  auth: HttpAuthMode;
}

const FORM = '<registry>/<repository>@<digest> (e.g. contoso.azurecr.io/team/api@sha256:<64 hex>)';

/**
 * Reads the image of a verdict route (pure): `<registry>/<repository>@<digest>`, or `<repository>@<digest>`
 * when the policy allows exactly one registry. Throws `INVALID_INPUT` naming `image`.
 */
export function parseVerdictRoute(raw: string | undefined, policy: Policy): ImageId {
  if (raw === undefined || raw === '') throw invalidInput('image', FORM);
  let text = raw;
  if (text.includes('%')) {
    try {
      text = decodeURIComponent(text);
    } catch {
      throw invalidInput('image', FORM, raw);
    }
  }
  const first = text.split('/')[0].split('@')[0];
  const looksLikeRegistry = first.includes('.') || first.includes(':') || first === 'localhost';
  if (!looksLikeRegistry) {
    if (policy.registries.length !== 1)
      throw invalidInput(
        'image',
        `${FORM}; the registry is required because the policy allows ${policy.registries.length} registries`,
        text,
      );
    text = `${policy.registries[0].host}/${text}`;
  }
  const ref = parseImageReference(text, { field: 'image' });
  if (!ref.digest) throw invalidInput('image', `${FORM}; verdicts are recorded per digest, not per tag`, text);
  return { registry: ref.registry, repository: ref.repository, digest: ref.digest };
}

/** `GET /api/verdicts/{*image}`. Readers need the app role `Verdicts.Read` (or `Rescan.Request`). */
export async function handleVerdict(
  request: HttpRequest,
  deps: VerdictDeps,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  return answer(
    async () => {
      requireRole(request, deps.auth, [AppRoles.read, AppRoles.rescan]);
      const image = parseVerdictRoute(request.params.image, deps.policy);
      if (!isRegistryAllowed(deps.policy, image.registry)) {
        return errorResponse(
          403,
          'REGISTRY_NOT_ALLOWED',
          `image: registry ${image.registry} is not in the policy's registries allowlist`,
          'image',
        );
      }
      const verdict = await deps.audit.latestVerdict(image);
      if (!verdict)
        return errorResponse(404, HttpErrorCodes.NOT_FOUND, `no verdict recorded for ${formatImage(image)}`, 'image');
      // The verdict's fields as before, and the envelope (its checks in the one shape, the verdict under `data`).
      return jsonResponse(200, { ...verdict, ...verdictResultOf(verdict, formatImage(image)) });
    },
    (line) => context.warn(`verdicts: ${line}`),
  );
}
