/**
 * The registry client's bearer-token authentication against a loopback registry that enforces the Docker
 * token contract (test/support/tokenRegistry.ts): scopes per operation, basic credentials at the realm,
 * token caching and renewal, hostile realms, and the referrers API with paging.
 */
import { createRegistryClient } from '../../../src/adapters/registry';
import { parseBearerChallenge } from '../../../src/adapters/registry/auth';
import { MediaTypes } from '../../../src/core/types';
import { pushArtifact, pushImage } from '../../../src/local/ociPush';
import { startLoopback, type LoopbackServer } from '../../support/loopbackHttp';
import { startTokenRegistry, type TokenRegistry } from '../../support/tokenRegistry';

const servers: Array<{ close(): Promise<void> }> = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function tokenRegistry(options: Parameters<typeof startTokenRegistry>[0] = {}): Promise<TokenRegistry> {
  const server = await startTokenRegistry(options);
  servers.push(server);
  return server;
}

describe('parseBearerChallenge', () => {
  it.each([
    [
      'Bearer realm="https://r.io/token",service="r.io",scope="repository:a:pull"',
      { realm: 'https://r.io/token', service: 'r.io', scope: 'repository:a:pull' },
    ],
    [
      'bearer scope="repository:a:pull,push", realm="https://r.io/oauth2/token"',
      { realm: 'https://r.io/oauth2/token', service: undefined, scope: 'repository:a:pull,push' },
    ],
    ['Basic realm="r.io"', undefined],
    ['Bearer service="r.io"', undefined],
    ['', undefined],
  ])('%j', (header, expected) => {
    expect(parseBearerChallenge(header)).toEqual(expected);
  });
});

describe('bearer token authentication', () => {
  it('gets a token per operation scope, caches it, and pushes and pulls with it', async () => {
    const reg = await tokenRegistry();
    const client = createRegistryClient({ host: reg.host, plainHttp: true });
    const image = await pushImage(client, 'team/app', { tag: 'v1' });
    expect(await client.resolveTag('team/app', 'v1')).toBe(image.digest);
    expect((await client.getManifest('team/app', image.digest)).digest).toBe(image.digest);
    const tokenRequests = reg.requests.filter((r) => r.path === '/token');
    // One token for push (blobs + manifest) and one for pull, whatever the number of requests.
    expect(reg.issued.map((i) => i.scopes)).toEqual([
      ['repository:team/app:pull'],
      ['repository:team/app:pull,push', 'repository:team/app:push'],
    ]);
    expect(tokenRequests.every((r) => r.query.get('service') === reg.host)).toBe(true);
    const before = reg.requests.length;
    await client.getManifest('team/app', 'v1');
    // Cached: one request, sent with the token straight away.
    expect(reg.requests.length - before).toBe(1);
    expect(reg.requests[reg.requests.length - 1].headers.authorization).toMatch(/^Bearer t\d+$/);
  });

  it('asks for both repositories when mounting, and copies the blob when the registry does not mount (202)', async () => {
    const reg = await tokenRegistry();
    const client = createRegistryClient({ host: reg.host, plainHttp: true });
    const digest = await client.putBlob('src/app', Buffer.from('layer bytes'));
    await client.mountBlob('dst/app', digest, 'src/app');
    expect((await client.getBlob('dst/app', digest)).toString()).toBe('layer bytes');
    expect(
      reg.issued.some(
        (i) => i.scopes.includes('repository:dst/app:pull,push') && i.scopes.includes('repository:src/app:pull'),
      ),
    ).toBe(true);
    const mountPost = reg.requests.find((r) => r.method === 'POST' && r.query.get('mount') === digest);
    expect(mountPost?.path).toBe('/v2/dst/app/blobs/uploads/');
    expect(mountPost?.query.get('from')).toBe('src/app');
    // Idempotent: a blob already there is not uploaded again.
    const before = reg.requests.filter((r) => r.method === 'PUT').length;
    await client.mountBlob('dst/app', digest, 'src/app');
    expect(reg.requests.filter((r) => r.method === 'PUT').length).toBe(before);
  });

  it('sends basic credentials to the token realm, and reports wrong ones as REGISTRY_AUTH without the password', async () => {
    const reg = await tokenRegistry({ users: { robot: 's3cret-pw' } });
    const good = createRegistryClient({
      host: reg.host,
      plainHttp: true,
      basic: { username: 'robot', password: 's3cret-pw' },
    });
    await pushImage(good, 'team/app', { tag: 'v1' });
    expect(reg.issued.every((i) => i.user === 'robot')).toBe(true);

    const bad = createRegistryClient({
      host: reg.host,
      plainHttp: true,
      basic: { username: 'robot', password: 'wrong-pw-123' },
    });
    const error = (await bad.getManifest('team/app', 'v1').catch((e: unknown) => e)) as Error & {
      code: string;
      status: number;
    };
    expect(error).toMatchObject({ code: 'REGISTRY_AUTH', status: 401 });
    expect(error.message).toContain(reg.host);
    expect(error.message).not.toContain('wrong-pw-123');
    expect(JSON.stringify(error)).not.toContain('wrong-pw-123');
  });

  it('gets a new token when the registry stops accepting a cached one', async () => {
    const reg = await tokenRegistry();
    const client = createRegistryClient({ host: reg.host, plainHttp: true });
    await pushImage(client, 'team/app', { tag: 'v1' });
    await client.getManifest('team/app', 'v1');
    const issuedBefore = reg.issued.length;
    reg.revokeTokens();
    await client.getManifest('team/app', 'v1');
    expect(reg.issued.length).toBe(issuedBefore + 1);
  });

  it('renews a token once its expires_in (less a safety margin) has passed', async () => {
    // expires_in 30 s is within the 30 s margin: never reused, so each operation asks again.
    const reg = await tokenRegistry({ expiresIn: 30 });
    const client = createRegistryClient({ host: reg.host, plainHttp: true });
    await pushImage(client, 'team/app', { tag: 'v1' });
    const issuedBefore = reg.issued.length;
    await client.getManifest('team/app', 'v1');
    await client.getManifest('team/app', 'v1');
    expect(reg.issued.length).toBe(issuedBefore + 2);
  });

  it('never sends credentials to a realm on another host, and never to an http realm elsewhere', async () => {
    const harvester: LoopbackServer = await startLoopback((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"harvested"}');
    });
    servers.push(harvester);
    const reg = await tokenRegistry({ realm: `http://${harvester.host}/token` });
    const withCreds = createRegistryClient({
      host: reg.host,
      plainHttp: true,
      basic: { username: 'robot', password: 'pw-never-leaves' },
    });
    await expect(withCreds.getManifest('team/app', 'v1')).rejects.toMatchObject({ code: 'REGISTRY_AUTH' });
    const anonymous = createRegistryClient({ host: reg.host, plainHttp: true });
    await expect(anonymous.getManifest('team/app', 'v1')).rejects.toMatchObject({ code: 'REGISTRY_AUTH' });
    expect(harvester.requests).toEqual([]);
  });

  it('rejects a realm that is not a URL', async () => {
    const reg = await tokenRegistry({ realm: 'not a url' });
    const client = createRegistryClient({ host: reg.host, plainHttp: true });
    await expect(client.getManifest('team/app', 'v1')).rejects.toMatchObject({ code: 'REGISTRY_AUTH' });
  });
});

