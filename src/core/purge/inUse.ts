/**
 * Matches deployed image references (as Container Apps and Container Instances report them) against one
 * registry repository. Pure: the references come from the `InUseLookup` port, the host and repository from
 * the purge.
 *
 * Normalisation follows the Docker reference grammar: a first component without `.` or `:` (and not
 * `localhost`) is a Docker Hub path, so `nginx:1` is `docker.io/library/nginx:1`; `index.docker.io` and
 * `registry-1.docker.io` are `docker.io`; hosts are lower-cased and a default `:443` dropped. A reference
 * with a tag protects the tag (and so whatever digest the tag points at when the plan is made); one with a
 * digest protects that digest; `repo:tag@digest` protects both.
 */
import type { DeployedImageLike } from './types';
import type { InUseRef } from './plan';
import { validateRegistryHost } from '../reference';
import { ErrorCodes, GuardError } from '../errors';
import { DIGEST_PATTERN as DIGEST_RE } from '../digest';

const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const REPOSITORY_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;

/** A deployed reference, normalised. */
export interface NormalisedReference {
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

/** Normalises a deployed reference, or returns undefined when it is not a valid image reference. */
export function normaliseDeployedReference(text: string): NormalisedReference | undefined {
  if (typeof text !== 'string' || text.length === 0 || text.length > 1024) return undefined;
  let rest = text.trim();
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_RE.test(digest)) return undefined;
  }
  let registry = 'docker.io';
  const slash = rest.indexOf('/');
  if (slash > 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost') {
      try {
        registry = validateRegistryHost(first, 'image');
      } catch {
        return undefined;
      }
      rest = rest.slice(slash + 1);
    }
  }
  if (DOCKER_HUB_ALIASES.has(registry)) registry = 'docker.io';
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon >= 0) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) return undefined;
  }
  if (!REPOSITORY_RE.test(rest) || rest.length > 255) return undefined;
  if (registry === 'docker.io' && !rest.includes('/')) rest = `library/${rest}`;
  // A reference with neither tag nor digest means `latest` to every runtime.
  if (tag === undefined && digest === undefined) tag = 'latest';
  return {
    registry,
    repository: rest,
    ...(tag !== undefined ? { tag } : {}),
    ...(digest !== undefined ? { digest } : {}),
  };
}

/**
 * The deployed references that name `registry/repository`. A reference that cannot be parsed but mentions the
 * repository's path is an error (`MALFORMED`): the purge of that repository must not run on a guess.
 */
export function matchDeployedImages(options: {
  deployed: readonly DeployedImageLike[];
  registry: string;
  repository: string;
}): InUseRef[] {
  const host = validateRegistryHost(options.registry, 'registry');
  const registry = DOCKER_HUB_ALIASES.has(host) ? 'docker.io' : host;
  const out: InUseRef[] = [];
  for (const d of options.deployed) {
    const ref = normaliseDeployedReference(d.image);
    if (!ref) {
      if (typeof d.image === 'string' && d.image.includes(options.repository)) {
        throw new GuardError(
          ErrorCodes.MALFORMED,
          `deployed image "${d.image.slice(0, 200)}" in ${d.source} is not a valid image reference and may name ${registry}/${options.repository}; its purge does not run`,
        );
      }
      continue;
    }
    if (ref.registry !== registry || ref.repository !== options.repository) continue;
    out.push({
      ...(ref.tag !== undefined ? { tag: ref.tag } : {}),
      ...(ref.digest !== undefined ? { digest: ref.digest } : {}),
      source: d.source,
    });
  }
  return out;
}
