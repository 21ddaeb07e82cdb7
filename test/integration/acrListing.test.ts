/**
 * ACR's `/acr/v1/<repo>/_manifests` listing through the real registry client, against a local HTTPS server
 * speaking that contract: a Bearer challenge for `repository:<repo>:metadata_read`, the token from the realm
 * (Docker token spec, basic credentials), pages of `n` manifests linked by `Link: <…?last=<digest>&n=…>;
 * rel="next"`, each manifest with digest, imageSize, createdTime, lastUpdateTime, mediaType, tags, references
 * (indexes) and changeableAttributes. Then the plan made from it.
 */
import { createRegistryClient } from '../../src/adapters/registry';
import { listRepositoryManifests } from '../../src/adapters/registry/manifestListing';
import { planPurge } from '../../src/core/purge/plan';
import { MediaTypes } from '../../src/core/types';
import {
  startHttpsServer,
  type RecordedRequest,
  type RouteResponse,
  type TestHttpsServer,
} from '../support/httpsServer';

const d = (c: string): string => `sha256:${c.repeat(64)}`;
const SIGNATURE = {
  schemaVersion: 2,
  mediaType: MediaTypes.ociManifest,
  artifactType: MediaTypes.notarySignature,
  config: {
    mediaType: MediaTypes.ociEmpty,
    digest: `sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a`,
    size: 2,
  },
  layers: [],
  subject: { mediaType: MediaTypes.ociManifest, digest: d('1'), size: 500 },
};

function manifests(sigDigest: string): Array<Record<string, unknown>> {
  const attrs = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    deleteEnabled: true,
    writeEnabled: true,
    readEnabled: true,
    listEnabled: true,
    ...extra,
  });
  return [
    {
      digest: d('1'),
      imageSize: 1000,
      createdTime: '2026-01-01T00:00:00Z',
      lastUpdateTime: '2026-01-02T00:00:00Z',
      mediaType: MediaTypes.ociManifest,
      tags: ['v1'],
      changeableAttributes: attrs(),
    },
    {
      digest: d('2'),
      imageSize: 2000,
      createdTime: '2026-01-03T00:00:00Z',
      lastUpdateTime: '2026-01-03T00:00:00Z',
      mediaType: MediaTypes.ociManifest,
      tags: ['v2'],
      changeableAttributes: attrs({ deleteEnabled: false }),
    },
    {
      digest: d('3'),
      imageSize: 3000,
      createdTime: '2026-01-04T00:00:00Z',
      lastUpdateTime: '2026-01-04T00:00:00Z',
      mediaType: MediaTypes.ociIndex,
      tags: ['multi'],
      references: [{ digest: d('4'), architecture: 'amd64', os: 'linux' }],
      changeableAttributes: attrs(),
    },
    {
      digest: d('4'),
      imageSize: 4000,
      createdTime: '2026-01-04T00:00:00Z',
      lastUpdateTime: '2026-01-04T00:00:00Z',
      mediaType: MediaTypes.ociManifest,
      architecture: 'amd64',
      os: 'linux',
      changeableAttributes: attrs(),
    },
    {
      digest: sigDigest,
      imageSize: 10,
      createdTime: '2026-01-01T00:00:00Z',
      lastUpdateTime: '2026-01-01T00:00:00Z',
      mediaType: MediaTypes.ociManifest,
      tags: null,
      changeableAttributes: attrs(),
    },
    {
      digest: d('6'),
      imageSize: 600,
      createdTime: '2026-11-29T00:00:00Z',
      lastUpdateTime: '2026-11-29T00:00:00Z',
      mediaType: MediaTypes.ociManifest,
      tags: ['v6'],
      changeableAttributes: attrs({ writeEnabled: false }),
    },
  ];
}

