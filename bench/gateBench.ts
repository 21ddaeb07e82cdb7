/**
 * `npm run bench`: gates N images with attached reports on a loopback docker-registry through the real
 * orchestration, and compares with the floor: the raw time the same registry takes to serve the same
 * manifests, referrer indexes, report manifests and report blobs, measured in the same run.
 *
 * Both are warmed up first on images of their own (JIT, connections, the client's per-repository referrers-API
 * answer: a running host is warm; its cold start is `npm run bench:coldstart`), then measured in rounds, each
 * over all the images in slices, the floor, the gate and the gate's previous version taking turns slice by slice (the
 * order turning every slice), so that a change in the machine's speed hits all three; the ratio printed is the
 * median of the rounds' ratios, each round's shown too, with the CPU time per image of every side (this process
 * and the registry's).
 *
 *   BENCH_IMAGES=200 BENCH_CONCURRENCY=8 BENCH_ROUNDS=5 BENCH_SLICE=25 BENCH_COMPARE_VERSION=2 npm run bench
 */
import { tmpdir } from 'node:os';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
import { LocalOrchestrationHost } from '../src/local/orchestrationHost';
import type { GateInput, GateOutcome } from '../src/orchestrations/imageGate';
import { ORCH_IMAGE_GATE } from '../src/orchestrations/names';
import { ORCHESTRATION_VERSION } from '../src/orchestrations/versions';
import { intFromEnv, machineLine, median } from './benchEnv';

const ACCEPT = [
  MediaTypes.ociManifest,
  MediaTypes.ociIndex,
  MediaTypes.dockerManifest,
  MediaTypes.dockerManifestList,
].join(', ');

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/**
 * Runs `work` over `items` with at most `concurrency` in flight; returns per-item latencies (ms, in finishing order:
 * the caller sorts what it merges) and wall time.
 */
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
  return { latencies, wallMs: performance.now() - start };
}

