/**
 * The Functions app's entry point (package.json `main`) and its composition root: the ONLY module that
 * registers anything with the Functions host (`app.*`, `df.app.*`). Every handler lives elsewhere and takes its
 * dependencies as arguments; here they are bound to the runtime, which is built once, on the first invocation
 * that needs it (a bad setting then fails that invocation, naming the setting, instead of the worker's start).
 * Bundled into one file so the app holds a single copy of @azure/functions and durable-functions.
 */
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext, type Timer } from '@azure/functions';
import * as df from 'durable-functions';
import { handleAlertQueries } from '../app/alertQueries';
import { TIMER_SCHEDULES, timerSchedule } from '../app/config';
import { azureAuthMode } from '../app/http';
import { handleNightlyPurge } from '../app/nightlyPurge';
import { handleImagePushed } from '../app/onImagePushed';
import { handleRescan, handleRescanStatus } from '../app/rescan';
import { handleRotateTokens } from '../app/rotateTokens';
import type { TimerJobDeps } from '../app/timerJobs';
import { handleVerdict } from '../app/verdicts';
import { handlePageFile } from '../app/page';
import { handleImages, imageRowsFromStore } from '../app/images';
import { isVerdictListing } from '../adapters/ports';
import { runtimeSinksConfig } from '../app/config';
import { sinksFor } from '../app/jobCompose';
import { handleRuntimeAuditTimer, handleRuntimeReport, isRuntimeAuditStore } from '../app/runtimeAudit';
import { runtimeInventoryFor } from '../adapters/runtimeInventory';
import { MemoryAlertStateStore } from '../adapters/alertState';
import type { RuntimeAuditStore } from '../adapters/ports';
import { gateActivities } from '../orchestrations/activities';
import { imageGateOrchestrator } from '../orchestrations/imageGate';
import {
  Activities,
  ORCH_IMAGE_GATE,
  ORCH_REGISTRY_PURGE,
  ORCH_REPOSITORY_PURGE,
  ORCH_RUNTIME_AUDIT,
  PurgeActivities,
  RuntimeActivities,
} from '../orchestrations/names';
import { runtimeActivities, type RuntimeServices } from '../orchestrations/runtimeActivities';
import { runtimeAuditOrchestrator } from '../orchestrations/runtimeAudit';
import { registryPurgeOrchestrator, repositoryPurgeOrchestrator } from '../orchestrations/purge';
import { purgeActivities } from '../orchestrations/purgeActivities';
import { durableGateStarter } from './durableStarter';
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

/** The audit store's runtime side (the three shipped stores have it). */
function runtimeAuditStore(): RuntimeAuditStore {
  const audit = runtime().services.audit;
  if (!isRuntimeAuditStore(audit)) throw new Error('the configured audit store has no runtime side');
  return audit;
}

/** What `runtimeAudit` needs besides the gate's services: Resource Graph over the in-use scopes, the store, the sinks. */
const runtimeServices = once((): RuntimeServices => {
  const { config, credential } = runtime();
  return {
    inventory: runtimeInventoryFor(config, credential),
    inventoryLabel: 'azure resource graph (ACR_GUARD_INUSE_SCOPES)',
    audit: runtimeAuditStore(),
    sinks: sinksFor(runtimeSinksConfig(process.env), { credential }),
  };
});

// Activities may run on a worker that never ran a trigger: their services come from the runtime on first use.
// The gate's and the purge's activities never depend on runtime assurance's settings: a misconfigured alert sink
// of the runtime audit must not stop a single gate, so the two maps are built apart.
type ActivityMap = Record<string, (input: never, context: InvocationContext) => Promise<unknown>>;
const gateAndPurgeActivities = once((): ActivityMap => {
  const { services, credential } = runtime();
  // Held purge plans (past the deletion cap) are alerted through the runtime audit's sinks, built only when one
  // is held: a sink misconfiguration then costs the alert (logged), never a purge or a gate.
  const purgeAlerts = once(() => ({
    sinks: sinksFor(runtimeSinksConfig(process.env), { credential }),
    state: new MemoryAlertStateStore(),
  }));
  return { ...gateActivities(services), ...purgeActivities({ ...services, purgeAlerts }) };
});
const runtimeAuditActivities = once((): ActivityMap => runtimeActivities(runtime().services, runtimeServices()));
const RUNTIME_ACTIVITY_NAMES: ReadonlySet<string> = new Set(Object.values(RuntimeActivities));
const activities = (name: string): ActivityMap =>
  RUNTIME_ACTIVITY_NAMES.has(name) ? runtimeAuditActivities() : gateAndPurgeActivities();

