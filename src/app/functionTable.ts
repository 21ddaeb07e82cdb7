/**
 * Every function of both hosts, in one table: the orchestrators, the activity maps, the Event Grid trigger, the
 * HTTP routes (method, path, Functions auth level, app roles, handler) and the timers (with their schedule
 * setting). The Azure host (`src/functions/index.ts`) registers exactly what this table says; the local host
 * (`src/local/serve.ts`, `orchestrationHost.ts`, `localTimers.ts`) routes and hosts exactly what it says, and
 * test/unit/functionTable.test.ts fails when either differs from it.
 *
 * A function one host deliberately lacks is declared here with `hosts: { only, reason }`, so "forgot one" is a
 * failing test and "left out on purpose" is a sentence a newcomer can read. Adding a function takes one entry
 * here plus its handler (a `'host'` handler: the hosts that serve it must provide one, which the compiler checks).
 *
 * Pure data and small closures: importing it registers nothing and starts nothing.
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { handleAlertQueries } from './alertQueries';
import { ACTIVITY_MAPS, ORCHESTRATORS } from './orchestrationTable';
import type { TIMER_SCHEDULES } from './timerConfig';
import type { OrchestrationStarter } from './orchestrationStarter';
import { AppRoles, MAX_BODY_BYTES } from './http';
import { handleImages, type ImagesDeps } from './images';
import { handleNightlyPurge } from './nightlyPurge';
import { handleImagePushed, type ImagePushedDeps } from './onImagePushed';
import { PAGE_READ_ROLES, handlePageFile, type PageDeps } from './page';
import { handleRescan, handleRescanStatus, type RescanDeps } from './rescan';
import { handleRotateTokens } from './rotateTokens';
import { handleRuntimeAuditTimer, handleRuntimeReport, type RuntimeReportDeps } from './runtimeAssurance';
import type { TimerJobDeps } from './timerJobs';
import { handleVerdict, type VerdictDeps } from './verdicts';

/** The two hosts: the Functions app in Azure and the local service (`acr-guard serve`, `npm start`). */
export type HostName = 'azure' | 'local';

/** Where a function runs: on both hosts, or on one, with the reason the other deliberately lacks it. */
export type Hosts = 'both' | { readonly only: HostName; readonly reason: string };

/** Whether `hosts` includes `host`. */
export function servedBy(hosts: Hosts, host: HostName): boolean {
  return hosts === 'both' || hosts.only === host;
}

// ---- orchestrators and activity maps (orchestrationTable.ts: the CLI's local gate loads them without the HTTP
// and timer handlers) ----
export {
  ACTIVITY_MAPS,
  ORCHESTRATORS,
  type ActivityMap,
  type ActivityMapDeps,
  type ActivityMapEntry,
  type OrchestrationName,
} from './orchestrationTable';
// ---- event triggers ----

/** What a host gives an event trigger's handler (built when it runs). */
export interface EventHostServices {
  push(): ImagePushedDeps;
}

/** An Event Grid trigger. */
export interface EventTrigger {
  name: string;
  /** Takes the durable client as an extra input (it starts orchestrations). */
  durableClient: boolean;
  hosts: Hosts;
  handler(event: unknown, host: EventHostServices, context: InvocationContext): Promise<unknown>;
}

/** The Event Grid triggers. */
export const EVENT_TRIGGERS = [
  {
    name: 'onImagePushed',
    durableClient: true,
    hosts: {
      only: 'azure',
      reason:
        'no Event Grid locally: the registry posts its notifications to POST /api/registry/notifications, which feeds the same push path',
    },
    handler: (event, host, context) => handleImagePushed(event, host.push(), context),
  },
] as const satisfies readonly EventTrigger[];

// ---- HTTP routes ----

/**
 * What a host gives the HTTP handlers, each built when a request needs it (so a bad setting fails that request,
 * naming the setting, and a route that needs no policy never loads one).
 */
export interface HttpHostServices {
  rescan(): RescanDeps;
  rescanStatus(): Pick<RescanDeps, 'starter' | 'auth'>;
  verdicts(): VerdictDeps;
  runtimeReport(): RuntimeReportDeps;
  images(): ImagesDeps;
  page(): PageDeps;
}

/** A route handler from this layer, given the host's services. */
export type HttpHandler = (
  request: HttpRequest,
  host: HttpHostServices,
  context: InvocationContext,
) => Promise<HttpResponseInit>;

