/**
 * The runtime inventory over the real `@azure/arm-resourcegraph` client against a loopback HTTPS server speaking
 * Resource Graph's `POST /providers/Microsoft.ResourceGraph/resources` contract (rows rendered from the ARM
 * stand-in's workloads, paged by `$skipToken`), and ARM (the same stand-in, the real ARM SDKs) for apps whose
 * several active revisions Resource Graph cannot list. Fail closed on refusal, truncation and the page bound.
 */
import { ArmInUseLookup } from '../../src/adapters/inUseLookup';
import { ResourceGraphInventory } from '../../src/adapters/runtimeInventory';
import { parseInUseScopes } from '../../src/core/inUseScopes';
import type { RecordedRequest, RouteResponse } from '../support/httpsServer';
import { startArmInUse, type ArmInUseStandIn } from '../support/armInUse';
import { testCredential } from '../support/azureStandIns';

jest.setTimeout(30_000);

const SUB = '11111111-2222-3333-4444-555555555555';
const RG = `/subscriptions/${SUB}/resourceGroups/apps`;

describe('ResourceGraphInventory', () => {
  let arm: ArmInUseStandIn;
  const graph: {
    pageSize: number;
    queries: Array<{ subscriptions: string[]; query: string; skipToken?: string }>;
    fault?: RouteResponse;
    truncate?: boolean;
  } = { pageSize: 2, queries: [] };

  function rows(): unknown[] {
    const id = (sub: string, rg: string, kind: string, name: string) =>
      `/subscriptions/${sub}/resourceGroups/${rg}/providers/${kind}/${name}`;
    return [
      ...arm.apps.map((a) => ({
        id: id(a.subscription, a.resourceGroup, 'Microsoft.App/containerApps', a.name),
        type: 'Microsoft.App/containerApps',
        template: { containers: a.containers, initContainers: a.initContainers ?? null },
        revisionsMode: a.revisions.filter((r) => r.active).length > 1 ? 'Multiple' : 'Single',
      })),
      ...arm.jobs.map((j) => ({
        id: id(j.subscription, j.resourceGroup, 'Microsoft.App/jobs', j.name),
        type: 'microsoft.app/jobs',
        template: { containers: j.containers },
      })),
      ...arm.groups.map((g) => ({
        id: id(g.subscription, g.resourceGroup, 'Microsoft.ContainerInstance/containerGroups', g.name),
        type: 'Microsoft.ContainerInstance/containerGroups',
        containers: g.containers.map((c) => ({ name: c.name, properties: { image: c.image } })),
        initContainers: (g.initContainers ?? []).map((c) => ({ name: c.name, properties: { image: c.image } })),
      })),
    ];
  }

  beforeAll(async () => {
    arm = await startArmInUse();
    arm.server.route('POST', '/providers/Microsoft.ResourceGraph/resources', (req: RecordedRequest) => {
      const body = req.json as {
        subscriptions: string[];
        query: string;
        options?: { skipToken?: string; $skipToken?: string };
      };
      const skipToken = body.options?.skipToken ?? body.options?.$skipToken;
      graph.queries.push({ subscriptions: body.subscriptions, query: body.query, skipToken });
      if (graph.fault) return graph.fault;
      const all = rows();
      const start = Number(skipToken ?? '0');
      const data = all.slice(start, start + graph.pageSize);
      const more = start + graph.pageSize < all.length;
      return {
        status: 200,
        body: {
          totalRecords: all.length,
          count: data.length,
          data,
          resultTruncated: more && graph.truncate ? 'true' : 'false',
          ...(more && !graph.truncate ? { $skipToken: String(start + graph.pageSize) } : {}),
        },
      };
    });
    arm.apps.push(
      {
        subscription: SUB,
        resourceGroup: 'apps',
        name: 'api',
        containers: [{ name: 'main', image: 'contoso.azurecr.io/api:1' }],
        initContainers: [{ name: 'migrate', image: 'contoso.azurecr.io/migrate@sha256:' + 'a'.repeat(64) }],
        revisions: [
          {
            name: 'api--1',
            active: true,
            replicas: 1,
            trafficWeight: 100,
            containers: [{ name: 'main', image: 'contoso.azurecr.io/api:1' }],
          },
        ],
      },
      {
        subscription: SUB,
        resourceGroup: 'apps',
        name: 'web',
        containers: [{ name: 'main', image: 'contoso.azurecr.io/web:3' }],
        revisions: [
          {
            name: 'web--2',
            active: true,
            replicas: 1,
            trafficWeight: 50,
            containers: [{ name: 'main', image: 'contoso.azurecr.io/web:2' }],
          },
          {
            name: 'web--3',
            active: true,
            replicas: 1,
            trafficWeight: 50,
            containers: [{ name: 'main', image: 'contoso.azurecr.io/web:3' }],
          },
        ],
      },
      {
        subscription: SUB,
        resourceGroup: 'elsewhere',
        name: 'other',
        containers: [{ name: 'main', image: 'nginx:1' }],
        revisions: [],
      },
    );
    arm.jobs.push({
      subscription: SUB,
      resourceGroup: 'apps',
      name: 'nightly',
      containers: [{ name: 'job', image: 'contoso.azurecr.io/job:1' }],
    });
    arm.groups.push({
      subscription: SUB,
      resourceGroup: 'apps',
      name: 'batch',
      state: 'Running',
      containers: [{ name: 'worker', image: 'docker.io/library/busybox:latest' }],
      initContainers: [{ name: 'setup', image: 'mcr.microsoft.com/azure-cli:2' }],
    });
  });
  afterAll(async () => {
    await arm?.server.close();
  });
  beforeEach(() => {
    graph.queries.length = 0;
    graph.fault = undefined;
    graph.truncate = false;
  });

  const inventory = (maxPages?: number) =>
    new ResourceGraphInventory({
      credential: testCredential(),
      scopes: parseInUseScopes(RG, 'scopes'),
      endpoint: arm.endpoint,
      httpsAgent: arm.server.agent(),
      revisionsOf: (app) =>
        new ArmInUseLookup({
          credential: testCredential(),
          scopes: [app],
          endpoint: arm.endpoint,
          ca: arm.server.ca,
          maxRetries: 0,
        }).listDeployedImages(),
      ...(maxPages ? { maxPages } : {}),
    });

  it('lists every container and init container in scope from paged Resource Graph answers, and active revisions of multi-revision apps from ARM', async () => {
    const found = await inventory().listDeployedImages();
    const short = found.map((d) => `${d.image} <- ${d.source.replace(`${RG}/providers/`, '')}`).sort();
    expect(short).toEqual(
      [
        `contoso.azurecr.io/api:1 <- Microsoft.App/containerApps/api, container main`,
        `contoso.azurecr.io/migrate@sha256:${'a'.repeat(64)} <- Microsoft.App/containerApps/api, init container migrate`,
        'contoso.azurecr.io/job:1 <- Microsoft.App/jobs/nightly, container job',
        'docker.io/library/busybox:latest <- Microsoft.ContainerInstance/containerGroups/batch, container worker',
        'mcr.microsoft.com/azure-cli:2 <- Microsoft.ContainerInstance/containerGroups/batch, init container setup',
        'contoso.azurecr.io/web:2 <- Microsoft.App/containerApps/web/revisions/web--2, container main',
        'contoso.azurecr.io/web:3 <- Microsoft.App/containerApps/web (current template), container main',
        'contoso.azurecr.io/web:3 <- Microsoft.App/containerApps/web/revisions/web--3, container main',
      ].sort(),
    );
    expect(found.some((d) => d.image === 'nginx:1')).toBe(false);
    // One query, paged: every page carries the previous page's token, over the scopes' subscription only.
    expect(graph.queries.length).toBe(Math.ceil(rows().length / graph.pageSize));
    expect(
      graph.queries.every(
        (q) =>
          q.subscriptions.length === 1 &&
          q.subscriptions[0] === SUB &&
          q.query.includes('microsoft.containerinstance/containergroups'),
      ),
    ).toBe(true);
    expect(graph.queries.slice(1).every((q) => q.skipToken !== undefined)).toBe(true);
  });

  it('fails closed: a refusal, a truncated answer without $skipToken, or more pages than the bound', async () => {
    graph.fault = { status: 403, body: { error: { code: 'AuthorizationFailed', message: 'no' } } };
    await expect(inventory().listDeployedImages()).rejects.toMatchObject({ code: 'UPSTREAM' });
    graph.fault = undefined;
    graph.truncate = true;
    await expect(inventory().listDeployedImages()).rejects.toMatchObject({ code: 'MALFORMED' });
    graph.truncate = false;
    await expect(inventory(2).listDeployedImages()).rejects.toMatchObject({ code: 'RUNTIME_INVENTORY_TOO_LARGE' });
  });
});
