/**
 * Pushes real OCI content through a RegistryClient: images, indexes and OCI 1.1 artifacts with a `subject`
 * (reports, signatures). Used by `npm start`'s seeding, the benchmark and tests.
 */
import { gzipSync } from 'node:zlib';
import { MediaTypes, type Descriptor } from '../core/types';
import type { RegistryClient } from '../adapters/ports';
import { digestOf } from '../adapters/registry';
import { GuardError, ErrorCodes } from '../core/errors';

/** What a push returns: the manifest's descriptor fields. */
export interface Pushed {
  digest: string;
  size: number;
  mediaType: string;
}

async function putJson(
  client: RegistryClient,
  repository: string,
  reference: string | undefined,
  body: unknown,
  mediaType: string,
): Promise<Pushed> {
  const bytes = Buffer.from(JSON.stringify(body));
  const digest = digestOf(bytes);
  await client.putManifest(repository, reference ?? digest, bytes, mediaType);
  // A manifest pushed by tag is also addressable by digest; nothing else to do.
  return { digest, size: bytes.length, mediaType };
}

/**
 * A one-file POSIX tar (ustar) archive holding `content` as `name`: a real layer that tools unpacking it
 * (umoci, skopeo, a runtime) accept. Deterministic: mtime 0, uid/gid 0, mode 0644.
 */
export function tarOneFile(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(512);
  const put = (text: string, offset: number, length: number): void => {
    header.write(text.slice(0, length), offset, length, 'ascii');
  };
  const octal = (value: number, length: number): string => `${value.toString(8).padStart(length - 1, '0')}\0`;
  put(name, 0, 100);
  put(octal(0o644, 8), 100, 8);
  put(octal(0, 8), 108, 8);
  put(octal(0, 8), 116, 8);
  put(octal(content.length, 12), 124, 12);
  put(octal(0, 12), 136, 12);
  header.fill(' ', 148, 156); // checksum is computed with its own field as spaces
  put('0', 156, 1);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  let sum = 0;
  for (const byte of header) sum += byte;
  put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  const padding = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([header, content, padding, Buffer.alloc(1024)]);
}

/** Options for {@link pushImage}. */
export interface PushImageOptions {
  tag?: string;
  /**
   * Contents of the layers, one file each (packed as a one-file tar, gzip-compressed). Default: one layer
   * whose content is `seed` (or the repository name), so the same call always makes the same digest.
   */
  layers?: Buffer[];
  /** Seed for the default layer. */
  seed?: string;
  /** The config's `created` timestamp (RFC 3339); default the epoch, for reproducible digests. */
  created?: string;
  platform?: { os: string; architecture: string; variant?: string };
  annotations?: Record<string, string>;
  /** A `subject` (OCI 1.1) the image claims to refer to: the pusher's word, whatever the content is. */
  subject?: Descriptor;
}

/** Pushes a single-platform OCI image (config + tar+gzip layers) and returns its manifest descriptor. */
export async function pushImage(
  client: RegistryClient,
  repository: string,
  options: PushImageOptions = {},
): Promise<Pushed> {
  const contents = options.layers ?? [Buffer.from(options.seed ?? `layer of ${repository}`)];
  const layerDescriptors: Descriptor[] = [];
  const diffIds: string[] = [];
  for (const [i, content] of contents.entries()) {
    const tar = tarOneFile(`layer${i}.txt`, content);
    // gzip with no file name and mtime 0: the same content always compresses to the same digest.
    const layer = gzipSync(tar, { level: 1 });
    const digest = await client.putBlob(repository, layer);
    layerDescriptors.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest, size: layer.length });
    // diff_ids name the uncompressed layers (OCI image spec, config `rootfs`).
    diffIds.push(digestOf(tar));
  }
  const platform = options.platform ?? { os: 'linux', architecture: 'amd64' };
  const config = Buffer.from(
    JSON.stringify({
      created: options.created ?? '1970-01-01T00:00:00Z',
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant ? { variant: platform.variant } : {}),
      config: {},
      rootfs: { type: 'layers', diff_ids: diffIds },
    }),
  );
  const configDigest = await client.putBlob(repository, config);
  return putJson(
    client,
    repository,
    options.tag,
    {
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      config: { mediaType: MediaTypes.ociConfig, digest: configDigest, size: config.length },
      layers: layerDescriptors,
      ...(options.subject ? { subject: options.subject } : {}),
      ...(options.annotations ? { annotations: options.annotations } : {}),
    },
    MediaTypes.ociManifest,
  );
}

/** Pushes an OCI image index over already pushed manifests (give each descriptor its `platform`). */
export async function pushIndex(
  client: RegistryClient,
  repository: string,
  options: { tag?: string; manifests: Descriptor[] },
): Promise<Pushed> {
  return putJson(
    client,
    repository,
    options.tag,
    { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: options.manifests },
    MediaTypes.ociIndex,
  );
}

const EMPTY_CONFIG = Buffer.from('{}');

/**
 * Pushes an OCI 1.1 artifact manifest (empty config, one blob layer) whose `subject` is `subject`, and keeps
 * the referrers tag-schema index `<alg>-<hex>` up to date, as the distribution spec asks clients to do for
 * registries without the referrers API (Debian's docker-registry 2.8).
 */
export async function pushArtifact(
  client: RegistryClient,
  repository: string,
  options: {
    subject: Descriptor;
    artifactType: string;
    blob: Buffer;
    blobMediaType: string;
    annotations?: Record<string, string>;
  },
): Promise<Pushed> {
  const emptyDigest = await client.putBlob(repository, EMPTY_CONFIG);
  const blobDigest = await client.putBlob(repository, options.blob);
  const subject: Descriptor = {
    mediaType: options.subject.mediaType,
    digest: options.subject.digest,
    size: options.subject.size,
  };
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    artifactType: options.artifactType,
    config: { mediaType: MediaTypes.ociEmpty, digest: emptyDigest, size: EMPTY_CONFIG.length },
    layers: [{ mediaType: options.blobMediaType, digest: blobDigest, size: options.blob.length }],
    subject,
    ...(options.annotations ? { annotations: options.annotations } : {}),
  };
  const pushed = await putJson(client, repository, undefined, manifest, MediaTypes.ociManifest);

  const fallbackTag = options.subject.digest.replace(':', '-');
  let existing: Descriptor[] = [];
  try {
    existing = (await client.getManifest(repository, fallbackTag)).children;
  } catch (err) {
    if (!(err instanceof GuardError && err.code === ErrorCodes.NOT_FOUND)) throw err;
  }
  const entry: Descriptor = {
    mediaType: MediaTypes.ociManifest,
    digest: pushed.digest,
    size: pushed.size,
    artifactType: options.artifactType,
    ...(options.annotations ? { annotations: options.annotations } : {}),
  };
  const manifests = [...existing.filter((d) => d.digest !== pushed.digest), entry];
  await putJson(
    client,
    repository,
    fallbackTag,
    { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests },
    MediaTypes.ociIndex,
  );
  return pushed;
}
