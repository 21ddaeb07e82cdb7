/**
 * Loopback HTTPS stand-ins for the Azure services the timers use, each speaking the documented REST contract
 * to the REAL SDK clients and keeping its own state, which tests assert on:
 * - Log Analytics query API: `POST /v1/workspaces/<id>/query` `{query, timespan}` -> `{tables:[{name, columns,
 *   rows}]}`; a partial answer adds `error` beside the tables; a query the Kusto language service rejects
 *   against the declared schemas gets 400 `BadArgumentError`, like the service.
 * - ARM tokens: `GET .../registries/<r>/tokens/<t>` and `POST .../registries/<r>/generateCredentials`
 *   (api-version 2025-11-01); the server keeps each slot's current password, expiry and creation time.
 * - Key Vault secrets (api-version 7.x): challenge-based auth (an unauthenticated request gets 401 with
 *   `WWW-Authenticate: Bearer authorization=..., resource=...`), `PUT /secrets/<name>` creates a version,
 *   `GET /secrets/<name>/` reads the latest; the server keeps every version.
 * - An Event Grid topic and a webhook that record what they receive.
 * Failures are queued per operation (`faults`) and consumed one per request.
 */
import { randomBytes } from 'node:crypto';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { startHttpsServer, type RecordedRequest, type RouteResponse, type TestHttpsServer } from './httpsServer';
import { kqlErrors } from './kql';

export const TEST_TOKEN = 'test-bearer-not-a-secret';

/** A TokenCredential that hands out one fixed token and records the scopes asked for. */
export function testCredential(): TokenCredential & { scopes: string[] } {
  const scopes: string[] = [];
  return {
    scopes,
    async getToken(s: string | string[]): Promise<AccessToken> {
      scopes.push(...(Array.isArray(s) ? s : [s]));
      return { token: TEST_TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 };
    },
  };
}

const authorized = (req: RecordedRequest) => req.headers.authorization === `Bearer ${TEST_TOKEN}`;
const unauthorized: RouteResponse = {
  status: 401,
  body: { error: { code: 'AuthenticationFailed', message: 'missing or invalid bearer token' } },
};

// ---------------------------------------------------------------- Log Analytics

/** What the Log Analytics stand-in answers for one query. */
export type LogAnswer =
  | { columns: Array<[string, string]>; rows: unknown[][]; partial?: { code: string; message: string } }
  | RouteResponse;

/**
 * What the pull-failure alert query finds in the stand-in's workspace: app `api` failing 9 times with
 * ImagePullBackOff (last seen 2026-11-22); every other query finds nothing.
 */
export function pullFailureAnswer(query: string): LogAnswer {
  return query.includes('ContainerAppSystemLogs')
    ? {
        columns: [
          ['App', 'string'],
          ['Count', 'long'],
          ['Sample', 'string'],
          ['LastSeen', 'datetime'],
        ],
        rows: [['api', 9, 'ImagePullBackOff', '2026-11-22T00:00:00Z']],
      }
    : { columns: [['x', 'string']], rows: [] };
}

export interface LogAnalyticsStandIn {
  server: TestHttpsServer;
  endpoint: string;
  /** Queries received (accepted or not), in order. */
  queries: Array<{ query: string; timespan: string }>;
}

/** Starts the query API for `workspaceId`; `answer` decides what each (valid) query returns. */
export async function startLogAnalytics(
  workspaceId: string,
  answer: (query: string) => LogAnswer,
): Promise<LogAnalyticsStandIn> {
  const server = await startHttpsServer();
  const queries: LogAnalyticsStandIn['queries'] = [];
  server.route('POST', `/v1/workspaces/${workspaceId}/query`, (req) => {
    if (!authorized(req)) return unauthorized;
    const body = req.json as { query?: unknown; timespan?: unknown } | undefined;
    if (!body || typeof body.query !== 'string')
      return { status: 400, body: { error: { code: 'BadArgumentError', message: 'query is required' } } };
    const timespan = typeof body.timespan === 'string' ? body.timespan : '';
    queries.push({ query: body.query, timespan });
    if (!/^PT\d+S$/.test(timespan))
      return {
        status: 400,
        body: { error: { code: 'BadArgumentError', message: 'timespan must be an ISO 8601 duration' } },
      };
    const errors = kqlErrors(body.query);
    if (errors.length > 0)
      return {
        status: 400,
        body: {
          error: {
            code: 'BadArgumentError',
            message: 'The request had some invalid properties',
            innererror: { code: 'SemanticError', message: errors[0].message },
          },
        },
      };
    const a = answer(body.query);
    if ('status' in a) return a;
    const table = { name: 'PrimaryResult', columns: a.columns.map(([name, type]) => ({ name, type })), rows: a.rows };
    return {
      status: 200,
      body: {
        tables: [table],
        ...(a.partial ? { error: { code: a.partial.code, message: a.partial.message, details: [] } } : {}),
      },
    };
  });
  return { server, endpoint: `${server.url}/v1`, queries };
}

