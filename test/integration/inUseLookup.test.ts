/**
 * In-use protection with the REAL `ContainerAppsAPIClient` (@azure/arm-appcontainers 3.0.0) and
 * `ContainerInstanceManagementClient` (@azure/arm-containerinstance 9.1.0) against a loopback ARM stand-in
 * speaking their REST contract (test/support/armInUse.ts): subscription, resource group and single-resource
 * scopes, lists paged with `nextLink`, inactive revisions ignored, and every failure (403, 404, 500 after the
 * SDK's retries, a timeout, an answer without images) thrown naming the scope — never a partial list.
 */
import { ArmInUseLookup } from '../../src/adapters/inUseLookup';
import { inUseLookupFor } from '../../src/app/compose';
import { loadConfig } from '../../src/app/config';
import { isGuardError } from '../../src/core/errors';
import { parseInUseScopes } from '../../src/core/inUseScopes';
import { LISTING_BOUNDS } from '../../src/core/listing';
import { testCredential } from '../support/azureStandIns';
import { ACI_API, APP_API, startArmInUse, type ArmInUseStandIn } from '../support/armInUse';

const SUB = '6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f';
const OTHER_SUB = '0a1b2c3d-4e5f-4a6b-9c8d-7e6f5a4b3c2d';
const ACR = 'contoso.azurecr.io';
const DIGEST = 'sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08';

const rg = (name: string, sub = SUB) => `/subscriptions/${sub}/resourceGroups/${name}`;
const c = (name: string, image: string) => ({ name, image });

let arm: ArmInUseStandIn;

beforeAll(async () => {
  arm = await startArmInUse();
  arm.apps.push(
    {
      subscription: SUB,
      resourceGroup: 'rg-prod',
      name: 'api',
      containers: [c('api', `${ACR}/contoso/api:2.1`)],
      revisions: [
        // Deactivated: its image may go.
        {
          name: 'api--v1',
          active: false,
          replicas: 0,
          trafficWeight: 0,
          containers: [c('api', `${ACR}/contoso/api:1.0`)],
        },
        {
          name: 'api--v2',
          active: true,
          replicas: 3,
          trafficWeight: 80,
          containers: [c('api', `${ACR}/contoso/api:2.0`), c('sidecar', `${ACR}/contoso/envoy:1.30`)],
          initContainers: [c('migrate', `${ACR}/contoso/migrate:2.0`)],
        },
        // Active, scaled to zero, no traffic (a labelled revision): still in use.
        {
          name: 'api--v3',
          active: true,
          replicas: 0,
          trafficWeight: 0,
          containers: [c('api', `${ACR}/contoso/api@${DIGEST}`)],
        },
        {
          name: 'api--v4',
          active: true,
          replicas: 1,
          trafficWeight: 20,
          containers: [c('api', `${ACR}/contoso/api:2.1`)],
        },
        {
          name: 'api--v0',
          active: false,
          replicas: 0,
          trafficWeight: 0,
          containers: [c('api', `${ACR}/contoso/api:0.9`)],
        },
      ],
    },
    {
      subscription: SUB,
      resourceGroup: 'rg-prod',
      name: 'frontend',
      containers: [c('web', `${ACR}/contoso/frontend:3.0`)],
      revisions: [
        {
          name: 'frontend--a1',
          active: true,
          replicas: 2,
          trafficWeight: 100,
          containers: [c('web', `${ACR}/contoso/frontend:3.0`)],
        },
      ],
    },
    {
      subscription: SUB,
      resourceGroup: 'rg-dev',
      name: 'batch',
      containers: [c('batch', `${ACR}/contoso/batch:dev`)],
      revisions: [
        {
          name: 'batch--b1',
          active: true,
          replicas: 1,
          trafficWeight: 100,
          containers: [c('batch', `${ACR}/contoso/batch:dev`)],
        },
      ],
    },
    {
      subscription: OTHER_SUB,
      resourceGroup: 'rg-other',
      name: 'elsewhere',
      containers: [c('x', `${ACR}/contoso/elsewhere:1`)],
      revisions: [
        {
          name: 'elsewhere--e1',
          active: true,
          replicas: 1,
          trafficWeight: 100,
          containers: [c('x', `${ACR}/contoso/elsewhere:1`)],
        },
      ],
    },
  );
  arm.jobs.push({
    subscription: SUB,
    resourceGroup: 'rg-prod',
    name: 'nightly-report',
    containers: [c('report', `${ACR}/contoso/report:5`)],
    initContainers: [c('fetch', `${ACR}/contoso/fetch:1`)],
  });
  arm.groups.push(
    {
      subscription: SUB,
      resourceGroup: 'rg-prod',
      name: 'worker',
      state: 'Running',
      containers: [c('worker', `${ACR}/contoso/worker:1.0`)],
      initContainers: [c('init', `${ACR}/contoso/worker-init:1.0`)],
    },
    // Stopped: it restarts from these images, so they stay protected.
    {
      subscription: SUB,
      resourceGroup: 'rg-prod',
      name: 'backfill',
      state: 'Stopped',
      containers: [c('backfill', `${ACR}/contoso/backfill:7`)],
    },
    {
      subscription: SUB,
      resourceGroup: 'rg-dev',
      name: 'sparse',
      state: 'Running',
      omitContainersInList: true,
      containers: [c('sparse', `docker.io/library/nginx:1.27`)],
    },
  );
});
afterAll(() => arm.server.close());
beforeEach(() => {
  arm.fault = undefined;
  arm.pageSize = 2;
  arm.server.requests.length = 0;
  arm.apiVersions.length = 0;
});

