/**
 * Property-based tests (fast-check) of manifests and indexes as acr-guard reads them: a hostile registry on
 * loopback (127.0.0.1, port 0) serves generated bodies (random bytes and JSON, wrong media types, huge arrays,
 * duplicate keys, bad digests, nested indexes) to the real registry adapter, the real `resolveManifest`
 * activity and the real gate (replay driver). Properties: never an untyped crash (only GuardError with a
 * known code), never a release of malformed input, bounded time per case.
 */
import fc from 'fast-check';
import { createRegistryClient } from '../../../src/adapters/registry';
import { digestOf } from '../../../src/adapters/registry';
import type { FetchedManifest, FindingsQuery, FindingsSource } from '../../../src/adapters/ports';
import { ErrorCodes, isGuardError } from '../../../src/core/errors';
import { IN_TOTO_MEDIA_TYPE, MAX_INDEX_ENTRIES, MAX_INDEX_PLATFORMS } from '../../../src/core/indexChildren';
import { loadPolicy } from '../../../src/core/policy';
import { MediaTypes, type FindingsResult, type ImageId } from '../../../src/core/types';
import { runGateLocally } from '../../../src/local/orchestrationHost';
import { resolveManifest, type ResolvedImage } from '../../../src/orchestrations/resolveManifest';
import type { GateServices } from '../../../src/orchestrations/services';
import { MemoryAudit, inconclusiveSignatures as notYetVerifySignatures } from '../../support/durableGateFakes';
import { startLoopback, type LoopbackServer } from '../../support/loopbackHttp';

jest.setTimeout(300_000);

const REPO = 'team/fuzz';
const KNOWN_CODES: ReadonlySet<string> = new Set(Object.values(ErrorCodes));
/** Per-case time bound (a loopback round trip or a few: far below this unless something loops). */
const CASE_MS = 5_000;
/** Cases run, and the slowest case (ms), by property, for the report. */
const ran: Record<string, number> = {};
const slowest: Record<string, { ms: number; size: number }> = {};

const CONTENT_TYPES = [
  MediaTypes.ociManifest,
  MediaTypes.ociIndex,
  MediaTypes.dockerManifest,
  MediaTypes.dockerManifestList,
  'application/json',
  'text/html',
  '',
];

/** Bodies the hostile registry serves, by digest (`wrongDigest`: served under a digest that is not theirs). */
const served = new Map<string, { body: Buffer; contentType: string }>();
let server: LoopbackServer;

beforeAll(async () => {
  server = await startLoopback((req, res) => {
    if (req.path === '/v2/' || req.path === '/v2') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      return;
    }
    const m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(req.path);
    const hit = m && m[1] === REPO ? served.get(m[2]) : undefined;
    if (!hit) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}');
      return;
    }
    res.writeHead(200, {
      ...(hit.contentType ? { 'content-type': hit.contentType } : {}),
      'content-length': String(hit.body.length),
    });
    res.end(req.method === 'HEAD' ? undefined : hit.body);
  });
});

afterAll(async () => {
  await server?.close();
  console.log(
    `manifest fuzz cases run: ${JSON.stringify(ran)}; slowest case (ms, body bytes): ${JSON.stringify(slowest)}`,
  );
});

/** Serves `body` under its own digest (or under `as`), returns that digest. */
function serve(body: Buffer | string, contentType: string, as?: string): string {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const digest = as ?? digestOf(bytes);
  served.set(digest, { body: bytes, contentType });
  return digest;
}