// ---------------------------------------------------------------- ARM tokens

export interface ArmPassword {
  value: string;
  expiry?: string;
  creationTime: string;
}

export interface ArmToken {
  status: 'enabled' | 'disabled';
  passwords: Partial<Record<'password1' | 'password2', ArmPassword>>;
}

export interface ArmStandIn {
  server: TestHttpsServer;
  endpoint: string;
  /** Tokens by resource id (case as configured). */
  tokens: Map<string, ArmToken>;
  /** Every password ever generated (to prove none leaks). */
  generated: string[];
  /** Answers queued for the next generateCredentials requests. */
  generateFaults: RouteResponse[];
}

const API = '2025-11-01';

export async function startArm(): Promise<ArmStandIn> {
  const server = await startHttpsServer();
  const tokens = new Map<string, ArmToken>();
  const generated: string[] = [];
  const generateFaults: RouteResponse[] = [];
  const find = (id: string) => [...tokens.entries()].find(([k]) => k.toLowerCase() === id.toLowerCase());
  const tokenJson = (id: string, t: ArmToken) => ({
    id,
    name: id.split('/').pop(),
    type: 'Microsoft.ContainerRegistry/registries/tokens',
    properties: {
      provisioningState: 'Succeeded',
      scopeMapId: `${id.replace(/\/tokens\/.*$/, '')}/scopeMaps/_repositories_pull`,
      status: t.status === 'enabled' ? 'enabled' : 'disabled',
      credentials: {
        passwords: Object.entries(t.passwords).map(([name, p]) => ({
          name,
          creationTime: p!.creationTime,
          ...(p!.expiry ? { expiry: p!.expiry } : {}),
        })),
      },
    },
  });
  server.route(
    'GET',
    /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.ContainerRegistry\/registries\/[^/]+\/tokens\/[^/]+$/,
    (req) => {
      if (!authorized(req)) return unauthorized;
      if (req.query.get('api-version') !== API)
        return { status: 400, body: { error: { code: 'InvalidApiVersionParameter', message: 'bad api-version' } } };
      const hit = find(req.path);
      return hit
        ? { status: 200, body: tokenJson(hit[0], hit[1]) }
        : { status: 404, body: { error: { code: 'ResourceNotFound', message: 'token not found' } } };
    },
  );
  server.route(
    'POST',
    /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.ContainerRegistry\/registries\/[^/]+\/generateCredentials$/,
    (req) => {
      if (!authorized(req)) return unauthorized;
      if (req.query.get('api-version') !== API)
        return { status: 400, body: { error: { code: 'InvalidApiVersionParameter', message: 'bad api-version' } } };
      const fault = generateFaults.shift();
      if (fault) return fault;
      const body = req.json as { tokenId?: string; name?: string; expiry?: string } | undefined;
      const registryPath = req.path.replace(/\/generateCredentials$/, '');
      if (!body?.tokenId || !body.tokenId.toLowerCase().startsWith(`${registryPath.toLowerCase()}/tokens/`))
        return {
          status: 400,
          body: { error: { code: 'InvalidTokenId', message: 'tokenId must name a token of this registry' } },
        };
      if (body.name !== 'password1' && body.name !== 'password2')
        return {
          status: 400,
          body: { error: { code: 'InvalidPasswordName', message: 'name must be password1 or password2' } },
        };
      if (body.expiry !== undefined && Number.isNaN(Date.parse(body.expiry)))
        return { status: 400, body: { error: { code: 'InvalidExpiry', message: 'expiry must be a date-time' } } };
      const hit = find(body.tokenId);
      if (!hit) return { status: 404, body: { error: { code: 'ResourceNotFound', message: 'token not found' } } };
      const value = randomBytes(24).toString('base64');
      generated.push(value);
      const password: ArmPassword = {
        value,
        creationTime: new Date().toISOString(),
        ...(body.expiry ? { expiry: body.expiry } : {}),
      };
      hit[1].passwords[body.name] = password;
      return {
        status: 200,
        body: {
          username: hit[0].split('/').pop(),
          passwords: [{ name: body.name, value, expiry: password.expiry, creationTime: password.creationTime }],
        },
      };
    },
  );
  return { server, endpoint: server.url, tokens, generated, generateFaults };
}

