/**
 * The live source of `acr-guard doctor`: a snapshot of the ARM resources its checks read, from Azure Resource
 * Graph (`resources`, `authorizationresources`, `securityresources`, `policyresources`; the real `ResourceGraphClient` of
 * `@azure/arm-resourcegraph` 4.2.1, paged by `$skipToken`) plus ARM REST GETs, through the same client's
 * pipeline, for what Resource Graph does not index: the `privatelink.azurecr.io` zones' virtual network links
 * and A record sets (api-version 2020-06-01), DNS private resolvers' inbound endpoints and forwarding rulesets'
 * rules and network links (2022-07-01), and the diagnostic settings of registries, Container Apps environments and
 * vaults (api-version 2021-05-01-preview). Read-only: every request is a query or a GET.
 *
 * Bounded: at most `MAX_INVENTORY_PAGES` pages per query or listing (`INVENTORY_TOO_MANY_PAGES`), and the
 * whole inventory within `timeoutMs`. Fail closed: an error or a truncated answer throws; a partial snapshot
 * is never returned (it would turn "not read" into "missing", i.e. a wrong fail).
 */
import { Agent as HttpAgent } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import type { TokenCredential } from '@azure/identity';
import type * as ArmResourceGraph from '@azure/arm-resourcegraph';
import type { ResourceGraphClient, ResourceGraphModels } from '@azure/arm-resourcegraph';
import { ErrorCodes, GuardError } from '../core/errors';
import { ACR_ZONE } from '../core/doctor/pullNetwork';
import { MAX_SNAPSHOT_RESOURCES } from '../core/doctor/snapshot';

/** `@azure/arm-resourcegraph`, loaded on first use: a cold start that does not reach doctor does not pay for it. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const armResourceGraph = (): typeof ArmResourceGraph => require('@azure/arm-resourcegraph');

/** Most pages read for one query or one ARM listing before giving up. */
export const MAX_INVENTORY_PAGES = 100;
/** Rows asked for per Resource Graph page (its maximum). */
export const INVENTORY_PAGE_SIZE = 1000;
/** Default deadline of one whole inventory. */
export const INVENTORY_TIMEOUT_MS = 120_000;

/** Options of {@link AzureInventory}. */
export interface AzureInventoryOptions {
  credential: TokenCredential;
  /** ARM endpoint; default `https://management.azure.com` (tests: a loopback server). */
  endpoint?: string;
  /** HTTPS agent (tests pass one that trusts their CA). */
  httpsAgent?: HttpsAgent;
  maxPages?: number;
  timeoutMs?: number;
}

/** The resource types read from Resource Graph's `resources` table. */
export const INVENTORY_TYPES = [
  'microsoft.containerregistry/registries',
  'microsoft.app/containerapps',
  'microsoft.app/jobs',
  'microsoft.app/managedenvironments',
  'microsoft.containerinstance/containergroups',
  'microsoft.web/sites',
  'microsoft.managedidentity/userassignedidentities',
  'microsoft.network/privateendpoints',
  'microsoft.network/privatednszones',
  'microsoft.network/virtualnetworks',
  'microsoft.network/dnsresolvers',
  'microsoft.network/dnsforwardingrulesets',
  'microsoft.keyvault/vaults',
  'microsoft.operationalinsights/workspaces',
] as const;

const DIAGNOSED_TYPES = new Set([
  'microsoft.containerregistry/registries',
  'microsoft.app/managedenvironments',
  'microsoft.keyvault/vaults',
]);
const SUBSCRIPTION_SCOPE =
  /^\/subscriptions\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:\/resourceGroups\/([-\w._()]{1,90}))?$/i;
/** An ARM id as Resource Graph returns it, checked before it becomes part of a URL. */
const SAFE_ID =
  /^\/subscriptions\/[0-9a-f-]{36}\/resourceGroups\/[-\w._()]{1,90}\/providers\/[A-Za-z0-9.]+\/[A-Za-z0-9]+\/[-\w._]{1,260}$/i;

/** Parses `--scope`: a subscription or resource group id (the checks' scopes below that filter further). */
export function parseInventoryScope(scope: string): { subscriptionId: string; resourceGroup?: string } {
  const m = SUBSCRIPTION_SCOPE.exec(scope.replace(/\/+$/, ''));
  if (!m) {
    throw new GuardError(
      ErrorCodes.INVALID_INPUT,
      `--scope: expected /subscriptions/<subscription-id> or /subscriptions/<subscription-id>/resourceGroups/<name>, got ${JSON.stringify(scope.slice(0, 200))}`,
      { field: 'scope' },
    );
  }
  return { subscriptionId: m[1].toLowerCase(), resourceGroup: m[2] };
}

/** Reads a snapshot of one subscription or resource group. */
export class AzureInventory {
  private readonly client: ResourceGraphClient;
  private readonly endpoint: string;
  private readonly maxPages: number;

