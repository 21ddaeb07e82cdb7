/**
 * Verdicts, purge outcomes and runtime statuses to Log Analytics: the REAL `LogsIngestionClient`
 * (@azure/monitor-ingestion) against a loopback stand-in of the Logs Ingestion API for one data collection
 * rule whose streams are the ones infra/modules/logIngestion.bicep declares. What the stand-in received is
 * compared with the tables' declared columns (read from the Bicep), and a failing, slow or refusing service
 * never changes what the audit store records.
 */
import { MemoryAuditStore } from '../../src/adapters/auditStore';
import { LogIngestionSink } from '../../src/adapters/logIngestion';
import { LogRowsAuditStore } from '../../src/app/logRowsStore';
import { auditStoreFor } from '../../src/app/compose';
import { loadConfig } from '../../src/app/config';
import { buildRuntime, buildRuntimeBase } from '../../src/functions/runtime';
import { decide } from '../../src/core/decision';
import {
  LOG_COLUMNS,
  LOG_STREAMS,
  MAX_LOG_LIST,
  runtimeRows,
  verdictRow,
  type LogStream,
} from '../../src/core/logRows';
import { loadPolicy } from '../../src/core/policy';
import { summarisePurge } from '../../src/core/purge/summary';
import type { RuntimeReport } from '../../src/core/runtime/classify';
import type { Finding, ImageId, Verdict } from '../../src/core/types';
import { parseInfra } from '../support/bicep';
import { customTablesFromInfra, type DeclaredColumn } from '../support/logTables';
import { TEST_TOKEN, startLogsIngestion, testCredential, type LogsIngestionStandIn } from '../support/azureStandIns';

const RULE_ID = `dcr-${'0123456789abcdef'.repeat(2)}`;
const IMAGE: ImageId = {
  registry: 'contosoacrprod.azurecr.io',
  repository: 'contoso/api',
  digest: `sha256:${'ab'.repeat(32)}`,
};

let declared: Map<string, DeclaredColumn[]>;
let service: LogsIngestionStandIn;
let logs: string[];

beforeAll(async () => {
  declared = customTablesFromInfra(await parseInfra());
  // The rule's input streams are Custom-<table>, exactly as the Bicep declares them.
  service = await startLogsIngestion(
    RULE_ID,
    [...declared.keys()].map((t) => `Custom-${t}`),
  );
});
afterAll(() => service.server.close());
beforeEach(() => {
  service.rows.clear();
  service.requestBytes.length = 0;
  service.failNext.length = 0;
  service.server.requests.length = 0;
  logs = [];
});

function sink(options: Partial<ConstructorParameters<typeof LogIngestionSink>[0]> = {}): LogIngestionSink {
  return new LogIngestionSink({
    credential: testCredential(),
    endpoint: service.endpoint,
    ruleId: RULE_ID,
    ca: service.server.ca,
    log: (m) => logs.push(m),
    maxRetries: 0,
    ...options,
  });
}

/** A real verdict from the gate's decision: two blocking CVEs, a signature check. */
function blockedVerdict(): Verdict {
  const policy = loadPolicy(`version: 1
registries: [contosoacrprod.azurecr.io]
gate:
  - scope: "contoso/*"
    vulnerabilities: { block: [critical, high] }
    signatures: { required: false }
`);
  const finding = (id: string, severity: Finding['severity']): Finding => ({
    id,
    severity,
    package: 'openssl',
    installedVersion: '3.0.1',
    fixedVersion: '3.0.2',
    source: 'defender',
  });
  return decide({
    policy,
    rule: policy.gate[0],
    image: IMAGE,
    tag: '1.4.2',
    sources: ['defender'],
    manifests: [
      {
        digest: IMAGE.digest,
        findings: [
          {
            source: 'defender',
            status: 'ready',
            detail: 'scanned',
            findings: [finding('CVE-2024-1', 'critical'), finding('CVE-2024-2', 'high'), finding('CVE-2024-3', 'low')],
          },
        ],
        signatures: { status: 'inconclusive', reason: 'unsigned', signatures: [] },
      },
    ],
    deadlinePassed: false,
    now: new Date('2026-12-07T10:00:00Z'),
  });
}