// ---------------------------------------------------------------- Key Vault

export interface VaultSecretVersion {
  version: string;
  value: string;
  contentType?: string;
  tags: Record<string, string>;
  enabled: boolean;
  /** Unix seconds. */
  exp?: number;
}

export interface KeyVaultStandIn {
  server: TestHttpsServer;
  vaultUrl: string;
  /** Versions per secret name (lower case), oldest first. */
  secrets: Map<string, VaultSecretVersion[]>;
  /** Answers queued for the next PUT requests (after authentication). */
  putFaults: RouteResponse[];
  /** Requests answered with the 401 challenge. */
  challenges: number;
  /** Called on each stored version (a test can simulate a vault that stores something else). */
  onStore?: (version: VaultSecretVersion) => void;
}

export async function startKeyVault(): Promise<KeyVaultStandIn> {
  const server = await startHttpsServer();
  const state: KeyVaultStandIn = { server, vaultUrl: server.url, secrets: new Map(), putFaults: [], challenges: 0 };
  const challenge = (): RouteResponse => {
    state.challenges++;
    return {
      status: 401,
      headers: {
        'www-authenticate':
          'Bearer authorization="https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47", resource="https://vault.azure.net"',
      },
      body: { error: { code: 'Unauthorized', message: 'AKV10000: Request is missing a Bearer or PoP token.' } },
    };
  };
  const bundle = (name: string, v: VaultSecretVersion) => ({
    id: `${server.url}/secrets/${name}/${v.version}`,
    value: v.value,
    ...(v.contentType ? { contentType: v.contentType } : {}),
    tags: v.tags,
    attributes: {
      enabled: v.enabled,
      ...(v.exp !== undefined ? { exp: v.exp } : {}),
      created: 1,
      updated: 1,
      recoveryLevel: 'Recoverable+Purgeable',
    },
  });
  server.route('*', /^\/secrets\/[^/]+\/?[^/]*$/, (req) => {
    if (!/^7\.\d$|^2025-07-01$/.test(req.query.get('api-version') ?? ''))
      return { status: 400, body: { error: { code: 'BadParameter', message: 'api-version' } } };
    if (!authorized(req)) return challenge();
    const [, , rawName, version = ''] = req.path.split('/');
    const name = decodeURIComponent(rawName).toLowerCase();
    if (req.method === 'PUT') {
      const fault = state.putFaults.shift();
      if (fault) return fault;
      const body = req.json as
        | {
            value?: unknown;
            contentType?: string;
            tags?: Record<string, string>;
            attributes?: { enabled?: boolean; exp?: number };
          }
        | undefined;
      if (typeof body?.value !== 'string')
        return { status: 400, body: { error: { code: 'BadParameter', message: 'value is required' } } };
      const v: VaultSecretVersion = {
        version: randomBytes(16).toString('hex'),
        value: body.value,
        contentType: body.contentType,
        tags: body.tags ?? {},
        enabled: body.attributes?.enabled !== false,
        exp: body.attributes?.exp,
      };
      state.onStore?.(v);
      state.secrets.set(name, [...(state.secrets.get(name) ?? []), v]);
      return { status: 200, body: bundle(name, v) };
    }
    if (req.method === 'GET') {
      const versions = state.secrets.get(name) ?? [];
      const v = version ? versions.find((x) => x.version === version) : versions[versions.length - 1];
      return v
        ? { status: 200, body: bundle(name, v) }
        : {
            status: 404,
            body: {
              error: {
                code: 'SecretNotFound',
                message: `A secret with (name/id) ${name} was not found in this key vault.`,
              },
            },
          };
    }
    return { status: 405, body: { error: { code: 'MethodNotAllowed', message: req.method } } };
  });
  return state;
}

