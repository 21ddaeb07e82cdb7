/**
 * The local service's bridge between node's HTTP server and the Functions programming model: a node request
 * becomes the `HttpRequest` and `InvocationContext` the app's handlers take (the same handlers as in Azure), and
 * their `HttpResponseInit` is written back. Bodies are read up to a bound.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';

/** Reads at most `max` bytes of a request body; undefined when it is longer. */
export async function readBody(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > max) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** The request's headers, one string each (repeated headers joined). */
export function headerRecord(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** Writes a handler's answer: its status, headers and JSON or text body, with its length. */
export function send(res: ServerResponse, response: HttpResponseInit): void {
  const headers: Record<string, string> = {};
  const given = response.headers as Record<string, string> | undefined;
  if (given) for (const [k, v] of Object.entries(given)) headers[k.toLowerCase()] = String(v);
  let payload = '';
  if (response.jsonBody !== undefined) {
    payload = JSON.stringify(response.jsonBody);
    headers['content-type'] ??= 'application/json; charset=utf-8';
  } else if (typeof response.body === 'string') {
    payload = response.body;
  }
  headers['content-length'] = String(Buffer.byteLength(payload));
  res.writeHead(response.status ?? 200, headers);
  res.end(payload);
}

/** A node request as the `HttpRequest` the handlers take (`origin` completes its URL). */
export function httpRequestOf(
  req: IncomingMessage,
  origin: string,
  params: Record<string, string>,
  body?: Buffer,
): HttpRequest {
  return new HttpRequest({
    method: req.method ?? 'GET',
    url: `${origin}${req.url ?? '/'}`,
    headers: headerRecord(req),
    params,
    ...(body ? { body: { bytes: body } } : {}),
  });
}

/** An invocation context for `functionName` whose log lines go to `log` (level named unless information). */
export function invocationContext(functionName: string, log: (line: string) => void): InvocationContext {
  return new InvocationContext({
    invocationId: randomUUID(),
    functionName,
    logHandler: (level, ...args) => log(`${level === 'information' ? '' : `[${level}] `}${args.map(String).join(' ')}`),
  });
}
