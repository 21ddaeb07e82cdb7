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
 *   `runtimeReconcile` orchestration over `runtimeInventory` (the demo's deployed list) or the ARM lookup.
 * - Timers `alertQueries` and `rotateTokens` run on their NCRONTAB schedules when their settings are present;
 *   otherwise they are skipped with one log line.
 *
 * This module composes the service and routes; node's request and response meet the handlers' objects in
 * `httpBridge.ts`, `POST /api/purge` is in `localPurge.ts`, the page's image rows in `localImages.ts`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type { TokenCredential } from '@azure/identity';
import { ErrorCodes, GuardError, messageOf } from '../core/errors';
import type { Policy } from '../core/policyTypes';
import { FileAuditStore } from '../adapters/auditStore';
import { WebhookVerdictPublisher } from '../adapters/verdictEvents';
import type { AuditStore, InUseLookup } from '../adapters/ports';
import { composeGateServices } from '../app/compose';
import { DEFAULT_VERIFIER_ID } from '../app/config';
import { pemFileSigner } from '../adapters/attestationSigner';
import { PromotionRecord } from '../core/promotions';
import type { RuntimeReconcileOutput } from '../orchestrations/runtimeReconcile';
import type { SignatureTrust } from '../adapters/signatureVerifier';
import { HTTP_ROUTES, matchPath, servedBy, type HostHandledRoute, type HttpHostServices } from '../app/functionTable';
import { errorResponse, type HttpAuthMode } from '../app/http';
import { inUseConfig } from '../app/config';
import { inUseLookupFor } from '../app/compose';
import type { PurgeSummary } from '../core/purge/summary';
import { FileHistoryStore } from './fileHistoryStore';
import { LocalOrchestrationHost } from './orchestrationHost';
import { MAX_NOTIFICATION_BYTES, checkNotificationHeaders, receiveNotification } from './notifications';
import { startLocalTimers } from './localTimers';
import { handleLocalPurge, latestPurgeSummaryOf } from './localPurge';
import { listImages } from './localImages';
import { headerRecord, httpRequestOf, invocationContext, readBody, send } from './httpBridge';
import type { RegistryPurgeOutput } from '../orchestrations/purge';
import { ORCH_REGISTRY_PURGE, ORCH_RUNTIME_RECONCILE } from '../orchestrations/names';

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
  /** The orchestration host that runs every orchestration of this service. */
  orchestrationHost: LocalOrchestrationHost;
  audit: AuditStore;
  /** Ids of the gates resumed from disk at start. */
  resumed: string[];
  /** Runs `runtimeReconcile` now (one at a time); undefined when there is no inventory. */
  runRuntimeReconcile(): Promise<RuntimeReconcileOutput> | undefined;
  /**
   * Fires the schedule timers due at `at` as if the clock said `at` (see `LocalTimers.fire`): resolves to the
   * names started, once their runs have finished.
   */
  fireTimers(at: Date): Promise<string[]>;
  /** Stops the timers and the server; running gates stop where their histories were last saved. */
  stop(): Promise<void>;
}

export type { ImageRow } from '../app/images';

/** The function table's routes this host serves (host-specific ones included; see the table for why). */
const LOCAL_ROUTES = HTTP_ROUTES.filter((route) => servedBy(route.hosts, 'local'));

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
  const orchestrationHost = new LocalOrchestrationHost({
    services,
    ...(runtime ? { runtime } : {}),
    history: new FileHistoryStore(join(options.stateDir, 'history')),
    timers: options.timers ?? 'real',
    log,
  });
  const auth = options.auth ?? 'off';
  const rescanDeps = { policy, starter: orchestrationHost, registry: services.registry, auth };
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
    const done = orchestrationHost
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
      images: await listImages(orchestrationHost, audit),
      purge: await latestPurgeSummaryOf(policy, audit),
      gatesRunning: orchestrationHost.list().filter((i) => i.runtimeStatus === 'Running').length,
    }),
  };
  let reconciling: Promise<RuntimeReconcileOutput> | undefined;
  const runRuntimeReconcile = (): Promise<RuntimeReconcileOutput> | undefined => {
    if (!runtime) return undefined;
    if (reconciling) return reconciling;
    const now = new Date();
    // The real runtimeReconcile orchestration (re-gates as imageGate sub-orchestrations), replayed in memory.
    reconciling = orchestrationHost
      .run({
        name: ORCH_RUNTIME_RECONCILE,
        input: { trigger: 'local' },
        instanceId: `runtime-local-${now.toISOString().replace(/[^0-9]/g, '')}`,
        startTime: now,
      })
      .then(({ output: raw }) => {
        const output = raw as RuntimeReconcileOutput;
        log(
          `runtimeReconcile: ${
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
        reconciling = undefined;
      });
    return reconciling;
  };
  let origin = '';
  const allowedHosts = new Set<string>();
  const toRequest = (req: IncomingMessage, params: Record<string, string>, body?: Buffer): HttpRequest =>
    httpRequestOf(req, origin, params, body);

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
    purge: (req, body) => handleLocalPurge(toRequest(req, {}, body), { auth, runPurge, log }),
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
      return receiveNotification(body, { policy, starter: orchestrationHost, log, promotions });
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
      return send(res, await handler(toRequest(req, params, body), httpServices, invocationContext(route.name, log)));
    }
    if (allowed) return send(res, errorResponse(405, 'METHOD_NOT_ALLOWED', `${allowed.method} ${allowed.path}`));
    return send(res, errorResponse(404, 'NOT_FOUND', `no route ${method} ${path}`));
  }

  const server: Server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      log(`local service: ${req.method} ${req.url?.split('?')[0]} failed: ${messageOf(err)}`);
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
  const resumed = await orchestrationHost.resume();

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
    orchestrationHost,
    audit,
    resumed,
    runRuntimeReconcile,
    fireTimers: (at) => timers.fire(at),
    stop: async () => {
      timers.stop();
      orchestrationHost.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
