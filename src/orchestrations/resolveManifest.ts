/**
 * The `imageGate` step that reads what was pushed: fetches the manifest by digest and classifies it (image,
 * index, or artifact, by content), and for an index reads its children within the index bounds to find the
 * platform manifests to gate. Registered through {@link gateActivities} in `activities.ts`.
 */
import { ErrorCodes, GuardError, isGuardError } from '../core/errors';
import { classifyIndexChild, distinctIndexChildren, hasFilesystemLayer, MAX_INDEX_DEPTH } from '../core/indexChildren';
import { runnableByContent } from '../core/runnable';
import { MediaTypes, type Descriptor, type ImageId, type ResolvedManifest } from '../core/types';
import type { RegistryClient } from '../adapters/ports';
import { mapLimit } from '../core/mapLimit';
import { permanentAsData, type ActivityFailure } from './activityFailure';
import type { GateServices } from './services';

/** A platform manifest to gate. */
export interface PlatformManifest {
  digest: string;
  /** `os/architecture[/variant]`. */
  platform?: string;
}

/** What was pushed. */
export interface ResolvedImage {
  ok: true;
  /** `artifact`: a referrer (signature, report, SBOM) or a non-image artifact; not gated. */
  kind: 'image' | 'index' | 'artifact';
  manifest: ResolvedManifest;
  /** The manifests to collect findings for: the image itself, or an index's platform manifests. */
  platforms: PlatformManifest[];
}

const INDEX_TYPES: ReadonlySet<string> = new Set([MediaTypes.ociIndex, MediaTypes.dockerManifestList]);
const IMAGE_CONFIG_TYPES: ReadonlySet<string> = new Set([
  MediaTypes.ociConfig,
  'application/vnd.docker.container.image.v1+json',
]);

function platformLabel(platform: Descriptor['platform']): string | undefined {
  if (!platform) return undefined;
  return [platform.os, platform.architecture, platform.variant].filter((p) => p !== undefined && p !== '').join('/');
}

/**
 * An index that calls itself an artifact (a `subject`, or an `artifactType` that is not an image config's): it is
 * then skipped only if none of its children is runnable (never on these labels alone).
 */
function isArtifactIndex(manifest: ResolvedManifest): boolean {
  if (manifest.subject) return true;
  return manifest.artifactType !== undefined && !IMAGE_CONFIG_TYPES.has(manifest.artifactType);
}

/** Only the JSON-safe descriptor data of a fetched manifest (no bytes) crosses the activity boundary. */
function plainManifest(m: ResolvedManifest): ResolvedManifest {
  return {
    digest: m.digest,
    mediaType: m.mediaType,
    children: m.children,
    blobs: m.blobs,
    artifactType: m.artifactType,
    subject: m.subject,
    annotations: m.annotations,
    size: m.size,
  };
}

/** Children of an index read at once (at most MAX_INDEX_PLATFORMS in all). */
export const INDEX_CHILD_READS = 8;

/**
 * The platform manifests of an index, by content: within the index bounds, each distinct child is read once
 * and skipped only when its own manifest is an attestation; a child that cannot be read (permanently) or is
 * itself an index fails the resolution, so the gate blocks (never a label decides, never a release).
 */
async function indexPlatforms(
  registry: RegistryClient,
  image: ImageId,
  index: ResolvedManifest,
): Promise<PlatformManifest[]> {
  const children = distinctIndexChildren(index);
  const kinds = await mapLimit(
    children,
    INDEX_CHILD_READS,
    async (child) => {
      const where = `index child ${child.digest}${child.platform ? ` (${platformLabel(child.platform)})` : ''}`;
      let body;
      try {
        body = await registry.getManifest(image.repository, child.digest);
      } catch (err) {
        if (isGuardError(err) && err.code !== ErrorCodes.TRANSIENT)
          throw new GuardError(err.code, `${where} cannot be read: ${err.message}`);
        throw err;
      }
      const kind = classifyIndexChild(body);
      if (kind.kind === 'index') {
        throw new GuardError(
          ErrorCodes.INDEX_TOO_LARGE,
          `${where} is itself an index; indexes nested deeper than ${MAX_INDEX_DEPTH} level (MAX_INDEX_DEPTH) are not gated`,
        );
      }
      if (kind.kind === 'malformed')
        throw new GuardError(
          ErrorCodes.MALFORMED,
          `${where} is neither an image manifest nor an attestation: ${kind.why}`,
        );
      return kind;
    },
    { stopOnError: true },
  );
  return children
    .filter((_, i) => kinds[i].kind === 'platform')
    .map((c) => ({ digest: c.digest, platform: platformLabel(c.platform) }));
}

/**
 * Whether any child of an index that calls itself an artifact (a `subject` or an `artifactType`) is runnable.
 * Within the index bounds; a child that cannot be read counts as runnable, so the index is gated (and then blocks
 * on that child) rather than waved through as an artifact.
 */
async function anyRunnableChild(registry: RegistryClient, image: ImageId, index: ResolvedManifest): Promise<boolean> {
  const runnable = await mapLimit(distinctIndexChildren(index), INDEX_CHILD_READS, async (child) => {
    try {
      return hasFilesystemLayer((await registry.getManifest(image.repository, child.digest)).json);
    } catch (err) {
      if (isGuardError(err) && err.code !== ErrorCodes.TRANSIENT) return true;
      throw err;
    }
  });
  return runnable.includes(true);
}

/** Fetches the pushed manifest by digest and classifies it. */
export async function resolveManifest(
  services: GateServices,
  input: { image: ImageId },
): Promise<ResolvedImage | ActivityFailure> {
  return permanentAsData(async () => {
    const { image } = input;
    const registry = services.registry(image.registry);
    const fetched = await registry.getManifest(image.repository, image.digest);
    const manifest = plainManifest(fetched);
    // `subject` and `artifactType` are the pusher's words: a manifest is skipped only when no runtime would run
    // it (src/core/runnable.ts, by content alone), and an index only when none of its children is runnable
    // (an unreadable child counts as runnable).
    const artifact = INDEX_TYPES.has(manifest.mediaType)
      ? isArtifactIndex(manifest) && !(await anyRunnableChild(registry, image, manifest))
      : !runnableByContent(fetched.json).runnable;
    if (artifact) return { ok: true as const, kind: 'artifact' as const, manifest, platforms: [] };
    if (INDEX_TYPES.has(manifest.mediaType)) {
      return {
        ok: true as const,
        kind: 'index' as const,
        manifest,
        platforms: await indexPlatforms(registry, image, manifest),
      };
    }
    return { ok: true as const, kind: 'image' as const, manifest, platforms: [{ digest: image.digest }] };
  });
}
