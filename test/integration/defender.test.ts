/**
 * The real `ResourceGraphClient` (@azure/arm-resourcegraph 4.2.1) driven by DefenderFindingsSource against a
 * loopback HTTPS server that speaks the Resource Graph query contract:
 * `POST /providers/Microsoft.ResourceGraph/resources?api-version=2021-03-01` with `{subscriptions, query,
 * options}`, answering `{totalRecords, count, data, $skipToken?, resultTruncated}` from recorded rows.
 * The server checks what it is sent (api-version, bearer token, body shape, the digest literal in the KQL)
 * and filters the recorded rows by that digest the way the query does; it never echoes the request.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { DefenderFindingsSource } from '../../src/adapters/defenderSource';
import type { ImageId } from '../../src/core/types';
import { decide } from '../../src/core/decision';
import { loadPolicy } from '../../src/core/policy';
import {
  startHttpsServer,
  type RecordedRequest,
  type RouteResponse,
  type TestHttpsServer,
} from '../support/httpsServer';

const FIXTURES = path.join(__dirname, '../fixtures/defender');
const page = (name: string) => JSON.parse(readFileSync(path.join(FIXTURES, name), 'utf8'));

const SUBSCRIPTION = '1f4b2c3d-5e6f-4a7b-8c9d-0e1f2a3b4c5d';
const TOKEN = 'test-token-not-a-secret-4f1c';
const IMAGE: ImageId = {
  registry: 'contoso.azurecr.io',
  repository: 'contoso/api',
  digest: 'sha256:5b0ad3ed1e4d8e1e2a6f8d07c3a3a3f7f8d5b5e4c1d6a2b9e8f7c6d5a4b3c2d1',
};
const QUERY = { image: IMAGE, maxReportAgeMs: 7 * 86_400_000, nowMs: Date.parse('2026-11-21T12:00:00Z') };
const PATH = '/providers/Microsoft.ResourceGraph/resources';
/** The server pages smaller than the client's `$top` (Resource Graph may), so paging is exercised. */
const SERVER_PAGE_SIZE = 2;

/** What the stand-in serves: recorded rows, and failures queued for the next requests. */
interface Scenario {
  rows: Array<Record<string, any>>;
  failures: RouteResponse[];
}

/** The digest a row is about, read the way the query's filters read it. */
function digestOfRow(row: Record<string, any>): string | undefined {
  const props = row.properties ?? {};
  if (row.type === 'microsoft.security/assessments/subassessments')
    return props.additionalData?.artifactDetails?.digest;
  const rad =
    typeof props.resourceAdditionalData === 'string'
      ? JSON.parse(props.resourceAdditionalData)
      : props.resourceAdditionalData;
  return rad?.Digest ?? /(sha256:[a-f0-9]{64})$/.exec(props.resourceDetails?.Id ?? '')?.[1];
}