async function within<T>(work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error(`case took over ${CASE_MS} ms`)), CASE_MS)),
  );
  try {
    return await Promise.race([work, limit]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `work`; a throw must be a GuardError with a known code. */
async function typed<T>(work: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; code: string }> {
  try {
    return { ok: true, value: await within(work()) };
  } catch (err) {
    if (!isGuardError(err) || !KNOWN_CODES.has(err.code))
      throw new Error(`untyped failure: ${(err as Error)?.stack ?? String(err)}`);
    return { ok: false, code: err.code };
  }
}

// ---- generators ----

const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/);
const goodDigest = hex64.map((h) => `sha256:${h}`);
const badDigest = fc.oneof(
  fc.string({ maxLength: 80 }),
  hex64.map((h) => `sha256:${h.toUpperCase()}`),
  hex64.map((h) => `md5:${h}`),
  fc.constant('sha256:'),
  fc.constant('sha256:../../x'),
);
const mediaType = fc.oneof(
  fc.constantFrom(
    ...CONTENT_TYPES,
    IN_TOTO_MEDIA_TYPE,
    MediaTypes.ociConfig,
    'application/vnd.oci.image.layer.v1.tar+gzip',
  ),
  fc.string({ maxLength: 40 }),
);
const descriptorLike = fc.record(
  {
    mediaType: fc.oneof(mediaType, fc.jsonValue({ maxDepth: 1 })),
    digest: fc.oneof(goodDigest, badDigest, fc.integer()),
    size: fc.oneof(fc.nat(), fc.string({ maxLength: 5 }), fc.constant(-1)),
    platform: fc.record({
      os: fc.constantFrom('linux', 'unknown', ''),
      architecture: fc.constantFrom('amd64', 'unknown', ''),
    }),
    annotations: fc.dictionary(
      fc.constantFrom('vnd.docker.reference.type', 'x'),
      fc.constantFrom('attestation-manifest', 'y'),
    ),
  },
  { requiredKeys: [] },
);
/** A manifest- or index-like object with each field possibly of the wrong type. */
const manifestLike = fc.record(
  {
    schemaVersion: fc.oneof(fc.constant(2), fc.jsonValue({ maxDepth: 1 })),
    mediaType,
    artifactType: fc.oneof(fc.string({ maxLength: 30 }), fc.integer()),
    config: fc.oneof(descriptorLike, fc.jsonValue({ maxDepth: 2 })),
    layers: fc.oneof(fc.array(descriptorLike, { maxLength: 6 }), fc.jsonValue({ maxDepth: 2 })),
    manifests: fc.oneof(fc.array(descriptorLike, { maxLength: 6 }), fc.jsonValue({ maxDepth: 2 })),
    subject: fc.oneof(descriptorLike, fc.jsonValue({ maxDepth: 1 })),
    annotations: fc.oneof(
      fc.dictionary(fc.string({ maxLength: 10 }), fc.string({ maxLength: 10 })),
      fc.jsonValue({ maxDepth: 1 }),
    ),
  },
  { requiredKeys: [] },
);
/** Hostile body text: random bytes, random JSON, manifest-like objects, duplicate keys, huge arrays, deep nesting. */
const hostileBody: fc.Arbitrary<Buffer> = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
  fc.string({ maxLength: 200 }).map((s) => Buffer.from(s)),
  fc.jsonValue({ maxDepth: 4 }).map((v) => Buffer.from(JSON.stringify(v))),
  manifestLike.map((v) => Buffer.from(JSON.stringify(v))),
  fc
    .tuple(manifestLike, manifestLike)
    .map(([a, b]) =>
      Buffer.from(
        `${JSON.stringify(a).slice(0, -1)}${Object.keys(a).length > 0 ? ',' : ''}${JSON.stringify(b).slice(1)}`,
      ),
    ),
  fc
    .tuple(fc.integer({ min: 1, max: 40_000 }), goodDigest)
    .map(([n, d]) =>
      Buffer.from(
        `{"schemaVersion":2,"mediaType":"${MediaTypes.ociIndex}","manifests":[${Array(n).fill(`{"mediaType":"${MediaTypes.ociManifest}","digest":"${d}","size":1}`).join(',')}]}`,
      ),
    ),
  fc.integer({ min: 1, max: 200_000 }).map((n) => Buffer.from(`${'['.repeat(n)}${']'.repeat(n)}`)),
  fc
    .integer({ min: 4 * 1024 * 1024 - 10, max: 4 * 1024 * 1024 + 10 })
    .map((n) => Buffer.from(`{"a":"${'x'.repeat(n)}"}`)),
);

function checkFetched(m: FetchedManifest): void {
  expect(typeof m.mediaType).toBe('string');
  expect(digestOf(m.bytes)).toBe(m.digest);
  for (const c of [...m.children, ...m.blobs]) {
    expect(typeof c.mediaType).toBe('string');
    expect(c.digest).toMatch(/^sha(256|512):[0-9a-f]+$/);
  }
}

