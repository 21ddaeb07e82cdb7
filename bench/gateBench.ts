/**
 * `npm run bench`: gates N images with attached reports on a loopback docker-registry through the real
 * orchestration, and compares with the floor: the raw time the same registry takes to serve the same
 * manifests, referrer indexes, report manifests and report blobs, measured in the same run.
 *
 * Both are warmed up first on images of their own (JIT, connections, the client's per-repository referrers-API
 * answer: a running host is warm; its cold start is `npm run bench:coldstart`), then measured in alternating
 * rounds (floor, gate, floor, gate, …) so that a change in the machine's load hits both; the ratio printed is
 * the median of the rounds' ratios, each round's shown too.
 *
 *   BENCH_IMAGES=200 BENCH_CONCURRENCY=8 BENCH_ROUNDS=5 npm run bench
 */
import { tmpdir } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadPolicy } from '../src/core/policy';
import { MediaTypes, type ImageId } from '../src/core/types';
import { createRegistryClient } from '../src/adapters/registry';
import { MemoryAuditStore } from '../src/adapters/auditStore';
import { composeGateServices } from '../src/app/compose';
import { startRegistry } from '../src/local/registryServer';
import { pushArtifact, pushImage } from '../src/local/ociPush';
import { sampleSarif } from '../src/local/sampleReports';
import { runGateLocally } from '../src/local/orchestrationHost';
import { intFromEnv, machineLine } from './benchEnv';

const ACCEPT = [
  MediaTypes.ociManifest,
  MediaTypes.ociIndex,
  MediaTypes.dockerManifest,
  MediaTypes.dockerManifestList,
].join(', ');

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Runs `work` over `items` with at most `concurrency` in flight; returns per-item latencies (ms) and wall time. */
async function timed<T>(
  items: T[],
  concurrency: number,
  work: (item: T) => Promise<void>,
): Promise<{ latencies: number[]; wallMs: number }> {
  const latencies: number[] = [];
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const item = items[next++];
        const t0 = performance.now();
        await work(item);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return { latencies: latencies.sort((a, b) => a - b), wallMs: performance.now() - start };
}

function summary(label: string, n: number, r: { latencies: number[]; wallMs: number }): string {
  return `${label.padEnd(34)} ${(n / (r.wallMs / 1000)).toFixed(1).padStart(8)} images/s   p50 ${percentile(r.latencies, 50).toFixed(2).padStart(7)} ms   p99 ${percentile(r.latencies, 99).toFixed(2).padStart(7)} ms`;
}

