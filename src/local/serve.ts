/**
 * The local service (`acr-guard serve`, what `npm start` runs): the app's HTTP functions, the registry's push
 * notifications, the timers and the gate orchestrations, hosted in one process without the Functions host.
 *
 * - `POST /api/rescan`, `GET /api/rescan/{id}`, `GET /api/verdicts/{*image}`: the same handlers as in Azure,
 *   called with real `HttpRequest`/`InvocationContext` objects built from the node request.
 * - `POST /api/registry/notifications`: the open-source registry's notification envelope, fed to the same
 *   push path as Event Grid events (`startGateForPush`: allowlist, one gate per digest).
 * - `GET /api/images`: the latest verdict of every image the service has gated, and the last purge summary
 *   (for the page at `/`).
 * - Gates run through {@link LocalGateRunner}: the real orchestrator replayed by the local durable driver,
 *   histories in `<stateDir>/history`, resumed on start. Verdicts in `<stateDir>/audit` (JSON lines, the store
 *   `acr-guard demo` uses).
 * - Timers `alertQueries` and `rotateTokens` run on their NCRONTAB schedules when their settings are present;
 *   otherwise they are skipped with one log line.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID, timingSafeEqual, createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import type { TokenCredential } from '@azure/identity';
import { TIMER_SCHEDULES, loadAlertsConfig, loadRotationConfig, timerSchedule } from '../config';
import { MemoryAlertStateStore } from '../adapters/alertState';
import { alertRunFor, rotationRunFor, type TimerDeps } from '../jobs/compose';
import { runAlertRules } from '../jobs/alertRun';
import { rotateTokens } from '../jobs/tokenRotation';
import { parseRegistryNotification, type PushEventParse } from '../core/events';
import { isGuardError } from '../core/errors';
import { cronMatches, parseCron, type CronSchedule } from '../core/cron';
import type { Policy } from '../core/policyTypes';
import { formatImage, isReferrerTag } from '../core/reference';
import type { Verdict } from '../core/types';
import { FileAuditStore } from '../adapters/auditStore';
import type { AuditStore } from '../adapters/ports';
import { ACR_GUARD_USER_AGENT, composeGateServices } from '../compose';
import type { SignatureTrust } from '../adapters/signatureVerifier';
import { startGateForPush } from '../functions/onImagePushed';
import { handleRescan, handleRescanStatus, verdictPath } from '../functions/rescan';
import { handleVerdict } from '../functions/verdicts';
import { MAX_BODY_BYTES, errorResponse, jsonResponse, type HttpAuthMode } from '../functions/http';
import type { GateOutcome, GateProgress } from '../orchestrations/imageGate';
import { FileHistoryStore } from './fileHistoryStore';
import { LocalGateRunner } from './gateRunner';

/** Largest registry notification envelope accepted (bytes). */
export const MAX_NOTIFICATION_BYTES = 1024 * 1024;

/** Options of {@link startService}. */
export interface ServeOptions {
  policy: Policy;
  /** Where histories and verdicts are kept (`.local/state` for `npm start`). */
  stateDir: string;
  /** Port on `host` (0: a free one). */
  port?: number;
  /** Listen address; loopback by default. */
  host?: string;
  /** Loopback registries reached over plain http. */
  plainHttpHosts?: readonly string[];
  /** `off` (default locally) or `easyauth` (callers send `x-ms-client-principal`, as behind App Service). */
  auth?: HttpAuthMode;
  /** Bearer token the registry sends with its notifications (required on that endpoint when set). */
  notificationToken?: string;
  /** `real` (default) waits for durable timers; `virtual` fires them at once (tests). */
  timers?: 'real' | 'virtual';
  /** Settings for the timers (default `process.env`). */
  env?: Record<string, string | undefined>;
  /** Credential for the timers' Azure clients (default `DefaultAzureCredential`, created only when a timer runs). */
  credential?: () => TokenCredential;
  signatureTrust?: SignatureTrust | (() => Promise<SignatureTrust>);
  /** Extra CA (PEM) the timers' Azure clients trust: loopback stand-ins in tests. */
  ca?: string;
  log?: (line: string) => void;
}

/** A running local service. */
export interface LocalService {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** Where the registry posts its notifications. */
  notificationsUrl: string;
  runner: LocalGateRunner;
  audit: AuditStore;
  /** Ids of the gates resumed from disk at start. */
  resumed: string[];
  /** Stops the timers and the server; running gates stop where their histories were last saved. */
  stop(): Promise<void>;
}

/** One image row of `GET /api/images`. */
export interface ImageRow {
  image: string;
  registry: string;
  repository: string;
  digest: string;
  tag?: string;
  gate: { id: string; runtimeStatus: string; trigger?: string; progress?: GateProgress; createdTime?: string };
  verdict?: Verdict;
  verdictUrl: string;
}