function lookup(scopes: string, extra: Partial<ConstructorParameters<typeof ArmInUseLookup>[0]> = {}): ArmInUseLookup {
  return new ArmInUseLookup({
    credential: testCredential(),
    scopes: parseInUseScopes(scopes, 'scopes'),
    endpoint: arm.endpoint,
    ca: arm.server.ca,
    maxRetries: 1,
    retryDelayMs: 10,
    ...extra,
  });
}

const images = (list: Array<{ image: string }>) => [...new Set(list.map((d) => d.image))].sort();

describe('ArmInUseLookup against an ARM stand-in (real SDK clients)', () => {
  it('a subscription scope: every app (paged), every active revision (paged), jobs and container groups', async () => {
    const found = await lookup(`/subscriptions/${SUB}`).listDeployedImages();
    expect(images(found)).toEqual(
      [
        `${ACR}/contoso/api:2.0`,
        `${ACR}/contoso/api:2.1`,
        `${ACR}/contoso/api@${DIGEST}`,
        `${ACR}/contoso/backfill:7`,
        `${ACR}/contoso/batch:dev`,
        `${ACR}/contoso/envoy:1.30`,
        `${ACR}/contoso/fetch:1`,
        `${ACR}/contoso/frontend:3.0`,
        `${ACR}/contoso/migrate:2.0`,
        `${ACR}/contoso/report:5`,
        `${ACR}/contoso/worker-init:1.0`,
        `${ACR}/contoso/worker:1.0`,
        'docker.io/library/nginx:1.27',
      ].sort(),
    );
    // Inactive revisions' images and the other subscription's are not in use here.
    expect(found.map((d) => d.image)).not.toContain(`${ACR}/contoso/api:1.0`);
    expect(found.map((d) => d.image)).not.toContain(`${ACR}/contoso/api:0.9`);
    // Sources name the revision or group and the container.
    expect(found).toEqual(
      expect.arrayContaining([
        {
          image: `${ACR}/contoso/migrate:2.0`,
          source: `${rg('rg-prod')}/providers/Microsoft.App/containerApps/api/revisions/api--v2, init container migrate`,
        },
        {
          image: `${ACR}/contoso/api:2.1`,
          source: `${rg('rg-prod')}/providers/Microsoft.App/containerApps/api (current template), container api`,
        },
        {
          image: `${ACR}/contoso/worker-init:1.0`,
          source: `${rg('rg-prod')}/providers/Microsoft.ContainerInstance/containerGroups/worker, init container init`,
        },
        {
          image: `${ACR}/contoso/report:5`,
          source: `${rg('rg-prod')}/providers/Microsoft.App/jobs/nightly-report, container report`,
        },
      ]),
    );
    // No duplicate (image, source) pairs.
    expect(new Set(found.map((d) => `${d.image} ${d.source}`)).size).toBe(found.length);

    const paths = arm.server.requests.map(
      (r) => `${r.path}${r.query.has('$skiptoken') ? `?$skiptoken=${r.query.get('$skiptoken')}` : ''}`,
    );
    // Three apps at two per page, five revisions of api at two per page: nextLinks were followed.
    expect(paths).toEqual(
      expect.arrayContaining([
        `/subscriptions/${SUB}/providers/Microsoft.App/containerApps`,
        `/subscriptions/${SUB}/providers/Microsoft.App/containerApps?$skiptoken=2`,
        `${rg('rg-prod')}/providers/Microsoft.App/containerApps/api/revisions`,
        `${rg('rg-prod')}/providers/Microsoft.App/containerApps/api/revisions?$skiptoken=2`,
        `${rg('rg-prod')}/providers/Microsoft.App/containerApps/api/revisions?$skiptoken=4`,
        `/subscriptions/${SUB}/providers/Microsoft.App/jobs`,
        `/subscriptions/${SUB}/providers/Microsoft.ContainerInstance/containerGroups`,
        `/subscriptions/${SUB}/providers/Microsoft.ContainerInstance/containerGroups?$skiptoken=2`,
        // The group listed without containers was read on its own.
        `${rg('rg-dev')}/providers/Microsoft.ContainerInstance/containerGroups/sparse`,
      ]),
    );
    // The api-versions the SDKs send are the ones the stand-in serves; no request was refused.
    expect(new Set(arm.apiVersions.map((a) => a.apiVersion))).toEqual(new Set([APP_API, ACI_API]));
    expect(arm.server.requests.every((r) => r.method === 'GET')).toBe(true);
  });

  it('a resource group scope reads only that group', async () => {
    const found = await lookup(rg('rg-dev')).listDeployedImages();
    expect(images(found)).toEqual([`${ACR}/contoso/batch:dev`, 'docker.io/library/nginx:1.27']);
    expect(arm.server.requests.some((r) => r.path.startsWith(`/subscriptions/${SUB}/providers/`))).toBe(false);
    expect(arm.server.requests.map((r) => r.path)).toContain(`${rg('rg-dev')}/providers/Microsoft.App/containerApps`);
  });

  it('single resources: one Container App (GET, then its revisions), one job, one container group', async () => {
    const app = await lookup(`${rg('rg-prod')}/providers/Microsoft.App/containerApps/api`).listDeployedImages();
    expect(images(app)).toEqual([
      `${ACR}/contoso/api:2.0`,
      `${ACR}/contoso/api:2.1`,
      `${ACR}/contoso/api@${DIGEST}`,
      `${ACR}/contoso/envoy:1.30`,
      `${ACR}/contoso/migrate:2.0`,
    ]);
    expect(arm.server.requests[0].path).toBe(`${rg('rg-prod')}/providers/Microsoft.App/containerApps/api`);

    const job = await lookup(`${rg('rg-prod')}/providers/Microsoft.App/jobs/nightly-report`).listDeployedImages();
    expect(images(job)).toEqual([`${ACR}/contoso/fetch:1`, `${ACR}/contoso/report:5`]);

    // Segment keywords in any case, as ARM accepts them.
    const group = await lookup(
      `/SUBSCRIPTIONS/${SUB}/resourcegroups/rg-prod/providers/microsoft.containerinstance/CONTAINERGROUPS/backfill`,
    ).listDeployedImages();
    expect(group).toEqual([
      {
        image: `${ACR}/contoso/backfill:7`,
        source: `${rg('rg-prod')}/providers/Microsoft.ContainerInstance/containerGroups/backfill, container backfill`,
      },
    ]);
  });

  it('overlapping scopes list each (image, source) once; several subscriptions are read', async () => {
    const found = await lookup(
      `${rg('rg-prod')}/providers/Microsoft.App/containerApps/frontend,${rg('rg-prod')},${rg('rg-other', OTHER_SUB)}`,
    ).listDeployedImages();
    expect(found.filter((d) => d.image === `${ACR}/contoso/frontend:3.0`)).toHaveLength(2); // the template and the revision
    expect(images(found)).toContain(`${ACR}/contoso/elsewhere:1`);
    expect(new Set(found.map((d) => `${d.image} ${d.source}`)).size).toBe(found.length);
  });

  it('ids ARM returns in another case (a known ARM quirk) are still followed to the revisions', async () => {
    arm.fault = (req) =>
      req.path === `${rg('rg-dev')}/providers/Microsoft.App/containerApps`
        ? {
            status: 200,
            body: {
              value: [
                {
                  id: `/subscriptions/${SUB}/resourcegroups/RG-DEV/providers/microsoft.app/containerapps/BATCH`,
                  name: 'batch',
                  type: 'Microsoft.App/containerApps',
                  properties: { template: { containers: [{ name: 'batch', image: `${ACR}/contoso/batch:dev` }] } },
                },
              ],
            },
          }
        : undefined;
    const found = await lookup(rg('rg-dev')).listDeployedImages();
    expect(found).toContainEqual({
      image: `${ACR}/contoso/batch:dev`,
      source: `${rg('RG-DEV')}/providers/Microsoft.App/containerApps/batch (current template), container batch`,
    });
    expect(arm.server.requests.map((r) => r.path)).toContain(
      `${rg('RG-DEV')}/providers/Microsoft.App/containerApps/batch/revisions`,
    );
  });

  it('the bearer token is asked for the ARM endpoint scope', async () => {
    const credential = testCredential();
    await lookup(rg('rg-dev'), { credential }).listDeployedImages();
    expect(new Set(credential.scopes)).toEqual(new Set([`${arm.endpoint}/.default`]));
  });
});

