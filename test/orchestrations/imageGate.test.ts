/**
 * The real `imageGate` orchestrator, replayed by the real durable-functions engine through the local driver,
 * with the real activities, policy loader and decision over in-memory registry / findings / audit fakes.
 */
import { ErrorCodes, GuardError } from '../../src/core/errors';
import { loadPolicy } from '../../src/core/policy';
import type { Policy } from '../../src/core/policyTypes';
import { MediaTypes, type ImageId } from '../../src/core/types';
import {
  EventType,
  NonDeterminismError,
  replayHistory,
  runOrchestration,
  type HistoryEvent,
  type OrchestrationResult,
} from '../../src/local/durableDriver';
import { gateActivities } from '../../src/orchestrations/activities';
import {
  imageGateOrchestrator,
  type GateInput,
  type GateOutcome,
  type GateProgress,
} from '../../src/orchestrations/imageGate';
import { Activities, ORCH_IMAGE_GATE } from '../../src/orchestrations/names';
import { SILENT_ACTIVITY_CONTEXT, type GateServices } from '../../src/orchestrations/services';
import '../../src/functions/index';
import {
  MemoryAudit,
  MemoryRegistry,
  ScriptedSource,
  memoryGateServices,
  pending,
  ready,
} from '../support/durableGateFakes';
import { registeredFunctions } from '../support/functionsCore';

// A stand-in for the Functions host's core module, so the registrations in src/functions/index.ts
// are recorded instead of dropped in "test mode".
// eslint-disable-next-line @typescript-eslint/no-require-imports -- jest.mock factories cannot use imports
jest.mock('@azure/functions-core', () => require('../support/functionsCore').recordingFunctionsCore(), {
  virtual: true,
});

const START = new Date('2025-06-01T12:00:00.000Z');
const ACR = 'contoso.azurecr.io';
const PLAIN = 'registry.test:5000';

function policyYaml(
  options: {
    host?: string;
    apply?: string;
    sources?: string;
    require?: 'any' | 'all';
    deadline?: string;
    poll?: string;
    promote?: boolean;
  } = {},
): string {
  const host = options.host ?? ACR;
  return `version: 1
registries:
  - { host: "${host}"${options.apply ? `, apply: ${options.apply}` : ''} }
gate:
  - scope: "team/**"
    vulnerabilities:
      block: [critical, high]
      maxReportAge: 7d
      sources: ${options.sources ?? '[reports]'}
      require: ${options.require ?? 'all'}
      scanDeadline: ${options.deadline ?? '30m'}
      pollInterval: ${options.poll ?? '1m'}
    signatures: { required: false }
${options.promote ? '    promote: { repository: "release/{repository}" }\n' : ''}`;
}

interface Harness {
  registry: MemoryRegistry;
  reports: ScriptedSource;
  defender: ScriptedSource;
  audit: MemoryAudit;
  policy: Policy;
}

/** The services of the latest harness: what `gate()` builds its activities from. */
let services: GateServices | undefined;

/** The orchestration version new instances get in the running `describe` (none: an instance from before versions). */
let version: string | undefined;

function harness(options: Parameters<typeof policyYaml>[0] & { acr?: boolean } = {}): Harness {
  const policy = loadPolicy(policyYaml(options), 'test policy');
  const registry = new MemoryRegistry(
    options.host ?? ACR,
    options.acr ?? (options.host ?? ACR).endsWith('.azurecr.io'),
  );
  const h: Harness = {
    registry,
    reports: new ScriptedSource('reports'),
    defender: new ScriptedSource('defender'),
    audit: new MemoryAudit(),
    policy,
  };
  services = memoryGateServices(policy, registry, [h.reports, h.defender], h.audit);
  return h;
}

