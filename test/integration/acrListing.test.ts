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
import { startHttpsServer, type RecordedRequest, type RouteResponse, type TestHttpsServer } from '../support/httpsServer';

const d = (c: string): string => `sha256:${c.repeat(64)}`;
const SIGNATURE = { schemaVersion: 2, mediaType: MediaTypes.ociManifest, artifactType: MediaTypes.notarySignature, config: { mediaType: MediaTypes.ociEmpty, digest: `sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a`, size: 2 }, layers: [], subject: { mediaType: MediaTypes.ociManifest, digest: d('1'), size: 500 } };

function manifests(sigDigest: string): Array<Record<string, unknown>> {
  const attrs = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ deleteEnabled: true, writeEnabled: true, readEnabled: true, listEnabled: true, ...extra });
  return [
    { digest: d('1'), imageSize: 1000, createdTime: '2026-01-01T00:00:00Z', lastUpdateTime: '2026-01-02T00:00:00Z', mediaType: MediaTypes.ociManifest, tags: ['v1'], changeableAttributes: attrs() },
    { digest: d('2'), imageSize: 2000, createdTime: '2026-01-03T00:00:00Z', lastUpdateTime: '2026-01-03T00:00:00Z', mediaType: MediaTypes.ociManifest, tags: ['v2'], changeableAttributes: attrs({ deleteEnabled: false }) },
    { digest: d('3'), imageSize: 3000, createdTime: '2026-01-04T00:00:00Z', lastUpdateTime: '2026-01-04T00:00:00Z', mediaType: MediaTypes.ociIndex, tags: ['multi'], references: [{ digest: d('4'), architecture: 'amd64', os: 'linux' }], changeableAttributes: attrs() },
    { digest: d('4'), imageSize: 4000, createdTime: '2026-01-04T00:00:00Z', lastUpdateTime: '2026-01-04T00:00:00Z', mediaType: MediaTypes.ociManifest, architecture: 'amd64', os: 'linux', changeableAttributes: attrs() },
    { digest: sigDigest, imageSize: 10, createdTime: '2026-01-01T00:00:00Z', lastUpdateTime: '2026-01-01T00:00:00Z', mediaType: MediaTypes.ociManifest, tags: null, changeableAttributes: attrs() },
    { digest: d('6'), imageSize: 600, createdTime: '2026-11-29T00:00:00Z', lastUpdateTime: '2026-11-29T00:00:00Z', mediaType: MediaTypes.ociManifest, tags: ['v6'], changeableAttributes: attrs({ writeEnabled: false }) },
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
    const authorised = (req: RecordedRequest, scope: string): boolean => tokens.get(String(req.headers.authorization ?? '').replace(/^Bearer /, '')) === scope;
    const challenge = (scope: string): RouteResponse => ({ status: 401, headers: { 'www-authenticate': `Bearer realm="${server.url}/oauth2/token",service="${host}",scope="${scope}"` }, body: { errors: [{ code: 'UNAUTHORIZED' }] } });
    server.route('GET', '/oauth2/token', (req) => {
      if (req.headers.authorization !== `Basic ${Buffer.from('puller:secret').toString('base64')}`) return { status: 401, body: {} };
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
      const headers: Record<string, string> = more ? { link: `</acr/v1/team/api/_manifests?last=${String(page[page.length - 1].digest)}&n=${n}&orderby=>; rel="next"` } : {};
      return { status: 200, headers, body: { registry: host, imageName: 'team/api', manifests: page } };
    });
    server.route('GET', `/v2/team/api/manifests/${sigDigest}`, (req) => {
      if (!authorised(req, 'repository:team/api:pull')) return challenge('repository:team/api:pull');
      return { status: 200, headers: { 'content-type': MediaTypes.ociManifest, 'docker-content-digest': sigDigest }, body: sigBytes };
    });
  });
  afterAll(async () => {
    await server.close();
  });

  it('pages through the listing, reads times, sizes, locks and references, and finds the referrer by its body', async () => {
    const client = createRegistryClient({ host: new URL(server.url).host, acr: true, basic: { username: 'puller', password: 'secret' }, tls: { ca: server.ca } });
    const listed = await listRepositoryManifests(client, 'team/api', { pageSize: 2 });
    const pages = server.requests.filter((r) => r.path === '/acr/v1/team/api/_manifests' && tokens.has(String(r.headers.authorization ?? '').replace(/^Bearer /, '')));
    expect(pages.map((r) => r.query.get('last') ?? '')).toEqual(['', expect.stringMatching(/^sha256:/), expect.stringMatching(/^sha256:/)]);
    expect(pages.every((r) => r.query.get('n') === '2')).toBe(true);
    const byDigest = new Map(listed.map((m) => [m.digest, m]));
    expect(listed).toHaveLength(6);
    expect(byDigest.get(d('1'))).toEqual({ digest: d('1'), tags: ['v1'], mediaType: MediaTypes.ociManifest, createdMs: Date.parse('2026-01-01T00:00:00Z'), updatedMs: Date.parse('2026-01-02T00:00:00Z'), size: 1000 });
    expect(byDigest.get(d('2'))?.locked).toBe(true);
    expect(byDigest.get(d('6'))?.locked).toBe(true);
    expect(byDigest.get(d('3'))?.children).toEqual([d('4')]);
    expect(byDigest.get(sigDigest)?.subject).toBe(d('1'));
    // Only the body of the untagged manifest no index references was read (the platform manifest was not).
    const bodies = server.requests.filter((r) => r.path.startsWith('/v2/') && tokens.has(String(r.headers.authorization ?? '').replace(/^Bearer /, '')));
    expect(bodies.map((r) => r.path)).toEqual([`/v2/team/api/manifests/${sigDigest}`]);

    const plan = planPurge({ repository: 'team/api', manifests: listed, rule: { scope: 'team/*', olderThanMs: 30 * 86_400_000, untagged: true, protectInUse: true, includeLocked: false, index: 0 }, inUse: [], nowMs: Date.parse('2026-11-30T00:00:00Z') });
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
});
