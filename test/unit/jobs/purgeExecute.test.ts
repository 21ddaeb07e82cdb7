/**
 * The purge executor against a loopback server speaking the registry's DELETE and ACR's attribute PATCH:
 * a locked manifest the plan deletes (includeLocked) is unlocked first; a 429 with Retry-After pauses every
 * worker for that long and halves the concurrency; a failed delete keeps what waits for it; a locked manifest
 * whose delete does not happen gets its lock back (or the result says it could not).
 */
import { createRegistryClient } from '../../../src/adapters/registry';
import type { PlanDelete } from '../../../src/core/purge/plan';
import { executePurge } from '../../../src/jobs/purgeExecute';
import { purgeRepository } from '../../../src/jobs/purge';
import type { RetentionRule } from '../../../src/core/policyTypes';
import { sendJson, startLoopback, type LoopbackServer } from '../../support/loopbackHttp';

const d = (i: number): string => `sha256:${i.toString(16).padStart(64, '0')}`;

function del(i: number, extra: Partial<PlanDelete> = {}): PlanDelete {
  return {
    digest: d(i),
    tags: [],
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    action: 'delete',
    reason: 'rule',
    detail: 'test',
    wave: 0,
    locked: false,
    after: [],
    ...extra,
  };
}

describe('executePurge', () => {
  let server: LoopbackServer;
  const locked = new Set<string>();
  /** Attributes the stand-in reports and PATCH changes (a digest in `locked` without an entry: both false). */
  const attrs = new Map<string, { deleteEnabled: boolean; writeEnabled: boolean }>();
  /** DELETE answers 503 this many times per digest. */
  const transient = new Map<string, number>();
  let forbidDigest = '';
  let forbidRelock = false;
  /** What `/acr/v1/app/_manifests` lists (each tagged `old`, created 2026-01-01). */
  let listed: string[] = [];
  /** Tags the attributes GET reports now, when they differ from the listing (a tag pushed since). */
  const tagsNow = new Map<string, string[]>();
  /** Digests the attributes GET answers 404 for (deleted by someone else since the plan). */
  const vanished = new Set<string>();
  const deletedAt = new Map<string, number>();
  let throttleNext = 0;
  let throttledAt = 0;
  let failDigest = '';
  let inFlight = 0;
  let maxInFlight = 0;
  const arrivals: number[] = [];

  beforeAll(async () => {
    server = await startLoopback(async (req, res) => {
      const patch = /^\/acr\/v1\/app\/_manifests\/(sha256:[0-9a-f]{64})$/.exec(req.path);
      const current = (digest: string): { deleteEnabled: boolean; writeEnabled: boolean } =>
        attrs.get(digest) ?? { deleteEnabled: !locked.has(digest), writeEnabled: !locked.has(digest) };
      if (req.method === 'GET' && patch) {
        if (vanished.has(patch[1])) return sendJson(res, 404, { errors: [{ code: 'MANIFEST_UNKNOWN' }] });
        const tags = tagsNow.get(patch[1]) ?? (listed.includes(patch[1]) ? ['old'] : []);
        return sendJson(res, 200, {
          registry: server.host,
          imageName: 'app',
          manifest: { digest: patch[1], ...(tags.length ? { tags } : {}), changeableAttributes: current(patch[1]) },
        });
      }
      if (req.method === 'PATCH' && patch) {
        const body = JSON.parse(req.body.toString()) as { deleteEnabled?: boolean; writeEnabled?: boolean };
        if (forbidRelock && (body.deleteEnabled === false || body.writeEnabled === false))
          return sendJson(res, 403, { errors: [{ code: 'DENIED' }] });
        const next = { ...current(patch[1]), ...body };
        attrs.set(patch[1], next);
        if (next.deleteEnabled && next.writeEnabled) locked.delete(patch[1]);
        else locked.add(patch[1]);
        return sendJson(res, 200, {});
      }
      if (req.method === 'GET' && req.path === '/acr/v1/app/_manifests') {
        const manifests = listed.map((digest) => ({
          digest,
          imageSize: 10,
          createdTime: '2026-01-01T00:00:00Z',
          lastUpdateTime: '2026-01-01T00:00:00Z',
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          tags: ['old'],
          changeableAttributes: current(digest),
        }));
        return sendJson(res, 200, { registry: server.host, imageName: 'app', manifests });
      }
      const m = /^\/v2\/app\/manifests\/(sha256:[0-9a-f]{64})$/.exec(req.path);
      if (req.method !== 'DELETE' || !m) return sendJson(res, 404, {});
      arrivals.push(Date.now());
      if (throttleNext > 0) {
        throttleNext--;
        throttledAt = Date.now();
        return sendJson(res, 429, { errors: [{ code: 'TOOMANYREQUESTS' }] }, { 'retry-after': '1' });
      }
      if (m[1] === failDigest) return sendJson(res, 400, { errors: [{ code: 'BAD' }] });
      if (m[1] === forbidDigest) return sendJson(res, 403, { errors: [{ code: 'DENIED' }] });
      const left = transient.get(m[1]) ?? 0;
      if (left > 0) {
        transient.set(m[1], left - 1);
        return sendJson(res, 503, { errors: [{ code: 'UNAVAILABLE' }] });
      }
      if (locked.has(m[1])) return sendJson(res, 405, { errors: [{ code: 'UNSUPPORTED', message: 'locked' }] });
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
      deletedAt.set(m[1], Date.now());
      res.writeHead(202).end();
    });
  });
  afterAll(async () => {
    await server.close();
  });
  beforeEach(() => {
    locked.clear();
    attrs.clear();
    transient.clear();
    forbidDigest = '';
    forbidRelock = false;
    listed = [];
    tagsNow.clear();
    vanished.clear();
    server.requests.length = 0;
    deletedAt.clear();
    throttleNext = 0;
    failDigest = '';
    maxInFlight = 0;
  });

  it('on ACR leaves a manifest that gained a tag or a lock since the plan, and what waits for it; one already gone counts as done', async () => {
    tagsNow.set(d(20), ['v2-rollback']);
    attrs.set(d(22), { deleteEnabled: false, writeEnabled: true });
    vanished.add(d(23));
    const client = createRegistryClient({ host: server.host, plainHttp: true, acr: true });
    const result = await executePurge({
      client,
      repository: 'app',
      deletes: [del(20), del(22), del(23), del(24), del(21, { wave: 1, after: [d(20)] })],
    });
    expect(result.notAttempted).toEqual([
      expect.objectContaining({
        digest: d(20),
        code: 'CHANGED_SINCE_PLAN',
        detail:
          'not deleted: its tags changed (planned [], now [v2-rollback]) since the plan; the next run plans it again',
      }),
      expect.objectContaining({
        digest: d(22),
        code: 'CHANGED_SINCE_PLAN',
        detail: expect.stringContaining('it was locked since the plan'),
      }),
      expect.objectContaining({ digest: d(21), code: 'KEPT_BY_FAILED_DELETE' }),
    ]);
    expect(result.alreadyGone.map((x) => x.digest)).toEqual([d(23)]);
    expect(result.deleted.map((x) => x.digest)).toEqual([d(24)]);
    expect([...deletedAt.keys()]).toEqual([d(24)]);
    expect(server.requests.filter((r) => r.method === 'PATCH')).toEqual([]);
  });

  it('unlocks a locked manifest on ACR before deleting it', async () => {
    locked.add(d(1));
    const client = createRegistryClient({ host: server.host, plainHttp: true, acr: true });
    const result = await executePurge({ client, repository: 'app', deletes: [del(1, { locked: true }), del(2)] });
    expect(result.deleted.map((x) => x.digest).sort()).toEqual([d(1), d(2)]);
    const patches = server.requests.filter((r) => r.method === 'PATCH');
    expect(patches.map((r) => [r.path, JSON.parse(r.body.toString())])).toEqual([
      [`/acr/v1/app/_manifests/${d(1)}`, { deleteEnabled: true, writeEnabled: true }],
    ]);
  });

  it('pauses every worker for Retry-After on a 429, halves the concurrency, then finishes', async () => {
    throttleNext = 3;
    const client = createRegistryClient({ host: server.host, plainHttp: true });
    const deletes = Array.from({ length: 60 }, (_, i) => del(100 + i));
    const result = await executePurge({
      client,
      repository: 'app',
      deletes,
      maxConcurrency: 16,
      initialConcurrency: 16,
    });
    expect(result.deleted).toHaveLength(60);
    expect(result.throttled).toBe(3);
    // No new DELETE reached the registry for (almost) the second after the last 429: the pause covered every
    // worker. Requests already on the wire when the 429 came may still land in its first moments, later on a
    // loaded 2-core machine (seen: past 150 ms), so the quiet window starts at 400 ms.
    expect(arrivals.filter((t) => t > throttledAt + 400 && t < throttledAt + 900)).toEqual([]);
    expect(arrivals.some((t) => t >= throttledAt + 900)).toBe(true);
    expect(maxInFlight).toBeLessThanOrEqual(16);
  });

  it('counts a permanent failure, and keeps what waits for it (a child of an index that could not be deleted)', async () => {
    failDigest = d(200);
    const client = createRegistryClient({ host: server.host, plainHttp: true });
    const result = await executePurge({
      client,
      repository: 'app',
      deletes: [del(200), del(201), del(202, { wave: 1, after: [d(200)] }), del(203, { wave: 1, after: [d(201)] })],
    });
    expect(result.failed).toEqual([expect.objectContaining({ digest: d(200), code: 'REGISTRY_REJECTED' })]);
    expect(result.notAttempted).toEqual([expect.objectContaining({ digest: d(202), code: 'KEPT_BY_FAILED_DELETE' })]);
    expect(result.deleted.map((x) => x.digest).sort()).toEqual([d(201), d(203)]);
    expect(deletedAt.has(d(202))).toBe(false);
  });

  const patchesOf = (digest: string): unknown[] =>
    server.requests
      .filter((r) => r.method === 'PATCH' && r.path.endsWith(digest))
      .map((r) => JSON.parse(r.body.toString()));

  it('puts back exactly the lock it removed when the delete of a locked manifest fails for good', async () => {
    attrs.set(d(300), { deleteEnabled: false, writeEnabled: true });
    locked.add(d(300));
    failDigest = d(300);
    const client = createRegistryClient({ host: server.host, plainHttp: true, acr: true });
    const result = await executePurge({ client, repository: 'app', deletes: [del(300, { locked: true })] });
    expect(result.failed).toEqual([
      expect.objectContaining({ digest: d(300), code: 'REGISTRY_REJECTED', lock: 'restored' }),
    ]);
    expect(result.failed[0].detail).toMatch(/lock was restored \(deleteEnabled=false, writeEnabled=true\)/);
    expect(result.leftUnlocked).toEqual([]);
    expect(patchesOf(d(300))).toEqual([
      { deleteEnabled: true, writeEnabled: true },
      { deleteEnabled: false, writeEnabled: true },
    ]);
    expect(attrs.get(d(300))).toEqual({ deleteEnabled: false, writeEnabled: true });
  });

  it('locks again a manifest it unlocked when the run stops (403) before its delete is retried', async () => {
    locked.add(d(310));
    transient.set(d(310), 1);
    forbidDigest = d(311);
    const client = createRegistryClient({ host: server.host, plainHttp: true, acr: true });
    const result = await executePurge({
      client,
      repository: 'app',
      deletes: [del(310, { locked: true }), del(311)],
      firstBackoffMs: 100,
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    });
    expect(result.stopped).toMatchObject({ code: 'REGISTRY_AUTH' });
    expect(result.failed).toEqual([expect.objectContaining({ digest: d(311), code: 'REGISTRY_AUTH' })]);
    expect(result.failed[0].lock).toBeUndefined();
    expect(result.notAttempted).toEqual([
      expect.objectContaining({ digest: d(310), code: 'REGISTRY_AUTH', lock: 'restored' }),
    ]);
    expect(result.notAttempted[0].detail).toMatch(
      /^not attempted: the run stopped .*lock was restored \(deleteEnabled=false, writeEnabled=false\)/,
    );
    expect(deletedAt.has(d(310))).toBe(false);
    expect(attrs.get(d(310))).toEqual({ deleteEnabled: false, writeEnabled: false });
  });

  it('says so, in the failure and in leftUnlocked, when the lock cannot be put back', async () => {
    locked.add(d(320));
    failDigest = d(320);
    forbidRelock = true;
    const client = createRegistryClient({ host: server.host, plainHttp: true, acr: true });
    const result = await executePurge({ client, repository: 'app', deletes: [del(320, { locked: true })] });
    expect(result.failed).toEqual([
      expect.objectContaining({ digest: d(320), code: 'REGISTRY_REJECTED', lock: 'not-restored' }),
    ]);
    expect(result.failed[0].detail).toMatch(
      /lock could NOT be restored .*refused \(403\).*set deleteEnabled=false, writeEnabled=false by hand/,
    );
    expect(result.leftUnlocked).toEqual([d(320)]);
    expect(attrs.get(d(320))).toEqual({ deleteEnabled: true, writeEnabled: true });
  });

  it('does not touch the attributes of a locked manifest whose delete succeeds, beyond the unlock', async () => {
    locked.add(d(330));
    transient.set(d(330), 2);
    const client = createRegistryClient({ host: server.host, plainHttp: true, acr: true });
    const result = await executePurge({
      client,
      repository: 'app',
      deletes: [del(330, { locked: true })],
      firstBackoffMs: 1,
    });
    expect(result.deleted.map((x) => x.digest)).toEqual([d(330)]);
    expect(result.retries).toBe(2);
    expect(patchesOf(d(330))).toEqual([{ deleteEnabled: true, writeEnabled: true }]);
  });

  it('names a manifest left unlocked in the repository outcome', async () => {
    listed = [d(340)];
    locked.add(d(340));
    failDigest = d(340);
    forbidRelock = true;
    const client = createRegistryClient({ host: server.host, plainHttp: true, acr: true });
    const rule: RetentionRule = {
      scope: 'app',
      tagPattern: '^old$',
      olderThanMs: 86_400_000,
      protectInUse: false,
      includeLocked: true,
      index: 0,
    };
    const { outcome } = await purgeRepository({
      client,
      repository: 'app',
      rule,
      nowMs: Date.parse('2026-11-30T00:00:00Z'),
      dryRun: false,
    });
    expect(outcome).toMatchObject({ status: 'partial', failed: 1, error: { code: 'REGISTRY_REJECTED' } });
    expect(outcome.error?.detail).toMatch(new RegExp(`LEFT UNLOCKED .*: ${d(340)}$`));
  });
});
