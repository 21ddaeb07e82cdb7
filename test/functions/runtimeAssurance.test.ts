/**
 * Timer `runtimeAudit` and `GET /api/runtime`: registered in the app's entry point (schedule from its setting,
 * hourly by default, with a durable client input; the orchestration and its activities too); the timer starts
 * `runtimeReconcile` once per scheduled run; the endpoint serves the latest report from a real audit store and
 * checks the caller's role.
 */
import { HttpRequest, InvocationContext } from '@azure/functions';
import {
  handleRuntimeAuditTimer,
  handleRuntimeReport,
  runtimeReconcileInstanceId,
} from '../../src/app/runtimeAssurance';
import { MemoryAuditStore } from '../../src/adapters/auditStore';
import type { RuntimeReport } from '../../src/core/runtime/classify';
import { MemoryStarter } from '../support/durableGateFakes';
import { registeredFunctions } from '../support/functionsCore';
import { TIMER_SCHEDULES } from '../../src/app/timerConfig';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- jest.mock factories cannot use imports
jest.mock('@azure/functions-core', () => require('../support/functionsCore').recordingFunctionsCore(), {
  virtual: true,
});

const context = (lines: string[] = []) =>
  new InvocationContext({
    invocationId: 't',
    functionName: 'runtime',
    logHandler: (_l, ...args) => lines.push(args.join(' ')),
  });

describe('runtime assurance in the Functions app', () => {
  it('registers the timer (ACR_GUARD_RUNTIME_SCHEDULE, hourly by default), GET /api/runtime, the orchestration and its activities', async () => {
    process.env.ACR_GUARD_RUNTIME_SCHEDULE = '0 30 * * * *';
    try {
      // The one import of the entry point in this file: it registers every function once.
      await import('../../src/functions/index');
    } finally {
      delete process.env.ACR_GUARD_RUNTIME_SCHEDULE;
    }
    const registered = registeredFunctions();
    const timer = registered
      .filter(
        (r) => r.name === 'runtimeAudit' && Object.values(r.bindings ?? {}).some((b) => b.type === 'timerTrigger'),
      )
      .at(-1);
    expect(Object.values(timer?.bindings ?? {}).find((b) => b.type === 'timerTrigger')?.schedule).toBe('0 30 * * * *');
    expect(Object.values(timer?.bindings ?? {}).some((b) => b.type === 'durableClient')).toBe(true);
    expect(TIMER_SCHEDULES.ACR_GUARD_RUNTIME_SCHEDULE).toBe('0 0 * * * *');
    const http = registered.filter((r) => r.name === 'runtime').at(-1);
    expect(Object.values(http?.bindings ?? {}).find((b) => b.type === 'httpTrigger')).toMatchObject({
      route: 'runtime',
      methods: ['GET'],
    });
    expect(registered.map((r) => r.name)).toEqual(
      expect.arrayContaining(['runtimeReconcile', 'runtimeAudit_assess', 'runtimeAudit_report', 'imageGate']),
    );
  });

  it('starts runtimeReconcile once per scheduled run', async () => {
    const starter = new MemoryStarter();
    const lines: string[] = [];
    const nowMs = Date.parse('2026-12-01T05:00:00.250Z');
    expect(await handleRuntimeAuditTimer({ nowMs }, starter, context(lines))).toEqual({
      instanceId: 'runtime-202612010500',
      started: true,
    });
    expect(starter.instances.get('runtime-202612010500')).toEqual({
      orchestrator: 'runtimeReconcile',
      input: { trigger: 'timer' },
      state: 'Running',
    });
    expect(await handleRuntimeAuditTimer({ nowMs: nowMs + 20_000 }, starter, context(lines))).toEqual({
      instanceId: 'runtime-202612010500',
      started: false,
    });
    expect(lines.at(-1)).toContain('already Running');
    expect(runtimeReconcileInstanceId(Date.parse('2026-12-02T06:00:00Z'))).toBe('runtime-202612020600');
  });

  it('GET /api/runtime: 404 before the first report, then the latest report; a caller without the role gets 403', async () => {
    const audit = new MemoryAuditStore();
    const get = (headers: Record<string, string> = {}) =>
      new HttpRequest({ method: 'GET', url: 'http://localhost/api/runtime', headers });
    expect((await handleRuntimeReport(get(), { audit, auth: 'off' }, context())).status).toBe(404);
    const report: RuntimeReport = {
      generatedAt: '2026-12-01T05:00:01.000Z',
      policyHash: 'abc',
      inventory: 'test',
      images: [
        {
          image: 'docker.io/library/nginx:latest',
          byTag: true,
          workloads: ['w'],
          status: 'outside-allowlist',
          reason: 'r',
        },
      ],
      summary: {
        released: 0,
        'by-tag': 0,
        blocked: 0,
        overdue: 0,
        'never-gated': 0,
        'outside-allowlist': 1,
        'allowed-external': 0,
        unresolved: 0,
      },
      regated: [],
      regatesLeft: 0,
    };
    await audit.recordRuntimeReport(report);
    const ok = await handleRuntimeReport(get(), { audit, auth: 'off' }, context());
    expect(ok.status).toBe(200);
    // The report's fields as recorded, except `summary`: the envelope's sentence; the counts are in `data.summary`.
    const { summary: counts, ...fields } = report;
    expect(ok.jsonBody).toMatchObject({ ...fields, apiVersion: 'acr-guard.io/v1', kind: 'RuntimeResult' });
    expect((ok.jsonBody as { data: { summary: unknown } }).data.summary).toEqual(counts);
    expect(Object.keys(ok.jsonBody as object).sort()).toEqual(
      [
        ...Object.keys(report),
        'apiVersion',
        'kind',
        'subject',
        'outcome',
        'checks',
        'counts',
        'errors',
        'exitCode',
        'data',
      ].sort(),
    );
    const principal = Buffer.from(
      JSON.stringify({ auth_typ: 'aad', claims: [{ typ: 'roles', val: 'Other.Role' }] }),
    ).toString('base64');
    expect(
      (await handleRuntimeReport(get({ 'x-ms-client-principal': principal }), { audit, auth: 'easyauth' }, context()))
        .status,
    ).toBe(403);
  });
});
