/**
 * A registry in a sovereign cloud (`*.azurecr.us`, `*.azurecr.cn`) gets the Entra ID credential from the
 * gate's registry factory (src/compose.ts `allowlistedRegistryFactory`), and the client speaks ACR's token
 * exchange with it. Before one `isAcrHost` served the whole code base, the policy chose quarantine for such
 * a host while the factory tested `.azurecr.io` only and sent no credential: the first pull was refused.
 *
 * The login server is a loopback stand-in that enforces ACR's documented contract: `/v2/` answers a Bearer
 * challenge whose realm is the registry itself, `/oauth2/exchange` turns an Entra ID token into a refresh
 * token, `/oauth2/token` turns that into an access token, and only that access token reads the manifest.
 * Requests for `https://<name>.azurecr.<cloud>` reach it through the transport (the client keeps the real
 * host name in every URL, so its realm checks run as in Azure).
 */
import { createHash } from 'node:crypto';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { loadPolicy } from '../../src/core/policy';
import { allowlistedRegistryFactory } from '../../src/app/compose';
import { startLoopback, type LoopbackServer } from '../support/loopbackHttp';

const AAD_TOKEN = 'entra-token-for-acr-guard';
const MANIFEST = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${'c'.repeat(64)}`, size: 2 },
    layers: [],
  }),
);
const DIGEST = `sha256:${createHash('sha256').update(MANIFEST).digest('hex')}`;

/** Starts an ACR contract stand-in for `loginServer`. */
function startAcrStandIn(loginServer: string): Promise<LoopbackServer> {
  const refresh = `refresh-${loginServer}`;
  const access = `access-${loginServer}`;
  return startLoopback((req, res) => {
    const json = (status: number, body: unknown): void =>
      void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.method === 'POST' && req.path === '/oauth2/exchange') {
      const form = new URLSearchParams(req.body.toString());
      const ok =
        form.get('grant_type') === 'access_token' &&
        form.get('service') === loginServer &&
        form.get('access_token') === AAD_TOKEN;
      return ok ? json(200, { refresh_token: refresh }) : json(401, { errors: [{ code: 'UNAUTHORIZED' }] });
    }
    if (req.path === '/oauth2/token') {
      // Anonymous GET (the Docker token spec) gets nothing: this registry has no anonymous pull.
      const form = new URLSearchParams(req.body.toString());
      const ok =
        req.method === 'POST' &&
        form.get('grant_type') === 'refresh_token' &&
        form.get('refresh_token') === refresh &&
        form.get('scope') === 'repository:team/app:pull';
      return ok ? json(200, { access_token: access }) : json(401, { errors: [{ code: 'UNAUTHORIZED' }] });
    }
    if (req.path === '/v2/team/app/manifests/v1') {
      if (req.headers.authorization !== `Bearer ${access}`) {
        res
          .writeHead(401, {
            'www-authenticate': `Bearer realm="https://${loginServer}/oauth2/token",service="${loginServer}",scope="repository:team/app:pull"`,
          })
          .end();
        return;
      }
      res
        .writeHead(200, {
          'content-type': 'application/vnd.oci.image.manifest.v1+json',
          'docker-content-digest': DIGEST,
        })
        .end(MANIFEST);
      return;
    }
    json(404, { errors: [{ code: 'NAME_UNKNOWN' }] });
  });
}

/** Runs `fn` with https requests to `loginServer` carried to the loopback stand-in (the URL the client builds is unchanged). */
async function viaLoopback<T>(loginServer: string, server: LoopbackServer, fn: () => Promise<T>): Promise<T> {
  const real = globalThis.fetch;
  globalThis.fetch = ((input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : input);
    if (url.protocol === 'https:' && url.host === loginServer)
      return real(`http://${server.host}${url.pathname}${url.search}`, init);
    return real(input, init);
  }) as typeof fetch;
  try {
    return await fn();
  } finally {
    globalThis.fetch = real;
  }
}

describe("the gate's registry factory on sovereign-cloud ACR hosts", () => {
  const asked: string[][] = [];
  const credential: TokenCredential = {
    async getToken(scopes: string | string[]): Promise<AccessToken> {
      asked.push(Array.isArray(scopes) ? scopes : [scopes]);
      return { token: AAD_TOKEN, expiresOnTimestamp: Date.now() + 3600_000 };
    },
  };

  it.each(['contoso.azurecr.us', 'contoso.azurecr.cn'])(
    '%s: the client gets the credential and reads through the Entra ID exchange',
    async (loginServer) => {
      const server = await startAcrStandIn(loginServer);
      try {
        asked.length = 0;
        const policy = loadPolicy(`version: 1\ngate: []\nregistries:\n  - host: ${loginServer}\n`, 'inline');
        const factory = allowlistedRegistryFactory({ policy: () => policy, credential });
        // The client is built inside the transport window: it keeps the fetch it finds at construction.
        const manifest = await viaLoopback(loginServer, server, () =>
          factory(loginServer).getManifest('team/app', 'v1'),
        );
        expect(manifest.digest).toBe(DIGEST);
        expect(asked).toEqual([['https://containerregistry.azure.net/.default']]);
        expect(server.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
          'GET /v2/team/app/manifests/v1',
          'POST /oauth2/exchange',
          'POST /oauth2/token',
          'GET /v2/team/app/manifests/v1',
        ]);
      } finally {
        await server.close();
      }
    },
  );

  it('a host that is not ACR never gets the credential (anonymous token request, refused here)', async () => {
    const loginServer = 'registry.example.com';
    const server = await startAcrStandIn(loginServer);
    try {
      asked.length = 0;
      const policy = loadPolicy(`version: 1\ngate: []\nregistries:\n  - host: ${loginServer}\n`, 'inline');
      const factory = allowlistedRegistryFactory({ policy: () => policy, credential });
      await expect(
        viaLoopback(loginServer, server, () => factory(loginServer).getManifest('team/app', 'v1')),
      ).rejects.toMatchObject({ code: 'REGISTRY_AUTH' });
      expect(asked).toEqual([]);
      expect(server.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
        'GET /v2/team/app/manifests/v1',
        'GET /oauth2/token',
      ]);
    } finally {
      await server.close();
    }
  });
});
