/**
 * The ACR path end to end: Entra ID token exchange, bearer challenges, and quarantine attributes. ACR has
 * no emulator, so a loopback server speaks ACR's documented contract (`/oauth2/exchange`, `/oauth2/token`,
 * the `/v2/` token challenge, `/acr/v1/<repo>/_manifests/<digest>` GET/PATCH) and serves content from a
 * real docker-registry behind it. The server enforces what ACR enforces: tokens from the exchange, scopes
 * per repository and action, only changeable attributes in a PATCH.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { loadPolicy } from '../../src/core/policy';
import { MediaTypes, type ImageId } from '../../src/core/types';
import { createRegistryClient } from '../../src/adapters/registry';
import { MemoryAuditStore } from '../../src/adapters/auditStore';
import { composeGateServices } from '../../src/app/compose';
import { runGateLocally } from '../../src/local/orchestrationHost';
import { pushImage } from '../../src/local/ociPush';
import { freePort, startRegistry, type RunningRegistry } from '../../src/local/registryServer';
import { attachReport, CRITICAL_OPENSSL } from '../support/pushSamples';

const AAD_TOKEN = 'aad-token-for-acr-guard';
const CHANGEABLE = new Set([
  'deleteEnabled',
  'writeEnabled',
  'readEnabled',
  'listEnabled',
  'quarantineState',
  'quarantineDetails',
]);

/** A TokenCredential as managed identity gives one (fixed token, real interface). */
const credential: TokenCredential = {
  async getToken(scopes: string | string[]): Promise<AccessToken> {
    const wanted = Array.isArray(scopes) ? scopes : [scopes];
    if (!wanted.includes('https://containerregistry.azure.net/.default'))
      throw new Error(`unexpected scope ${wanted.join(',')}`);
    return { token: AAD_TOKEN, expiresOnTimestamp: Date.now() + 3600_000 };
  },
};