describe('registry adapter over hostile manifest bodies (loopback server)', () => {
  it('getManifest: a verified, typed manifest or a GuardError with a code; never a crash, bounded time', async () => {
    const client = createRegistryClient({ host: server.host, plainHttp: true, timeoutMs: CASE_MS });
    await fc.assert(
      fc.asyncProperty(
        hostileBody,
        fc.constantFrom(...CONTENT_TYPES),
        fc.constantFrom('own', 'other'),
        goodDigest,
        async (body, contentType, under, other) => {
          ran.getManifest = (ran.getManifest ?? 0) + 1;
          const digest = serve(body, contentType, under === 'other' ? other : undefined);
          const started = Date.now();
          const got = await typed(() => client.getManifest(REPO, digest));
          if (Date.now() - started > (slowest.getManifest?.ms ?? -1))
            slowest.getManifest = { ms: Date.now() - started, size: body.length };
          served.delete(digest);
          if (under === 'other' && digestOf(body) !== other)
            expect(got).toEqual({ ok: false, code: expect.any(String) });
          if (got.ok) checkFetched(got.value);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('refuses a descriptor whose digest is not sha256/sha512 or whose size is not a byte count (a counterexample fuzzing found)', async () => {
    const client = createRegistryClient({ host: server.host, plainHttp: true, timeoutMs: CASE_MS });
    for (const config of [
      { mediaType: '', digest: `md5:${'a'.repeat(64)}`, size: 1 },
      { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${'a'.repeat(64)}`, size: -1 },
    ]) {
      const body = Buffer.from(
        JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociManifest, config, layers: [] }),
      );
      const digest = serve(body, MediaTypes.ociManifest);
      expect(await typed(() => client.getManifest(REPO, digest))).toEqual({ ok: false, code: 'MALFORMED' });
      served.delete(digest);
    }
  });
});

// ---- indexes: scenarios with a known right answer ----

type ChildKind = 'image' | 'labelled' | 'attestation' | 'missing' | 'garbage' | 'mismatch' | 'nested' | 'shapeless';
/** Kinds after which the resolution must fail (never released). */
const FAILING: ReadonlySet<ChildKind> = new Set(['missing', 'garbage', 'mismatch', 'nested', 'shapeless']);

interface Scenario {
  index: string;
  /** Codes the resolution may fail with; empty: it must succeed with exactly `platforms`. */
  failCodes: Set<string>;
  platforms: string[];
  skipped: string[];
}

const CONFIG_DESCRIPTOR = { mediaType: MediaTypes.ociConfig, digest: `sha256:${'c'.repeat(64)}`, size: 2 };
const childKind = fc.constantFrom<ChildKind>(
  'image',
  'image',
  'labelled',
  'attestation',
  'attestation',
  'missing',
  'garbage',
  'mismatch',
  'nested',
  'shapeless',
);
const topMutation = fc.constantFrom(
  'plain',
  'dockerList',
  'noMediaType',
  'decoyFirst',
  'decoyLast',
  'badEntry',
  'repeatOverEntries',
  'overPlatforms',
);

/** Builds and serves one index with children of the given kinds; the expected answer comes with it. */
function buildScenario(kinds: ChildKind[], repeat: number, mutation: string, salt: string, junk: Buffer): Scenario {
  const failCodes = new Set<string>();
  const platforms: string[] = [];
  const skipped: string[] = [];
  const entries: Array<Record<string, unknown>> = [];
  kinds.forEach((kind, i) => {
    const tag = `${salt}-${i}`;
    const layer = (mt: string): Record<string, unknown> => ({
      mediaType: mt,
      digest: digestOf(Buffer.from(`${tag}-${mt}`)),
      size: 10,
    });
    const manifest = (layers: Array<Record<string, unknown>>, extra: Record<string, unknown> = {}): string =>
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.ociManifest,
        config: CONFIG_DESCRIPTOR,
        layers,
        annotations: { tag },
        ...extra,
      });
    let digest: string;
    let platform = { os: 'linux', architecture: 'amd64' };
    let annotations: Record<string, string> | undefined;
    switch (kind) {
      case 'image':
        digest = serve(manifest([layer('application/vnd.oci.image.layer.v1.tar+gzip')]), MediaTypes.ociManifest);
        platforms.push(digest);
        break;
      case 'labelled': // an image dressed as an attestation: gated
        digest = serve(
          manifest([layer('application/vnd.oci.image.layer.v1.tar+gzip'), layer(IN_TOTO_MEDIA_TYPE)]),
          MediaTypes.ociManifest,
        );
        platform = { os: 'unknown', architecture: 'unknown' };
        annotations = { 'vnd.docker.reference.type': 'attestation-manifest' };
        platforms.push(digest);
        break;
      case 'attestation':
        digest = serve(manifest([layer(IN_TOTO_MEDIA_TYPE)]), MediaTypes.ociManifest);
        platform = { os: 'unknown', architecture: 'unknown' };
        skipped.push(digest);
        break;
      case 'missing':
        digest = digestOf(Buffer.from(`missing ${tag}`));
        failCodes.add(ErrorCodes.NOT_FOUND);
        break;
      case 'garbage':
        digest = serve(Buffer.concat([Buffer.from(tag), junk]), MediaTypes.ociManifest);
        failCodes.add(ErrorCodes.MALFORMED);
        break;
      case 'mismatch':
        digest = serve(
          manifest([layer('application/vnd.oci.image.layer.v1.tar+gzip')]),
          MediaTypes.ociManifest,
          digestOf(Buffer.from(`other ${tag}`)),
        );
        failCodes.add(ErrorCodes.DIGEST_MISMATCH);
        break;
      case 'nested':
        digest = serve(
          JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [], annotations: { tag } }),
          MediaTypes.ociIndex,
        );
        failCodes.add(ErrorCodes.INDEX_TOO_LARGE);
        break;
      case 'shapeless': // JSON object, no config, no layers, no attestation content
        digest = serve(JSON.stringify({ tag, junk: junk.toString('base64') }), 'application/json');
        failCodes.add(ErrorCodes.MALFORMED);
        break;
    }
    entries.push({
      mediaType: MediaTypes.ociManifest,
      digest,
      size: 1,
      platform,
      ...(annotations ? { annotations } : {}),
    });
  });
  let listed = Array.from({ length: repeat }, () => entries).flat();
  let text: string;
  let contentType: string = MediaTypes.ociIndex;
  const body = (manifests: unknown[], mt: string | undefined = MediaTypes.ociIndex): Record<string, unknown> => ({
    schemaVersion: 2,
    ...(mt ? { mediaType: mt } : {}),
    manifests,
    annotations: { salt },
  });
  const bounded = (): void => {
    if (listed.length > MAX_INDEX_ENTRIES || new Set(listed.map((e) => e.digest)).size > MAX_INDEX_PLATFORMS) {
      failCodes.clear();
      failCodes.add(ErrorCodes.INDEX_TOO_LARGE);
    }
  };
  switch (mutation) {
    case 'dockerList':
      contentType = MediaTypes.dockerManifestList;
      text = JSON.stringify(body(listed, MediaTypes.dockerManifestList));
      break;
    case 'noMediaType': // the media type comes from Content-Type, the shape from the body
      text = JSON.stringify(body(listed, undefined));
      break;
    case 'decoyFirst': // duplicate keys: JSON.parse keeps the last, and so does every reader of the digest
      text = `{"manifests":[],${JSON.stringify(body(listed)).slice(1)}`;
      break;
    case 'decoyLast':
      text = `${JSON.stringify(body(listed)).slice(0, -1)},"manifests":[]}`;
      listed = [];
      platforms.length = 0;
      skipped.length = 0;
      failCodes.clear();
      break;
    case 'badEntry':
      text = JSON.stringify(
        body([...listed, { mediaType: MediaTypes.ociManifest, digest: 'sha256:not-a-digest', size: 1 }]),
      );
      failCodes.clear();
      failCodes.add(ErrorCodes.INVALID_INPUT).add(ErrorCodes.MALFORMED);
      return { index: serve(text, contentType), failCodes, platforms: [], skipped: [] };
    case 'repeatOverEntries':
      listed = Array.from(
        { length: Math.ceil((MAX_INDEX_ENTRIES + 1) / Math.max(1, listed.length)) },
        () => listed,
      ).flat();
      if (listed.length === 0)
        listed = Array.from({ length: MAX_INDEX_ENTRIES + 1 }, () => ({
          mediaType: MediaTypes.ociManifest,
          digest: digestOf(Buffer.from(salt)),
          size: 1,
        }));
      text = JSON.stringify(body(listed));
      break;
    case 'overPlatforms':
      listed = [
        ...listed,
        ...Array.from({ length: MAX_INDEX_PLATFORMS + 1 }, (_, i) => ({
          mediaType: MediaTypes.ociManifest,
          digest: digestOf(Buffer.from(`${salt} extra ${i}`)),
          size: 1,
        })),
      ];
      text = JSON.stringify(body(listed));
      break;
    default:
      text = JSON.stringify(body(listed));
  }
  bounded();
  return { index: serve(text, contentType), failCodes, platforms: [...new Set(platforms)], skipped };
}

const scenario = fc.record({
  kinds: fc.array(childKind, { minLength: 0, maxLength: 6 }),
  repeat: fc.integer({ min: 1, max: 3 }),
  mutation: topMutation,
  salt: fc.uuid(),
  junk: fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
});

function hostileServices(sources: FindingsSource[] = []): GateServices {
  const host = server.host;
  const policy = loadPolicy(
    `version: 1
registries: [{ host: "${host}", apply: none }]
gate:
  - scope: "team/**"
    vulnerabilities: { block: [critical, high], maxReportAge: 7d, sources: [reports], scanDeadline: 0s }
    signatures: { required: false }
`,
    'fuzz policy',
  );
  const client = createRegistryClient({ host, plainHttp: true, timeoutMs: CASE_MS });
  return {
    policy: () => policy,
    registry: () => client,
    sources,
    audit: new MemoryAudit(),
    verifySignatures: notYetVerifySignatures,
  };
}

/** The most permissive scanner there is: every manifest it is asked about is scanned and clean. */
class EverythingClean implements FindingsSource {
  readonly name = 'reports' as const;
  async collect(query: FindingsQuery): Promise<FindingsResult> {
    return { source: 'reports', status: 'ready', findings: [], detail: `0 findings for ${query.image.digest}` };
  }
}

describe('resolveManifest over hostile indexes (loopback server)', () => {
  it('an index resolves only when every child is readable and within the bounds; attestations only by content', async () => {
    const services = hostileServices();
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        ran.resolveManifest = (ran.resolveManifest ?? 0) + 1;
        const expected = buildScenario(s.kinds, s.repeat, s.mutation, s.salt, s.junk);
        const image: ImageId = { registry: server.host, repository: REPO, digest: expected.index };
        const got = await within(resolveManifest(services, { image })); // throws only TRANSIENT (none here): an untyped throw fails
        if (expected.failCodes.size > 0) {
          expect(got.ok).toBe(false);
          expect([...expected.failCodes]).toContain((got as { code: string }).code);
          return;
        }
        expect(got).toMatchObject({ ok: true, kind: 'index' });
        const platforms = (got as ResolvedImage).platforms.map((p) => p.digest);
        expect(platforms).toEqual(expected.platforms);
        for (const d of expected.skipped) expect(platforms).not.toContain(d);
      }),
      { numRuns: 250 },
    );
  });
});

describe('the gate over hostile indexes (replay driver, loopback server, an all-clean scanner)', () => {
  it('releases an index only when it is well formed and within the bounds, with at least one platform image', async () => {
    const services = hostileServices([new EverythingClean()]);
    let n = 0;
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        ran.gate = (ran.gate ?? 0) + 1;
        const expected = buildScenario(s.kinds, s.repeat, s.mutation, s.salt, s.junk);
        const outcome = await within(
          runGateLocally({
            image: { registry: server.host, repository: REPO, digest: expected.index },
            trigger: 'push',
            services,
            timers: 'virtual',
            startTime: new Date('2026-12-01T00:00:00Z'),
            instanceId: `fuzz-${n++}`,
          }),
        );
        const wellFormed = expected.failCodes.size === 0 && expected.platforms.length > 0;
        expect(outcome.status).toBe('decided');
        expect(outcome.verdict?.decision).toBe(wellFormed ? 'release' : 'block');
        if (s.kinds.some((k) => FAILING.has(k)) && s.mutation !== 'decoyLast')
          expect(outcome.verdict?.decision).toBe('block');
      }),
      { numRuns: 80 },
    );
  });
});
