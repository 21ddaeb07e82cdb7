/**
 * A `fetch` over `node:https` that trusts a given CA. Node's global fetch (undici) takes a CA only through
 * an undici `Agent` passed as `dispatcher`, and undici is not a dependency of this project; this small
 * shim covers what the registry client needs (method, headers, Buffer/string bodies, AbortSignal, redirects)
 * so tests and local runs can talk to an HTTPS registry with a throw-away CA, never by turning checks off.
 */
import http from 'node:http';
import https from 'node:https';

const MAX_REDIRECTS = 5;

function headerRecord(init: RequestInit['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  new Headers(init).forEach((value, key) => {
    out[key] = value;
  });
  return out;
}

function bodyBuffer(body: RequestInit['body']): Buffer | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return Buffer.from(body);
  if (Buffer.isBuffer(body)) return body;
  if (body instanceof Uint8Array) return Buffer.from(body);
  if (body instanceof URLSearchParams) return Buffer.from(body.toString());
  throw new TypeError('tlsFetch: only string, Buffer, Uint8Array and URLSearchParams bodies are supported');
}

/** Creates a fetch that trusts `ca` (PEM) for https URLs; http URLs go through `node:http`. */
export function createTlsFetch(options: { ca: string }): typeof fetch {
  const agent = new https.Agent({ ca: options.ca, keepAlive: false });

  const once = (
    url: URL,
    method: string,
    headers: Record<string, string>,
    body: Buffer | undefined,
    signal: AbortSignal | undefined,
  ): Promise<http.IncomingMessage> =>
    new Promise((resolve, reject) => {
      const send = url.protocol === 'https:' ? https.request : http.request;
      const req = send(
        url,
        {
          method,
          headers: body ? { ...headers, 'content-length': String(body.length) } : headers,
          agent: url.protocol === 'https:' ? agent : undefined,
          signal,
        },
        resolve,
      );
      req.on('error', (err) => reject(Object.assign(new TypeError('fetch failed'), { cause: err })));
      req.end(body);
    });

  const tlsFetch = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    let url = new URL(input instanceof Request ? input.url : String(input));
    let method = (init.method ?? 'GET').toUpperCase();
    let headers = headerRecord(init.headers);
    let body = bodyBuffer(init.body);
    const signal = init.signal ?? undefined;
    for (let hop = 0; ; hop++) {
      const res = await once(url, method, headers, body, signal);
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (status >= 300 && status < 400 && location && init.redirect !== 'manual') {
        res.resume();
        if (init.redirect === 'error' || hop >= MAX_REDIRECTS)
          throw new TypeError('fetch failed', {
            cause: new Error(`redirect refused or too many redirects at ${url.host}`),
          });
        const next = new URL(location, url);
        // As fetch does: credentials never follow a redirect to another origin; 303 (and POST on 301/302) become GET.
        if (next.origin !== url.origin)
          headers = Object.fromEntries(
            Object.entries(headers).filter(([k]) => k !== 'authorization' && k !== 'cookie'),
          );
        if (status === 303 || ((status === 301 || status === 302) && method === 'POST')) {
          method = 'GET';
          body = undefined;
        }
        url = next;
        continue;
      }
      const chunks: Buffer[] = [];
      for await (const chunk of res) chunks.push(chunk as Buffer);
      const responseHeaders = new Headers();
      for (const [key, value] of Object.entries(res.headers)) {
        if (Array.isArray(value)) value.forEach((v) => responseHeaders.append(key, v));
        else if (value !== undefined) responseHeaders.set(key, value);
      }
      const noBody = method === 'HEAD' || status === 204 || status === 304;
      return new Response(noBody ? null : Buffer.concat(chunks), {
        status,
        statusText: res.statusMessage,
        headers: responseHeaders,
      });
    }
  };
  return tlsFetch as typeof fetch;
}