interface AcrContractServer {
  host: string;
  attributes: Map<string, Record<string, unknown>>;
  log: string[];
  close(): Promise<void>;
}

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Starts the ACR contract server in front of `backend`. */
async function startAcr(backend: RunningRegistry): Promise<AcrContractServer> {
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const refreshTokens = new Set<string>();
  const accessTokens = new Map<string, string>(); // token -> granted scope
  const attributes = new Map<string, Record<string, unknown>>();
  const log: string[] = [];
  let counter = 0;

  const challenge = (res: ServerResponse, scope: string): void => {
    res
      .writeHead(401, {
        'www-authenticate': `Bearer realm="http://${host}/oauth2/token",service="${host}",scope="${scope}"`,
      })
      .end();
  };
  const granted = (req: IncomingMessage, repo: string, action: string): boolean => {
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const scope = token ? accessTokens.get(token) : undefined;
    if (!scope) return false;
    return scope.split(' ').some((s) => {
      const [kind, name, actions] = s.split(':');
      return kind === 'repository' && name === repo && actions.split(',').includes(action);
    });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      log.push(`ERROR ${err.message}`);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<unknown> => {
    const url = new URL(req.url ?? '/', `http://${host}`);
    const raw = await body(req);
    log.push(`${req.method} ${url.pathname}`);
    if (req.method === 'POST' && url.pathname === '/oauth2/exchange') {
      const form = new URLSearchParams(raw.toString());
      if (
        form.get('grant_type') !== 'access_token' ||
        form.get('service') !== host ||
        form.get('access_token') !== AAD_TOKEN
      )
        return res.writeHead(401).end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      const refresh = `refresh-${++counter}`;
      refreshTokens.add(refresh);
      return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ refresh_token: refresh }));
    }
    if (req.method === 'POST' && url.pathname === '/oauth2/token') {
      const form = new URLSearchParams(raw.toString());
      if (
        form.get('grant_type') !== 'refresh_token' ||
        !refreshTokens.has(form.get('refresh_token') ?? '') ||
        form.get('service') !== host
      )
        return res.writeHead(401).end();
      const access = `access-${++counter}`;
      accessTokens.set(access, form.get('scope') ?? '');
      return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: access }));
    }
    const acr = /^\/acr\/v1\/(.+)\/_manifests\/(sha256:[0-9a-f]{64})$/.exec(url.pathname);
    if (acr) {
      const [, repo, digest] = acr;
      const key = `${repo}@${digest}`;
      if (req.method === 'GET') {
        if (!granted(req, repo, 'pull')) return challenge(res, `repository:${repo}:pull`);
        return res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            registry: host,
            imageName: repo,
            manifest: { digest, changeableAttributes: attributes.get(key) ?? {} },
          }),
        );
      }
      if (req.method === 'PATCH') {
        if (!granted(req, repo, 'metadata_write')) return challenge(res, `repository:${repo}:metadata_write`);
        let patch: Record<string, unknown>;
        try {
          patch = JSON.parse(raw.toString());
        } catch {
          return res.writeHead(400).end();
        }
        if (
          Object.keys(patch).some((k) => !CHANGEABLE.has(k)) ||
          (patch.quarantineState !== undefined && !['Passed', 'Quarantined'].includes(String(patch.quarantineState)))
        )
          return res.writeHead(400).end();
        if (patch.quarantineDetails !== undefined && typeof patch.quarantineDetails !== 'string')
          return res.writeHead(400).end();
        attributes.set(key, { ...(attributes.get(key) ?? {}), ...patch });
        return res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      }
    }
    const v2 = /^\/v2\/(.+?)\/(manifests|blobs|referrers|tags)\//.exec(url.pathname);
    if (url.pathname.startsWith('/v2/')) {
      const repo = v2?.[1] ?? '';
      if (!v2 || !granted(req, repo, req.method === 'GET' || req.method === 'HEAD' ? 'pull' : 'push'))
        return challenge(res, `repository:${repo}:pull`);
      // Content-Type too: a manifest PUT (promotion) is typed by it.
      const forwarded: Record<string, string> = {
        accept: req.headers.accept ?? '*/*',
        ...(req.headers['content-type'] ? { 'content-type': req.headers['content-type'] } : {}),
      };
      const upstream = await fetch(`${backend.url}${url.pathname}${url.search}`, {
        method: req.method,
        headers: forwarded,
        body: raw.length ? raw : undefined,
      });
      const headers: Record<string, string> = {};
      upstream.headers.forEach((v, k) => {
        if (!['content-encoding', 'transfer-encoding', 'connection'].includes(k)) headers[k] = v;
      });
      const bytes = Buffer.from(await upstream.arrayBuffer());
      return res.writeHead(upstream.status, headers).end(req.method === 'HEAD' ? undefined : bytes);
    }
    return res.writeHead(404).end();
  };
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { host, attributes, log, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('ACR quarantine through the Entra ID exchange', () => {
  let backend: RunningRegistry;
  let acr: AcrContractServer;

  beforeAll(async () => {
    backend = await startRegistry();
    acr = await startAcr(backend);
  });
  afterAll(async () => {
    await acr?.close();
    await backend?.stop();
  });

  async function pushQuarantined(repository: string, critical: boolean, tag = 'v1'): Promise<ImageId> {
    const client = createRegistryClient({ host: backend.host, plainHttp: true });
    const now = new Date().toISOString();
    const image = await pushImage(client, repository, {
      tag,
      layers: [Buffer.from(`${repository} ${critical} ${tag}`)],
      created: now,
    });
    await attachReport(client, repository, image, {
      imageHost: acr.host,
      scannedAt: now,
      vulnerabilities: critical ? [CRITICAL_OPENSSL] : [],
    });
    // What ACR does on push with quarantine enabled.
    acr.attributes.set(`${repository}@${image.digest}`, { quarantineState: 'Quarantined', deleteEnabled: true });
    return { registry: acr.host, repository, digest: image.digest };
  }

  function services() {
    const policy = loadPolicy(
      `version: 1
registries: [{ host: "${acr.host}", apply: quarantine }]
gate:
  - scope: "contoso/*"
    vulnerabilities: { block: [critical, high], maxReportAge: 7d, sources: [reports], scanDeadline: 0s }
    signatures: { required: false }
`,
      'acr test policy',
    );
    const client = createRegistryClient({ host: acr.host, plainHttp: true, acr: true, credential });
    const audit = new MemoryAuditStore();
    return { audit, services: composeGateServices({ policy: () => policy, audit, createClient: () => client }) };
  }

  it('releases a clean image: quarantineState Passed with the verdict summary in quarantineDetails', async () => {
    const image = await pushQuarantined('contoso/api', false);
    const { services: s, audit } = services();
    const outcome = await runGateLocally({ image, trigger: 'push', services: s, timers: 'virtual' });
    expect(outcome.verdict?.decision).toBe('release');
    expect(outcome.apply).toMatchObject({ mode: 'quarantine', ok: true });
    const attrs = acr.attributes.get(`contoso/api@${image.digest}`);
    expect(attrs?.quarantineState).toBe('Passed');
    const details = JSON.parse(String(attrs?.quarantineDetails));
    expect(JSON.stringify(details)).toContain('release');
    expect(String(attrs?.quarantineDetails).length).toBeLessThanOrEqual(4096);
    expect((await audit.latestVerdict(image))?.decision).toBe('release');
    // The client went through the documented exchange, not a shortcut.
    expect(acr.log).toEqual(
      expect.arrayContaining([
        'POST /oauth2/exchange',
        'POST /oauth2/token',
        `PATCH /acr/v1/contoso/api/_manifests/${image.digest}`,
      ]),
    );
  });

  it('keeps a vulnerable image Quarantined and writes the reasons', async () => {
    const image = await pushQuarantined('contoso/worker', true);
    const outcome = await runGateLocally({ image, trigger: 'push', services: services().services, timers: 'virtual' });
    expect(outcome.verdict?.decision).toBe('block');
    const attrs = acr.attributes.get(`contoso/worker@${image.digest}`);
    expect(attrs?.quarantineState).toBe('Quarantined');
    expect(String(attrs?.quarantineDetails)).toContain('CVE-2024-6119');
  });

  it('is idempotent: gating the same image again leaves it Passed', async () => {
    const image = await pushQuarantined('contoso/web', false);
    const s = services().services;
    await runGateLocally({ image, trigger: 'push', services: s, timers: 'virtual' });
    await runGateLocally({ image, trigger: 'rescan', services: s, timers: 'virtual', instanceId: 'rescan-test' });
    expect(acr.attributes.get(`contoso/web@${image.digest}`)?.quarantineState).toBe('Passed');
  });
  it('promote on ACR: the release tag is written only while the source tag still points at the gated digest', async () => {
    const policy = loadPolicy(
      `version: 1
registries: [{ host: "${acr.host}", apply: promote }]
gate:
  - scope: "contoso/*"
    vulnerabilities: { block: [critical, high], maxReportAge: 7d, sources: [reports], scanDeadline: 0s }
    signatures: { required: false }
    promote: { repository: "release/{repository}" }
`,
      'acr promote policy',
    );
    const client = createRegistryClient({ host: acr.host, plainHttp: true, acr: true, credential });
    const s = composeGateServices({ policy: () => policy, audit: new MemoryAuditStore(), createClient: () => client });
    const backendClient = createRegistryClient({ host: backend.host, plainHttp: true });
    const older = await pushQuarantined('contoso/tagged', false);
    const newer = await pushQuarantined('contoso/tagged', false, 'v1-next');
    // The newer build takes tag v1, as a second push would.
    await backendClient.putManifest(
      'contoso/tagged',
      'v1',
      (await backendClient.getManifest('contoso/tagged', newer.digest)).bytes,
      MediaTypes.ociManifest,
    );
    const late = await runGateLocally({ image: older, tag: 'v1', trigger: 'push', services: s, timers: 'virtual' });
    expect(late.verdict?.decision).toBe('release');
    expect(late.apply).toMatchObject({ mode: 'promote', ok: true, releaseTag: { tag: 'v1', written: false } });
    await expect(backendClient.resolveTag('release/contoso/tagged', 'v1')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await backendClient.getManifest('release/contoso/tagged', older.digest)).digest).toBe(older.digest);
    const onTime = await runGateLocally({
      image: newer,
      tag: 'v1',
      trigger: 'push',
      services: s,
      timers: 'virtual',
      instanceId: 'gate-acr-on-time',
    });
    expect(onTime.apply).toMatchObject({ ok: true, releaseTag: { tag: 'v1', written: true } });
    expect(await backendClient.resolveTag('release/contoso/tagged', 'v1')).toBe(newer.digest);
  });
});
