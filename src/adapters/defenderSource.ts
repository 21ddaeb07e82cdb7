/**
 * Findings from Microsoft Defender for Containers, read through Azure Resource Graph with the real
 * `ResourceGraphClient` (`@azure/arm-resourcegraph` 4.2.1, an `@azure/ms-rest-js` pipeline). The query and
 * the row mapping live in src/core/defender.ts; this module sends the query, pages through `$skipToken`
 * (Resource Graph returns at most 1000 rows a page) and translates SDK errors into stable codes.
 *
 * Retries: the SDK's own retry policies are switched off. Transient failures (408, 429, 5xx, network) throw
 * `GuardError` `TRANSIENT` (with `retryAfterSeconds` from `Retry-After`), so the Durable activity retry
 * options own back-off and a 30–90 s in-process sleep never eats the activity's time budget.
 */
import { Agent as HttpAgent } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import type { TokenCredential } from '@azure/identity';
import type * as ArmResourceGraph from '@azure/arm-resourcegraph';
import type { ResourceGraphClient, ResourceGraphModels } from '@azure/arm-resourcegraph';
import { buildDefenderQuery, mapDefenderRows, RESOURCE_GRAPH_PAGE_SIZE } from '../core/defender';
import { ErrorCodes, GuardError, isGuardError } from '../core/errors';
import { ListingGuard, LISTING_BOUNDS } from '../core/listing';
import type { FindingsResult } from '../core/types';
import type { FindingsQuery, FindingsSource } from './ports';

/** `@azure/arm-resourcegraph`, loaded on first use: a cold start that does not reach this adapter does not pay for it. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const armResourceGraph = (): typeof ArmResourceGraph => require('@azure/arm-resourcegraph');

/** Options of {@link DefenderFindingsSource}. */
export interface DefenderFindingsSourceOptions {
  /** Entra ID credential (managed identity in Azure) with Reader on the subscriptions. */
  credential: TokenCredential;
  /** Subscriptions to search; all the identity can read when absent or empty. */
  subscriptions?: string[];
  /** Azure Resource Manager endpoint; default `https://management.azure.com` (tests: a loopback server). */
  endpoint?: string;
  /** HTTPS agent for the SDK's requests (tests pass one that trusts their CA). */
  httpsAgent?: HttpsAgent;
  /** Most pages read for one image before giving up (default 50, i.e. 50 000 rows). */
  maxPages?: number;
}

const DEFAULTS = {
  endpoint: 'https://management.azure.com',
  maxPages: LISTING_BOUNDS.resourceGraph.maxPages,
} as const;

const SUBSCRIPTION_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Reads Defender's assessments of one image manifest from Resource Graph. */
export class DefenderFindingsSource implements FindingsSource {
  readonly name = 'defender' as const;
  private readonly client: ResourceGraphClient;
  private readonly subscriptions?: string[];
  private readonly maxPages: number;

  constructor(options: DefenderFindingsSourceOptions) {
    const subscriptions = options.subscriptions?.filter((s) => s !== '');
    subscriptions?.forEach((s, i) => {
      if (!SUBSCRIPTION_RE.test(s)) {
        throw new GuardError(ErrorCodes.INVALID_CONFIG, `subscriptions[${i}]: expected a subscription id (GUID)`, {
          field: `subscriptions[${i}]`,
        });
      }
    });
    this.subscriptions = subscriptions && subscriptions.length > 0 ? subscriptions : undefined;
    this.maxPages = options.maxPages ?? DEFAULTS.maxPages;
    const endpoint = (options.endpoint ?? DEFAULTS.endpoint).replace(/\/+$/, '');
    if (!/^https:\/\//.test(endpoint)) {
      throw new GuardError(ErrorCodes.INVALID_CONFIG, 'endpoint: expected an https:// URL', { field: 'endpoint' });
    }
    this.client = new (armResourceGraph().ResourceGraphClient)(options.credential, {
      baseUri: endpoint,
      noRetryPolicy: true,
      agentSettings: options.httpsAgent ? { https: options.httpsAgent, http: new HttpAgent() } : undefined,
    });
  }

