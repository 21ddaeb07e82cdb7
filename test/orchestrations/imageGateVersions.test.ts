/**
 * `imageGate` across orchestration versions (src/orchestrations/versions.ts), replayed by the real
 * durable-functions engine through the local driver with the real activities over in-memory fakes: version 2's
 * combined steps (`prepare`, `applyAndRecord`) when a part after their first fails, version 3's `prepareAndFinish`
 * (the whole gate in one call, and what it leaves to the orchestrator), an instance of a version this code does not
 * know, and version 1 and 2 instances in flight resumed by a worker whose default is the current version.
 */
import { ErrorCodes, GuardError } from '../../src/core/errors';
import { loadPolicy } from '../../src/core/policy';
import type { Verdict } from '../../src/core/types';
import {
  EventType,
  MemoryHistoryStore,
  runOrchestration,
  type HistoryEvent,
  type HistoryStore,
  type OrchestrationResult,
} from '../../src/local/durableDriver';
import { gateActivities } from '../../src/orchestrations/activities';
import { imageGateOrchestrator, type GateInput, type GateOutcome } from '../../src/orchestrations/imageGate';
import { Activities, ORCH_IMAGE_GATE } from '../../src/orchestrations/names';
import type { GateServices } from '../../src/orchestrations/services';
import { ORCHESTRATION_VERSION } from '../../src/orchestrations/versions';
import {
  MemoryAudit,
  MemoryRegistry,
  ScriptedSource,
  memoryGateServices,
  pending,
  ready,
} from '../support/durableGateFakes';

const START = new Date('2025-06-01T12:00:00.000Z');
const ACR = 'contoso.azurecr.io';

const POLICY = `version: 1
registries:
  - { host: "${ACR}" }
gate:
  - scope: "team/**"
    vulnerabilities:
      block: [critical, high]
      maxReportAge: 7d
      sources: [reports]
      require: all
      scanDeadline: 30m
      pollInterval: 1m
    signatures: { required: false }
`;

const LOW = { id: 'CVE-2011-3374', severity: 'low' as const, package: 'apt' };

interface Harness {
  registry: MemoryRegistry;
  reports: ScriptedSource;
  audit: MemoryAudit;
  services: GateServices;
}

function harness(): Harness {
  const policy = loadPolicy(POLICY, 'test policy');
  const registry = new MemoryRegistry(ACR, true);
  const reports = new ScriptedSource('reports');
  const audit = new MemoryAudit();
  const services = memoryGateServices(policy, registry, [reports, new ScriptedSource('defender')], audit);
  return { registry, reports, audit, services };
}

/** A clean single-platform image with a ready report, pushed to `team/api`. */
function cleanImage(h: Harness, content = 'clean'): GateInput['image'] {
  const pushed = h.registry.addImage('team/api', { content, tag: '1.0' });
  h.reports.script(pushed.digest, ready('reports', [LOW]));
  return { registry: ACR, repository: 'team/api', digest: pushed.digest };
}

function run(
  h: Harness,
  image: GateInput['image'],
  options: { version?: string; history?: HistoryStore; instanceId?: string } = {},
): Promise<OrchestrationResult> {
  const input: GateInput = { image, trigger: 'push', tag: '1.0' };
  return runOrchestration({
    name: ORCH_IMAGE_GATE,
    orchestrator: imageGateOrchestrator,
    activities: gateActivities(h.services),
    instanceId: options.instanceId ?? `gate-versions-${image.digest.slice(7, 19)}`,
    input,
    startTime: START,
    defaultVersion: options.version,
    history: options.history,
  });
}

async function gate(
  h: Harness,
  image: GateInput['image'],
  options: Parameters<typeof run>[2] = {},
): Promise<OrchestrationResult & { outcome: GateOutcome }> {
  const result = await run(h, image, options);
  if (result.status !== 'Completed') throw new Error(`orchestration failed: ${result.error}`);
  return { ...result, outcome: result.output as GateOutcome };
}

function scheduled(history: HistoryEvent[]): HistoryEvent[] {
  return history.filter((e) => e.EventType === EventType.TaskScheduled);
}

