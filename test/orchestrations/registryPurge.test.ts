/**
 * `registryPurge` → `repositoryPurge` sub-orchestrations → the real purge activities, replayed by the real
 * durable-functions engine through the local driver, against a loopback docker-registry; and the gate's
 * per-push retention step.
 */
import { loadPolicy } from '../../src/core/policy';
import type { Policy } from '../../src/core/policyTypes';
import { MemoryAuditStore } from '../../src/adapters/auditStore';
import type { InUseLookup } from '../../src/adapters/ports';
import { composeGateServices } from '../../src/app/compose';
import { EventType } from '../../src/local/durableDriver';
import { runPurgeLocally } from '../../src/local/orchestrationHost';
import { runGateLocally } from '../../src/local/orchestrationHost';
import { pushImage } from '../../src/local/ociPush';
import { inconclusiveSignatures as notYetVerifySignatures } from '../support/durableGateFakes';
import { PurgeActivities } from '../../src/orchestrations/names';
import { useRegistry } from '../support/registry';
import { seedRepository, seededDigests, whatIsLeft, daysAgo } from '../support/purgeFixtures';
import { listRepositoryManifests } from '../../src/adapters/registry/manifestListing';
import { WebhookSink } from '../../src/adapters/alertSinks';
import { MemoryAlertStateStore } from '../../src/adapters/alertState';
import { createTlsFetch } from '../../src/adapters/registry/tlsFetch';
import { startSink } from '../support/azureStandIns';

jest.setTimeout(90_000);

const NOW = new Date('2026-11-30T02:00:00.000Z');

