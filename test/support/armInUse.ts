/**
 * A loopback HTTPS stand-in for the ARM reads in-use protection makes, speaking the documented REST contract
 * to the REAL `ContainerAppsAPIClient` (`@azure/arm-appcontainers`) and `ContainerInstanceManagementClient`
 * (`@azure/arm-containerinstance`):
 * - `GET /subscriptions/<s>[/resourceGroups/<rg>]/providers/Microsoft.App/containerApps` (api-version
 *   2025-07-01) → `{ value: [ContainerApp], nextLink? }`; `GET …/containerApps/<app>`; `GET …/containerApps/<app>/revisions`
 *   → `{ value: [Revision], nextLink? }` with `properties.active`, `replicas`, `trafficWeight`, `template`.
 * - `GET …/providers/Microsoft.App/jobs` (same api-version) and `GET …/jobs/<job>`.
 * - `GET …/providers/Microsoft.ContainerInstance/containerGroups` (api-version 2023-05-01) and one group, with
 *   `properties.containers[].properties.image`.
 * Lists are paged (`pageSize` items, then a `nextLink` with `$skiptoken`, as ARM does). ARM paths match without
 * regard to case. A request with another api-version gets 400 `InvalidApiVersionParameter`, a missing bearer
 * token 401, an unknown resource group or resource 404. `fault` may answer any request first (403, 500, …).
 */
import { startHttpsServer, type RecordedRequest, type RouteResponse, type TestHttpsServer } from './httpsServer';
import { TEST_TOKEN } from './azureStandIns';

export const APP_API = '2025-07-01';
export const ACI_API = '2023-05-01';

/** One container as deployed (Container Apps template or ACI group). */
export interface StandInContainer {
  name: string;
  image: string;
}

export interface StandInRevision {
  name: string;
  active: boolean;
  replicas: number;
  trafficWeight: number;
  containers: StandInContainer[];
  initContainers?: StandInContainer[];
}

export interface StandInApp {
  subscription: string;
  resourceGroup: string;
  name: string;
  /** The app's current template (properties.template). */
  containers: StandInContainer[];
  initContainers?: StandInContainer[];
  revisions: StandInRevision[];
}

export interface StandInJob {
  subscription: string;
  resourceGroup: string;
  name: string;
  containers: StandInContainer[];
  initContainers?: StandInContainer[];
}

export interface StandInGroup {
  subscription: string;
  resourceGroup: string;
  name: string;
  /** ARM's instance view state: Running, Stopped, Succeeded, Failed. */
  state: string;
  containers: StandInContainer[];
  initContainers?: StandInContainer[];
  /** Leave `containers` out of list answers (the lookup must then GET the group). */
  omitContainersInList?: boolean;
}

export interface ArmInUseStandIn {
  server: TestHttpsServer;
  endpoint: string;
  apps: StandInApp[];
  jobs: StandInJob[];
  groups: StandInGroup[];
  /** Resource groups that exist, as `<subscription>/<rg>` lower case (apps, jobs and groups add theirs). */
  resourceGroups: Set<string>;
  /** Items per page of every list. */
  pageSize: number;
  /** Answers a request before the stand-in does, when it returns a response. */
  fault?: (req: RecordedRequest) => RouteResponse | Promise<RouteResponse> | undefined;
  /** api-version of each request, by the path's resource kind. */
  apiVersions: Array<{ path: string; apiVersion: string | null }>;
}

const notFound = (what: string): RouteResponse => ({
  status: 404,
  body: { error: { code: 'ResourceNotFound', message: `The Resource '${what}' was not found.` } },
});

function armContainer(c: StandInContainer) {
  return { name: c.name, image: c.image, resources: { cpu: 0.5, memory: '1Gi' } };
}

function appTemplate(containers: StandInContainer[], initContainers?: StandInContainer[]) {
  return {
    containers: containers.map(armContainer),
    ...(initContainers ? { initContainers: initContainers.map(armContainer) } : {}),
    scale: { minReplicas: 0, maxReplicas: 10 },
  };
}

const rgPath = (x: { subscription: string; resourceGroup: string }) =>
  `/subscriptions/${x.subscription}/resourceGroups/${x.resourceGroup}`;