function scheduledNames(history: HistoryEvent[]): string[] {
  return scheduled(history).map((e) => String(e.Name));
}

function ofType(history: HistoryEvent[], type: number): HistoryEvent[] {
  return history.filter((e) => e.EventType === type);
}

/** The result an activity task (by its scheduling event) completed with, parsed. */
function resultOf(history: HistoryEvent[], task: HistoryEvent): unknown {
  const done = history.find((e) => e.EventType === EventType.TaskCompleted && e.TaskScheduledId === task.EventId);
  return done?.Result === undefined ? undefined : JSON.parse(done.Result);
}

/** Makes the next quarantine PATCH (the apply step's registry write) throw `error`. */
function failApply(h: Harness, error: Error): void {
  h.registry.failures.push({ method: 'setManifestAttributes', error });
}

/** Makes the audit store's recordVerdict throw `error` the next `times` calls. */
function failRecording(audit: MemoryAudit, error: Error, times = 1): void {
  const record = audit.recordVerdict.bind(audit);
  let left = times;
  audit.recordVerdict = async (verdict: Verdict) => {
    if (left > 0) {
      left--;
      throw error;
    }
    return record(verdict);
  };
}

describe('imageGate version 2: a failed second half of a combined step runs again as its own step', () => {
  it('resolves the manifest on its own when prepare could not (transient), then gates normally', async () => {
    const h = harness();
    const image = cleanImage(h);
    h.registry.failures.push({ method: 'getManifest', error: new GuardError(ErrorCodes.TRANSIENT, 'registry 503') });

    const { outcome, history } = await gate(h, image, { version: '2' });

    expect(ofType(history, EventType.ExecutionStarted)[0]).toMatchObject({ Version: '2' });
    expect(scheduledNames(history)).toEqual([
      Activities.prepare,
      Activities.resolveManifest,
      Activities.collectFindings,
      Activities.verifySignatures,
      Activities.applyAndRecord,
    ]);
    // prepare itself completed (its first half stands): it reported the second half as deferred.
    const [prepare] = scheduled(history);
    expect(resultOf(history, prepare)).toMatchObject({
      context: { ok: true },
      resolved: { ok: false, deferred: true, code: 'TRANSIENT' },
    });
    expect(ofType(history, EventType.TaskFailed)).toHaveLength(0);
    expect(outcome.status).toBe('decided');
    expect(outcome.verdict?.decision).toBe('release');
    expect(outcome.reason).toBeUndefined();
    expect(h.registry.attributes.get(`team/api@${image.digest}`)?.quarantineState).toBe('Passed');
    expect(h.audit.verdicts.map((v) => v.decision)).toEqual(['release']);
  });

  it('blocks (fail closed, naming resolveManifest) and records when the manifest stays unreadable after retries', async () => {
    const h = harness();
    const image = cleanImage(h, 'unreadable');
    // One failure inside prepare, then every attempt of resolveManifest on its own.
    for (let i = 0; i < 5; i++)
      h.registry.failures.push({ method: 'getManifest', error: new GuardError(ErrorCodes.TRANSIENT, 'registry 503') });

    const { outcome, history } = await gate(h, image, { version: '2' });

    expect(scheduledNames(history)).toEqual([
      Activities.prepare,
      ...Array<string>(4).fill(Activities.resolveManifest),
      Activities.applyAndRecord,
    ]);
    expect(ofType(history, EventType.TaskFailed)).toHaveLength(4);
    expect(h.registry.failures).toHaveLength(0);
    expect(outcome.verdict?.decision).toBe('block');
    const check = outcome.verdict?.checks.find((c) => c.name === 'manifest');
    expect(check).toMatchObject({ status: 'inconclusive', details: { step: 'resolveManifest', code: 'TRANSIENT' } });
    expect(check?.reason).toContain('resolveManifest');
    expect(h.registry.attributes.get(`team/api@${image.digest}`)?.quarantineState).toBe('Quarantined');
    expect(h.audit.verdicts.map((v) => v.decision)).toEqual(['block']);
    expect(outcome.reason).toBeUndefined();
  });

  it('verifies signatures on their own when prepare could not (transient), after the findings it read', async () => {
    const h = harness();
    const image = cleanImage(h);
    let calls = 0;
    const verify = h.services.verifySignatures;
    h.services.verifySignatures = async (input) => {
      calls++;
      if (calls === 1) throw new GuardError(ErrorCodes.TRANSIENT, 'referrers listing answered 503');
      return verify(input);
    };

    const { outcome, history } = await gate(h, image, { version: '2' });

    // The findings prepare read stand (no collectFindings); only the signatures are read again.
    expect(scheduledNames(history)).toEqual([
      Activities.prepare,
      Activities.verifySignatures,
      Activities.applyAndRecord,
    ]);
    const [prepare] = scheduled(history);
    expect(resultOf(history, prepare)).toMatchObject({
      findings: [{ digest: image.digest, source: 'reports', result: { status: 'ready' } }],
      signatures: { ok: false, deferred: true, code: 'TRANSIENT' },
    });
    expect(calls).toBe(2);
    expect(h.reports.callsFor(image.digest)).toBe(1);
    expect(outcome.verdict?.decision).toBe('release');
    expect(h.audit.verdicts).toHaveLength(1);
  });

  it('records the verdict on its own when applyAndRecord could not (transient), exactly once', async () => {
    const h = harness();
    const image = cleanImage(h);
    failRecording(h.audit, new GuardError(ErrorCodes.TRANSIENT, 'table storage 503'));

    const { outcome, history } = await gate(h, image, { version: '2' });

    // prepare read the findings and signatures too: nothing else was read.
    expect(scheduledNames(history)).toEqual([Activities.prepare, Activities.applyAndRecord, Activities.recordVerdict]);
    const applied = scheduled(history).find((e) => e.Name === Activities.applyAndRecord)!;
    expect(resultOf(history, applied)).toMatchObject({
      apply: { ok: true },
      recorded: { ok: false, deferred: true, code: 'TRANSIENT' },
    });
    expect(outcome.verdict?.decision).toBe('release');
    expect(outcome.apply).toMatchObject({ mode: 'quarantine', ok: true });
    expect(outcome).not.toHaveProperty('reason');
    expect(h.audit.verdicts).toHaveLength(1);
    expect(h.audit.verdicts[0]).toEqual(outcome.verdict);
    expect(h.registry.attributes.get(`team/api@${image.digest}`)?.quarantineState).toBe('Passed');
  });

  it('turns a release that cannot be applied into a block: applyAndRecord twice, only the block recorded', async () => {
    const h = harness();
    const image = cleanImage(h, 'apply fails');
    failApply(h, new GuardError(ErrorCodes.REGISTRY_AUTH, 'PATCH answered 403'));

    const { outcome, history } = await gate(h, image, { version: '2' });

    expect(scheduledNames(history)).toEqual([Activities.prepare, Activities.applyAndRecord, Activities.applyAndRecord]);
    const [first, second] = scheduled(history).filter((e) => e.Name === Activities.applyAndRecord);
    expect(JSON.parse(String(first.Input))).toMatchObject({ verdict: { decision: 'release' } });
    expect(JSON.parse(String(second.Input))).toMatchObject({ verdict: { decision: 'block' } });
    // The first call applied nothing and recorded nothing (a release that could not be applied).
    const firstResult = resultOf(history, first) as { apply: unknown; recorded?: unknown };
    expect(firstResult.apply).toMatchObject({ ok: false, code: 'REGISTRY_AUTH' });
    expect(firstResult).not.toHaveProperty('recorded');
    expect(resultOf(history, second)).toMatchObject({ apply: { ok: true }, recorded: { ok: true } });
    expect(outcome.verdict?.decision).toBe('block');
    expect(outcome.verdict?.checks.find((c) => c.name === 'apply')?.reason).toContain('REGISTRY_AUTH');
    expect(h.registry.attributes.get(`team/api@${image.digest}`)?.quarantineState).toBe('Quarantined');
    expect(h.audit.verdicts.map((v) => v.decision)).toEqual(['block']);
  });
});