/** The latest version of a secret in the stand-in. */
export function latestSecret(vault: KeyVaultStandIn, name: string): VaultSecretVersion | undefined {
  const versions = vault.secrets.get(name.toLowerCase());
  return versions?.[versions.length - 1];
}

// ---------------------------------------------------------------- sinks

export interface SinkStandIn {
  server: TestHttpsServer;
  url: string;
  /** Bodies accepted (JSON). */
  received: unknown[];
  /** Answers queued for the next requests. */
  faults: RouteResponse[];
}

/** A sink endpoint at `path` that records JSON bodies (Event Grid: checks the bearer token). */
export async function startSink(path: string, options: { requireToken?: boolean } = {}): Promise<SinkStandIn> {
  const server = await startHttpsServer();
  const state: SinkStandIn = { server, url: `${server.url}${path}`, received: [], faults: [] };
  server.route('POST', path, (req) => {
    if (options.requireToken && !authorized(req)) return unauthorized;
    const fault = state.faults.shift();
    if (fault) return fault;
    if (req.json === undefined) return { status: 400, body: { error: 'JSON body required' } };
    state.received.push(req.json);
    return { status: 200, body: '' };
  });
  return state;
}

// ---------------------------------------------------------------- Logs Ingestion API

/** Rows the Logs Ingestion stand-in accepted, per input stream. */
export interface LogsIngestionStandIn {
  server: TestHttpsServer;
  /** The data collection endpoint's logs ingestion URL. */
  endpoint: string;
  rows: Map<string, Array<Record<string, unknown>>>;
  /** Decoded body size of every upload request, in order (accepted or not). */
  requestBytes: number[];
  /** Answers queued for the next upload requests (then normal service resumes). */
  failNext: RouteResponse[];
}

/** Largest (uncompressed) body the service takes in one call: 1 MB (Logs Ingestion API limits). */
export const LOGS_INGESTION_MAX_BODY = 1024 * 1024;

/**
 * Starts the Logs Ingestion API for one data collection rule (`ruleId`, immutable id) with its declared input
 * streams: `POST /dataCollectionRules/{ruleId}/streams/{stream}?api-version=2023-01-01`, bearer token,
 * body a JSON array (gzip when `Content-Encoding: gzip`), at most 1 MB; 204 on success. An unknown rule or
 * stream, a body that is not an array of objects, or a missing api-version is refused like the service does.
 */
export async function startLogsIngestion(ruleId: string, streams: readonly string[]): Promise<LogsIngestionStandIn> {
  const { gunzipSync } = await import('node:zlib');
  const server = await startHttpsServer();
  const standIn: LogsIngestionStandIn = {
    server,
    endpoint: server.url,
    rows: new Map(),
    requestBytes: [],
    failNext: [],
  };
  server.route('POST', /^\/dataCollectionRules\/[^/]+\/streams\/[^/]+$/, (req) => {
    if (!authorized(req)) return unauthorized;
    const [, , rule, , stream] = req.path.split('/');
    if (req.query.get('api-version') !== '2023-01-01')
      return {
        status: 400,
        body: { error: { code: 'InvalidApiVersion', message: 'api-version 2023-01-01 expected' } },
      };
    if (rule !== ruleId) return { status: 404, body: { error: { code: 'NotFound', message: 'data collection rule' } } };
    const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(req.body) : req.body;
    standIn.requestBytes.push(body.length);
    const forced = standIn.failNext.shift();
    if (forced) return forced;
    if (!streams.includes(decodeURIComponent(stream)))
      return { status: 400, body: { error: { code: 'InvalidStream', message: `stream ${stream} is not declared` } } };
    if (body.length > LOGS_INGESTION_MAX_BODY)
      return { status: 413, body: { error: { code: 'ContentLengthLimitExceeded', message: 'over 1 MB' } } };
    let rows: unknown;
    try {
      rows = JSON.parse(body.toString('utf8'));
    } catch {
      rows = undefined;
    }
    if (!Array.isArray(rows) || rows.some((r) => typeof r !== 'object' || r === null || Array.isArray(r)))
      return { status: 400, body: { error: { code: 'InvalidPayload', message: 'a JSON array of objects' } } };
    const list = standIn.rows.get(decodeURIComponent(stream)) ?? [];
    list.push(...(rows as Array<Record<string, unknown>>));
    standIn.rows.set(decodeURIComponent(stream), list);
    return { status: 204 };
  });
  return standIn;
}