async function gate(
  image: ImageId,
  extra: Partial<GateInput> & { statuses?: GateProgress[] } = {},
): Promise<OrchestrationResult & { outcome: GateOutcome }> {
  const { statuses, ...rest } = extra;
  const input: GateInput = { image, trigger: 'push', ...rest };
  const result = await runOrchestration({
    name: ORCH_IMAGE_GATE,
    orchestrator: imageGateOrchestrator,
    activities: gateActivities(services!),
    instanceId: `gate-test-${image.digest.slice(7, 19)}`,
    input,
    startTime: START,
    defaultVersion: version,
    onEvent: (e) => {
      if (e.kind === 'customStatus' && statuses) statuses.push(e.customStatus as GateProgress);
    },
  });
  if (result.status !== 'Completed') throw new Error(`orchestration failed: ${result.error}`);
  return { ...result, outcome: result.output as GateOutcome };
}

function scheduledNames(history: HistoryEvent[]): string[] {
  return history.filter((e) => e.EventType === EventType.TaskScheduled).map((e) => String(e.Name));
}

function ofType(history: HistoryEvent[], type: number): HistoryEvent[] {
  return history.filter((e) => e.EventType === type);
}

const CRITICAL = { id: 'CVE-2024-6119', severity: 'critical' as const, package: 'openssl', fixedVersion: '3.0.14' };
const LOW = { id: 'CVE-2011-3374', severity: 'low' as const, package: 'apt' };

/** Whether the running `describe` replays version 2 or 3, which read in one first call (`prepare`, `prepareAndFinish`). */
function combined(): boolean {
  return version === '2' || version === '3';
}

/** The first activity of the running version: loadGateContext, prepare or prepareAndFinish. */
function firstStep(): string {
  return version === '3'
    ? Activities.prepareAndFinish
    : version === '2'
      ? Activities.prepare
      : Activities.loadGateContext;
}

/** The activities a gate schedules, by shape: version 1's names, or versions 2 and 3's where they combine two. */
function steps(...names: Array<string | [v1: string[], v2: string[]]>): string[] {
  return names.flatMap((n) => (typeof n === 'string' ? [n] : combined() ? n[1] : n[0]));
}
const PREPARE: [string[], string[]] = [[Activities.loadGateContext, Activities.resolveManifest], [Activities.prepare]];
const APPLY_RECORD: [string[], string[]] = [
  [Activities.applyVerdict, Activities.recordVerdict],
  [Activities.applyAndRecord],
];

/** The first steps of the running version: {@link PREPARE}, with version 3's name for prepare. */
function prepareSteps(): string[] {
  return version === '3' ? [Activities.prepareAndFinish] : steps(PREPARE);
}

// Registration is the same for every version.
it('registers the imageGate orchestration and every activity with the host', () => {
  const registered = registeredFunctions().map((r) => r.name);
  expect(registered).toEqual(expect.arrayContaining([ORCH_IMAGE_GATE, ...Object.values(Activities)]));
});