const appId = (a: StandInApp) => `${rgPath(a)}/providers/Microsoft.App/containerApps/${a.name}`;
const jobId = (j: StandInJob) => `${rgPath(j)}/providers/Microsoft.App/jobs/${j.name}`;
const groupId = (g: StandInGroup) => `${rgPath(g)}/providers/Microsoft.ContainerInstance/containerGroups/${g.name}`;

function appJson(a: StandInApp) {
  const latest = a.revisions[a.revisions.length - 1]?.name;
  return {
    id: appId(a),
    name: a.name,
    type: 'Microsoft.App/containerApps',
    location: 'West Europe',
    properties: {
      provisioningState: 'Succeeded',
      runningStatus: 'Running',
      managedEnvironmentId: `${rgPath(a)}/providers/Microsoft.App/managedEnvironments/env`,
      latestRevisionName: latest,
      latestReadyRevisionName: latest,
      configuration: { activeRevisionsMode: 'Multiple', ingress: { external: false, targetPort: 8080 } },
      template: appTemplate(a.containers, a.initContainers),
    },
  };
}

function revisionJson(a: StandInApp, r: StandInRevision) {
  return {
    id: `${appId(a)}/revisions/${r.name}`,
    name: r.name,
    type: 'Microsoft.App/containerApps/revisions',
    properties: {
      createdTime: '2026-11-01T10:00:00+00:00',
      ...(r.active ? {} : { lastActiveTime: '2026-11-02T10:00:00+00:00' }),
      fqdn: `${r.name}.internal.example.azurecontainerapps.io`,
      template: appTemplate(r.containers, r.initContainers),
      active: r.active,
      replicas: r.replicas,
      trafficWeight: r.trafficWeight,
      healthState: 'Healthy',
      provisioningState: 'Provisioned',
      runningState: r.active ? (r.replicas > 0 ? 'Running' : 'Stopped') : 'Stopped',
    },
  };
}

function jobJson(j: StandInJob) {
  return {
    id: jobId(j),
    name: j.name,
    type: 'Microsoft.App/jobs',
    location: 'West Europe',
    properties: {
      provisioningState: 'Succeeded',
      environmentId: `${rgPath(j)}/providers/Microsoft.App/managedEnvironments/env`,
      configuration: {
        triggerType: 'Schedule',
        replicaTimeout: 1800,
        replicaRetryLimit: 1,
        scheduleTriggerConfig: { cronExpression: '0 3 * * *', parallelism: 1, replicaCompletionCount: 1 },
      },
      template: appTemplate(j.containers, j.initContainers),
    },
  };
}

function groupJson(g: StandInGroup, inList: boolean) {
  const aci = (c: StandInContainer) => ({
    name: c.name,
    properties: { image: c.image, resources: { requests: { cpu: 1, memoryInGB: 1.5 } }, environmentVariables: [] },
  });
  return {
    id: groupId(g),
    name: g.name,
    type: 'Microsoft.ContainerInstance/containerGroups',
    location: 'westeurope',
    properties: {
      sku: 'Standard',
      provisioningState: 'Succeeded',
      ...(inList && g.omitContainersInList ? {} : { containers: g.containers.map(aci) }),
      ...(g.initContainers
        ? { initContainers: g.initContainers.map((c) => ({ name: c.name, properties: { image: c.image } })) }
        : {}),
      restartPolicy: 'OnFailure',
      osType: 'Linux',
      instanceView: { state: g.state, events: [] },
    },
  };
}

