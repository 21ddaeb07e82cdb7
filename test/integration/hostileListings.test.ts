/**
 * Listings that never end (issue 11): a hostile registry on loopback answers the catalog, tag, referrers and
 * ACR `_manifests` listings with pages that loop (a→b→a), endless empty pages with a fresh `last`, an endless stream of new
 * names, and Link headers to another host or back to the same page. The repository rescan (HTTP handler), the
 * purge (CLI and job) and the referrers listing each end promptly with their `LISTING_*` code, start nothing,
 * delete nothing, and send a bounded number of requests (counted by the server).
 *
 * Every call is raced against a timer: on code without the guard these listings never end, and the test must
 * fail rather than hang.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import { handleRescan, MAX_REPOSITORY_TAGS } from '../../src/app/rescan';
import { LISTING_BOUNDS, type ListingBounds } from '../../src/core/listing';
import type { Policy } from '../../src/core/policyTypes';
import { MemoryAuditStore } from '../../src/adapters/auditStore';
import { createRegistryClient } from '../../src/adapters/registry';
import { ReportsFindingsSource } from '../../src/adapters/reportsSource';
import { composeGateServices } from '../../src/app/compose';
import { LocalOrchestrationHost } from '../../src/local/orchestrationHost';
import { purgeRepository, repositoriesToPurge } from '../../src/jobs/purge';
import { runCli } from '../support/cli';
import { startHostileRegistry, type HostileMode, type HostileRegistry } from '../support/hostileRegistry';

jest.setTimeout(30_000);

const NOW = Date.parse('2026-12-01T00:00:00Z');
const DIGEST = `sha256:${'ab'.repeat(32)}`;

/** Rejects when `promise` has not settled within `ms` (code without the guard never ends these listings). */
async function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still listing after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function context(): InvocationContext {
  return new InvocationContext({ invocationId: 'hostile', functionName: 'rescan', logHandler: () => undefined });
}

function post(body: unknown): HttpRequest {
  return new HttpRequest({
    method: 'POST',
    url: 'http://localhost:7071/api/rescan',
    headers: { 'content-type': 'application/json' },
    body: { string: JSON.stringify(body) },
  });
}

function policyFor(host: string): Policy {
  return {
    version: 1,
    registries: [{ host }],
    gate: [],
    retention: [{ scope: '**', keep: 0, untagged: true, protectInUse: false }],
  } as unknown as Policy;
}

/** What each hostile mode must end with, and how many listing requests it may take at most. */
const EXPECT: Record<HostileMode, { code: string }> = {
  loop: { code: 'LISTING_LOOP' },
  empty: { code: 'LISTING_LOOP' },
  endless: { code: 'LISTING_TOO_LARGE' },
  foreign: { code: 'LISTING_INVALID' },
  self: { code: 'LISTING_LOOP' },
};

/** Listing requests each mode takes before the guard ends it (page 1, a, b for a loop; 1 for an empty page …). */
function expectedRequests(mode: HostileMode, endlessPages: number): number {
  return { loop: 3, empty: 1, endless: endlessPages, foreign: 1, self: 2 }[mode];
}

