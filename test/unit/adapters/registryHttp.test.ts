/**
 * How the registry client turns HTTP answers into results and GuardError codes: a loopback server answers
 * as a registry would (including badly), and the real client is driven against it. Also HTTPS with a
 * throw-away CA through the `tls.ca` option.
 */
import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import { createRegistryClient, MANIFEST_ACCEPT } from '../../../src/adapters/registry';
import { isGuardError } from '../../../src/core/errors';
import { MediaTypes } from '../../../src/core/types';
import { startHttpsServer } from '../../support/httpsServer';
import { sendJson, startLoopback, type LoopbackServer, type SeenRequest } from '../../support/loopbackHttp';

const MANIFEST = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    config: { mediaType: MediaTypes.ociConfig, digest: `sha256:${'c'.repeat(64)}`, size: 2 },
    layers: [],
  }),
);
const MANIFEST_DIGEST = `sha256:${createHash('sha256').update(MANIFEST).digest('hex')}`;
const OTHER_DIGEST = `sha256:${'d'.repeat(64)}`;

let handler: (req: SeenRequest, res: ServerResponse) => void = (_req, res) => {
  res.writeHead(500).end();
};
let server: LoopbackServer;
beforeAll(async () => {
  server = await startLoopback((req, res) => handler(req, res));
});
afterAll(async () => {
  await server.close();
});

function client(options: { timeoutMs?: number; maxManifestBytes?: number } = {}) {
  return createRegistryClient({ host: server.host, plainHttp: true, ...options });
}

describe('HTTP status → GuardError code', () => {
  it.each([
    [404, {}, 'NOT_FOUND', undefined],
    [401, {}, 'REGISTRY_AUTH', undefined],
    [403, {}, 'REGISTRY_AUTH', undefined],
    [400, {}, 'REGISTRY_REJECTED', undefined],
    [405, {}, 'REGISTRY_REJECTED', undefined],
    [408, {}, 'TRANSIENT', undefined],
    [429, { 'retry-after': '17' }, 'TRANSIENT', 17],
    [429, { 'retry-after': 'soon' }, 'TRANSIENT', undefined],
    [500, {}, 'TRANSIENT', undefined],
    [503, { 'retry-after': '5' }, 'TRANSIENT', 5],
  ])('%i %j → %s (retryAfterSeconds %s)', async (status, headers, code, retryAfterSeconds) => {
    handler = (_req, res) => sendJson(res, status, { errors: [{ code: 'X' }] }, headers);
    const error = await client()
      .getManifest('team/app', 'v1')
      .catch((e: unknown) => e);
    expect(isGuardError(error)).toBe(true);
    expect(error).toMatchObject({ code, status, retryAfterSeconds });
    expect((error as Error).message).toContain(server.host);
    expect((error as Error).message).toContain('team/app');
  });

  it('reports a timeout as TRANSIENT', async () => {
    handler = () => undefined; // never answers
    await expect(client({ timeoutMs: 150 }).getManifest('team/app', 'v1')).rejects.toMatchObject({
      code: 'TRANSIENT',
      message: expect.stringContaining('timed out'),
    });
  });

  it('reports a body that stalls after its headers as TRANSIENT (the time limit covers the body)', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'content-length': '100' });
      res.write('{"schemaVersion":'); // and nothing more
    };
    await expect(client({ timeoutMs: 150 }).getManifest('team/app', 'v1')).rejects.toMatchObject({
      code: 'TRANSIENT',
      message: expect.stringMatching(/reading manifest .*timed out after 150 ms/),
    });
  });

  it('a 404 on delete is done (false), a 202 is deleted (true)', async () => {
    handler = (_req, res) => sendJson(res, 404, { errors: [{ code: 'MANIFEST_UNKNOWN' }] });
    expect(await client().deleteManifest('team/app', MANIFEST_DIGEST)).toBe(false);
    handler = (_req, res) => {
      res.writeHead(202).end();
    };
    expect(await client().deleteManifest('team/app', MANIFEST_DIGEST)).toBe(true);
    expect(server.requests[server.requests.length - 1]).toMatchObject({
      method: 'DELETE',
      path: `/v2/team/app/manifests/${MANIFEST_DIGEST}`,
    });
  });
});

