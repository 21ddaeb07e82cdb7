/**
 * The local service (`acr-guard serve`, what `npm start` runs): the app's HTTP functions, the registry's push
 * notifications, the timers and the gate orchestrations, hosted in one process without the Functions host. It
 * serves the function table's routes for this host (`src/app/functionTable.ts` says why a route is local only):
 *
 * - `POST /api/rescan`, `GET /api/rescan/{id}`, `GET /api/verdicts/{*image}`: the same handlers as in Azure,
 *   called with real `HttpRequest`/`InvocationContext` objects built from the node request.
 * - `POST /api/registry/notifications`: the open-source registry's notification envelope, fed to the same
 *   push path as Event Grid events (`startGateForPush`: allowlist, one gate per digest).
 * - `GET /api/images`: the latest verdict of every image the service has gated, and the last purge summary
 *   (for the page at `/`).
 * - Gates run through {@link LocalOrchestrationHost}: the real orchestrator replayed by the local durable driver,
 *   histories in `<stateDir>/history`, resumed on start. Verdicts in `<stateDir>/audit` (JSON lines, the store
 *   `acr-guard demo` uses).
 * - `GET /api/runtime`: the latest runtime report (what runs, checked against the gate); the service runs the
 *   `runtimeAudit` orchestration over `runtimeInventory` (the demo's deployed list) or the ARM lookup.
 * - Timers `alertQueries` and `rotateTokens` run on their NCRONTAB schedules when their settings are present;
 *   otherwise they are skipped with one log line.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import type { TokenCredential } from '@azure/identity';
import { ErrorCodes, GuardError } from '../core/errors';
import type { Policy } from '../core/policyTypes';
import { formatImage } from '../core/reference';
import { purgeResultOf } from '../core/result';
import { FileAuditStore } from '../adapters/auditStore';
import { WebhookVerdictPublisher } from '../adapters/verdictEvents';
import type { AuditStore, InUseLookup } from '../adapters/ports';
import { composeGateServices } from '../app/compose';
import { DEFAULT_VERIFIER_ID } from '../app/config';
import { pemFileSigner } from '../adapters/attestationSigner';
import { PromotionRecord } from '../core/promotions';
import type { RuntimeAuditOutput } from '../orchestrations/runtimeAudit';
import type { SignatureTrust } from '../adapters/signatureVerifier';
import { verdictPath } from '../app/rescan';
import type { ImageRow } from '../app/images';
import { HTTP_ROUTES, matchPath, servedBy, type HostHandledRoute, type HttpHostServices } from '../app/functionTable';
import {
  AppRoles,
  HttpRefusal,
  answer,
  errorResponse,
  jsonResponse,
  readJsonBody,
  requireRole,
  type HttpAuthMode,
} from '../app/http';
import { inUseConfig } from '../app/config';
import { inUseLookupFor } from '../app/compose';
import type { PurgeSummary } from '../core/purge/summary';
import type { GateOutcome, GateProgress } from '../orchestrations/imageGate';
import { FileHistoryStore } from './fileHistoryStore';
import { LocalOrchestrationHost } from './gateRunner';
import { MAX_NOTIFICATION_BYTES, checkNotificationHeaders, receiveNotification } from './notifications';
import { startLocalTimers } from './localTimers';
import { latestPurgeSummaryOf } from './localPurge';
import type { RegistryPurgeOutput } from '../orchestrations/purge';
import { ORCH_REGISTRY_PURGE, ORCH_RUNTIME_AUDIT } from '../orchestrations/names';

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
  /**
   * The clock of the service's schedule timers (`alertQueries`, `rotateTokens`, `nightlyPurge`): `wall` (default)
   * fires them on their NCRONTAB schedules; `manual` only through {@link LocalService.fireTimers} (tests drive time).
   */
  timerClock?: 'wall' | 'manual';
  /** Settings for the timers (default `process.env`). */
  env?: Record<string, string | undefined>;
  /** Credential for the timers' Azure clients (default `DefaultAzureCredential`, created only when a timer runs). */
  credential?: () => TokenCredential;
  signatureTrust?: SignatureTrust | (() => Promise<SignatureTrust>);
  /** Extra CA (PEM) the timers' Azure clients trust: loopback stand-ins in tests. */
  ca?: string;
  log?: (line: string) => void;
  /** What runs, for runtime assurance (the demo's deployed list); default the ARM lookup when ACR_GUARD_INUSE_SCOPES is set. */
  runtimeInventory?: InUseLookup;
  /** Where each recorded verdict is POSTed as a CloudEvent (https, or http to loopback). */
  verdictWebhook?: string;
  /**
   * PEM file of the ECDSA P-256 key that signs the verification summary (VSA) attached after each verdict
   * (`--attestation-key`; default the ACR_GUARD_ATTESTATION_KEY_FILE setting). Absent: no VSA.
   */
  attestationKeyFile?: string;
}

