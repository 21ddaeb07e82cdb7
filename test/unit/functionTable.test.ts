/**
 * The function table is what both hosts run: what src/functions/index.ts registers with the Functions host
 * (recorded by the functions-core stand-in) and what the local service routes, hosts and schedules (asked over
 * loopback HTTP and read from its log) must equal the table, so a function one host forgets fails here. The
 * table's Markdown in docs/architecture.md must equal the table too.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  ACTIVITY_MAPS,
  EVENT_TRIGGERS,
  HTTP_ROUTES,
  ORCHESTRATORS,
  TIMERS,
  matchPath,
  renderFunctionTable,
  servedBy,
  type HttpRoute,
} from '../../src/app/functionTable';
import { TIMER_SCHEDULES } from '../../src/app/timerConfig';
import { loadPolicy } from '../../src/core/policy';
import { startService, type LocalService } from '../../src/local/serve';
import { LocalOrchestrationHost } from '../../src/local/orchestrationHost';
import { registeredFunctions, type RegisteredFunction } from '../support/functionsCore';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- jest.mock factories cannot use imports
jest.mock('@azure/functions-core', () => require('../support/functionsCore').recordingFunctionsCore(), {
  virtual: true,
});

const ROUTES: readonly HttpRoute[] = HTTP_ROUTES;

function trigger(fn: RegisteredFunction): {
  type: string;
  schedule?: string;
  route?: string;
  methods?: string[];
  authLevel?: string;
} {
  const found = Object.values(fn.bindings).find((b) => /Trigger$/.test(b.type));
  if (!found) throw new Error(`${fn.name} has no trigger binding`);
  return found;
}

const takesDurableClient = (fn: RegisteredFunction): boolean =>
  Object.values(fn.bindings).some((b) => b.type === 'durableClient');

/** A concrete request path for a route's pattern. */
function samplePath(pattern: string): string {
  return pattern
    .replace(/\{\*\w+\}/, 'registry.example.com/team/app@sha256:' + 'a'.repeat(64))
    .replace(/\{\w+\?\}/, '')
    .replace(/\{\w+\}/, 'not-an-instance');
}