  /** Pending when Defender has no row for the digest yet; throws `TRANSIENT` for retryable failures. */
  async collect(query: FindingsQuery): Promise<FindingsResult> {
    let kql: string;
    try {
      kql = buildDefenderQuery(query.image).query;
    } catch (err) {
      // A permanent input problem is a result with a code (retrying cannot help); anything else is a bug.
      if (isGuardError(err, ErrorCodes.INVALID_INPUT))
        return { source: 'defender', status: 'error', code: err.code, detail: `${err.message}; no query was sent` };
      throw err;
    }
    const rows: unknown[] = [];
    let skipToken: string | undefined;
    // The shared listing guard: a $skipToken that repeats, a page adding no row but promising more, or more
    // than maxPages pages or LISTING_BOUNDS.resourceGraph rows end the listing with an error (no decision).
    const guard = new ListingGuard('Resource Graph: Defender findings of one image', {
      maxPages: this.maxPages,
      maxEntries: LISTING_BOUNDS.resourceGraph.maxEntries,
    });
    for (;;) {
      try {
        guard.beforePage(skipToken);
      } catch (err) {
        return listingRefused(err);
      }
      let response: ResourceGraphModels.ResourcesResponse;
      try {
        response = await this.client.resources({
          subscriptions: this.subscriptions,
          query: kql,
          options: { resultFormat: 'objectArray', top: RESOURCE_GRAPH_PAGE_SIZE, skipToken },
        });
      } catch (err) {
        return translateError(err);
      }
      if (!Array.isArray(response.data)) {
        return {
          source: 'defender',
          status: 'error',
          code: ErrorCodes.MALFORMED,
          detail: 'Resource Graph response has no data array (expected resultFormat objectArray)',
        };
      }
      const next = typeof response.skipToken === 'string' && response.skipToken !== '' ? response.skipToken : undefined;
      try {
        guard.afterPage(response.data.length, next);
      } catch (err) {
        return listingRefused(err);
      }
      for (const row of response.data as unknown[]) rows.push(row);
      skipToken = next;
      if (!skipToken) {
        if (response.resultTruncated === 'true') {
          return {
            source: 'defender',
            status: 'error',
            code: ErrorCodes.UPSTREAM,
            detail:
              'Resource Graph truncated the result without a $skipToken; nothing was decided from a partial answer',
          };
        }
        break;
      }
    }
    return mapDefenderRows(rows, query.image);
  }
}

interface SdkErrorLike {
  name?: string;
  statusCode?: number;
  code?: string;
  response?: { headers?: { get(name: string): string | undefined } };
  body?: { error?: { code?: string } } | unknown;
}

const NETWORK_CODES = new Set([
  'REQUEST_SEND_ERROR',
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'ESOCKETTIMEDOUT',
]);

/** The listing guard refused the next page (a loop, a bound): no findings from a partial answer. */
function listingRefused(err: unknown): FindingsResult {
  return {
    source: 'defender',
    status: 'error',
    code: (err as GuardError).code,
    detail: `${(err as Error).message}; nothing was decided from a partial answer`,
  };
}

/**
 * SDK error to result or GuardError. Never echoes the request or its headers: only status, ARM error code
 * and our own guidance go into the message.
 */
function translateError(err: unknown): FindingsResult {
  const e = (typeof err === 'object' && err !== null ? err : {}) as SdkErrorLike;
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  const armCode = armErrorCode(e.body);
  const shown = `${status ? `HTTP ${status}` : (e.code ?? e.name ?? 'error')}${armCode ? ` ${armCode}` : ''}`;

  if (status === 401 || status === 403) {
    return {
      source: 'defender',
      status: 'error',
      code: ErrorCodes.UPSTREAM,
      detail:
        `Resource Graph refused the query (${shown}). Grant the function app's managed identity "Reader" (or "Security Reader") ` +
        'on each subscription that holds the registry, and list those subscriptions in the configuration.',
    };
  }
  if (status === 408 || status === 429 || (status !== undefined && status >= 500)) {
    const retryAfter = retryAfterSeconds(e.response?.headers?.get('retry-after'));
    throw new GuardError(ErrorCodes.TRANSIENT, `Resource Graph is unavailable for now (${shown}); retry later`, {
      status,
      retryAfterSeconds: retryAfter,
    });
  }
  if (status === undefined) {
    if (e.name === 'CredentialUnavailableError' || e.name === 'AuthenticationRequiredError') {
      return {
        source: 'defender',
        status: 'error',
        code: ErrorCodes.UPSTREAM,
        detail: `no Entra ID token for Resource Graph (${e.name}); assign a managed identity to the app or configure the credential`,
      };
    }
    if (
      (e.code && NETWORK_CODES.has(e.code)) ||
      e.name === 'AuthenticationError' ||
      e.name === 'AbortError' ||
      e.name === 'FetchError'
    ) {
      throw new GuardError(ErrorCodes.TRANSIENT, `Resource Graph could not be reached (${shown}); retry later`);
    }
    throw new GuardError(ErrorCodes.TRANSIENT, `Resource Graph query failed (${shown}); retry later`);
  }
  return {
    source: 'defender',
    status: 'error',
    code: ErrorCodes.UPSTREAM,
    detail: `Resource Graph rejected the query (${shown}); the image was left as it is. Check the query against the Resource Graph API version the SDK uses.`,
  };
}

function armErrorCode(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const error = (body as { error?: unknown; code?: unknown }).error;
  const code =
    typeof error === 'object' && error !== null
      ? (error as { code?: unknown }).code
      : (body as { code?: unknown }).code;
  return typeof code === 'string' && /^[A-Za-z0-9_.-]{1,80}$/.test(code) ? code : undefined;
}

function retryAfterSeconds(value: string | undefined): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}
