/**
 * `acr-guard doctor` from snapshot files: the two break-and-fix scenarios each diagnosed by one command
 * (ImagePullBackOff behind a private endpoint; an ACI identity with Contributor on the subscription), exit
 * codes 0/3/2, the JSON shape, and the gate's verdicts read from a real file audit store.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileAuditStore } from '../../src/adapters/auditStore';
import { pushImage } from '../../src/local/ociPush';
import { MAX_SNAPSHOT_CONTAINERS, MAX_SNAPSHOT_DEPTH } from '../../src/core/doctor';
import { runCli } from '../support/cli';
import { useRegistry } from '../support/registry';
import { SEED, SeedIds, seedResources } from '../support/doctorSeeds';
import { blockedApiVerdict, releasedApiVerdict } from '../support/doctorVerdicts';

type R = Record<string, unknown>;
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'doctor-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function snapshotFile(name: string, edit?: (rs: R[]) => R[] | void): Promise<string> {
  let rs = await seedResources();
  rs = edit?.(rs) ?? rs;
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ resources: rs }, null, 1));
  return file;
}

async function auditDir(name: string, ...verdicts: ReturnType<typeof releasedApiVerdict>[]): Promise<string> {
  const d = join(dir, `audit-${name}`);
  const store = new FileAuditStore(d);
  for (const v of verdicts) await store.recordVerdict(v);
  return d;
}

const workerReleased = () => ({
  ...releasedApiVerdict(),
  image: { ...releasedApiVerdict().image, repository: 'contoso/worker' },
  tag: '2.0.0',
});
/** Writes a command's output for docs/doctor.md when DOCTOR_DOCS_OUT names a directory. */
const keep = (name: string, text: string) =>
  process.env.DOCTOR_DOCS_OUT && writeFileSync(join(process.env.DOCTOR_DOCS_OUT, `${name}.txt`), text);

describe('scenario 1: ImagePullBackOff after public access is turned off', () => {
  const unlink = (rs: R[]) => {
    (rs.find((r) => r.id === `${SeedIds.zone}/virtualNetworkLinks/link-seed`) as R).properties = {
      registrationEnabled: false,
      virtualNetwork: { id: SeedIds.hubVnet },
    };
  };

  it("one command names the cause (zone not linked to the app's network) and the fix; after the fix it exits 0", async () => {
    const audit = await auditDir('released', releasedApiVerdict());
    const broken = await runCli([
      'doctor',
      'pull',
      `ca-api-${SEED.token}`,
      '--snapshot',
      await snapshotFile('broken-link', unlink),
      '--audit-dir',
      audit,
    ]);
    keep('pull-broken', broken.out);
    expect(broken.code).toBe(3);
    expect(broken.out).toMatch(
      /pull\.dns-zone-link\n {2}FAIL {4}privatelink\.azurecr\.io\n.*not linked to the workload's virtual network vnet-seed1/,
    );
    expect(broken.out).toContain(
      `fix: az network private-dns link vnet create -g ${SEED.resourceGroup} -z privatelink.azurecr.io -n link-vnet-${SEED.token} -v ${SeedIds.vnet} -e false`,
    );
    const fixed = await runCli([
      'doctor',
      'pull',
      `ca-api-${SEED.token}`,
      '--snapshot',
      await snapshotFile('fixed'),
      '--audit-dir',
      audit,
    ]);
    keep('pull-fixed', fixed.out);
    expect(fixed.code).toBe(0);
  });

  it("the image quarantined by the gate: the verdict's reasons and the rescan call, in JSON", async () => {
    const audit = await auditDir('blocked', blockedApiVerdict());
    const r = await runCli([
      'doctor',
      'pull',
      SeedIds.api,
      '--snapshot',
      await snapshotFile('healthy'),
      '--audit-dir',
      audit,
      '--output',
      'json',
    ]);
    expect(r.code).toBe(3);
    const checks = JSON.parse(r.out).checks as Array<Record<string, string>>;
    // The one check shape: {name, target, status, reason}, and `fix` only when the check does not pass.
    for (const c of checks)
      expect(Object.keys(c).sort()).toEqual(
        c.status === 'pass' ? ['name', 'reason', 'status', 'target'] : ['fix', 'name', 'reason', 'status', 'target'],
      );
    expect(checks.filter((c) => c.status !== 'pass')).toEqual([
      expect.objectContaining({ name: 'pull.gate-verdict', status: 'fail' }),
    ]);
  });

  it('without an audit store the verdict is unknown (exit 3), never pass', async () => {
    const r = await runCli([
      'doctor',
      'pull',
      `ci-worker-${SEED.token}`,
      '--snapshot',
      await snapshotFile('healthy2'),
      '--output',
      'json',
    ]);
    expect(r.code).toBe(3);
    expect(
      JSON.parse(r.out)
        .checks.filter((c: R) => c.status !== 'pass')
        .map((c: R) => `${c.name}:${c.status}`),
    ).toEqual(['pull.gate-verdict:inconclusive']);
    const ok = await runCli([
      'doctor',
      'pull',
      `ci-worker-${SEED.token}`,
      '--snapshot',
      await snapshotFile('healthy3'),
      '--audit-dir',
      await auditDir('worker', workerReleased()),
    ]);
    expect(ok.code).toBe(0);
  });
});

