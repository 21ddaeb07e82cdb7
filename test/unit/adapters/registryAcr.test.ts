/**
 * ACR's Entra ID token exchange and `/acr/v1` manifest attributes, against a loopback server that speaks
 * ACR's documented contract: `POST /oauth2/exchange` (grant_type=access_token, service, access_token,
 * optional tenant) returns a refresh token; `POST /oauth2/token` (grant_type=refresh_token, service, scope,
 * refresh_token) returns an access token for exactly that scope; `/acr/v1/<repo>/_manifests/<digest>` GET
 * needs `pull`, PATCH needs `metadata_write` and takes only the changeable attributes.
 */
import type { AccessToken, TokenCredential } from '@azure/identity';
import { createRegistryClient } from '../../../src/adapters/registry';
import { ACR_AAD_SCOPE } from '../../../src/adapters/registry/auth';
import { sendJson, startLoopback, type LoopbackServer } from '../../support/loopbackHttp';

const AAD_TOKEN = 'aad.eyJ0ZXN0IjoxfQ.sig';
const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const DIGEST = `sha256:${'a'.repeat(64)}`;
const CHANGEABLE = new Set([
  'deleteEnabled',
  'writeEnabled',
  'readEnabled',
  'listEnabled',
  'quarantineState',
  'quarantineDetails',
]);

interface AcrServer extends LoopbackServer {
  attributes: Map<string, Record<string, unknown>>;
  refreshTokens: Set<string>;
  exchanges: URLSearchParams[];
  tokenForms: URLSearchParams[];
}

/** A credential that hands out a fixed Entra ID token for the ACR scope only (what managed identity does). */
function credential(calls: string[] = []): TokenCredential {
  return {
    async getToken(scopes: string | string[]): Promise<AccessToken> {
      const wanted = Array.isArray(scopes) ? scopes : [scopes];
      calls.push(wanted.join(' '));
      if (!wanted.includes(ACR_AAD_SCOPE)) throw new Error(`unexpected scope ${wanted.join(',')}`);
      return { token: AAD_TOKEN, expiresOnTimestamp: Date.now() + 3600_000 };
    },
  };
}

async function startAcr(): Promise<AcrServer> {
  const attributes = new Map<string, Record<string, unknown>>();
  const refreshTokens = new Set<string>();
  const accessTokens = new Map<string, string>();
  const exchanges: URLSearchParams[] = [];
  const tokenForms: URLSearchParams[] = [];
  let counter = 0;
  let host = '';
  const granted = (authorization: string | undefined, repo: string, action: string): boolean => {
    const scope = accessTokens.get(/^Bearer (\S+)$/.exec(authorization ?? '')?.[1] ?? '');
    return (scope ?? '').split(' ').some((s) => {
      const [type, name, actions] = s.split(':');
      return type === 'repository' && name === repo && (actions ?? '').split(',').includes(action);
    });
  };
  const server = await startLoopback((req, res) => {
    const form = new URLSearchParams(req.body.toString());
    if (req.method === 'POST' && req.path === '/oauth2/exchange') {
      exchanges.push(form);
      if (req.headers['content-type'] !== 'application/x-www-form-urlencoded')
        return sendJson(res, 400, { errors: [{ code: 'UNSUPPORTED_MEDIA' }] });
      if (
        form.get('grant_type') !== 'access_token' ||
        form.get('service') !== host ||
        form.get('access_token') !== AAD_TOKEN
      )
        return sendJson(res, 401, { errors: [{ code: 'UNAUTHORIZED' }] });
      const refresh = `refresh-${++counter}`;
      refreshTokens.add(refresh);
      return sendJson(res, 200, { refresh_token: refresh });
    }
    if (req.method === 'POST' && req.path === '/oauth2/token') {
      tokenForms.push(form);
      if (
        form.get('grant_type') !== 'refresh_token' ||
        form.get('service') !== host ||
        !refreshTokens.has(form.get('refresh_token') ?? '')
      )
        return sendJson(res, 401, { errors: [{ code: 'UNAUTHORIZED' }] });
      const access = `access-${++counter}`;
      accessTokens.set(access, form.get('scope') ?? '');
      return sendJson(res, 200, { access_token: access });
    }
    const m = /^\/acr\/v1\/(.+)\/_manifests\/(sha256:[0-9a-f]{64})$/.exec(req.path);
    if (!m) return sendJson(res, 404, { errors: [{ code: 'NOT_FOUND' }] });
    const [, repo, digest] = m;
    const need = req.method === 'PATCH' ? 'metadata_write' : 'pull';
    if (!granted(req.headers.authorization, repo, need)) {
      res
        .writeHead(401, {
          'www-authenticate': `Bearer realm="http://${host}/oauth2/token",service="${host}",scope="repository:${repo}:${need}"`,
        })
        .end();
      return;
    }
    const key = `${repo}@${digest}`;
    const current = attributes.get(key);
    if (!current) return sendJson(res, 404, { errors: [{ code: 'MANIFEST_UNKNOWN' }] });
    if (req.method === 'PATCH') {
      const patch = JSON.parse(req.body.toString()) as Record<string, unknown>;
      if (Object.keys(patch).some((k) => !CHANGEABLE.has(k)))
        return sendJson(res, 400, { errors: [{ code: 'UNSUPPORTED' }] });
      attributes.set(key, { ...current, ...patch });
    }
    return sendJson(res, 200, {
      registry: host,
      imageName: repo,
      manifest: { digest, createdTime: '2026-01-01T00:00:00Z', changeableAttributes: attributes.get(key) },
    });
  });
  host = server.host;
  return Object.assign(server, { attributes, refreshTokens, exchanges, tokenForms });
}