async function main(): Promise<void> {
  const n = intFromEnv('BENCH_IMAGES', 200, 5000);
  const concurrency = intFromEnv('BENCH_CONCURRENCY', 8, 64);
  const rounds = intFromEnv('BENCH_ROUNDS', 5, 50);
  const warmup = Math.min(40, n);
  const dir = mkdtempSync(join(tmpdir(), 'acr-guard-bench-'));
  const registry = await startRegistry({ dataDir: join(dir, 'registry') });
  try {
    const host = registry.host;
    const client = createRegistryClient({ host, plainHttp: true });
    const now = new Date();
    console.log(machineLine());
    console.log(
      `seeding ${n} images (+${warmup} to warm up with), each with a SARIF report attached as a referrer, into docker-registry at ${host}…`,
    );
    const images: Array<{ image: ImageId; reportManifest: string; reportBlob: string }> = [];
    for (let i = 0; i < n + warmup; i++) {
      const repository = `bench/app${i % 10}`;
      const pushed = await pushImage(client, repository, {
        tag: `v${i}`,
        layers: [Buffer.from(`bench layer ${i}`)],
        created: now.toISOString(),
      });
      const report = sampleSarif({
        imageName: `${host}/${repository}@${pushed.digest}`,
        digest: pushed.digest,
        scannedAt: now.toISOString(),
        vulnerabilities: [
          {
            id: `CVE-2024-${1000 + i}`,
            severity: i % 3 === 0 ? 'critical' : 'low',
            package: 'openssl',
            installedVersion: '3.0.1',
            fixedVersion: '3.0.2',
          },
        ],
      });
      const artifact = await pushArtifact(client, repository, {
        subject: { mediaType: pushed.mediaType, digest: pushed.digest, size: pushed.size },
        artifactType: MediaTypes.sarif,
        blob: report,
        blobMediaType: MediaTypes.sarif,
        annotations: { 'org.opencontainers.image.created': now.toISOString() },
      });
      const artifactManifest = await client.getManifest(repository, artifact.digest);
      images.push({
        image: { registry: host, repository, digest: pushed.digest },
        reportManifest: artifact.digest,
        reportBlob: artifactManifest.blobs[artifactManifest.blobs.length - 1].digest,
      });
    }

    // The floor: the registry serving exactly what a gate must read, with raw fetch and no client logic.
    const base = `http://${host}/v2`;
    const get = async (url: string, accept?: string): Promise<void> => {
      const res = await fetch(url, { headers: accept ? { accept } : {} });
      if (!res.ok) throw new Error(`floor: GET ${url} -> ${res.status}`);
      await res.arrayBuffer();
    };
    const policy = loadPolicy(
      `version: 1
registries: [{ host: "${host}", apply: none }]
gate:
  - scope: "bench/**"
    vulnerabilities: { block: [critical], maxReportAge: 7d, sources: [reports], scanDeadline: 0s }
    signatures: { required: false }
`,
      'bench policy',
    );
    const services = composeGateServices({
      policy: () => policy,
      audit: new MemoryAuditStore(),
      plainHttpHosts: [host],
    });
    let released = 0;
    const floorRun = (set: typeof images) =>
      timed(set, concurrency, async ({ image, reportManifest, reportBlob }) => {
        await get(`${base}/${image.repository}/manifests/${image.digest}`, ACCEPT);
        await get(`${base}/${image.repository}/manifests/${image.digest.replace(':', '-')}`, ACCEPT);
        await get(`${base}/${image.repository}/manifests/${reportManifest}`, ACCEPT);
        await get(`${base}/${image.repository}/blobs/${reportBlob}`);
      });
    const gateRun = (set: typeof images, round: string) =>
      timed(set, concurrency, async ({ image }) => {
        const outcome = await runGateLocally({
          image,
          trigger: 'cli',
          services,
          timers: 'virtual',
          startTime: now,
          instanceId: `bench-${round}-${image.digest.slice(7, 27)}`,
        });
        if (round === '0' && outcome.verdict?.decision === 'release') released++;
      });
    const warm = images.slice(n);
    const measured = images.slice(0, n);
    await floorRun(warm);
    await gateRun(warm, 'warm');

    console.log(`\n${n} images, concurrency ${concurrency}, ${rounds} alternating rounds after a warm-up of ${warmup}`);
    const ratios: number[] = [];
    let best: { floor: Awaited<ReturnType<typeof timed>>; gate: Awaited<ReturnType<typeof timed>> } | undefined;
    for (let r = 0; r < rounds; r++) {
      const floor = await floorRun(measured);
      const gate = await gateRun(measured, String(r));
      const ratio = gate.wallMs / floor.wallMs;
      ratios.push(ratio);
      console.log(
        `round ${r + 1}: floor ${(n / (floor.wallMs / 1000)).toFixed(1)} images/s, gate ${(n / (gate.wallMs / 1000)).toFixed(1)} images/s, ratio ${ratio.toFixed(2)}x`,
      );
      if (!best || ratio < best.gate.wallMs / best.floor.wallMs) best = { floor, gate };
    }
    const sorted = [...ratios].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    if (best) {
      console.log(summary('floor (raw registry reads, 4/gate)', n, best.floor) + '   (best round)');
      console.log(summary('imageGate (orchestration, e2e)', n, best.gate) + '   (best round)');
    }
    console.log(
      `ratio: gate wall time / floor wall time = ${median.toFixed(2)}x median of ${rounds} rounds (min ${sorted[0].toFixed(2)}x, max ${sorted[sorted.length - 1].toFixed(2)}x; released ${released}, blocked ${n - released})`,
    );
  } finally {
    await registry.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
