/**
 * samples/rescan.http runs as written (REST Client syntax: variables, named requests, response references)
 * against the local service on embedded defaults with the seeded samples, and each request answers with the
 * status its `# expect` comment states: the example cannot rot.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalStack, type LocalStack } from '../../src/local/stack';

interface SampleRequest {
  title: string;
  name?: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
  /** The status the sample says the request answers with (`# expect <status>`). */
  expect?: number;
}

/** Parses the subset of the REST Client format the sample uses. */
function parseHttpFile(text: string): { variables: Record<string, string>; requests: SampleRequest[] } {
  const variables: Record<string, string> = {};
  const requests: SampleRequest[] = [];
  const blocks = text.split(/^###/m);
  for (const line of blocks[0].split('\n')) {
    const m = /^@(\w+)\s*=\s*(.*)$/.exec(line.trim());
    if (m) variables[m[1]] = m[2];
  }
  for (const block of blocks.slice(1)) {
    const lines = block.split('\n');
    const title = lines[0].trim();
    let name: string | undefined;
    let expected: number | undefined;
    let i = 1;
    for (; i < lines.length && (lines[i].startsWith('#') || lines[i].trim() === ''); i++) {
      const m = /^#\s*@name\s+(\w+)/.exec(lines[i]);
      if (m) name = m[1];
      const e = /^#\s*expect\s+(\d{3})\b/.exec(lines[i]);
      if (e) expected = Number(e[1]);
    }
    const [method, url] = lines[i++].trim().split(/\s+/);
    const headers: Record<string, string> = {};
    for (; i < lines.length && lines[i].trim() !== ''; i++) {
      const colon = lines[i].indexOf(':');
      headers[lines[i].slice(0, colon).trim()] = lines[i].slice(colon + 1).trim();
    }
    const body = lines.slice(i).join('\n').trim();
    requests.push({
      title,
      name,
      method,
      url,
      headers,
      ...(body ? { body } : {}),
      ...(expected === undefined ? {} : { expect: expected }),
    });
  }
  return { variables, requests };
}

function jsonPath(value: any, path: string): unknown {
  return path
    .replace(/^\$\.?/, '')
    .split(/\.|\[(\d+)\]/)
    .filter((p) => p !== undefined && p !== '')
    .reduce((v, key) => (v === undefined || v === null ? undefined : v[key]), value);
}

describe('samples/rescan.http', () => {
  let stack: LocalStack;
  let stateDir: string;
  beforeAll(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'acr-guard-samples-'));
    stack = await startLocalStack({ stateDir, port: 0, registryPort: 0, seed: true, env: {} });
    await stack.seeded;
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('every request answers as the comments say', async () => {
    const { variables, requests } = parseHttpFile(readFileSync(join(__dirname, '../../samples/rescan.http'), 'utf8'));
    variables.base = stack.service.url;
    variables.registry = stack.registry.host;
    // The verdict request reads the push gate's verdict: wait until the seeded image has one.
    for (const deadline = Date.now() + 30_000; ; ) {
      const images = (await (await fetch(`${stack.service.url}/api/images`)).json()) as {
        images: Array<{ repository: string; verdict?: unknown }>;
      };
      if (images.images.some((r) => r.repository === 'demo/vulnerable' && r.verdict)) break;
      if (Date.now() > deadline) throw new Error('the seeded demo/vulnerable got no verdict');
      await new Promise((r) => setTimeout(r, 200));
    }
    const responses: Record<string, unknown> = {};
    const expand = (text: string): string =>
      text.replace(/\{\{([^}]+)\}\}/g, (_m, ref: string) => {
        const response = /^(\w+)\.response\.body\.(.+)$/.exec(ref);
        if (response) return String(jsonPath(responses[response[1]], response[2]));
        if (!(ref in variables)) throw new Error(`unknown variable ${ref}`);
        return variables[ref];
      });
    // Every request states its answer in the sample; a request without one is a broken sample.
    expect(requests.filter((r) => r.expect === undefined).map((r) => r.title)).toEqual([]);
    const statuses: Array<[string, number]> = [];
    for (const r of requests) {
      const headers = Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, expand(v)]));
      const res = await fetch(expand(r.url), {
        method: r.method,
        headers,
        body: r.body === undefined ? undefined : expand(r.body),
      });
      const body = await res.json();
      if (r.name) responses[r.name] = body;
      statuses.push([r.title, res.status]);
    }
    expect(statuses).toEqual(requests.map((r) => [r.title, r.expect]));
    expect(requests.length).toBeGreaterThanOrEqual(6);
    await stack.service.orchestrationHost.settled();
  }, 90_000);
});
