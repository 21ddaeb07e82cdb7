/**
 * What runs, across the configured scopes, from Azure Resource Graph (`@azure/arm-resourcegraph`, the client the
 * Defender source uses): one paged query (`$skipToken`) over every subscription of `ACR_GUARD_INUSE_SCOPES` lists
 * Container Apps (their current template), Container Apps jobs and container groups (containers and init
 * containers). ARM only where Resource Graph lacks the data: an app in `Multiple` revision mode may run several
 * active revisions, whose templates Resource Graph does not hold — those apps are read through the in-use
 * lookup's ARM path (`ArmInUseLookup` on that one app: every active revision).
 *
 * Fail closed like the in-use lookup: any error, a truncated answer without `$skipToken`, more pages than
 * {@link MAX_INVENTORY_PAGES}, or a row without images throws; a partial inventory is never returned.
 */
import { Agent as HttpAgent } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import type { TokenCredential } from '@azure/identity';
import type * as ArmResourceGraph from '@azure/arm-resourcegraph';
import type { ResourceGraphClient, ResourceGraphModels } from '@azure/arm-resourcegraph';
import { ErrorCodes, GuardError } from '../core/errors';
import { parseInUseScope, type InUseScope } from '../core/inUseScopes';
import type { DeployedImage, InUseLookup } from './ports';
import { ArmInUseLookup } from './inUseLookup';

/** `@azure/arm-resourcegraph`, loaded on first use: a cold start that does not reach the inventory does not pay for it. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const armResourceGraph = (): typeof ArmResourceGraph => require('@azure/arm-resourcegraph');

/** Rows per Resource Graph page (the service's maximum). */
export const INVENTORY_PAGE_SIZE = 1000;
/** Most pages one inventory reads (100,000 workloads); more is `RUNTIME_INVENTORY_TOO_LARGE`. */
export const MAX_INVENTORY_PAGES = 100;

/** The query: the three kinds of workload with only the properties that name images. */
export const INVENTORY_QUERY = [
  'resources',
  "| where type in~ ('microsoft.app/containerapps', 'microsoft.app/jobs', 'microsoft.containerinstance/containergroups')",
  '| project id, type, template = properties.template, revisionsMode = properties.configuration.activeRevisionsMode,',
  '    containers = properties.containers, initContainers = properties.initContainers',
  '| order by id asc',
].join('\n');

/** Options of {@link ResourceGraphInventory}. */
export interface ResourceGraphInventoryOptions {
  credential: TokenCredential;
  scopes: readonly InUseScope[];
  /** ARM endpoint; default `https://management.azure.com` (tests: a loopback server). */
  endpoint?: string;
  /** HTTPS agent for the SDK's requests (tests: one that trusts their CA). */
  httpsAgent?: HttpsAgent;
  /** Reads one app's active revisions through ARM (`Multiple` revision mode); the in-use lookup's ARM path. */
  revisionsOf: (app: InUseScope) => Promise<DeployedImage[]>;
  maxPages?: number;
}

interface Row {
  id?: unknown;
  type?: unknown;
  template?: { containers?: unknown; initContainers?: unknown } | null;
  revisionsMode?: unknown;
  containers?: unknown;
  initContainers?: unknown;
}

function images(list: unknown, id: string, kind: 'container' | 'init container', out: DeployedImage[]): number {
  if (list === undefined || list === null) return 0;
  if (!Array.isArray(list)) throw malformed(`${id}: ${kind}s is not a list`);
  for (const c of list as Array<{ name?: unknown; image?: unknown; properties?: { image?: unknown } }>) {
    // Container groups nest the image under `properties`; Container Apps templates hold it directly.
    const image = c?.image ?? c?.properties?.image;
    if (typeof image !== 'string' || image.trim() === '') throw malformed(`${id} has a ${kind} without an image`);
    out.push({ image, source: `${id}, ${kind} ${typeof c.name === 'string' ? c.name : '(unnamed)'}` });
  }
  return list.length;
}

function malformed(detail: string): GuardError {
  return new GuardError(
    ErrorCodes.MALFORMED,
    `runtime inventory: Resource Graph answered a workload the inventory cannot read (${detail.slice(0, 300)}); no partial inventory is used`,
  );
}

/** True when `id` is inside `scope` (ids compared case-insensitively, as ARM does). */
function within(id: string, scope: InUseScope): boolean {
  const a = id.toLowerCase();
  const s = scope.id.toLowerCase();
  return a === s || a.startsWith(`${s}/`);
}

/** {@link InUseLookup} over Resource Graph (+ ARM for multi-revision apps). */
export class ResourceGraphInventory implements InUseLookup {
  private readonly client: ResourceGraphClient;
  private readonly subscriptions: string[];
  private last?: { at: number; answer: Promise<DeployedImage[]> };