/** Where the page's files are: next to this module in the sources, or copied beside the bundle by the build. */
function pageDir(): string | undefined {
  const candidates = [join(__dirname, 'page'), join(__dirname, '..', 'local', 'page'), join(__dirname, '..', '..', '..', 'src', 'local', 'page'), join(process.cwd(), 'src', 'local', 'page')];
  return candidates.find((dir) => existsSync(join(dir, 'index.html')));
}

const PAGE_FILES: Record<string, string> = {
  '/': 'index.html',
  '/index.html': 'index.html',
  '/app.js': 'app.js',
  '/style.css': 'style.css',
};
const PAGE_TYPES: Record<string, string> = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };

/** Reads at most `max` bytes of a request body; undefined when it is longer. */
async function readBody(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > max) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function headerRecord(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function send(res: ServerResponse, response: HttpResponseInit): void {
  const headers: Record<string, string> = {};
  const given = response.headers as Record<string, string> | undefined;
  if (given) for (const [k, v] of Object.entries(given)) headers[k.toLowerCase()] = String(v);
  let payload = '';
  if (response.jsonBody !== undefined) {
    payload = JSON.stringify(response.jsonBody);
    headers['content-type'] ??= 'application/json; charset=utf-8';
  } else if (typeof response.body === 'string') {
    payload = response.body;
  }
  headers['content-length'] = String(Buffer.byteLength(payload));
  res.writeHead(response.status ?? 200, headers);
  res.end(payload);
}

function sameToken(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

function context(functionName: string, log: (line: string) => void): InvocationContext {
  return new InvocationContext({
    invocationId: randomUUID(),
    functionName,
    logHandler: (level, ...args) => log(`${level === 'information' ? '' : `[${level}] `}${args.map(String).join(' ')}`),
  });
}

/** The latest gate and verdict of every image the runner knows (artifacts and ignored pushes left out). */
export async function listImages(runner: LocalGateRunner, audit: AuditStore): Promise<ImageRow[]> {
  const rows = new Map<string, ImageRow>();
  for (const instance of runner.list()) {
    const input = instance.input;
    if (!input) continue;
    const outcome = instance.output as GateOutcome | undefined;
    if (outcome?.status === 'ignored') continue;
    const progress = instance.customStatus as GateProgress | undefined;
    // A running gate shows up once it is past the manifest (until then it may be an artifact it will ignore).
    if (instance.runtimeStatus === 'Running' && (!progress || progress.step === 'loading-policy' || progress.step === 'resolving-manifest')) continue;
    const key = formatImage(input.image);
    const existing = rows.get(key);
    if (existing) {
      existing.tag ??= input.tag;
      continue;
    }
    rows.set(key, {
      image: key,
      ...input.image,
      ...(input.tag ? { tag: input.tag } : {}),
      gate: { id: instance.instanceId, runtimeStatus: instance.runtimeStatus, trigger: input.trigger, progress, createdTime: instance.createdTime },
      verdictUrl: verdictPath(input.image),
    });
  }
  for (const row of rows.values()) {
    const verdict = await audit.latestVerdict(row).catch(() => undefined);
    if (verdict) row.verdict = verdict;
  }
  return [...rows.values()].sort((a, b) => a.repository.localeCompare(b.repository) || String(b.gate.createdTime).localeCompare(String(a.gate.createdTime)));
}

/** The last purge summary, when the audit store records them (purge: issue 4); null otherwise. */
async function latestPurgeSummary(audit: AuditStore): Promise<unknown> {
  const reader = (audit as { latestPurgeSummary?: () => Promise<unknown> }).latestPurgeSummary;
  if (typeof reader !== 'function') return null;
  try {
    return (await reader.call(audit)) ?? null;
  } catch {
    return null;
  }
}

interface LocalTimer {
  name: string;
  schedule: CronSchedule;
  run: () => Promise<void>;
}

/**
 * The timers whose settings are present; each one missing is skipped with one log line. They run the same
 * jobs as the Functions timers (`runAlertRules`, `rotateTokens` over `alertRunFor`/`rotationRunFor`); the alert
 * de-duplication state lives for the service's lifetime (in Azure it is a table).
 */
function localTimers(env: Record<string, string | undefined>, deps: () => TimerDeps, log: (line: string) => void): LocalTimer[] {
  const timers: LocalTimer[] = [];
  const alertState = new MemoryAlertStateStore();
  const candidates: Array<{ name: string; setting: keyof typeof TIMER_SCHEDULES; check: () => unknown; run: () => Promise<void> }> = [
    {
      name: 'alertQueries',
      setting: 'ACR_GUARD_ALERT_SCHEDULE',
      check: () => loadAlertsConfig(env),
      run: async () => {
        const config = loadAlertsConfig(env);
        const report = await runAlertRules({ ...alertRunFor(config, undefined, deps(), { dryRun: false }), state: alertState, nowMs: Date.now() });
        const failed = report.rules.filter((r) => r.status !== 'ok').map((r) => r.rule);
        log(`alertQueries: ${report.rules.length} rule(s), ${report.rules.reduce((n, r) => n + r.alerted, 0)} alert(s) sent${failed.length ? `; not complete: ${failed.join(', ')}` : ''}`);
      },
    },
    {
      name: 'rotateTokens',
      setting: 'ACR_GUARD_ROTATION_SCHEDULE',
      check: () => loadRotationConfig(env),
      run: async () => {
        const outcomes = await rotateTokens({ ...rotationRunFor(loadRotationConfig(env), undefined, deps(), { dryRun: false }), nowMs: Date.now() });
        log(`rotateTokens: ${outcomes.map((o) => `${o.secretName ?? o.tokenId}: ${o.result}`).join('; ')}`);
      },
    },
  ];
  for (const c of candidates) {
    try {
      c.check();
    } catch (err) {
      log(`timer ${c.name}: skipped (not configured: ${isGuardError(err) ? err.message : 'settings missing'})`);
      continue;
    }
    const schedule = parseCron(timerSchedule(env, c.setting), c.setting);
    timers.push({ name: c.name, schedule, run: c.run });
    log(`timer ${c.name}: on schedule "${schedule.text}"`);
  }
  return timers;
}

/** Starts the local service. */
export async function startService(options: ServeOptions): Promise<LocalService> {
  const log = options.log ?? (() => undefined);
  const policy = options.policy;
  const audit = new FileAuditStore(join(options.stateDir, 'audit'));
  const services = composeGateServices({ policy: () => policy, audit, plainHttpHosts: options.plainHttpHosts, signatureTrust: options.signatureTrust });
  const runner = new LocalGateRunner({ services, history: new FileHistoryStore(join(options.stateDir, 'history')), timers: options.timers ?? 'real', log });
  const auth = options.auth ?? 'off';
  const rescanDeps = { policy, starter: runner, registry: services.registry, auth };
  const page = pageDir();
  let origin = '';
  const allowedHosts = new Set<string>();

  const toRequest = (req: IncomingMessage, params: Record<string, string>, body?: Buffer): HttpRequest =>
    new HttpRequest({ method: req.method ?? 'GET', url: `${origin}${req.url ?? '/'}`, headers: headerRecord(req), params, ...(body ? { body: { bytes: body } } : {}) });

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // DNS rebinding: a web page whose name resolves to 127.0.0.1 reaches this port with its own Host header.
    if (!allowedHosts.has((req.headers.host ?? '').toLowerCase())) {
      return send(res, errorResponse(421, 'MISDIRECTED_REQUEST', `host: expected ${[...allowedHosts].join(' or ')} (the local service answers on loopback names only)`, 'host'));
    }
    const url = new URL(req.url ?? '/', origin);
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (method === 'GET' && PAGE_FILES[path]) {
      if (!page) return send(res, errorResponse(404, 'NOT_FOUND', 'the page files (src/local/page) are not installed beside this build'));
      const name = PAGE_FILES[path];
      const text = await readFile(join(page, name), 'utf8');
      return send(res, {
        status: 200,
        body: text,
        headers: {
          'content-type': PAGE_TYPES[name.split('.').pop() as string],
          'cache-control': 'no-cache',
          'x-content-type-options': 'nosniff',
          'content-security-policy': "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
        },
      });
    }
    if (path === '/api/rescan') {
      if (method !== 'POST') return send(res, errorResponse(405, 'METHOD_NOT_ALLOWED', 'POST /api/rescan'));
      const body = await readBody(req, MAX_BODY_BYTES);
      if (!body) {
        res.setHeader('connection', 'close');
        return send(res, errorResponse(413, 'PAYLOAD_TOO_LARGE', `body: expected at most ${MAX_BODY_BYTES} bytes of JSON`, 'body'));
      }
      return send(res, await handleRescan(toRequest(req, {}, body), rescanDeps, context('rescan', log)));
    }
    if (method === 'GET' && path.startsWith('/api/rescan/')) {
      let instanceId = path.slice('/api/rescan/'.length);
      try {
        instanceId = decodeURIComponent(instanceId);
      } catch {
        // Left as sent: the handler refuses it as a malformed id (400).
      }
      return send(res, await handleRescanStatus(toRequest(req, { instanceId }), rescanDeps, context('rescanStatus', log)));
    }
    if (method === 'GET' && path.startsWith('/api/verdicts/')) {
      const image = path.slice('/api/verdicts/'.length);
      return send(res, await handleVerdict(toRequest(req, { image }), { policy, audit, auth }, context('verdicts', log)));
    }
    if (method === 'GET' && path === '/api/images') {
      return send(res, jsonResponse(200, { images: await listImages(runner, audit), purge: await latestPurgeSummary(audit), gatesRunning: runner.list().filter((i) => i.runtimeStatus === 'Running').length }));
    }
    if (path === '/api/registry/notifications') {
      if (method !== 'POST') return send(res, errorResponse(405, 'METHOD_NOT_ALLOWED', 'POST /api/registry/notifications'));
      if (options.notificationToken) {
        const given = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
        if (!sameToken(given, options.notificationToken)) return send(res, errorResponse(401, 'UNAUTHENTICATED', 'authorization: expected the bearer token configured for the registry notifications', 'authorization'));
      }
      const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
      if (type !== 'application/vnd.docker.distribution.events.v1+json' && type !== 'application/json') {
        return send(res, errorResponse(415, 'UNSUPPORTED_MEDIA_TYPE', 'Content-Type: expected application/vnd.docker.distribution.events.v1+json', 'content-type'));
      }
      const body = await readBody(req, MAX_NOTIFICATION_BYTES);
      if (!body) return send(res, errorResponse(413, 'PAYLOAD_TOO_LARGE', `body: expected at most ${MAX_NOTIFICATION_BYTES} bytes`, 'body'));
      let raw: unknown;
      let parsed: PushEventParse[];
      try {
        raw = JSON.parse(body.toString('utf8'));
        parsed = parseRegistryNotification(raw);
      } catch (err) {
        return send(res, errorResponse(400, 'INVALID_INPUT', isGuardError(err) ? err.message : 'body: expected a registry notification envelope { "events": [...] }', isGuardError(err) ? err.field : 'body'));
      }
      const rawEvents = (raw as { events: Array<{ request?: { useragent?: unknown } }> }).events;
      let started = 0;
      const logger = { log, warn: (line: string) => log(`[warning] ${line}`) };
      for (const [i, event] of parsed.entries()) {
        // Pulls, mounts and blob pushes are most of the traffic: dropped without a log line.
        if (event.kind !== 'push') continue;
        // On registries without the referrers API, an image's referrers are listed by a `sha256-<hex>` tag: not an image.
        if (event.tag !== undefined && isReferrerTag(event.tag)) continue;
        // acr-guard's own writes (promotion into the release repository) copy a digest it has just gated.
        const agent = rawEvents[i]?.request?.useragent;
        if (typeof agent === 'string' && agent.startsWith(`${ACR_GUARD_USER_AGENT}/`)) continue;
        const handled = await startGateForPush(event, { policy, starter: runner }, logger, 'registry notification');
        if (handled.outcome === 'start' && handled.started) started++;
      }
      return send(res, jsonResponse(200, { received: parsed.length, started }));
    }
    return send(res, errorResponse(404, 'NOT_FOUND', `no route ${method} ${path}`));
  }

  const server: Server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      log(`local service: ${req.method} ${req.url?.split('?')[0]} failed: ${err instanceof Error ? err.message : String(err)}`);
      if (!res.headersSent) send(res, errorResponse(500, 'INTERNAL', 'the local service failed to answer; see its log'));
      else res.destroy();
    });
  });
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  origin = `http://${options.host ?? '127.0.0.1'}:${port}`;
  for (const name of [options.host ?? '127.0.0.1', '127.0.0.1', 'localhost', '[::1]']) allowedHosts.add(`${name}:${port}`);
  const resumed = await runner.resume();

  const env = options.env ?? process.env;
  let credential: TokenCredential | undefined;
  const getCredential = (): TokenCredential => {
    if (!credential) {
      // Loaded lazily: most local runs have no timer configured and never need Azure credentials.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { DefaultAzureCredential } = require('@azure/identity') as typeof import('@azure/identity');
      credential = options.credential?.() ?? new DefaultAzureCredential();
    }
    return credential;
  };
  const timers = localTimers(env, () => ({ credential: getCredential(), ca: options.ca, log }), log);
  const busy = new Set<string>();
  let lastSecond = -1;
  const tick = setInterval(() => {
    const now = new Date();
    const second = Math.floor(now.getTime() / 1000);
    if (second === lastSecond) return;
    lastSecond = second;
    for (const timer of timers) {
      if (!cronMatches(timer.schedule, now) || busy.has(timer.name)) continue;
      busy.add(timer.name);
      timer
        .run()
        .catch((err: unknown) => log(`timer ${timer.name} failed: ${isGuardError(err) ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err)}`))
        .finally(() => busy.delete(timer.name));
    }
  }, 250);
  tick.unref();

  return {
    url: origin,
    port,
    notificationsUrl: `${origin}/api/registry/notifications`,
    runner,
    audit,
    resumed,
    stop: async () => {
      clearInterval(tick);
      runner.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
