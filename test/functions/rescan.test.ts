/**
 * The HTTP handlers (`POST /api/rescan`, `GET /api/rescan/{id}`, `GET /api/verdicts/{*image}`) called as the
 * host calls them: real HttpRequest and InvocationContext, a real docker-registry on loopback, the real
 * orchestration run by the local runner, hostile bodies and references.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import { handleRescan, handleRescanStatus, MAX_REPOSITORY_TAGS, parseRescanBody } from '../../src/app/rescan';
import { handleVerdict } from '../../src/app/verdicts';
import { startGateOnce } from '../../src/app/orchestrationStarter';
import { MAX_BODY_BYTES, type HttpAuthMode } from '../../src/app/http';
import { gateInstanceId } from '../../src/core/reference';
import { MediaTypes, type ImageId, type Verdict } from '../../src/core/types';
import { MemoryAuditStore } from '../../src/adapters/auditStore';
import type { RegistryClientFactory } from '../../src/adapters/ports';
import { composeGateServices } from '../../src/app/compose';
import { LocalOrchestrationHost } from '../../src/local/orchestrationHost';
import { useReportsRegistry } from '../support/pushSamples';
import { expectValidResult } from '../support/resultSchema';
import { verdictResultOf } from '../../src/core/result';
import { formatImage } from '../../src/core/reference';

const ORIGIN = 'http://localhost:7071';

function context(): InvocationContext {
  return new InvocationContext({
    invocationId: 'test-invocation',
    functionName: 'rescan',
    logHandler: () => undefined,
  });
}

function principal(roles: string[]): string {
  const claims = [{ typ: 'name', val: 'ops@contoso.com' }, ...roles.map((val) => ({ typ: 'roles', val }))];
  return Buffer.from(JSON.stringify({ auth_typ: 'aad', claims, name_typ: 'name', role_typ: 'roles' })).toString(
    'base64',
  );
}

function post(body: unknown, headers: Record<string, string> = {}): HttpRequest {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return new HttpRequest({
    method: 'POST',
    url: `${ORIGIN}/api/rescan`,
    headers: { 'content-type': 'application/json', ...headers },
    body: { string: text },
  });
}

function get(path: string, params: Record<string, string>, headers: Record<string, string> = {}): HttpRequest {
  return new HttpRequest({ method: 'GET', url: `${ORIGIN}${path}`, headers, params });
}

type Json = Record<string, any>;

function body(res: HttpResponseInit): Json {
  return res.jsonBody as Json;
}

describe('HTTP rescan and verdicts', () => {
  const gated = useReportsRegistry();
  const { reg, pushWithReport } = gated;

  /** Services over the real registry; the factory counts the hosts it was asked for. */
  function setup(auth: HttpAuthMode = 'off') {
    const audit = new MemoryAuditStore();
    const services = composeGateServices({ policy: () => gated.policy, audit, plainHttpHosts: [reg.registry.host] });
    const asked: string[] = [];
    const countingRegistry: RegistryClientFactory = (host) => {
      asked.push(host);
      return services.registry(host);
    };
    const runner = new LocalOrchestrationHost({ services, timers: 'virtual' });
    const deps = { policy: gated.policy, starter: runner, registry: countingRegistry, auth };
    return { audit, runner, deps, asked };
  }

  it('rescans a digest under a fresh instance id even after its push gate completed, and answers 202 with status links and no secret', async () => {
    const image = await pushWithReport('team/api', 'v1', false);
    const { audit, runner, deps } = setup();
    await startGateOnce(runner, { image, tag: 'v1', trigger: 'push' });
    await runner.settled();
    expect(await runner.getState(gateInstanceId(image))).toBe('Completed');

    const res = await handleRescan(
      post({ image: `${image.registry}/${image.repository}@${image.digest}` }),
      deps,
      context(),
    );
    expect(res.status).toBe(202);
    const rescan = body(res).rescans[0];
    expect(rescan).toMatchObject({ image: `${image.registry}/${image.repository}@${image.digest}`, started: true });
    expect(rescan.id).toMatch(/^rescan-[0-9a-f]{32}$/);
    expect(rescan.id).not.toBe(gateInstanceId(image));
    expect(rescan.statusQueryGetUri).toBe(`${ORIGIN}/api/rescan/${rescan.id}`);
    expect(rescan.verdictGetUri).toBe(`${ORIGIN}/api/verdicts/${image.registry}/${image.repository}@${image.digest}`);
    expect((res.headers as Record<string, string>).location).toBe(rescan.statusQueryGetUri);
    expect(JSON.stringify(res.jsonBody)).not.toMatch(/code=|sig=|key|token|secret|password/i);

    // A second rescan of the same digest is another instance.
    const again = body(
      await handleRescan(post({ image: `${image.registry}/${image.repository}@${image.digest}` }), deps, context()),
    ).rescans[0];
    expect(again.id).not.toBe(rescan.id);
    await runner.settled();
    const verdicts = await audit.listVerdicts(image.registry, image.repository);
    expect(verdicts).toHaveLength(3);
    expect(verdicts.every((v) => v.decision === 'release')).toBe(true);

    const status = await handleRescanStatus(
      get(`/api/rescan/${rescan.id}`, { instanceId: rescan.id }),
      deps,
      context(),
    );
    expect(status.status).toBe(200);
    expect(body(status)).toMatchObject({
      id: rescan.id,
      runtimeStatus: 'Completed',
      output: { status: 'decided', verdict: { decision: 'release' } },
    });
    expect(body(status).output.verdict.image).toEqual(image);
  });

  it('resolves a tag to its digest first and gates the digest', async () => {
    const image = await pushWithReport('team/worker', 'v2', true);
    const { audit, runner, deps, asked } = setup();
    const res = await handleRescan(post({ image: `${image.registry}/${image.repository}:v2` }), deps, context());
    expect(res.status).toBe(202);
    expect(body(res).rescans[0]).toMatchObject({
      image: `${image.registry}/${image.repository}@${image.digest}`,
      tag: 'v2',
    });
    expect(asked).toEqual([reg.registry.host]);
    await runner.settled();
    const verdict = await audit.latestVerdict(image);
    expect(verdict?.decision).toBe('block');
    expect(verdict?.summary).toContain('CVE-2024-6119');
  });

  it('rescans every tagged digest of a repository once (two tags on one digest are one gate)', async () => {
    const a = await pushWithReport('team/multi', 'a', false);
    await reg.client.putManifest(
      'team/multi',
      'a-again',
      (await reg.client.getManifest('team/multi', a.digest)).bytes,
      MediaTypes.ociManifest,
    );
    const b = await pushWithReport('team/multi', 'b', false);
    const { audit, runner, deps } = setup();
    const res = await handleRescan(post({ repository: `${reg.registry.host}/team/multi` }), deps, context());
    expect(res.status).toBe(202);
    const images = body(res)
      .rescans.map((r: Json) => r.image)
      .sort();
    expect(images).toEqual(
      [`${reg.registry.host}/team/multi@${a.digest}`, `${reg.registry.host}/team/multi@${b.digest}`].sort(),
    );
    await runner.settled();
    expect(await audit.latestVerdict(a)).toBeDefined();
    expect(await audit.latestVerdict(b)).toBeDefined();
  });

  describe('a reference with a tag and a digest: the tag must point at the digest in the registry now', () => {
    it('refuses a tag that points at another digest with 400 on image, checked before anything starts', async () => {
      const older = await pushWithReport('team/pin', 'v1', false);
      const newer = await pushWithReport('team/pin', 'v1-b', false);
      const manifest = await reg.client.getManifest('team/pin', newer.digest);
      await reg.client.putManifest('team/pin', 'v1', manifest.bytes, manifest.mediaType);
      const { deps, runner } = setup();
      const res = await handleRescan(
        post({ image: `${reg.registry.host}/team/pin:v1@${older.digest}` }),
        deps,
        context(),
      );
      expect(res.status).toBe(400);
      expect(body(res).error).toMatchObject({ code: 'INVALID_INPUT', field: 'image' });
      expect(body(res).error.message).toContain(`points at ${newer.digest}`);
      expect(runner.list()).toEqual([]);
    });

    it('refuses a tag the repository never had with 400 on image', async () => {
      const image = await pushWithReport('team/pin2', 'v1', false);
      const { deps, runner } = setup();
      const res = await handleRescan(
        post({ image: `${reg.registry.host}/team/pin2:release-9@${image.digest}` }),
        deps,
        context(),
      );
      expect(res.status).toBe(400);
      expect(body(res).error).toMatchObject({ code: 'INVALID_INPUT', field: 'image' });
      expect(body(res).error.message).toContain('does not exist');
      expect(runner.list()).toEqual([]);
    });

    it('accepts the tag when it points at the digest, and gates that digest with the tag', async () => {
      const image = await pushWithReport('team/pin3', 'v1', false);
      const { deps, runner } = setup();
      const res = await handleRescan(
        post({ image: `${reg.registry.host}/team/pin3:v1@${image.digest}` }),
        deps,
        context(),
      );
      expect(res.status).toBe(202);
      expect(body(res).rescans[0]).toMatchObject({
        image: `${reg.registry.host}/team/pin3@${image.digest}`,
        tag: 'v1',
        started: true,
      });
      await runner.settled();
    });
  });

  it('answers 404 for a tag that does not exist, and starts nothing', async () => {
    const { runner, deps } = setup();
    const res = await handleRescan(post({ image: `${reg.registry.host}/team/api:nope` }), deps, context());
    expect(res.status).toBe(404);
    expect(body(res).error.code).toBe('NOT_FOUND');
    expect(runner.list()).toEqual([]);
  });

  describe('hostile bodies: 400 naming the field and the expected form', () => {
    const cases: Array<[string, unknown, string]> = [
      ['not an object', '"just a string"', 'body'],
      ['an array', [{ image: 'x' }], 'body'],
      ['neither field', {}, 'body'],
      ['both fields', { image: 'a.io/b@sha256:' + 'a'.repeat(64), repository: 'a.io/b' }, 'body'],
      ['an unknown field', { image: 'a.io/b:1', force: true }, 'force'],
      ['image not a string', { image: 42 }, 'image'],
      ['image an object', { image: { registry: 'a.io' } }, 'image'],
      ['no registry', { image: 'team/api:v1' }, 'image'],
      ['neither tag nor digest', { image: 'a.io/team/api' }, 'image'],
      ['bad digest', { image: 'a.io/team/api@sha256:abc' }, 'image'],
      ['upper-case repository', { image: 'a.io/Team/api:v1' }, 'image'],
      ['a URL', { image: 'http://a.io/team/api:v1' }, 'image'],
      ['user@host', { image: 'user@a.io/team/api:v1' }, 'image'],
      ['credentials in the host', { image: 'user:pass@a.io/team/api:v1' }, 'image'],
      ['path traversal', { image: 'a.io/../team/api:v1' }, 'image'],
      ['query in the reference', { image: 'a.io/team/api:v1?x=1' }, 'image'],
      ['newline injection', { image: 'a.io/team/api:v1\r\nHost: evil' }, 'image'],
      ['an over-long reference', { image: `a.io/${'a'.repeat(1100)}:v1` }, 'image'],
      ['repository with a tag', { repository: 'a.io/team/api:v1' }, 'repository'],
      ['repository not a string', { repository: ['a.io/team/api'] }, 'repository'],
      ['not JSON', '{"image": ', 'body'],
      ['empty', '', 'body'],
      ['__proto__ key', '{"__proto__": {"image": "a.io/b:1"}}', '__proto__'],
    ];
    it.each(cases)('%s', async (_name, payload, field) => {
      const { deps, asked, runner } = setup();
      const res = await handleRescan(post(payload), deps, context());
      expect(res.status).toBe(400);
      expect(body(res).error).toMatchObject({ code: 'INVALID_INPUT', field });
      expect(body(res).error.message).toMatch(/expected/);
      expect(asked).toEqual([]);
      expect(runner.list()).toEqual([]);
    });

    it('the pure parser names the field too', () => {
      expect(() => parseRescanBody({ image: 'a.io/team/api' })).toThrow(/image: expected/);
    });
  });

  describe('registries outside the allowlist and SSRF targets: 403 (or 400), and no request leaves the app', () => {
    let trap: Server;
    let trapHost: string;
    let connections = 0;
    beforeAll(async () => {
      trap = createServer((_req, res) => res.end('{}'));
      trap.on('connection', () => connections++);
      await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', resolve));
      trapHost = `127.0.0.1:${(trap.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      await new Promise((resolve) => trap.close(resolve));
    });

    const refused = (): string[] => {
      const port = Number(reg.registry.host.split(':')[1]);
      return [
        `${trapHost}/team/api:v1`,
        `${trapHost}/team/api@sha256:${'a'.repeat(64)}`,
        '127.0.0.1/team/api:v1',
        `127.0.0.1:${port + 1}/team/api:v1`,
        `localhost:${port}/team/api:v1`,
        '169.254.169.254/metadata/instance:latest',
        '[::1]:5000/team/api:v1',
        '[fd00:ec2::254]/team/api:v1',
        '10.0.0.1/team/api:v1',
        'metadata.google.internal/computemetadata:v1',
        'contoso.azurecr.io.evil.example/team/api:v1',
      ];
    };

    it('refuses each with 403 REGISTRY_NOT_ALLOWED before any registry client is created', async () => {
      for (const ref of refused()) {
        const { deps, asked, runner } = setup();
        const res = await handleRescan(post({ image: ref }), deps, context());
        expect([ref, res.status]).toEqual([ref, 403]);
        expect(body(res).error.code).toBe('REGISTRY_NOT_ALLOWED');
        expect(body(res).error.message).toContain('no request was made');
        expect(asked).toEqual([]);
        expect(runner.list()).toEqual([]);
      }
      const { deps, asked } = setup();
      const repo = await handleRescan(post({ repository: `${trapHost}/team/api` }), deps, context());
      expect(repo.status).toBe(403);
      expect(asked).toEqual([]);
      expect(connections).toBe(0);
    });
  });

  it('refuses bodies over the limit with 413 (declared or streamed) and other content types with 415', async () => {
    const { deps } = setup();
    const big = JSON.stringify({ image: `${reg.registry.host}/team/api:v1`, pad: 'x'.repeat(MAX_BODY_BYTES) });
    const declared = await handleRescan(
      post(big, { 'content-length': String(Buffer.byteLength(big)) }),
      deps,
      context(),
    );
    expect(declared.status).toBe(413);
    const streamed = await handleRescan(post(big), deps, context());
    expect(streamed.status).toBe(413);
    expect(body(streamed).error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', field: 'body' });
    for (const type of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'application/json; charset=latin1',
      'multipart/form-data; boundary=x',
    ]) {
      const res = await handleRescan(
        post({ image: `${reg.registry.host}/team/api:v1` }, { 'content-type': type }),
        deps,
        context(),
      );
      expect([type, res.status]).toEqual([type, 415]);
    }
    const none = new HttpRequest({ method: 'POST', url: `${ORIGIN}/api/rescan`, body: { string: '{}' } });
    expect((await handleRescan(none, deps, context())).status).toBe(415);
  });

  it('requires the Rescan.Request app role through Easy Auth: 401 without a principal, 403 without the role', async () => {
    const image = await pushWithReport('team/authz', 'v1', false);
    const { deps, runner } = setup('easyauth');
    const ref = { image: `${image.registry}/${image.repository}@${image.digest}` };
    const none = await handleRescan(post(ref), deps, context());
    expect(none.status).toBe(401);
    expect(body(none).error.code).toBe('UNAUTHENTICATED');
    const garbage = await handleRescan(post(ref, { 'x-ms-client-principal': 'not base64 json!' }), deps, context());
    expect(garbage.status).toBe(401);
    const notJson = await handleRescan(
      post(ref, { 'x-ms-client-principal': Buffer.from('roles=Rescan.Request').toString('base64') }),
      deps,
      context(),
    );
    expect(notJson.status).toBe(401);
    const reader = await handleRescan(
      post(ref, { 'x-ms-client-principal': principal(['Verdicts.Read']) }),
      deps,
      context(),
    );
    expect(reader.status).toBe(403);
    expect(body(reader).error.message).toContain('Rescan.Request');
    expect(runner.list()).toEqual([]);
    const ok = await handleRescan(
      post(ref, { 'x-ms-client-principal': principal(['Rescan.Request']) }),
      deps,
      context(),
    );
    expect(ok.status).toBe(202);
    await runner.settled();
    // Reading needs Verdicts.Read or Rescan.Request.
    const id = body(ok).rescans[0].id;
    expect((await handleRescanStatus(get(`/api/rescan/${id}`, { instanceId: id }), deps, context())).status).toBe(401);
    expect(
      (
        await handleRescanStatus(
          get(`/api/rescan/${id}`, { instanceId: id }, { 'x-ms-client-principal': principal(['Other.Role']) }),
          deps,
          context(),
        )
      ).status,
    ).toBe(403);
    expect(
      (
        await handleRescanStatus(
          get(`/api/rescan/${id}`, { instanceId: id }, { 'x-ms-client-principal': principal(['Verdicts.Read']) }),
          deps,
          context(),
        )
      ).status,
    ).toBe(200);
  });

  it('status: 400 for a malformed id, 404 for an unknown one', async () => {
    const { deps } = setup();
    for (const id of ['../../etc/passwd', 'rescan-XYZ', 'gate-123', `rescan-${'a'.repeat(32)}/x`]) {
      expect((await handleRescanStatus(get(`/api/rescan/x`, { instanceId: id }), deps, context())).status).toBe(400);
    }
    const unknown = await handleRescanStatus(
      get('/api/rescan/x', { instanceId: `rescan-${'a'.repeat(32)}` }),
      deps,
      context(),
    );
    expect(unknown.status).toBe(404);
  });

  it(`refuses a repository with more than ${MAX_REPOSITORY_TAGS} tags, starting nothing`, async () => {
    const image = await pushWithReport('team/many', 't0', false);
    const bytes = (await reg.client.getManifest('team/many', image.digest)).bytes;
    for (let i = 1; i <= MAX_REPOSITORY_TAGS; i++)
      await reg.client.putManifest('team/many', `t${i}`, bytes, MediaTypes.ociManifest);
    const { deps, runner } = setup();
    const res = await handleRescan(post({ repository: `${reg.registry.host}/team/many` }), deps, context());
    expect(res.status).toBe(400);
    expect(body(res).error.field).toBe('repository');
    expect(runner.list()).toEqual([]);
  });

  describe('GET /api/verdicts/{*image}', () => {
    let image: ImageId;
    let audit: MemoryAuditStore;
    let verdict: Verdict;
    beforeAll(async () => {
      image = await pushWithReport('team/read', 'v1', false);
      const s = setup();
      audit = s.audit;
      await startGateOnce(s.runner, { image, tag: 'v1', trigger: 'push' });
      await s.runner.settled();
      verdict = (await audit.latestVerdict(image)) as Verdict;
    });

    const read = (route: string, auth: HttpAuthMode = 'off', headers: Record<string, string> = {}) =>
      handleVerdict(
        get(`/api/verdicts/${route}`, { image: route }, headers),
        { policy: gated.policy, audit, auth },
        context(),
      );

    it('returns the latest verdict by full reference, and by repository@digest when the policy has one registry', async () => {
      const full = await read(`${image.registry}/${image.repository}@${image.digest}`);
      expect(full.status).toBe(200);
      // The verdict's fields as recorded beside the envelope (its checks in the one shape, the verdict in `data`).
      const body = full.jsonBody as Record<string, unknown>;
      const { checks: _checks, ...fields } = verdict;
      void _checks;
      expect(body).toMatchObject({ ...fields, apiVersion: 'acr-guard.io/v1', kind: 'VerdictResult' });
      expect(body.data).toEqual({ verdict });
      expect(body.checks).toEqual(verdictResultOf(verdict, formatImage(image)).checks);
      expectValidResult(body, 'GET /api/verdicts');
      const short = await read(`${image.repository}@${image.digest}`);
      expect(short.jsonBody).toEqual(full.jsonBody);
      const encoded = await read(encodeURIComponent(`${image.registry}/${image.repository}@${image.digest}`));
      expect(encoded.status).toBe(200);
    });

    it('404 when no verdict is recorded; 400 for a tag or garbage; 403 outside the allowlist', async () => {
      expect((await read(`${image.registry}/${image.repository}@sha256:${'0'.repeat(64)}`)).status).toBe(404);
      const tag = await read(`${image.registry}/${image.repository}:v1`);
      expect(tag.status).toBe(400);
      expect(body(tag).error.message).toContain('per digest');
      expect((await read('')).status).toBe(400);
      expect((await read('%E0%A4%A')).status).toBe(400);
      expect((await read(`169.254.169.254/x@sha256:${'0'.repeat(64)}`)).status).toBe(403);
    });

    it('requires Verdicts.Read (or Rescan.Request) when Easy Auth is on', async () => {
      const route = `${image.registry}/${image.repository}@${image.digest}`;
      expect((await read(route, 'easyauth')).status).toBe(401);
      expect((await read(route, 'easyauth', { 'x-ms-client-principal': principal([]) })).status).toBe(403);
      expect((await read(route, 'easyauth', { 'x-ms-client-principal': principal(['Verdicts.Read']) })).status).toBe(
        200,
      );
    });
  });
});
