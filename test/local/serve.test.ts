/**
 * The local service end to end: a real docker-registry whose push notifications reach the service, the real
 * orchestration, verdicts over HTTP, rescans; then the service as a child process killed mid-gate (SIGKILL of
 * its whole process group, registry included) and restarted: the gate resumes from its saved history and
 * completes once, with one verdict.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import type { ImageId } from '../../src/core/types';
import { gateInstanceId } from '../../src/core/reference';
import { createRegistryClient } from '../../src/adapters/registry';
import { FileAuditStore } from '../../src/adapters/auditStore';
import { EventType, type HistoryEvent } from '../../src/local/durableDriver';
import { pushImage } from '../../src/local/ociPush';
import { freePort } from '../../src/local/registryServer';
import { startLocalStack, type LocalStack } from '../../src/local/stack';
import { startService } from '../../src/local/serve';
import { loadPolicy } from '../../src/core/policy';
import { attachReport } from '../support/pushSamples';

const ROOT = join(__dirname, '../..');

async function pushWithReport(host: string, repository: string, tag: string, report: boolean): Promise<ImageId> {
  const client = createRegistryClient({ host, plainHttp: true });
  const now = new Date();
  const pushed = await pushImage(client, repository, {
    tag,
    layers: [Buffer.from(`${repository}:${tag}:${now.toISOString()}`)],
    created: now.toISOString(),
  });
  if (report) await attachReport(client, repository, pushed, { scannedAt: now.toISOString(), vulnerabilities: [] });
  return { registry: host, repository, digest: pushed.digest };
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function getJson(url: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}

describe('local service (in-process)', () => {
  let stack: LocalStack;
  let stateDir: string;
  const logs: string[] = [];

  beforeAll(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'acr-guard-serve-'));
    stack = await startLocalStack({
      stateDir,
      port: 0,
      registryPort: 0,
      seed: false,
      env: {},
      log: (line) => logs.push(line),
    });
  }, 30_000);
  afterAll(async () => {
    await stack?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('gates a push announced by the registry notification, shows the verdict over HTTP, and rescans it', async () => {
    const { service, registry } = stack;
    const image = await pushWithReport(registry.host, 'demo/e2e', '1', true);
    const route = `${service.url}/api/verdicts/${image.registry}/${image.repository}@${image.digest}`;
    const verdict = await until('the verdict', async () => {
      const r = await getJson(route);
      return r.status === 200 ? r.body : undefined;
    });
    expect(verdict).toMatchObject({ decision: 'release', image, tag: '1' });
    // The verdict is recorded by the gate's last activity; the orchestration completes right after it.
    const gateStatus = await until('the gate to complete', async () => {
      const body = (await getJson(`${service.url}/api/rescan/${gateInstanceId(image)}`)).body;
      return body.runtimeStatus === 'Running' || body.runtimeStatus === 'Pending' ? undefined : body.runtimeStatus;
    });
    expect(gateStatus).toBe('Completed');

    const images = (await getJson(`${service.url}/api/images`)).body;
    expect(images.purge).toBeNull();
    expect(images.images.map((r: any) => r.image)).toContain(`${image.registry}/${image.repository}@${image.digest}`);
    // The report artifact and the referrers tag index were pushed too; neither is an image row.
    expect(images.images.filter((r: any) => r.repository === 'demo/e2e')).toHaveLength(1);

    const res = await fetch(`${service.url}/api/rescan`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ image: `${image.registry}/${image.repository}:1` }),
    });
    expect(res.status).toBe(202);
    const { rescans } = (await res.json()) as { rescans: Array<{ id: string; statusQueryGetUri: string }> };
    expect(rescans[0].statusQueryGetUri).toBe(`${service.url}/api/rescan/${rescans[0].id}`);
    const status = await until('the rescan', async () => {
      const r = await getJson(rescans[0].statusQueryGetUri);
      return r.body.runtimeStatus === 'Completed' ? r.body : undefined;
    });
    expect(status.output.verdict.decision).toBe('release');
    const audit = new FileAuditStore(join(stateDir, 'audit'));
    expect(await audit.listVerdicts(image.registry, image.repository)).toHaveLength(2);
  }, 60_000);

  it("gates a push whose client claims acr-guard's User-Agent; skips only acr-guard's own promotion writes, known by what it wrote", async () => {
    const { service, registry } = stack;
    // Any client can send this header; the registry puts it in the notification's request.useragent.
    const forger = createRegistryClient({ host: registry.host, plainHttp: true, userAgent: 'acr-guard/0.1' });
    const now = new Date();
    const pushed = await pushImage(forger, 'demo/forged', {
      tag: '1',
      layers: [Buffer.from(`forged:${now.toISOString()}`)],
      created: now.toISOString(),
    });
    const image: ImageId = { registry: registry.host, repository: 'demo/forged', digest: pushed.digest };
    const status = await until(
      'the gate of the forged push',
      async () => {
        const r = await getJson(`${service.url}/api/rescan/${gateInstanceId(image)}`);
        return r.status === 200 && r.body.runtimeStatus === 'Completed' ? r.body : undefined;
      },
      20_000,
    );
    // No report was attached: the gate blocks it at the scan deadline (it was gated, not waved through).
    expect(status.output.verdict.decision).toBe('block');
    // A clean image is released and promoted into release/demo/own: that write's notification starts no gate.
    const own = await pushWithReport(registry.host, 'demo/own', '1', true);
    const ownStatus = await until('the gate of the clean push', async () => {
      const r = await getJson(`${service.url}/api/rescan/${gateInstanceId(own)}`);
      return r.status === 200 && r.body.runtimeStatus === 'Completed' ? r.body : undefined;
    });
    expect(ownStatus.output.apply).toMatchObject({ mode: 'promote', ok: true });
    const promoted = { registry: registry.host, repository: 'release/demo/own', digest: own.digest };
    expect(
      (await createRegistryClient({ host: registry.host, plainHttp: true }).getManifest('release/demo/own', own.digest))
        .digest,
    ).toBe(own.digest);
    // The registry notifies within milliseconds; give it a moment, then no gate exists for the promoted copy.
    await new Promise((r) => setTimeout(r, 500));
    expect((await getJson(`${service.url}/api/rescan/${gateInstanceId(promoted)}`)).status).toBe(404);
  }, 60_000);

  it('runs retention on demand (POST /api/purge) through the registryPurge orchestration; the page data shows its summary', async () => {
    const { service, registry } = stack;
    await pushWithReport(registry.host, 'demo/retained', '1', true);
    const post = (body: string) =>
      fetch(`${service.url}/api/purge`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const bad = await post(JSON.stringify({ dryRun: 'yes' }));
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).error.field).toBe('dryRun');
    const badCap = await post(JSON.stringify({ dryRun: true, allowOverCap: 'yes' }));
    expect(badCap.status).toBe(400);
    expect(((await badCap.json()) as any).error.field).toBe('allowOverCap');
    const allowed = await post(JSON.stringify({ dryRun: true, allowOverCap: true }));
    expect(allowed.status).toBe(200);
    const res = await post(JSON.stringify({ dryRun: true }));
    expect(res.status).toBe(200);
    const { summaries } = (await res.json()) as any;
    expect(summaries).toHaveLength(1);
    // Everything here is younger than the demo rule's 30 days: nothing goes, and each manifest says why it stays.
    expect(summaries[0]).toMatchObject({ registry: registry.host, dryRun: true, deleted: 0, failed: 0, errors: [] });
    expect(summaries[0].outcomes.map((o: any) => o.repository)).toContain('demo/retained');
    expect(
      Object.values(summaries[0].keptByReason as Record<string, number>).reduce((a, b) => a + b, 0),
    ).toBeGreaterThan(0);
    expect((await getJson(`${service.url}/api/images`)).body.purge).toMatchObject({
      registry: registry.host,
      dryRun: true,
      trigger: 'manual',
    });
  }, 60_000);

  it('guards the notification endpoint (token, media type, size, shape) and starts one gate per digest on duplicate deliveries', async () => {
    const { service, registry } = stack;
    const sample = JSON.parse(
      readFileSync(join(ROOT, '../shared/reference/registry-push-event-sample.json'), 'utf8'),
    ).body;
    const post = (body: string, headers: Record<string, string>) =>
      fetch(service.notificationsUrl, { method: 'POST', headers, body });
    const type = { 'content-type': 'application/vnd.docker.distribution.events.v1+json' };
    expect((await post(JSON.stringify(sample), type)).status).toBe(401);
    expect((await post(JSON.stringify(sample), { ...type, authorization: 'Bearer wrong' })).status).toBe(401);
    const auth = { authorization: `Bearer ${stack.notificationToken}` };
    expect((await post(JSON.stringify(sample), { 'content-type': 'text/plain', ...auth })).status).toBe(415);
    expect((await post('x'.repeat(2 * 1024 * 1024), { ...type, ...auth })).status).toBe(413);
    const bad = await post(
      JSON.stringify({
        events: [{ ...sample.events[0], target: { ...sample.events[0].target, digest: 'sha256:nope' } }],
      }),
      { ...type, ...auth },
    );
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).error.field).toBe('events[0].target.digest');
    // The reference envelope, pointed at an image in this registry, delivered twice: one gate.
    const image = await pushWithReport(registry.host, 'demo/dup', '1', true);
    await until('the gate', async () =>
      (await getJson(`${service.url}/api/rescan/${gateInstanceId(image)}`)).body.runtimeStatus === 'Completed'
        ? true
        : undefined,
    );
    const envelope = structuredClone(sample);
    envelope.events[0].target = {
      ...envelope.events[0].target,
      repository: 'demo/dup',
      digest: image.digest,
      tag: '1',
    };
    envelope.events[0].request.host = registry.host;
    for (let i = 0; i < 2; i++) {
      const res = await post(JSON.stringify(envelope), { ...type, ...auth });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ received: 1, started: 0 });
    }
    // A registry outside the allowlist in an otherwise valid envelope: received, nothing started.
    envelope.events[0].request.host = '169.254.169.254';
    expect(await (await post(JSON.stringify(envelope), { ...type, ...auth })).json()).toEqual({
      received: 1,
      started: 0,
    });
    const audit = new FileAuditStore(join(stateDir, 'audit'));
    expect(await audit.listVerdicts(image.registry, 'demo/dup')).toHaveLength(1);
  }, 60_000);

  it('serves the page and refuses unknown routes', async () => {
    const page = await fetch(`${stack.service.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(await page.text()).toContain('<div id="images">');
    expect((await fetch(`${stack.service.url}/app.js`)).headers.get('content-type')).toContain('javascript');
    expect((await fetch(`${stack.service.url}/../../etc/passwd`)).status).toBe(404);
    // DNS rebinding: the same port reached under another name is refused.
    const withHost = (host: string) =>
      new Promise<number>((resolve, reject) => {
        const req = httpRequest(
          { host: '127.0.0.1', port: stack.service.port, path: '/api/images', headers: { host } },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end();
      });
    expect(await withHost(`attacker.example:${stack.service.port}`)).toBe(421);
    expect(await withHost(`127.0.0.1.nip.io:${stack.service.port}`)).toBe(421);
    expect(await withHost(`localhost:${stack.service.port}`)).toBe(200);
    expect(
      (
        await fetch(`${stack.service.url}/api/rescan`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: 'x'.repeat(10_000),
        })
      ).status,
    ).toBe(413);
  });

  it('names the port when it is taken', async () => {
    const policy = loadPolicy(
      'version: 1\nregistries: [{ host: "registry.example.com" }]\ngate: []\nretention: []\n',
      'test policy',
    );
    await expect(startService({ policy, stateDir, port: stack.service.port, env: {} })).rejects.toMatchObject({
      code: 'INVALID_CONFIG',
      field: 'port',
    });
  });

  it('skips the timers that are not configured, with one line each', () => {
    expect(logs.filter((l) => l.startsWith('timer alertQueries: skipped'))).toHaveLength(1);
    expect(logs.filter((l) => l.startsWith('timer rotateTokens: skipped'))).toHaveLength(1);
    expect(
      logs.filter((l) =>
        l.startsWith('timer nightlyPurge: skipped (not configured: ACR_GUARD_PURGE_SCHEDULE is not set'),
      ),
    ).toHaveLength(1);
  });
});

describe('local service with ACR_GUARD_PURGE_SCHEDULE', () => {
  it('runs retention over the local registry on that schedule and records a timer summary', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'acr-guard-purge-timer-'));
    const logs: string[] = [];
    const stack = await startLocalStack({
      stateDir,
      port: 0,
      registryPort: 0,
      seed: false,
      env: { ACR_GUARD_PURGE_SCHEDULE: '*/2 * * * * *' },
      log: (line) => logs.push(line),
    });
    try {
      expect(logs).toContain('timer nightlyPurge: on schedule "*/2 * * * * *"');
      const line = await until('a timer purge', async () => logs.find((l) => l.startsWith('nightlyPurge: ')));
      expect(line).toBe(`nightlyPurge: ${stack.registry.host}: 0 deleted, 0 failed, 0 error(s) over 0 repositories`);
      const summary = await new FileAuditStore(join(stateDir, 'audit')).latestPurgeSummary(stack.registry.host);
      expect(summary).toMatchObject({ registry: stack.registry.host, trigger: 'timer', dryRun: false, deleted: 0 });
    } finally {
      await stack.stop();
      rmSync(stateDir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('local service with --auth easyauth', () => {
  it('checks x-ms-client-principal and the app roles as in Azure', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'acr-guard-auth-'));
    const policy = loadPolicy(
      'version: 1\nregistries: [{ host: "registry.example.com" }]\ngate: []\nretention: []\n',
      'test policy',
    );
    const service = await startService({ policy, stateDir, auth: 'easyauth', env: {} });
    try {
      const principal = (roles: string[]) =>
        Buffer.from(JSON.stringify({ auth_typ: 'aad', claims: roles.map((val) => ({ typ: 'roles', val })) })).toString(
          'base64',
        );
      const verdict = `${service.url}/api/verdicts/registry.example.com/team/api@sha256:${'a'.repeat(64)}`;
      expect((await fetch(verdict)).status).toBe(401);
      expect(
        (await fetch(verdict, { headers: { 'x-ms-client-principal': principal(['Verdicts.Read']) } })).status,
      ).toBe(404);
      const rescan = (roles: string[]) =>
        fetch(`${service.url}/api/rescan`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-ms-client-principal': principal(roles) },
          body: JSON.stringify({ image: '169.254.169.254/x:1' }),
        });
      expect((await rescan(['Verdicts.Read'])).status).toBe(403);
      expect(((await (await rescan(['Rescan.Request'])).json()) as any).error.code).toBe('REGISTRY_NOT_ALLOWED');
      // The image list shows every verdict: the verdicts endpoint's role, no anonymous reads.
      const images = (roles?: string[]) =>
        fetch(`${service.url}/api/images`, roles ? { headers: { 'x-ms-client-principal': principal(roles) } } : {});
      const anonymous = await images();
      expect(anonymous.status).toBe(401);
      expect(((await anonymous.json()) as any).error).toMatchObject({
        code: 'UNAUTHENTICATED',
        field: 'x-ms-client-principal',
      });
      expect((await images(['Other.Role'])).status).toBe(403);
      expect((await images(['Verdicts.Read'])).status).toBe(200);
    } finally {
      await service.stop();
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});

describe('local service restart (child process killed mid-gate)', () => {
  let bundleDir: string;
  let stateDir: string;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    bundleDir = mkdtempSync(join(tmpdir(), 'acr-guard-bundle-'));
    stateDir = mkdtempSync(join(tmpdir(), 'acr-guard-state-'));
    await build({
      absWorkingDir: ROOT,
      entryPoints: ['src/cli/main.ts'],
      outfile: join(bundleDir, 'main.js'),
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      logLevel: 'error',
      external: ['@azure/functions-core'],
      define: { 'import.meta.url': '__acrGuardImportMetaUrl' },
      banner: { js: "var __acrGuardImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
    });
  }, 60_000);
  afterAll(() => {
    if (child?.pid && child.exitCode === null) process.kill(-child.pid, 'SIGKILL');
    rmSync(bundleDir, { recursive: true, force: true });
    rmSync(stateDir, { recursive: true, force: true });
  });

  /** Starts `acr-guard serve` in its own process group; resolves once it prints that it is running. */
  async function startChild(port: number, registryPort: number): Promise<{ child: ChildProcess; out: () => string }> {
    const proc = spawn(
      process.execPath,
      [
        join(bundleDir, 'main.js'),
        'serve',
        '--port',
        String(port),
        '--registry-port',
        String(registryPort),
        '--state-dir',
        stateDir,
        '--no-seed',
      ],
      {
        cwd: ROOT,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
      },
    );
    let out = '';
    proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    await until('the service to start', async () => {
      if (proc.exitCode !== null) throw new Error(`serve exited ${proc.exitCode}: ${out}`);
      return out.includes('Press Ctrl-C to stop.') ? true : undefined;
    });
    return { child: proc, out: () => out };
  }

  function histories(): Array<{ id: string; events: HistoryEvent[] }> {
    const dir = join(stateDir, 'history');
    let names: string[] = [];
    try {
      names = readdirSync(dir).filter((n) => n.endsWith('.json'));
    } catch {
      return [];
    }
    return names.map((n) => ({
      id: n.slice(0, -5),
      events: JSON.parse(readFileSync(join(dir, n), 'utf8')) as HistoryEvent[],
    }));
  }

  it('resumes the gate after SIGKILL and completes it exactly once', async () => {
    const port = await freePort();
    const registryPort = await freePort();
    const first = await startChild(port, registryPort);
    child = first.child;
    const host = `127.0.0.1:${registryPort}`;
    // No report: the gate polls for one until the demo policy's 3 s scan deadline.
    const image = await pushWithReport(host, 'demo/slow', '1', false);
    const id = gateInstanceId(image);
    const waiting = await until(
      'the gate to wait for its scan',
      async () => {
        const h = histories().find((x) => x.id === id);
        const midGate =
          h &&
          h.events.some((e) => e.EventType === EventType.TimerCreated) &&
          !h.events.some((e) => e.EventType === EventType.ExecutionCompleted);
        return midGate ? h : undefined;
      },
      15_000,
    );
    process.kill(-(child.pid as number), 'SIGKILL');
    await new Promise((r) => child?.once('exit', r));
    expect(waiting.events.some((e) => e.EventType === EventType.ExecutionCompleted)).toBe(false);
    const audit = new FileAuditStore(join(stateDir, 'audit'));
    expect(await audit.listVerdicts(host, 'demo/slow')).toHaveLength(0);
    // The registry died with the service (same process group): its port must be free again.
    await until('the registry port to close', async () => ((await portOpen(registryPort)) ? undefined : true), 10_000);

    const second = await startChild(port, registryPort);
    child = second.child;
    expect(second.out()).toContain('resumed:   1 gate(s)');
    const status = await until('the resumed gate', async () => {
      const r = await getJson(`http://127.0.0.1:${port}/api/rescan/${id}`);
      return r.body.runtimeStatus === 'Completed' ? r.body : undefined;
    });
    expect(status.output.verdict.decision).toBe('block');
    const verdicts = await audit.listVerdicts(host, 'demo/slow');
    expect(verdicts).toHaveLength(1);
    const final = histories().find((x) => x.id === id) as { events: HistoryEvent[] };
    expect(final.events.filter((e) => e.EventType === EventType.ExecutionStarted)).toHaveLength(1);
    expect(final.events.filter((e) => e.EventType === EventType.ExecutionCompleted)).toHaveLength(1);
    // Exactly one record step ran: applyAndRecord (version 2's apply and record) scheduled once, no separate one.
    expect(
      final.events.filter((e) => e.EventType === EventType.TaskScheduled && e.Name === 'imageGate_applyAndRecord'),
    ).toHaveLength(1);
    expect(
      final.events.filter((e) => e.EventType === EventType.TaskScheduled && e.Name === 'imageGate_recordVerdict'),
    ).toHaveLength(0);
    // Only one gate instance exists for the image (no duplicate start from a redelivered notification).
    expect(
      histories().filter((h) =>
        h.events.some((e) => e.EventType === EventType.ExecutionStarted && e.Input?.includes(image.digest)),
      ),
    ).toHaveLength(1);

    // Ctrl-C (SIGTERM here) while another gate waits for its scan: the service stops the registry and exits 0
    // at once, without waiting for that gate (it resumes on the next start).
    const other = await pushWithReport(host, 'demo/slow', '2', false);
    await until(
      'the second gate to wait',
      async () =>
        histories().find(
          (x) => x.id === gateInstanceId(other) && x.events.some((e) => e.EventType === EventType.TimerCreated),
        ),
      15_000,
    );
    const stopAt = Date.now();
    process.kill(child.pid as number, 'SIGTERM');
    const code = await new Promise<number | null>((r) => child?.once('exit', (c) => r(c)));
    expect(code).toBe(0);
    expect(Date.now() - stopAt).toBeLessThan(2_500);
    expect(
      histories()
        .find((x) => x.id === gateInstanceId(other))
        ?.events.some((e) => e.EventType === EventType.ExecutionCompleted),
    ).toBe(false);
    expect(await portOpen(registryPort)).toBe(false);
    expect(await portOpen(port)).toBe(false);
  }, 90_000);
});

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
