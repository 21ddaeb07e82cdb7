/**
 * The runnable rule (src/core/runnable.ts, docs/runnable.md): a manifest is skipped as an artifact only when
 * neither containerd nor moby's classic puller would unpack and run it. Examples from the issue (case 2 and
 * case 7) and fast-check properties: the letter case of a media type and any `artifactType`/`subject` never
 * turn a runnable manifest into a skipped one.
 */
import fc from 'fast-check';
import { classifyIndexChild } from '../../../src/core/indexChildren';
import { containerdUnpacks, mobyAccepts, OCI_EMPTY_CONFIG_DIGEST, runnableByContent } from '../../../src/core/runnable';
import { MediaTypes } from '../../../src/core/types';
import { createHash } from 'node:crypto';

const digest = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;
const layer = (mediaType: string): Record<string, unknown> => ({ mediaType, digest: digest(9), size: 1 });
const IMAGE_CONFIG = { mediaType: MediaTypes.ociConfig, digest: digest(8), size: 200 };
const EMPTY_CONFIG = { mediaType: MediaTypes.ociEmpty, digest: OCI_EMPTY_CONFIG_DIGEST, size: 2 };
const body = (config: Record<string, unknown>, layerTypes: string[], extra: Record<string, unknown> = {}) => ({
  schemaVersion: 2,
  mediaType: MediaTypes.ociManifest,
  config,
  layers: layerTypes.map(layer),
  ...extra,
});

describe('runnableByContent', () => {
  it('the empty descriptor digest is the digest of the two bytes {}', () => {
    expect(`sha256:${createHash('sha256').update('{}').digest('hex')}`).toBe(OCI_EMPTY_CONFIG_DIGEST);
  });

  // Case 2: a real image config with a tar+gzip layer whose type the pusher chose, plus an artifactType.
  it.each([
    'application/octet-stream',
    'application/json',
    '',
    'application/vnd.docker.image.rootfs.diff.tar.gzip',
    'APPLICATION/VND.OCI.IMAGE.LAYER.V1.TAR+GZIP',
    'Application/Octet-Stream',
    'text/html',
    'application/vnd.erofs.layer.v1',
  ])('an image config with a layer typed %j is runnable, whatever its artifactType', (layerType) => {
    const json = body(IMAGE_CONFIG, [layerType], {
      artifactType: 'application/vnd.example.harmless',
      subject: { mediaType: MediaTypes.ociManifest, digest: digest(1), size: 1 },
    });
    expect(runnableByContent(json)).toMatchObject({ runnable: true });
    expect(classifyIndexChild({ mediaType: MediaTypes.ociManifest, json })).toEqual({ kind: 'platform' });
  });

  it('the Docker config type in upper case with an octet-stream layer is runnable (moby lower-cases)', () => {
    const config = { ...IMAGE_CONFIG, mediaType: 'APPLICATION/VND.DOCKER.CONTAINER.IMAGE.V1+JSON' };
    expect(runnableByContent(body(config, ['application/octet-stream']))).toMatchObject({ runnable: true });
  });

  // Case 7 and the usual referrers: nothing a runtime would run.
  it.each([
    ['oras attach default (empty config, OCI tar layer)', EMPTY_CONFIG, ['application/vnd.oci.image.layer.v1.tar']],
    ['oras attach with a typed layer', EMPTY_CONFIG, [MediaTypes.sarif]],
    ['notation signature', EMPTY_CONFIG, ['application/jose+json']],
    ['cosign .sig', IMAGE_CONFIG, ['application/vnd.dev.cosign.simplesigning.v1+json']],
    ['BuildKit attestation', IMAGE_CONFIG, ['application/vnd.in-toto+json', 'application/vnd.in-toto+json']],
    [
      'Helm chart',
      { mediaType: 'application/vnd.cncf.helm.config.v1+json', digest: digest(3), size: 9 },
      ['application/vnd.cncf.helm.chart.content.v1.tar+gzip'],
    ],
    ['Docker AI model', { ...IMAGE_CONFIG, mediaType: 'application/vnd.docker.ai.model.config.v0.1+json' }, []],
  ])('%s is not runnable', (_name, config, layerTypes) => {
    expect(runnableByContent(body(config, layerTypes))).toMatchObject({ runnable: false });
  });

  it('a config typed "empty" whose bytes are not {} is judged by its layers (gated when containerd unpacks one)', () => {
    const faked = { mediaType: MediaTypes.ociEmpty, digest: digest(4), size: 900 };
    expect(runnableByContent(body(faked, ['application/vnd.oci.image.layer.v1.tar+gzip']))).toMatchObject({
      runnable: true,
    });
    expect(runnableByContent(body(faked, ['application/octet-stream']))).toMatchObject({ runnable: false });
  });

  it('a layer without a media type, or no layers list, is gated', () => {
    expect(runnableByContent({ config: EMPTY_CONFIG, layers: [{ digest: digest(1), size: 1 }] })).toMatchObject({
      runnable: false, // the empty config decides first: {} has no rootfs
    });
    expect(runnableByContent({ config: IMAGE_CONFIG, layers: [{ digest: digest(1), size: 1 }] })).toMatchObject({
      runnable: true,
    });
    expect(runnableByContent({ config: IMAGE_CONFIG })).toMatchObject({ runnable: true });
  });
});