  constructor(private readonly options: ResourceGraphInventoryOptions) {
    const endpoint = (options.endpoint ?? 'https://management.azure.com').replace(/\/+$/, '');
    if (!/^https:\/\//.test(endpoint))
      throw new GuardError(ErrorCodes.INVALID_CONFIG, 'endpoint: expected an https:// URL', { field: 'endpoint' });
    this.client = new (armResourceGraph().ResourceGraphClient)(options.credential, {
      baseUri: endpoint,
      agentSettings: options.httpsAgent ? { https: options.httpsAgent, http: new HttpAgent() } : undefined,
    });
    this.subscriptions = [...new Set(options.scopes.map((s) => s.subscriptionId.toLowerCase()))];
  }

  listDeployedImages(options: { maxAgeMs?: number } = {}): Promise<DeployedImage[]> {
    const now = Date.now();
    if (this.last && options.maxAgeMs && now - this.last.at <= options.maxAgeMs) return this.last.answer;
    const answer = this.read();
    this.last = { at: now, answer };
    answer.catch(() => {
      if (this.last?.answer === answer) this.last = undefined;
    });
    return answer;
  }

  private async read(): Promise<DeployedImage[]> {
    if (this.subscriptions.length === 0) return [];
    const maxPages = this.options.maxPages ?? MAX_INVENTORY_PAGES;
    const out: DeployedImage[] = [];
    const multiRevision: InUseScope[] = [];
    let skipToken: string | undefined;
    for (let page = 0; ; page++) {
      if (page >= maxPages) {
        throw new GuardError(
          ErrorCodes.RUNTIME_INVENTORY_TOO_LARGE,
          `runtime inventory: Resource Graph returned more than ${maxPages} pages (MAX_INVENTORY_PAGES); narrow ACR_GUARD_INUSE_SCOPES. No partial inventory is used`,
        );
      }
      let response: ResourceGraphModels.ResourcesResponse;
      try {
        response = await this.client.resources({
          subscriptions: this.subscriptions,
          query: INVENTORY_QUERY,
          options: { resultFormat: 'objectArray', top: INVENTORY_PAGE_SIZE, skipToken },
        });
      } catch (err) {
        const status = (err as { statusCode?: unknown }).statusCode;
        const shown = typeof status === 'number' ? `HTTP ${status}` : 'no response';
        if (status === 401 || status === 403) {
          throw new GuardError(
            ErrorCodes.UPSTREAM,
            `runtime inventory: Resource Graph refused the query (${shown}); grant the app's identity the "acr-guard in-use reader" role (or Reader) on ${this.subscriptions.join(', ')}`,
          );
        }
        throw new GuardError(
          ErrorCodes.TRANSIENT,
          `runtime inventory: Resource Graph query failed (${shown}); retry later`,
        );
      }
      if (!Array.isArray(response.data)) throw malformed('no data array (expected resultFormat objectArray)');
      for (const row of response.data as Row[]) this.row(row, out, multiRevision);
      skipToken = typeof response.skipToken === 'string' && response.skipToken !== '' ? response.skipToken : undefined;
      if (!skipToken) {
        if (response.resultTruncated === 'true') throw malformed('a truncated result without $skipToken');
        break;
      }
    }
    for (const app of multiRevision) out.push(...(await this.options.revisionsOf(app)));
    return out;
  }

  private row(row: Row, out: DeployedImage[], multiRevision: InUseScope[]): void {
    if (typeof row?.id !== 'string' || typeof row.type !== 'string') throw malformed('a row without id or type');
    const id = row.id;
    // Resource Graph searched whole subscriptions; keep what the configured scopes cover.
    if (!this.options.scopes.some((s) => within(id, s))) return;
    const type = row.type.toLowerCase();
    if (type === 'microsoft.containerinstance/containergroups') {
      if (images(row.containers, id, 'container', out) === 0) throw malformed(`${id} came without containers`);
      images(row.initContainers, id, 'init container', out);
      return;
    }
    // Every mode but Single (Multiple, Labels) may run several active revisions, which Resource Graph does not hold.
    if (type === 'microsoft.app/containerapps' && String(row.revisionsMode ?? 'single').toLowerCase() !== 'single') {
      // Several revisions may be active; their templates are ARM's to tell (the in-use lookup's path).
      multiRevision.push(parseInUseScope(id, 'runtime inventory'));
      return;
    }
    if (type === 'microsoft.app/containerapps' || type === 'microsoft.app/jobs') {
      if (images(row.template?.containers, id, 'container', out) === 0)
        throw malformed(`${id} came without template.containers`);
      images(row.template?.initContainers, id, 'init container', out);
      return;
    }
    throw malformed(`${id} has an unexpected type ${row.type}`);
  }
}

/**
 * The runtime inventory the configuration names (`ACR_GUARD_INUSE_SCOPES`, as the in-use lookup), or undefined
 * when no scope is configured. Multi-revision apps are read through ARM with the same credential and endpoint.
 */
export function runtimeInventoryFor(
  config: { inUse?: { scopes: readonly InUseScope[]; armEndpoint: string } },
  credential: TokenCredential,
): ResourceGraphInventory | undefined {
  const inUse = config.inUse;
  if (!inUse) return undefined;
  return new ResourceGraphInventory({
    credential,
    scopes: inUse.scopes,
    endpoint: inUse.armEndpoint,
    revisionsOf: (app) =>
      new ArmInUseLookup({ credential, scopes: [app], endpoint: inUse.armEndpoint }).listDeployedImages(),
  });
}
