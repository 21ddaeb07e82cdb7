/**
 * Whether a manifest is runnable, decided the way container runtimes decide (docs/runnable.md has the rule
 * and its sources). The gate skips a manifest as an artifact (signature, report, attestation, SBOM) ONLY when
 * no mainstream runtime would unpack and run it; everything else is gated as an image. Pure.
 *
 * Why not by `artifactType`, `subject`, a tag or an index label: the pusher writes all of them, and neither
 * containerd nor moby's classic puller looks at any of them when it pulls a manifest by platform. Only the
 * media types of the config and the layers (compared case-insensitively, as moby does) and the config's
 * content (the OCI empty descriptor, whose digest fixes its bytes to `{}`) decide.
 */

/**
 * Digest of the OCI empty descriptor's content, the two bytes `{}` (OCI image-spec 1.1, "Guidance for an
 * empty descriptor"). A config with this digest has no `rootfs`, so neither runtime can build a filesystem
 * from it: moby refuses a config without `rootfs` (errRootFSInvalid) and containerd's unpacker requires one
 * diff_id per layer it unpacks. The registry verified the blob against the digest: this is content.
 */
export const OCI_EMPTY_CONFIG_DIGEST = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';

/**
 * Media types (lower case) moby's classic puller accepts for a config and for every layer: an exact match,
 * or the first two as a prefix followed by "." (moby `distribution/registry.go` supportedMediaTypes, checked by
 * `checkSupportedMediaType` in `pull_v2.go` after `strings.ToLower`). `""` also stands for a missing media type.
 */
const MOBY_PREFIXES = ['application/vnd.oci.image', 'application/vnd.docker'] as const;
const MOBY_EXACT: ReadonlySet<string> = new Set(['application/octet-stream', 'application/json', 'text/html', '']);
/** moby refuses these before the list above (Docker's AI model artifacts). */
const MOBY_REFUSED_PREFIX = 'application/vnd.docker.ai.';

/**
 * Layer media types (lower case) containerd unpacks into a snapshot (containerd `images.IsLayerType`: the OCI
 * layer prefix, the Docker rootfs layer types with any `+suffix`, and in containerd 2.x the EROFS layer types
 * `application/vnd.erofs.layer.v1[+zstd]` for its EROFS snapshotter). containerd compares case-sensitively;
 * lower-casing here, and taking every EROFS type, only gates more.
 */
const CONTAINERD_LAYER_PREFIXES = [
  'application/vnd.oci.image.layer.',
  'application/vnd.docker.image.rootfs.',
  'application/vnd.erofs.',
] as const;

/** What {@link runnableByContent} decided, with the reason the verdict and the docs can quote. */
export type Runnable = { runnable: true; why: string } | { runnable: false; why: string };

function lower(mediaType: unknown): string {
  return typeof mediaType === 'string' ? mediaType.trim().toLowerCase() : '';
}

/** Whether moby's classic puller accepts `mediaType` for a config or a layer (case-insensitive). */
export function mobyAccepts(mediaType: unknown): boolean {
  const t = lower(mediaType);
  if (t.startsWith(MOBY_REFUSED_PREFIX)) return false;
  return MOBY_EXACT.has(t) || MOBY_PREFIXES.some((p) => t.startsWith(`${p}.`));
}

/** Whether containerd unpacks a layer of `mediaType` (compared case-insensitively, which only gates more). */
export function containerdUnpacks(mediaType: unknown): boolean {
  const t = lower(mediaType);
  return CONTAINERD_LAYER_PREFIXES.some((p) => t.startsWith(p));
}

function descriptorField(json: Record<string, unknown>, key: string): Record<string, unknown> | undefined {
  const v = json[key];
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/**
 * Whether a single image manifest (its parsed body; never an index) is runnable by content:
 * - not runnable when its config is the OCI empty descriptor (`{}`, no rootfs: no runtime builds a filesystem
 *   from it, whatever the media types say): this is how `oras attach` stores a file, with any layer type;
 * - runnable when containerd would unpack one of its layers (OCI or Docker layer media type);
 * - runnable when moby's classic puller accepts its config media type and every layer media type (this
 *   includes `application/octet-stream`, `application/json`, `text/html`, an empty or missing media type, any
 *   `application/vnd.oci.image.*` / `application/vnd.docker.*` type, in any letter case);
 * - otherwise (e.g. a notation signature, a cosign `.sig`, a BuildKit in-toto attestation, a Helm chart, an SBOM
 *   with its own media types) not runnable.
 * A body without a `layers` list, or with a layer without a media type, is not what any tool writes: it is
 * treated as runnable (gated, and blocked if malformed), never skipped. `artifactType` and `subject` are not read at all.
 */
export function runnableByContent(json: Record<string, unknown>): Runnable {
  if (!Array.isArray(json.layers)) return { runnable: true, why: 'it has no layers list (gated as malformed)' };
  const layers = json.layers as unknown[];
  const layerTypes = layers.map((l) =>
    l && typeof l === 'object' ? (l as { mediaType?: unknown }).mediaType : undefined,
  );
  const config = descriptorField(json, 'config');
  if (config?.digest === OCI_EMPTY_CONFIG_DIGEST)
    return { runnable: false, why: 'its config is the OCI empty descriptor ({}, no rootfs)' };
  // A layer without a media type is refused by containerd and accepted by moby only beside other accepted
  // types; it is not what any tool writes, so it is gated rather than reasoned about.
  if (layerTypes.some((t) => typeof t !== 'string'))
    return { runnable: true, why: 'a layer has no media type (gated)' };
  const unpacked = layerTypes.find((t) => containerdUnpacks(t));
  if (unpacked !== undefined)
    return { runnable: true, why: `containerd unpacks its layer type "${String(unpacked).slice(0, 100)}"` };
  if (mobyAccepts(config?.mediaType) && layerTypes.every((t) => mobyAccepts(t)))
    return {
      runnable: true,
      why: `moby's classic puller accepts its config type "${lower(config?.mediaType).slice(0, 100)}" and every layer type`,
    };
  return { runnable: false, why: 'no mainstream runtime unpacks its config and layer media types' };
}
