/**
 * The alert run end to end: the REAL `LogsQueryClient` (@azure/monitor-query-logs) against a loopback
 * stand-in of the Log Analytics query API (which refuses queries the Kusto language service rejects),
 * de-duplication state in a real Azurite table, alerts to an Event Grid topic stand-in (bearer token) and a
 * webhook stand-in. Assertions read what the sinks received and what Azurite holds.
 */
import { TableClient } from '@azure/data-tables';
import { LogAnalyticsQueryClient } from '../../src/adapters/logAnalytics';
import { TableAlertStateStore } from '../../src/adapters/alertState';
import { EventGridSink, WebhookSink } from '../../src/adapters/alertSinks';
import { MemoryAuditStore } from '../../src/adapters/auditStore';
import { createTlsFetch } from '../../src/adapters/registry/tlsFetch';
import { loadRuleSet } from '../../src/core/alerts/ruleSet';
import type { Verdict } from '../../src/core/types';
import { runAlertRules, type AlertRunOptions } from '../../src/jobs/alertRun';
import { buildSnapshot } from '../../src/core/doctor';
import { alertDiagnoser } from '../../src/jobs/doctor';
import { useAzurite } from '../support/azurite';
import { SEED, SeedIds, seedResources } from '../support/doctorSeeds';
import {
  startLogAnalytics,
  startSink,
  testCredential,
  type LogAnalyticsStandIn,
  type LogAnswer,
  type SinkStandIn,
} from '../support/azureStandIns';

const WORKSPACE = '6c2f1b8e-2f43-4d61-9a63-3b1a0e5d7c11';
const T0 = Date.parse('2026-11-22T10:00:00Z');
const DIGEST_RELEASED = `sha256:${'a'.repeat(64)}`;
const DIGEST_UNKNOWN = `sha256:${'b'.repeat(64)}`;

/** What the workspace "contains", per table a rule reads (the stand-in cannot run KQL; it answers per rule). */
let answers: Record<string, LogAnswer>;

function answerFor(query: string): LogAnswer {
  const table = Object.keys(answers).find((t) =>
    new RegExp(`(^|\\n|\\()\\s*${t}\\b`).test(query.replace(/^let .*;\n/gm, '')),
  );
  return table ? answers[table] : { columns: [], rows: [] };
}

function defaultAnswers(): Record<string, LogAnswer> {
  return {
    ContainerAppSystemLogs: {
      columns: [
        ['App', 'string'],
        ['Count', 'long'],
        ['Sample', 'string'],
        ['LastSeen', 'datetime'],
      ],
      rows: [
        ['api', 5, 'Back-off pulling image', '2026-11-22T09:58:00Z'],
        ['web', 2, 'ErrImagePull', '2026-11-22T09:57:00Z'],
      ],
    },
    ContainerAppConsoleLogs: {
      columns: [
        ['Source', 'string'],
        ['App', 'string'],
        ['Count', 'long'],
        ['Sample', 'string'],
        ['LastSeen', 'datetime'],
      ],
      rows: [],
    },
    ContainerRegistryLoginEvents: {
      columns: [
        ['LoginServer', 'string'],
        ['Identity', 'string'],
        ['CallerIpAddress', 'string'],
        ['Count', 'long'],
        ['LastResult', 'string'],
        ['LastSeen', 'datetime'],
      ],
      rows: [['contoso.azurecr.io', 'unknown', '203.0.113.7', 12, 'unauthorized', '2026-11-22T09:59:00Z']],
    },
    ContainerRegistryRepositoryEvents: {
      columns: [
        ['LoginServer', 'string'],
        ['Repository', 'string'],
        ['Digest', 'string'],
        ['Count', 'long'],
        ['Identities', 'dynamic'],
        ['FirstSeen', 'datetime'],
      ],
      rows: [
        ['contoso.azurecr.io', 'api', DIGEST_RELEASED, 3, ['aca-identity'], '2026-11-22T09:30:00Z'],
        ['contoso.azurecr.io', 'api', DIGEST_UNKNOWN, 1, ['laptop'], '2026-11-22T09:31:00Z'],
      ],
    },
  };
}