/** One HTTP function. */
export interface HttpRoute {
  /** The function name (Azure) and the log's context name (both hosts). */
  name: string;
  method: 'GET' | 'POST';
  /**
   * The full path, parameters as Functions routes write them: `{name}` one segment (decoded), `{name?}` an
   * optional one, `{*name}` the rest (passed as sent). Azure's paths start with `/api/` (the host's prefix).
   */
  path: string;
  /** The Functions key level (Azure; the local service has no keys). */
  authLevel: 'function' | 'anonymous';
  /** The app roles the handler accepts (any one); empty: no app role (see the route's auth note). */
  roles: readonly string[];
  /** How else a caller is authenticated, when the roles do not say it all. */
  authNote?: string;
  /** Takes the durable client as an extra input (Azure: it starts or reads orchestrations). */
  durableClient?: boolean;
  /** Largest body read (POST); the local host refuses a longer one with 413 before the handler runs. */
  maxBodyBytes?: number;
  hosts: Hosts;
  /** The handler, or `'host'`: each host that serves the route provides its own (a host-specific route). */
  handler: HttpHandler | 'host';
}

const READ_ROLES = [AppRoles.read, AppRoles.rescan] as const;
const RESCAN_ROLES = [AppRoles.rescan] as const;
const EASY_AUTH = 'Easy Auth lets the caller in: a browser holds no function key';
const PAGE_API_LOCALLY = 'locally the page is at / and calls /api directly (no Easy Auth login)';

const rescan: HttpHandler = (request, host, context) => handleRescan(request, host.rescan(), context);
const rescanStatus: HttpHandler = (request, host, context) => handleRescanStatus(request, host.rescanStatus(), context);
const verdicts: HttpHandler = (request, host, context) => handleVerdict(request, host.verdicts(), context);
const runtimeReport: HttpHandler = (request, host, context) =>
  handleRuntimeReport(request, host.runtimeReport(), context);
const images: HttpHandler = (request, host, context) => handleImages(request, host.images(), context);
const page: HttpHandler = (request, host, context) => handlePageFile(request, host.page(), context);

/**
 * The HTTP routes. Azure: the API for callers with a function key, and the verdicts page's API under `/api/ui/`
 * (read-only but for the rescan button: retention runs on its timer there). Locally: the same API, the page at
 * `/`, on-demand retention and the open-source registry's notifications.
 */