describe('ACR Entra ID exchange and manifest attributes', () => {
  let acr: AcrServer;
  beforeEach(async () => {
    acr = await startAcr();
    acr.attributes.set(`contoso/api@${DIGEST}`, {
      deleteEnabled: true,
      writeEnabled: true,
      readEnabled: true,
      listEnabled: true,
      quarantineState: 'Quarantined',
    });
  });
  afterEach(async () => {
    await acr.close();
  });

  it('reads and patches quarantine attributes through exchange → token → /acr/v1', async () => {
    const aadCalls: string[] = [];
    const client = createRegistryClient({
      host: acr.host,
      plainHttp: true,
      acr: true,
      credential: credential(aadCalls),
      tenantId: TENANT,
    });
    expect(client.supportsAcrAttributes()).toBe(true);
    expect(await client.getManifestAttributes('contoso/api', DIGEST)).toEqual({
      deleteEnabled: true,
      writeEnabled: true,
      readEnabled: true,
      listEnabled: true,
      quarantineState: 'Quarantined',
      tags: [],
    });
    await client.setManifestAttributes('contoso/api', DIGEST, {
      quarantineState: 'Passed',
      quarantineDetails: '{"decision":"release"}',
    });
    expect(acr.attributes.get(`contoso/api@${DIGEST}`)).toMatchObject({
      quarantineState: 'Passed',
      quarantineDetails: '{"decision":"release"}',
      deleteEnabled: true,
    });
    expect((await client.getManifestAttributes('contoso/api', DIGEST)).quarantineState).toBe('Passed');

    // One Entra ID token and one exchange (the refresh token is cached); one access token per scope.
    expect(aadCalls).toEqual([ACR_AAD_SCOPE]);
    expect(acr.exchanges).toHaveLength(1);
    expect(acr.exchanges[0].get('tenant')).toBe(TENANT);
    expect(acr.tokenForms.map((f) => f.get('scope'))).toEqual([
      'repository:contoso/api:pull',
      'repository:contoso/api:metadata_write',
    ]);
    expect(acr.tokenForms.every((f) => f.get('grant_type') === 'refresh_token' && f.get('service') === acr.host)).toBe(
      true,
    );
  });

  it('sends only the changeable attributes and refuses wrong types before any request', async () => {
    const client = createRegistryClient({ host: acr.host, plainHttp: true, acr: true, credential: credential() });
    await client.setManifestAttributes('contoso/api', DIGEST, {
      quarantineState: 'Passed',
      imageSize: 5,
      tags: ['x'],
    } as never);
    const patch = acr.requests.filter((r) => r.method === 'PATCH').pop();
    expect(JSON.parse(String(patch?.body))).toEqual({ quarantineState: 'Passed' });
    const before = acr.requests.length;
    await expect(
      client.setManifestAttributes('contoso/api', DIGEST, { deleteEnabled: 'no' } as never),
    ).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'attributes.deleteEnabled' });
    expect(acr.requests.length).toBe(before);
  });

  it('exchanges again when the refresh token is no longer accepted', async () => {
    const client = createRegistryClient({ host: acr.host, plainHttp: true, acr: true, credential: credential() });
    await client.getManifestAttributes('contoso/api', DIGEST);
    acr.refreshTokens.clear();
    await client.setManifestAttributes('contoso/api', DIGEST, { quarantineState: 'Passed' });
    expect(acr.exchanges).toHaveLength(2);
  });

  it('maps a missing manifest to NOT_FOUND and a refused exchange to REGISTRY_AUTH, never showing a token', async () => {
    const client = createRegistryClient({ host: acr.host, plainHttp: true, acr: true, credential: credential() });
    await expect(client.getManifestAttributes('contoso/api', `sha256:${'b'.repeat(64)}`)).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    const wrongToken: TokenCredential = {
      getToken: async () => ({ token: 'not-the-right-aad-token', expiresOnTimestamp: Date.now() + 3600_000 }),
    };
    const refused = createRegistryClient({ host: acr.host, plainHttp: true, acr: true, credential: wrongToken });
    const error = (await refused.getManifestAttributes('contoso/api', DIGEST).catch((e: unknown) => e)) as Error & {
      code: string;
    };
    expect(error.code).toBe('REGISTRY_AUTH');
    expect(error.message).toContain('/oauth2/exchange');
    expect(error.message).not.toContain('not-the-right-aad-token');
  });

  it('tells a missing identity (REGISTRY_AUTH) from a failing one (TRANSIENT)', async () => {
    const unavailable: TokenCredential = {
      getToken: async () => {
        throw Object.assign(new Error('ManagedIdentityCredential: no identity endpoint'), {
          name: 'CredentialUnavailableError',
        });
      },
    };
    const failing: TokenCredential = {
      getToken: async () => {
        throw Object.assign(new Error('IMDS answered 503'), { name: 'AuthenticationError' });
      },
    };
    await expect(
      createRegistryClient({
        host: acr.host,
        plainHttp: true,
        acr: true,
        credential: unavailable,
      }).getManifestAttributes('contoso/api', DIGEST),
    ).rejects.toMatchObject({ code: 'REGISTRY_AUTH' });
    await expect(
      createRegistryClient({ host: acr.host, plainHttp: true, acr: true, credential: failing }).getManifestAttributes(
        'contoso/api',
        DIGEST,
      ),
    ).rejects.toMatchObject({ code: 'TRANSIENT' });
    expect(acr.exchanges).toHaveLength(0);
  });

  it('sends the Entra ID token to no realm but the registry itself', async () => {
    const elsewhere = await startLoopback((_req, res) => sendJson(res, 200, { refresh_token: 'r', access_token: 'a' }));
    try {
      const hostile = await startLoopback((_req, res) => {
        res
          .writeHead(401, {
            'www-authenticate': `Bearer realm="http://${elsewhere.host}/oauth2/token",service="x",scope="repository:contoso/api:pull"`,
          })
          .end();
      });
      try {
        const client = createRegistryClient({
          host: hostile.host,
          plainHttp: true,
          acr: true,
          credential: credential(),
        });
        await expect(client.getManifestAttributes('contoso/api', DIGEST)).rejects.toMatchObject({
          code: 'REGISTRY_AUTH',
        });
        expect(elsewhere.requests).toEqual([]);
      } finally {
        await hostile.close();
      }
    } finally {
      await elsewhere.close();
    }
  });

  it('is ACR-only: acr defaults to hosts under .azurecr.io', () => {
    expect(createRegistryClient({ host: 'contoso.azurecr.io' }).supportsAcrAttributes()).toBe(true);
    expect(createRegistryClient({ host: 'ghcr.io' }).supportsAcrAttributes()).toBe(false);
    expect(createRegistryClient({ host: 'contoso.azurecr.io', acr: false }).supportsAcrAttributes()).toBe(false);
  });
});