describe('scenario 2: a container group identity with Contributor on the subscription', () => {
  const contributor = (rs: R[]) => {
    const id = `/subscriptions/${SEED.subscription}/providers/Microsoft.Authorization/roleAssignments/99999999-0000-4000-8000-000000000000`;
    rs.push({
      id,
      name: id.split('/').pop(),
      type: 'Microsoft.Authorization/roleAssignments',
      properties: {
        principalId: SEED.principals.worker,
        principalType: 'ServicePrincipal',
        scope: `/subscriptions/${SEED.subscription}`,
        roleDefinitionId: `/subscriptions/${SEED.subscription}/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c`,
      },
    });
  };

  it('one command names the identity, the role and scope, and the least-privilege replacement; after the fix it exits 0', async () => {
    const broken = await runCli(['doctor', 'identities', '--snapshot', await snapshotFile('contributor', contributor)]);
    keep('identities-broken', broken.out);
    expect(broken.code).toBe(3);
    expect(broken.out).toContain(`FAIL    ${SeedIds.workerIdentity}`);
    expect(broken.out).toContain(`Contributor at subscription scope /subscriptions/${SEED.subscription}`);
    expect(broken.out).toContain('It needs only: AcrPull on acrseed1 (pulls from acrseed1.azurecr.io; already held)');
    expect(broken.out).toContain('fix: az role assignment delete --ids /subscriptions/');
    const fixed = await runCli(['doctor', 'identities', '--snapshot', await snapshotFile('fixed-identities')]);
    keep('identities-fixed', fixed.out);
    expect(fixed.code).toBe(0);
  });
});