/** A running local service. */
export interface LocalService {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** Where the registry posts its notifications. */
  notificationsUrl: string;
  runner: LocalOrchestrationHost;
  audit: AuditStore;
  /** Ids of the gates resumed from disk at start. */
  resumed: string[];
  /** Runs `runtimeAudit` now (one at a time); undefined when there is no inventory. */
  runRuntimeAudit(): Promise<RuntimeAuditOutput> | undefined;
  /**
   * Fires the schedule timers due at `at` as if the clock said `at` (see `LocalTimers.fire`): resolves to the
   * names started, once their runs have finished.
   */
  fireTimers(at: Date): Promise<string[]>;
  /** Stops the timers and the server; running gates stop where their histories were last saved. */
  stop(): Promise<void>;
}

export type { ImageRow } from '../app/images';

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

/** The function table's routes this host serves (host-specific ones included; see the table for why). */
const LOCAL_ROUTES = HTTP_ROUTES.filter((route) => servedBy(route.hosts, 'local'));

function context(functionName: string, log: (line: string) => void): InvocationContext {
  return new InvocationContext({
    invocationId: randomUUID(),
    functionName,
    logHandler: (level, ...args) => log(`${level === 'information' ? '' : `[${level}] `}${args.map(String).join(' ')}`),
  });
}

/** The latest gate and verdict of every image the runner knows (artifacts and ignored pushes left out). */
export async function listImages(runner: LocalOrchestrationHost, audit: AuditStore): Promise<ImageRow[]> {
  const rows = new Map<string, ImageRow>();
  for (const instance of runner.list()) {
    const input = instance.input;
    if (!input) continue;
    const outcome = instance.output as GateOutcome | undefined;
    if (outcome?.status === 'ignored') continue;
    const progress = instance.customStatus as GateProgress | undefined;
    // A running gate shows up once it is past the manifest (until then it may be an artifact it will ignore).
    if (
      instance.runtimeStatus === 'Running' &&
      (!progress || progress.step === 'loading-policy' || progress.step === 'resolving-manifest')
    )
      continue;
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
      gate: {
        id: instance.instanceId,
        runtimeStatus: instance.runtimeStatus,
        trigger: input.trigger,
        progress,
        createdTime: instance.createdTime,
      },
      verdictUrl: verdictPath(input.image),
    });
  }
  for (const row of rows.values()) {
    const verdict = await audit.latestVerdict(row).catch(() => undefined);
    if (verdict) row.verdict = verdict;
  }
  return [...rows.values()].sort(
    (a, b) =>
      a.repository.localeCompare(b.repository) ||
      String(b.gate?.createdTime).localeCompare(String(a.gate?.createdTime)),
  );
}

