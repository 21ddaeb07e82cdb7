/**
 * A hostile OCI registry on loopback (plain http, 127.0.0.1, port 0): `/v2/_catalog`, `/v2/<name>/tags/list`,
 * `/v2/<name>/referrers/<digest>` and ACR's `/acr/v1/<name>/_manifests` answer pages that never end in one of the ways an attacker (or a broken
 * registry) can choose; every other path is 404, DELETE is counted (and answered 202, as if it worked).
 *
 * - `loop`: page 1 → `last=a` → `last=b` → `last=a` … (fresh entries on every page: only the cursor repeats);
 * - `empty`: endless empty pages, each with a fresh `last`;
 * - `endless`: an endless stream of new names, `n` a page (as asked), each page linking to the next;
 * - `foreign`: a next link to another host;
 * - `self`: a next link back to the very page that sent it.
 */
import type { ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import { MediaTypes } from '../../src/core/types';
import { startLoopback, type SeenRequest } from './loopbackHttp';

/** How the listings misbehave. */
export type HostileMode = 'loop' | 'empty' | 'endless' | 'foreign' | 'self';

/** Every hostile mode. */
export const HOSTILE_MODES: readonly HostileMode[] = ['loop', 'empty', 'endless', 'foreign', 'self'];

/** A running hostile registry. */
export interface HostileRegistry {
  host: string;
  requests: SeenRequest[];
  /** Requests whose path starts with `prefix` (all when omitted). */
  count(prefix?: string): number;
  /** DELETE requests received. */
  deletes(): number;
  close(): Promise<void>;
}

/** Options of {@link startHostileRegistry}. */
export interface HostileOptions {
  /** Wait before each answer, ms (a slow registry). */
  delayMs?: number;
  /** Most entries a page in `endless` mode (default: the `n` asked, or 10 when none is asked, as for referrers). */
  perPage?: number;
}

function digest(i: number): string {
  return `sha256:${createHash('sha256').update(`hostile ${i}`).digest('hex')}`;
}

/** Starts the hostile registry. */
export async function startHostileRegistry(mode: HostileMode, options: HostileOptions = {}): Promise<HostileRegistry> {
  let counter = 0;
  const cursorNames = new Map<string, string>();
  const fresh = (count: number, name: (i: number) => string): string[] =>
    Array.from({ length: count }, () => name(++counter));
  const server = await startLoopback(async (req, res) => {
    if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
    if (req.method === 'DELETE') return void res.writeHead(202).end();
    const catalog = req.path === '/v2/_catalog';
    const tags = /^\/v2\/(.+)\/tags\/list$/.exec(req.path);
    const referrers = /^\/v2\/(.+)\/referrers\/(sha256:[0-9a-f]{64})$/.exec(req.path);
    const acr = /^\/acr\/v1\/(.+)\/_manifests$/.exec(req.path);
    if (!catalog && !tags && !referrers && !acr)
      return void res
        .writeHead(404, { 'content-type': 'application/json' })
        .end('{"errors":[{"code":"NAME_UNKNOWN"}]}');
    const asked = Number(req.query.get('n') ?? 10);
    const n = Math.min(asked, options.perPage ?? asked);
    // The cursor: `last` for catalog and tags, an opaque `page` for referrers.
    // ACR's `_manifests` continues after a digest: the server's cursors travel as digests there.
    const asked2 = referrers ? req.query.get('page') : req.query.get('last');
    const cursor = acr && asked2 !== null ? (cursorNames.get(asked2) ?? asked2) : asked2;
    const name = catalog
      ? (i: number) => `hostile/r${String(i).padStart(7, '0')}`
      : (i: number) => `t${String(i).padStart(7, '0')}`;
    let items: string[];
    let next: string | undefined;
    switch (mode) {
      case 'loop':
        items = fresh(1, name);
        next = cursor === 'a' ? 'b' : 'a';
        break;
      case 'empty':
        items = [];
        next = `e${++counter}`;
        break;
      case 'endless':
        items = fresh(n, name);
        next = items[items.length - 1];
        break;
      case 'foreign':
      case 'self':
        items = fresh(1, name);
        next = cursor ?? 'a';
        break;
    }
    if (acr && next !== undefined) {
      const d = digest(-next.length - [...next].reduce((h, c) => h * 31 + c.charCodeAt(0), 7));
      cursorNames.set(d, next);
      next = d;
    }
    const param = referrers ? 'page' : 'last';
    const target =
      mode === 'foreign'
        ? `http://evil.example:8080${req.path}?${param}=${next}`
        : `${req.path}?${param}=${next}${referrers ? '' : `&n=${n}`}`;
    const headers = { link: `<${target}>; rel="next"` };
    if (acr) {
      const manifests = items.map((_, i) => ({
        digest: digest(counter * 1000 + i),
        mediaType: MediaTypes.ociManifest,
        tags: [],
        createdTime: '2020-01-01T00:00:00Z',
        lastUpdateTime: '2020-01-01T00:00:00Z',
        changeableAttributes: { deleteEnabled: true, writeEnabled: true },
      }));
      return sendTyped(res, 'application/json', { registry: 'hostile', imageName: acr[1], manifests }, headers);
    }
    if (referrers) {
      const manifests = items.map((_, i) => ({
        mediaType: MediaTypes.ociManifest,
        digest: digest(counter * 1000 + i),
        size: 100,
        artifactType: 'application/sarif+json',
      }));
      return sendTyped(
        res,
        MediaTypes.ociIndex,
        { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests },
        headers,
      );
    }
    return sendTyped(
      res,
      'application/json',
      catalog ? { repositories: items } : { name: tags?.[1], tags: items },
      headers,
    );
  });
  return {
    host: server.host,
    requests: server.requests,
    count: (prefix = '') => server.requests.filter((r) => r.path.startsWith(prefix)).length,
    deletes: () => server.requests.filter((r) => r.method === 'DELETE').length,
    close: () => server.close(),
  };
}

function sendTyped(res: ServerResponse, type: string, body: unknown, headers: Record<string, string>): void {
  const bytes = Buffer.from(JSON.stringify(body));
  res.writeHead(200, { 'content-type': type, 'content-length': String(bytes.length), ...headers }).end(bytes);
}