describe.each([
  ['1 (instances created before versions)', undefined],
  ['2', '2'],
  ['3', '3'],
])('imageGate orchestration, version %s', (_label, shapeVersion) => {
  beforeAll(() => {
    version = shapeVersion;
  });

  it('releases a clean image: quarantineState Passed, verdict recorded', async () => {
    const h = harness();
    const pushed = h.registry.addImage('team/api', { content: 'clean', tag: '1.0' });
    const image = { registry: ACR, repository: 'team/api', digest: pushed.digest };
    h.reports.script(pushed.digest, ready('reports', [LOW]));

    const { outcome, history } = await gate(image, { tag: '1.0' });

    expect(outcome.status).toBe('decided');
    expect(outcome.verdict?.decision).toBe('release');
    expect(outcome.verdict?.decidedAt).toBe(START.toISOString());
    expect(outcome.apply).toMatchObject({ mode: 'quarantine', ok: true });
    const attrs = h.registry.attributes.get(`team/api@${pushed.digest}`);
    expect(attrs?.quarantineState).toBe('Passed');
    expect(JSON.parse(String(attrs?.quarantineDetails))).toMatchObject({ scanner: 'acr-guard', decision: 'release' });
    expect(h.audit.verdicts).toHaveLength(1);
    expect(h.audit.verdicts[0].decision).toBe('release');
    // Version 2 reads everything in prepare (findings and signatures included) and writes in applyAndRecord;
    // version 3 does both in prepareAndFinish.
    expect(scheduledNames(history)).toEqual(
      version === '3'
        ? [Activities.prepareAndFinish]
        : version === '2'
          ? [Activities.prepare, Activities.applyAndRecord]
          : [...steps(PREPARE), Activities.collectFindings, Activities.verifySignatures, ...steps(APPLY_RECORD)],
    );
  });

  it('blocks a vulnerable image, naming the CVE, and keeps it quarantined', async () => {
    const h = harness();
    const pushed = h.registry.addImage('team/api', { content: 'vulnerable' });
    h.reports.script(pushed.digest, ready('reports', [LOW, CRITICAL]));

    const { outcome } = await gate({ registry: ACR, repository: 'team/api', digest: pushed.digest });

    expect(outcome.verdict?.decision).toBe('block');
    expect(outcome.verdict?.summary).toContain('CVE-2024-6119');
    const vulns = outcome.verdict?.checks.find((c) => c.name === 'vulnerabilities');
    expect(vulns).toMatchObject({ status: 'fail' });
    expect(vulns?.reason).toContain('CVE-2024-6119');
    const attrs = h.registry.attributes.get(`team/api@${pushed.digest}`);
    expect(attrs?.quarantineState).toBe('Quarantined');
    expect(String(attrs?.quarantineDetails)).toContain('CVE-2024-6119');
    expect(Buffer.byteLength(String(attrs?.quarantineDetails))).toBeLessThanOrEqual(4096);
    expect(h.audit.verdicts.map((v) => v.decision)).toEqual(['block']);
  });

  it('waits with durable timers while Defender is pending, re-collecting only the pending source', async () => {
    const h = harness({ sources: '[defender, reports]', require: 'all', poll: '1m', deadline: '30m' });
    const pushed = h.registry.addImage('team/api', { content: 'slow scan' });
    h.defender.script(pushed.digest, pending('defender'), pending('defender'), ready('defender', [LOW]));
    h.reports.script(pushed.digest, ready('reports', []));
    const statuses: GateProgress[] = [];

    const { outcome, history } = await gate(
      { registry: ACR, repository: 'team/api', digest: pushed.digest },
      { statuses },
    );

    expect(outcome.verdict?.decision).toBe('release');
    expect(h.defender.callsFor(pushed.digest)).toBe(3);
    expect(h.reports.callsFor(pushed.digest)).toBe(1);
    // Signatures are verified after the wait (version 2: those prepare read before it do not count).
    const names = scheduledNames(history);
    expect(names.filter((n) => n === Activities.verifySignatures)).toHaveLength(1);
    expect(names.indexOf(Activities.verifySignatures)).toBeGreaterThan(names.lastIndexOf(Activities.collectFindings));
    // Two poll timers, one minute apart, and the decision taken at orchestration time +2 min.
    expect(ofType(history, EventType.TimerCreated).map((e) => e.FireAt)).toEqual([
      '2025-06-01T12:01:00.000Z',
      '2025-06-01T12:02:00.000Z',
    ]);
    expect(ofType(history, EventType.TimerFired)).toHaveLength(2);
    expect(outcome.verdict?.decidedAt).toBe('2025-06-01T12:02:00.000Z');
    // The report's age is judged on orchestration time, which moved with the timers.
    expect(h.defender.queries.map((q) => q.nowMs - START.getTime())).toEqual([0, 60_000, 120_000]);
    expect(statuses).toContainEqual(
      expect.objectContaining({
        step: 'waiting-for-scan',
        pending: [`${pushed.digest.slice(0, 19)}:defender`],
        until: '2025-06-01T12:01:00.000Z',
        waitingFor: [{ source: 'defender', digest: pushed.digest }],
      }),
    );
  });

  it('blocks when Defender never answers by the scan deadline', async () => {
    const h = harness({ sources: '[defender]', poll: '2m', deadline: '5m' });
    const pushed = h.registry.addImage('team/api', { content: 'never scanned' });

    const { outcome, history } = await gate({ registry: ACR, repository: 'team/api', digest: pushed.digest });

    expect(outcome.verdict?.decision).toBe('block');
    const scan = outcome.verdict?.checks.find((c) => c.name === 'scan:defender');
    expect(scan?.status).toBe('inconclusive');
    expect(scan?.reason).toMatch(/deadline/);
    // Polls at +2 and +4 minutes, the last wait cut at the deadline (+5).
    expect(ofType(history, EventType.TimerCreated).map((e) => e.FireAt)).toEqual([
      '2025-06-01T12:02:00.000Z',
      '2025-06-01T12:04:00.000Z',
      '2025-06-01T12:05:00.000Z',
    ]);
    expect(h.defender.callsFor(pushed.digest)).toBe(4);
    expect(outcome.verdict?.decidedAt).toBe('2025-06-01T12:05:00.000Z');
    expect(h.registry.attributes.get(`team/api@${pushed.digest}`)?.quarantineState).toBe('Quarantined');
  });

  it('retries a transient findings failure (TaskFailed, retry timer, TaskCompleted) and then decides', async () => {
    const h = harness();
    const pushed = h.registry.addImage('team/api', { content: 'flaky source' });
    h.reports.script(
      pushed.digest,
      // Version 2: prepare's own read fails first (deferred), then the collectFindings activity's first attempt.
      ...(combined() ? [new GuardError(ErrorCodes.TRANSIENT, 'registry answered 503')] : []),
      new GuardError(ErrorCodes.TRANSIENT, 'registry answered 503'),
      ready('reports', []),
    );

    const { outcome, history } = await gate({ registry: ACR, repository: 'team/api', digest: pushed.digest });

    expect(outcome.verdict?.decision).toBe('release');
    const collectIds = history
      .filter((e) => e.EventType === EventType.TaskScheduled && e.Name === Activities.collectFindings)
      .map((e) => e.EventId);
    expect(collectIds).toHaveLength(2);
    const failed = ofType(history, EventType.TaskFailed);
    expect(failed.map((e) => e.TaskScheduledId)).toEqual([collectIds[0]]);
    expect(failed[0].FailureDetails?.Properties).toEqual({ code: 'TRANSIENT' });
    expect(ofType(history, EventType.TaskCompleted).some((e) => e.TaskScheduledId === collectIds[1])).toBe(true);
    expect(ofType(history, EventType.TimerCreated).map((e) => e.FireAt)).toEqual(['2025-06-01T12:00:02.000Z']);
    // Signatures are verified after the findings that had to be read again (versions 2 and 3 included).
    const names = scheduledNames(history);
    expect(names.indexOf(Activities.verifySignatures)).toBeGreaterThan(names.lastIndexOf(Activities.collectFindings));
  });

  it('blocks (fail closed) when a findings source keeps failing after every retry', async () => {
    const h = harness();
    const pushed = h.registry.addImage('team/api', { content: 'broken source' });
    h.reports.script(pushed.digest, new GuardError(ErrorCodes.TRANSIENT, 'connection reset'));

    const { outcome, history } = await gate({ registry: ACR, repository: 'team/api', digest: pushed.digest });

    // 4 attempts of the activity (versions 2 and 3: after prepare's own read, deferred).
    expect(h.reports.callsFor(pushed.digest)).toBe(combined() ? 5 : 4);
    // Retry timers after 2, 4 and 8 s (and one after the last attempt, as Durable Task does).
    expect(ofType(history, EventType.TimerCreated).map((e) => e.FireAt)).toEqual([
      '2025-06-01T12:00:02.000Z',
      '2025-06-01T12:00:06.000Z',
      '2025-06-01T12:00:14.000Z',
      '2025-06-01T12:00:30.000Z',
    ]);
    expect(outcome.verdict?.decision).toBe('block');
    const check = outcome.verdict?.checks.find((c) => c.name === 'scan:reports');
    expect(check).toMatchObject({
      source: 'reports',
      status: 'inconclusive',
      details: { step: 'collectFindings(reports)', code: 'TRANSIENT' },
    });
    expect(h.registry.attributes.get(`team/api@${pushed.digest}`)?.quarantineState).toBe('Quarantined');
    expect(h.audit.verdicts.map((v) => v.decision)).toEqual(['block']);
  });

  it('blocks and records when an activity fails permanently (manifest not found)', async () => {
    const h = harness();
    const digest = `sha256:${'ab'.repeat(32)}`;

    const { outcome, history } = await gate({ registry: ACR, repository: 'team/api', digest });

    expect(outcome.verdict?.decision).toBe('block');
    const check = outcome.verdict?.checks.find((c) => c.name === 'manifest');
    expect(check?.reason).toContain('resolveManifest');
    expect(check?.reason).toContain('NOT_FOUND');
    expect(h.audit.verdicts).toHaveLength(1);
    expect(ofType(history, EventType.TaskFailed)).toHaveLength(0); // permanent: returned, not retried
    expect(scheduledNames(history)).not.toContain(Activities.collectFindings);
  });

  it('blocks an index when one platform is vulnerable, skipping attestation manifests', async () => {
    const h = harness({ host: PLAIN, apply: 'promote', promote: true });
    const amd64 = h.registry.addImage('team/web', {
      content: 'amd64',
      platform: { os: 'linux', architecture: 'amd64' },
    });
    const arm64 = h.registry.addImage('team/web', {
      content: 'arm64',
      platform: { os: 'linux', architecture: 'arm64' },
    });
    // As BuildKit writes it: an image config and in-toto layers only (the content, not the label, makes it one).
    const statement = h.registry.addBlob(
      'team/web',
      Buffer.from('{"_type":"https://in-toto.io/Statement/v0.1"}'),
      'application/vnd.in-toto+json',
    );
    const attConfig = h.registry.addBlob(
      'team/web',
      Buffer.from('{"architecture":"unknown","os":"unknown"}'),
      MediaTypes.ociConfig,
    );
    const attestation = h.registry.addManifest('team/web', {
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      config: attConfig,
      layers: [statement],
    });
    const attested = {
      ...attestation,
      platform: { os: 'unknown', architecture: 'unknown' },
      annotations: { 'vnd.docker.reference.type': 'attestation-manifest' },
    };
    const index = h.registry.addIndex('team/web', [amd64, arm64, attested], '2.0');
    h.reports.script(amd64.digest, ready('reports', [LOW]));
    h.reports.script(arm64.digest, ready('reports', [CRITICAL]));

    const { outcome } = await gate({ registry: PLAIN, repository: 'team/web', digest: index.digest }, { tag: '2.0' });

    expect(outcome.verdict?.decision).toBe('block');
    const failing = outcome.verdict?.checks.filter((c) => c.status === 'fail') ?? [];
    expect(failing.map((c) => c.manifest)).toEqual([arm64.digest]);
    expect(h.reports.callsFor(attestation.digest)).toBe(0);
    expect(h.reports.callsFor(index.digest)).toBe(0);
    expect(outcome.apply).toMatchObject({ mode: 'promote', ok: true });
    expect([...h.registry.manifests.keys()].some((k) => k.startsWith('release/'))).toBe(false);
  });

  it('promotes a clean index by digest and tag: child manifests, their blobs, then the index', async () => {
    const h = harness({ host: PLAIN, apply: 'promote', promote: true });
    const amd64 = h.registry.addImage('team/web', {
      content: 'amd64',
      platform: { os: 'linux', architecture: 'amd64' },
    });
    const arm64 = h.registry.addImage('team/web', {
      content: 'arm64',
      platform: { os: 'linux', architecture: 'arm64' },
    });
    const index = h.registry.addIndex('team/web', [amd64, arm64], '2.1');
    h.reports.script(amd64.digest, ready('reports', []));
    h.reports.script(arm64.digest, ready('reports', [LOW]));

    const { outcome } = await gate({ registry: PLAIN, repository: 'team/web', digest: index.digest }, { tag: '2.1' });

    expect(outcome.verdict?.decision).toBe('release');
    expect(outcome.apply).toMatchObject({ mode: 'promote', ok: true });
    for (const d of [index.digest, amd64.digest, arm64.digest])
      expect(h.registry.manifests.has(`release/team/web@${d}`)).toBe(true);
    expect(await h.registry.resolveTag('release/team/web', '2.1')).toBe(index.digest);
    // Promotion is idempotent: applying again changes nothing and succeeds.
    const again = await gateActivities(services!)[Activities.applyVerdict](
      { verdict: outcome.verdict!, mode: 'promote', dryRun: false, promoteTarget: 'release/team/web' },
      SILENT_ACTIVITY_CONTEXT,
    );
    expect(again.ok).toBe(true);
  });

  it('keeps a release promoted by digest when the source tag cannot be checked: no block over a copy already made', async () => {
    const h = harness({ host: PLAIN, apply: 'promote', promote: true });
    const image = h.registry.addImage('team/web', { content: 'tag-unreadable', tag: '3.0' });
    h.reports.script(image.digest, ready('reports', []));
    const resolveTag = h.registry.resolveTag.bind(h.registry);
    h.registry.resolveTag = async (repository: string, tag: string) => {
      if (repository === 'team/web') throw new GuardError(ErrorCodes.REGISTRY_AUTH, 'tag listing refused');
      return resolveTag(repository, tag);
    };

    const { outcome } = await gate({ registry: PLAIN, repository: 'team/web', digest: image.digest }, { tag: '3.0' });

    expect(outcome.verdict?.decision).toBe('release');
    expect(outcome.apply).toMatchObject({ mode: 'promote', ok: true, releaseTag: { tag: '3.0', written: false } });
    expect(h.registry.manifests.has(`release/team/web@${image.digest}`)).toBe(true);
  });

  it('ignores an artifact (a report attached to an image) and records nothing', async () => {
    const h = harness();
    const pushed = h.registry.addImage('team/api', { content: 'subject' });
    const report = h.registry.addReferrer('team/api', pushed, MediaTypes.sarif);

    const { outcome, history } = await gate({ registry: ACR, repository: 'team/api', digest: report.digest });

    expect(outcome.status).toBe('ignored');
    expect(outcome.reason).toMatch(/^ignored: artifact/);
    expect(h.audit.verdicts).toHaveLength(0);
    expect(scheduledNames(history)).toEqual(prepareSteps());
  });

  it('ignores an image on a registry outside the allowlist without touching it', async () => {
    const h = harness();
    const { outcome, history } = await gate({
      registry: 'evil.example.com',
      repository: 'team/api',
      digest: `sha256:${'cd'.repeat(32)}`,
    });
    expect(outcome).toMatchObject({ status: 'ignored' });
    expect(h.registry.calls).toEqual([]);
    expect(scheduledNames(history)).toEqual([firstStep()]);
  });

  it('decides but applies nothing on a dry run', async () => {
    const h = harness();
    const pushed = h.registry.addImage('team/api', { content: 'dry' });
    h.reports.script(pushed.digest, ready('reports', []));

    const { outcome } = await gate({ registry: ACR, repository: 'team/api', digest: pushed.digest }, { dryRun: true });

    expect(outcome.verdict?.decision).toBe('release');
    expect(outcome.apply).toMatchObject({ mode: 'dry-run', ok: true });
    expect(outcome.apply?.detail).toContain('quarantineState=Passed');
    expect(h.registry.attributes.size).toBe(0);
    expect(h.registry.calls).not.toContain('setManifestAttributes');
  });

  it('turns a release that cannot be applied into a recorded block', async () => {
    const h = harness();
    const pushed = h.registry.addImage('team/api', { content: 'apply fails' });
    h.reports.script(pushed.digest, ready('reports', []));
    h.registry.failures.push({
      method: 'setManifestAttributes',
      error: new GuardError(ErrorCodes.REGISTRY_AUTH, 'PATCH answered 403'),
    });

    const { outcome } = await gate({ registry: ACR, repository: 'team/api', digest: pushed.digest });

    expect(outcome.verdict?.decision).toBe('block');
    expect(outcome.verdict?.checks.find((c) => c.name === 'apply')?.reason).toContain('REGISTRY_AUTH');
    expect(h.registry.attributes.get(`team/api@${pushed.digest}`)?.quarantineState).toBe('Quarantined');
    expect(h.audit.verdicts.map((v) => v.decision)).toEqual(['block']);
  });

  it('replays its final history to the identical action list', async () => {
    const h = harness({ sources: '[defender, reports]', require: 'all', poll: '1m' });
    const amd64 = h.registry.addImage('team/web', {
      content: 'amd64',
      platform: { os: 'linux', architecture: 'amd64' },
    });
    const arm64 = h.registry.addImage('team/web', {
      content: 'arm64',
      platform: { os: 'linux', architecture: 'arm64' },
    });
    const index = h.registry.addIndex('team/web', [amd64, arm64]);
    h.defender.script(amd64.digest, pending('defender'), ready('defender', []));
    h.defender.script(arm64.digest, new GuardError(ErrorCodes.TRANSIENT, '429'), ready('defender', []));
    h.reports.script(amd64.digest, ready('reports', []));
    h.reports.script(arm64.digest, ready('reports', []));
    const image = { registry: ACR, repository: 'team/web', digest: index.digest };

    const first = await gate(image);
    const input: GateInput = { image, trigger: 'push' };
    const replayed = await replayHistory({
      orchestrator: imageGateOrchestrator,
      instanceId: 'x',
      name: ORCH_IMAGE_GATE,
      input,
      history: first.history,
    });

    expect(replayed.status).toBe('Completed');
    expect(replayed.output).toEqual(first.output);
    const fromHistory = first.history
      .filter(
        (e) =>
          (e.EventType === EventType.TaskScheduled || e.EventType === EventType.TimerCreated) &&
          e.RetryOf === undefined,
      )
      .map((e) => (e.EventType === EventType.TimerCreated ? `timer@${e.FireAt}` : `${e.Name}(${e.Input})`));
    expect(replayed.actions.map((a) => (a.kind === 'timer' ? `timer@${a.fireAt}` : `${a.name}(${a.input})`))).toEqual(
      fromHistory,
    );
    const again = await replayHistory({
      orchestrator: imageGateOrchestrator,
      instanceId: 'x',
      name: ORCH_IMAGE_GATE,
      input,
      history: first.history,
    });
    expect(again.actions).toEqual(replayed.actions);
  });

  it('detects a non-deterministic variant of the gate (module-level state)', async () => {
    const h = harness();
    const pushed = h.registry.addImage('team/api', { content: 'nd' });
    h.reports.script(pushed.digest, ready('reports', []));
    let replays = 0;
    // The real gate, fed a tag that changes between replays: the first activity's input differs in history.
    const drifting = function* (context: Parameters<typeof imageGateOrchestrator>[0]) {
      replays++;
      const original = context.df.getInput() as GateInput;
      const drifted = {
        ...original,
        image: { ...original.image, repository: replays === 1 ? 'team/api' : 'team/other' },
      };
      context.df.getInput = (() => drifted) as typeof context.df.getInput;
      return yield* imageGateOrchestrator(context);
    };
    const run = runOrchestration({
      name: ORCH_IMAGE_GATE,
      orchestrator: drifting,
      activities: gateActivities(services!),
      instanceId: 'nd-1',
      input: { image: { registry: ACR, repository: 'team/api', digest: pushed.digest }, trigger: 'push' },
      startTime: START,
      defaultVersion: version,
    });
    await expect(run).rejects.toBeInstanceOf(NonDeterminismError);
    const first = firstStep();
    await expect(run).rejects.toThrow(new RegExp(`${first}.*team/api.*${first}.*team/other`));
  });

  it('keeps each set of activities on its own services (two runners in one process)', async () => {
    const first = harness({ host: ACR });
    const firstActivities = gateActivities(services!);
    harness({ host: PLAIN });
    const secondActivities = gateActivities(services!);
    const image = (registry: string) => ({
      image: { registry, repository: 'team/api', digest: `sha256:${'a'.repeat(64)}` },
    });
    const a = await firstActivities[Activities.loadGateContext](image(ACR), SILENT_ACTIVITY_CONTEXT);
    const b = await secondActivities[Activities.loadGateContext](image(PLAIN), SILENT_ACTIVITY_CONTEXT);
    expect(a).toMatchObject({ ok: true, applyMode: 'quarantine', policyHash: first.policy.hash });
    // The second policy knows only the plain registry, where quarantine is not available.
    expect(b).toMatchObject({ ok: true, registryAllowed: true, applyMode: 'none' });
  });
});
