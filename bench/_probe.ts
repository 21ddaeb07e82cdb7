import { tmpdir } from 'node:os';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { loadPolicy } from '../src/core/policy';
import { MediaTypes, type ImageId } from '../src/core/types';
import { createRegistryClient } from '../src/adapters/registry';
import { MemoryAuditStore } from '../src/adapters/auditStore';
import { composeGateServices } from '../src/app/compose';
import { startRegistry } from '../src/local/registryServer';
import { pushArtifact, pushImage } from '../src/local/ociPush';
import { sampleSarif } from '../src/local/sampleReports';
import { runOrchestration } from '../src/local/durableDriver';
import { imageGateOrchestrator } from '../src/orchestrations/imageGate';
import { gateActivities } from '../src/orchestrations/activities';
import { LocalOrchestrationHost } from '../src/local/orchestrationHost';
import { readFileSync } from 'node:fs';
import { execSync } from 'node:child_process';
function regCpuMs(): number {
  const pid = execSync('pgrep -n registry || pgrep -n docker-registry').toString().trim();
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'probe-'));
  const registry = await startRegistry({ dataDir: join(dir, 'registry') });
  const host = registry.host;
  const client = createRegistryClient({ host, plainHttp: true });
  const now = new Date();
  const images: ImageId[] = [];
  const N = Number(process.env.N ?? 300);
  for (let i = 0; i < N; i++) {
    const repository = `bench/app${i % 10}`;
    const pushed = await pushImage(client, repository, { tag: `v${i}`, layers: [Buffer.from(`l ${i}`)], created: now.toISOString() });
    const report = sampleSarif({ imageName: `${host}/${repository}@${pushed.digest}`, digest: pushed.digest, scannedAt: now.toISOString(),
      vulnerabilities: [{ id: `CVE-2024-${1000 + i}`, severity: i % 3 === 0 ? 'critical' : 'low', package: 'openssl', installedVersion: '3.0.1', fixedVersion: '3.0.2' }] });
    await pushArtifact(client, repository, { subject: { mediaType: pushed.mediaType, digest: pushed.digest, size: pushed.size }, artifactType: MediaTypes.sarif, blob: report, blobMediaType: MediaTypes.sarif, annotations: { 'org.opencontainers.image.created': now.toISOString() } });
    images.push({ registry: host, repository, digest: pushed.digest });
  }
  const policy = loadPolicy(`version: 1
registries: [{ host: "${host}", apply: none }]
gate:
  - scope: "bench/**"
    vulnerabilities: { block: [critical], maxReportAge: 7d, sources: [reports], scanDeadline: 0s }
    signatures: { required: false }
`, 'p');
  const services = composeGateServices({ policy: () => policy, audit: new MemoryAuditStore(), plainHttpHosts: [host] });
  const acts = gateActivities(services);
  let requests = 0;
  const orig = globalThis.fetch;
  const urls: string[] = [];
  globalThis.fetch = ((...a: Parameters<typeof fetch>) => { requests++; if (urls.length < 20) urls.push(`${(a[1] as any)?.method ?? 'GET'} ${String(a[0])} ${JSON.stringify((a[1] as any)?.headers)} redirect=${(a[1] as any)?.redirect}`); return orig(...a); }) as typeof fetch;
  const hostRunner = new LocalOrchestrationHost({ services, timers: 'virtual' });
  const run = async (set: ImageId[], version: string | undefined, tag: string) => {
    if (version === 'host') { let next = 0; await Promise.all(Array.from({ length: 8 }, async () => { while (next < set.length) { const image = set[next++]; await hostRunner.run({ name: 'imageGate', instanceId: `${tag}-${image.digest}`, input: { image, trigger: 'cli' }, startTime: now }); } })); return; }
    let next = 0;
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (next < set.length) {
        const image = set[next++];
        const r = await runOrchestration({ name: 'imageGate', orchestrator: imageGateOrchestrator, activities: acts, instanceId: `${tag}-${image.digest}`, input: { image, trigger: 'cli' }, startTime: now, defaultVersion: version, timers: 'virtual' });
        if (r.status !== 'Completed') throw new Error(r.error);
      }
    }));
  };
  await run(images.slice(0, 50), '2', 'warm');
  await run(images.slice(0, 50), undefined, 'warm1');
  console.log(urls.slice(0, 12).join('\n'));
  const base = `http://${host}/v2`;
  const ACCEPT = [MediaTypes.ociManifest, MediaTypes.ociIndex].join(', ');
  const get = async (url: string, accept?: string) => { const res = await orig(url, { headers: accept ? { accept } : {} }); await res.arrayBuffer(); };
  const fl = await Promise.all(images.map(async (image) => { const ref = JSON.parse(await (await orig(`${base}/${image.repository}/manifests/${image.digest.replace(':', '-')}`, { headers: { accept: ACCEPT } })).text()); const rm = ref.manifests[0].digest; const m = JSON.parse(await (await orig(`${base}/${image.repository}/manifests/${rm}`, { headers: { accept: ACCEPT } })).text()); return { image, rm, blob: m.layers[m.layers.length - 1].digest }; }));
  const floor = async () => { let next = 0; await Promise.all(Array.from({ length: 8 }, async () => { while (next < fl.length) { const { image, rm, blob } = fl[next++];
    await get(`${base}/${image.repository}/manifests/${image.digest}`, ACCEPT); await get(`${base}/${image.repository}/manifests/${image.digest.replace(':', '-')}`, ACCEPT); await get(`${base}/${image.repository}/manifests/${rm}`, ACCEPT); await get(`${base}/${image.repository}/blobs/${blob}`); } })); };
  let conns = 0;
  require('node:diagnostics_channel').channel('undici:client:connected').subscribe(() => conns++);
  const measure = async (label: string, work: () => Promise<void>) => {
    requests = 0; conns = 0;
    const c0 = process.cpuUsage(); const r0 = regCpuMs(); const t0 = performance.now();
    await work();
    const tw = execSync(`ss -tan | grep ':${host.split(':')[1]}' | grep -c TIME-WAIT || true`).toString().trim(); console.log('time-wait', tw);
    const c = process.cpuUsage(c0); const wall = performance.now() - t0; const r = regCpuMs() - r0;
    console.log(`${label}: ${(requests / N).toFixed(2)} req/gate, node cpu ${((c.user + c.system) / 1000 / N).toFixed(2)} ms/gate, registry cpu ${(r / N).toFixed(2)}, ${conns} connections, wall ${(wall / N).toFixed(2)} ms/gate`);
  };
  await floor();
  if (process.env.HEAP) { const { Session } = await import('node:inspector/promises'); const session = new Session(); session.connect(); await session.post('HeapProfiler.enable'); await session.post('HeapProfiler.startSampling', { samplingInterval: 4096 });
    for (let round = 0; round < 2; round++) await run(images, '2', `h${round}`);
    const { profile } = await session.post('HeapProfiler.stopSampling'); require('node:fs').writeFileSync('/tmp/perf/v2.heapprofile', JSON.stringify(profile)); await registry.stop(); return; }
  if (process.env.ONLY) { const { Session } = await import('node:inspector/promises'); const session = new Session(); session.connect(); await session.post('Profiler.enable'); await session.post('Profiler.start');
    for (let round = 0; round < 3; round++) await run(images, 'host', `p${round}`);
    const { profile } = await session.post('Profiler.stop'); require('node:fs').writeFileSync('/tmp/perf/v2.cpuprofile', JSON.stringify(profile)); await registry.stop(); return; }
  for (let round = 0; round < 3; round++) {
    await measure('floor', floor);
    for (const v of [undefined, '2', 'host']) await measure(`v${v ?? 1}`, () => run(images, v, `r${round}-${v}`));
  }
  await registry.stop();
}
main();