describe('manifests', () => {
  const serve = (body: Buffer, headers: Record<string, string>) => (req: SeenRequest, res: ServerResponse) => {
    // As docker-registry 2.8: without the media types in Accept there is nothing to serve.
    if (!String(req.headers.accept).includes(MediaTypes.ociManifest)) return sendJson(res, 404, {});
    res
      .writeHead(200, { 'content-type': MediaTypes.ociManifest, ...headers })
      .end(req.method === 'HEAD' ? undefined : body);
  };

  it('sends an Accept listing OCI and Docker manifest types, and verifies the digest by digest and by tag', async () => {
    handler = serve(MANIFEST, { 'docker-content-digest': MANIFEST_DIGEST });
    const byDigest = await client().getManifest('team/app', MANIFEST_DIGEST);
    expect(byDigest).toMatchObject({
      digest: MANIFEST_DIGEST,
      mediaType: MediaTypes.ociManifest,
      size: MANIFEST.length,
    });
    expect(String(server.requests[server.requests.length - 1].headers.accept).split(', ')).toEqual(
      MANIFEST_ACCEPT.split(', '),
    );
    expect(MANIFEST_ACCEPT).toContain(MediaTypes.dockerManifestList);
    expect((await client().getManifest('team/app', 'v1')).digest).toBe(MANIFEST_DIGEST);
  });

  it('refuses content that does not match the digest asked for or the digest the registry announced', async () => {
    handler = serve(MANIFEST, { 'docker-content-digest': OTHER_DIGEST });
    await expect(client().getManifest('team/app', OTHER_DIGEST)).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    await expect(client().getManifest('team/app', 'v1')).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
  });

  it('resolves a tag with HEAD, and with GET when HEAD is not allowed or gives no digest', async () => {
    handler = serve(MANIFEST, { 'docker-content-digest': MANIFEST_DIGEST });
    expect(await client().resolveTag('team/app', 'v1')).toBe(MANIFEST_DIGEST);
    expect(server.requests[server.requests.length - 1].method).toBe('HEAD');
    handler = (req, res) => (req.method === 'HEAD' ? res.writeHead(405).end() : serve(MANIFEST, {})(req, res));
    expect(await client().resolveTag('team/app', 'v1')).toBe(MANIFEST_DIGEST);
    expect(server.requests[server.requests.length - 1].method).toBe('GET');
  });

  it('stops reading past maxManifestBytes, declared or streamed', async () => {
    const big = Buffer.alloc(4096, 0x20);
    handler = serve(big, {});
    await expect(client({ maxManifestBytes: 1024 }).getManifest('team/app', 'v1')).rejects.toMatchObject({
      code: 'MALFORMED',
      message: expect.stringContaining('1024-byte limit'),
    });
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': MediaTypes.ociManifest, 'transfer-encoding': 'chunked' });
      res.write(big);
      res.end(big);
    };
    await expect(client({ maxManifestBytes: 1024 }).getManifest('team/app', 'v1')).rejects.toMatchObject({
      code: 'MALFORMED',
    });
  });

  it('stops a streamed body with no declared length at the bound, not after reading it whole', async () => {
    // A chunked body (no Content-Length) of up to 64 MiB: the client must stop reading once it passes the bound.
    let sent = 0;
    let closed: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (closed = resolve));
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': MediaTypes.ociManifest, 'transfer-encoding': 'chunked' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const more = (): void => {
        if (res.destroyed || sent >= 64 * 1024 * 1024) {
          res.end();
          closed();
          return;
        }
        sent += chunk.length;
        if (res.write(chunk)) setImmediate(more);
        else res.once('drain', more);
      };
      res.on('close', closed);
      more();
    };
    await expect(client({ maxManifestBytes: 1024 }).getManifest('team/app', 'v1')).rejects.toMatchObject({
      code: 'MALFORMED',
      message: expect.stringContaining('1024-byte limit'),
    });
    await done;
    expect(sent).toBeLessThan(16 * 1024 * 1024);
  });

  it('counts what comes out of a compressed body, not its declared length', async () => {
    // 1 MiB of spaces gzips to about 1 KiB: the declared length is under the bound, the body is not.
    const bomb = gzipSync(Buffer.alloc(1024 * 1024, 0x20));
    expect(bomb.length).toBeLessThan(4096);
    handler = (_req, res) => {
      res.writeHead(200, {
        'content-type': MediaTypes.ociManifest,
        'content-encoding': 'gzip',
        'content-length': String(bomb.length),
      });
      res.end(bomb);
    };
    await expect(client({ maxManifestBytes: 4096 }).getManifest('team/app', 'v1')).rejects.toMatchObject({
      code: 'MALFORMED',
      message: expect.stringContaining('4096-byte limit'),
    });
  });

  it('reads no more than a declared length, and a body cut short of it is TRANSIENT', async () => {
    // A registry that sends more than it declares: the client reads what was declared (the digest then fails).
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': MediaTypes.ociManifest, 'content-length': String(MANIFEST.length) });
      res.end(Buffer.concat([MANIFEST, Buffer.alloc(8192, 0x20)]));
    };
    expect((await client({ maxManifestBytes: 1024 }).getManifest('team/app', MANIFEST_DIGEST)).digest).toBe(
      MANIFEST_DIGEST,
    );
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': MediaTypes.ociManifest, 'content-length': String(MANIFEST.length + 50) });
      res.write(MANIFEST);
      setTimeout(() => res.destroy(), 20);
    };
    await expect(client().getManifest('team/app', MANIFEST_DIGEST)).rejects.toMatchObject({ code: 'TRANSIENT' });
  });

  it('answers MALFORMED for a manifest that is not a JSON object', async () => {
    for (const body of ['not json', '[1,2]', '"text"']) {
      const bytes = Buffer.from(body);
      handler = serve(bytes, {});
      await expect(client().getManifest('team/app', 'v1')).rejects.toMatchObject({ code: 'MALFORMED' });
    }
  });

  it('refuses a put when the registry reports a digest other than that of the bytes sent', async () => {
    handler = (_req, res) => {
      res.writeHead(201, { 'docker-content-digest': OTHER_DIGEST }).end();
    };
    await expect(client().putManifest('team/app', 'v1', MANIFEST, MediaTypes.ociManifest)).rejects.toMatchObject({
      code: 'DIGEST_MISMATCH',
    });
    handler = (_req, res) => {
      res.writeHead(201, { 'docker-content-digest': MANIFEST_DIGEST }).end();
    };
    expect(await client().putManifest('team/app', 'v1', MANIFEST, MediaTypes.ociManifest)).toBe(MANIFEST_DIGEST);
    const put = server.requests[server.requests.length - 1];
    expect(put).toMatchObject({ method: 'PUT', path: '/v2/team/app/manifests/v1' });
    expect(put.headers['content-type']).toBe(MediaTypes.ociManifest);
    expect(put.body.equals(MANIFEST)).toBe(true);
    // By digest, bytes that do not match are refused before sending.
    const before = server.requests.length;
    await expect(
      client().putManifest('team/app', OTHER_DIGEST, MANIFEST, MediaTypes.ociManifest),
    ).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    expect(server.requests.length).toBe(before);
  });
});