function resourceGraph(scenario: Scenario) {
  return (req: RecordedRequest): RouteResponse => {
    const bad = (code: string, message: string): RouteResponse => ({ status: 400, body: { error: { code, message } } });
    if (req.query.get('api-version') !== '2021-03-01')
      return bad('InvalidApiVersionParameter', 'unsupported api-version');
    if (!/^Bearer \S+$/.test(String(req.headers.authorization ?? ''))) {
      return {
        status: 401,
        body: {
          error: {
            code: 'AuthenticationFailed',
            message: 'Authentication failed. The Authorization header is missing.',
          },
        },
      };
    }
    const failure = scenario.failures.shift();
    if (failure) return failure;
    if (String(req.headers.authorization) !== `Bearer ${TOKEN}`)
      return {
        status: 401,
        body: { error: { code: 'InvalidAuthenticationToken', message: 'The access token is invalid.' } },
      };
    const body = req.json as
      | {
          subscriptions?: unknown;
          query?: unknown;
          options?: { resultFormat?: unknown; $top?: unknown; $skipToken?: unknown };
        }
      | undefined;
    if (!body || typeof body.query !== 'string') return bad('BadRequest', 'query is required');
    if (
      body.subscriptions !== undefined &&
      (!Array.isArray(body.subscriptions) ||
        !body.subscriptions.every((s) => typeof s === 'string' && /^[0-9a-f-]{36}$/.test(s)))
    ) {
      return bad('BadRequest', 'subscriptions must be subscription ids');
    }
    if (body.options?.resultFormat !== 'objectArray') return bad('BadRequest', 'this stand-in serves objectArray only');
    if (typeof body.options.$top !== 'number' || body.options.$top > 1000)
      return bad('BadRequest', '$top must be at most 1000');
    // The digest the query filters on, as a quoted KQL literal in both legs.
    const legs = [
      ...body.query.matchAll(
        /artifactDetails\.digest\) == "(sha256:[a-f0-9]{64})"|\.Digest\) == "(sha256:[a-f0-9]{64})"/g,
      ),
    ];
    const digests = new Set(legs.map((m) => m[1] ?? m[2]));
    if (legs.length !== 2 || digests.size !== 1 || !body.query.startsWith('securityresources'))
      return bad('InvalidQuery', 'query does not filter both legs on one digest');
    const [digest] = digests;
    const matching = scenario.rows.filter((r) => digestOfRow(r) === digest);
    const offset =
      body.options.$skipToken === undefined
        ? 0
        : Number(/^page-(\d+)$/.exec(String(body.options.$skipToken))?.[1] ?? NaN);
    if (!Number.isInteger(offset)) return bad('BadRequest', 'unknown $skipToken');
    const data = matching.slice(offset, offset + Math.min(SERVER_PAGE_SIZE, body.options.$top));
    const next = offset + data.length < matching.length ? `page-${offset + data.length}` : undefined;
    return {
      status: 200,
      body: {
        totalRecords: matching.length,
        count: data.length,
        data,
        facets: [],
        resultTruncated: 'false',
        ...(next ? { $skipToken: next } : {}),
      },
    };
  };
}

