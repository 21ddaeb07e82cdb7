/**
 * Property-based tests (fast-check) of the paged listings against a loopback server that answers scripted
 * pages: random JSON bodies, random and hostile Link headers, random cursors. For every case:
 * - never an untyped crash: the listing returns, or throws a GuardError with a known code;
 * - never a listing accepted as complete when it was malformed or cut short: a model of the script (written
 *   from the distribution spec, independently of the code) says whether the listing is well formed, and the
 *   result must then be exactly its entries; otherwise it must be an error;
 * - a bounded number of requests and bounded time per case.
 */
import fc from 'fast-check';
import type { ServerResponse } from 'node:http';
import { collectListing, LISTING_BOUNDS } from '../../src/core/listing';
import { GuardError } from '../../src/core/errors';
import { MediaTypes } from '../../src/core/types';
import type { Policy } from '../../src/core/policyTypes';
import { createRegistryClient } from '../../src/adapters/registry';
import { repositoriesToPurge } from '../../src/jobs/purge';
import { startLoopback, type LoopbackServer, type SeenRequest } from '../support/loopbackHttp';

jest.setTimeout(120_000);

const RUNS = 300;
const CASE_MS = 2_000;
const CODES = new Set([
  'LISTING_LOOP',
  'LISTING_TOO_LARGE',
  'LISTING_INVALID',
  'LISTING_TIMEOUT',
  'MALFORMED',
  'NOT_FOUND',
]);
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const REPO_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;

/** How a page's Link header is made. */
type LinkKind =
  | 'none'
  | 'next'
  | 'self'
  | 'back'
  | 'foreign'
  | 'nolast'
  | 'otherPath'
  | 'garbage'
  | 'badCursor'
  | 'twoNext';

/** One scripted page. */
interface ScriptPage {
  /** `good`: a well-formed page of fresh names; `repeat`: the previous page's names again; `random`: any JSON. */
  body:
    | { kind: 'good'; count: number }
    | { kind: 'repeat' }
    | { kind: 'random'; value: unknown }
    | { kind: 'text'; text: string };
  link: LinkKind;
  garbage: string;
  cursor: string;
}

const linkKinds: LinkKind[] = [
  'none',
  'none',
  'next',
  'next',
  'next',
  'next',
  'self',
  'back',
  'foreign',
  'nolast',
  'otherPath',
  'garbage',
  'badCursor',
  'twoNext',
];