export const HTTP_ROUTES = [
  {
    name: 'rescan',
    method: 'POST',
    path: '/api/rescan',
    authLevel: 'function',
    roles: RESCAN_ROLES,
    durableClient: true,
    maxBodyBytes: MAX_BODY_BYTES,
    hosts: 'both',
    handler: rescan,
  },
  {
    name: 'rescanStatus',
    method: 'GET',
    path: '/api/rescan/{instanceId}',
    authLevel: 'function',
    roles: READ_ROLES,
    durableClient: true,
    hosts: 'both',
    handler: rescanStatus,
  },
  {
    name: 'verdicts',
    method: 'GET',
    path: '/api/verdicts/{*image}',
    authLevel: 'function',
    roles: READ_ROLES,
    hosts: 'both',
    handler: verdicts,
  },
  {
    name: 'runtime',
    method: 'GET',
    path: '/api/runtime',
    authLevel: 'function',
    roles: READ_ROLES,
    hosts: 'both',
    handler: runtimeReport,
  },
  {
    name: 'uiPage',
    method: 'GET',
    // One segment (the literal routes win over it): index.html, app.js, style.css or nothing; others are 404.
    path: '/api/ui/{file?}',
    authLevel: 'anonymous',
    roles: PAGE_READ_ROLES,
    authNote: EASY_AUTH,
    hosts: { only: 'azure', reason: PAGE_API_LOCALLY },
    handler: page,
  },
  {
    name: 'uiImages',
    method: 'GET',
    path: '/api/ui/images',
    authLevel: 'anonymous',
    roles: PAGE_READ_ROLES,
    authNote: EASY_AUTH,
    hosts: { only: 'azure', reason: PAGE_API_LOCALLY },
    handler: images,
  },
  {
    name: 'uiRescan',
    method: 'POST',
    path: '/api/ui/rescan',
    authLevel: 'anonymous',
    roles: RESCAN_ROLES,
    authNote: `${EASY_AUTH}; a JSON body is required, so a cross-site form cannot send it`,
    durableClient: true,
    maxBodyBytes: MAX_BODY_BYTES,
    hosts: { only: 'azure', reason: PAGE_API_LOCALLY },
    handler: rescan,
  },
  {
    name: 'uiRescanStatus',
    method: 'GET',
    path: '/api/ui/rescan/{instanceId}',
    authLevel: 'anonymous',
    roles: READ_ROLES,
    authNote: EASY_AUTH,
    durableClient: true,
    hosts: { only: 'azure', reason: PAGE_API_LOCALLY },
    handler: rescanStatus,
  },
  {
    name: 'uiVerdicts',
    method: 'GET',
    path: '/api/ui/verdicts/{*image}',
    authLevel: 'anonymous',
    roles: READ_ROLES,
    authNote: EASY_AUTH,
    hosts: { only: 'azure', reason: PAGE_API_LOCALLY },
    handler: verdicts,
  },
  {
    name: 'uiRuntime',
    method: 'GET',
    path: '/api/ui/runtime',
    authLevel: 'anonymous',
    roles: READ_ROLES,
    authNote: EASY_AUTH,
    hosts: { only: 'azure', reason: PAGE_API_LOCALLY },
    handler: runtimeReport,
  },
  {
    name: 'page',
    method: 'GET',
    path: '/{file?}',
    authLevel: 'anonymous',
    roles: PAGE_READ_ROLES,
    hosts: { only: 'local', reason: 'in Azure the page is under /api/ui/ (the Functions host serves /api only)' },
    handler: page,
  },
  {
    name: 'images',
    method: 'GET',
    path: '/api/images',
    authLevel: 'anonymous',
    roles: PAGE_READ_ROLES,
    hosts: { only: 'local', reason: 'in Azure the page reads GET /api/ui/images' },
    handler: images,
  },
  {
    name: 'purge',
    method: 'POST',
    path: '/api/purge',
    authLevel: 'anonymous',
    roles: [AppRoles.purge],
    maxBodyBytes: MAX_BODY_BYTES,
    hosts: {
      only: 'local',
      reason:
        "retention on demand over the developer's registries; in Azure it runs on the nightlyPurge timer only (no one deletes by request)",
    },
    handler: 'host',
  },
  {
    name: 'registryNotifications',
    method: 'POST',
    path: '/api/registry/notifications',
    authLevel: 'anonymous',
    roles: [],
    authNote: 'the bearer token the service shares with its registry, when it has one (the local stack sets one)',
    hosts: {
      only: 'local',
      reason: 'the open-source registry has no Event Grid; in Azure onImagePushed receives the pushes',
    },
    handler: 'host',
  },
  {
    name: 'attestationKey',
    method: 'GET',
    path: '/api/attestation-key',
    authLevel: 'anonymous',
    roles: [],
    authNote: 'the public half of the VSA signing key: what verifiers are given, public by design',
    hosts: {
      only: 'local',
      reason:
        'in Azure the key lives in Key Vault and its public half is downloaded there (az keyvault key download; docs/release-proof.md)',
    },
    handler: 'host',
  },
] as const satisfies readonly HttpRoute[];

/** The name of a route whose handler each serving host provides. */
export type HostHandledRoute<H extends HostName> = Extract<
  (typeof HTTP_ROUTES)[number],
  { handler: 'host'; hosts: 'both' | { only: H } }
>['name'];

// ---- timers ----

/** What a host gives the Functions timers' handlers. */
export type TimerHandler = (
  env: Record<string, string | undefined>,
  deps: TimerJobDeps,
  context: InvocationContext,
  starter: () => OrchestrationStarter,
) => Promise<unknown>;

/** One timer. */
export interface TimerEntry {
  name: string;
  /** The app setting of its NCRONTAB schedule (default in TIMER_SCHEDULES). */
  scheduleSetting: keyof typeof TIMER_SCHEDULES;
  /** Takes the durable client as an extra input (Azure: it starts an orchestration). */
  durableClient: boolean;
  hosts: Hosts;
  /**
   * The Functions timer's handler. The local service runs its own job under the same name
   * (`src/local/localTimers.ts`: alert state in memory, retention through the local orchestration host).
   */
  handler: TimerHandler;
}