function runtimeReport(images: number): RuntimeReport {
  return {
    generatedAt: '2026-12-07T11:00:00.000Z',
    policyHash: 'sha256:1',
    inventory: 'azure',
    images: Array.from({ length: images }, (_, i) => ({
      image: `contosoacrprod.azurecr.io/contoso/app${i}@sha256:${'c'.repeat(64)}`,
      digest: `sha256:${'c'.repeat(64)}`,
      byTag: false,
      workloads: [`/subscriptions/s/resourceGroups/rg/providers/Microsoft.App/containerApps/app${i} (api)`],
      status: i === 0 ? 'overdue' : 'released',
      reason: i === 0 ? 'blocked since 2026-12-01; grace ended' : 'released',
      ...(i === 0 ? { graceUntil: '2026-12-05T00:00:00.000Z' } : {}),
    })),
    summary: {
      released: images - 1,
      blocked: 0,
      overdue: 1,
      'never-gated': 0,
      'outside-allowlist': 0,
      'allowed-external': 0,
      'by-tag': 0,
      unresolved: 0,
    },
    regated: [],
    regatesLeft: 0,
  };
}

const TABLE: Record<LogStream, string> = {
  verdicts: 'AcrGuardVerdicts_CL',
  purges: 'AcrGuardPurges_CL',
  runtime: 'AcrGuardRuntime_CL',
};

describe('rows are what the Bicep declares', () => {
  it('the three tables, and each row builder writes exactly the declared columns', () => {
    expect([...declared.keys()].sort()).toEqual(Object.values(TABLE).sort());
    for (const s of Object.keys(TABLE) as LogStream[]) {
      expect({ s, columns: [...LOG_COLUMNS[s]].sort() }).toEqual({
        s,
        columns: declared
          .get(TABLE[s])!
          .map((c) => c.name)
          .sort(),
      });
      expect(LOG_STREAMS[s]).toBe(`Custom-${TABLE[s]}`);
    }
  });
});