/** Starts the local service. */
export async function startService(options: ServeOptions): Promise<LocalService> {
  const log = options.log ?? (() => undefined);
  const policy = options.policy;
  const audit = new FileAuditStore(join(options.stateDir, 'audit'));
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
  // In-use protection for retention (per push and `POST /api/purge`) when ACR_GUARD_INUSE_SCOPES is set;
  // without it, rules that protect images in use skip their repositories (fail closed).
  const inUseSettings = inUseConfig(env);
  const inUse = inUseSettings
    ? inUseLookupFor({ inUse: inUseSettings }, getCredential(), { ca: options.ca })
    : undefined;
  const promotions = new PromotionRecord();
  const attestationKeyFile = options.attestationKeyFile ?? env.ACR_GUARD_ATTESTATION_KEY_FILE?.trim();
  const attestationSigner = attestationKeyFile
    ? pemFileSigner(
        attestationKeyFile,
        options.attestationKeyFile ? '--attestation-key' : 'ACR_GUARD_ATTESTATION_KEY_FILE',
      )
    : undefined;
  const services = composeGateServices({
    policy: () => policy,
    audit,
    plainHttpHosts: options.plainHttpHosts,
    signatureTrust: options.signatureTrust,
    promotions: { record: (image) => promotions.record(image, Date.now()) },
    ...(inUse ? { inUse } : {}),
    ...(options.verdictWebhook ? { verdictEvents: [new WebhookVerdictPublisher(options.verdictWebhook)] } : {}),
    ...(attestationSigner
      ? {
          attestation: {
            signer: attestationSigner,
            verifierId: env.ACR_GUARD_VERIFIER_ID?.trim() || DEFAULT_VERIFIER_ID,
            policyUri: env.ACR_GUARD_POLICY_URI?.trim() || 'acr-guard:local-service-policy',
          },
        }
      : {}),
  });
  // Runtime assurance over the demo's deployed list (npm start) or, with ACR_GUARD_INUSE_SCOPES, over Azure.
  const runtimeInventory = options.runtimeInventory ?? inUse;
  const runtime = runtimeInventory
    ? {
        inventory: runtimeInventory,
        inventoryLabel: options.runtimeInventory ? 'demo deployed list' : 'azure (ACR_GUARD_INUSE_SCOPES)',
        audit,
        sinks: [],
      }
    : undefined;
  const runner = new LocalOrchestrationHost({
    services,
    ...(runtime ? { runtime } : {}),
    history: new FileHistoryStore(join(options.stateDir, 'history')),
    timers: options.timers ?? 'real',
    log,
  });
  const auth = options.auth ?? 'off';
  const rescanDeps = { policy, starter: runner, registry: services.registry, auth };
  /**
   * Retention over the local registries (timer and `POST /api/purge`), one run at a time: a request for the
   * same kind of run (dry or real) while one runs gets that run's answer; the other kind gets undefined.
   */
  let purging: { dryRun: boolean; allowOverCap: boolean; done: Promise<PurgeSummary[]> } | undefined;
  const runPurge = (
    dryRun: boolean,
    trigger: PurgeSummary['trigger'],
    allowOverCap = false,
  ): Promise<PurgeSummary[]> | undefined => {
    if (purging) return purging.dryRun === dryRun && purging.allowOverCap === allowOverCap ? purging.done : undefined;
    const now = new Date();
    // The real registryPurge orchestration (and its repositoryPurge sub-orchestrations), replayed in memory:
    // a purge cut short by a restart is simply run again next time, so its history need not survive.
    const done = runner
      .run({
        name: ORCH_REGISTRY_PURGE,
        input: { dryRun, trigger, ...(allowOverCap ? { allowOverCap } : {}) },
        instanceId: `purge-local-${now.toISOString().replace(/[^0-9]/g, '')}`,
        startTime: now,
      })
      .then(({ output: raw }) => {
        const output = raw as RegistryPurgeOutput;
        if (output.error) throw new GuardError(ErrorCodes.UPSTREAM, `purge: ${output.error}`);
        return output.summaries;
      })
      .finally(() => {
        purging = undefined;
      });
    purging = { dryRun, allowOverCap, done };
    return done;
  };
  /** `GET /api/images`: the page's rows (the same handler as the Functions app's `GET /api/ui/images`). */
  const imagesDeps = {
    auth,
    hostName: 'local' as const,
    host: { rescan: true, purge: true },
    list: async () => ({
      images: await listImages(runner, audit),
      purge: await latestPurgeSummaryOf(policy, audit),
      gatesRunning: runner.list().filter((i) => i.runtimeStatus === 'Running').length,
    }),
  };
  /**
   * `POST /api/purge` with `{ "dryRun": true|false, "allowOverCap": true|false }`: runs retention now and answers
   * with the summaries. `allowOverCap` (default false) carries out plans past their rule's deletion cap.
   */
  const handlePurge = (request: HttpRequest): Promise<HttpResponseInit> =>
    answer(async () => {
      requireRole(request, auth, [AppRoles.purge]);
      const body = await readJsonBody(request);
      if (
        typeof body !== 'object' ||
        body === null ||
        Array.isArray(body) ||
        Object.keys(body).some((k) => k !== 'dryRun' && k !== 'allowOverCap')
      ) {
        throw new HttpRefusal(
          errorResponse(
            400,
            'INVALID_INPUT',
            'body: expected a JSON object { "dryRun": true|false, "allowOverCap": true|false }',
            'body',
          ),
        );
      }
      const dryRun = (body as { dryRun?: unknown }).dryRun ?? true;
      if (typeof dryRun !== 'boolean')
        throw new HttpRefusal(errorResponse(400, 'INVALID_INPUT', 'dryRun: expected true or false', 'dryRun'));
      const allowOverCap = (body as { allowOverCap?: unknown }).allowOverCap ?? false;
      if (typeof allowOverCap !== 'boolean')
        throw new HttpRefusal(
          errorResponse(400, 'INVALID_INPUT', 'allowOverCap: expected true or false', 'allowOverCap'),
        );
      const running = runPurge(dryRun, 'manual', allowOverCap);
      if (!running)
        return errorResponse(
          409,
          'CONFLICT',
          'another purge (dry or real, or with another allowOverCap) is running; ask again when it has finished',
        );
      const summaries = await running;
      // The envelope (as the CLI's: `data.repositories` a list, `deleted` a number), and `summaries` as before.
      const repositories = summaries.flatMap((sum) => sum.outcomes.map((o) => ({ registry: sum.registry, ...o })));
      const deleted = summaries.reduce((n, sum) => n + sum.deleted, 0);
      return jsonResponse(200, {
        ...purgeResultOf(summaries, { dryRun, repositories, deleted, registries: summaries.map((x) => x.registry) }),
        summaries,
      });
    }, log);
  let auditing: Promise<RuntimeAuditOutput> | undefined;
  const runRuntimeAudit = (): Promise<RuntimeAuditOutput> | undefined => {
    if (!runtime) return undefined;
    if (auditing) return auditing;
    const now = new Date();
    // The real runtimeAudit orchestration (re-gates as imageGate sub-orchestrations), replayed in memory.
    auditing = runner
      .run({
        name: ORCH_RUNTIME_AUDIT,
        input: { trigger: 'local' },
        instanceId: `runtime-local-${now.toISOString().replace(/[^0-9]/g, '')}`,
        startTime: now,
      })
      .then(({ output: raw }) => {
        const output = raw as RuntimeAuditOutput;
        log(
          `runtimeAudit: ${
            output.error ??
            Object.entries(output.summary ?? {})
              .filter(([, n]) => n > 0)
              .map(([s, n]) => `${n} ${s}`)
              .join(', ')
          }`,
        );
        return output;
      })
      .finally(() => {
        auditing = undefined;
      });
    return auditing;
  };
  let origin = '';
  const allowedHosts = new Set<string>();

  const toRequest = (req: IncomingMessage, params: Record<string, string>, body?: Buffer): HttpRequest =>
    new HttpRequest({
      method: req.method ?? 'GET',
      url: `${origin}${req.url ?? '/'}`,
      headers: headerRecord(req),
      params,
      ...(body ? { body: { bytes: body } } : {}),
    });

  /** What the function table's handlers get here: the same handlers as in Azure, over this service's parts. */
  const httpServices: HttpHostServices = {
    rescan: () => rescanDeps,
    rescanStatus: () => rescanDeps,
    verdicts: () => ({ policy, audit, auth }),
    runtimeReport: () => ({ audit, auth }),
    images: () => imagesDeps,
    page: () => ({ auth, apiBase: '/api' }),
  };
  /** The routes the table leaves to this host (the compiler refuses a missing one); `body` when the route has one. */
  const hostHandlers: Record<
    HostHandledRoute<'local'>,
    (req: IncomingMessage, body: Buffer | undefined) => Promise<HttpResponseInit>
  > = {
    purge: (req, body) => handlePurge(toRequest(req, {}, body)),
    registryNotifications: async (req) => {
      const refused = checkNotificationHeaders(headerRecord(req), options.notificationToken);
      if (refused) return refused;
      const body = await readBody(req, MAX_NOTIFICATION_BYTES);
      if (!body)
        return errorResponse(
          413,
          'PAYLOAD_TOO_LARGE',
          `body: expected at most ${MAX_NOTIFICATION_BYTES} bytes`,
          'body',
        );
      return receiveNotification(body, { policy, starter: runner, log, promotions });
    },
    // The public half of the VSA key: what `cosign verify-attestation --key` and `acr-guard verify` are given.
    attestationKey: async () =>
      attestationSigner
        ? {
            status: 200,
            headers: { 'content-type': 'application/x-pem-file' },
            body: await attestationSigner.publicKeyPem(),
          }
        : errorResponse(404, 'NOT_FOUND', 'no attestation key is configured (--attestation-key)'),
  };

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // DNS rebinding: a web page whose name resolves to 127.0.0.1 reaches this port with its own Host header.
    if (!allowedHosts.has((req.headers.host ?? '').toLowerCase())) {
      return send(
        res,
        errorResponse(
          421,
          'MISDIRECTED_REQUEST',
          `host: expected ${[...allowedHosts].join(' or ')} (the local service answers on loopback names only)`,
          'host',
        ),
      );
    }
    const url = new URL(req.url ?? '/', origin);
    const path = url.pathname;
    const method = req.method ?? 'GET';
    // The function table's routes this host serves; a path served under another method is 405.
    let allowed: (typeof LOCAL_ROUTES)[number] | undefined;
    for (const route of LOCAL_ROUTES) {
      const params = matchPath(route.path, path);
      if (!params) continue;
      if (route.method !== method) {
        allowed ??= route;
        continue;
      }
      let body: Buffer | undefined;
      if ('maxBodyBytes' in route) {
        body = await readBody(req, route.maxBodyBytes);
        if (!body) {
          res.setHeader('connection', 'close');
          return send(
            res,
            errorResponse(
              413,
              'PAYLOAD_TOO_LARGE',
              `body: expected at most ${route.maxBodyBytes} bytes of JSON`,
              'body',
            ),
          );
        }
      }
      const handler = route.handler;
      if (handler === 'host') return send(res, await hostHandlers[route.name as HostHandledRoute<'local'>](req, body));
      return send(res, await handler(toRequest(req, params, body), httpServices, context(route.name, log)));
    }
    if (allowed) return send(res, errorResponse(405, 'METHOD_NOT_ALLOWED', `${allowed.method} ${allowed.path}`));
    return send(res, errorResponse(404, 'NOT_FOUND', `no route ${method} ${path}`));
  }

  const server: Server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      log(
        `local service: ${req.method} ${req.url?.split('?')[0]} failed: ${err instanceof Error ? err.message : String(err)}`,
      );
      if (!res.headersSent)
        send(res, errorResponse(500, 'INTERNAL', 'the local service failed to answer; see its log'));
      else res.destroy();
    });
  });
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void =>
      reject(
        err.code === 'EADDRINUSE'
          ? new GuardError(
              ErrorCodes.INVALID_CONFIG,
              `port ${options.port} on ${options.host ?? '127.0.0.1'} is in use; stop what listens there or pass another --port`,
              { field: 'port' },
            )
          : err,
      );
    server.once('error', onError);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', onError);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  origin = `http://${options.host ?? '127.0.0.1'}:${port}`;
  for (const name of [options.host ?? '127.0.0.1', '127.0.0.1', 'localhost', '[::1]'])
    allowedHosts.add(`${name}:${port}`);
  const resumed = await runner.resume();

  const timers = startLocalTimers(
    env,
    () => ({ credential: getCredential(), ca: options.ca, log }),
    log,
    {
      purge: async () => {
        const running = runPurge((env.ACR_GUARD_DRY_RUN ?? '').trim().toLowerCase() === 'true', 'timer');
        if (!running) return 'skipped: a purge of the other kind (dry or real) is running';
        return (await running)
          .map(
            (s) =>
              `${s.registry}: ${s.deleted} ${s.dryRun ? 'would be deleted' : 'deleted'}, ${s.failed} failed, ${s.errors.length} error(s) over ${s.repositories} repositories`,
          )
          .join('; ');
      },
    },
    { clock: options.timerClock ?? 'wall' },
  );

  return {
    url: origin,
    port,
    notificationsUrl: `${origin}/api/registry/notifications`,
    runner,
    audit,
    resumed,
    runRuntimeAudit,
    fireTimers: (at) => timers.fire(at),
    stop: async () => {
      timers.stop();
      runner.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