  constructor(private readonly options: AzureInventoryOptions) {
    this.endpoint = (options.endpoint ?? 'https://management.azure.com').replace(/\/+$/, '');
    if (!/^https:\/\//.test(this.endpoint))
      throw new GuardError(ErrorCodes.INVALID_CONFIG, 'endpoint: expected an https:// URL', { field: 'endpoint' });
    this.maxPages = options.maxPages ?? MAX_INVENTORY_PAGES;
    this.client = new (armResourceGraph().ResourceGraphClient)(options.credential, {
      baseUri: this.endpoint,
      // No in-process retries: a failure throws TRANSIENT at once and the caller (a person, the alert) decides.
      noRetryPolicy: true,
      agentSettings: options.httpsAgent ? { https: options.httpsAgent, http: new HttpAgent() } : undefined,
    });
  }

  /** `{resources: [...]}` for the scope: what `doctor snapshot` writes and the checks read. */
  async snapshot(scope: string): Promise<{ resources: Array<Record<string, unknown>> }> {
    const { subscriptionId, resourceGroup } = parseInventoryScope(scope);
    const deadline = Date.now() + (this.options.timeoutMs ?? INVENTORY_TIMEOUT_MS);
    const rg = resourceGroup ? ` | where resourceGroup =~ '${resourceGroup}'` : '';
    const types = INVENTORY_TYPES.map((t) => `'${t}'`).join(', ');
    const resources = await this.query(subscriptionId, `resources | where type in~ (${types})${rg}`, deadline);
    // Role assignments at every scope the subscription sees (a subscription-wide Contributor matters to a
    // resource group's workloads); custom role definitions only (built-ins are known by their fixed ids).
    const authorization = await this.query(
      subscriptionId,
      "authorizationresources | where type =~ 'microsoft.authorization/roleassignments' or (type =~ 'microsoft.authorization/roledefinitions' and properties.type =~ 'CustomRole')",
      deadline,
    );
    const pricings = await this.query(
      subscriptionId,
      "securityresources | where type =~ 'microsoft.security/pricings' and name =~ 'Containers'",
      deadline,
    );
    // The deploy-time policy: assignments (also those inherited from management groups, as Resource Graph lists
    // them for the subscription), custom definitions and exemptions; doctor evaluates the assigned rules.
    const policies = await this.query(
      subscriptionId,
      "policyresources | where type in~ ('microsoft.authorization/policyassignments', 'microsoft.authorization/policyexemptions') or (type =~ 'microsoft.authorization/policydefinitions' and properties.policyType =~ 'Custom')",
      deadline,
    );
    const out = [...resources, ...authorization, ...pricings, ...policies];
    for (const zone of resources.filter(
      (r) =>
        String(r.type).toLowerCase() === 'microsoft.network/privatednszones' &&
        String(r.name).toLowerCase() === ACR_ZONE,
    )) {
      const id = this.safeId(zone.id);
      out.push(
        ...(await this.list(`${id}/virtualNetworkLinks`, '2020-06-01', deadline)),
        ...(await this.list(`${id}/A`, '2020-06-01', deadline)),
      );
    }
    // DNS private resolvers' inbound endpoints, and forwarding rulesets' rules and network links (api-version
    // 2022-07-01): custom DNS servers on a workload's network are followed through them.
    for (const [type, children] of [
      ['microsoft.network/dnsresolvers', ['inboundEndpoints']],
      ['microsoft.network/dnsforwardingrulesets', ['forwardingRules', 'virtualNetworkLinks']],
    ] as const) {
      for (const r of resources.filter((x) => String(x.type).toLowerCase() === type)) {
        for (const child of children)
          out.push(...(await this.list(`${this.safeId(r.id)}/${child}`, '2022-07-01', deadline)));
      }
    }
    for (const r of resources.filter((x) => DIAGNOSED_TYPES.has(String(x.type).toLowerCase()))) {
      out.push(
        ...(await this.list(
          `${this.safeId(r.id)}/providers/Microsoft.Insights/diagnosticSettings`,
          '2021-05-01-preview',
          deadline,
        )),
      );
    }
    if (out.length > MAX_SNAPSHOT_RESOURCES) {
      throw new GuardError(
        ErrorCodes.SNAPSHOT_TOO_MANY_RESOURCES,
        `inventory of ${scope}: ${out.length} resources, more than the ${MAX_SNAPSHOT_RESOURCES} a snapshot may hold; use a narrower --scope`,
      );
    }
    return { resources: out };
  }

  private safeId(id: unknown): string {
    if (typeof id !== 'string' || !SAFE_ID.test(id))
      throw new GuardError(
        ErrorCodes.MALFORMED,
        `inventory: Resource Graph returned a resource without a valid id (${JSON.stringify(String(id).slice(0, 120))}); no snapshot was made`,
      );
    return id;
  }

  private checkTime(deadline: number, what: string): void {
    if (Date.now() > deadline)
      throw new GuardError(
        ErrorCodes.TRANSIENT,
        `inventory: ${what} did not finish within ${Math.round((this.options.timeoutMs ?? INVENTORY_TIMEOUT_MS) / 1000)} s; no snapshot was made, retry later`,
      );
  }

  private tooManyPages(what: string): GuardError {
    return new GuardError(
      ErrorCodes.INVENTORY_TOO_MANY_PAGES,
      `inventory: ${what} needed more than ${this.maxPages} pages; no snapshot was made: use a narrower --scope`,
    );
  }

  /** Every row of one Resource Graph query (objectArray), following `$skipToken`. */
  private async query(subscriptionId: string, kql: string, deadline: number): Promise<Array<Record<string, unknown>>> {
    const rows: Array<Record<string, unknown>> = [];
    const table = kql.split(' ')[0];
    let skipToken: string | undefined;
    for (let page = 0; ; page++) {
      if (page >= this.maxPages) throw this.tooManyPages(`Resource Graph ${table}`);
      this.checkTime(deadline, `Resource Graph ${table}`);
      let response: ResourceGraphModels.ResourcesResponse;
      try {
        response = await this.client.resources({
          subscriptions: [subscriptionId],
          query: kql,
          options: { resultFormat: 'objectArray', top: INVENTORY_PAGE_SIZE, skipToken },
        });
      } catch (err) {
        throw upstream(err, `Resource Graph ${table}`);
      }
      if (!Array.isArray(response.data))
        throw new GuardError(
          ErrorCodes.MALFORMED,
          `inventory: Resource Graph ${table} answered without a data array; no snapshot was made`,
        );
      rows.push(...(response.data as Array<Record<string, unknown>>));
      skipToken = typeof response.skipToken === 'string' && response.skipToken !== '' ? response.skipToken : undefined;
      if (!skipToken) {
        if (response.resultTruncated === 'true')
          throw new GuardError(
            ErrorCodes.UPSTREAM,
            `inventory: Resource Graph truncated ${table} without a $skipToken; no snapshot was made`,
          );
        return rows;
      }
    }
  }

  /** Every item of one ARM list (`{value, nextLink}`), through the same client's pipeline (credential, agent). */
  private async list(path: string, apiVersion: string, deadline: number): Promise<Array<Record<string, unknown>>> {
    const items: Array<Record<string, unknown>> = [];
    let url: string | undefined = `${this.endpoint}${path}?api-version=${apiVersion}`;
    for (let page = 0; url; page++) {
      if (page >= this.maxPages) throw this.tooManyPages(`GET ${path}`);
      this.checkTime(deadline, `GET ${path}`);
      // A nextLink must stay on the ARM endpoint (the token is sent with it).
      if (!url.startsWith(`${this.endpoint}/`))
        throw new GuardError(
          ErrorCodes.MALFORMED,
          `inventory: GET ${path} returned a nextLink outside ${this.endpoint}; no snapshot was made`,
        );
      let status: number;
      let body: unknown;
      try {
        const res = await this.client.sendRequest({ method: 'GET', url });
        status = res.status;
        body = res.parsedBody;
      } catch (err) {
        throw upstream(err, `GET ${path}`);
      }
      if (status !== 200) throw upstream({ statusCode: status, body }, `GET ${path}`);
      const value = (body as { value?: unknown } | undefined)?.value;
      if (!Array.isArray(value))
        throw new GuardError(
          ErrorCodes.MALFORMED,
          `inventory: GET ${path} answered without a value array; no snapshot was made`,
        );
      items.push(...(value as Array<Record<string, unknown>>));
      const next = (body as { nextLink?: unknown }).nextLink;
      url = typeof next === 'string' && next !== '' ? next : undefined;
    }
    return items;
  }
}

/** An SDK or HTTP failure as a GuardError naming what was read and the role that grants it; never the request. */
function upstream(err: unknown, what: string): GuardError {
  const e = (typeof err === 'object' && err !== null ? err : {}) as {
    statusCode?: number;
    code?: string;
    name?: string;
    body?: unknown;
  };
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  const body = e.body as { error?: { code?: unknown } } | undefined;
  const armCode =
    typeof body?.error?.code === 'string' && /^[\w.-]{1,80}$/.test(body.error.code) ? ` ${body.error.code}` : '';
  const shown = `${status ? `HTTP ${status}` : (e.code ?? e.name ?? 'error')}${armCode}`;
  if (status === 401 || status === 403) {
    return new GuardError(
      ErrorCodes.UPSTREAM,
      `inventory: ${what} was refused (${shown}); grant the identity Reader on the scope (or the acr-guard reader role's doctor actions); no snapshot was made`,
      { status },
    );
  }
  if (status === undefined || status === 408 || status === 429 || status >= 500) {
    return new GuardError(
      ErrorCodes.TRANSIENT,
      `inventory: ${what} failed (${shown}); no snapshot was made, retry later`,
      { status },
    );
  }
  return new GuardError(ErrorCodes.UPSTREAM, `inventory: ${what} failed (${shown}); no snapshot was made`, { status });
}
