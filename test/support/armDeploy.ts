/**
 * The writes `acr-guard deploy` makes, on top of the in-use stand-in's reads ({@link startArmInUse}), speaking
 * ARM's documented long-running-operation contract to the REAL SDK clients:
 * - `PATCH …/Microsoft.App/containerApps/<app>` and `PATCH …/Microsoft.App/jobs/<job>` (api-version 2025-07-01)
 *   → 202 with `Azure-AsyncOperation: …/containerappOperationStatuses/<id>`; a new revision appears for an app.
 * - `PUT …/Microsoft.ContainerInstance/containerGroups/<g>` (api-version 2023-05-01) → 201 with
 *   `Azure-AsyncOperation`, the group's `instanceView.state` `Pending` until it has been read `runningAfter` times.
 * - `GET <operation>` → `{ status: 'InProgress' }` for `operationPolls` polls, then `Succeeded` (or `Failed` with an
 *   error when `failOperation` is set).
 * - `GET …/containerApps/<app>/revisions/<name>` → the revision, `Provisioning`/`Processing` for `revisionPolls`
 *   reads, then `Provisioned`/`Running` (or `Failed`/`Failed` when `failRevision` is set).
 * Every write's body is kept in `writes` (what the server received is the contract the tests assert).
 */
import { randomUUID } from 'node:crypto';
import type { RecordedRequest, RouteResponse } from './httpsServer';
import { ArmWorkloadDeployer, type ArmWorkloadDeployerOptions } from '../../src/adapters/workloadDeployer';
import { TEST_TOKEN, testCredential } from './azureStandIns';
import { ACI_API, APP_API, startArmInUse, type ArmInUseStandIn, type StandInContainer } from './armInUse';

export interface ArmDeployStandIn extends ArmInUseStandIn {
  writes: Array<{ method: string; path: string; body: Record<string, unknown> }>;
  /** Polls of an operation that answer InProgress before it ends. */
  operationPolls: number;
  failOperation: boolean;
  /** Reads of a new revision before it is provisioned and running. */
  revisionPolls: number;
  failRevision: boolean;
  /** Reads of a written group before its instance view says Running. */
  runningAfter: number;
}

const WRITE =
  /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/(Microsoft\.App\/containerApps|Microsoft\.App\/jobs|Microsoft\.ContainerInstance\/containerGroups)\/([^/]+)$/i;
const REVISION =
  /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.App\/containerApps\/([^/]+)\/revisions\/([^/]+)$/i;
const OPERATION = /\/containerappOperationStatuses\/([0-9a-f-]+)$/i;

