/**
 * The HTTP side of the Functions host, for tests: a loopback server that routes requests to the HTTP functions
 * src/functions/index.ts registered (recorded by {@link recordingFunctionsCore}), as the host does: the route
 * template under `/api/` (literal segments win over parameters, a catch-all `{*x}` comes last), the methods, and
 * the function key for `authLevel: function`. Each call gets a real `HttpRequest` and `InvocationContext`.
 *
 * In front of it, {@link startEasyAuthStandIn} plays App Service authentication with `Return401`: it strips any
 * client-sent `x-ms-client-principal`, answers 401 without a session, and for a session injects the principal
 * of the user it was started with (`/.auth/login/aad?user=<name>&post_login_redirect_uri=<path>` signs in).
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import type { RegisteredFunction } from './functionsCore';

interface Route {
  fn: RegisteredFunction;
  segments: string[];
  methods: string[];
  authLevel: string;
}

function routesOf(functions: RegisteredFunction[]): Route[] {
  const routes: Route[] = [];
  for (const fn of functions) {
    const trigger = Object.values(fn.bindings).find((b) => b.type === 'httpTrigger');
    if (!trigger || !fn.handler) continue;
    routes.push({
      fn,
      segments: (trigger.route ?? fn.name).split('/'),
      methods: (trigger.methods ?? ['GET', 'POST']).map((m) => m.toUpperCase()),
      authLevel: trigger.authLevel ?? 'function',
    });
  }
  // Literal segments first, then parameters, a catch-all last (the host's precedence, enough for these routes).
  const weight = (r: Route): number[] => r.segments.map((s) => (s.startsWith('{*') ? 2 : s.startsWith('{') ? 1 : 0));
  return routes.sort((a, b) => {
    const wa = weight(a);
    const wb = weight(b);
    for (let i = 0; i < Math.max(wa.length, wb.length); i++) {
      const d = (wa[i] ?? -1) - (wb[i] ?? -1);
      if (d !== 0) return d;
    }
    return 0;
  });
}

function match(route: Route, parts: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < route.segments.length; i++) {
    const seg = route.segments[i];
    const m = /^\{(\*)?([A-Za-z]+)(\?)?\}$/.exec(seg);
    if (!m) {
      if (parts[i] !== seg) return undefined;
      continue;
    }
    const [, catchAll, name, optional] = m;
    if (catchAll) {
      params[name] = parts.slice(i).join('/');
      return parts.length > i ? params : undefined;
    }
    if (parts[i] === undefined || parts[i] === '') {
      if (!optional) return undefined;
      params[name] = '';
      continue;
    }
    params[name] = decodeURIComponent(parts[i]);
  }
  return parts.length <= route.segments.length ? params : undefined;
}

/** A running stand-in of the host's HTTP side. */
export interface FunctionsHttp {
  url: string;
  /** Names of the functions called, in order. */
  calls: string[];
  stop(): Promise<void>;
}

/** Serves the registered HTTP functions on loopback (port 0). */
export async function startFunctionsHttp(
  functions: RegisteredFunction[],
  options: { functionKey?: string } = {},
): Promise<FunctionsHttp> {
  const routes = routesOf(functions);
  const calls: string[] = [];
  let origin = '';
  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', origin);
      if (!url.pathname.startsWith('/api/')) {
        res.writeHead(404).end();
        return;
      }
      const parts = url.pathname.slice('/api/'.length).split('/');
      const method = (req.method ?? 'GET').toUpperCase();
      let found: { route: Route; params: Record<string, string> } | undefined;
      for (const route of routes) {
        const params = match(route, parts);
        if (params && route.methods.includes(method)) {
          found = { route, params };
          break;
        }
      }
      if (!found) {
        res.writeHead(404).end();
        return;
      }
      if (found.route.authLevel !== 'anonymous' && req.headers['x-functions-key'] !== options.functionKey) {
        res.writeHead(401).end();
        return;
      }
      const body = await readAll(req);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      const request = new HttpRequest({
        method,
        url: url.href,
        headers,
        params: found.params,
        ...(body.length > 0 ? { body: { bytes: body } } : {}),
      });
      const context = new InvocationContext({
        invocationId: `test-${calls.length}`,
        functionName: found.route.fn.name,
        logHandler: () => undefined,
      });
      calls.push(found.route.fn.name);
      const answer = (await found.route.fn.handler!(request, context)) as HttpResponseInit;
      const out = new Headers(answer.headers as Record<string, string> | undefined);
      let payload: string | Buffer = '';
      if (answer.jsonBody !== undefined) {
        payload = JSON.stringify(answer.jsonBody);
        if (!out.has('content-type')) out.set('content-type', 'application/json');
      } else if (typeof answer.body === 'string') payload = answer.body;
      res.writeHead(answer.status ?? 200, Object.fromEntries(out.entries()));
      res.end(payload);
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`functions stand-in: ${err instanceof Error ? err.message : String(err)}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: origin,
    calls,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function readAll(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The principal header Easy Auth writes for a user with these app roles. */
export function easyAuthPrincipal(name: string, roles: readonly string[]): string {
  const claims = [{ typ: 'name', val: name }, ...roles.map((val) => ({ typ: 'roles', val }))];
  return Buffer.from(JSON.stringify({ auth_typ: 'aad', claims, name_typ: 'name', role_typ: 'roles' })).toString(
    'base64',
  );
}

/** A running Easy Auth stand-in. */
export interface EasyAuthStandIn {
  url: string;
  /** `/.auth/login/aad?...` for `user`, then back to `path`. */
  loginUrl(user: string, path: string): string;
  stop(): Promise<void>;
}

/**
 * App Service authentication in front of `target` (Return401): users by name with their app roles; a session is
 * the cookie `AppServiceAuthSession=<user>` that its login path sets.
 */
export async function startEasyAuthStandIn(
  target: string,
  users: Record<string, readonly string[]>,
): Promise<EasyAuthStandIn> {
  const upstream = new URL(target);
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    if (url.pathname === '/.auth/login/aad') {
      const user = url.searchParams.get('user') ?? '';
      const back = url.searchParams.get('post_login_redirect_uri') ?? '/';
      if (!(user in users) || !back.startsWith('/')) {
        res.writeHead(400).end();
        return;
      }
      res.writeHead(302, {
        location: back,
        'set-cookie': `AppServiceAuthSession=${user}; Path=/; HttpOnly; SameSite=Lax`,
      });
      res.end();
      return;
    }
    const cookie = /(?:^|;\s*)AppServiceAuthSession=([A-Za-z0-9_-]+)/.exec(req.headers.cookie ?? '');
    const user = cookie?.[1];
    if (!user || !(user in users)) {
      res
        .writeHead(401, { 'content-type': 'text/plain' })
        .end('You do not have permission to view this directory or page.');
      return;
    }
    const headers = { ...req.headers };
    // Easy Auth drops whatever principal the client sent and writes its own.
    delete headers['x-ms-client-principal'];
    delete headers['x-ms-client-principal-name'];
    headers['x-ms-client-principal'] = easyAuthPrincipal(`${user}@contoso.com`, users[user]);
    headers.host = upstream.host;
    const forward = httpRequest(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    loginUrl: (user, path) =>
      `${url}/.auth/login/aad?user=${encodeURIComponent(user)}&post_login_redirect_uri=${encodeURIComponent(path)}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
