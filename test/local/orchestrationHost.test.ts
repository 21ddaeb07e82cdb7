/**
 * The local runner's resume semantics on real histories: a process that died after recordVerdict wrote the
 * verdict but before the activity's completion was saved resumes, runs the activity again, and still leaves
 * exactly one verdict.
 */
import { MediaTypes, type ImageId } from '../../src/core/types';
import { loadPolicy } from '../../src/core/policy';
import { gateInstanceId } from '../../src/core/reference';
import { MemoryAuditStore } from '../../src/adapters/auditStore';
import { createRegistryClient } from '../../src/adapters/registry';
import { composeGateServices } from '../../src/app/compose';
import { startGateOnce } from '../../src/app/orchestrationStarter';
import { EventType } from '../../src/local/durableDriver';
import { ListableMemoryHistoryStore, LocalOrchestrationHost } from '../../src/local/orchestrationHost';
import { Activities } from '../../src/orchestrations/names';
import { pushArtifact, pushImage } from '../../src/local/ociPush';
import { sampleSarif } from '../../src/local/sampleReports';
import { startRegistry } from '../../src/local/registryServer';

describe('LocalOrchestrationHost resume', () => {
  let registry: Awaited<ReturnType<typeof startRegistry>>;
  beforeAll(async () => {
    registry = await startRegistry();
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('a gate cut off between the verdict write and its saved completion records the verdict once', async () => {
    const client = createRegistryClient({ host: registry.host, plainHttp: true });
    const now = new Date().toISOString();
    const pushed = await pushImage(client, 'team/once', { tag: 'v1', layers: [Buffer.from('once')], created: now });
    const sarif = sampleSarif({
      imageName: `${registry.host}/team/once@${pushed.digest}`,
      digest: pushed.digest,
      scannedAt: now,
      vulnerabilities: [],
    });
    await pushArtifact(client, 'team/once', {
      subject: { mediaType: pushed.mediaType, digest: pushed.digest, size: pushed.size },
      artifactType: MediaTypes.sarif,
      blob: sarif,
      blobMediaType: MediaTypes.sarif,
    });
    const image: ImageId = { registry: registry.host, repository: 'team/once', digest: pushed.digest };
    const policy = loadPolicy(
      `version: 1
registries: [{ host: "${registry.host}", apply: none }]
gate:
  - scope: "team/**"
    vulnerabilities: { block: [critical], maxReportAge: 7d, sources: [reports], scanDeadline: 1m, pollInterval: 10s }
    signatures: { required: false }
`,
      'test policy',
    );
    const audit = new MemoryAuditStore();
    const services = composeGateServices({ policy: () => policy, audit, plainHttpHosts: [registry.host] });
    const first = new ListableMemoryHistoryStore();
    const runner = new LocalOrchestrationHost({ services, history: first, timers: 'virtual' });
    await startGateOnce(runner, { image, tag: 'v1', trigger: 'push' });
    await runner.settled();
    expect(await audit.listVerdicts(image.registry, image.repository)).toHaveLength(1);

    // The history as it was saved just before the recording step ran (version 3: prepareAndFinish, which reads,
    // decides, applies and records; its TaskScheduled is the last episode's).
    const id = gateInstanceId(image);
    const full = (await first.load(id)) ?? [];
    const scheduled = full.findIndex(
      (e) => e.EventType === EventType.TaskScheduled && e.Name === Activities.prepareAndFinish,
    );
    const cut = full.findIndex((e, i) => i > scheduled && e.EventType === EventType.OrchestratorCompleted);
    expect(scheduled).toBeGreaterThan(0);
    expect(full.filter((e) => e.EventType === EventType.TaskScheduled)).toHaveLength(1);
    const crashed = new ListableMemoryHistoryStore();
    await crashed.save(id, full.slice(0, cut + 1));

    const restarted = new LocalOrchestrationHost({ services, history: crashed, timers: 'virtual' });
    expect(await restarted.getState(id)).toBe('Running');
    expect(await restarted.resume()).toEqual([id]);
    await restarted.settled();
    expect(await restarted.getState(id)).toBe('Completed');
    const resumed = (await crashed.load(id)) ?? [];
    expect(
      resumed.filter((e) => e.EventType === EventType.TaskScheduled && e.Name === Activities.prepareAndFinish),
    ).toHaveLength(1);
    expect(resumed.filter((e) => e.EventType === EventType.TaskCompleted)).toHaveLength(
      full.filter((e) => e.EventType === EventType.TaskCompleted).length,
    );
    expect(await audit.listVerdicts(image.registry, image.repository)).toHaveLength(1);

    // A rescan is a new verdict, not a duplicate.
    await restarted.start('imageGate', 'rescan-00000000000000000000000000000001', { image, trigger: 'rescan' });
    await restarted.settled();
    expect(await audit.listVerdicts(image.registry, image.repository)).toHaveLength(2);

    // A gate whose saved history ended Failed is started again by the push path (as Azure's startNew would), and
    // runs anew to a verdict instead of replaying its old failure.
    const failedHistory = new ListableMemoryHistoryStore();
    await failedHistory.save(
      id,
      full.map((e) =>
        e.EventType === EventType.ExecutionCompleted ? { ...e, OrchestrationStatus: 'Failed', Details: 'boom' } : e,
      ),
    );
    const again = new LocalOrchestrationHost({ services, history: failedHistory, timers: 'virtual' });
    expect(await again.getState(id)).toBe('Failed');
    expect((await startGateOnce(again, { image, tag: 'v1', trigger: 'push' })).started).toBe(true);
    await again.settled();
    expect(await again.getState(id)).toBe('Completed');
    expect(await audit.listVerdicts(image.registry, image.repository)).toHaveLength(3);
  });
});
