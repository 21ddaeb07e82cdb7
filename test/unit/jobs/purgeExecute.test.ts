/**
 * The purge executor against a loopback server speaking the registry's DELETE and ACR's attribute PATCH:
 * a locked manifest the plan deletes (includeLocked) is unlocked first; a 429 with Retry-After pauses every
 * worker for that long and halves the concurrency; a failed delete keeps what waits for it.
 */
import { createRegistryClient } from '../../../src/adapters/registry';
import type { PlanDelete } from '../../../src/core/purge/plan';
import { executePurge } from '../../../src/jobs/purgeExecute';
import { sendJson, startLoopback, type LoopbackServer } from '../../support/loopbackHttp';

const d = (i: number): string => `sha256:${i.toString(16).padStart(64, '0')}`;

function del(i: number, extra: Partial<PlanDelete> = {}): PlanDelete {
  return { digest: d(i), tags: [], mediaType: 'application/vnd.oci.image.manifest.v1+json', action: 'delete', reason: 'rule', detail: 'test', wave: 0, locked: false, after: [], ...extra };
}

describe('executePurge', () => {
  let server: LoopbackServer;
  const locked = new Set<string>();
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
      if (req.method === 'PATCH' && patch) {
        const body = JSON.parse(req.body.toString()) as { deleteEnabled?: boolean; writeEnabled?: boolean };
        if (body.deleteEnabled === true && body.writeEnabled === true) locked.delete(patch[1]);
        return sendJson(res, 200, {});
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
    deletedAt.clear();
    throttleNext = 0;
    failDigest = '';
    maxInFlight = 0;
  });

  it('unlocks a locked manifest on ACR before deleting it', async () => {
    locked.add(d(1));
    const client = createRegistryClient({ host: server.host, plainHttp: true, acr: true });
    const result = await executePurge({ client, repository: 'app', deletes: [del(1, { locked: true }), del(2)] });
    expect(result.deleted.map((x) => x.digest).sort()).toEqual([d(1), d(2)]);
    const patches = server.requests.filter((r) => r.method === 'PATCH');
    expect(patches.map((r) => [r.path, JSON.parse(r.body.toString())])).toEqual([[`/acr/v1/app/_manifests/${d(1)}`, { deleteEnabled: true, writeEnabled: true }]]);
  });

  it('pauses every worker for Retry-After on a 429, halves the concurrency, then finishes', async () => {
    throttleNext = 3;
    const client = createRegistryClient({ host: server.host, plainHttp: true });
    const deletes = Array.from({ length: 60 }, (_, i) => del(100 + i));
    const result = await executePurge({ client, repository: 'app', deletes, maxConcurrency: 16, initialConcurrency: 16 });
    expect(result.deleted).toHaveLength(60);
    expect(result.throttled).toBe(3);
    // No new DELETE reached the registry for (almost) the second after the last 429: the pause covered every
    // worker (requests already on the wire when the 429 came may still land in its first moments).
    expect(arrivals.filter((t) => t > throttledAt + 150 && t < throttledAt + 900)).toEqual([]);
    expect(arrivals.some((t) => t >= throttledAt + 900)).toBe(true);
    expect(maxInFlight).toBeLessThanOrEqual(16);
  });

  it('counts a permanent failure, and keeps what waits for it (a child of an index that could not be deleted)', async () => {
    failDigest = d(200);
    const client = createRegistryClient({ host: server.host, plainHttp: true });
    const result = await executePurge({ client, repository: 'app', deletes: [del(200), del(201), del(202, { wave: 1, after: [d(200)] }), del(203, { wave: 1, after: [d(201)] })] });
    expect(result.failed).toEqual([expect.objectContaining({ digest: d(200), code: 'REGISTRY_REJECTED' })]);
    expect(result.notAttempted).toEqual([expect.objectContaining({ digest: d(202), code: 'KEPT_BY_FAILED_DELETE' })]);
    expect(result.deleted.map((x) => x.digest).sort()).toEqual([d(201), d(203)]);
    expect(deletedAt.has(d(202))).toBe(false);
  });
});
