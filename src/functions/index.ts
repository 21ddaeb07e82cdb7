/**
 * The Functions app's entry point (package.json `main`) and its composition root: the ONLY module that
 * registers anything with the Functions host (`app.*`, `df.app.*`). What it registers is the function table's
 * (`src/app/functionTable.ts`) Azure part, nothing else. Every handler lives elsewhere and takes its
 * dependencies as arguments; here they are bound to the runtime, which is built once, on the first invocation
 * that needs it (a bad setting then fails that invocation, naming the setting, instead of the worker's start).
 * Bundled into one file so the app holds a single copy of @azure/functions and durable-functions.
 */
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext, type Timer } from '@azure/functions';
import * as df from 'durable-functions';
import { TIMER_SCHEDULES, runtimeSinksConfig, timerSchedule } from '../app/timerConfig';
import {
  ACTIVITY_MAPS,
  EVENT_TRIGGERS,
  HTTP_ROUTES,
  ORCHESTRATORS,
  TIMERS,
  servedBy,
  type ActivityMap,
  type EventHostServices,
  type HostHandledRoute,
  type HttpHandler,
  type HttpHostServices,
} from '../app/functionTable';
import { azureAuthMode } from '../app/http';
import { imageRowsFromStore } from '../app/images';
import { sinksFor } from '../app/jobCompose';
import { runtimeInventoryFor } from '../adapters/runtimeInventory';
import { MemoryAlertStateStore } from '../adapters/alertState';
import type { RuntimeServices } from '../orchestrations/runtimeReconcileActivities';
import { durableOrchestrationStarter } from './durableStarter';
import { buildRuntime, buildRuntimeBase, type Runtime, type RuntimeBase } from './runtime';

/** A value built on first use and kept for the worker's lifetime. */
function once<T>(build: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= build());
}

// Two stages: the settings and identity (all the timers need), and the policy with the gate's services on top.
// A policy mistake then fails gates and rescans (naming the field), never alerting or token rotation.
const base = once((): RuntimeBase => buildRuntimeBase(process.env));
const runtime = once((): Runtime => buildRuntime(base()));

/** What `runtimeReconcile` needs besides the gate's services: Resource Graph over the in-use scopes, the store, the sinks. */
const runtimeServices = once((): RuntimeServices => {
  const { config, credential } = runtime();
  return {
    inventory: runtimeInventoryFor(config, credential),
    inventoryLabel: 'azure resource graph (ACR_GUARD_INUSE_SCOPES)',
    audit: runtime().services.audit,
    sinks: sinksFor(runtimeSinksConfig(process.env), { credential }),
  };
});

// Activities may run on a worker that never ran a trigger: their services come from the runtime on first use.
// Each activity map of the table is built apart, on its first activity: the gate's and the purge's activities
// never depend on runtime assurance's settings (a misconfigured alert sink of the runtime audit must not stop a
// single gate).
const gateServices = once(() => {
  const { services, credential } = runtime();
  // Held purge plans (past the deletion cap) are alerted through the runtime audit's sinks, built only when one
  // is held: a sink misconfiguration then costs the alert (logged), never a purge or a gate.
  const purgeAlerts = once(() => ({
    sinks: sinksFor(runtimeSinksConfig(process.env), { credential }),
    state: new MemoryAlertStateStore(),
  }));
  return { ...services, purgeAlerts };
});

// ---- orchestrations and their activities (every one in the table: both hosts host them all) ----
for (const [name, orchestrator] of Object.entries(ORCHESTRATORS)) df.app.orchestration(name, orchestrator);
for (const entry of ACTIVITY_MAPS) {
  const activities = once((): ActivityMap => entry.build({ services: gateServices(), runtime: runtimeServices }));
  for (const name of entry.activities) {
    df.app.activity(name, {
      handler: (input: unknown, context: InvocationContext) => activities()[name](input as never, context),
    });
  }
}

/** The durable client of an invocation whose function took it as an extra input. */
const starter = (context: InvocationContext) => durableOrchestrationStarter(df.getClient(context));

