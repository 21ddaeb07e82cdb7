/**
 * A loopback HTTPS stand-in for what `doctor`'s live inventory reads, speaking the documented REST contracts to
 * the REAL `ResourceGraphClient` (@azure/arm-resourcegraph 4.2.1) and its pipeline:
 * - `POST /providers/Microsoft.ResourceGraph/resources?api-version=2021-03-01` `{subscriptions, query, options:
 *   {resultFormat: objectArray, $top, $skipToken}}` → `{totalRecords, count, data, resultTruncated, $skipToken?}`.
 *   The table (`resources`, `authorizationresources`, `securityresources`, `policyresources`) and the filters the
 *   query states (`type in~ (...)`, `resourceGroup =~ '...'`, role assignments and custom role definitions, the
 *   Containers pricing, policy assignments, custom definitions and exemptions) select the rows; rows carry Resource Graph's lower-case `type`, `subscriptionId` and `resourceGroup`.
 * - `GET <resolver>/inboundEndpoints`, `GET <ruleset>/forwardingRules|virtualNetworkLinks` (api-version 2022-07-01),
 * - `GET <zone>/virtualNetworkLinks` and `GET <zone>/A` (api-version 2020-06-01), `GET <resource>/providers/
 *   Microsoft.Insights/diagnosticSettings` (2021-05-01-preview) → `{value, nextLink?}`.
 * Pages are small (`pageSize`) so paging is exercised; a wrong api-version is 400, a missing token 401.
 */
import { startHttpsServer, type RecordedRequest, type RouteResponse, type TestHttpsServer } from './httpsServer';
import { TEST_TOKEN } from './azureStandIns';

export interface InventoryStandIn {
  server: TestHttpsServer;
  /** The resources served, as ARM returns them (tests edit this list). */
  resources: Array<Record<string, unknown>>;
  pageSize: number;
  /** Answers a request before the stand-in does, when it returns a response. */
  fault?: (req: RecordedRequest) => RouteResponse | undefined;
}

const lower = (x: unknown) => String(x ?? '').toLowerCase();
const bad = (code: string, message: string): RouteResponse => ({ status: 400, body: { error: { code, message } } });