describe('doctor platform and usage', () => {
  it('the healthy platform passes (exit 0); --scope narrows', async () => {
    const file = await snapshotFile('platform');
    const r = await runCli(['doctor', 'platform', '--snapshot', file]);
    keep('platform', r.out);
    expect(r.code).toBe(0);
    const narrowed = await runCli([
      'doctor',
      'platform',
      '--snapshot',
      file,
      '--scope',
      SeedIds.vault,
      '--output',
      'json',
    ]);
    expect(
      JSON.parse(narrowed.out)
        .checks.map((c: R) => c.name)
        .sort(),
    ).toEqual(['platform.keyvault-purge-protection', 'platform.keyvault-rbac']);
  });

  it.each([
    [['doctor', 'pull', '--snapshot', 'x.json'], /expected one workload/],
    [['doctor', 'platform'], /give --snapshot <file> or --scope/],
    [
      ['doctor', 'platform', '--scope', '/subscriptions/not-a-guid'],
      /--scope: expected \/subscriptions\/<subscription-id>/,
    ],
    [
      ['doctor', 'platform', '--snapshot', '/nonexistent.json'],
      /--snapshot: cannot read snapshot \/nonexistent\.json \(ENOENT\)/,
    ],
    [['doctor', 'explain'], /unknown doctor command "explain"/],
    [['doctor', 'platform', '--snapshot', 'x.json', '--output', 'yaml'], /--output/],
  ])('%j exits 2', async (argv, message) => {
    const r = await runCli(argv);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
  });

  it('a malformed snapshot exits 2 naming the entry and field', async () => {
    const file = join(dir, 'bad.json');
    writeFileSync(
      file,
      JSON.stringify({
        resources: [
          { id: '/subscriptions/x', type: 'Microsoft.Web/sites' },
          { id: 'no-slash', type: 'x/y' },
        ],
      }),
    );
    const r = await runCli(['doctor', 'platform', '--snapshot', file]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${file}: resources[1].id: expected an ARM resource id`);
  });

  it('a snapshot nested deeper than MAX_SNAPSHOT_DEPTH exits 2 with SNAPSHOT_TOO_DEEP and checks nothing', async () => {
    const file = join(dir, 'deep.json');
    const deep = '['.repeat(MAX_SNAPSHOT_DEPTH);
    writeFileSync(file, `{"resources": [], "x": ${deep}${']'.repeat(MAX_SNAPSHOT_DEPTH)}}`);
    const r = await runCli(['doctor', 'platform', '--snapshot', file, '--output', 'json']);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${file}: (document): expected JSON nested at most ${MAX_SNAPSHOT_DEPTH} levels deep`);
    expect(r.err).toContain('[SNAPSHOT_TOO_DEEP]');
    const envelope = JSON.parse(r.out) as { checks: unknown[]; errors: Array<{ code: string }> };
    expect(envelope.checks).toEqual([]);
    expect(envelope.errors.map((e) => e.code)).toEqual(['SNAPSHOT_TOO_DEEP']);
  });

  it('a snapshot of more than MAX_SNAPSHOT_CONTAINERS objects and arrays exits 2 with SNAPSHOT_TOO_MANY_VALUES', async () => {
    const file = join(dir, 'flat.json');
    writeFileSync(file, `{"resources": [], "x": [${'{},'.repeat(MAX_SNAPSHOT_CONTAINERS)}{}]}`);
    const r = await runCli(['doctor', 'platform', '--snapshot', file, '--output', 'json']);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`expected at most ${MAX_SNAPSHOT_CONTAINERS} objects and arrays`);
    const envelope = JSON.parse(r.out) as { checks: unknown[]; errors: Array<{ code: string }> };
    expect(envelope.checks).toEqual([]);
    expect(envelope.errors.map((e) => e.code)).toEqual(['SNAPSHOT_TOO_MANY_VALUES']);
  });
});

describe('doctor pull --reach-registry: the tag or digest present in the registry (a real registry on loopback)', () => {
  const reg = useRegistry();

  /** The seed deployment with the registry's login server replaced by the loopback registry's host. */
  const local = (rs: R[]) => JSON.parse(JSON.stringify(rs).split(SeedIds.loginServer).join(reg.registry.host)) as R[];

  it('present → pass with the digest; a tag the registry lacks → fail; without --reach-registry no check', async () => {
    const pushed = await pushImage(reg.client, 'contoso/api', { tag: '1.4.2' });
    const file = await snapshotFile('local-registry', local);
    const present = await runCli([
      'doctor',
      'pull',
      `ca-api-${SEED.token}`,
      '--snapshot',
      file,
      '--reach-registry',
      '--plain-http',
      '--output',
      'json',
    ]);
    const check = (out: string) => JSON.parse(out).checks.find((c: R) => c.name === 'pull.image-present');
    expect(check(present.out)).toMatchObject({ status: 'pass', reason: `the registry holds it (${pushed.digest})` });
    const missing = await snapshotFile('local-registry-missing', (rs) => {
      const out = local(rs);
      const app = out.find((r) => r.id === SeedIds.api) as R & {
        properties: { template: { containers: Array<{ image: string }> } };
      };
      app.properties.template.containers[0].image = `${reg.registry.host}/contoso/api:9.9.9`;
      return out;
    });
    const absent = await runCli([
      'doctor',
      'pull',
      `ca-api-${SEED.token}`,
      '--snapshot',
      missing,
      '--reach-registry',
      '--plain-http',
      '--output',
      'json',
    ]);
    expect(absent.code).toBe(3);
    expect(check(absent.out)).toMatchObject({
      status: 'fail',
      reason: 'the registry has no tag 9.9.9 in contoso/api',
    });
    expect(
      check((await runCli(['doctor', 'pull', `ca-api-${SEED.token}`, '--snapshot', file, '--output', 'json'])).out),
    ).toBeUndefined();
  });
});

