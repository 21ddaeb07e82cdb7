/** The content rules for index children (pure core): bounds, attestation by content, filesystem layers. */
import { ErrorCodes } from '../../../src/core/errors';
import {
  classifyIndexChild,
  distinctIndexChildren,
  hasFilesystemLayer,
  IN_TOTO_MEDIA_TYPE,
  MAX_INDEX_ENTRIES,
  MAX_INDEX_PLATFORMS,
} from '../../../src/core/indexChildren';
import { MediaTypes, type Descriptor } from '../../../src/core/types';

const TAR = 'application/vnd.oci.image.layer.v1.tar+gzip';
const d = (n: number): Descriptor => ({
  mediaType: MediaTypes.ociManifest,
  digest: `sha256:${n.toString(16).padStart(64, '0')}`,
  size: 1,
});
const layer = (mediaType: string): Record<string, unknown> => ({ mediaType, digest: d(9).digest, size: 1 });
const manifest = (extra: Record<string, unknown>): { mediaType: string; json: Record<string, unknown> } => ({
  mediaType: MediaTypes.ociManifest,
  json: {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    config: { mediaType: MediaTypes.ociConfig, digest: d(8).digest, size: 2 },
    ...extra,
  },
});

describe('distinctIndexChildren', () => {
  it('dedupes by digest, keeping the first occurrence and its order', () => {
    expect(
      distinctIndexChildren({
        digest: 'i',
        children: [d(1), d(2), { ...d(1), platform: { os: 'unknown', architecture: 'unknown' } }, d(3)],
      }),
    ).toEqual([d(1), d(2), d(3)]);
  });

  it('refuses more raw entries than MAX_INDEX_ENTRIES, duplicates included', () => {
    expect(() =>
      distinctIndexChildren({ digest: 'i', children: Array.from({ length: MAX_INDEX_ENTRIES + 1 }, () => d(1)) }),
    ).toThrow(
      expect.objectContaining({
        code: ErrorCodes.INDEX_TOO_LARGE,
        message: expect.stringContaining('MAX_INDEX_ENTRIES'),
      }),
    );
    expect(
      distinctIndexChildren({ digest: 'i', children: Array.from({ length: MAX_INDEX_ENTRIES }, () => d(1)) }),
    ).toHaveLength(1);
  });

  it('refuses more distinct children than MAX_INDEX_PLATFORMS', () => {
    const many = Array.from({ length: MAX_INDEX_PLATFORMS + 1 }, (_, i) => d(i));
    expect(() => distinctIndexChildren({ digest: 'i', children: many })).toThrow(
      expect.objectContaining({
        code: ErrorCodes.INDEX_TOO_LARGE,
        message: expect.stringContaining('MAX_INDEX_PLATFORMS'),
      }),
    );
    expect(distinctIndexChildren({ digest: 'i', children: many.slice(1) })).toHaveLength(MAX_INDEX_PLATFORMS);
  });
});

describe('classifyIndexChild: by content only', () => {
  it('a BuildKit attestation (image config, in-toto layers) is an attestation', () => {
    expect(
      classifyIndexChild(manifest({ layers: [layer(IN_TOTO_MEDIA_TYPE), layer(IN_TOTO_MEDIA_TYPE)] })),
    ).toMatchObject({ kind: 'attestation' });
  });

  it('an attestation config type or an artifactType makes an attestation, as long as nothing is runnable', () => {
    expect(
      classifyIndexChild(
        manifest({ config: { mediaType: 'application/vnd.in-toto+json', digest: d(8).digest, size: 2 }, layers: [] }),
      ),
    ).toMatchObject({ kind: 'attestation' });
    expect(
      classifyIndexChild(manifest({ artifactType: 'application/spdx+json', layers: [layer('application/spdx+json')] })),
    ).toMatchObject({ kind: 'attestation' });
    expect(classifyIndexChild(manifest({ artifactType: 'application/spdx+json', layers: [layer(TAR)] }))).toEqual({
      kind: 'platform',
    });
  });

  it('an image stays an image with in-toto layers beside its filesystem, or a layer without a media type', () => {
    expect(classifyIndexChild(manifest({ layers: [layer(TAR), layer(IN_TOTO_MEDIA_TYPE)] }))).toEqual({
      kind: 'platform',
    });
    expect(
      classifyIndexChild(manifest({ layers: [layer(IN_TOTO_MEDIA_TYPE), { digest: d(7).digest, size: 1 }] })),
    ).toEqual({ kind: 'platform' });
    expect(
      classifyIndexChild({
        ...manifest({ layers: [layer('application/vnd.docker.image.rootfs.diff.tar.gzip')] }),
        mediaType: MediaTypes.dockerManifest,
      }),
    ).toEqual({ kind: 'platform' });
  });

  it('an index is an index; a shapeless body is malformed', () => {
    expect(classifyIndexChild({ mediaType: MediaTypes.ociIndex, json: { manifests: [] } })).toEqual({ kind: 'index' });
    expect(classifyIndexChild({ mediaType: 'application/json', json: { manifests: [] } })).toEqual({ kind: 'index' });
    expect(classifyIndexChild({ mediaType: 'application/json', json: {} })).toMatchObject({ kind: 'malformed' });
    expect(classifyIndexChild({ mediaType: MediaTypes.ociManifest, json: { layers: [] } })).toMatchObject({
      kind: 'malformed',
    });
  });

  it('hasFilesystemLayer: OCI and Docker layer types, or a layer without a media type', () => {
    expect(hasFilesystemLayer({ layers: [layer(TAR)] })).toBe(true);
    expect(hasFilesystemLayer({ layers: [layer('application/vnd.oci.image.layer.v1.tar')] })).toBe(true);
    expect(hasFilesystemLayer({ layers: [{}] })).toBe(true);
    expect(hasFilesystemLayer({ layers: [layer('application/vnd.dev.cosign.simplesigning.v1+json')] })).toBe(false);
    expect(hasFilesystemLayer({})).toBe(false);
  });
});