// ---- orchestrations and their activities ----
df.app.orchestration(ORCH_IMAGE_GATE, imageGateOrchestrator);
df.app.orchestration(ORCH_REGISTRY_PURGE, registryPurgeOrchestrator);
df.app.orchestration(ORCH_REPOSITORY_PURGE, repositoryPurgeOrchestrator);
df.app.orchestration(ORCH_RUNTIME_AUDIT, runtimeAuditOrchestrator);
for (const name of [
  ...Object.values(Activities),
  ...Object.values(PurgeActivities),
  ...Object.values(RuntimeActivities),
]) {
  df.app.activity(name, {
    handler: (input: unknown, context: InvocationContext) => activities(name)[name](input as never, context),
  });
}

// ---- Event Grid ----
app.eventGrid('onImagePushed', {
  extraInputs: [df.input.durableClient()],
  handler: async (event: unknown, context: InvocationContext): Promise<void> => {
    await handleImagePushed(
      event,
      { policy: runtime().policy(), starter: durableGateStarter(df.getClient(context)) },
      context,
    );
  },
});

// ---- HTTP ----
app.http('rescan', {
  methods: ['POST'],
  authLevel: 'function',
  route: 'rescan',
  extraInputs: [df.input.durableClient()],
  handler: (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const { policy, services } = runtime();
    return handleRescan(
      request,
      {
        policy: policy(),
        starter: durableGateStarter(df.getClient(context)),
        registry: services.registry,
        auth: azureAuthMode(process.env),
      },
      context,
    );
  },
});

app.http('rescanStatus', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'rescan/{instanceId}',
  extraInputs: [df.input.durableClient()],
  handler: (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> =>
    handleRescanStatus(
      request,
      { starter: durableGateStarter(df.getClient(context)), auth: azureAuthMode(process.env) },
      context,
    ),
});

app.http('verdicts', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'verdicts/{*image}',
  handler: (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const { policy, services } = runtime();
    return handleVerdict(
      request,
      { policy: policy(), audit: services.audit, auth: azureAuthMode(process.env) },
      context,
    );
  },
});

// Runtime assurance: GET /api/runtime serves the latest report (the hourly timer below starts the audit).
app.http('runtime', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'runtime',
  handler: (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> =>
    handleRuntimeReport(request, { audit: runtimeAuditStore(), auth: azureAuthMode(process.env) }, context),
});

// ---- the verdicts page (the local service's page, read-only here) under /api/ui/ ----
// Anonymous at the Functions level because a browser holds no function key: App Service authentication (Easy
// Auth) is what lets a caller in, and each handler requires its app role from the principal Easy Auth passes.
// Without Easy Auth (WEBSITE_AUTH_ENABLED unset) azureAuthMode is `unconfigured` and every one of them answers
// 401. Readers (`Verdicts.Read`) only read; `Rescan.Request` holders also get the rescan button (POST
// /api/ui/rescan: a JSON body is required, so a cross-site form cannot send it). No purge here: retention runs
// on its timer.
const UI_API = '/api/ui';
const EASY_AUTH_LOGIN = `/.auth/login/aad?post_login_redirect_uri=${encodeURIComponent(`${UI_API}/`)}`;