describe('imageGate version 3: the whole gate in one call when nothing has to be waited for', () => {
  it('reads, decides, applies and records in prepareAndFinish: one activity, two replays', async () => {
    const h = harness();
    const image = cleanImage(h);

    const { outcome, history } = await gate(h, image, { version: '3' });

    expect(ofType(history, EventType.ExecutionStarted)[0]).toMatchObject({ Version: '3' });
    expect(scheduledNames(history)).toEqual([Activities.prepareAndFinish]);
    expect(ofType(history, EventType.OrchestratorStarted)).toHaveLength(2);
    const [call] = scheduled(history);
    expect(JSON.parse(String(call.Input))).toEqual({ image, nowMs: START.getTime(), tag: '1.0', dryRun: false });
    expect(resultOf(history, call)).toMatchObject({
      context: { ok: true },
      finished: { verdict: { decision: 'release' }, apply: { ok: true }, recorded: { ok: true } },
    });
    expect(outcome.verdict?.decision).toBe('release');
    expect(outcome.verdict?.decidedAt).toBe(START.toISOString());
    expect(outcome.verdict?.tag).toBe('1.0');
    expect(outcome.apply).toMatchObject({ mode: 'quarantine', ok: true });
    expect(h.registry.attributes.get(`team/api@${image.digest}`)?.quarantineState).toBe('Passed');
    expect(h.audit.verdicts).toEqual([outcome.verdict]);
  });

  it('decides as version 2 does over the same reads (same verdict, same registry state)', async () => {
    const v2 = harness();
    const v3 = harness();
    const image = cleanImage(v2, 'same');
    cleanImage(v3, 'same');

    const two = await gate(v2, image, { version: '2' });
    const three = await gate(v3, image, { version: '3' });

    expect(three.outcome).toEqual(two.outcome);
    expect(v3.audit.verdicts).toEqual(v2.audit.verdicts);
    expect(v3.registry.attributes).toEqual(v2.registry.attributes);
  });

  it('leaves a pending scan to the orchestrator: it waits with durable timers and decides after', async () => {
    const h = harness();
    const pushed = h.registry.addImage('team/api', { content: 'scan pending', tag: '1.0' });
    h.reports.script(pushed.digest, pending('reports'), ready('reports', [LOW]));
    const image = { registry: ACR, repository: 'team/api', digest: pushed.digest };

    const { outcome, history } = await gate(h, image, { version: '3' });

    const [call] = scheduled(history);
    expect(resultOf(history, call)).not.toHaveProperty('finished');
    expect(scheduledNames(history)).toEqual([
      Activities.prepareAndFinish,
      Activities.collectFindings,
      Activities.verifySignatures,
      Activities.applyAndRecord,
    ]);
    expect(ofType(history, EventType.TimerCreated).map((e) => e.FireAt)).toEqual(['2025-06-01T12:01:00.000Z']);
    expect(outcome.verdict?.decision).toBe('release');
    expect(outcome.verdict?.decidedAt).toBe('2025-06-01T12:01:00.000Z');
    expect(h.audit.verdicts).toHaveLength(1);
  });

  it('applies on its own when the apply in prepareAndFinish threw (transient): deferred, then applyAndRecord', async () => {
    const h = harness();
    const image = cleanImage(h, 'apply flaky');
    failApply(h, new GuardError(ErrorCodes.TRANSIENT, 'PATCH answered 503'));

    const { outcome, history } = await gate(h, image, { version: '3' });

    expect(scheduledNames(history)).toEqual([Activities.prepareAndFinish, Activities.applyAndRecord]);
    const [call, apply] = scheduled(history);
    expect(resultOf(history, call)).toMatchObject({
      finished: { verdict: { decision: 'release' }, deferred: { ok: false, deferred: true, code: 'TRANSIENT' } },
    });
    expect(JSON.parse(String(apply.Input))).toMatchObject({ verdict: { decision: 'release' }, mode: 'quarantine' });
    expect(outcome.verdict?.decision).toBe('release');
    expect(h.registry.attributes.get(`team/api@${image.digest}`)?.quarantineState).toBe('Passed');
    expect(h.audit.verdicts).toEqual([outcome.verdict]);
  });

  it('records on its own when recording in prepareAndFinish threw (transient), exactly once', async () => {
    const h = harness();
    const image = cleanImage(h);
    failRecording(h.audit, new GuardError(ErrorCodes.TRANSIENT, 'table storage 503'));

    const { outcome, history } = await gate(h, image, { version: '3' });

    expect(scheduledNames(history)).toEqual([Activities.prepareAndFinish, Activities.recordVerdict]);
    expect(outcome.verdict?.decision).toBe('release');
    expect(outcome).not.toHaveProperty('reason');
    expect(h.audit.verdicts).toEqual([outcome.verdict]);
  });

  it('turns a release it could not apply into a block: applyAndRecord with the block, only the block recorded', async () => {
    const h = harness();
    const image = cleanImage(h, 'apply refused');
    failApply(h, new GuardError(ErrorCodes.REGISTRY_AUTH, 'PATCH answered 403'));

    const { outcome, history } = await gate(h, image, { version: '3' });

    expect(scheduledNames(history)).toEqual([Activities.prepareAndFinish, Activities.applyAndRecord]);
    const [call, again] = scheduled(history);
    const first = resultOf(history, call) as { finished: { apply: unknown; recorded?: unknown } };
    expect(first.finished.apply).toMatchObject({ ok: false, code: 'REGISTRY_AUTH' });
    expect(first.finished).not.toHaveProperty('recorded');
    expect(JSON.parse(String(again.Input))).toMatchObject({ verdict: { decision: 'block' } });
    expect(outcome.verdict?.decision).toBe('block');
    expect(outcome.verdict?.checks.find((c) => c.name === 'apply')?.reason).toContain('REGISTRY_AUTH');
    expect(h.registry.attributes.get(`team/api@${image.digest}`)?.quarantineState).toBe('Quarantined');
    expect(h.audit.verdicts.map((v) => v.decision)).toEqual(['block']);
  });

  it('reads a runtime re-gate with prepare (it is only recorded, never applied)', async () => {
    const h = harness();
    const image = cleanImage(h, 'running');

    const result = await runOrchestration({
      name: ORCH_IMAGE_GATE,
      orchestrator: imageGateOrchestrator,
      activities: gateActivities(h.services),
      instanceId: 'gate-runtime-v3',
      input: { image, trigger: 'runtime' } satisfies GateInput,
      startTime: START,
      defaultVersion: '3',
    });

    expect(result.status).toBe('Completed');
    expect(scheduledNames(result.history)).toEqual([Activities.prepare, Activities.recordVerdict]);
    expect(h.registry.attributes.size).toBe(0);
    expect(h.audit.verdicts).toHaveLength(1);
  });
});