describe('runnable rule: properties', () => {
  /** Flips the case of some letters of a string. */
  const recased = (s: string) =>
    fc
      .array(fc.boolean(), { minLength: s.length, maxLength: s.length })
      .map((flips) => [...s].map((c, i) => (flips[i] ? c.toUpperCase() : c.toLowerCase())).join(''));
  const runtimeLayer = fc.constantFrom(
    'application/vnd.oci.image.layer.v1.tar',
    'application/vnd.oci.image.layer.v1.tar+gzip',
    'application/vnd.oci.image.layer.v1.tar+zstd',
    'application/vnd.docker.image.rootfs.diff.tar.gzip',
    'application/octet-stream',
    'application/json',
    'text/html',
    '',
  );
  const anyType = fc.oneof(fc.string({ maxLength: 60 }), runtimeLayer);
  const labels = fc.record(
    {
      artifactType: anyType,
      subject: fc.constant({ mediaType: MediaTypes.ociManifest, digest: digest(1), size: 1 }),
      annotations: fc.dictionary(fc.string({ maxLength: 20 }), fc.string({ maxLength: 20 }), { maxKeys: 3 }),
    },
    { requiredKeys: [] },
  );

  it('letter case never matters', () => {
    fc.assert(
      fc.property(
        anyType.chain((t) => fc.tuple(fc.constant(t), recased(t))),
        ([t, r]) => {
          expect(mobyAccepts(r)).toBe(mobyAccepts(t));
          expect(containerdUnpacks(r)).toBe(containerdUnpacks(t));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('an image config with runtime layers (any case) is runnable, whatever artifactType, subject or annotations say', () => {
    fc.assert(
      fc.property(
        fc.array(runtimeLayer.chain(recased), { minLength: 1, maxLength: 4 }),
        fc.array(anyType, { maxLength: 3 }),
        labels,
        (runtimeTypes, others, extra) => {
          // Runtime layers first, then anything: containerd unpacks an OCI/Docker layer, moby the rest.
          const json = body(IMAGE_CONFIG, runtimeTypes, extra);
          const verdict = runnableByContent(json);
          const allMoby = runtimeTypes.every((t) => mobyAccepts(t));
          expect(verdict.runnable).toBe(true);
          expect(allMoby).toBe(true);
          // Adding unknown layers beside an OCI/Docker layer type keeps it runnable (containerd unpacks that one).
          if (runtimeTypes.some((t) => containerdUnpacks(t)))
            expect(runnableByContent(body(IMAGE_CONFIG, [...runtimeTypes, ...others], extra)).runnable).toBe(true);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('artifactType, subject and annotations never change the decision', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.constant(IMAGE_CONFIG),
          fc.constant(EMPTY_CONFIG),
          anyType.map((t) => ({ ...IMAGE_CONFIG, mediaType: t })),
        ),
        fc.array(anyType, { maxLength: 4 }),
        labels,
        (config, layerTypes, extra) => {
          expect(runnableByContent(body(config, layerTypes, extra))).toEqual(
            runnableByContent(body(config, layerTypes)),
          );
        },
      ),
      { numRuns: 400 },
    );
  });
});
