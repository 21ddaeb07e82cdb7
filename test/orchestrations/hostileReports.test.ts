/**
 * Hostile vulnerability reports (issue 11) through the real gate: a real docker-registry on loopback holds the
 * image and its attached SARIF, the real reports source reads it, and the real orchestrator and activities run
 * under the local durable replay driver. The gate must block with the report's own code, in bounded time, and
 * its Durable history must stay under {@link GATE_HISTORY_BUDGET_BYTES} however many findings the report holds.
 */
import { performance } from 'node:perf_hooks';
import { MemoryAuditStore } from '../../src/adapters/auditStore';
import { composeGateServices } from '../../src/app/compose';
import { MAX_VERDICT_FINDINGS } from '../../src/core/findingsSummary';
import { MAX_JSON_CONTAINERS, MAX_REPORT_FINDINGS, ReportErrorCodes } from '../../src/core/reports';
import type { ImageId } from '../../src/core/types';
import { runOrchestration } from '../../src/local/durableDriver';
import { gateActivities } from '../../src/orchestrations/activities';
import { GATE_HISTORY_BUDGET_BYTES, imageGateOrchestrator, type GateOutcome } from '../../src/orchestrations/imageGate';
import { ORCH_IMAGE_GATE } from '../../src/orchestrations/names';
import { ORCHESTRATION_VERSION } from '../../src/orchestrations/versions';
import { hostileSarif, pushWithSarif, reportsGatePolicy } from '../support/pushSamples';
import { useRegistry } from '../support/registry';

jest.setTimeout(120_000);

/** Wall time one hostile gate may take on the shared 2-core CI machine (it takes about 1 s alone). */
const GATE_TIME_BUDGET_MS = 20_000;

const reg = useRegistry();

async function gate(image: ImageId): Promise<{ outcome: GateOutcome; ms: number; historyBytes: number }> {
  const policy = reportsGatePolicy(reg.registry.host);
  const services = composeGateServices({
    policy: () => policy,
    audit: new MemoryAuditStore(),
    plainHttpHosts: [reg.registry.host],
  });
  const t0 = performance.now();
  const result = await runOrchestration({
    name: ORCH_IMAGE_GATE,
    orchestrator: imageGateOrchestrator,
    activities: gateActivities(services),
    instanceId: `hostile-${image.digest.slice(7, 19)}`,
    input: { image, trigger: 'cli' },
    startTime: new Date(),
    // As a deployed host creates it (host.json defaultVersion).
    defaultVersion: ORCHESTRATION_VERSION,
  });
  const ms = performance.now() - t0;
  if (result.status !== 'Completed') throw new Error(`orchestration ${result.status}: ${result.error}`);
  return { outcome: result.output as GateOutcome, ms, historyBytes: Buffer.byteLength(JSON.stringify(result.history)) };
}

describe('imageGate over hostile reports (real registry, real replay)', () => {
  it.each([
    [
      '300,000 distinct critical results',
      'distinct' as const,
      300_000,
      ReportErrorCodes.REPORT_TOO_MANY_FINDINGS,
      `at most ${MAX_REPORT_FINDINGS} entries per report, got 300000`,
    ],
    [
      '1,000,000 duplicates of one critical result',
      'duplicates' as const,
      1_000_000,
      ReportErrorCodes.REPORT_TOO_MANY_VALUES,
      `at most ${MAX_JSON_CONTAINERS} JSON objects and arrays`,
    ],
  ])(
    'blocks a report of %s (%s), unparsed or unread, quickly and with a small history',
    async (_label, kind, count, code, inReason) => {
      const image = await pushWithSarif(reg.client, 'team/hostile', kind, (digest) =>
        hostileSarif(kind, count, digest, new Date().toISOString()),
      );

      const { outcome, ms, historyBytes } = await gate(image);

      expect(outcome.verdict?.decision).toBe('block');
      expect(outcome.verdict?.summary).toContain(`reports inconclusive (${code})`);
      const scan = outcome.verdict?.checks.find((c) => c.name === 'scan:reports');
      expect(scan).toMatchObject({ status: 'inconclusive', details: { code } });
      expect(scan?.reason).toContain(inReason);
      expect(ms).toBeLessThan(GATE_TIME_BUDGET_MS);
      expect(historyBytes).toBeLessThan(GATE_HISTORY_BUDGET_BYTES);
    },
  );

  it(`lists the worst ${MAX_VERDICT_FINDINGS} of a report just under the bound, counts the rest, and keeps history under the budget`, async () => {
    const count = MAX_REPORT_FINDINGS - 1;
    const image = await pushWithSarif(reg.client, 'team/large', 'v1', (digest) =>
      hostileSarif('distinct', count, digest, new Date().toISOString()),
    );

    const { outcome, ms, historyBytes } = await gate(image);

    const verdict = outcome.verdict!;
    expect(verdict.decision).toBe('block');
    expect(verdict.findingCounts).toEqual({ critical: count });
    expect(verdict.findingsOmitted).toBe(count - MAX_VERDICT_FINDINGS);
    const vulns = verdict.checks.find((c) => c.name === 'vulnerabilities');
    expect(vulns?.status).toBe('fail');
    expect((vulns?.details?.blocking as unknown[]).length).toBe(MAX_VERDICT_FINDINGS);
    expect(vulns?.reason).toContain(`${count - MAX_VERDICT_FINDINGS} more findings of a blocking severity`);
    expect(verdict.summary).toContain(
      `${MAX_VERDICT_FINDINGS - 3} more blocking findings; ${count - MAX_VERDICT_FINDINGS} more of a blocking severity not listed`,
    );
    expect(verdict.checks.find((c) => c.name === 'scan:reports')?.reason).toContain(
      `${count} findings from reports (the worst ${MAX_VERDICT_FINDINGS} listed)`,
    );
    expect(ms).toBeLessThan(GATE_TIME_BUDGET_MS);
    expect(historyBytes).toBeLessThan(GATE_HISTORY_BUDGET_BYTES);
  });
});
