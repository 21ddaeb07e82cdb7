/**
 * A loopback HTTPS server for tests that drive real Azure SDK clients against a local stand-in of a
 * service's documented REST contract (Resource Graph, Log Analytics, ARM, Key Vault, …).
 *
 * A throw-away CA and a server certificate for `127.0.0.1` / `localhost` are made with the `openssl` CLI
 * in a temp directory (once per test process). Clients trust the CA through an `https.Agent({ ca })`
 * handed to the SDK (never through NODE_TLS_REJECT_UNAUTHORIZED). Routes are handlers that evaluate the
 * request and answer from fixtures; every request is recorded in `requests` for assertions.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A request as the server received it. */
export interface RecordedRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: URLSearchParams;
  /** Header names lower case. */
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** Parsed JSON body, or undefined when the body is empty or not JSON. */
  json?: unknown;
}

/** What a route answers. An object `body` is sent as JSON. */
export interface RouteResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string | Buffer | object;
}

/** Handles one request; may be async. */
export type RouteHandler = (request: RecordedRequest) => RouteResponse | Promise<RouteResponse>;

/** A route: method (or `*`) and an exact path or a pattern. */
export interface Route {
  method: string;
  path: string | RegExp;
  handler: RouteHandler;
}

/** A running server. */
export interface TestHttpsServer {
  /** `https://127.0.0.1:<port>` */
  url: string;
  /** PEM of the CA that signed the server certificate. */
  ca: string;
  /** Every request received, in order. */
  requests: RecordedRequest[];
  /** Adds a route (first match wins; routes added later are tried after earlier ones). */
  route(method: string, path: string | RegExp, handler: RouteHandler): void;
  /** An agent that trusts the test CA (keep-alive off so `close()` is prompt). */
  agent(): https.Agent;
  close(): Promise<void>;
}

/** Options of {@link startHttpsServer}. */
export interface StartHttpsServerOptions {
  routes?: Route[];
  /** Answer for requests no route matches; default 404 with a JSON error naming the path. */
  fallback?: RouteHandler;
}

interface TlsMaterial {
  ca: string;
  cert: string;
  key: string;
}

let material: Promise<TlsMaterial> | undefined;

/** Makes (once per process) a CA and a server certificate for 127.0.0.1/localhost with openssl. */
export function testTlsMaterial(): Promise<TlsMaterial> {
  material ??= makeTlsMaterial();
  return material;
}

async function makeTlsMaterial(): Promise<TlsMaterial> {
  const dir = await mkdtemp(path.join(tmpdir(), 'acr-guard-tls-'));
  const f = (name: string): string => path.join(dir, name);
  try {
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    await run('openssl', [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      f('ca.key'),
      '-out',
      f('ca.crt'),
      '-days',
      '2',
      '-subj',
      '/CN=acr-guard test CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    await run('openssl', ['req', ...ec, '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=localhost']);
    await writeFile(
      f('ext.cnf'),
      'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n',
    );
    await run('openssl', [
      'x509',
      '-req',
      '-in',
      f('server.csr'),
      '-CA',
      f('ca.crt'),
      '-CAkey',
      f('ca.key'),
      '-CAcreateserial',
      '-out',
      f('server.crt'),
      '-days',
      '2',
      '-extfile',
      f('ext.cnf'),
    ]);
    const [ca, cert, key] = await Promise.all([
      readFile(f('ca.crt'), 'utf8'),
      readFile(f('server.crt'), 'utf8'),
      readFile(f('server.key'), 'utf8'),
    ]);
    return { ca, cert, key };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Starts an HTTPS server on 127.0.0.1, port 0. */
export async function startHttpsServer(options: StartHttpsServerOptions = {}): Promise<TestHttpsServer> {
  const tls = await testTlsMaterial();
  const routes: Route[] = [...(options.routes ?? [])];
  const requests: RecordedRequest[] = [];
  const fallback: RouteHandler =
    options.fallback ??
    ((req) => ({
      status: 404,
      body: { error: { code: 'NotFound', message: `no test route for ${req.method} ${req.path}` } },
    }));

  const server = https.createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const url = new URL(req.url ?? '/', 'https://127.0.0.1');
        const body = Buffer.concat(chunks);
        let json: unknown;
        if (body.length > 0) {
          try {
            json = JSON.parse(body.toString('utf8'));
          } catch {
            json = undefined;
          }
        }
        const recorded: RecordedRequest = {
          method: req.method ?? 'GET',
          path: url.pathname,
          query: url.searchParams,
          headers: req.headers,
          body,
          json,
        };
        requests.push(recorded);
        const route = routes.find(
          (r) =>
            (r.method === '*' || r.method.toUpperCase() === recorded.method) &&
            (typeof r.path === 'string' ? r.path === recorded.path : r.path.test(recorded.path)),
        );
        let answer: RouteResponse;
        try {
          answer = await (route ? route.handler(recorded) : fallback(recorded));
        } catch (err) {
          answer = {
            status: 500,
            body: { error: { code: 'TestServerError', message: err instanceof Error ? err.message : String(err) } },
          };
        }
        const headers: Record<string, string> = { ...(answer.headers ?? {}) };
        let payload: Buffer | undefined;
        if (Buffer.isBuffer(answer.body)) payload = answer.body;
        else if (typeof answer.body === 'string') payload = Buffer.from(answer.body);
        else if (answer.body !== undefined) {
          payload = Buffer.from(JSON.stringify(answer.body));
          headers['content-type'] ??= 'application/json; charset=utf-8';
        }
        headers['content-length'] = String(payload?.length ?? 0);
        res.writeHead(answer.status, headers);
        res.end(payload);
      })();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const agents: https.Agent[] = [];

  return {
    url: `https://127.0.0.1:${port}`,
    ca: tls.ca,
    requests,
    route(method, routePath, handler) {
      routes.push({ method, path: routePath, handler });
    },
    agent() {
      const agent = new https.Agent({ ca: tls.ca, keepAlive: false });
      agents.push(agent);
      return agent;
    },
    close() {
      for (const a of agents) a.destroy();
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
