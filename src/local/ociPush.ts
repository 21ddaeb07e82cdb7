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

async function putJson(client: RegistryClient, repository: string, reference: string | undefined, body: unknown, mediaType: string): Promise<Pushed> {
  const bytes = Buffer.from(JSON.stringify(body));
  const digest = digestOf(bytes);
  await client.putManifest(repository, reference ?? digest, bytes, mediaType);
  // A manifest pushed by tag is also addressable by digest; nothing else to do.
  return { digest, size: bytes.length, mediaType };
}

/** Pushes a single-platform OCI image (config + gzip layers) and returns its manifest descriptor. */
export async function pushImage(
  client: RegistryClient,
  repository: string,
  options: { tag?: string; layers?: Buffer[]; created?: string; platform?: { os: string; architecture: string }; annotations?: Record<string, string> } = {},
): Promise<Pushed> {
  const layers = (options.layers ?? [Buffer.from(`layer of ${repository}`)]).map((content) => gzipSync(content, { level: 1 }));
  const layerDescriptors: Descriptor[] = [];
  for (const layer of layers) {
    const digest = await client.putBlob(repository, layer);
    layerDescriptors.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest, size: layer.length });
  }
  const platform = options.platform ?? { os: 'linux', architecture: 'amd64' };
  const config = Buffer.from(
    JSON.stringify({
      created: options.created ?? '1970-01-01T00:00:00Z',
      architecture: platform.architecture,
      os: platform.os,
      config: {},
      rootfs: { type: 'layers', diff_ids: layerDescriptors.map((l) => l.digest) },
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
      ...(options.annotations ? { annotations: options.annotations } : {}),
    },
    MediaTypes.ociManifest,
  );
}

/** Pushes an OCI image index over already pushed manifests. */
export async function pushIndex(client: RegistryClient, repository: string, options: { tag?: string; manifests: Descriptor[] }): Promise<Pushed> {
  return putJson(client, repository, options.tag, { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: options.manifests }, MediaTypes.ociIndex);
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
  options: { subject: Descriptor; artifactType: string; blob: Buffer; blobMediaType: string; annotations?: Record<string, string> },
): Promise<Pushed> {
  const emptyDigest = await client.putBlob(repository, EMPTY_CONFIG);
  const blobDigest = await client.putBlob(repository, options.blob);
  const subject: Descriptor = { mediaType: options.subject.mediaType, digest: options.subject.digest, size: options.subject.size };
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
  const entry: Descriptor = { mediaType: MediaTypes.ociManifest, digest: pushed.digest, size: pushed.size, artifactType: options.artifactType, ...(options.annotations ? { annotations: options.annotations } : {}) };
  const manifests = [...existing.filter((d) => d.digest !== pushed.digest), entry];
  await putJson(client, repository, fallbackTag, { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests }, MediaTypes.ociIndex);
  return pushed;
}