describe('listings that never end', () => {
  let reg: HostileRegistry | undefined;
  afterEach(async () => {
    await reg?.close();
    reg = undefined;
  });

  describe('POST /api/rescan {"repository"}', () => {
    async function rescan(mode: HostileMode, deps: { listingBounds?: ListingBounds } = {}, options = {}) {
      reg = await startHostileRegistry(mode, options);
      const policy = policyFor(reg.host);
      const services = composeGateServices({
        policy: () => policy,
        audit: new MemoryAuditStore(),
        plainHttpHosts: [reg.host],
      });
      const runner = new LocalOrchestrationHost({ services, timers: 'virtual' });
      const started = Date.now();
      const res: HttpResponseInit = await within(
        15_000,
        handleRescan(
          post({ repository: `${reg.host}/team/api` }),
          { policy, starter: runner, registry: services.registry, auth: 'off', ...deps },
          context(),
        ),
      );
      return {
        res,
        ms: Date.now() - started,
        runner,
        body: res.jsonBody as { error: { code: string; field?: string } },
      };
    }

    it.each(['loop', 'empty', 'foreign', 'self'] as HostileMode[])(
      '%s: 502 with its code, nothing started, a bounded number of requests',
      async (mode) => {
        const { res, body, runner, ms } = await rescan(mode);
        expect(res.status).toBe(502);
        expect(body.error.code).toBe(EXPECT[mode].code);
        expect(runner.list()).toEqual([]);
        expect(reg?.count('/v2/team/api/tags/list')).toBe(expectedRequests(mode, 0));
        expect(reg?.count()).toBe(expectedRequests(mode, 0)); // not one manifest resolved
        expect(ms).toBeLessThan(5_000);
      },
    );

    it(`endless new tags: refused after ${MAX_REPOSITORY_TAGS} (400, field repository), in 2 requests, nothing started`, async () => {
      const { res, body, runner } = await rescan('endless');
      expect(res.status).toBe(400);
      expect(body.error).toMatchObject({ code: 'INVALID_INPUT', field: 'repository' });
      expect(runner.list()).toEqual([]);
      expect(reg?.count()).toBe(2);
    });

    it('a registry that trickles one new tag a page slowly: the time bound ends the listing (LISTING_TIMEOUT), nothing started', async () => {
      const { res, body, runner, ms } = await rescan(
        'endless',
        { listingBounds: { maxPages: 100, maxEntries: 100, maxMs: 500 } },
        { perPage: 1, delayMs: 50 },
      );
      expect(res.status).toBe(502);
      expect(body.error.code).toBe('LISTING_TIMEOUT');
      expect(runner.list()).toEqual([]);
      expect(ms).toBeLessThan(1_500);
      expect(reg?.count()).toBeLessThanOrEqual(12);
    });

    it('the default bounds of a repository rescan include a time bound', () => {
      expect(LISTING_BOUNDS.rescanTags.maxMs).toBeGreaterThan(0);
    });
  });

  describe('purge', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'acr-guard-hostile-'));
    });

    // 100,000 repositories at 1000 a page: 100 pages, the 101st pushes it over the bound.
    const catalogPages = LISTING_BOUNDS.catalog.maxEntries / 1000 + 1;

    it.each(['loop', 'empty', 'endless', 'foreign', 'self'] as HostileMode[])(
      'CLI, catalog %s: exit 1 with its code, nothing deleted, bounded requests',
      async (mode) => {
        reg = await startHostileRegistry(mode);
        const policyFile = join(dir, `${mode}.yaml`);
        writeFileSync(
          policyFile,
          `version: 1\nregistries: ["${reg.host}"]\ngate: []\nretention:\n  - scope: "**"\n    keep: 0\n    untagged: true\n    protectInUse: false\n`,
        );
        const started = Date.now();
        const out = await within(
          20_000,
          runCli(['purge', '--registry', reg.host, '--policy', policyFile, '--plain-http', '--output', 'json']),
        );
        expect(out.code).toBe(1);
        expect(out.err).toContain(`[${EXPECT[mode].code}]`);
        expect(reg.deletes()).toBe(0);
        expect(reg.count('/v2/_catalog')).toBe(expectedRequests(mode, catalogPages));
        expect(reg.count()).toBe(reg.count('/v2/_catalog')); // no repository listed, planned or touched
        expect(Date.now() - started).toBeLessThan(15_000);
      },
    );

    it.each(['loop', 'empty', 'endless', 'foreign', 'self'] as HostileMode[])(
      'job, tag listing %s: the repository fails with its code, nothing deleted, bounded requests',
      async (mode) => {
        reg = await startHostileRegistry(mode);
        const client = createRegistryClient({ host: reg.host, plainHttp: true });
        // Smaller bounds than the default 1,000,000 tags keep the endless case quick; the default is the same code.
        const bounds = { maxPages: 1000, maxEntries: 20_000 };
        const result = await within(
          15_000,
          purgeRepository({
            client,
            repository: 'team/api',
            rule: { scope: '**', keep: 0, untagged: true, protectInUse: false } as never,
            nowMs: NOW,
            dryRun: false,
            listing: { bounds },
          }),
        );
        expect(result.outcome).toMatchObject({ status: 'failed', deleted: 0, error: { code: EXPECT[mode].code } });
        expect(result.plan).toBeUndefined();
        expect(reg.deletes()).toBe(0);
        expect(reg.count('/v2/team/api/tags/list')).toBe(expectedRequests(mode, 21));
        expect(reg.count()).toBe(reg.count('/v2/team/api/tags/list'));
      },
    );

    it('job, a registry that trickles one new tag a page slowly: the time bound ends the listing (LISTING_TIMEOUT), nothing deleted', async () => {
      reg = await startHostileRegistry('endless', { perPage: 1, delayMs: 50 });
      const client = createRegistryClient({ host: reg.host, plainHttp: true });
      const started = Date.now();
      const bounds = { ...LISTING_BOUNDS.repositoryTags, maxMs: 500 };
      const result = await within(
        10_000,
        purgeRepository({
          client,
          repository: 'team/api',
          rule: { scope: '**', keep: 0, untagged: true, protectInUse: false } as never,
          nowMs: NOW,
          dryRun: false,
          listing: { bounds },
        }),
      );
      expect(result.outcome).toMatchObject({ status: 'failed', deleted: 0, error: { code: 'LISTING_TIMEOUT' } });
      expect(Date.now() - started).toBeLessThan(1_500);
      expect(reg.deletes()).toBe(0);
      expect(reg.count()).toBeLessThanOrEqual(12);
    });

    it.each(['loop', 'empty', 'endless', 'foreign', 'self'] as HostileMode[])(
      'job on ACR, _manifests %s: the repository fails with its code, nothing deleted, bounded requests',
      async (mode) => {
        reg = await startHostileRegistry(mode);
        const client = createRegistryClient({ host: reg.host, plainHttp: true, acr: true });
        const bounds = { maxPages: 1000, maxEntries: 20_000 };
        const result = await within(
          15_000,
          purgeRepository({
            client,
            repository: 'team/api',
            rule: { scope: '**', keep: 0, untagged: true, protectInUse: false } as never,
            nowMs: NOW,
            dryRun: false,
            listing: { bounds },
          }),
        );
        expect(result.outcome).toMatchObject({ status: 'failed', deleted: 0, error: { code: EXPECT[mode].code } });
        expect(reg.deletes()).toBe(0);
        expect(reg.count('/acr/v1/team/api/_manifests')).toBe(expectedRequests(mode, 21));
        expect(reg.count()).toBe(reg.count('/acr/v1/team/api/_manifests'));
      },
    );

    it('job, catalog: repositoriesToPurge rejects (never a partial list of targets)', async () => {
      reg = await startHostileRegistry('loop');
      const client = createRegistryClient({ host: reg.host, plainHttp: true });
      await expect(within(10_000, repositoriesToPurge(client, policyFor(reg.host)))).rejects.toMatchObject({
        code: 'LISTING_LOOP',
      });
      expect(reg.count()).toBe(3);
    });
  });

  describe('referrers', () => {
    it.each(['loop', 'empty', 'endless', 'foreign', 'self'] as HostileMode[])(
      '%s: listReferrers ends with its code after a bounded number of pages',
      async (mode) => {
        reg = await startHostileRegistry(mode);
        const client = createRegistryClient({ host: reg.host, plainHttp: true });
        const started = Date.now();
        await expect(within(10_000, client.listReferrers('team/api', DIGEST))).rejects.toMatchObject({
          code: EXPECT[mode].code,
        });
        expect(reg.count(`/v2/team/api/referrers/`)).toBe(expectedRequests(mode, LISTING_BOUNDS.referrers.maxPages));
        expect(Date.now() - started).toBeLessThan(5_000);
      },
    );

    it('the gate sees an error (never "no reports"): the reports source answers status error with the code', async () => {
      reg = await startHostileRegistry('empty');
      const host = reg.host;
      const source = new ReportsFindingsSource({ registry: () => createRegistryClient({ host, plainHttp: true }) });
      const result = await within(
        10_000,
        source.collect({ image: { registry: host, repository: 'team/api', digest: DIGEST } } as never),
      );
      expect(result).toMatchObject({ status: 'error', code: 'LISTING_LOOP' });
    });
  });
});