describe('registryPurge through the replay driver', () => {
  const reg = useRegistry();

  function policyFor(host: string, extra = ''): Policy {
    return loadPolicy(
      `version: 1
registries: ["${host}"]
gate:
  - scope: "**"
    vulnerabilities: { block: [critical], sources: [reports], scanDeadline: 0s }
    signatures: { required: false }
retention:
  - scope: "nightly/**"
    keep: 1
    olderThan: 30d
    untagged: true
    maxDeletes: "100%"
${extra}`,
      'test policy',
    );
  }

  function services(
    policy: Policy,
    audit: MemoryAuditStore,
    inUse?: InUseLookup,
  ): ReturnType<typeof composeGateServices> {
    return composeGateServices({
      policy: () => policy,
      audit,
      plainHttpHosts: [reg.registry.host],
      verifySignatures: notYetVerifySignatures,
      ...(inUse ? { inUse } : {}),
    });
  }

  it('fans out per repository as sub-orchestrations, purges each, and records a summary', async () => {
    const host = reg.registry.host;
    const a = await seedRepository(reg.client, 'nightly/a', NOW.getTime());
    const b = await seedRepository(reg.client, 'nightly/b', NOW.getTime());
    const c = await seedRepository(reg.client, 'nightly/c', NOW.getTime());
    const keepOut = await seedRepository(reg.client, 'elsewhere/x', NOW.getTime());
    const audit = new MemoryAuditStore();
    const inUse: InUseLookup = { listDeployedImages: async () => [{ image: `${host}/nightly/b:v1`, source: 'aci/b' }] };
    const { output, result } = await runPurgeLocally({
      input: { trigger: 'timer' },
      services: services(policyFor(host), audit, inUse),
      instanceId: 'purge-1',
      startTime: NOW,
    });

    expect(output.error).toBeUndefined();
    expect(output.summaries).toHaveLength(1);
    const summary = output.summaries[0];
    expect(summary).toMatchObject({
      registry: host,
      trigger: 'timer',
      dryRun: false,
      repositories: 3,
      failed: 0,
      errors: [],
    });
    expect(summary.outcomes.map((o) => [o.repository, o.status])).toEqual([
      ['nightly/a', 'done'],
      ['nightly/b', 'done'],
      ['nightly/c', 'done'],
    ]);
    // nightly/b keeps v1 (in use), and with it its signature and the SBOM of that signature.
    expect(summary.outcomes[1].deleted).toBe(summary.outcomes[0].deleted - 5);
    expect(summary.keptByReason['in-use']).toBe(1);
    expect(summary.deleted).toBe(summary.outcomes.reduce((n, o) => n + o.deleted, 0));
    expect(await audit.latestPurgeSummary(host)).toEqual(summary);

    // Three sub-orchestrations, each named from the parent; one activity each inside them.
    const created = result.history.filter((e) => e.EventType === EventType.SubOrchestrationInstanceCreated);
    expect(created.map((e) => e.InstanceId)).toEqual(['purge-1-r0', 'purge-1-r1', 'purge-1-r2']);
    expect(result.history.filter((e) => e.EventType === EventType.TaskScheduled).map((e) => e.Name)).toEqual([
      PurgeActivities.listTargets,
      PurgeActivities.recordSummary,
    ]);

    const expectedLeft = (s: typeof a): string[] =>
      [s.v2, s.v3, s.newIndex, ...s.newChildren, s.sigV3].map((p) => p.digest).sort();
    // keep 1 (v3), olderThan 30d: v2 goes too here (nothing deploys nightly/a:v2).
    expect((await whatIsLeft(reg.client, 'nightly/a', seededDigests(a))).present).toEqual(
      [a.v3, a.newIndex, ...a.newChildren, a.sigV3].map((p) => p.digest).sort(),
    );
    expect((await whatIsLeft(reg.client, 'nightly/b', seededDigests(b))).present).toEqual(
      [...expectedLeft(b).filter((d) => d !== b.v2.digest), b.v1.digest, b.sigV1.digest, b.sbomOfSigV1.digest].sort(),
    );
    expect((await whatIsLeft(reg.client, 'nightly/c', seededDigests(c))).present).toHaveLength(5);
    expect((await whatIsLeft(reg.client, 'elsewhere/x', seededDigests(keepOut))).present).toHaveLength(
      seededDigests(keepOut).length,
    );
  });

  it('does not purge when the in-use lookup fails; records the error in the summary (fail closed)', async () => {
    const host = reg.registry.host;
    await seedRepository(reg.client, 'nightly/closed', NOW.getTime());
    const before = (await listRepositoryManifests(reg.client, 'nightly/closed')).length;
    const audit = new MemoryAuditStore();
    let lookups = 0;
    const failing: InUseLookup = {
      listDeployedImages: async () => {
        lookups++;
        throw Object.assign(new Error('Container Apps list for rg-prod answered 403'), { code: 'UPSTREAM' });
      },
    };
    const policy = loadPolicy(
      `version: 1\nregistries: ["${host}"]\ngate: []\nretention:\n  - { scope: "nightly/closed", olderThan: 30d, untagged: true }\n`,
      'test policy',
    );
    const { output } = await runPurgeLocally({
      input: {},
      services: services(policy, audit, failing),
      instanceId: 'purge-2',
      startTime: NOW,
    });
    const summary = output.summaries[0];
    expect(summary.outcomes).toEqual([
      expect.objectContaining({ repository: 'nightly/closed', status: 'skipped', deleted: 0 }),
    ]);
    expect(summary.errors).toEqual([expect.objectContaining({ repository: 'nightly/closed', code: 'UPSTREAM' })]);
    expect(lookups).toBe(1); // a permanent failure is not retried
    expect((await listRepositoryManifests(reg.client, 'nightly/closed')).length).toBe(before);
    expect((await audit.latestPurgeSummary(host))?.errors).toHaveLength(1);
  });

  it('retries a transient in-use failure with the repository’s own activity retries, then purges', async () => {
    const host = reg.registry.host;
    await seedRepository(reg.client, 'nightly/flaky', NOW.getTime());
    let lookups = 0;
    const flaky: InUseLookup = {
      listDeployedImages: async () => {
        if (++lookups < 3) throw Object.assign(new Error('ARM answered 503'), { code: 'TRANSIENT' });
        return [];
      },
    };
    const policy = loadPolicy(
      `version: 1\nregistries: ["${host}"]\ngate: []\nretention:\n  - { scope: "nightly/flaky", olderThan: 30d, untagged: true, maxDeletes: "100%" }\n`,
      'test policy',
    );
    const { output, result } = await runPurgeLocally({
      input: {},
      services: services(policy, new MemoryAuditStore(), flaky),
      instanceId: 'purge-3',
      startTime: NOW,
    });
    expect(lookups).toBe(3);
    expect(output.summaries[0].outcomes[0]).toMatchObject({ status: 'done' });
    expect(output.summaries[0].deleted).toBeGreaterThan(0);
    // The retries happened inside the sub-orchestration (its own history), not in the parent's.
    expect(result.history.filter((e) => e.EventType === EventType.SubOrchestrationInstanceFailed)).toHaveLength(0);
  });

  it('a push runs its repository’s retention after the verdict, protecting the image just gated; a failing retention leaves the verdict alone', async () => {
    const host = reg.registry.host;
    const old = await pushImage(reg.client, 'nightly/gated', {
      tag: 'old',
      seed: 'gated old',
      created: daysAgo(NOW.getTime(), 90),
    });
    // Built 60 days ago, pushed now: the rule (keep 1, olderThan 30d) would select it, but it is the image just gated.
    const pushed = await pushImage(reg.client, 'nightly/gated', {
      tag: 'rebuilt',
      seed: 'gated new',
      created: daysAgo(NOW.getTime(), 60),
    });
    await pushImage(reg.client, 'nightly/gated', {
      tag: 'newest',
      seed: 'gated newest',
      created: daysAgo(NOW.getTime(), 1),
    });
    const policy = policyFor(host);
    const audit = new MemoryAuditStore();
    const inUse: InUseLookup = { listDeployedImages: async () => [] };
    const outcome = await runGateLocally({
      image: { registry: host, repository: 'nightly/gated', digest: pushed.digest },
      trigger: 'push',
      services: services(policy, audit, inUse),
      timers: 'virtual',
      startTime: NOW,
    });
    expect(outcome.verdict?.decision).toBe('block'); // no reports: inconclusive, blocked (fail closed)
    expect(outcome.retention).toMatchObject({
      repository: 'nightly/gated',
      status: 'done',
      deleted: 1,
      keptByReason: { protected: 1, 'within-keep': 1 },
    });
    const left = await whatIsLeft(reg.client, 'nightly/gated', [old.digest, pushed.digest]);
    expect(left.present).toEqual([pushed.digest]);

    const failing: InUseLookup = {
      listDeployedImages: async () => Promise.reject(Object.assign(new Error('no access'), { code: 'UPSTREAM' })),
    };
    const second = await runGateLocally({
      image: { registry: host, repository: 'nightly/gated', digest: pushed.digest },
      trigger: 'push',
      services: services(policy, audit, failing),
      timers: 'virtual',
      startTime: NOW,
      instanceId: 'gate-again',
    });
    expect(second.verdict?.decision).toBe(outcome.verdict?.decision);
    expect(second.verdict?.summary).toBe(outcome.verdict?.summary);
    expect(second.retention).toMatchObject({ status: 'skipped', error: { code: 'UPSTREAM' } });
    // A rescan does not purge.
    const rescan = await runGateLocally({
      image: { registry: host, repository: 'nightly/gated', digest: pushed.digest },
      trigger: 'rescan',
      services: services(policy, audit, inUse),
      timers: 'virtual',
      startTime: NOW,
      instanceId: 'gate-rescan',
    });
    expect(rescan.retention).toBeUndefined();
  });

  it('holds a repository whose plan is past the deletion cap: nothing deleted, PURGE_CAP_EXCEEDED in the summary, alerted once; allowOverCap carries it out', async () => {
    const host = reg.registry.host;
    const seeded = await seedRepository(reg.client, 'capped/a', NOW.getTime());
    const policy = loadPolicy(
      `version: 1\nregistries: ["${host}"]\ngate: []\nretention:\n  - { scope: "capped/**", keep: 1, olderThan: 30d, untagged: true, protectInUse: false }\n`,
      'test policy',
    );
    const hook = await startSink('/hook');
    try {
      const state = new MemoryAlertStateStore();
      const svc = {
        ...services(policy, new MemoryAuditStore()),
        purgeAlerts: () => ({
          sinks: [new WebhookSink({ url: async () => hook.url, fetch: createTlsFetch({ ca: hook.server.ca }) })],
          state,
        }),
      };
      // Dry run: the whole plan is shown, with the code; nothing is alerted.
      const dry = await runPurgeLocally({
        input: { dryRun: true },
        services: svc,
        instanceId: 'cap-0',
        startTime: NOW,
      });
      const planned = dry.output.summaries[0].outcomes[0];
      expect(planned).toMatchObject({ status: 'dry-run', error: { code: 'PURGE_CAP_EXCEEDED' } });
      expect(planned.deleted).toBeGreaterThan(0);
      expect(hook.received).toHaveLength(0);

      // Real run: held, nothing deleted, reported and alerted (once per day per repository).
      for (const id of ['cap-1', 'cap-2']) {
        const { output } = await runPurgeLocally({ input: {}, services: svc, instanceId: id, startTime: NOW });
        const outcome = output.summaries[0].outcomes[0];
        expect(outcome).toMatchObject({ repository: 'capped/a', status: 'held', deleted: 0 });
        expect(outcome.error?.code).toBe('PURGE_CAP_EXCEEDED');
        expect(outcome.error?.detail).toMatch(
          /would delete 4 of the 6 tagged manifests of capped\/a, over the cap of 1 \(maxDeletes 25%/,
        );
        expect(output.summaries[0].errors).toEqual([expect.objectContaining({ code: 'PURGE_CAP_EXCEEDED' })]);
      }
      expect((await whatIsLeft(reg.client, 'capped/a', seededDigests(seeded))).present).toEqual(
        seededDigests(seeded).sort(),
      );
      expect(hook.received).toHaveLength(1);
      expect(JSON.stringify(hook.received[0])).toContain('PURGE_CAP_EXCEEDED');
      expect(JSON.stringify(hook.received[0])).toContain('capped/a');

      // The run says so explicitly: the plan is carried out; no new alert.
      const allowed = await runPurgeLocally({
        input: { allowOverCap: true },
        services: svc,
        instanceId: 'cap-3',
        startTime: NOW,
      });
      expect(allowed.output.summaries[0].outcomes[0]).toMatchObject({ status: 'done', deleted: planned.deleted });
      expect(allowed.output.summaries[0].errors).toEqual([]);
      expect(hook.received).toHaveLength(1);
    } finally {
      await hook.server.close();
    }
  });
});
