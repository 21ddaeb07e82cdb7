/**
 * The one result shape (issue 21): every command's `--output json` (success, and each error class: usage 2, runtime
 * 1, fail 3) and every HTTP endpoint's body validate against schemas/result.v1.schema.json, and each reports the
 * exit code it exited with. One real registry (the local stack's), a couple of images.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpRequest, InvocationContext } from '@azure/functions';
import { runCli } from '../support/cli';
import { pushWithReport } from '../support/pushSamples';
import { expectValidResult } from '../support/resultSchema';
import { createRegistryClient } from '../../src/adapters/registry';
import { FileAuditStore } from '../../src/adapters/auditStore';
import { handleRuntimeReport } from '../../src/app/runtimeAssurance';
import { errorResultOf, resultOf } from '../../src/core/result';
import { formatImage, gateInstanceId } from '../../src/core/reference';
import type { ImageId } from '../../src/core/types';
import { startLocalStack, type LocalStack } from '../../src/local/stack';

describe('the result schema: every command and HTTP endpoint', () => {
  let stack: LocalStack;
  let dir: string;
  let policy: string;
  let audit: string;
  let clean: ImageId;
  let vuln: ImageId;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'acr-guard-result-'));
    stack = await startLocalStack({ stateDir: join(dir, 'state'), port: 0, registryPort: 0, seed: false, env: {} });
    const host = stack.registry.host;
    policy = join(dir, 'policy.yaml');
    audit = join(dir, 'audit');
    writeFileSync(
      policy,
      `version: 1
registries: [{ host: "${host}", apply: promote }, { host: "127.0.0.1:1" }]
gate:
  - scope: "app/**"
    vulnerabilities: { block: [critical, high], maxReportAge: 7d, sources: [reports], scanDeadline: 0s }
    signatures: { required: false }
    promote: { repository: "release/{repository}" }
retention:
  - { scope: "app/**", keep: 5, olderThan: 30d, protectInUse: false }
`,
    );
    const client = createRegistryClient({ host, plainHttp: true });
    clean = await pushWithReport(client, 'app/clean', '1.0', false);
    vuln = await pushWithReport(client, 'app/vuln', '1.0', true);
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Runs the CLI with JSON output; the body must be a valid envelope reporting the exit code and the outcome. */
  async function cli(argv: string[], code: number, kind: string): Promise<Record<string, any>> {
    const r = await runCli([...argv, '--output', 'json']);
    expect({
      argv,
      code: r.code,
      summary: r.code === code ? undefined : r.out.slice(0, 600) + r.err.slice(0, 300),
    }).toEqual({ argv, code, summary: undefined });
    const body = JSON.parse(r.out);
    expectValidResult(body, argv.join(' '));
    expect(body).toMatchObject({ kind, exitCode: code });
    expect(body.outcome).toBe(code === 0 ? 'pass' : code === 3 ? 'fail' : 'error');
    if (code === 1 || code === 2) expect(r.err).not.toBe(''); // the human line stays on stderr
    return body;
  }

  it('gate: pass 0, fail 3 (blocked; a missing tag), usage 2 (with the field), runtime 1', async () => {
    const img = (i: ImageId) => `${i.registry}/${i.repository}@${i.digest}`;
    const base = ['--policy', policy, '--plain-http', '--audit-dir', audit];
    const pass = await cli(['gate', img(clean), ...base], 0, 'GateResult');
    expect(pass.data.verdict.decision).toBe('release');
    expect(pass.counts.fail).toBe(0);
    const blocked = await cli(['gate', `${vuln.registry}/${vuln.repository}:1.0`, ...base], 3, 'GateResult');
    expect(blocked.checks.some((c: { status: string }) => c.status === 'fail')).toBe(true);
    await cli(['gate', `${clean.registry}/app/clean:nope`, ...base], 3, 'GateResult');
    const usage = await cli(['gate', img(clean), '--policy', policy, '--scan-deadline', 'soon'], 2, 'GateResult');
    expect(usage.errors[0]).toMatchObject({ code: 'INVALID_INPUT', field: '--scan-deadline' });
    const unknownFlag = await cli(['gate', img(clean), '--policy', policy, '--polcy', 'x'], 2, 'GateResult');
    expect(unknownFlag.errors[0].field).toBe('--polcy');
    const runtime = await cli(['gate', '127.0.0.1:1/app/x:v1', '--policy', policy, '--plain-http'], 1, 'GateResult');
    expect(runtime.errors[0].code).toBe('TRANSIENT');
    // An unknown command under --output json: the Error kind.
    await cli(['frobnicate'], 2, 'Error');
  }, 60_000);

  it('deploy (dry run): pass 0, refused 3 (never gated; not there), usage 2', async () => {
    const base = ['--policy', policy, '--plain-http', '--audit-dir', audit, '--dry-run'];
    await cli(['deploy', formatImage(clean), ...base], 0, 'DeployResult');
    const refused = await cli(['deploy', `${clean.registry}/app/clean:never`, ...base], 3, 'DeployResult');
    expect(refused.decision).toBe('refuse');
    await cli(['deploy', `${vuln.registry}/app/vuln@sha256:${'1'.repeat(64)}`, ...base], 3, 'DeployResult');
    await cli(['deploy', formatImage(clean), '--policy', policy], 2, 'DeployResult');
  }, 30_000);

  it('purge: planned 0, usage 2', async () => {
    const r = await cli(
      ['purge', '--registry', clean.registry, '--policy', policy, '--plain-http', '--dry-run'],
      0,
      'PurgeResult',
    );
    expect(Array.isArray(r.data.repositories)).toBe(true);
    expect(typeof r.data.deleted).toBe('number');
    await cli(['purge', '--policy', policy], 2, 'PurgeResult');
  }, 30_000);

  it('runtime: fail 3 (one image blocked), usage 2; the recorded report over GET /api/runtime', async () => {
    const deployed = join(dir, 'deployed.json');
    writeFileSync(
      deployed,
      JSON.stringify([
        { image: formatImage(clean), source: 'ca-clean' },
        { image: formatImage(vuln), source: 'ca-vuln' },
      ]),
    );
    const runtimeDir = join(dir, 'runtime-audit');
    const r = await cli(
      ['runtime', '--policy', policy, '--deployed', deployed, '--audit-dir', runtimeDir, '--plain-http'],
      3,
      'RuntimeResult',
    );
    expect(r.checks).toHaveLength(2);
    await cli(['runtime', '--policy', policy], 2, 'RuntimeResult');
    const res = await handleRuntimeReport(
      new HttpRequest({ method: 'GET', url: 'http://127.0.0.1/api/runtime' }),
      { audit: new FileAuditStore(runtimeDir), auth: 'off' },
      new InvocationContext(),
    );
    expect(res.status).toBe(200);
    expectValidResult(res.jsonBody, 'GET /api/runtime');
    expect(res.jsonBody).toMatchObject({ kind: 'RuntimeResult', outcome: 'fail' });
    const none = await handleRuntimeReport(
      new HttpRequest({ method: 'GET', url: 'http://127.0.0.1/api/runtime' }),
      { audit: new FileAuditStore(join(dir, 'empty-audit')), auth: 'off' },
      new InvocationContext(),
    );
    expectValidResult(none.jsonBody, 'GET /api/runtime 404');
  }, 30_000);

  it('doctor: fail 3 (nothing checked is inconclusive), usage 2; verify, alerts, tokens, demo', async () => {
    const snapshot = join(dir, 'snapshot.json');
    writeFileSync(snapshot, JSON.stringify({ resources: [] }));
    const d = await cli(['doctor', 'platform', '--snapshot', snapshot], 3, 'DoctorResult');
    expect(d.counts.inconclusive).toBe(1);
    await cli(['doctor', 'pull', '--snapshot', snapshot], 2, 'DoctorResult');
    await cli(['verify', formatImage(clean), '--trust-policy', join(dir, 'none.json')], 2, 'VerifyResult');
    const alerts = await cli(['alerts', 'list'], 0, 'AlertsResult');
    expect(alerts.data.rules.length).toBeGreaterThan(0);
    await cli(['alerts', 'list', '--rule', 'x'], 2, 'AlertsResult');
    await cli(['tokens', 'frobnicate'], 2, 'TokensResult');
    // The builders themselves, on their edge shapes (the commands' success runs are in timers, verify, gate tests).
    expectValidResult(
      resultOf({ kind: 'DemoResult', subject: 'x', outcome: 'pass', summary: '0', data: { rows: [] } }),
    );
    expectValidResult(errorResultOf({ subject: 'x', error: { code: 'USAGE', message: 'm' }, errorKind: 'usage' }));
  }, 30_000);

  it('HTTP: verdicts, rescan (start, status), images, purge, and error bodies', async () => {
    const url = stack.service.url;
    const get = async (path: string) => {
      const res = await fetch(`${url}${path}`);
      return { status: res.status, body: (await res.json()) as any };
    };
    // The stack gated the pushes (registry notifications); wait for the clean image's verdict.
    const route = `/api/verdicts/${clean.registry}/${clean.repository}@${clean.digest}`;
    let verdict = await get(route);
    for (let i = 0; i < 100 && verdict.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 200));
      verdict = await get(route);
    }
    expect(verdict.status).toBe(200);
    expectValidResult(verdict.body, 'GET /api/verdicts');
    // Decided under the local service's own policy: whichever the decision, the envelope says it the same way.
    expect(verdict.body).toMatchObject({ kind: 'VerdictResult', image: clean });
    expect(verdict.body.outcome).toBe(verdict.body.decision === 'release' ? 'pass' : 'fail');
    expect(verdict.body.data.verdict.decision).toBe(verdict.body.decision);
    const missing = await get(`/api/verdicts/${clean.registry}/${clean.repository}@sha256:${'2'.repeat(64)}`);
    expect(missing.status).toBe(404);
    expectValidResult(missing.body, 'GET /api/verdicts 404');
    expect(missing.body).toMatchObject({
      outcome: 'error',
      error: { code: 'NOT_FOUND' },
      errors: [{ code: 'NOT_FOUND' }],
    });
    const bad = await get('/api/verdicts/app/clean:1.0');
    expect(bad.status).toBe(400);
    expectValidResult(bad.body, 'GET /api/verdicts 400');
    expect(bad.body.errors[0].field).toBe('image');

    const started = await fetch(`${url}/api/rescan`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ image: formatImage(vuln) }),
    });
    expect(started.status).toBe(202);
    const startedBody = (await started.json()) as any;
    expectValidResult(startedBody, 'POST /api/rescan');
    expect(startedBody).toMatchObject({ kind: 'RescanResult', outcome: 'pending' });
    expect(startedBody.rescans).toHaveLength(1);
    let status = await get(`/api/rescan/${startedBody.rescans[0].id}`);
    expectValidResult(status.body, 'GET /api/rescan/{id}');
    for (let i = 0; i < 100 && status.body.runtimeStatus !== 'Completed'; i++) {
      await new Promise((r) => setTimeout(r, 200));
      status = await get(`/api/rescan/${startedBody.rescans[0].id}`);
    }
    expectValidResult(status.body, 'GET /api/rescan/{id} completed');
    expect(status.body).toMatchObject({ outcome: 'fail', decision: 'block', exitCode: 3 });
    const gate = await get(`/api/rescan/${gateInstanceId(clean)}`);
    expectValidResult(gate.body, 'GET /api/rescan/{gate id}');
    expect((await get(`/api/rescan/gate-${'0'.repeat(40)}`)).status).toBe(404);
    expectValidResult((await get(`/api/rescan/gate-${'0'.repeat(40)}`)).body, 'GET /api/rescan 404');
    expectValidResult((await get('/api/rescan/nope')).body, 'GET /api/rescan 400');

    const images = await get('/api/images');
    expectValidResult(images.body, 'GET /api/images');
    expect(images.body.kind).toBe('ImagesResult');
    expect(Array.isArray(images.body.images)).toBe(true);

    const purge = await fetch(`${url}/api/purge`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ dryRun: true }),
    });
    const purgeBody = (await purge.json()) as any;
    expect(purge.status).toBe(200);
    expectValidResult(purgeBody, 'POST /api/purge');
    expect(Array.isArray(purgeBody.data.repositories)).toBe(true);
    expect(typeof purgeBody.data.deleted).toBe('number');
    expect(Array.isArray(purgeBody.summaries)).toBe(true);
    const refused = await fetch(`${url}/api/purge`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ dryRun: 'yes' }),
    });
    expect(refused.status).toBe(400);
    const refusedBody = (await refused.json()) as any;
    expectValidResult(refusedBody, 'POST /api/purge 400');
    expect(refusedBody.errors[0]).toMatchObject({ code: 'INVALID_INPUT', field: 'dryRun' });
    expectValidResult((await get('/api/nothing-here')).body, 'no route 404');
  }, 60_000);
});