/** The timers. */
export const TIMERS = [
  {
    name: 'alertQueries',
    scheduleSetting: 'ACR_GUARD_ALERT_SCHEDULE',
    durableClient: false,
    hosts: 'both',
    handler: (env, deps, context) => handleAlertQueries(env, deps, context),
  },
  {
    name: 'rotateTokens',
    scheduleSetting: 'ACR_GUARD_ROTATION_SCHEDULE',
    durableClient: false,
    hosts: 'both',
    handler: (env, deps, context) => handleRotateTokens(env, deps, context),
  },
  {
    name: 'nightlyPurge',
    scheduleSetting: 'ACR_GUARD_PURGE_SCHEDULE',
    durableClient: true,
    hosts: 'both',
    handler: (_env, deps, context, starter) => handleNightlyPurge(deps, starter(), context),
  },
  {
    // The deployed timer name, kept (a renamed function is a new function to the host); it starts `runtimeReconcile`.
    name: 'runtimeAudit',
    scheduleSetting: 'ACR_GUARD_RUNTIME_SCHEDULE',
    durableClient: true,
    hosts: {
      only: 'azure',
      reason:
        'locally runtime assurance runs when asked (LocalService.runRuntimeReconcile, which the demo stack calls at start)',
    },
    handler: (_env, deps, context, starter) => handleRuntimeAuditTimer(deps, starter(), context),
  },
] as const satisfies readonly TimerEntry[];

/** The name of a timer the host `H` runs. */
export type TimerName<H extends HostName> = Extract<(typeof TIMERS)[number], { hosts: 'both' | { only: H } }>['name'];

/**
 * Matches a request path against a route's path (pure): the parameters when it matches, undefined otherwise.
 * `{name}` takes one segment, decoded (left as sent when it is malformed: the handler refuses it); `{name?}` one
 * or none; `{*name}` the rest, as sent (the handler parses it).
 */
export function matchPath(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split('/');
  const got = path.split('/');
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const segment = want[i];
    const param = /^\{(\*?)(\w+)(\??)\}$/.exec(segment);
    if (!param) {
      if (got[i] !== segment) return undefined;
      continue;
    }
    const [, rest, name, optional] = param;
    if (rest) {
      if (i >= got.length) return undefined;
      params[name] = got.slice(i).join('/');
      return params;
    }
    if (i >= got.length) {
      if (!optional) return undefined;
      params[name] = '';
      continue;
    }
    try {
      params[name] = decodeURIComponent(got[i]);
    } catch {
      params[name] = got[i];
    }
  }
  return got.length === want.length ? params : undefined;
}

/** Where a function runs, as the docs' table says it. */
function hostsCell(hosts: Hosts): string {
  return hosts === 'both' ? 'both' : `${hosts.only} only: ${hosts.reason}`;
}

/**
 * The table as Markdown (docs/architecture.md holds this text between its `function-table` markers;
 * test/unit/functionTable.test.ts keeps the two equal).
 */
export function renderFunctionTable(): string {
  const cell = (text: string): string => text.replace(/\|/g, '\\|');
  const lines: string[] = [];
  lines.push('| Kind | Name | Trigger | Auth | Hosts |', '| --- | --- | --- | --- | --- |');
  for (const name of Object.keys(ORCHESTRATORS))
    lines.push(`| orchestration | \`${name}\` | orchestration trigger | - | both |`);
  for (const entry of ACTIVITY_MAPS)
    lines.push(
      `| activities of \`${entry.name}\` | ${entry.activities.map((a) => `\`${a}\``).join(', ')} | activity trigger | - | both${entry.needsRuntime ? ' (locally when given a runtime inventory)' : ''} |`,
    );
  for (const trigger of EVENT_TRIGGERS)
    lines.push(`| event | \`${trigger.name}\` | Event Grid | - | ${cell(hostsCell(trigger.hosts))} |`);
  for (const route of HTTP_ROUTES as readonly HttpRoute[]) {
    const roles = route.roles.length > 0 ? route.roles.map((r) => `\`${r}\``).join(' or ') : 'no app role';
    const auth = `${route.authLevel === 'function' ? 'function key' : 'anonymous'}; ${roles}${route.authNote ? ` (${route.authNote})` : ''}`;
    const handler = route.handler === 'host' ? ' (handler per host)' : '';
    lines.push(
      `| HTTP | \`${route.name}\`${handler} | \`${route.method} ${route.path}\` | ${cell(auth)} | ${cell(hostsCell(route.hosts))} |`,
    );
  }
  for (const timer of TIMERS)
    lines.push(
      `| timer | \`${timer.name}\` | schedule \`${timer.scheduleSetting}\` | - | ${cell(hostsCell(timer.hosts))} |`,
    );
  return `${lines.join('\n')}\n`;
}
