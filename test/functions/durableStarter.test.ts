/**
 * The rescan handler over the REAL durable-functions client (`df.getClient(context)`), talking to a loopback
 * server that speaks the Durable extension's HTTP API (rpcBaseUrl: `POST orchestrators/{name}/{id}`,
 * `GET instances/{id}`), as the Functions host provides it. Shows what the client sends, how statuses and 404
 * map, and that the answer never carries the host's system key although the client holds it.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpRequest, InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { durableOrchestrationStarter } from '../../src/functions/durableStarter';
import { handleRescan, handleRescanStatus } from '../../src/app/rescan';
import { loadPolicy } from '../../src/core/policy';
import type { RegistryClientFactory } from '../../src/adapters/ports';

const SYSTEM_KEY = 'durable-system-key-0123456789abcdef';
const DIGEST = `sha256:${'c'.repeat(64)}`;

describe('durable client starter', () => {
  let server: Server;
  let base: string;
  const instances = new Map<string, { name: string; input: unknown; createdTime: string }>();
  const requests: string[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://x');
        requests.push(`${req.method} ${url.pathname}`);
        const start = /^\/durabletask\/orchestrators\/([^/]+)\/([^/]+)$/.exec(url.pathname);
        const status = /^\/durabletask\/instances\/([^/]+)$/.exec(url.pathname);
        res.setHeader('content-type', 'application/json');
        if (req.method === 'POST' && start) {
          instances.set(start[2], {
            name: start[1],
            input: body ? JSON.parse(body) : undefined,
            createdTime: '2026-11-30T10:00:00Z',
          });
          res.writeHead(202).end(JSON.stringify({ id: start[2] }));
        } else if (req.method === 'GET' && status) {
          const instance = instances.get(status[1]);
          if (!instance) return res.writeHead(404).end('');
          res.writeHead(200).end(
            JSON.stringify({
              name: instance.name,
              instanceId: status[1],
              runtimeStatus: 'Running',
              input: instance.input,
              customStatus: { step: 'collecting-findings', pending: ['linux/amd64:reports'] },
              output: null,
              createdTime: instance.createdTime,
              lastUpdatedTime: '2026-11-30T10:00:05Z',
            }),
          );
        } else {
          res.writeHead(400).end('{}');
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  /** An InvocationContext carrying the durable client binding input as the host fills it. */
  function contextWithClient(): InvocationContext {
    const input = df.input.durableClient();
    const context = new InvocationContext({
      invocationId: 'i',
      functionName: 'rescan',
      options: { extraInputs: [input] },
      logHandler: () => undefined,
    });
    const webhooks = `${base}/runtime/webhooks/durabletask`;
    context.extraInputs.set(input, {
      taskHubName: 'acrguard',
      creationUrls: {
        createNewInstancePostUri: `${webhooks}/orchestrators/{functionName}[/{instanceId}]?code=${SYSTEM_KEY}`,
        createAndWaitOnNewInstancePostUri: `${webhooks}/orchestrators/{functionName}[/{instanceId}]?timeout={timeoutInSeconds}&code=${SYSTEM_KEY}`,
      },
      managementUrls: {
        id: 'INSTANCEID',
        statusQueryGetUri: `${webhooks}/instances/INSTANCEID?taskHub=acrguard&connection=Storage&code=${SYSTEM_KEY}`,
        sendEventPostUri: `${webhooks}/instances/INSTANCEID/raiseEvent/{eventName}?taskHub=acrguard&connection=Storage&code=${SYSTEM_KEY}`,
        terminatePostUri: `${webhooks}/instances/INSTANCEID/terminate?reason={text}&taskHub=acrguard&connection=Storage&code=${SYSTEM_KEY}`,
        rewindPostUri: `${webhooks}/instances/INSTANCEID/rewind?reason={text}&taskHub=acrguard&connection=Storage&code=${SYSTEM_KEY}`,
        purgeHistoryDeleteUri: `${webhooks}/instances/INSTANCEID?taskHub=acrguard&connection=Storage&code=${SYSTEM_KEY}`,
      },
      baseUrl: webhooks,
      requiredQueryStringParameters: `code=${SYSTEM_KEY}`,
      rpcBaseUrl: `${base}/durabletask/`,
    });
    return context;
  }

  it('maps an unknown instance to undefined and reads a known one', async () => {
    const starter = durableOrchestrationStarter(df.getClient(contextWithClient()));
    expect(await starter.getState('gate-0000000000000000000000000000000000000000')).toBeUndefined();
    expect(await starter.getStatus('gate-0000000000000000000000000000000000000000')).toBeUndefined();
  });

  it('starts imageGate with a fresh rescan id through the client; the 202 has no system key; the status reads through', async () => {
    const policy = loadPolicy(
      'version: 1\nregistries: [{ host: "contoso.azurecr.io" }]\ngate: []\nretention: []\n',
      'test policy',
    );
    const noRegistry: RegistryClientFactory = () => {
      throw new Error('a digest rescan needs no registry call');
    };
    const context = contextWithClient();
    const deps = {
      policy,
      starter: durableOrchestrationStarter(df.getClient(context)),
      registry: noRegistry,
      auth: 'off' as const,
    };
    const request = new HttpRequest({
      method: 'POST',
      url: 'https://acr-guard.azurewebsites.net/api/rescan',
      headers: { 'content-type': 'application/json' },
      body: { string: JSON.stringify({ image: `contoso.azurecr.io/team/api@${DIGEST}` }) },
    });
    const res = await handleRescan(request, deps, context);
    expect(res.status).toBe(202);
    const rescan = (res.jsonBody as { rescans: Array<{ id: string; statusQueryGetUri: string }> }).rescans[0];
    expect(rescan.statusQueryGetUri).toBe(`https://acr-guard.azurewebsites.net/api/rescan/${rescan.id}`);
    expect(JSON.stringify(res)).not.toContain(SYSTEM_KEY);
    expect(JSON.stringify(res)).not.toMatch(/code=/);
    expect(requests).toContain(`POST /durabletask/orchestrators/imageGate/${rescan.id}`);
    expect(instances.get(rescan.id)?.input).toEqual({
      image: { registry: 'contoso.azurecr.io', repository: 'team/api', digest: DIGEST },
      trigger: 'rescan',
    });

    const status = await handleRescanStatus(
      new HttpRequest({
        method: 'GET',
        url: `https://acr-guard.azurewebsites.net/api/rescan/${rescan.id}`,
        params: { instanceId: rescan.id },
      }),
      deps,
      context,
    );
    expect(status.status).toBe(200);
    // A gate still running: the envelope says pending (nothing released yet), beside the status fields as before.
    expect(status.jsonBody).toMatchObject({ kind: 'RescanResult', outcome: 'pending', exitCode: 3, errors: [] });
    const {
      apiVersion: _v,
      kind: _k,
      subject: _s,
      outcome: _o,
      summary: _m,
      checks: _c,
      counts: _n,
      errors: _e,
      exitCode: _x,
      data: _d,
      ...fields
    } = status.jsonBody as Record<string, unknown>;
    expect(fields).toEqual({
      id: rescan.id,
      runtimeStatus: 'Running',
      customStatus: { step: 'collecting-findings', pending: ['linux/amd64:reports'] },
      output: null,
      createdTime: '2026-11-30T10:00:00.000Z',
      lastUpdatedTime: '2026-11-30T10:00:05.000Z',
    });
    expect(JSON.stringify(status)).not.toContain(SYSTEM_KEY);
  });
});
