/**
 * `npm run bench:purge`: purges a repository of N manifests (default 5,000) on a loopback docker-registry and
 * compares the delete phase with the floor: the same registry deleting an identical repository with plain
 * concurrent DELETEs (raw fetch, no client logic), measured in the same run. Also times planning 100,000
 * manifests (the pure plan, no I/O).
 *
 *   BENCH_MANIFESTS=5000 BENCH_CONCURRENCY=32 npm run bench:purge
 *   BENCH_PLAN_ONLY=1 npm run bench:purge     # only the 100,000-manifest planning, no registry
 */
import { tmpdir, loadavg } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createRegistryClient } from '../src/adapters/registry';
import { listRepositoryManifests } from '../src/adapters/registry/manifestListing';
import { planPurge, type ManifestRecord } from '../src/core/purge/plan';
import type { RetentionRule } from '../src/core/policyTypes';
import { executePurge } from '../src/jobs/purgeExecute';
import { startRegistry } from '../src/local/registryServer';
import { pushImage, type Pushed } from '../src/local/ociPush';
import { MediaTypes } from '../src/core/types';
import { intFromEnv, machineLine, median } from './benchEnv';

const DAY = 86_400_000;

/** Runs `work` over `items` with at most `concurrency` in flight. */
async function pool<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T, i: number) => Promise<void>,
): Promise<number> {
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await work(items[i], i);
      }
    }),
  );
  return performance.now() - start;
}

/** Plans 100,000 manifests (tagged and untagged, indexes, referrers) 3 times: the median and the deletes. */
function planBig(now: number): string {
  // Planning 100,000 manifests (tagged and untagged, indexes, referrers), median of 3.
  const big: ManifestRecord[] = [];
  const dg = (i: number): string => `sha256:${i.toString(16).padStart(64, '0')}`;
  for (let i = 0; i < 100_000; i++) {
    const m: ManifestRecord = {
      digest: dg(i + 1),
      tags: i % 4 === 0 ? [] : [`build-${i}`],
      mediaType: MediaTypes.ociManifest,
      createdMs: now - (i % 120) * DAY,
    };
    if (i % 10 === 1) m.subject = dg(i); // a signature of the previous manifest
    if (i % 50 === 2) {
      m.mediaType = MediaTypes.ociIndex;
      m.children = [dg(i + 2), dg(i + 3)];
    }
    big.push(m);
  }
  const bigRule: RetentionRule = {
    scope: '**',
    keep: 20,
    olderThanMs: 30 * DAY,
    untagged: true,
    tagPattern: '^build-',
    protectInUse: true,
    includeLocked: false,
    index: 0,
  };
  const bigTimes: number[] = [];
  let bigDeletes = 0;
  for (let k = 0; k < 3; k++) {
    const t0 = performance.now();
    bigDeletes = planPurge({
      repository: 'bench/big',
      manifests: big,
      rule: bigRule,
      inUse: [{ tag: 'build-5', source: 'bench' }],
      nowMs: now,
    }).deletes.length;
    bigTimes.push(performance.now() - t0);
  }
  return `${median(bigTimes).toFixed(0)} ms (median of 3; ${bigDeletes} deletes planned)`;
}

async function main(): Promise<void> {
  if (process.env.BENCH_PLAN_ONLY === '1') {
    // Planning alone: no registry, for profiling (`node --cpu-prof dist/bench/purgeBench.js`).
    console.log(
      `load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
    );
    console.log(`planning 100,000 manifests: ${planBig(Date.now())}`);
    return;
  }
  const n = intFromEnv('BENCH_MANIFESTS', 5000, 50_000);
  const concurrency = intFromEnv('BENCH_CONCURRENCY', 32, 32);
  const dir = mkdtempSync(join(tmpdir(), 'acr-guard-purge-bench-'));
  const registry = await startRegistry({ dataDir: join(dir, 'registry') });
  try {
    const host = registry.host;
    const client = createRegistryClient({ host, plainHttp: true });
    const now = Date.now();
    console.log(machineLine());
    console.log(`seeding two identical repositories of ${n} tagged manifests each into docker-registry at ${host}…`);
    const seeded: Record<'floor' | 'purge', Pushed[]> = { floor: [], purge: [] };
    const seedStart = performance.now();
    for (const which of ['floor', 'purge'] as const) {
      const repository = `bench/${which}`;
      // One shared layer; each image's config differs by its `created` time, so every manifest is distinct.
      await pool(
        Array.from({ length: n }, (_, i) => i),
        16,
        async (i) => {
          seeded[which][i] = await pushImage(client, repository, {
            tag: `build-${i}`,
            layers: [Buffer.from('bench layer')],
            created: new Date(now - 40 * DAY - i * 1000).toISOString(),
          });
        },
      );
    }
    console.log(`seeded in ${((performance.now() - seedStart) / 1000).toFixed(1)} s`);

    // The floor: raw concurrent DELETEs of every manifest of bench/floor.
    const base = `http://${host}/v2/bench/floor/manifests`;
    const floorMs = await pool(seeded.floor, concurrency, async (p) => {
      const res = await fetch(`${base}/${p.digest}`, { method: 'DELETE' });
      await res.arrayBuffer();
      if (res.status !== 202) throw new Error(`floor: DELETE ${p.digest} -> ${res.status}`);
    });

    // The purge: list → plan → execute, with the executor's adaptive concurrency capped at the same value.
    const rule: RetentionRule = {
      scope: 'bench/**',
      olderThanMs: 30 * DAY,
      protectInUse: false,
      includeLocked: false,
      index: 0,
    };
    const listStart = performance.now();
    const manifests = await listRepositoryManifests(client, 'bench/purge', { concurrency });
    const listMs = performance.now() - listStart;
    const planStart = performance.now();
    const plan = planPurge({ repository: 'bench/purge', manifests, rule, inUse: [], nowMs: now });
    const planMs = performance.now() - planStart;
    if (plan.deletes.length !== n) throw new Error(`the plan deletes ${plan.deletes.length} of ${n}`);
    const executed = await executePurge({
      client,
      repository: 'bench/purge',
      deletes: plan.deletes,
      maxConcurrency: concurrency,
    });
    if (executed.deleted.length !== n)
      throw new Error(`deleted ${executed.deleted.length} of ${n} (${executed.failed.length} failed)`);
    const left = await listRepositoryManifests(client, 'bench/purge');

    const big = planBig(now);

    const floorRate = n / (floorMs / 1000);
    const purgeRate = n / (executed.elapsedMs / 1000);
    console.log(`\n${n} manifests, concurrency cap ${concurrency}`);
    console.log(
      `floor (raw concurrent DELETE)      ${floorRate.toFixed(1).padStart(8)} deletes/s   (${(floorMs / 1000).toFixed(2)} s)`,
    );
    console.log(
      `purge executor (plan carried out)  ${purgeRate.toFixed(1).padStart(8)} deletes/s   (${(executed.elapsedMs / 1000).toFixed(2)} s, ${executed.retries} retries, left in repository: ${left.length})`,
    );
    console.log(`ratio: purge / floor = ${((purgeRate / floorRate) * 100).toFixed(1)}%  (aim: at least 90%)`);
    console.log(
      `listing ${n} manifests (tags, manifests, referrers, configs): ${(listMs / 1000).toFixed(2)} s; planning them: ${planMs.toFixed(1)} ms`,
    );
    console.log(`planning 100,000 manifests: ${big}`);
  } finally {
    await registry.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