describe('ACR manifest listing (/acr/v1/<repo>/_manifests) through the real client', () => {
  let server: TestHttpsServer;
  const sigBytes = Buffer.from(JSON.stringify(SIGNATURE));
  let sigDigest = '';
  const tokens = new Map<string, string>();

  beforeAll(async () => {
    const { digestOf } = await import('../../src/adapters/registry');
    sigDigest = digestOf(sigBytes);
    server = await startHttpsServer();
    const host = new URL(server.url).host;
    const authorised = (req: RecordedRequest, scope: string): boolean =>
      tokens.get(String(req.headers.authorization ?? '').replace(/^Bearer /, '')) === scope;
    const challenge = (scope: string): RouteResponse => ({
      status: 401,
      headers: { 'www-authenticate': `Bearer realm="${server.url}/oauth2/token",service="${host}",scope="${scope}"` },
      body: { errors: [{ code: 'UNAUTHORIZED' }] },
    });
    server.route('GET', '/oauth2/token', (req) => {
      if (req.headers.authorization !== `Basic ${Buffer.from('puller:secret').toString('base64')}`)
        return { status: 401, body: {} };
      const token = `t${tokens.size}`;
      tokens.set(token, String(req.query.get('scope')));
      return { status: 200, body: { access_token: token } };
    });
    server.route('GET', '/acr/v1/team/api/_manifests', (req) => {
      if (!authorised(req, 'repository:team/api:metadata_read')) return challenge('repository:team/api:metadata_read');
      const all = manifests(sigDigest).sort((a, b) => String(a.digest).localeCompare(String(b.digest)));
      const n = Number(req.query.get('n') ?? 100);
      const last = req.query.get('last');
      const start = last ? all.findIndex((m) => String(m.digest) > last) : 0;
      const page = start < 0 ? [] : all.slice(start, start + n);
      const more = start >= 0 && start + n < all.length;
      const headers: Record<string, string> = more
        ? {
            link: `</acr/v1/team/api/_manifests?last=${String(page[page.length - 1].digest)}&n=${n}&orderby=>; rel="next"`,
          }
        : {};
      return { status: 200, headers, body: { registry: host, imageName: 'team/api', manifests: page } };
    });
    server.route('GET', `/v2/team/api/manifests/${sigDigest}`, (req) => {
      if (!authorised(req, 'repository:team/api:pull')) return challenge('repository:team/api:pull');
      return {
        status: 200,
        headers: { 'content-type': MediaTypes.ociManifest, 'docker-content-digest': sigDigest },
        body: sigBytes,
      };
    });
  });
  afterAll(async () => {
    await server.close();
  });

  it('pages through the listing, reads times, sizes, locks and references, and finds the referrer by its body', async () => {
    const client = createRegistryClient({
      host: new URL(server.url).host,
      acr: true,
      basic: { username: 'puller', password: 'secret' },
      tls: { ca: server.ca },
    });
    const listed = await listRepositoryManifests(client, 'team/api', { pageSize: 2 });
    const pages = server.requests.filter(
      (r) =>
        r.path === '/acr/v1/team/api/_manifests' &&
        tokens.has(String(r.headers.authorization ?? '').replace(/^Bearer /, '')),
    );
    expect(pages.map((r) => r.query.get('last') ?? '')).toEqual([
      '',
      expect.stringMatching(/^sha256:/),
      expect.stringMatching(/^sha256:/),
    ]);
    expect(pages.every((r) => r.query.get('n') === '2')).toBe(true);
    const byDigest = new Map(listed.map((m) => [m.digest, m]));
    expect(listed).toHaveLength(6);
    expect(byDigest.get(d('1'))).toEqual({
      digest: d('1'),
      tags: ['v1'],
      mediaType: MediaTypes.ociManifest,
      createdMs: Date.parse('2026-01-01T00:00:00Z'),
      updatedMs: Date.parse('2026-01-02T00:00:00Z'),
      size: 1000,
    });
    expect(byDigest.get(d('2'))?.locked).toBe(true);
    expect(byDigest.get(d('6'))?.locked).toBe(true);
    expect(byDigest.get(d('3'))?.children).toEqual([d('4')]);
    expect(byDigest.get(sigDigest)?.subject).toBe(d('1'));
    // Only the body of the untagged manifest no index references was read (the platform manifest was not).
    const bodies = server.requests.filter(
      (r) => r.path.startsWith('/v2/') && tokens.has(String(r.headers.authorization ?? '').replace(/^Bearer /, '')),
    );
    expect(bodies.map((r) => r.path)).toEqual([`/v2/team/api/manifests/${sigDigest}`]);

    const plan = planPurge({
      repository: 'team/api',
      manifests: listed,
      rule: {
        scope: 'team/*',
        olderThanMs: 30 * 86_400_000,
        untagged: true,
        protectInUse: true,
        includeLocked: false,
        index: 0,
      },
      inUse: [],
      nowMs: Date.parse('2026-11-30T00:00:00Z'),
    });
    // Wave 0: the signature and the index; then v1 (after its signature) and the platform manifest (after its index).
    expect(plan.deletes.map((e) => [e.digest, e.reason, e.wave])).toEqual([
      [d('3'), 'rule', 0],
      [sigDigest, 'referrer-of-deleted-subject', 0],
      [d('1'), 'rule', 1],
      [d('4'), 'child-of-deleted-index', 1],
    ]);
    expect(plan.keeps.map((k) => [k.digest, k.reason]).sort()).toEqual([
      [d('2'), 'locked'],
      [d('6'), 'locked'],
    ]);
    expect(plan.deletes.reduce((n, e) => n + (e.size ?? 0), 0)).toBe(8010);
  });

  /** A cosign signature as cosign lays it out: image config, simple-signing layer, no `subject`. */
  /** cosign's simple-signing payload: it names the signed digest (what ties the signature to its image). */
  const cosignPayload = (subject: string): Buffer =>
    Buffer.from(
      JSON.stringify({
        critical: {
          identity: { 'docker-reference': 'team/signed' },
          image: { 'docker-manifest-digest': subject },
          type: 'cosign container image signature',
        },
        optional: null,
      }),
    );
  const cosignBody = (subject: string, payloadDigest: string): Buffer =>
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.ociManifest,
        config: { mediaType: MediaTypes.ociConfig, digest: d('9'), size: 233 },
        layers: [
          {
            mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
            digest: payloadDigest,
            size: cosignPayload(subject).length,
            annotations: { 'dev.cosignproject.cosign/signature': Buffer.from(`sig of ${subject}`).toString('base64') },
          },
        ],
      }),
    );

  it('cosign .sig/.att tags are read, tied to their subject by their payload, and follow it; missing lock attributes count as locked', async () => {
    const { digestOf } = await import('../../src/adapters/registry');
    const host = new URL(server.url).host;
    const payloads = new Map([d('a'), d('b')].map((s) => [digestOf(cosignPayload(s)), cosignPayload(s)]));
    const sigA = cosignBody(d('a'), digestOf(cosignPayload(d('a'))));
    const attB = cosignBody(d('b'), digestOf(cosignPayload(d('b'))));
    const bodies = new Map([
      [digestOf(sigA), sigA],
      [digestOf(attB), attB],
    ]);
    const full = { deleteEnabled: true, writeEnabled: true, readEnabled: true, listEnabled: true };
    const item = (
      digest: string,
      tags: string[],
      created: string,
      extra: Record<string, unknown> = { changeableAttributes: full },
    ): Record<string, unknown> => ({
      digest,
      imageSize: 100,
      createdTime: created,
      lastUpdateTime: created,
      mediaType: MediaTypes.ociManifest,
      tags,
      ...extra,
    });
    const tagOf = (subject: string, suffix: string): string => `${subject.replace(':', '-')}.${suffix}`;
    const items = [
      item(d('a'), ['v1'], '2026-01-01T00:00:00Z'),
      item(d('b'), ['v2'], '2026-01-02T00:00:00Z'),
      item(d('c'), ['v3'], '2026-01-03T00:00:00Z', {}), // no changeableAttributes at all
      item(d('e'), ['v4'], '2026-01-04T00:00:00Z', {
        changeableAttributes: { deleteEnabled: true, readEnabled: true },
      }), // no writeEnabled
      item(d('f'), ['v5'], '2026-06-01T00:00:00Z'),
      item(digestOf(sigA), [tagOf(d('a'), 'sig')], '2026-01-05T00:00:00Z'),
      // Attested yesterday: the newest tagged manifest, which must not take v5's place among the `keep` 1.
      item(digestOf(attB), [tagOf(d('b'), 'att')], '2026-11-29T00:00:00Z'),
    ];
    server.route('GET', '/acr/v1/team/signed/_manifests', (req): RouteResponse => {
      if (
        tokens.get(String(req.headers.authorization ?? '').replace(/^Bearer /, '')) !==
        'repository:team/signed:metadata_read'
      ) {
        return {
          status: 401,
          headers: {
            'www-authenticate': `Bearer realm="${server.url}/oauth2/token",service="${host}",scope="repository:team/signed:metadata_read"`,
          },
          body: {},
        };
      }
      return { status: 200, body: { registry: host, imageName: 'team/signed', manifests: items } };
    });
    for (const [digest, bytes] of bodies) {
      server.route('GET', `/v2/team/signed/manifests/${digest}`, (req): RouteResponse => {
        if (
          tokens.get(String(req.headers.authorization ?? '').replace(/^Bearer /, '')) !== 'repository:team/signed:pull'
        ) {
          return {
            status: 401,
            headers: {
              'www-authenticate': `Bearer realm="${server.url}/oauth2/token",service="${host}",scope="repository:team/signed:pull"`,
            },
            body: {},
          };
        }
        return {
          status: 200,
          headers: { 'content-type': MediaTypes.ociManifest, 'docker-content-digest': digest },
          body: bytes,
        };
      });
    }
    for (const [digest, bytes] of payloads) {
      server.route('GET', `/v2/team/signed/blobs/${digest}`, (req): RouteResponse => {
        if (
          tokens.get(String(req.headers.authorization ?? '').replace(/^Bearer /, '')) !== 'repository:team/signed:pull'
        ) {
          return {
            status: 401,
            headers: {
              'www-authenticate': `Bearer realm="${server.url}/oauth2/token",service="${host}",scope="repository:team/signed:pull"`,
            },
            body: {},
          };
        }
        return { status: 200, headers: { 'content-type': 'application/octet-stream' }, body: bytes };
      });
    }
    const client = createRegistryClient({
      host,
      acr: true,
      basic: { username: 'puller', password: 'secret' },
      tls: { ca: server.ca },
    });
    const listed = new Map((await listRepositoryManifests(client, 'team/signed')).map((m) => [m.digest, m]));
    expect(listed.get(digestOf(sigA))?.subject).toBe(d('a'));
    expect(listed.get(digestOf(attB))?.subject).toBe(d('b'));
    expect(listed.get(d('c'))?.locked).toBe(true);
    expect(listed.get(d('e'))?.locked).toBe(true);
    expect(listed.get(d('f'))?.locked).toBeUndefined();
    const read = server.requests.filter(
      (r) =>
        r.path.startsWith('/v2/team/signed/') &&
        tokens.has(String(r.headers.authorization ?? '').replace(/^Bearer /, '')),
    );
    expect(read.map((r) => r.path).sort()).toEqual(
      [
        ...[...bodies.keys()].map((k) => `/v2/team/signed/manifests/${k}`),
        ...[...payloads.keys()].map((k) => `/v2/team/signed/blobs/${k}`),
      ].sort(),
    );

    const plan = planPurge({
      repository: 'team/signed',
      manifests: [...listed.values()],
      rule: {
        scope: 'team/*',
        keep: 1,
        olderThanMs: 30 * 86_400_000,
        untagged: true,
        protectInUse: true,
        includeLocked: false,
        index: 0,
      },
      inUse: [{ digest: d('b'), source: 'containerApps/web' }],
      nowMs: Date.parse('2026-11-30T00:00:00Z'),
    });
    expect(plan.deletes.map((e) => [e.digest, e.reason, e.wave])).toEqual([
      [digestOf(sigA), 'referrer-of-deleted-subject', 0],
      [d('a'), 'rule', 1],
    ]);
    expect(plan.keeps.map((k) => [k.digest, k.reason]).sort()).toEqual(
      [
        [d('b'), 'in-use'],
        [digestOf(attB), 'subject-kept'],
        [d('c'), 'locked'],
        [d('e'), 'locked'],
        [d('f'), 'within-keep'],
      ].sort(),
    );
  });
});