describe('blobs and listings', () => {
  it('verifies blob digests and refuses an upload Location on another host', async () => {
    handler = (_req, res) => {
      res.writeHead(200).end('tampered');
    };
    await expect(client().getBlob('team/app', OTHER_DIGEST)).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    handler = (req, res) => {
      if (req.method === 'HEAD') return res.writeHead(404).end();
      res.writeHead(202, { location: 'http://evil.example:1/upload?x=1' }).end();
    };
    await expect(client().putBlob('team/app', Buffer.from('layer'))).rejects.toMatchObject({
      code: 'REGISTRY_REJECTED',
    });
  });

  it('answers MALFORMED for a tag list that is not JSON, and reads the Link continuation', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('<html>');
    };
    await expect(client().listTags('team/app')).rejects.toMatchObject({ code: 'MALFORMED' });
    handler = (_req, res) =>
      sendJson(
        res,
        200,
        { name: 'team/app', tags: ['a', 'b'] },
        { link: '</v2/team/app/tags/list?last=b&n=2>; rel="next"' },
      );
    expect(await client().listTags('team/app', { pageSize: 2 })).toEqual({ items: ['a', 'b'], next: 'b' });
    handler = (_req, res) => sendJson(res, 200, { repositories: ['x/y'] });
    expect(await client().listRepositories({ pageSize: 2, last: 'team/app' })).toEqual({
      items: ['x/y'],
      next: undefined,
    });
    const last = server.requests[server.requests.length - 1];
    expect([last.path, last.query.get('n'), last.query.get('last')]).toEqual(['/v2/_catalog', '2', 'team/app']);
  });

  it('refuses a page size that is not an integer from 1 to 10000 before any request', async () => {
    const before = server.requests.length;
    for (const n of [0, -1, 2.5, 10_001, Number.NaN]) {
      await expect(client().listTags('team/app', { pageSize: n })).rejects.toMatchObject({
        code: 'INVALID_INPUT',
        field: 'pageSize',
      });
      await expect(client().listRepositories({ pageSize: n })).rejects.toMatchObject({
        code: 'INVALID_INPUT',
        field: 'pageSize',
      });
    }
    await expect(client().listTags('team/app', { last: '../x' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    expect(server.requests.length).toBe(before);
  });

  it('refuses a referrers page link that leaves the listing', async () => {
    handler = (_req, res) =>
      sendJson(
        res,
        200,
        { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [] },
        { 'content-type': MediaTypes.ociIndex, link: '<http://evil.example:1/v2/x/referrers/y>; rel="next"' },
      );
    await expect(client().listReferrers('team/app', MANIFEST_DIGEST)).rejects.toMatchObject({
      code: 'LISTING_INVALID',
    });
  });
});

describe('https with a throw-away CA (tls.ca)', () => {
  it('trusts the given CA, distrusts it otherwise, and drops credentials on a redirect to another origin', async () => {
    const other = await startHttpsServer();
    const https = await startHttpsServer();
    try {
      other.route('GET', /^\/blob$/, () => ({ status: 200, body: Buffer.from('layer') }));
      const blobDigest = `sha256:${createHash('sha256').update('layer').digest('hex')}`;
      const basic = `Basic ${Buffer.from('u:p').toString('base64')}`;
      const challenge = { status: 401, headers: { 'www-authenticate': 'Basic realm="test"' } };
      https.route('GET', /^\/v2\/team\/app\/manifests\//, (req) =>
        req.headers.authorization === basic
          ? {
              status: 200,
              headers: { 'content-type': MediaTypes.ociManifest, 'docker-content-digest': MANIFEST_DIGEST },
              body: MANIFEST,
            }
          : challenge,
      );
      // Registries (ACR among them) redirect blob downloads to storage on another host.
      https.route('GET', /^\/v2\/team\/app\/blobs\//, (req) =>
        req.headers.authorization === basic ? { status: 307, headers: { location: `${other.url}/blob` } } : challenge,
      );
      const host = new URL(https.url).host;

      const trusting = createRegistryClient({ host, tls: { ca: https.ca }, basic: { username: 'u', password: 'p' } });
      expect((await trusting.getManifest('team/app', 'v1')).digest).toBe(MANIFEST_DIGEST);
      expect((await trusting.getBlob('team/app', blobDigest)).toString()).toBe('layer');
      expect(other.requests).toHaveLength(1);
      // Basic is sent once asked for, then up front.
      expect(https.requests.map((r) => r.headers.authorization)).toEqual([undefined, basic, basic]);
      expect(other.requests[0].headers.authorization).toBeUndefined();

      const distrusting = createRegistryClient({ host, timeoutMs: 2000 });
      await expect(distrusting.getManifest('team/app', 'v1')).rejects.toMatchObject({ code: 'TRANSIENT' });
    } finally {
      await https.close();
      await other.close();
    }
  });
});