describe('imageGate instance of a version this code does not know', () => {
  it('fails the instance naming the version, touching neither the registry nor the audit store', async () => {
    const h = harness();
    const image = cleanImage(h);

    const result = await run(h, image, { version: '4' });

    expect(result.status).toBe('Failed');
    expect(result.error).toContain('"4"');
    expect(scheduledNames(result.history)).toEqual([]);
    expect(h.registry.calls).not.toContain('setManifestAttributes');
    expect(h.registry.calls).toEqual([]);
    expect(h.registry.attributes.size).toBe(0);
    expect(h.audit.verdicts).toHaveLength(0);
  });
});

describe('imageGate version 1 and 2 instances in flight, resumed by a worker whose default is the current version', () => {
  /** A history store that also keeps a copy of every history it was asked to save. */
  class RecordingStore extends MemoryHistoryStore {
    readonly saves: HistoryEvent[][] = [];
    override async save(instanceId: string, history: readonly HistoryEvent[]): Promise<void> {
      this.saves.push(JSON.parse(JSON.stringify(history)) as HistoryEvent[]);
      await super.save(instanceId, history);
    }
  }

  it('replays version 1 to the end (applyVerdict, recordVerdict) and decides as an uninterrupted run', async () => {
    const instanceId = 'gate-in-flight';
    const first = harness();
    const image = cleanImage(first);
    const store = new RecordingStore();
    const uninterrupted = await gate(first, image, { instanceId, history: store });
    expect(scheduledNames(uninterrupted.history)).toEqual([
      Activities.loadGateContext,
      Activities.resolveManifest,
      Activities.collectFindings,
      Activities.verifySignatures,
      Activities.applyVerdict,
      Activities.recordVerdict,
    ]);

    // The history saved after the episode in which resolveManifest completed (collectFindings just scheduled).
    const cut = store.saves.filter((h) => scheduledNames(h).at(-1) === Activities.collectFindings);
    expect(cut).toHaveLength(1);
    const snapshot = cut[0];
    expect(ofType(snapshot, EventType.ExecutionStarted)[0]).not.toHaveProperty('Version');
    expect(ofType(snapshot, EventType.ExecutionCompleted)).toHaveLength(0);

    // A new process (fresh fakes, the same image), the saved history, and version 2 as its default.
    const second = harness();
    cleanImage(second);
    const resumedStore = new MemoryHistoryStore();
    await resumedStore.save(instanceId, snapshot);
    const resumed = await gate(second, image, { instanceId, history: resumedStore, version: ORCHESTRATION_VERSION });

    const names = scheduledNames(resumed.history);
    expect(names).toEqual(scheduledNames(uninterrupted.history));
    expect(names).not.toContain(Activities.prepare);
    expect(names).not.toContain(Activities.applyAndRecord);
    expect(ofType(resumed.history, EventType.ExecutionStarted)[0]).not.toHaveProperty('Version');
    // The resumed run read nothing again that the saved history holds: no manifest read, only the apply.
    expect(second.registry.calls).not.toContain('getManifest');
    expect(resumed.outcome).toEqual(uninterrupted.outcome);
    expect(resumed.outcome.verdict?.decision).toBe('release');
    expect(second.audit.verdicts).toEqual([uninterrupted.outcome.verdict]);
    expect(second.registry.attributes.get(`team/api@${image.digest}`)?.quarantineState).toBe('Passed');
  });

  it('replays version 2 to the end (applyAndRecord after prepare), not version 3', async () => {
    const instanceId = 'gate-in-flight-v2';
    const first = harness();
    const image = cleanImage(first, 'in flight v2');
    const store = new RecordingStore();
    const uninterrupted = await gate(first, image, { instanceId, history: store, version: '2' });
    expect(scheduledNames(uninterrupted.history)).toEqual([Activities.prepare, Activities.applyAndRecord]);

    // Saved after the episode in which prepare completed (applyAndRecord just scheduled).
    const snapshot = store.saves.find((h) => scheduledNames(h).at(-1) === Activities.applyAndRecord);
    expect(snapshot).toBeDefined();
    expect(ofType(snapshot!, EventType.ExecutionCompleted)).toHaveLength(0);

    const second = harness();
    cleanImage(second, 'in flight v2');
    const resumedStore = new MemoryHistoryStore();
    await resumedStore.save(instanceId, snapshot!);
    expect(ORCHESTRATION_VERSION).toBe('3');
    const resumed = await gate(second, image, { instanceId, history: resumedStore, version: ORCHESTRATION_VERSION });

    expect(scheduledNames(resumed.history)).toEqual([Activities.prepare, Activities.applyAndRecord]);
    expect(ofType(resumed.history, EventType.ExecutionStarted)[0]).toMatchObject({ Version: '2' });
    expect(second.registry.calls).not.toContain('getManifest');
    expect(resumed.outcome).toEqual(uninterrupted.outcome);
    expect(second.audit.verdicts).toEqual([uninterrupted.outcome.verdict]);
    expect(second.registry.attributes.get(`team/api@${image.digest}`)?.quarantineState).toBe('Passed');
  });
});
