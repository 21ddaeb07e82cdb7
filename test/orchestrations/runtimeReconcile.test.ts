/**
 * `runtimeReconcile` through the real durable-functions replay (local driver): the real activities over a loopback
 * docker-registry, the Table audit store on Azurite and a webhook sink stand-in. Proves the fan-out of re-gates
 * as `imageGate` sub-orchestrations with trigger `runtime` (recorded, never applied), the de-duplicated alerts,
 * and the grace clock across a restart (a new store instance over the same table).
 */
import { loadPolicy } from '../../src/core/policy';
import { MediaTypes } from '../../src/core/types';
import { TableAuditStore } from '../../src/adapters/auditStore';
import { WebhookSink } from '../../src/adapters/alertSinks';
import { createTlsFetch } from '../../src/adapters/registry/tlsFetch';
import type { InUseLookup } from '../../src/adapters/ports';
import { composeGateServices } from '../../src/app/compose';
import { EventType } from '../../src/local/durableDriver';
import { runGateLocally } from '../../src/local/orchestrationHost';
import { runRuntimeReconcileLocally } from '../../src/local/orchestrationHost';
import { pushImage } from '../../src/local/ociPush';
import { inconclusiveSignatures as notYetVerifySignatures } from '../support/durableGateFakes';
import { ORCH_IMAGE_GATE } from '../../src/orchestrations/names';
import { attachReport, CRITICAL_OPENSSL } from '../support/pushSamples';
import { useRegistry } from '../support/registry';
import { useAzurite } from '../support/azurite';
import { startSink, type SinkStandIn } from '../support/azureStandIns';