app.http('uiPage', {
  methods: ['GET'],
  authLevel: 'anonymous',
  // One segment (the literal routes below win over it): index.html, app.js, style.css or nothing; others are 404.
  route: 'ui/{file?}',
  handler: (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> =>
    handlePageFile(request, { auth: azureAuthMode(process.env), apiBase: UI_API, loginUrl: EASY_AUTH_LOGIN }, context),
});

app.http('uiImages', {
  methods: ['GET'],
  authLevel: 'anonymous',
  route: 'ui/images',
  handler: (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> =>
    handleImages(
      request,
      {
        auth: azureAuthMode(process.env),
        hostName: 'azure',
        host: { rescan: true, purge: false },
        list: () => {
          const audit = runtime().services.audit;
          if (!isVerdictListing(audit)) throw new Error('the configured audit store cannot list verdicts');
          return imageRowsFromStore(audit);
        },
      },
      context,
    ),
});

app.http('uiRescan', {
  methods: ['POST'],
  authLevel: 'anonymous',
  route: 'ui/rescan',
  extraInputs: [df.input.durableClient()],
  handler: (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const { policy, services } = runtime();
    return handleRescan(
      request,
      {
        policy: policy(),
        starter: durableGateStarter(df.getClient(context)),
        registry: services.registry,
        auth: azureAuthMode(process.env),
      },
      context,
    );
  },
});

app.http('uiRescanStatus', {
  methods: ['GET'],
  authLevel: 'anonymous',
  route: 'ui/rescan/{instanceId}',
  extraInputs: [df.input.durableClient()],
  handler: (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> =>
    handleRescanStatus(
      request,
      { starter: durableGateStarter(df.getClient(context)), auth: azureAuthMode(process.env) },
      context,
    ),
});

app.http('uiVerdicts', {
  methods: ['GET'],
  authLevel: 'anonymous',
  route: 'ui/verdicts/{*image}',
  handler: (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const { policy, services } = runtime();
    return handleVerdict(
      request,
      { policy: policy(), audit: services.audit, auth: azureAuthMode(process.env) },
      context,
    );
  },
});

app.http('uiRuntime', {
  methods: ['GET'],
  authLevel: 'anonymous',
  route: 'ui/runtime',
  handler: (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> =>
    handleRuntimeReport(request, { audit: runtimeAuditStore(), auth: azureAuthMode(process.env) }, context),
});

// ---- timers (schedules from their app settings, validated when the app loads) ----
type TimerJob = (
  env: Record<string, string | undefined>,
  deps: TimerJobDeps,
  context: InvocationContext,
) => Promise<unknown>;

function timer(
  name: string,
  scheduleSetting: keyof typeof TIMER_SCHEDULES,
  job: TimerJob,
  options: { durableClient?: boolean } = {},
): void {
  // A bad schedule setting must not stop the worker from registering everything else: the timer registers with
  // its default schedule and each of its runs fails with the error that names the setting.
  let schedule: string;
  let scheduleError: unknown;
  try {
    schedule = timerSchedule(process.env, scheduleSetting);
  } catch (err) {
    schedule = TIMER_SCHEDULES[scheduleSetting];
    scheduleError = err;
  }
  app.timer(name, {
    schedule,
    ...(options.durableClient ? { extraInputs: [df.input.durableClient()] } : {}),
    handler: async (_timer: Timer, context: InvocationContext): Promise<void> => {
      if (scheduleError !== undefined) throw scheduleError;
      const { credential, config } = base();
      await job(process.env, { credential, audit: config.audit, dryRun: config.dryRun, nowMs: Date.now() }, context);
    },
  });
}

timer('alertQueries', 'ACR_GUARD_ALERT_SCHEDULE', handleAlertQueries);
timer('rotateTokens', 'ACR_GUARD_ROTATION_SCHEDULE', handleRotateTokens);
timer(
  'nightlyPurge',
  'ACR_GUARD_PURGE_SCHEDULE',
  (_env, deps, context) => handleNightlyPurge(deps, durableGateStarter(df.getClient(context)), context),
  { durableClient: true },
);
timer(
  'runtimeAudit',
  'ACR_GUARD_RUNTIME_SCHEDULE',
  (_env, deps, context) => handleRuntimeAuditTimer(deps, durableGateStarter(df.getClient(context)), context),
  { durableClient: true },
);