const pageArb: fc.Arbitrary<ScriptPage> = fc.record({
  body: fc.oneof(
    { weight: 8, arbitrary: fc.record({ kind: fc.constant('good' as const), count: fc.nat({ max: 4 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('repeat' as const) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('random' as const), value: fc.jsonValue({ maxDepth: 3 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('text' as const), text: fc.string({ maxLength: 40 }) }) },
  ),
  link: fc.constantFrom(...linkKinds),
  // Printable, no "<" (so never a link by accident), not blank.
  garbage: fc.stringMatching(/^[!-;=?-~][ -;=?-~]{0,40}$/),
  cursor: fc.string({ maxLength: 20 }),
});

/** A listing kind under test: where it lives, how a page body is written, what a well-formed body is. */
interface Kind {
  name: 'tags' | 'catalog' | 'referrers';
  path: string;
  param: 'last' | 'page';
  /** Fresh entry `i` as the listing names it. */
  entry(i: number): string;
  body(entries: string[]): unknown;
  contentType: string;
  /** The entries of a body, when it is well formed by the spec (undefined: malformed). */
  wellFormed(value: unknown): string[] | undefined;
}

/** The body of a page whose text is not JSON. */
const NOT_JSON = Symbol('not JSON');

const digestOf = (i: number): string => `sha256:${i.toString(16).padStart(64, '0')}`;

const KINDS: Kind[] = [
  {
    name: 'tags',
    path: '/v2/team/api/tags/list',
    param: 'last',
    entry: (i) => `t${i}`,
    body: (tags) => ({ name: 'team/api', tags }),
    contentType: 'application/json',
    wellFormed: (v) => {
      if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
      const tags = (v as { tags?: unknown }).tags;
      if (tags === null) return [];
      return Array.isArray(tags) && tags.every((t) => typeof t === 'string' && TAG_RE.test(t))
        ? (tags as string[])
        : undefined;
    },
  },
  {
    name: 'catalog',
    path: '/v2/_catalog',
    param: 'last',
    entry: (i) => `team/r${i}`,
    body: (repositories) => ({ repositories }),
    contentType: 'application/json',
    wellFormed: (v) => {
      if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
      const repos = (v as { repositories?: unknown }).repositories;
      if (repos === null) return [];
      return Array.isArray(repos) && repos.every((r) => typeof r === 'string' && r.length <= 255 && REPO_RE.test(r))
        ? (repos as string[])
        : undefined;
    },
  },
  {
    name: 'referrers',
    path: `/v2/team/api/referrers/${digestOf(0xabc)}`,
    param: 'page',
    entry: (i) => digestOf(i),
    body: (digests) => ({
      schemaVersion: 2,
      mediaType: MediaTypes.ociIndex,
      manifests: digests.map((digest) => ({ mediaType: MediaTypes.ociManifest, digest, size: 1 })),
    }),
    contentType: MediaTypes.ociIndex,
    wellFormed: (v) => {
      if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
      const m = (v as { manifests?: unknown }).manifests;
      if (m === undefined) return [];
      if (!Array.isArray(m)) return undefined;
      const ok = m.every(
        (d) =>
          d &&
          typeof d === 'object' &&
          typeof d.mediaType === 'string' &&
          typeof d.size === 'number' &&
          typeof d.digest === 'string' &&
          /^sha256:[0-9a-f]{64}$|^sha512:[0-9a-f]{128}$/.test(d.digest),
      );
      return ok ? m.map((d: { digest: string }) => d.digest) : undefined;
    },
  },
];

/** The scripted server state for one case. */
interface Script {
  kind: Kind;
  pages: ScriptPage[];
  /** Entries of page i as served (fresh names are numbered globally so pages never overlap by accident). */
  entries: string[][];
  bodies: unknown[];
}

function makeScript(kind: Kind, pages: ScriptPage[], base: number): Script {
  const entries: string[][] = [];
  const bodies: unknown[] = [];
  let n = base;
  pages.forEach((p, i) => {
    if (p.body.kind === 'good') {
      entries.push(Array.from({ length: p.body.count }, () => kind.entry(++n)));
      bodies.push(kind.body(entries[i]));
    } else if (p.body.kind === 'repeat') {
      entries.push(i > 0 ? entries[i - 1] : []);
      bodies.push(kind.body(entries[i]));
    } else if (p.body.kind === 'random') {
      bodies.push(p.body.value);
      entries.push(kind.wellFormed(p.body.value) ?? []);
    } else {
      // Text: what the client will parse (as UTF-8); NOT_JSON when it is no JSON at all.
      let value: unknown = NOT_JSON;
      try {
        value = JSON.parse(Buffer.from(p.body.text).toString('utf8'));
      } catch {
        // stays NOT_JSON
      }
      bodies.push(value);
      entries.push(kind.wellFormed(value) ?? []);
    }
  });
  return { kind, pages, entries, bodies };
}

/** The cursor of page i (i ≥ 1) in the script: valid for its kind. */
function cursorOf(kind: Kind, i: number): string {
  return kind.name === 'catalog' ? `team/c${i}` : `c${i}`;
}

/**
 * The model: what a correct client must do with the script. `complete` with the entries when the chain from
 * page 0 is well formed (every body well formed, each `next` link to the following page, every page promising
 * more adding something new, no entry twice) and ends on a page without a link; otherwise an error.
 */
function model(s: Script, maxPages: number): { complete: true; entries: string[] } | { complete: false } {
  const seen = new Set<string>();
  const out: string[] = [];
  for (let i = 0; i < s.pages.length && i < maxPages; i++) {
    const p = s.pages[i];
    const listed = s.kind.wellFormed(s.bodies[i]);
    if (!listed) return { complete: false };
    let added = 0;
    for (const e of listed) {
      if (seen.has(e)) {
        if (s.kind.name !== 'referrers') return { complete: false };
        continue;
      }
      seen.add(e);
      added++;
    }
    out.push(...listed);
    if (p.link === 'none') return { complete: true, entries: out };
    if (p.link !== 'next' || i + 1 >= s.pages.length || added === 0) return { complete: false };
  }
  return { complete: false };
}

function linkHeader(s: Script, i: number, req: SeenRequest, host: string): string | undefined {
  const p = s.pages[i];
  const { kind } = s;
  const to = (cursor: string): string => `<${kind.path}?${kind.param}=${encodeURIComponent(cursor)}>; rel="next"`;
  switch (p.link) {
    case 'none':
      return undefined;
    case 'next':
      return to(cursorOf(kind, i + 1));
    case 'self':
      return i === 0 ? `<${kind.path}>; rel="next"` : to(cursorOf(kind, i));
    case 'back':
      return i === 0 ? `<${kind.path}?n=5>; rel="next"` : to(cursorOf(kind, Math.max(1, i - 1)));
    case 'foreign':
      return `<http://evil.example:1${kind.path}?${kind.param}=${cursorOf(kind, i + 1)}>; rel="next"`;
    case 'nolast':
      return `<${kind.path}?n=3>; rel="next"`;
    case 'otherPath':
      return `<http://${host}/v2/other/tags/list?${kind.param}=${cursorOf(kind, i + 1)}>; rel="next"`;
    case 'garbage':
      return p.garbage;
    case 'badCursor':
      // A cursor the client must not send back unchecked (for tags/catalog: not a valid name).
      return kind.param === 'last' && !TAG_RE.test(p.cursor) && !REPO_RE.test(p.cursor)
        ? to(p.cursor)
        : to(`${p.cursor}/../..`);
    case 'twoNext':
      return `${to(cursorOf(kind, i + 1))}, ${to(cursorOf(kind, i + 2))}`;
  }
  void req;
  return undefined;
}

describe('property: listings over random pages', () => {
  let server: LoopbackServer;
  let script: Script | undefined;
  const hit: number[] = [];

  beforeAll(async () => {
    server = await startLoopback((req, res: ServerResponse) => {
      const s = script;
      if (!s || req.path !== s.kind.path)
        return void res.writeHead(404, { 'content-type': 'application/json' }).end('{}');
      const cursor = req.query.get(s.kind.param);
      const i = cursor === null ? 0 : s.pages.findIndex((_, j) => j > 0 && cursorOf(s.kind, j) === cursor);
      if (i < 0)
        return void res
          .writeHead(404, { 'content-type': 'application/json' })
          .end('{"errors":[{"code":"NAME_UNKNOWN"}]}');
      hit.push(i);
      const link = linkHeader(s, i, req, server.host);
      const p = s.pages[i];
      const bytes = Buffer.from(p.body.kind === 'text' ? p.body.text : (JSON.stringify(s.bodies[i]) ?? 'null'));
      res
        .writeHead(200, {
          'content-type': s.kind.contentType,
          'content-length': String(bytes.length),
          ...(link !== undefined ? { link } : {}),
        })
        .end(bytes);
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  const counts: Record<string, { runs: number; complete: number; refused: number }> = {};
  afterAll(() => {
    // The case counts, for the report.
    console.log(`listing fuzz cases: ${JSON.stringify(counts)}`);
  });

  it.each(KINDS.map((k) => [k.name, k] as const))(
    '%s: typed errors only, never a malformed or cut-short listing accepted, bounded requests and time',
    async (_name, kind) => {
      const tally = (counts[kind.name] = { runs: 0, complete: 0, refused: 0 });
      const client = createRegistryClient({ host: server.host, plainHttp: true });
      let base = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(pageArb, { minLength: 1, maxLength: 6 }), async (pages) => {
          tally.runs++;
          const s = makeScript(kind, pages, (base += 100));
          script = s;
          hit.length = 0;
          const before = server.requests.length;
          const started = Date.now();
          const bounds = kind.name === 'referrers' ? LISTING_BOUNDS.referrers : { maxPages: 50, maxEntries: 1000 };
          const expected = model(s, bounds.maxPages);
          let result: string[] | undefined;
          let error: unknown;
          try {
            if (kind.name === 'tags') {
              result = await collectListing(
                'tags',
                bounds,
                (last) => client.listTags('team/api', { pageSize: 5, ...(last !== undefined ? { last } : {}) }),
                (t) => t,
              );
            } else if (kind.name === 'catalog') {
              const policy = {
                version: 1,
                registries: [{ host: server.host }],
                gate: [],
                retention: [{ scope: '**', keep: 1 }],
              } as unknown as Policy;
              result = (await repositoriesToPurge(client, policy, { pageSize: 5, bounds })).map((t) => t.repository);
            } else {
              result = (await client.listReferrers('team/api', digestOf(0xabc))).map((d) => d.digest);
            }
          } catch (err) {
            error = err;
          }
          const requests = server.requests.length - before;
          if (error !== undefined) {
            expect(error).toBeInstanceOf(GuardError);
            expect(CODES).toContain((error as GuardError).code);
            tally.refused++;
            // A malformed or cut-short listing is an error; a well-formed one is never refused.
            expect(expected.complete).toBe(false);
          } else {
            tally.complete++;
            expect(expected.complete).toBe(true);
            const want = expected.complete ? expected.entries : [];
            expect(result).toEqual(kind.name === 'catalog' ? [...want].sort() : want);
          }
          expect(requests).toBeLessThanOrEqual(Math.min(s.pages.length + 1, bounds.maxPages));
          expect(Date.now() - started).toBeLessThan(CASE_MS);
        }),
        { numRuns: RUNS },
      );
      expect(tally.runs).toBe(RUNS);
      // The generator reaches both outcomes (otherwise the property proves little).
      expect(tally.complete).toBeGreaterThan(10);
      expect(tally.refused).toBeGreaterThan(10);
    },
  );
});