describe('fail closed: no partial list, ever', () => {
  const reject = async (l: ArmInUseLookup) => {
    try {
      await l.listDeployedImages();
    } catch (err) {
      return err;
    }
    throw new Error('listDeployedImages resolved; it must throw');
  };

  it('403 on one scope: throws UPSTREAM naming that scope and the role to grant, although the other scope answered', async () => {
    arm.fault = (req) =>
      req.path.toLowerCase().startsWith(`/subscriptions/${OTHER_SUB}/`)
        ? {
            status: 403,
            body: {
              error: {
                code: 'AuthorizationFailed',
                message: 'The client does not have authorization to perform action Microsoft.App/containerApps/read',
              },
            },
          }
        : undefined;
    const err = await reject(lookup(`${rg('rg-dev')},${rg('rg-other', OTHER_SUB)}`));
    expect(isGuardError(err, 'UPSTREAM')).toBe(true);
    expect((err as Error).message).toContain(`scope ${rg('rg-other', OTHER_SUB)}`);
    expect((err as Error).message).toMatch(/refused \(403 AuthorizationFailed\).*read access/);
    // The first scope was read completely before the second failed.
    expect(arm.server.requests.some((r) => r.path.startsWith(rg('rg-dev')))).toBe(true);
  });

  it('403 on the second page of revisions: throws (what was read before is not returned)', async () => {
    arm.fault = (req) =>
      req.path.endsWith('/containerApps/api/revisions') && req.query.get('$skiptoken') === '2'
        ? { status: 403, body: { error: { code: 'AuthorizationFailed', message: 'no' } } }
        : undefined;
    const err = await reject(lookup(rg('rg-prod')));
    expect(isGuardError(err, 'UPSTREAM')).toBe(true);
    expect((err as Error).message).toContain('listing revisions of Container App api');
  });

  it.each([
    ['a nextLink back to the same page', (skip: string | null) => (skip === null ? 'a' : skip), 2],
    ['nextLinks looping a→b→a', (skip: string | null) => (skip === 'a' ? 'b' : 'a'), 3],
  ])('%s: LISTING_LOOP, never a partial list, bounded requests', async (_name, nextOf, requests) => {
    let asked = 0;
    arm.fault = (req) => {
      if (!req.path.endsWith('/containerGroups')) return undefined;
      asked++;
      const next = nextOf(req.query.get('$skiptoken'));
      return {
        status: 200,
        body: { value: [], nextLink: `${arm.endpoint}${req.path}?api-version=${ACI_API}&$skiptoken=${next}` },
      };
    };
    const err = await reject(lookup(rg('rg-prod')));
    expect(isGuardError(err, 'LISTING_LOOP')).toBe(true);
    expect((err as Error).message).toContain('listing container groups');
    expect(asked).toBe(requests);
  });

  it('endless empty pages with a fresh nextLink: allowed one by one (ARM sends them), ended by the page bound', async () => {
    let asked = 0;
    arm.fault = (req) => {
      if (!req.path.endsWith('/containerGroups')) return undefined;
      asked++;
      return {
        status: 200,
        body: { value: [], nextLink: `${arm.endpoint}${req.path}?api-version=${ACI_API}&$skiptoken=p${asked}` },
      };
    };
    const err = await reject(lookup(rg('rg-prod'), { timeoutMs: 60_000 }));
    expect(isGuardError(err, 'LISTING_TOO_LARGE')).toBe(true);
    expect(asked).toBe(LISTING_BOUNDS.armList.maxPages);
  });

  it('500 on every attempt: the SDK retries, then it throws TRANSIENT naming the scope', async () => {
    let attempts = 0;
    arm.fault = (req) => {
      if (!req.path.endsWith('/containerGroups')) return undefined;
      attempts++;
      return { status: 500, body: { error: { code: 'InternalServerError', message: 'boom' } } };
    };
    const err = await reject(lookup(rg('rg-prod'), { maxRetries: 2 }));
    expect(isGuardError(err, 'TRANSIENT')).toBe(true);
    expect((err as Error).message).toContain(`listing container groups in scope ${rg('rg-prod')} failed (500`);
    expect(attempts).toBe(3);
  });

  it('500 once: the SDK retry succeeds and the list is complete', async () => {
    let failed = false;
    arm.fault = (req) => {
      if (failed || !req.path.endsWith('/jobs')) return undefined;
      failed = true;
      return {
        status: 503,
        headers: { 'retry-after': '0' },
        body: { error: { code: 'ServiceUnavailable', message: 'busy' } },
      };
    };
    const found = await lookup(rg('rg-prod')).listDeployedImages();
    expect(failed).toBe(true);
    expect(images(found)).toContain(`${ACR}/contoso/report:5`);
  });

  it('maxAgeMs: a lookup started within that window answers again; a failure is not reused; past it, or without it, ARM is asked', async () => {
    let clock = 1_000_000;
    const shared = lookup(rg('rg-prod'), { now: () => clock });
    const ask = () => shared.listDeployedImages({ maxAgeMs: 60_000 });
    const count = (): number => arm.server.requests.filter((r) => r.path.endsWith('/containerGroups')).length;
    arm.fault = (req) =>
      req.path.endsWith('/containerGroups')
        ? { status: 500, body: { error: { code: 'InternalServerError', message: 'boom' } } }
        : undefined;
    await expect(ask()).rejects.toThrow();
    const afterFailure = count();
    arm.fault = undefined;
    const first = await ask();
    expect(count()).toBeGreaterThan(afterFailure);
    let asked = count();
    clock += 59_000;
    expect(images(await ask())).toEqual(images(first));
    expect(count()).toBe(asked);
    await shared.listDeployedImages();
    expect(count()).toBeGreaterThan(asked);
    asked = count();
    clock += 60_000;
    await ask();
    expect(count()).toBeGreaterThan(asked);
  });

  it('a resource group or resource that does not exist: throws UPSTREAM asking to correct the setting', async () => {
    const missingGroup = await reject(lookup(rg('rg-gone')));
    expect(isGuardError(missingGroup, 'UPSTREAM')).toBe(true);
    expect((missingGroup as Error).message).toMatch(
      /rg-gone.*404 ResourceGroupNotFound.*correct ACR_GUARD_INUSE_SCOPES/,
    );
    const missingApp = await reject(lookup(`${rg('rg-prod')}/providers/Microsoft.App/containerApps/gone`));
    expect((missingApp as Error).message).toMatch(/reading Container App gone .*404/);
  });

  it('a server slower than the deadline: throws TRANSIENT saying it did not finish', async () => {
    arm.fault = (req) =>
      req.path.endsWith('/jobs')
        ? new Promise((resolve) => setTimeout(() => resolve({ status: 200, body: { value: [] } }), 1500).unref())
        : undefined;
    const err = await reject(lookup(rg('rg-prod'), { timeoutMs: 300 }));
    expect(isGuardError(err, 'TRANSIENT')).toBe(true);
    expect((err as Error).message).toMatch(/did not finish within/);
  });

  it('an answer without the images (a revision with no containers): throws MALFORMED, does not guess', async () => {
    arm.fault = (req) =>
      req.path.endsWith('/containerApps/frontend/revisions')
        ? {
            status: 200,
            body: {
              value: [
                {
                  id: `${rg('rg-prod')}/providers/Microsoft.App/containerApps/frontend/revisions/frontend--x`,
                  name: 'frontend--x',
                  type: 'Microsoft.App/containerApps/revisions',
                  properties: { active: true, replicas: 1, template: {} },
                },
              ],
            },
          }
        : undefined;
    const err = await reject(lookup(`${rg('rg-prod')}/providers/Microsoft.App/containerApps/frontend`));
    expect(isGuardError(err, 'MALFORMED')).toBe(true);
    expect((err as Error).message).toContain('frontend--x came without template.containers');
  });

  it('a listed resource id that is not a valid ARM id never reaches a URL: MALFORMED', async () => {
    arm.fault = (req) =>
      req.path.endsWith('/Microsoft.App/containerApps')
        ? {
            status: 200,
            body: {
              value: [
                {
                  id: `${rg('rg-prod')}/providers/Microsoft.App/containerApps/../../x`,
                  name: 'x',
                  properties: { template: { containers: [{ name: 'x', image: 'x:1' }] } },
                },
              ],
            },
          }
        : undefined;
    const err = await reject(lookup(rg('rg-prod')));
    expect(isGuardError(err, 'MALFORMED')).toBe(true);
    expect(arm.server.requests.some((r) => r.path.includes('..') || r.path.endsWith('/x/revisions'))).toBe(false);
  });
});

describe('inUseLookupFor', () => {
  const base = { AzureWebJobsStorage: 'UseDevelopmentStorage=true' };
  it('is undefined when ACR_GUARD_INUSE_SCOPES is not set (in-use protection off)', () => {
    expect(inUseLookupFor(loadConfig(base), testCredential())).toBeUndefined();
  });
  it('reads the configured scopes at ACR_GUARD_ARM_ENDPOINT', async () => {
    const config = loadConfig({
      ...base,
      ACR_GUARD_INUSE_SCOPES: ` ${rg('rg-dev')} , `,
      ACR_GUARD_ARM_ENDPOINT: arm.endpoint,
    });
    const l = inUseLookupFor(config, testCredential(), { ca: arm.server.ca })!;
    expect(l.scopes.map((s) => s.id)).toEqual([rg('rg-dev')]);
    expect(images(await l.listDeployedImages())).toEqual([`${ACR}/contoso/batch:dev`, 'docker.io/library/nginx:1.27']);
  });
});