describe('the function table', () => {
  describe('the Azure host registers exactly the table', () => {
    let registered: RegisteredFunction[];
    beforeAll(async () => {
      const before = registeredFunctions().length;
      await jest.isolateModulesAsync(async () => {
        await import('../../src/functions/index');
      });
      registered = registeredFunctions().slice(before);
    });
    const ofType = (type: string) => registered.filter((fn) => trigger(fn).type === type);

    it('every orchestrator and every activity of every map', () => {
      expect(ofType('orchestrationTrigger').map((fn) => fn.name)).toEqual(Object.keys(ORCHESTRATORS));
      expect(ofType('activityTrigger').map((fn) => fn.name)).toEqual(ACTIVITY_MAPS.flatMap((m) => m.activities));
    });

    it('its Event Grid triggers', () => {
      expect(
        ofType('eventGridTrigger').map((fn) => ({ name: fn.name, durableClient: takesDurableClient(fn) })),
      ).toEqual(
        EVENT_TRIGGERS.filter((t) => servedBy(t.hosts, 'azure')).map((t) => ({
          name: t.name,
          durableClient: t.durableClient,
        })),
      );
    });

    it('its HTTP routes with method, route, auth level and durable client', () => {
      const shape = (fn: RegisteredFunction) => {
        const http = trigger(fn);
        return {
          name: fn.name,
          methods: http.methods,
          route: http.route,
          authLevel: http.authLevel,
          durableClient: takesDurableClient(fn),
        };
      };
      expect(ofType('httpTrigger').map(shape)).toEqual(
        ROUTES.filter((r) => servedBy(r.hosts, 'azure')).map((r) => ({
          name: r.name,
          methods: [r.method],
          route: r.path.replace(/^\/api\//, ''),
          authLevel: r.authLevel,
          durableClient: r.durableClient ?? false,
        })),
      );
    });

    it('its timers with the default schedule of their setting', () => {
      expect(
        ofType('timerTrigger').map((fn) => ({
          name: fn.name,
          schedule: trigger(fn).schedule,
          durableClient: takesDurableClient(fn),
        })),
      ).toEqual(
        TIMERS.filter((t) => servedBy(t.hosts, 'azure')).map((t) => ({
          name: t.name,
          schedule: TIMER_SCHEDULES[t.scheduleSetting],
          durableClient: t.durableClient,
        })),
      );
    });

    it('nothing the table does not hold', () => {
      const known = new Set([
        'orchestrationTrigger',
        'activityTrigger',
        'eventGridTrigger',
        'httpTrigger',
        'timerTrigger',
      ]);
      expect(registered.filter((fn) => !known.has(trigger(fn).type)).map((fn) => fn.name)).toEqual([]);
    });
  });

  describe('the local host serves exactly the table', () => {
    let service: LocalService;
    let stateDir: string;
    const lines: string[] = [];
    beforeAll(async () => {
      stateDir = mkdtempSync(join(tmpdir(), 'acr-guard-table-'));
      service = await startService({
        policy: loadPolicy(
          'version: 1\nregistries: [{ host: "registry.example.com" }]\ngate: []\nretention: []\n',
          'test policy',
        ),
        stateDir,
        env: {},
        log: (line) => lines.push(line),
      });
    }, 30_000);
    afterAll(async () => {
      await service?.stop();
      rmSync(stateDir, { recursive: true, force: true });
    });

    /** Asks the service; `routed` is false only for its "no route" answer. */
    async function ask(route: HttpRoute): Promise<{ name: string; routed: boolean }> {
      const response = await fetch(`${service.url}${samplePath(route.path)}`, {
        method: route.method,
        // A body every POST handler refuses before doing anything (no purge, no gate, no registry call).
        ...(route.method === 'POST' ? { body: '[]', headers: { 'content-type': 'application/json' } } : {}),
      });
      const text = await response.text();
      const noRoute = response.status === 404 && text.includes('no route');
      expect(response.status).not.toBe(405);
      return { name: route.name, routed: !noRoute };
    }

    it('routes every route the table gives it, and none of the Azure-only ones', async () => {
      const answers = [];
      for (const route of ROUTES) answers.push(await ask(route));
      expect(answers).toEqual(ROUTES.map((r) => ({ name: r.name, routed: servedBy(r.hosts, 'local') })));
    });

    it('hosts every orchestrator and, with runtime services, every activity the Azure host registers', () => {
      expect(service.orchestrationHost.orchestrations()).toEqual(Object.keys(ORCHESTRATORS));
      expect(service.orchestrationHost.hostedActivities().sort()).toEqual(
        ACTIVITY_MAPS.filter((m) => !m.needsRuntime)
          .flatMap((m) => m.activities)
          .sort(),
      );
      const withRuntime = new LocalOrchestrationHost({
        services: {} as never,
        runtime: { inventory: {} as never, inventoryLabel: 'test', audit: {} as never, sinks: [] },
      });
      expect(withRuntime.hostedActivities().sort()).toEqual(ACTIVITY_MAPS.flatMap((m) => m.activities).sort());
    });

    it('schedules (or skips, naming it) every timer the table gives it', () => {
      const named = lines.map((l) => /^timer (\w+): /.exec(l)?.[1]).filter((n): n is string => n !== undefined);
      expect(named).toEqual(TIMERS.filter((t) => servedBy(t.hosts, 'local')).map((t) => t.name));
    });
  });

  describe('the roles a route declares are the ones its handler requires', () => {
    let service: LocalService;
    let stateDir: string;
    beforeAll(async () => {
      stateDir = mkdtempSync(join(tmpdir(), 'acr-guard-table-roles-'));
      service = await startService({
        policy: loadPolicy(
          'version: 1\nregistries: [{ host: "registry.example.com" }]\ngate: []\nretention: []\n',
          'test policy',
        ),
        stateDir,
        auth: 'easyauth',
        env: {},
      });
    }, 30_000);
    afterAll(async () => {
      await service?.stop();
      rmSync(stateDir, { recursive: true, force: true });
    });

    it('locally: a caller without them is refused, naming exactly them', async () => {
      const outsider = Buffer.from(
        JSON.stringify({ auth_typ: 'aad', claims: [{ typ: 'roles', val: 'Someone.Else' }] }),
      ).toString('base64');
      const refusals = [];
      for (const route of ROUTES.filter((r) => servedBy(r.hosts, 'local') && r.roles.length > 0)) {
        const response = await fetch(`${service.url}${samplePath(route.path)}`, {
          method: route.method,
          headers: { 'x-ms-client-principal': outsider, 'content-type': 'application/json' },
          ...(route.method === 'POST' ? { body: '{}' } : {}),
        });
        const text = await response.text();
        refusals.push({
          name: route.name,
          status: response.status,
          namesRoles: text.includes(`the app role ${route.roles.join(' or ')} on`) || route.name === 'page',
        });
      }
      expect(refusals).toEqual(
        ROUTES.filter((r) => servedBy(r.hosts, 'local') && r.roles.length > 0).map((r) => ({
          name: r.name,
          status: 403,
          namesRoles: true,
        })),
      );
    });

    it('in Azure: a route only Azure serves shares its handler and its roles with a route the local test asks', () => {
      for (const route of ROUTES.filter((r) => !servedBy(r.hosts, 'local'))) {
        const twin = ROUTES.find((r) => servedBy(r.hosts, 'local') && r.handler === route.handler);
        expect({ name: route.name, roles: twin?.roles }).toEqual({ name: route.name, roles: route.roles });
      }
    });
  });

  it('declares why a host lacks a function, and hands a host-handled route to a host that has one', () => {
    for (const entry of [...EVENT_TRIGGERS, ...ROUTES, ...TIMERS]) {
      if (entry.hosts !== 'both') expect(entry.hosts.reason.length).toBeGreaterThan(20);
    }
    // The local host has no Event Grid (its pushes arrive as registry notifications, a route of the table).
    expect(EVENT_TRIGGERS.filter((t) => servedBy(t.hosts, 'local')).map((t) => t.name)).toEqual([]);
    // The Functions host serves HTTP under /api/ only.
    expect(ROUTES.filter((r) => servedBy(r.hosts, 'azure') && !r.path.startsWith('/api/')).map((r) => r.name)).toEqual(
      [],
    );
    // A route both hosts serve takes its handler from the table: the hosts never diverge on it.
    expect(ROUTES.filter((r) => r.hosts === 'both' && r.handler === 'host').map((r) => r.name)).toEqual([]);
    // Function names are unique per host (the Functions host refuses a duplicate).
    const azure = [
      ...EVENT_TRIGGERS.filter((t) => servedBy(t.hosts, 'azure')),
      ...ROUTES.filter((r) => servedBy(r.hosts, 'azure')),
    ].map((e) => e.name);
    expect(new Set(azure).size).toBe(azure.length);
  });

  it('matches paths as the Functions host does', () => {
    expect(matchPath('/api/rescan/{instanceId}', '/api/rescan/a%2Fb')).toEqual({ instanceId: 'a/b' });
    expect(matchPath('/api/rescan/{instanceId}', '/api/rescan/%E0')).toEqual({ instanceId: '%E0' });
    expect(matchPath('/api/rescan/{instanceId}', '/api/rescan/a/b')).toBeUndefined();
    expect(matchPath('/api/verdicts/{*image}', '/api/verdicts/r.io/a%40b/c')).toEqual({ image: 'r.io/a%40b/c' });
    expect(matchPath('/{file?}', '/')).toEqual({ file: '' });
    expect(matchPath('/{file?}', '/app.js')).toEqual({ file: 'app.js' });
    expect(matchPath('/{file?}', '/api/images')).toBeUndefined();
    expect(matchPath('/api/images', '/api/images/')).toBeUndefined();
  });

  it('is rendered in docs/architecture.md', () => {
    const doc = readFileSync(resolve(__dirname, '../../docs/architecture.md'), 'utf8');
    const found = /<!-- function-table:begin[^>]*-->\n([\s\S]*?)<!-- function-table:end -->/.exec(doc);
    expect(found?.[1]).toEqual(renderFunctionTable());
  });
});