/** Starts the stand-in (empty; tests push apps, jobs and groups). */
export async function startArmInUse(): Promise<ArmInUseStandIn> {
  const server = await startHttpsServer();
  const state: ArmInUseStandIn = {
    server,
    endpoint: server.url,
    apps: [],
    jobs: [],
    groups: [],
    resourceGroups: new Set(),
    pageSize: 2,
    apiVersions: [],
  };

  const rgExists = (sub: string, rg: string) =>
    state.resourceGroups.has(`${sub}/${rg}`.toLowerCase()) ||
    [...state.apps, ...state.jobs, ...state.groups].some(
      (x) => `${x.subscription}/${x.resourceGroup}`.toLowerCase() === `${sub}/${rg}`.toLowerCase(),
    );
  const same = (a: string, b: string | undefined) => b !== undefined && a.toLowerCase() === b.toLowerCase();

  /** A page of `items` from `$skiptoken`, with a nextLink to the rest. */
  const page = (req: RecordedRequest, items: unknown[], apiVersion: string): RouteResponse => {
    const skip = Number(req.query.get('$skiptoken') ?? '0');
    const value = items.slice(skip, skip + state.pageSize);
    const more = skip + state.pageSize < items.length;
    return {
      status: 200,
      body: {
        value,
        ...(more
          ? { nextLink: `${server.url}${req.path}?api-version=${apiVersion}&$skiptoken=${skip + state.pageSize}` }
          : {}),
      },
    };
  };

  const LIST =
    /^\/subscriptions\/([^/]+)(?:\/resourceGroups\/([^/]+))?\/providers\/(Microsoft\.App\/containerApps|Microsoft\.App\/jobs|Microsoft\.ContainerInstance\/containerGroups)(?:\/([^/]+)(\/revisions)?)?$/i;

  server.route('GET', /^\/subscriptions\//i, (req) => {
    state.apiVersions.push({ path: req.path, apiVersion: req.query.get('api-version') });
    if (req.headers.authorization !== `Bearer ${TEST_TOKEN}`)
      return {
        status: 401,
        body: { error: { code: 'AuthenticationFailed', message: 'missing or invalid bearer token' } },
      };
    const fault = state.fault?.(req);
    if (fault) return fault;
    const m = LIST.exec(req.path);
    if (!m)
      return { status: 404, body: { error: { code: 'InvalidResourceType', message: `no stand-in for ${req.path}` } } };
    const [, sub, rg, type, name, revisions] = m;
    const isAci = /containerinstance/i.test(type);
    const apiVersion = isAci ? ACI_API : APP_API;
    if (req.query.get('api-version') !== apiVersion)
      return {
        status: 400,
        body: {
          error: {
            code: 'InvalidApiVersionParameter',
            message: `The api-version '${req.query.get('api-version')}' is invalid.`,
          },
        },
      };
    if (rg !== undefined && !rgExists(sub, rg))
      return {
        status: 404,
        body: { error: { code: 'ResourceGroupNotFound', message: `Resource group '${rg}' could not be found.` } },
      };
    if (name !== undefined && rg === undefined)
      return {
        status: 404,
        body: { error: { code: 'InvalidResourceType', message: 'resources live in resource groups' } },
      };
    const inScope = (x: { subscription: string; resourceGroup: string }) =>
      same(x.subscription, sub) && (rg === undefined || same(x.resourceGroup, rg));

    if (/containerapps/i.test(type)) {
      const apps = state.apps.filter(inScope);
      if (name === undefined) return page(req, apps.map(appJson), apiVersion);
      const app = apps.find((a) => same(a.name, name));
      if (!app) return notFound(`Microsoft.App/containerApps/${name}`);
      if (revisions)
        return page(
          req,
          app.revisions.map((r) => revisionJson(app, r)),
          apiVersion,
        );
      return { status: 200, body: appJson(app) };
    }
    if (/jobs/i.test(type)) {
      if (revisions) return notFound(req.path);
      const jobs = state.jobs.filter(inScope);
      if (name === undefined) return page(req, jobs.map(jobJson), apiVersion);
      const job = jobs.find((j) => same(j.name, name));
      return job ? { status: 200, body: jobJson(job) } : notFound(`Microsoft.App/jobs/${name}`);
    }
    if (revisions) return notFound(req.path);
    const groups = state.groups.filter(inScope);
    if (name === undefined)
      return page(
        req,
        groups.map((g) => groupJson(g, true)),
        apiVersion,
      );
    const group = groups.find((g) => same(g.name, name));
    return group
      ? { status: 200, body: groupJson(group, false) }
      : notFound(`Microsoft.ContainerInstance/containerGroups/${name}`);
  });
  return state;
}