describe('doctor platform: the road (--policy, --guard-principal-id)', () => {
  const policyFile = () => {
    const file = join(dir, 'promote-policy.yaml');
    writeFileSync(
      file,
      [
        'version: 1',
        `registries: [{ host: ${SeedIds.loginServer}, apply: promote }]`,
        'gate:',
        '  - scope: "contoso/*"',
        '    vulnerabilities: { block: [critical] }',
        '    promote: { repository: "release/{repository}" }',
      ].join('\n'),
    );
    return file;
  };
  const promoteSnapshot = async (name: string, edit?: (rs: R[]) => void) => {
    const rs = await seedResources({ gateMode: 'promote' });
    edit?.(rs);
    const file = join(dir, `${name}.json`);
    writeFileSync(file, JSON.stringify({ resources: rs }, null, 1));
    return file;
  };

  it('the promote platform passes (exit 0); an extra writer of release/ fails it (exit 3) with its delete', async () => {
    const args = ['--policy', policyFile(), '--guard-principal-id', SEED.principals.guard, '--output', 'json'];
    const ok = await runCli(['doctor', 'platform', '--snapshot', await promoteSnapshot('promote-ok'), ...args]);
    expect(ok.code).toBe(0);
    const ids = (JSON.parse(ok.out) as { checks: { name: string }[] }).checks.map((c) => c.name);
    expect(ids).toEqual(
      expect.arrayContaining(['platform.registry-abac', 'platform.release-writers', 'platform.deploy-policy']),
    );
    const raId = `${SeedIds.registry}/providers/Microsoft.Authorization/roleAssignments/77777777-0000-4000-8000-000000000000`;
    const broken = await promoteSnapshot('promote-writer', (rs) =>
      rs.push({
        id: raId,
        name: raId.split('/').pop(),
        type: 'Microsoft.Authorization/roleAssignments',
        properties: {
          principalId: '44444444-4444-4444-4444-444444444444',
          scope: SeedIds.registry,
          roleDefinitionId: `/subscriptions/${SEED.subscription}/providers/Microsoft.Authorization/roleDefinitions/2a1e307c-b015-4ebd-883e-5b7698a07328`,
        },
      }),
    );
    const bad = await runCli(['doctor', 'platform', '--snapshot', broken, ...args.slice(0, 4)]);
    expect(bad.code).toBe(3);
    expect(bad.out).toMatch(/platform\.release-writers\n {2}FAIL/);
    expect(bad.out).toContain(`fix: az role assignment delete --ids ${raId}`);
  });

  it('--policy without --guard-principal-id, or a principal that is not a GUID, is a usage error (2)', async () => {
    const snap = await promoteSnapshot('promote-usage');
    expect((await runCli(['doctor', 'platform', '--snapshot', snap, '--policy', policyFile()])).code).toBe(2);
    const r = await runCli([
      'doctor',
      'platform',
      '--snapshot',
      snap,
      '--policy',
      policyFile(),
      '--guard-principal-id',
      'acr-guard',
    ]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--guard-principal-id: expected object ids/);
  });
});
