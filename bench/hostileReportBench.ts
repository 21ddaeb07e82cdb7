/**
 * Hostile report measurement (issue 11): gates one image on a loopback docker-registry whose attached SARIF report
 * holds 300,000 distinct critical results (`BENCH_CASE=distinct`) or 1,000,000 duplicates of one
 * (`BENCH_CASE=duplicates`), through the real orchestration, activities and local replay driver. Prints the
 * decision, the reason, wall time, peak RSS (sampled) and the serialized history size.
 *
 *   npm run bench:reports                                   (BENCH_CASE=distinct, the default)
 *   BENCH_CASE=duplicates npm run bench:reports
 *   BENCH_CASE=distinct BENCH_COUNT=49999 npm run bench:reports
 */
import { performance } from 'node:perf_hooks';
import { MemoryAuditStore } from '../src/adapters/auditStore';
import { createRegistryClient } from '../src/adapters/registry';
import { composeGateServices } from '../src/app/compose';
import { loadPolicy } from '../src/core/policy';
import { MediaTypes } from '../src/core/types';
import { runOrchestration } from '../src/local/durableDriver';
import { pushArtifact, pushImage } from '../src/local/ociPush';
import { startRegistry } from '../src/local/registryServer';
import { gateActivities } from '../src/orchestrations/activities';
import { imageGateOrchestrator, type GateOutcome } from '../src/orchestrations/imageGate';
import { ORCH_IMAGE_GATE } from '../src/orchestrations/names';
import { ORCHESTRATION_VERSION } from '../src/orchestrations/versions';
import { hostileSarif } from '../test/support/pushSamples';

async function main(): Promise<void> {
  const kind = process.env.BENCH_CASE === 'duplicates' ? 'duplicates' : 'distinct';
  // BENCH_COUNT overrides the count (e.g. 49999: a report just under MAX_REPORT_FINDINGS, which is parsed).
  const count = Number(process.env.BENCH_COUNT) || (kind === 'duplicates' ? 1_000_000 : 300_000);
  const registry = await startRegistry();
  const client = createRegistryClient({ host: registry.host, plainHttp: true });
  try {
    const now = new Date();
    const pushed = await pushImage(client, 'team/hostile', {
      tag: kind,
      layers: [Buffer.from(kind)],
      created: now.toISOString(),
    });
    const report = hostileSarif(kind, count, pushed.digest, now.toISOString());
    await pushArtifact(client, 'team/hostile', {
      subject: { mediaType: pushed.mediaType, digest: pushed.digest, size: pushed.size },
      artifactType: MediaTypes.sarif,
      blob: report,
      blobMediaType: MediaTypes.sarif,
    });
    const policy = loadPolicy(
      `version: 1\nregistries: [{ host: "${registry.host}", apply: none }]\ngate:\n  - scope: "team/**"\n    vulnerabilities: { block: [critical, high], maxReportAge: 7d, sources: [reports], scanDeadline: 2m, pollInterval: 1m }\n    signatures: { required: false }\n`,
      'bench policy',
    );
    const services = composeGateServices({
      policy: () => policy,
      audit: new MemoryAuditStore(),
      plainHttpHosts: [registry.host],
    });
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const t0 = performance.now();
    const result = await runOrchestration({
      name: ORCH_IMAGE_GATE,
      orchestrator: imageGateOrchestrator,
      activities: gateActivities(services),
      instanceId: `hostile-${kind}`,
      input: { image: { registry: registry.host, repository: 'team/hostile', digest: pushed.digest }, trigger: 'cli' },
      startTime: now,
      // As a deployed host creates it (host.json defaultVersion).
      defaultVersion: ORCHESTRATION_VERSION,
    });
    const ms = performance.now() - t0;
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().rss);
    const outcome = result.output as GateOutcome | undefined;
    const bad = outcome?.verdict?.checks
      .filter((c) => c.status !== 'pass' && c.status !== 'skip')
      .map((c) => `${c.name} ${c.status}: ${c.reason.slice(0, 160)}`);
    console.log(
      JSON.stringify(
        {
          case: kind,
          results: count,
          reportBytes: report.length,
          status: result.status,
          decision: outcome?.verdict?.decision,
          summary: outcome?.verdict?.summary?.slice(0, 200),
          failing: bad,
          wallMs: Math.round(ms),
          rssBeforeGateMiB: Math.round(before / 1048576),
          peakRssMiB: Math.round(peak / 1048576),
          historyBytes: JSON.stringify(result.history).length,
        },
        null,
        1,
      ),
    );
  } finally {
    await registry.stop();
  }
}

if (require.main === module) void main();