describe('the real LogsIngestionClient against the Logs Ingestion contract', () => {
  it('a recorded verdict, purge summary and runtime report arrive as rows with the declared columns (gzip, api-version, bearer for monitor.azure.com)', async () => {
    const credential = testCredential();
    const store = new LogRowsAuditStore(
      new MemoryAuditStore(),
      new LogIngestionSink({
        credential,
        endpoint: service.endpoint,
        ruleId: RULE_ID,
        ca: service.server.ca,
        log: (m) => logs.push(m),
      }),
      (m) => logs.push(m),
    );
    const verdict = blockedVerdict();
    await store.recordVerdict(verdict);
    await store.recordPurgeSummary(
      summarisePurge({
        registry: IMAGE.registry,
        trigger: 'timer',
        dryRun: false,
        startedAt: '2026-12-07T03:00:00.000Z',
        finishedAt: '2026-12-07T03:02:00.000Z',
        outcomes: [
          {
            repository: 'contoso/api',
            rule: 'retention[0] scope "contoso/*"',
            status: 'done',
            deleted: 3,
            alreadyGone: 0,
            failed: 0,
            notAttempted: 0,
            bytesFreed: 3_000_000,
            sizeUnknown: 0,
            keptByReason: { 'in-use': 1 },
          },
          {
            repository: 'contoso/web',
            rule: '',
            status: 'failed',
            deleted: 0,
            alreadyGone: 0,
            failed: 0,
            notAttempted: 0,
            bytesFreed: 0,
            sizeUnknown: 0,
            keptByReason: {},
            error: { code: 'TRANSIENT', detail: 'registry answered 503' },
          },
        ],
      }),
    );
    await store.recordRuntimeReport(runtimeReport(3));

    expect(logs).toEqual([]);
    expect(await store.latestVerdict(IMAGE)).toEqual(verdict);
    // Every side of the store it wraps reads through: the page's listing and runtime assurance's report.
    expect(await store.latestImageVerdicts(10)).toEqual({ verdicts: [verdict], truncated: false });
    expect((await store.latestRuntimeReport())?.generatedAt).toBe(runtimeReport(3).generatedAt);
    const uploads = service.server.requests.filter((r) => r.method === 'POST');
    expect(uploads.map((r) => `${r.path}?api-version=${r.query.get('api-version')}`)).toEqual([
      `/dataCollectionRules/${RULE_ID}/streams/Custom-AcrGuardVerdicts_CL?api-version=2023-01-01`,
      `/dataCollectionRules/${RULE_ID}/streams/Custom-AcrGuardPurges_CL?api-version=2023-01-01`,
      `/dataCollectionRules/${RULE_ID}/streams/Custom-AcrGuardRuntime_CL?api-version=2023-01-01`,
    ]);
    expect(
      uploads.every(
        (r) => r.headers['content-encoding'] === 'gzip' && r.headers.authorization === `Bearer ${TEST_TOKEN}`,
      ),
    ).toBe(true);
    expect([...new Set(credential.scopes)]).toEqual(['https://monitor.azure.com/.default']);

    for (const [stream, table] of Object.entries(TABLE)) {
      const rows = service.rows.get(`Custom-${table}`) ?? [];
      expect(rows.length).toBeGreaterThan(0);
      const columns = declared
        .get(table)!
        .map((c) => c.name)
        .sort();
      for (const row of rows) expect({ stream, keys: Object.keys(row).sort() }).toEqual({ stream, keys: columns });
    }
    const [v] = service.rows.get('Custom-AcrGuardVerdicts_CL')!;
    expect(v).toMatchObject({
      Decision: 'block',
      Repository: 'contoso/api',
      Critical: 1,
      High: 1,
      Low: 1,
      TimeGenerated: verdict.decidedAt,
    });
    expect((v.BlockingFindings as Array<{ id: string }>).map((f) => f.id)).toEqual(['CVE-2024-1', 'CVE-2024-2']);
    expect(service.rows.get('Custom-AcrGuardPurges_CL')!.map((r) => [r.Repository, r.Deleted, r.ErrorCode])).toEqual([
      ['contoso/api', 3, ''],
      ['contoso/web', 0, 'TRANSIENT'],
    ]);
    expect(
      service.rows
        .get('Custom-AcrGuardRuntime_CL')!
        .filter((r) => r.Status === 'overdue')
        .map((r) => r.GraceUntil),
    ).toEqual(['2026-12-05T00:00:00.000Z']);
  });

  it('bounded: rows per request, rows per send, bytes per row; every request body under the 1 MB limit', async () => {
    const s = sink({ batchRows: 200, maxRows: 900, maxRowBytes: 4096 });
    const report = runtimeReport(1000);
    // One row over the row bound (texts are cut to MAX_LOG_TEXT; many long workloads are not).
    report.images[5].workloads = Array.from({ length: MAX_LOG_LIST }, () => 'w'.repeat(1_000));
    const result = await s.send('runtime', runtimeRows(report));
    expect(result).toEqual({
      sent: 899,
      dropped: 101,
      failed: 0,
      error: {
        code: 'LOG_ROWS_TOO_LARGE',
        message: 'Custom-AcrGuardRuntime_CL: 101 of 1000 rows not sent (row over 4096 bytes, more than 900 rows)',
      },
    });
    expect(service.requestBytes.length).toBe(5);
    expect(Math.max(...service.requestBytes)).toBeLessThan(1024 * 1024);
    expect(service.rows.get('Custom-AcrGuardRuntime_CL')!.length).toBe(899);
    expect(logs).toEqual([
      expect.stringContaining('101 of 1000 rows not sent (row over 4096 bytes, more than 900 rows)'),
    ]);
  });

  it('a refused upload (403) never changes the verdict: recorded, one log line naming the role to grant', async () => {
    service.failNext.push({
      status: 403,
      body: { error: { code: 'Forbidden', message: 'no Monitoring Metrics Publisher' } },
    });
    const memory = new MemoryAuditStore();
    const store = new LogRowsAuditStore(memory, sink(), (m) => logs.push(m));
    const verdict = blockedVerdict();
    await expect(store.recordVerdict(verdict)).resolves.toBeUndefined();
    expect(await memory.latestVerdict(IMAGE)).toEqual(verdict);
    expect(service.rows.size).toBe(0);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(
      /1 of 1 rows to Custom-AcrGuardVerdicts_CL not accepted \(UPSTREAM: .*403.*Monitoring Metrics Publisher.*data collection rule/,
    );
    expect(logs[0]).not.toContain(TEST_TOKEN);
  });

  it('503s are retried by the SDK, then the copy is logged as failed; the record stands', async () => {
    service.failNext.push({ status: 503, body: {} }, { status: 503, body: {} });
    const memory = new MemoryAuditStore();
    const store = new LogRowsAuditStore(memory, sink({ maxRetries: 1 }), (m) => logs.push(m));
    await store.recordVerdict(blockedVerdict());
    expect(service.requestBytes.length).toBe(2);
    expect(logs).toEqual([expect.stringMatching(/not accepted \(TRANSIENT: .*503/)]);
    expect(await memory.latestVerdict(IMAGE)).toBeDefined();
  }, 30_000);

  it('a service that never answers is bounded by the send timeout; the record stands', async () => {
    const memory = new MemoryAuditStore();
    // The next upload gets an answer that never settles.
    service.failNext.push(new Promise(() => undefined) as never);
    const started = Date.now();
    await new LogRowsAuditStore(memory, sink({ timeoutMs: 500 }), (m) => logs.push(m)).recordVerdict(blockedVerdict());
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(logs).toEqual([expect.stringMatching(/1 of 1 rows to Custom-AcrGuardVerdicts_CL not accepted \(TRANSIENT/)]);
    expect(await memory.latestVerdict(IMAGE)).toBeDefined();
  }, 20_000);
});

describe('configuration (ACR_GUARD_LOG_INGESTION_ENDPOINT + ACR_GUARD_LOG_INGESTION_RULE_ID)', () => {
  const base = { ACR_GUARD_AUDIT_DIR: '/tmp/acr-guard-audit' };
  const endpoint = 'https://dce-acrguard-x1.westeurope-1.ingest.monitor.azure.com';

  it('neither: nothing is sent (no wrapper); both: the audit store copies its records', () => {
    expect(loadConfig(base).logIngestion).toBeUndefined();
    const config = loadConfig({
      ...base,
      ACR_GUARD_LOG_INGESTION_ENDPOINT: endpoint,
      ACR_GUARD_LOG_INGESTION_RULE_ID: RULE_ID,
    });
    expect(config.logIngestion).toEqual({ endpoint, ruleId: RULE_ID });
    expect(auditStoreFor(config.audit, testCredential(), { logIngestion: config.logIngestion })).toBeInstanceOf(
      LogRowsAuditStore,
    );
    expect(auditStoreFor(config.audit, testCredential())).not.toBeInstanceOf(LogRowsAuditStore);
  });

  it.each([
    [{ ACR_GUARD_LOG_INGESTION_ENDPOINT: endpoint }, 'ACR_GUARD_LOG_INGESTION_RULE_ID', /dcr- and 32 hex digits/],
    [{ ACR_GUARD_LOG_INGESTION_RULE_ID: RULE_ID }, 'ACR_GUARD_LOG_INGESTION_ENDPOINT', /logs ingestion URL/],
    [
      { ACR_GUARD_LOG_INGESTION_ENDPOINT: endpoint, ACR_GUARD_LOG_INGESTION_RULE_ID: 'my-rule' },
      'ACR_GUARD_LOG_INGESTION_RULE_ID',
      /got "my-rule"/,
    ],
    // The identity's token goes to this host: a typo or another host is refused before any request.
    [
      { ACR_GUARD_LOG_INGESTION_ENDPOINT: 'https://ingest.example.com', ACR_GUARD_LOG_INGESTION_RULE_ID: RULE_ID },
      'ACR_GUARD_LOG_INGESTION_ENDPOINT',
      /ingest\.monitor\.azure\.com/,
    ],
    [
      {
        ACR_GUARD_LOG_INGESTION_ENDPOINT: 'http://dce-x.westeurope-1.ingest.monitor.azure.com',
        ACR_GUARD_LOG_INGESTION_RULE_ID: RULE_ID,
      },
      'ACR_GUARD_LOG_INGESTION_ENDPOINT',
      /https/,
    ],
  ])('%j is refused naming %s', (env, field, message) => {
    let err: unknown;
    try {
      loadConfig({ ...base, ...env });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'INVALID_CONFIG', field });
    expect((err as Error).message).toMatch(message);
  });

  it('the Functions runtime wires it: with both settings its audit store copies; without, it does not', () => {
    const env = { ...base, ACR_GUARD_POLICY_FILE: 'policy/acr-guard.yaml' };
    const wired = buildRuntime(
      buildRuntimeBase({
        ...env,
        ACR_GUARD_LOG_INGESTION_ENDPOINT: endpoint,
        ACR_GUARD_LOG_INGESTION_RULE_ID: RULE_ID,
      }),
    );
    expect(wired.services.audit).toBeInstanceOf(LogRowsAuditStore);
    expect(buildRuntime(buildRuntimeBase(env)).services.audit).not.toBeInstanceOf(LogRowsAuditStore);
  });

  it('a verdict row never carries more than the bounded lists and texts', () => {
    const v = blockedVerdict();
    const huge: Verdict = { ...v, summary: 'x'.repeat(50_000) };
    const row = verdictRow(huge);
    expect((row.Summary as string).length).toBe(2_000);
  });
});
