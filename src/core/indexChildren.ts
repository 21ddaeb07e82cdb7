/**
 * What an image index lists, decided by content: the bounds on an index (raw entries, distinct platform
 * manifests, nesting) and whether one child is an attestation (skipped by the gate: no runtime would run it,
 * see src/core/runnable.ts) or a platform image (gated). Pure: the caller reads the children from the registry and hands their parsed bodies in.
 *
 * Why by content: the descriptor's `platform` (`unknown/unknown`) and its `vnd.docker.reference.type`
 * annotation are chosen by whoever pushed the index, so an index could label a vulnerable image
 * "attestation" and have it skipped. Only the child's own manifest says what it is.
 */
import { ErrorCodes, GuardError } from './errors';
import { runnableByContent } from './runnable';
import { MediaTypes, type Descriptor } from './types';

/**
 * Raw `manifests` entries an index may list (duplicates included), checked before any child is read.
 * Real multi-arch indexes list fewer than 30 (platforms plus one attestation each); 1,000 leaves room for
 * anything legitimate while an index listing one child 10,000 times is refused at once.
 */
export const MAX_INDEX_ENTRIES = 1_000;

/**
 * Distinct child manifests (by digest) an index may list; each is read once and, unless it is an
 * attestation, gated once. 64 covers every platform set seen in practice (Docker Official Images list at
 * most ~8 platforms, each with an attestation) and caps the reads and findings collections of one gate.
 */
export const MAX_INDEX_PLATFORMS = 64;

/**
 * Index levels the gate reads: the pushed index and its children. A child that is itself an index is not
 * followed (its grandchildren would escape the bounds above); it blocks the image instead.
 */
export const MAX_INDEX_DEPTH = 1;

/** The media type BuildKit gives the layers of an attestation manifest (in-toto statements). */
export const IN_TOTO_MEDIA_TYPE = 'application/vnd.in-toto+json';

const INDEX_TYPES: ReadonlySet<string> = new Set([MediaTypes.ociIndex, MediaTypes.dockerManifestList]);

/**
 * True when a manifest body (parsed JSON) is runnable by the rule of src/core/runnable.ts (what containerd and
 * moby's classic puller would unpack): by content it is an image, whatever its tags, `subject`, `artifactType`
 * or parent index call it. Kept under this name for the purge listing, which asks the same question.
 */
export function hasFilesystemLayer(json: Record<string, unknown>): boolean {
  // A body without a layers list (an index) has no filesystem of its own: the purge judges it by its children.
  return Array.isArray(json.layers) && runnableByContent(json).runnable;
}

/**
 * The distinct children of an index (first occurrence of each digest, in order), or INDEX_TOO_LARGE when it
 * lists more than {@link MAX_INDEX_ENTRIES} entries or more than {@link MAX_INDEX_PLATFORMS} distinct ones.
 */
export function distinctIndexChildren(index: { digest: string; children: readonly Descriptor[] }): Descriptor[] {
  if (index.children.length > MAX_INDEX_ENTRIES) {
    throw new GuardError(
      ErrorCodes.INDEX_TOO_LARGE,
      `index ${index.digest} lists ${index.children.length} manifests, over the limit of ${MAX_INDEX_ENTRIES} entries (MAX_INDEX_ENTRIES); no child was read`,
    );
  }
  const seen = new Map<string, Descriptor>();
  for (const child of index.children) {
    if (!seen.has(child.digest)) seen.set(child.digest, child);
  }
  if (seen.size > MAX_INDEX_PLATFORMS) {
    throw new GuardError(
      ErrorCodes.INDEX_TOO_LARGE,
      `index ${index.digest} lists ${seen.size} distinct manifests, over the limit of ${MAX_INDEX_PLATFORMS} (MAX_INDEX_PLATFORMS); no child was read`,
    );
  }
  return [...seen.values()];
}

/** What one child of an index is, by its own manifest (`malformed`: neither an image manifest nor an attestation). */
export type IndexChildKind =
  | { kind: 'platform' }
  | { kind: 'attestation'; why: string }
  | { kind: 'index' }
  | { kind: 'malformed'; why: string };

const MANIFEST_TYPES: ReadonlySet<string> = new Set([MediaTypes.ociManifest, MediaTypes.dockerManifest]);

/**
 * Classifies a child of an index from its own manifest (`mediaType` as the registry served it and the parsed
 * body). A child is skipped (`attestation`) only when no mainstream runtime would unpack and run it
 * ({@link runnableByContent}: media types compared case-insensitively; `artifactType`, the descriptor's platform
 * and its annotations are never read). Anything else that has an image manifest's shape is a platform image,
 * gated like the others; the rest is `malformed` (the gate blocks): fail closed.
 */
export function classifyIndexChild(manifest: { mediaType: string; json: Record<string, unknown> }): IndexChildKind {
  const { json } = manifest;
  if (INDEX_TYPES.has(manifest.mediaType) || json.manifests !== undefined) return { kind: 'index' };
  const config = json.config && typeof json.config === 'object' ? (json.config as { mediaType?: unknown }) : undefined;
  const runnable = runnableByContent(json);
  if (!runnable.runnable) return { kind: 'attestation', why: `not runnable: ${runnable.why}` };
  return imageShape(manifest.mediaType, config, json.layers);
}

/** A platform child must at least look like an image manifest: a manifest media type, a config, a layer list. */
function imageShape(mediaType: string, config: { mediaType?: unknown } | undefined, layers: unknown): IndexChildKind {
  if (!MANIFEST_TYPES.has(mediaType))
    return { kind: 'malformed', why: `its media type "${mediaType.slice(0, 100)}" is not an image manifest's` };
  if (typeof config?.mediaType !== 'string' || !Array.isArray(layers))
    return { kind: 'malformed', why: 'it has no config descriptor or no layers list' };
  return { kind: 'platform' };
}
