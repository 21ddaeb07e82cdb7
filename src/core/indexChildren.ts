/**
 * What an image index lists, decided by content: the bounds on an index (raw entries, distinct platform
 * manifests, nesting) and whether one child is an attestation (skipped by the gate) or a platform image
 * (gated). Pure: the caller reads the children from the registry and hands their parsed bodies in.
 *
 * Why by content: the descriptor's `platform` (`unknown/unknown`) and its `vnd.docker.reference.type`
 * annotation are chosen by whoever pushed the index, so an index could label a vulnerable image
 * "attestation" and have it skipped. Only the child's own manifest says what it is.
 */
import { ErrorCodes, GuardError } from './errors';
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

/** Layer media types a container runtime unpacks into a filesystem: a manifest with one is runnable. */
function isFilesystemLayer(mediaType: string): boolean {
  return (
    mediaType.startsWith('application/vnd.oci.image.layer.') ||
    mediaType.startsWith('application/vnd.docker.image.rootfs.')
  );
}

/**
 * True when a manifest body (parsed JSON) lists a layer a runtime would unpack, or a layer without a media type:
 * by content it is a runnable image, whatever its tags or its parent index call it.
 */
export function hasFilesystemLayer(json: Record<string, unknown>): boolean {
  if (!Array.isArray(json.layers)) return false;
  return (json.layers as unknown[]).some((l) => {
    const t = l && typeof l === 'object' ? (l as { mediaType?: unknown }).mediaType : undefined;
    return typeof t !== 'string' || isFilesystemLayer(t);
  });
}

function isAttestationConfigType(mediaType: string): boolean {
  return mediaType === IN_TOTO_MEDIA_TYPE || /in-toto|attestation/i.test(mediaType);
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
 * body). An attestation has no filesystem layer and is one by content, as BuildKit writes them: every layer
 * an in-toto statement, or an in-toto/attestation config media type, or an explicit `artifactType` (an OCI
 * artifact). Anything else that has an image manifest's shape is a platform image, gated like the others;
 * the rest is `malformed` (the gate blocks): fail closed.
 */
export function classifyIndexChild(manifest: { mediaType: string; json: Record<string, unknown> }): IndexChildKind {
  const { json } = manifest;
  if (INDEX_TYPES.has(manifest.mediaType) || json.manifests !== undefined) return { kind: 'index' };
  const layers = Array.isArray(json.layers) ? (json.layers as unknown[]) : [];
  const layerTypes = layers.map((l) =>
    l && typeof l === 'object' && typeof (l as { mediaType?: unknown }).mediaType === 'string'
      ? (l as { mediaType: string }).mediaType
      : '',
  );
  const config = json.config && typeof json.config === 'object' ? (json.config as { mediaType?: unknown }) : undefined;
  const configType = typeof config?.mediaType === 'string' ? config.mediaType : '';
  // A layer without a media type, or one a runtime would unpack, makes it an image whatever else it says.
  if (hasFilesystemLayer(json)) return imageShape(manifest.mediaType, config, json.layers);
  if (layerTypes.length > 0 && layerTypes.every((t) => t === IN_TOTO_MEDIA_TYPE))
    return { kind: 'attestation', why: `in-toto layers (${IN_TOTO_MEDIA_TYPE})` };
  if (configType !== '' && isAttestationConfigType(configType))
    return { kind: 'attestation', why: `attestation config (${configType})` };
  if (typeof json.artifactType === 'string' && json.artifactType !== '')
    return { kind: 'attestation', why: `OCI artifact (${json.artifactType})` };
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