describe('alert rules against Log Analytics, Azurite and sink stand-ins', () => {
  const azurite = useAzurite();
  let logs: LogAnalyticsStandIn;
  let topic: SinkStandIn;
  let hook: SinkStandIn;
  const audit = new MemoryAuditStore();

  beforeAll(async () => {
    [logs, topic, hook] = await Promise.all([
      startLogAnalytics(WORKSPACE, (q) => answerFor(q)),
      startSink('/api/events', { requireToken: true }),
      startSink('/hook'),
    ]);
    await audit.recordVerdict({
      image: { registry: 'contoso.azurecr.io', repository: 'api', digest: DIGEST_RELEASED },
      decision: 'release',
      summary: 'released',
      checks: [],
      findingCounts: {},
      rule: 'gate[0]',
      policy: { version: 1, hash: 'x' },
      decidedAt: '2026-11-22T09:00:00Z',
    } as Verdict);
  });
  afterAll(async () => {
    await Promise.all([logs.server.close(), topic.server.close(), hook.server.close()]);
  });
  beforeEach(() => {
    answers = defaultAnswers();
    topic.received.length = 0;
    hook.received.length = 0;
  });

  function options(table: string, nowMs: number, extra: Partial<AlertRunOptions> = {}): AlertRunOptions {
    const credential = testCredential();
    return {
      rules: loadRuleSet(undefined),
      logs: new LogAnalyticsQueryClient({
        credential,
        workspaceId: WORKSPACE,
        endpoint: logs.endpoint,
        ca: logs.server.ca,
        maxRetries: 1,
      }),
      state: new TableAlertStateStore({
        endpoint: azurite().tableUrl,
        tableName: table,
        credential: azurite().credential,
        allowInsecureConnection: true,
      }),
      sinks: [
        new EventGridSink({ endpoint: topic.url, credential, fetch: createTlsFetch({ ca: topic.server.ca }) }),
        new WebhookSink({ url: async () => hook.url, fetch: createTlsFetch({ ca: hook.server.ca }) }),
      ],
      audit,
      nowMs,
      concurrency: 2,
      ...extra,
    };
  }

  const events = () =>
    (
      topic.received as Array<
        Array<{
          eventType: string;
          subject: string;
          data: { rule: string; kind: string; fields: Record<string, unknown> };
        }>
      >
    ).flat();

  it('fires once per incident: the second run inside the suppression window sends nothing; state is in Azurite', async () => {
    const first = await runAlertRules(options('AlertsOnce', T0));
    expect(first.rules.map((r) => [r.rule, r.status, r.alerted])).toEqual([
      ['console-errors', 'ok', 0],
      ['image-pull-failures', 'ok', 1],
      ['registry-login-failures', 'ok', 1],
      ['pulled-not-released', 'ok', 1],
    ]);
    // Every query the service received analysed cleanly and covered the rule's window.
    expect(
      logs.queries
        .slice(-4)
        .map((q) => q.timespan)
        .sort(),
    ).toEqual(['PT3600S', 'PT600S', 'PT600S', 'PT900S']);
    const sent = events();
    expect(sent.map((e) => e.data.rule).sort()).toEqual([
      'image-pull-failures',
      'pulled-not-released',
      'registry-login-failures',
    ]);
    expect(
      sent.every((e) => e.eventType === 'AcrGuard.Alert.Incident' && e.subject === `acr-guard/alerts/${e.data.rule}`),
    ).toBe(true);
    // "pulled but never released": the released digest is dropped, the unknown one alerted.
    expect(sent.find((e) => e.data.rule === 'pulled-not-released')!.data.fields.Digest).toBe(DIGEST_UNKNOWN);
    // Threshold: web (2 pulls failed) is not above 3, api (5) is.
    expect(sent.find((e) => e.data.rule === 'image-pull-failures')!.data.fields.App).toBe('api');
    expect(hook.received).toHaveLength(3);
    expect(hook.received[0]).toMatchObject({
      '@type': 'MessageCard',
      text: expect.any(String),
      sections: [{ facts: expect.any(Array) }],
    });

    const rows = [];
    for await (const e of TableClient.fromConnectionString(
      `DefaultEndpointsProtocol=http;AccountName=${azurite().accountName};AccountKey=${azurite().accountKey};TableEndpoint=${azurite().tableUrl};`,
      'AlertsOnce',
      { allowInsecureConnection: true },
    ).listEntities())
      rows.push(e);
    expect(rows.map((r) => r.partitionKey).sort()).toEqual([
      'image-pull-failures',
      'pulled-not-released',
      'registry-login-failures',
    ]);
    expect(rows.every((r) => r.alerts === 1 && r.lastAlertedAt === '2026-11-22T10:00:00.000Z')).toBe(true);

    topic.received.length = 0;
    hook.received.length = 0;
    const second = await runAlertRules(options('AlertsOnce', T0 + 5 * 60_000));
    expect(second.rules.reduce((n, r) => n + r.suppressed, 0)).toBe(3);
    expect(topic.received).toEqual([]);
    expect(hook.received).toEqual([]);

    // After the suppression window (1 h for login failures and pull failures) the same incidents alert again.
    const third = await runAlertRules(options('AlertsOnce', T0 + 61 * 60_000));
    expect(third.rules.filter((r) => r.alerted > 0).map((r) => r.rule)).toEqual([
      'image-pull-failures',
      'registry-login-failures',
    ]);
  });

  it('the image-pull alert carries the doctor pull diagnosis; a failing diagnosis is its reason; a suppressed incident is not diagnosed', async () => {
    const app = `ca-api-${SEED.token}`;
    (answers.ContainerAppSystemLogs as { rows: unknown[][] }).rows = [
      [app, 7, 'Back-off pulling image', '2026-11-22T09:58:00Z'],
    ];
    const unlinked = (await seedResources()).map((r) =>
      r.id === `${SeedIds.zone}/virtualNetworkLinks/link-seed`
        ? { ...r, properties: { virtualNetwork: { id: SeedIds.hubVnet } } }
        : r,
    );
    let calls = 0;
    const doctor = alertDiagnoser({ snapshot: async () => (calls++, buildSnapshot(unlinked)) });
    await runAlertRules(options('AlertsDiagnosis', T0, { diagnose: doctor }));
    const pull = events().find((e) => e.data.rule === 'image-pull-failures')!;
    const diagnosis = pull.data.fields.diagnosis as {
      command: string;
      status: string;
      notPassing: Array<{ id: string; status: string; fix: string }>;
    };
    expect(diagnosis.command).toBe(`acr-guard doctor pull ${app}`);
    expect(diagnosis.notPassing.map((c) => `${c.id}:${c.status}`)).toEqual([
      'pull.gate-verdict:unknown',
      'pull.dns-zone-link:fail',
    ]);
    expect(diagnosis.notPassing[1].fix).toContain('az network private-dns link vnet create');
    // Other rules' alerts carry none.
    expect(
      events()
        .filter((e) => e.data.rule !== 'image-pull-failures')
        .every((e) => !('diagnosis' in e.data.fields)),
    ).toBe(true);
    expect(calls).toBe(1);
    // Inside the suppression window nothing is sent, so doctor does not run.
    await runAlertRules(options('AlertsDiagnosis', T0 + 60_000, { diagnose: doctor }));
    expect(calls).toBe(1);
    // A diagnosis that throws: the alert is sent all the same, with the reason.
    topic.received.length = 0;
    await runAlertRules(
      options('AlertsDiagnosisFails', T0, {
        diagnose: async () => {
          throw new Error('boom');
        },
      }),
    );
    expect(events().find((e) => e.data.rule === 'image-pull-failures')!.data.fields.diagnosis).toEqual({
      command: `acr-guard doctor pull ${app}`,
      status: 'error',
      reason: 'unexpected error',
    });
  });

  it('a partial result: incidents in the partial data alert, and the gap raises one operational alert', async () => {
    answers.ContainerRegistryLoginEvents = {
      ...(answers.ContainerRegistryLoginEvents as object),
      partial: { code: 'PartialError', message: 'Query result set exceeded the limit' },
    } as LogAnswer;
    const report = await runAlertRules(options('AlertsPartial', T0));
    const login = report.rules.find((r) => r.rule === 'registry-login-failures')!;
    expect(login.status).toBe('partial');
    // Log Analytics' own code is said, and kept apart from acr-guard's (the alert's code is one of ours).
    expect(login.detail).toBe('partial result (PartialError): incidents may be missing');
    expect(
      events().find((e) => e.data.rule === 'registry-login-failures' && e.eventType === 'AcrGuard.Alert.Operational'),
    ).toMatchObject({ data: { fields: { code: 'PARTIAL_RESULT' } } });
    const kinds = events()
      .filter((e) => e.data.rule === 'registry-login-failures')
      .map((e) => e.eventType);
    expect(kinds.sort()).toEqual(['AcrGuard.Alert.Incident', 'AcrGuard.Alert.Operational']);
    // The operational alert is itself de-duplicated.
    topic.received.length = 0;
    await runAlertRules(options('AlertsPartial', T0 + 60_000));
    expect(events().filter((e) => e.data.rule === 'registry-login-failures')).toEqual([]);
  });

  it('throttling (429 with Retry-After on every attempt): the rule reports TRANSIENT and alerts operationally; other rules still run', async () => {
    answers.ContainerAppSystemLogs = {
      status: 429,
      headers: { 'retry-after': '0' },
      body: { error: { code: 'ThrottledError', message: 'Too many requests' } },
    };
    const before = logs.queries.length;
    const report = await runAlertRules(options('AlertsThrottled', T0));
    const pull = report.rules.find((r) => r.rule === 'image-pull-failures')!;
    expect(pull.status).toBe('error');
    expect(pull.detail).toMatch(/429/);
    // maxRetries 1: the SDK tried twice.
    expect(logs.queries.slice(before).filter((q) => q.query.includes('ContainerAppSystemLogs'))).toHaveLength(2);
    expect(events().find((e) => e.data.rule === 'image-pull-failures')).toMatchObject({
      eventType: 'AcrGuard.Alert.Operational',
      data: { fields: { code: 'TRANSIENT' } },
    });
    expect(report.rules.find((r) => r.rule === 'registry-login-failures')!.alerted).toBe(1);
  });

  it('a sink failure leaves the incident un-alerted in the state, and the next run delivers it', async () => {
    hook.faults.push({ status: 500, body: 'down' }, { status: 500, body: 'down' }, { status: 500, body: 'down' });
    const first = await runAlertRules(options('AlertsSinkDown', T0));
    expect(first.rules.reduce((n, r) => n + r.failed, 0)).toBe(3);
    expect(hook.received).toEqual([]);
    const second = await runAlertRules(options('AlertsSinkDown', T0 + 60_000));
    expect(second.rules.reduce((n, r) => n + r.alerted, 0)).toBe(3);
    expect(hook.received).toHaveLength(3);
  });

  it('dry run: evaluates and reports the alerts it would send, sends nothing, writes no state', async () => {
    const report = await runAlertRules(options('AlertsDry', T0, { dryRun: true }));
    expect(report.rules.flatMap((r) => r.alerts).length).toBe(3);
    expect(topic.received).toEqual([]);
    const again = await runAlertRules(options('AlertsDry', T0 + 60_000, { dryRun: true }));
    expect(again.rules.reduce((n, r) => n + r.suppressed, 0)).toBe(0);
  });

  it('a user rule with a bad column is refused by the service (400) and alerted as an operational failure', async () => {
    const rules = loadRuleSet(
      'disable: [console-errors, image-pull-failures, registry-login-failures, pulled-not-released]\nrules:\n  - { name: bad-column, query: "ContainerRegistryLoginEvents | summarize Count = count() by Identiti", window: 5m, severity: low }\n',
    );
    const report = await runAlertRules(options('AlertsBad', T0, { rules }));
    expect(report.rules).toEqual([
      expect.objectContaining({ rule: 'bad-column', status: 'error', detail: expect.stringMatching(/400/) }),
    ]);
    expect(events()[0]).toMatchObject({
      eventType: 'AcrGuard.Alert.Operational',
      data: { rule: 'bad-column', fields: { code: 'UPSTREAM' } },
    });
  });
});