/** Starts the stand-in (empty; tests push apps, jobs and groups). */
export async function startArmDeploy(): Promise<ArmDeployStandIn> {
  const base = await startArmInUse();
  const state = base as ArmDeployStandIn;
  Object.assign(state, {
    writes: [],
    operationPolls: 2,
    failOperation: false,
    revisionPolls: 2,
    failRevision: false,
    runningAfter: 2,
  });
  const operations = new Map<string, number>();
  const revisionReads = new Map<string, number>();
  const groupReads = new Map<string, number>();
  const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

  // Reads the in-use stand-in does not serve: one revision, an operation's status; and the group's state clock.
  state.fault = (req: RecordedRequest): RouteResponse | undefined => {
    const op = OPERATION.exec(req.path);
    if (op) {
      const n = (operations.get(op[1]) ?? 0) + 1;
      operations.set(op[1], n);
      if (n <= state.operationPolls) return { status: 200, body: { id: req.path, name: op[1], status: 'InProgress' } };
      return state.failOperation
        ? {
            status: 200,
            body: {
              id: req.path,
              name: op[1],
              status: 'Failed',
              error: { code: 'ContainerAppOperationError', message: 'image pull failed' },
            },
          }
        : { status: 200, body: { id: req.path, name: op[1], status: 'Succeeded' } };
    }
    const rev = REVISION.exec(req.path);
    if (rev) {
      const app = state.apps.find((a) => same(a.name, rev[1]));
      const r = app?.revisions.find((x) => same(x.name, rev[2]));
      if (!app || !r) return { status: 404, body: { error: { code: 'ResourceNotFound', message: 'no revision' } } };
      const n = (revisionReads.get(r.name) ?? 0) + 1;
      revisionReads.set(r.name, n);
      const ready = n > state.revisionPolls;
      const provisioningState = ready ? (state.failRevision ? 'Failed' : 'Provisioned') : 'Provisioning';
      const runningState = ready ? (state.failRevision ? 'Failed' : 'Running') : 'Processing';
      return {
        status: 200,
        body: {
          id: req.path,
          name: r.name,
          type: 'Microsoft.App/containerApps/revisions',
          properties: {
            createdTime: new Date().toISOString(),
            template: {
              containers: r.containers.map((c) => ({
                name: c.name,
                image: c.image,
                resources: { cpu: 0.5, memory: '1Gi' },
              })),
            },
            active: true,
            replicas: ready ? 1 : 0,
            trafficWeight: 100,
            healthState: ready && !state.failRevision ? 'Healthy' : 'None',
            provisioningState,
            runningState,
          },
        },
      };
    }
    const group = WRITE.exec(req.path);
    if (group && /containerinstance/i.test(group[3])) {
      const g = state.groups.find((x) => same(x.name, group[4]));
      if (g && g.state === 'Pending') {
        const n = (groupReads.get(g.name) ?? 0) + 1;
        groupReads.set(g.name, n);
        if (n > state.runningAfter) g.state = state.failRevision ? 'Failed' : 'Running';
      }
    }
    return undefined;
  };

  const write = (req: RecordedRequest): RouteResponse => {
    if (req.headers.authorization !== `Bearer ${TEST_TOKEN}`)
      return { status: 401, body: { error: { code: 'AuthenticationFailed', message: 'missing bearer token' } } };
    const m = WRITE.exec(req.path);
    if (!m)
      return { status: 404, body: { error: { code: 'InvalidResourceType', message: `no stand-in for ${req.path}` } } };
    const [, sub, , type, name] = m;
    const aci = /containerinstance/i.test(type);
    if (req.query.get('api-version') !== (aci ? ACI_API : APP_API))
      return { status: 400, body: { error: { code: 'InvalidApiVersionParameter', message: 'bad api-version' } } };
    const body = (req.json ?? {}) as Record<string, unknown>;
    state.writes.push({ method: req.method, path: req.path, body });
    const props = (body.properties ?? {}) as Record<string, unknown>;
    const id = randomUUID();
    const asyncOp = `${state.endpoint}/subscriptions/${sub}/providers/Microsoft.App/locations/westeurope/containerappOperationStatuses/${id}?api-version=${aci ? ACI_API : APP_API}`;
    const containersOf = (list: unknown): StandInContainer[] =>
      (Array.isArray(list) ? list : []).map((c: { name: string; image?: string; properties?: { image: string } }) => ({
        name: c.name,
        image: c.image ?? c.properties?.image ?? '',
      }));
    if (/containerapps/i.test(type) && req.method === 'PATCH') {
      const app = state.apps.find((a) => same(a.name, name));
      if (!app) return { status: 404, body: { error: { code: 'ResourceNotFound', message: name } } };
      const template = props.template as { containers?: unknown } | undefined;
      if (template?.containers) {
        app.containers = containersOf(template.containers);
        app.revisions.push({
          name: `${app.name}--r${app.revisions.length + 1}`,
          active: true,
          replicas: 0,
          trafficWeight: 100,
          containers: app.containers,
        });
      }
    } else if (/jobs/i.test(type) && req.method === 'PATCH') {
      const job = state.jobs.find((j) => same(j.name, name));
      if (!job) return { status: 404, body: { error: { code: 'ResourceNotFound', message: name } } };
      const template = props.template as { containers?: unknown } | undefined;
      if (template?.containers) job.containers = containersOf(template.containers);
    } else if (aci && req.method === 'PUT') {
      const g = state.groups.find((x) => same(x.name, name));
      if (!g) return { status: 404, body: { error: { code: 'ResourceNotFound', message: name } } };
      g.containers = containersOf(props.containers);
      g.state = 'Pending';
    } else return { status: 405, body: { error: { code: 'MethodNotAllowed', message: req.method } } };
    return { status: aci ? 201 : 202, headers: { 'azure-asyncoperation': asyncOp } };
  };
  state.server.route('PATCH', /^\/subscriptions\//i, write);
  state.server.route('PUT', /^\/subscriptions\//i, write);
  return state;
}

/**
 * The REAL deployer (ARM SDKs) pointed at the stand-in `arm`, trusting its CA, with the test credential and a
 * 20 ms poll; `options` adds or overrides (e.g. `retryDelayMs`).
 */
export function armDeployer(
  arm: ArmDeployStandIn,
  options: Partial<ArmWorkloadDeployerOptions> = {},
): ArmWorkloadDeployer {
  return new ArmWorkloadDeployer({
    credential: testCredential(),
    endpoint: arm.endpoint,
    ca: arm.server.ca,
    pollIntervalMs: 20,
    ...options,
  });
}