describe('referrers API', () => {
  it('follows Link pages, asks the registry to filter and filters again itself', async () => {
    const reg = await tokenRegistry({ referrersPageSize: 2 });
    const client = createRegistryClient({ host: reg.host, plainHttp: true });
    const image = await pushImage(client, 'team/app', { tag: 'v1' });
    const pushed = [];
    for (let i = 0; i < 5; i++) {
      pushed.push(
        await pushArtifact(client, 'team/app', {
          subject: image,
          artifactType: i % 2 ? MediaTypes.sarif : MediaTypes.cyclonedx,
          blob: Buffer.from(`report ${i}`),
          blobMediaType: 'application/json',
        }),
      );
    }
    const before = reg.requests.length;
    const all = await client.listReferrers('team/app', image.digest);
    expect(all.map((d) => d.digest).sort()).toEqual(pushed.map((p) => p.digest).sort());
    const referrerCalls = reg.requests.slice(before).filter((r) => r.path.startsWith('/v2/team/app/referrers/'));
    expect(referrerCalls.length).toBe(3); // 2 + 2 + 1
    // The API answered: the tag schema was not read.
    expect(reg.requests.slice(before).some((r) => r.path.includes('/manifests/sha256-'))).toBe(false);

    const sarif = await client.listReferrers('team/app', image.digest, MediaTypes.sarif);
    expect(sarif.map((d) => d.digest).sort()).toEqual([pushed[1].digest, pushed[3].digest].sort());
    expect(sarif.every((d) => d.artifactType === MediaTypes.sarif)).toBe(true);
    expect(reg.requests[reg.requests.length - 1].query.get('artifactType')).toBe(MediaTypes.sarif);
  });

  it('falls back to the tag schema when the API answers 404, and then stops asking the API', async () => {
    const reg = await tokenRegistry({ referrersApi: false });
    const client = createRegistryClient({ host: reg.host, plainHttp: true });
    const image = await pushImage(client, 'team/app', { tag: 'v1' });
    const sig = await pushArtifact(client, 'team/app', {
      subject: image,
      artifactType: MediaTypes.notarySignature,
      blob: Buffer.from('sig'),
      blobMediaType: 'application/jose+json',
    });
    expect((await client.listReferrers('team/app', image.digest)).map((d) => d.digest)).toEqual([sig.digest]);
    const before = reg.requests.length;
    expect((await client.listReferrers('team/app', image.digest)).map((d) => d.digest)).toEqual([sig.digest]);
    expect(reg.requests.slice(before).some((r) => r.path.includes('/referrers/'))).toBe(false);
  });
});

describe('tag listing', () => {
  it('pages 5 tags 2 at a time through n, last and Link', async () => {
    const reg = await tokenRegistry();
    const client = createRegistryClient({ host: reg.host, plainHttp: true });
    for (let i = 0; i < 5; i++) await pushImage(client, 'team/paged', { tag: `t${i}`, seed: String(i) });
    const pages: string[][] = [];
    let last: string | undefined;
    do {
      const page = await client.listTags('team/paged', { pageSize: 2, last });
      pages.push(page.items);
      last = page.next;
    } while (last);
    expect(pages).toEqual([['t0', 't1'], ['t2', 't3'], ['t4']]);
    const listCalls = reg.requests.filter((r) => r.path === '/v2/team/paged/tags/list');
    expect(listCalls.map((r) => [r.query.get('n'), r.query.get('last')])).toEqual(
      expect.arrayContaining([
        ['2', null],
        ['2', 't1'],
        ['2', 't3'],
      ]),
    );
  });
});