/** Starts the stand-in over `resources`. */
export async function startInventory(resources: Array<Record<string, unknown>>): Promise<InventoryStandIn> {
  const server = await startHttpsServer();
  const state: InventoryStandIn = { server, resources, pageSize: 4 };
  const authorized = (req: RecordedRequest) => req.headers.authorization === `Bearer ${TEST_TOKEN}`;

  server.route('POST', '/providers/Microsoft.ResourceGraph/resources', (req) => {
    if (req.query.get('api-version') !== '2021-03-01')
      return bad('InvalidApiVersionParameter', 'unsupported api-version');
    if (!authorized(req))
      return {
        status: 401,
        body: { error: { code: 'AuthenticationFailed', message: 'missing or invalid bearer token' } },
      };
    const fault = state.fault?.(req);
    if (fault) return fault;
    const body = req.json as {
      subscriptions?: string[];
      query?: string;
      options?: { resultFormat?: string; $top?: number; $skipToken?: string };
    };
    if (typeof body?.query !== 'string' || !Array.isArray(body.subscriptions) || body.subscriptions.length !== 1)
      return bad('BadRequest', 'query and one subscription expected');
    if (
      body.options?.resultFormat !== 'objectArray' ||
      typeof body.options.$top !== 'number' ||
      body.options.$top > 1000
    )
      return bad('BadRequest', 'objectArray and $top <= 1000 expected');
    const sub = lower(body.subscriptions[0]);
    const table = body.query.split(/\s/)[0];
    const inSub = state.resources.filter((r) => lower(r.id).startsWith(`/subscriptions/${sub}`));
    let rows: Array<Record<string, unknown>>;
    if (table === 'resources') {
      const types = /type in~ \(([^)]*)\)/
        .exec(body.query)?.[1]
        .split(',')
        .map((t) => t.trim().replace(/^'|'$/g, ''));
      if (!types) return bad('InvalidQuery', 'the stand-in expects a type in~ (...) filter');
      const rg = /resourceGroup =~ '([^']+)'/.exec(body.query)?.[1];
      rows = inSub.filter(
        (r) =>
          types.includes(lower(r.type)) &&
          (!rg || lower(r.id).startsWith(`/subscriptions/${sub}/resourcegroups/${lower(rg)}/`)),
      );
    } else if (table === 'authorizationresources') {
      rows = inSub.filter(
        (r) =>
          lower(r.type) === 'microsoft.authorization/roleassignments' ||
          (lower(r.type) === 'microsoft.authorization/roledefinitions' &&
            lower((r.properties as Record<string, unknown>)?.type) === 'customrole'),
      );
    } else if (table === 'policyresources') {
      // Custom definitions only: built-in ones live under /providers/Microsoft.Authorization, not a subscription.
      rows = inSub.filter(
        (r) =>
          ['microsoft.authorization/policyassignments', 'microsoft.authorization/policyexemptions'].includes(
            lower(r.type),
          ) ||
          (lower(r.type) === 'microsoft.authorization/policydefinitions' &&
            lower((r.properties as Record<string, unknown>)?.policyType) === 'custom'),
      );
    } else if (table === 'securityresources') {
      rows = inSub.filter((r) => lower(r.type) === 'microsoft.security/pricings' && lower(r.name) === 'containers');
    } else return bad('InvalidQuery', `unknown table ${table}`);
    const graphRows = rows.map((r) => ({
      ...r,
      type: lower(r.type),
      subscriptionId: sub,
      resourceGroup: /\/resourceGroups\/([^/]+)/i.exec(String(r.id))?.[1] ?? '',
    }));
    const offset =
      body.options.$skipToken === undefined ? 0 : Number(/^page-(\d+)$/.exec(body.options.$skipToken)?.[1] ?? NaN);
    if (!Number.isInteger(offset)) return bad('BadRequest', 'unknown $skipToken');
    const data = graphRows.slice(offset, offset + Math.min(state.pageSize, body.options.$top));
    const next = offset + data.length < graphRows.length ? `page-${offset + data.length}` : undefined;
    return {
      status: 200,
      body: {
        totalRecords: graphRows.length,
        count: data.length,
        data,
        facets: [],
        resultTruncated: 'false',
        ...(next ? { $skipToken: next } : {}),
      },
    };
  });

  server.route('GET', /^\/subscriptions\//i, (req) => {
    if (!authorized(req))
      return {
        status: 401,
        body: { error: { code: 'AuthenticationFailed', message: 'missing or invalid bearer token' } },
      };
    const fault = state.fault?.(req);
    if (fault) return fault;
    const path = req.path;
    let parent: string;
    let childType: string;
    let apiVersion: string;
    let m: RegExpExecArray | null;
    if ((m = /^(.*\/providers\/Microsoft\.Network\/privateDnsZones\/[^/]+)\/(virtualNetworkLinks|A)$/i.exec(path))) {
      [, parent] = m;
      childType =
        m[2].toLowerCase() === 'a'
          ? 'microsoft.network/privatednszones/a'
          : 'microsoft.network/privatednszones/virtualnetworklinks';
      apiVersion = '2020-06-01';
    } else if (
      (m =
        /^(.*\/providers\/Microsoft\.Network\/(dnsResolvers|dnsForwardingRulesets)\/[^/]+)\/(inboundEndpoints|forwardingRules|virtualNetworkLinks)$/i.exec(
          path,
        ))
    ) {
      [, parent] = m;
      childType = `microsoft.network/${m[2].toLowerCase()}/${m[3].toLowerCase()}`;
      apiVersion = '2022-07-01';
    } else if ((m = /^(.*)\/providers\/Microsoft\.Insights\/diagnosticSettings$/i.exec(path))) {
      [, parent] = m;
      childType = 'microsoft.insights/diagnosticsettings';
      apiVersion = '2021-05-01-preview';
    } else return { status: 404, body: { error: { code: 'InvalidResourceType', message: `no stand-in for ${path}` } } };
    if (req.query.get('api-version') !== apiVersion)
      return bad('InvalidApiVersionParameter', `api-version ${apiVersion} expected`);
    if (!state.resources.some((r) => lower(r.id) === lower(parent)))
      return { status: 404, body: { error: { code: 'ResourceNotFound', message: `${parent} not found` } } };
    const items = state.resources.filter(
      (r) => lower(r.type) === childType && lower(r.id).startsWith(`${lower(parent)}/`),
    );
    const skip = Number(req.query.get('$skiptoken') ?? '0');
    const size = Math.max(1, state.pageSize - 3);
    const value = items.slice(skip, skip + size);
    const more = skip + size < items.length;
    return {
      status: 200,
      body: {
        value,
        ...(more ? { nextLink: `${server.url}${path}?api-version=${apiVersion}&$skiptoken=${skip + size}` } : {}),
      },
    };
  });
  return state;
}