// ---- Event Grid ----
for (const trigger of EVENT_TRIGGERS) {
  if (!servedBy(trigger.hosts, 'azure')) continue;
  app.eventGrid(trigger.name, {
    ...(trigger.durableClient ? { extraInputs: [df.input.durableClient()] } : {}),
    handler: async (event: unknown, context: InvocationContext): Promise<void> => {
      const host: EventHostServices = { push: () => ({ policy: runtime().policy(), starter: starter(context) }) };
      await trigger.handler(event, host, context);
    },
  });
}

// ---- HTTP ----
// The API under /api/ with a function key, and the verdicts page (the local service's page, read-only here)
// under /api/ui/: anonymous at the Functions level because a browser holds no function key. App Service
// authentication (Easy Auth) is what lets a caller in, and each handler requires its app role from the principal
// Easy Auth passes. Without Easy Auth (WEBSITE_AUTH_ENABLED unset) azureAuthMode is `unconfigured` and every one
// of them answers 401. No purge here: retention runs on its timer.
const UI_API = '/api/ui';
const EASY_AUTH_LOGIN = `/.auth/login/aad?post_login_redirect_uri=${encodeURIComponent(`${UI_API}/`)}`;

/** What the table's handlers get in Azure: each part built when the request needs it. */
function httpServices(context: InvocationContext): HttpHostServices {
  const auth = () => azureAuthMode(process.env);
  return {
    rescan: () => {
      const { policy, services } = runtime();
      return { policy: policy(), starter: starter(context), registry: services.registry, auth: auth() };
    },
    rescanStatus: () => ({ starter: starter(context), auth: auth() }),
    verdicts: () => {
      const { policy, services } = runtime();
      return { policy: policy(), audit: services.audit, auth: auth() };
    },
    runtimeReport: () => ({ audit: runtime().services.audit, auth: auth() }),
    images: () => ({
      auth: auth(),
      hostName: 'azure',
      host: { rescan: true, purge: false },
      list: () => imageRowsFromStore(runtime().services.audit),
    }),
    page: () => ({ auth: auth(), apiBase: UI_API, loginUrl: EASY_AUTH_LOGIN }),
  };
}

/** The routes the table leaves to this host (none today; the compiler refuses a missing one). */
const hostHandlers: Record<HostHandledRoute<'azure'>, HttpHandler> = {};

for (const route of HTTP_ROUTES) {
  if (!servedBy(route.hosts, 'azure')) continue;
  const handler = route.handler === 'host' ? hostHandlers[route.name as HostHandledRoute<'azure'>] : route.handler;
  app.http(route.name, {
    methods: [route.method],
    authLevel: route.authLevel,
    route: route.path.slice('/api/'.length),
    ...('durableClient' in route && route.durableClient ? { extraInputs: [df.input.durableClient()] } : {}),
    handler: (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> =>
      handler(request, httpServices(context), context),
  });
}

// ---- timers (schedules from their app settings, validated when the app loads) ----
for (const entry of TIMERS) {
  if (!servedBy(entry.hosts, 'azure')) continue;
  // A bad schedule setting must not stop the worker from registering everything else: the timer registers with
  // its default schedule and each of its runs fails with the error that names the setting.
  let schedule: string;
  let scheduleError: unknown;
  try {
    schedule = timerSchedule(process.env, entry.scheduleSetting);
  } catch (err) {
    schedule = TIMER_SCHEDULES[entry.scheduleSetting];
    scheduleError = err;
  }
  app.timer(entry.name, {
    schedule,
    ...(entry.durableClient ? { extraInputs: [df.input.durableClient()] } : {}),
    handler: async (_timer: Timer, context: InvocationContext): Promise<void> => {
      if (scheduleError !== undefined) throw scheduleError;
      const { credential, config } = base();
      await entry.handler(
        process.env,
        { credential, audit: config.audit, dryRun: config.dryRun, nowMs: Date.now() },
        context,
        () => starter(context),
      );
    },
  });
}