jest.setTimeout(90_000);

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('runtimeReconcile through the replay driver', () => {
  const reg = useRegistry();
  const azurite = useAzurite();
  let hook: SinkStandIn;

  beforeAll(async () => {
    hook = await startSink('/hook');
  });
  afterAll(async () => {
    await hook?.server.close();
  });

  it('re-gates due digests as sub-orchestrations without touching the registry, alerts once per change, and keeps the grace clock across a restart', async () => {
    const host = reg.registry.host;
    const policy = loadPolicy(
      `version: 1
registries: [{ host: "${host}", apply: promote }]
gate:
  - scope: "app/**"
    vulnerabilities: { block: [critical, high], sources: [reports], scanDeadline: 0s }
    promote: { repository: "release/{repository}" }
runtime:
  grace: { critical: 3d }
  regateAfter: 1h
  # app/clean runs by tag here; tolerated, so that its release is \`released\` (by-tag is tested in classify).
  tolerateTags: true
`,
      'test policy',
    );
    const table = `Runtime${Date.now() % 100000}`;
    const store = () =>
      new TableAuditStore({
        endpoint: azurite().tableUrl,
        tableName: table,
        credential: azurite().credential,
        allowInsecureConnection: true,
      });
    const audit = store();
    const services = (a: TableAuditStore) =>
      composeGateServices({
        policy: () => policy,
        audit: a,
        plainHttpHosts: [host],
        verifySignatures: notYetVerifySignatures,
      });
    const report = async (repository: string, digest: string, size: number, critical: boolean): Promise<void> => {
      await attachReport(
        reg.client,
        repository,
        { mediaType: MediaTypes.ociManifest, digest, size },
        {
          format: 'cyclonedx',
          scannedAt: new Date().toISOString(),
          vulnerabilities: critical ? [CRITICAL_OPENSSL] : [],
        },
      );
    };
    const clean = await pushImage(reg.client, 'app/clean', { tag: 'v1', layers: [Buffer.from('clean')] });
    await report('app/clean', clean.digest, clean.size, false);
    const vuln = await pushImage(reg.client, 'app/vuln', { tag: 'v1', layers: [Buffer.from('vuln')] });
    await report('app/vuln', vuln.digest, vuln.size, true);
    const sneaky = await pushImage(reg.client, 'app/sneaky', { tag: 'v1', layers: [Buffer.from('sneaky')] });
    const t0 = Date.now();
    /** The decision of a push gate of `repository@digest` (tag v1), started at t0. */
    const pushGate = async (repository: string, digest: string) =>
      (
        await runGateLocally({
          image: { registry: host, repository, digest },
          tag: 'v1',
          trigger: 'push',
          services: services(audit),
          timers: 'virtual',
          startTime: new Date(t0),
        })
      ).verdict?.decision;
    expect(await pushGate('app/clean', clean.digest)).toBe('release');
    expect(await pushGate('app/vuln', vuln.digest)).toBe('block');
    expect(await reg.client.resolveTag('release/app/clean', 'v1')).toBe(clean.digest);

    const inventory: InUseLookup = {
      listDeployedImages: async () => [
        { image: `${host}/app/clean:v1`, source: 'ca-api, container main' },
        { image: `${host}/app/vuln@${vuln.digest}`, source: 'ca-web, container main' },
        { image: `${host}/app/sneaky@${sneaky.digest}`, source: 'aci-batch, init container setup' },
        { image: 'nginx:latest', source: 'aci-proxy, container nginx' },
      ],
    };
    const runtime = (a: TableAuditStore) => ({
      inventory,
      inventoryLabel: 'test',
      audit: a,
      sinks: [new WebhookSink({ url: async () => hook.url, fetch: createTlsFetch({ ca: hook.server.ca }) })],
    });
    const statusOf = async (a: TableAuditStore, fragment: string) =>
      (await a.latestRuntimeReport())?.images.find((i) => i.image.includes(fragment));

    // Run 1: fresh verdicts, nothing due; three images need action, so three alerts.
    const first = await runRuntimeReconcileLocally({
      services: services(audit),
      runtime: runtime(audit),
      instanceId: 'rt-1',
      startTime: new Date(t0 + 60_000),
    });
    expect(first.output).toMatchObject({
      regated: 0,
      alerts: 3,
      summary: { released: 1, blocked: 1, 'never-gated': 1, 'outside-allowlist': 1 },
    });
    expect(first.result.history.filter((e) => e.EventType === EventType.SubOrchestrationInstanceCreated)).toHaveLength(
      0,
    );
    expect((await statusOf(audit, 'app/vuln'))?.graceUntil).toBe(new Date(t0 + 60_000 + 3 * DAY).toISOString());
    expect(hook.received).toHaveLength(3);

    // Run 2, two hours later, after a new report on the released image: both gated digests are due and re-gated.
    await report('app/clean', clean.digest, clean.size, true);
    const second = await runRuntimeReconcileLocally({
      services: services(audit),
      runtime: runtime(audit),
      instanceId: 'rt-2',
      startTime: new Date(t0 + 2 * HOUR),
    });
    const created = second.result.history.filter((e) => e.EventType === EventType.SubOrchestrationInstanceCreated);
    expect(created.map((e) => [e.Name, e.InstanceId])).toEqual([
      [ORCH_IMAGE_GATE, 'rt-2-g0'],
      [ORCH_IMAGE_GATE, 'rt-2-g1'],
    ]);
    expect(second.output).toMatchObject({ regated: 2, alerts: 1, summary: { released: 0, blocked: 2 } });
    expect(await statusOf(audit, 'app/clean')).toMatchObject({ status: 'blocked', byTag: true });
    expect(hook.received).toHaveLength(4);
    // Recorded, never applied: the promoted release and the running tag are untouched.
    expect(await reg.client.resolveTag('release/app/clean', 'v1')).toBe(clean.digest);
    expect(await reg.client.resolveTag('app/clean', 'v1')).toBe(clean.digest);
    expect(
      (await audit.latestVerdict({ registry: host, repository: 'app/clean', digest: clean.digest }))?.decision,
    ).toBe('block');

    // Run 3 after a restart (a new store over the same table), past the critical grace: overdue, alerted once.
    const restarted = store();
    const third = await runRuntimeReconcileLocally({
      services: services(restarted),
      runtime: runtime(restarted),
      instanceId: 'rt-3',
      startTime: new Date(t0 + 60_000 + 3 * DAY + 1),
    });
    expect(await statusOf(restarted, 'app/vuln')).toMatchObject({
      status: 'overdue',
      graceUntil: new Date(t0 + 60_000 + 3 * DAY).toISOString(),
    });
    expect(await statusOf(restarted, 'app/clean')).toMatchObject({ status: 'blocked' });
    expect(third.output.alerts).toBe(1);
    const last = hook.received[hook.received.length - 1] as { text?: string };
    expect(JSON.stringify(last)).toContain('overdue');
  });
});