describe('DefenderFindingsSource against a Resource Graph stand-in (real SDK, real HTTPS)', () => {
  let server: TestHttpsServer;
  const scenario: Scenario = { rows: [], failures: [] };
  const scopes: string[][] = [];
  const credential: TokenCredential = {
    async getToken(scope: string | string[]): Promise<AccessToken> {
      scopes.push(Array.isArray(scope) ? scope : [scope]);
      return { token: TOKEN, expiresOnTimestamp: Date.now() + 3600_000 };
    },
  };
  const source = (subscriptions?: string[]) =>
    new DefenderFindingsSource({ credential, subscriptions, endpoint: server.url, httpsAgent: server.agent() });

  beforeAll(async () => {
    server = await startHttpsServer();
    server.route('POST', PATH, resourceGraph(scenario));
  });
  afterAll(() => server.close());
  beforeEach(() => {
    server.requests.length = 0;
    scenario.rows = [];
    scenario.failures = [];
  });

  it('pages with $skipToken and maps individual rows of the digest', async () => {
    scenario.rows = page('individual-unhealthy.json').data;
    const result = await source([SUBSCRIPTION]).collect(QUERY);
    expect(result.status).toBe('ready');
    expect(result.status === 'ready' && result.findings.map((f) => f.id).sort()).toEqual([
      'CVE-2023-50495',
      'CVE-2023-5363',
      'CVE-2023-5678',
      'CVE-2024-45490',
    ]);
    // three rows of this digest at two a page: two requests, the second carrying the first one's token
    expect(server.requests).toHaveLength(2);
    const [first, second] = server.requests.map(
      (r) => r.json as { subscriptions: string[]; options: Record<string, unknown> },
    );
    expect(first.subscriptions).toEqual([SUBSCRIPTION]);
    expect(first.options.$skipToken).toBeUndefined();
    expect(second.options.$skipToken).toBe('page-2');
    expect(server.requests[0].headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(scopes.at(-1)).toEqual(['https://management.azure.com/.default']);
  });

  it.each([
    ['a $skipToken that repeats (a→b→a)', ['a', 'b', 'a', 'b', 'a'], 1, 3],
    ['a page pointing to itself', ['a', 'a', 'a'], 1, 2],
    ['endless empty pages with a fresh $skipToken', ['e1', 'e2', 'e3', 'e4'], 0, 1],
  ])(
    '%s ends the listing with LISTING_LOOP, no decision, bounded requests',
    async (_name, tokens, rowsPerPage, requests) => {
      scenario.rows = page('individual-unhealthy.json').data;
      const rows = scenario.rows.filter((r) => digestOfRow(r) === IMAGE.digest).slice(0, rowsPerPage);
      scenario.failures = tokens.map((t) => ({
        status: 200,
        body: { totalRecords: 99, count: rows.length, data: rows, facets: [], resultTruncated: 'false', $skipToken: t },
      }));
      const result = await source([SUBSCRIPTION]).collect(QUERY);
      expect(result).toMatchObject({ status: 'error', code: 'LISTING_LOOP' });
      expect(server.requests).toHaveLength(requests);
    },
  );

  it('an endless stream of new pages ends at the page bound (LISTING_TOO_LARGE)', async () => {
    scenario.rows = page('individual-unhealthy.json').data;
    const row = scenario.rows.filter((r) => digestOfRow(r) === IMAGE.digest)[0];
    scenario.failures = Array.from({ length: 10 }, (_, i) => ({
      status: 200,
      body: { totalRecords: 99, count: 1, data: [row], facets: [], resultTruncated: 'false', $skipToken: `n${i}` },
    }));
    const bounded = new DefenderFindingsSource({
      credential,
      subscriptions: [SUBSCRIPTION],
      endpoint: server.url,
      httpsAgent: server.agent(),
      maxPages: 4,
    });
    await expect(bounded.collect(QUERY)).resolves.toMatchObject({ status: 'error', code: 'LISTING_TOO_LARGE' });
    expect(server.requests).toHaveLength(4);
  });

  it('omits subscriptions when none are configured (all the identity can read)', async () => {
    scenario.rows = page('individual-healthy.json').data;
    const result = await source().collect(QUERY);
    expect(result).toMatchObject({ status: 'ready', findings: [] });
    expect((server.requests[0].json as Record<string, unknown>).subscriptions).toBeUndefined();
  });

  it('no rows for the digest is pending, never clean', async () => {
    scenario.rows = page('individual-unhealthy.json').data;
    const other = { ...QUERY, image: { ...IMAGE, digest: `sha256:${'2'.repeat(64)}` } };
    const result = await source([SUBSCRIPTION]).collect(other);
    expect(result).toMatchObject({ source: 'defender', status: 'pending' });
  });

  it('falls back to grouped sub-assessment rows', async () => {
    scenario.rows = page('grouped.json').data;
    const result = await source([SUBSCRIPTION]).collect(QUERY);
    expect(result.status === 'ready' && result.findings.map((f) => f.id)).toEqual(['CVE-2023-5363', 'CVE-2024-45490']);
  });

  // Issue 17 case 5: Microsoft's documented grouped row says fixStatus FixAvailable with an empty fixedVersion;
  // on main that read as "no fix" and `onlyFixable: true` released the image. Through the real SDK and decide.
  it('a grouped row with fixStatus FixAvailable and an empty fixedVersion blocks under onlyFixable', async () => {
    const rows = page('grouped.json').data.slice(0, 1);
    rows[0].properties.additionalData.softwareDetails.fixedVersion = '';
    scenario.rows = rows;
    const result = await source([SUBSCRIPTION]).collect(QUERY);
    expect(result.status === 'ready' && result.findings[0]).toMatchObject({ id: 'CVE-2023-5363', fixAvailable: true });
    const policy = loadPolicy(`version: 1
registries: [contoso.azurecr.io]
gate:
  - scope: "contoso/*"
    vulnerabilities: { block: [critical, high], onlyFixable: true, sources: [defender] }
    signatures: { required: false }
`);
    const verdict = decide({
      policy,
      rule: policy.gate[0],
      image: IMAGE,
      sources: ['defender'],
      manifests: [
        { digest: IMAGE.digest, findings: [result], signatures: { status: 'skipped', reason: 'n/a', signatures: [] } },
      ],
      deadlinePassed: false,
      now: new Date(QUERY.nowMs),
    });
    expect(verdict.decision).toBe('block');
    expect(verdict.summary).toMatch(/^blocked: CVE-2023-5363 \(high\)/);
  });

  it('429 with Retry-After throws TRANSIENT at once (Durable retries it), and the next call succeeds', async () => {
    scenario.rows = page('individual-healthy.json').data;
    scenario.failures.push({ status: 429, headers: { 'retry-after': '7' }, body: page('error-429.json') });
    const defender = source([SUBSCRIPTION]);
    await expect(defender.collect(QUERY)).rejects.toMatchObject({
      code: 'TRANSIENT',
      status: 429,
      retryAfterSeconds: 7,
    });
    expect(server.requests).toHaveLength(1);
    await expect(defender.collect(QUERY)).resolves.toMatchObject({ status: 'ready' });
  });

  it.each([500, 503])('%d throws TRANSIENT', async (status) => {
    scenario.failures.push({
      status,
      body: { error: { code: 'InternalServerError', message: 'Encountered internal server error.' } },
    });
    await expect(source([SUBSCRIPTION]).collect(QUERY)).rejects.toMatchObject({ code: 'TRANSIENT', status });
  });

  it('403 is an UPSTREAM error saying what to grant, without the token', async () => {
    scenario.failures.push({ status: 403, body: page('error-403.json') });
    const result = await source([SUBSCRIPTION]).collect(QUERY);
    expect(result).toMatchObject({ source: 'defender', status: 'error', code: 'UPSTREAM' });
    const detail = (result as { detail: string }).detail;
    expect(detail).toContain('Reader');
    expect(detail).toContain('AuthorizationFailed');
    expect(detail).not.toContain(TOKEN);
  });

  it('a 400 for the query is an UPSTREAM error (not retried)', async () => {
    scenario.failures.push({ status: 400, body: { error: { code: 'InvalidQuery', message: 'Query is invalid.' } } });
    await expect(source([SUBSCRIPTION]).collect(QUERY)).resolves.toMatchObject({
      status: 'error',
      code: 'UPSTREAM',
      detail: expect.stringContaining('InvalidQuery'),
    });
  });

  it('a malformed row is an error MALFORMED', async () => {
    const [row] = page('individual-unhealthy.json').data;
    row.properties.status = { code: 'Bogus' };
    scenario.rows = [row];
    await expect(source([SUBSCRIPTION]).collect(QUERY)).resolves.toMatchObject({ status: 'error', code: 'MALFORMED' });
  });

  it('an unreachable endpoint throws TRANSIENT', async () => {
    const gone = await startHttpsServer();
    const url = gone.url;
    const agent = gone.agent();
    await gone.close();
    const defender = new DefenderFindingsSource({
      credential,
      subscriptions: [SUBSCRIPTION],
      endpoint: url,
      httpsAgent: agent,
    });
    await expect(defender.collect(QUERY)).rejects.toMatchObject({ code: 'TRANSIENT' });
  });

  it('an invalid image is refused before any request', async () => {
    await expect(
      source([SUBSCRIPTION]).collect({ ...QUERY, image: { ...IMAGE, digest: 'sha256:" | take 1' } }),
    ).resolves.toMatchObject({
      status: 'error',
      code: 'INVALID_INPUT',
    });
    expect(server.requests).toHaveLength(0);
  });

  it('refuses a subscription that is not a GUID', () => {
    expect(() => new DefenderFindingsSource({ credential, subscriptions: ['prod'] })).toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIG' }),
    );
  });
});
