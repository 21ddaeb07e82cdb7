/**
 * doctor's live path: the real ResourceGraphClient (and its pipeline for ARM GETs) against a loopback HTTPS
 * stand-in speaking the Resource Graph and ARM contracts (test/support/armInventory.ts), serving the seed
 * deployment. The live snapshot holds exactly the seed's resources; doctor gives the same answers live as
 * from the snapshot file `doctor snapshot` writes; failures and unbounded paging fail closed with their codes.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AzureInventory } from '../../src/adapters/azureInventory';
import { FileAuditStore } from '../../src/adapters/auditStore';
import { doctorCommand } from '../../src/cli/doctor';
import { buildSnapshot, diagnosePlatform } from '../../src/core/doctor';
import { isGuardError } from '../../src/core/errors';
import { alertDiagnoser } from '../../src/jobs/doctor';
import { testCredential } from '../support/azureStandIns';
import { startInventory, type InventoryStandIn } from '../support/armInventory';
import { SEED, SeedIds, hubResolver, seedResources } from '../support/doctorSeeds';
import { blockedApiVerdict, releasedApiVerdict } from '../support/doctorVerdicts';

const SCOPE = `/subscriptions/${SEED.subscription}`;
let stand: InventoryStandIn;
let seed: Array<Record<string, unknown>>;
let dir: string;

beforeAll(async () => {
  seed = await seedResources();
  stand = await startInventory(seed);
  dir = mkdtempSync(join(tmpdir(), 'doctor-live-'));
});
afterAll(async () => {
  await stand.server.close();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => {
  stand.fault = undefined;
  stand.resources = seed;
});

const inventory = (maxPages?: number) =>
  new AzureInventory({
    credential: testCredential(),
    endpoint: stand.server.url,
    httpsAgent: stand.server.agent(),
    maxPages,
  });
async function cli(argv: string[], env: Record<string, string> = {}) {
  let out = '';
  let err = '';
  const code = await doctorCommand(
    argv,
    { out: (s) => (out += `${s}\n`), err: (s) => (err += `${s}\n`) },
    { env: { ACR_GUARD_ARM_ENDPOINT: stand.server.url, ...env }, credential: testCredential(), ca: stand.server.ca },
  );
  return { code, out, err };
}

describe('live inventory (Resource Graph + ARM on loopback)', () => {
  it('reads every seed resource, paging through $skipToken and nextLink, with GETs and queries only', async () => {
    stand.server.requests.length = 0;
    const doc = await inventory().snapshot(SCOPE);
    const ids = (rs: Array<Record<string, unknown>>) => rs.map((r) => String(r.id).toLowerCase()).sort();
    expect(ids(doc.resources)).toEqual(ids(seed));
    expect(
      diagnosePlatform({ snapshot: buildSnapshot(doc.resources) }).checks.filter((c) => c.status !== 'pass'),
    ).toEqual([]);
    const methods = new Set(stand.server.requests.map((r) => `${r.method} ${r.method === 'POST' ? r.path : ''}`));
    expect(methods).toEqual(new Set(['GET ', 'POST /providers/Microsoft.ResourceGraph/resources']));
    // Paged: more than one Resource Graph page for the resources table, and nextLinks followed.
    expect(
      stand.server.requests.filter(
        (r) => r.method === 'POST' && (r.json as { options: { $skipToken?: string } }).options.$skipToken,
      ).length,
    ).toBeGreaterThan(2);
    expect(stand.server.requests.some((r) => r.query.get('$skiptoken'))).toBe(true);
  });

  it('doctor pull live equals doctor pull on the file `doctor snapshot` writes', async () => {
    const audit = join(dir, 'audit');
    await new FileAuditStore(audit).recordVerdict(blockedApiVerdict());
    const live = await cli([
      'pull',
      `ca-api-${SEED.token}`,
      '--scope',
      SCOPE,
      '--audit-dir',
      audit,
      '--output',
      'json',
    ]);
    expect(live.code).toBe(3);
    const snap = await cli(['snapshot', '--scope', SCOPE]);
    expect(snap.code).toBe(0);
    const file = join(dir, 'snapshot.json');
    writeFileSync(file, snap.out);
    const offline = await cli([
      'pull',
      `ca-api-${SEED.token}`,
      '--snapshot',
      file,
      '--audit-dir',
      audit,
      '--output',
      'json',
    ]);
    expect(offline.out).toBe(live.out);
    expect(
      JSON.parse(live.out)
        .checks.filter((c: { status: string }) => c.status !== 'pass')
        .map((c: { name: string }) => c.name),
    ).toEqual(['pull.gate-verdict']);
  });

  it('a zone link deleted in Azure shows up live as the failing check', async () => {
    stand.resources = seed.filter((r) => !String(r.type).toLowerCase().endsWith('virtualnetworklinks'));
    const audit = join(dir, 'audit-ok');
    await new FileAuditStore(audit).recordVerdict(releasedApiVerdict());
    const r = await cli(['pull', SeedIds.api, '--scope', SCOPE, '--audit-dir', audit, '--output', 'json']);
    expect(r.code).toBe(3);
    expect(
      JSON.parse(r.out)
        .checks.filter((c: { status: string }) => c.status !== 'pass')
        .map((c: { name: string }) => c.name),
    ).toEqual(['pull.dns-zone-link']);
  });

  it('issue 17 case 6, live: one id answered twice is refused (UsageError, exit 2) and `doctor snapshot` writes nothing', async () => {
    const reg = seed.find((r) => r.id === SeedIds.registry) as Record<string, unknown>;
    // Resource Graph answers the registry twice (a page repeated), the second time in upper case and unlocked.
    stand.resources = [
      ...seed,
      {
        ...reg,
        id: SeedIds.registry.toUpperCase(),
        properties: { ...(reg.properties as object), adminUserEnabled: true },
      },
    ];
    for (const argv of [
      ['platform', '--scope', SCOPE],
      ['snapshot', '--scope', SCOPE],
    ]) {
      let out = '';
      const run = doctorCommand(
        argv,
        { out: (x) => (out += x), err: () => undefined },
        { env: { ACR_GUARD_ARM_ENDPOINT: stand.server.url }, credential: testCredential(), ca: stand.server.ca },
      );
      await expect(run).rejects.toMatchObject({
        name: 'UsageError',
        message: expect.stringContaining(`"${SeedIds.registry.toUpperCase()}" is already`),
      });
      expect(out).toBe('');
    }
  });

  it('issue 17 case 6, live: custom DNS servers, an ABAC-mode registry, and an empty subscription are never a pass', async () => {
    const audit = join(dir, 'audit-case6');
    await new FileAuditStore(audit).recordVerdict(releasedApiVerdict());
    stand.resources = seed.map((r) =>
      r.id === SeedIds.vnet
        ? { ...r, properties: { ...(r.properties as object), dhcpOptions: { dnsServers: ['10.0.0.4'] } } }
        : r.id === SeedIds.registry
          ? { ...r, properties: { ...(r.properties as object), roleAssignmentMode: 'AbacRepositoryPermissions' } }
          : r,
    );
    const r = await cli(['pull', SeedIds.api, '--scope', SCOPE, '--audit-dir', audit, '--output', 'json']);
    expect(r.code).toBe(3);
    const notPassing = JSON.parse(r.out)
      .checks.filter((c: { status: string }) => c.status !== 'pass')
      .map((c: { name: string; status: string }) => `${c.name} ${c.status}`);
    expect(notPassing).toEqual([
      'pull.dns-zone-link inconclusive',
      'pull.dns-a-record inconclusive',
      'pull.dns-a-record inconclusive',
      'pull.identity-role fail',
    ]);
    stand.resources = [];
    expect((await cli(['platform', '--scope', SCOPE])).code).toBe(3);
    expect((await cli(['identities', '--scope', SCOPE])).code).toBe(3);
  });

  it('issue 17 case 6, live: custom DNS servers that are a resolver in the hub are followed through the ARM listings', async () => {
    const audit = join(dir, 'audit-resolver');
    await new FileAuditStore(audit).recordVerdict(releasedApiVerdict());
    const behind = seed.map((r) =>
      r.id === SeedIds.vnet
        ? { ...r, properties: { ...(r.properties as object), dhcpOptions: { dnsServers: ['10.50.0.4'] } } }
        : r,
    );
    stand.resources = [...behind, ...hubResolver(true)];
    stand.server.requests.length = 0;
    const r = await cli(['pull', SeedIds.api, '--scope', SCOPE, '--audit-dir', audit, '--output', 'json']);
    expect(r.code).toBe(0);
    expect(stand.server.requests.some((q) => q.path.endsWith('/dnsResolvers/dnspr-hub/inboundEndpoints'))).toBe(true);
    const link = JSON.parse(r.out).checks.find((c: { name: string }) => c.name === 'pull.dns-zone-link');
    expect(link.reason).toContain('DNS private resolver dnspr-hub in vnet-hub');
    // Without the hub's link the followed check fails, naming the hub.
    stand.resources = [...behind, ...hubResolver(false)];
    expect((await cli(['pull', SeedIds.api, '--scope', SCOPE, '--audit-dir', audit])).code).toBe(3);
  });

  it("a 403 from Resource Graph: UPSTREAM naming the role, no snapshot (the CLI's main maps it to exit 1)", async () => {
    stand.fault = (req) =>
      req.method === 'POST' && /authorizationresources/.test(String((req.json as { query?: string }).query))
        ? { status: 403, body: { error: { code: 'AuthorizationFailed', message: 'no' } } }
        : undefined;
    await expect(inventory().snapshot(SCOPE)).rejects.toMatchObject({
      code: 'UPSTREAM',
      message: expect.stringContaining('grant the identity Reader'),
    });
    await expect(cli(['platform', '--scope', SCOPE])).rejects.toMatchObject({ code: 'UPSTREAM' });
  });

  it('paging past MAX pages: INVENTORY_TOO_MANY_PAGES; a nextLink off the endpoint: MALFORMED', async () => {
    stand.pageSize = 1;
    try {
      await expect(inventory(3).snapshot(SCOPE)).rejects.toMatchObject({ code: 'INVENTORY_TOO_MANY_PAGES' });
    } finally {
      stand.pageSize = 4;
    }
    stand.fault = (req) =>
      req.method === 'GET' && /virtualNetworkLinks$/.test(req.path)
        ? { status: 200, body: { value: [], nextLink: 'https://evil.example/steal' } }
        : undefined;
    const err = await inventory()
      .snapshot(SCOPE)
      .catch((e) => e);
    expect(isGuardError(err, 'MALFORMED')).toBe(true);
    expect(stand.server.requests.some((r) => r.headers.host === 'evil.example')).toBe(false);
  });

  it('the alert diagnosis: the checks that did not pass, or the reason within the time bound', async () => {
    const audit = new FileAuditStore(join(dir, 'audit-alert'));
    await audit.recordVerdict(blockedApiVerdict());
    const diagnose = alertDiagnoser({
      snapshot: async () => buildSnapshot((await inventory().snapshot(SCOPE)).resources),
      audit,
    });
    const d = await diagnose(`ca-api-${SEED.token}`);
    expect(d).toMatchObject({
      status: 'ok',
      notPassing: [expect.objectContaining({ id: 'pull.gate-verdict', status: 'fail' })],
    });
    const slow = alertDiagnoser({ snapshot: () => new Promise(() => undefined), timeoutMs: 50 });
    const t0 = Date.now();
    expect(await slow('x')).toEqual({
      command: 'acr-guard doctor pull x',
      status: 'error',
      reason: 'doctor did not finish within 0 s',
    });
    expect(Date.now() - t0).toBeLessThan(1000);
    stand.fault = () => ({ status: 403, body: { error: { code: 'AuthorizationFailed', message: 'no' } } });
    expect(await diagnose('x')).toMatchObject({ status: 'error', reason: expect.stringContaining('UPSTREAM') });
  });
});