/** CPU time (user + system, ms) of process `pid` so far, from /proc; 0 where there is no /proc. */
function processCpuMs(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** Linux's USER_HZ, the unit of /proc/<pid>/stat times (100 on every common build). */
const CLOCK_TICKS_PER_SECOND = 100;

function summary(label: string, n: number, r: { latencies: number[]; wallMs: number }): string {
  return `${label.padEnd(34)} ${(n / (r.wallMs / 1000)).toFixed(1).padStart(8)} images/s   p50 ${percentile(r.latencies, 50).toFixed(2).padStart(7)} ms   p99 ${percentile(r.latencies, 99).toFixed(2).padStart(7)} ms`;
}

async function main(): Promise<void> {
  const n = intFromEnv('BENCH_IMAGES', 200, 5000);
  const concurrency = intFromEnv('BENCH_CONCURRENCY', 8, 64);
  const rounds = intFromEnv('BENCH_ROUNDS', 5, 50);
  const sliceSize = intFromEnv('BENCH_SLICE', 25, 5000);
  const current = Number(ORCHESTRATION_VERSION);
  const compareVersion = String(intFromEnv('BENCH_COMPARE_VERSION', current - 1, current));
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
    // One host for every gate, as a running Functions app has (activities built once over its services); a second
    // one creates instances of an earlier version (BENCH_COMPARE_VERSION: 2, the shape before this one, by default;
    // 1, the shape before versions), measured in the same slices.
    const compareLabel = `version ${compareVersion}`;
    const gates = new LocalOrchestrationHost({ services, timers: 'virtual' });
    const gatesBefore = new LocalOrchestrationHost({
      services,
      timers: 'virtual',
      orchestrationVersion: compareVersion === '1' ? null : compareVersion,
    });
    let released = 0;
    const floorRun = (set: typeof images) =>
      timed(set, concurrency, async ({ image, reportManifest, reportBlob }) => {
        await get(`${base}/${image.repository}/manifests/${image.digest}`, ACCEPT);
        await get(`${base}/${image.repository}/manifests/${image.digest.replace(':', '-')}`, ACCEPT);
        await get(`${base}/${image.repository}/manifests/${reportManifest}`, ACCEPT);
        await get(`${base}/${image.repository}/blobs/${reportBlob}`);
      });
    const gateRun = (set: typeof images, round: string, host = gates) =>
      timed(set, concurrency, async ({ image }) => {
        const input: GateInput = { image, trigger: 'cli' };
        const { output } = await host.run({
          name: ORCH_IMAGE_GATE,
          instanceId: `bench-${round}-${image.digest.slice(7, 27)}`,
          input,
          startTime: now,
        });
        const outcome = output as GateOutcome;
        if (round.startsWith('0-') && outcome.verdict?.decision === 'release') released++;
      });
    const warm = images.slice(n);
    const measured = images.slice(0, n);
    await floorRun(warm);
    await gateRun(warm, 'warm');
    await gateRun(warm, 'warm-before', gatesBefore);

    // Each round runs the images in slices, the three sides (floor, gate, earlier version) taking turns slice by slice
    // in an order that turns every slice, so a change of machine speed within a round hits them alike; a round's
    // ratio is a gate's summed wall time over the floor's. CPU time (this process, and the registry's) is summed
    // per side.
    const slices: Array<typeof images> = [];
    for (let i = 0; i < n; i += sliceSize) slices.push(measured.slice(i, i + sliceSize));
    console.log(
      `\n${n} images, concurrency ${concurrency}, ${rounds} rounds of ${slices.length} alternating slices of ${sliceSize}, after a warm-up of ${warmup}`,
    );
    const ratios: number[] = [];
    const sides = {
      floor: { wallMs: 0, cpuMs: 0, registryCpuMs: 0, latencies: [] as number[] },
      gate: { wallMs: 0, cpuMs: 0, registryCpuMs: 0, latencies: [] as number[] },
      before: { wallMs: 0, cpuMs: 0, registryCpuMs: 0, latencies: [] as number[] },
    };
    const measure = async (side: keyof typeof sides, work: () => ReturnType<typeof timed>): Promise<number> => {
      const cpu0 = process.cpuUsage();
      const reg0 = processCpuMs(registry.pid);
      const r = await work();
      const cpu = process.cpuUsage(cpu0);
      sides[side].cpuMs += (cpu.user + cpu.system) / 1000;
      sides[side].registryCpuMs += processCpuMs(registry.pid) - reg0;
      sides[side].wallMs += r.wallMs;
      sides[side].latencies.push(...r.latencies);
      return r.wallMs;
    };
    const ratiosBefore: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const ms = { floor: 0, gate: 0, before: 0 };
      for (const [i, slice] of slices.entries()) {
        const run = {
          floor: () => floorRun(slice),
          gate: () => gateRun(slice, `${r}-${i}`),
          before: () => gateRun(slice, `before-${r}-${i}`, gatesBefore),
        };
        // The order turns every slice (floor, gate, before; gate, before, floor; before, floor, gate; …).
        const order = (['floor', 'gate', 'before'] as const).map((_, k, all) => all[(k + i + r) % all.length]);
        for (const side of order) ms[side] += await measure(side, run[side]);
      }
      const ratio = ms.gate / ms.floor;
      ratios.push(ratio);
      ratiosBefore.push(ms.before / ms.floor);
      console.log(
        `round ${r + 1}: floor ${(n / (ms.floor / 1000)).toFixed(1)} images/s, gate ${(n / (ms.gate / 1000)).toFixed(1)} images/s, ratio ${ratio.toFixed(2)}x (${compareLabel}: ${(n / (ms.before / 1000)).toFixed(1)} images/s, ${(ms.before / ms.floor).toFixed(2)}x)`,
      );
    }
    const total = n * rounds;
    for (const [label, side] of [
      ['floor (raw registry reads, 4/gate)', sides.floor],
      [`imageGate version ${ORCHESTRATION_VERSION} (e2e)`, sides.gate],
      [`imageGate ${compareLabel}`, sides.before],
    ] as const) {
      side.latencies.sort((a, b) => a - b);
      console.log(
        `${summary(label, total, side)}   cpu/image: node ${(side.cpuMs / total).toFixed(2)} ms, registry ${(side.registryCpuMs / total).toFixed(2)} ms`,
      );
    }
    console.log(
      `ratio: gate wall time / floor wall time = ${median(ratios).toFixed(2)}x median of ${rounds} rounds (min ${Math.min(...ratios).toFixed(2)}x, max ${Math.max(...ratios).toFixed(2)}x; released ${released}, blocked ${n - released})`,
    );
    console.log(`${compareLabel} in the same slices: ${median(ratiosBefore).toFixed(2)}x median`);
    const cpu = (s: typeof sides.floor): number => s.cpuMs + s.registryCpuMs;
    console.log(
      `cpu: gate / floor = ${(cpu(sides.gate) / cpu(sides.floor)).toFixed(2)}x, ${compareLabel} ${(cpu(sides.before) / cpu(sides.floor)).toFixed(2)}x (this process's and the registry's CPU time per image, all rounds)`,
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
