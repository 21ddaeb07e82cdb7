/**
 * Issue 17, case 6 ("the doctor calls broken platforms healthy"), through `acr-guard doctor` on snapshot files:
 * each broken state is an edit of the healthy platform (built from the Bicep's own resource bodies), and each
 * exited 0 before. Now: a privileged custom role fails, zero checks is unknown (3), custom DNS servers make the
 * DNS checks unknown, states that are not final-good fail, one id twice is refused (2), and on a registry in
 * ABAC repository-permissions mode pull rights come from the repository roles and their conditions.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileAuditStore } from '../../src/adapters/auditStore';
import { runCli } from '../support/cli';
import { SEED, SeedIds, hubResolver, seedResources } from '../support/doctorSeeds';
import { releasedApiVerdict } from '../support/doctorVerdicts';

type R = Record<string, unknown> & { properties: Record<string, unknown> };
let dir: string;
let audit: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'doctor-case6-'));
  audit = join(dir, 'audit');
  await new FileAuditStore(audit).recordVerdict(releasedApiVerdict());
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
async function snapshotFile(edit?: (rs: R[]) => R[] | void): Promise<string> {
  let rs = (await seedResources()) as R[];
  rs = edit?.(rs) ?? rs;
  const file = join(dir, `s${++n}.json`);
  writeFileSync(file, JSON.stringify({ resources: rs }, null, 1));
  return file;
}
const find = (rs: R[], id: string) => rs.find((r) => String(r.id).toLowerCase() === id.toLowerCase()) as R;
const json = (out: string) => JSON.parse(out).checks as Array<Record<string, string>>;
const pull = async (file: string) =>
  runCli(['doctor', 'pull', `ca-api-${SEED.token}`, '--snapshot', file, '--audit-dir', audit, '--output', 'json']);
const sub = `/subscriptions/${SEED.subscription}`;
const roleDefId = (guid: string) => `${sub}/providers/Microsoft.Authorization/roleDefinitions/${guid}`;

/** Adds a role definition and assigns it to a principal at a scope. */
function grant(
  rs: R[],
  principalId: string,
  scope: string,
  role: { guid: string; actions?: string[]; notActions?: string[]; dataActions?: string[] } | string,
  condition?: string,
): void {
  let guid: string;
  if (typeof role === 'string') guid = role;
  else {
    guid = role.guid;
    rs.push({
      id: roleDefId(guid),
      name: guid,
      type: 'Microsoft.Authorization/roleDefinitions',
      properties: {
        roleName: `custom ${guid.slice(0, 4)}`,
        type: 'CustomRole',
        permissions: [
          {
            actions: role.actions ?? [],
            notActions: role.notActions ?? [],
            dataActions: role.dataActions ?? [],
            notDataActions: [],
          },
        ],
        assignableScopes: [scope],
      },
    });
  }
  const id = `${scope}/providers/Microsoft.Authorization/roleAssignments/${String(++n).padStart(8, '0')}-1111-4000-8000-000000000000`;
  rs.push({
    id,
    name: id.split('/').pop(),
    type: 'Microsoft.Authorization/roleAssignments',
    properties: {
      principalId,
      principalType: 'ServicePrincipal',
      scope,
      roleDefinitionId: roleDefId(guid),
      ...(condition ? { condition, conditionVersion: '2.0' } : {}),
    },
  });
}

describe('case 6: the healthy platform still passes', () => {
  it('platform, identities and pull of the seed exit 0', async () => {
    const file = await snapshotFile();
    expect((await runCli(['doctor', 'platform', '--snapshot', file])).code).toBe(0);
    expect((await runCli(['doctor', 'identities', '--snapshot', file])).code).toBe(0);
    expect((await pull(file)).code).toBe(0);
  });
});

describe('case 6a: a custom role is judged by what it allows (before: exit 0)', () => {
  it.each([
    ['roleAssignments/write', ['Microsoft.Authorization/roleAssignments/write'], []],
    ['the same, written in another case', ['microsoft.authorization/ROLEASSIGNMENTS/Write'], []],
    ['*/write', ['*/write'], []],
    ['Microsoft.Authorization/*', ['Microsoft.Authorization/*'], []],
    ['policy assignments through a wildcard', ['Microsoft.Authorization/policy*/write'], []],
    ['* minus a notAction that leaves policy writes', ['*'], ['Microsoft.Authorization/roleAssignments/*']],
  ])('%s on the subscription: identities fail (exit 3) naming the role', async (_, actions, notActions) => {
    const file = await snapshotFile((rs) =>
      grant(rs, SEED.principals.api, sub, { guid: 'c0000000-0000-4000-8000-00000000000a', actions, notActions }),
    );
    const r = await runCli(['doctor', 'identities', '--snapshot', file, '--output', 'json']);
    expect(r.code).toBe(3);
    const failed = json(r.out).filter((c) => c.status === 'fail');
    expect(failed).toHaveLength(1);
    expect(failed[0].target).toBe(SeedIds.apiIdentity);
    expect(failed[0].reason).toContain(`custom c000 at subscription scope ${sub}`);
    expect(failed[0].fix).toMatch(/az role assignment delete --ids .*roleAssignments/);
  });

  it.each([
    ['*/read', ['*/read'], []],
    [
      'Microsoft.Authorization/* minus every write and elevateAccess',
      ['Microsoft.Authorization/*'],
      ['Microsoft.Authorization/*/write', 'Microsoft.Authorization/elevateAccess/Action'],
    ],
    ['writes of one provider', ['Microsoft.ContainerRegistry/*'], []],
  ])('%s on the subscription is not privileged (exit 0)', async (_, actions, notActions) => {
    const file = await snapshotFile((rs) =>
      grant(rs, SEED.principals.api, sub, { guid: 'c0000000-0000-4000-8000-00000000000b', actions, notActions }),
    );
    expect((await runCli(['doctor', 'identities', '--snapshot', file])).code).toBe(0);
  });
});

describe('case 6b: zero checks is unknown (before: exit 0 with 0 checks)', () => {
  it('an empty snapshot: platform and identities exit 3', async () => {
    const file = await snapshotFile(() => []);
    for (const cmd of ['platform', 'identities']) {
      const r = await runCli(['doctor', cmd, '--snapshot', file]);
      expect(r.code).toBe(3);
      expect(r.out).toMatch(/UNKNOWN .*\n.*nothing was checked/);
      expect(r.out).toContain('1 check: 0 pass, 0 fail, 1 unknown');
    }
  });

  it('a --scope that matches nothing exits 3, naming the scope', async () => {
    const file = await snapshotFile();
    const elsewhere = `/subscriptions/${SEED.subscription}/resourceGroups/rg-elsewhere`;
    for (const cmd of ['platform', 'identities']) {
      const r = await runCli(['doctor', cmd, '--snapshot', file, '--scope', elsewhere, '--output', 'json']);
      expect(r.code).toBe(3);
      expect(json(r.out)).toEqual([expect.objectContaining({ status: 'inconclusive', target: elsewhere })]);
    }
  });
});

describe('case 6c: custom DNS servers on the workload network (before: the DNS checks passed, exit 0)', () => {
  it('the zone link and A record checks are unknown, naming the servers (exit 3)', async () => {
    const file = await snapshotFile((rs) => {
      find(rs, SeedIds.vnet).properties.dhcpOptions = { dnsServers: ['10.0.0.4', '10.0.0.5'] };
    });
    const r = await pull(file);
    expect(r.code).toBe(3);
    const dns = json(r.out).filter((c) => c.name === 'pull.dns-zone-link' || c.name === 'pull.dns-a-record');
    expect(dns).toHaveLength(3);
    for (const c of dns) {
      expect(c.status).toBe('inconclusive');
      expect(c.reason).toContain('custom DNS servers 10.0.0.4, 10.0.0.5');
    }
  });

  it('an empty dnsServers list is Azure DNS: still passes', async () => {
    const file = await snapshotFile((rs) => {
      find(rs, SeedIds.vnet).properties.dhcpOptions = { dnsServers: [] };
    });
    expect((await pull(file)).code).toBe(0);
  });
});

describe('case 6c, followed: custom DNS servers that are a DNS private resolver in the hub', () => {
  const ruleset = `${SeedIds.rg}/providers/Microsoft.Network/dnsForwardingRulesets/rs-hub`;
  /** The workload network asks the resolver's inbound endpoint (10.50.0.4); the resolver lives in the hub. */
  /** The workload network asks the resolver's inbound endpoint (10.50.0.4); the resolver lives in the hub. */
  const behindResolver = (rs: R[]) => {
    find(rs, SeedIds.vnet).properties.dhcpOptions = { dnsServers: ['10.50.0.4'] };
    rs.push(...(hubResolver(false) as R[]));
  };
  const linkHub = (rs: R[]) => void rs.push(...(hubResolver(true).slice(2) as R[]));

  it("the zone not linked to the resolver's network: fail with the link to create there (exit 3)", async () => {
    const r = await pull(await snapshotFile(behindResolver));
    expect(r.code).toBe(3);
    const c = json(r.out).find((x) => x.name === 'pull.dns-zone-link') as Record<string, string>;
    expect(c.status).toBe('fail');
    expect(c.reason).toContain('the inbound endpoint of DNS private resolver dnspr-hub in vnet-hub');
    expect(c.fix).toContain(`-v ${SeedIds.hubVnet}`);
  });

  it('linked there: the DNS checks are followed and pass (exit 0)', async () => {
    const r = await pull(await snapshotFile((rs) => (behindResolver(rs), linkHub(rs))));
    expect(r.code).toBe(0);
    const c = json(r.out).find((x) => x.name === 'pull.dns-zone-link') as Record<string, string>;
    expect(c.reason).toMatch(/names resolve through vnet-hub's zone links; zone .* is linked to vnet-hub/);
  });

  it.each([
    ['azurecr.io.', 'Enabled', 3],
    ['.', 'Enabled', 3],
    ['io.', 'Enabled', 3],
    ['privatelink.azurecr.io.', undefined, 3],
    [`acr${SEED.token}.azurecr.io.`, 'Enabled', 3],
    ['contoso.com.', 'Enabled', 0],
    ['azurecr.io.', 'Disabled', 0],
  ])('a forwarding rule for %s (%s) linked to the hub: exit %d', async (domainName, forwardingRuleState, exit) => {
    const r = await pull(
      await snapshotFile((rs) => {
        behindResolver(rs);
        linkHub(rs);
        rs.push(
          { id: ruleset, name: 'rs-hub', type: 'Microsoft.Network/dnsForwardingRulesets', properties: {} },
          {
            id: `${ruleset}/forwardingRules/acr`,
            name: 'acr',
            type: 'Microsoft.Network/dnsForwardingRulesets/forwardingRules',
            properties: {
              domainName,
              ...(forwardingRuleState ? { forwardingRuleState } : {}),
              targetDnsServers: [{ ipAddress: '192.168.1.53', port: 53 }],
            },
          },
          {
            id: `${ruleset}/virtualNetworkLinks/hub`,
            name: 'hub',
            type: 'Microsoft.Network/dnsForwardingRulesets/virtualNetworkLinks',
            properties: { virtualNetwork: { id: SeedIds.hubVnet } },
          },
        );
      }),
    );
    expect(r.code).toBe(exit);
    const c = json(r.out).find((x) => x.name === 'pull.dns-zone-link') as Record<string, string>;
    if (exit === 3) {
      expect(c.status).toBe('inconclusive');
      expect(c.reason).toContain('sends those names to 192.168.1.53');
    } else expect(c.reason).toContain('DNS private resolver dnspr-hub in vnet-hub');
  });
});

describe('case 6d: states that are not final-good fail (before: passed, exit 0)', () => {
  const link = `${SeedIds.zone}/virtualNetworkLinks/link-seed`;
  it.each([
    [
      'a zone link still InProgress',
      (rs: R[]) => void (find(rs, link).properties.virtualNetworkLinkState = 'InProgress'),
      'pull.dns-zone-link',
      /virtualNetworkLinkState InProgress/,
    ],
    [
      'a zone link that Failed',
      (rs: R[]) => void (find(rs, link).properties.provisioningState = 'Failed'),
      'pull.dns-zone-link',
      /provisioningState Failed/,
    ],
    [
      'a private endpoint that Failed',
      (rs: R[]) => void (find(rs, SeedIds.endpoint).properties.provisioningState = 'Failed'),
      'pull.private-endpoint',
      /provisioningState is Failed, not Succeeded/,
    ],
    [
      'an endpoint connection Pending',
      (rs: R[]) => {
        const c = (find(rs, SeedIds.endpoint).properties.privateLinkServiceConnections as R[])[0];
        (c.properties.privateLinkServiceConnectionState as R).status = 'Pending';
      },
      'pull.private-endpoint',
      /\(Pending\) are not Approved/,
    ],
  ])('%s: fail with its fix (exit 3)', async (_, edit, id, evidence) => {
    const r = await pull(await snapshotFile(edit as (rs: R[]) => void));
    expect(r.code).toBe(3);
    const c = json(r.out).find((x) => x.name === id) as Record<string, string>;
    expect(c.status).toBe('fail');
    expect(c.reason).toMatch(evidence);
    expect(c.fix).toMatch(/^az network /);
  });

  it('a link whose states the snapshot does not hold is unknown, never a pass', async () => {
    const r = await pull(
      await snapshotFile((rs) => {
        delete find(rs, link).properties.virtualNetworkLinkState;
      }),
    );
    expect(r.code).toBe(3);
    expect(json(r.out).find((x) => x.name === 'pull.dns-zone-link')?.status).toBe('inconclusive');
  });
});

describe('case 6e: one resource id named twice (before: read first-wins, exit 0)', () => {
  it('is refused with exit 2 naming the id and both entries, for every command', async () => {
    let second = -1;
    const file = await snapshotFile((rs) => {
      const reg = find(rs, SeedIds.registry);
      // The same registry again, id in upper case, saying the opposite.
      rs.push({
        ...reg,
        id: SeedIds.registry.toUpperCase(),
        properties: { ...reg.properties, adminUserEnabled: true },
      });
      second = rs.length - 1;
    });
    for (const argv of [
      ['doctor', 'platform', '--snapshot', file],
      ['doctor', 'identities', '--snapshot', file],
      ['doctor', 'pull', `ca-api-${SEED.token}`, '--snapshot', file],
    ]) {
      const r = await runCli(argv);
      expect(r.code).toBe(2);
      expect(r.err).toContain(`${file}: resources[${second}].id: "${SeedIds.registry.toUpperCase()}" is already`);
      expect(r.err).toContain('SNAPSHOT_DUPLICATE_ID');
    }
  });
});

describe('case 6f: a registry in ABAC repository-permissions mode (before: AcrPull passed, exit 0)', () => {
  const abac = (rs: R[]) => {
    find(rs, SeedIds.registry).properties.roleAssignmentMode = 'AbacRepositoryPermissions';
  };
  const reader = 'b93aa761-3e63-49ed-ac28-beffa264f7ac';
  const cond = (expr: string) =>
    `((!(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/content/read'}) AND !(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/metadata/read'})) OR (${expr}))`;
  const role = async (edit: (rs: R[]) => void) => {
    const r = await pull(await snapshotFile(edit));
    return { code: r.code, check: json(r.out).find((c) => c.name === 'pull.identity-role') as Record<string, string> };
  };

  it('the legacy AcrPull the Bicep grants is not honoured: fail, with the repository role to create', async () => {
    const { code, check } = await role(abac);
    expect(code).toBe(3);
    expect(check.status).toBe('fail');
    expect(check.target).toBe(`${SeedIds.registry} (repository contoso/api)`);
    expect(check.reason).toContain('AcrPull, AcrPush and AcrDelete are not honoured');
    expect(check.reason).toContain(`it holds AcrPull at ${SeedIds.registry}, which this mode does not honour`);
    expect(check.fix).toContain(
      `az role assignment create --assignee-object-id ${SEED.principals.api} --assignee-principal-type ServicePrincipal --role "Container Registry Repository Reader" --scope ${SeedIds.registry} --condition '`,
    );
    // POSIX single quotes around the condition, its own quotes written as '\''.
    expect(check.fix).toContain("StringEqualsIgnoreCase '\\''contoso/api'\\''))' --condition-version 2.0");
    expect(check.fix).toContain('--condition-version 2.0 && az role assignment delete --ids ');
  });

  it.each([
    ['no condition', undefined],
    [
      'StringStartsWith',
      cond(`@Request[Microsoft.ContainerRegistry/registries/repositories:name] StringStartsWith 'contoso/'`),
    ],
    [
      'StringEqualsIgnoreCase',
      cond(`@Request[Microsoft.ContainerRegistry/registries/repositories:name] StringEqualsIgnoreCase 'Contoso/API'`),
    ],
    ['StringLike', cond(`@Request[Microsoft.ContainerRegistry/registries/repositories:name] StringLike 'contoso/*'`)],
    [
      'ForAnyOfAnyValues:StringEquals',
      cond(
        `@Request[Microsoft.ContainerRegistry/registries/repositories:name] ForAnyOfAnyValues:StringEquals {'x', 'contoso/api'}`,
      ),
    ],
  ])('Container Registry Repository Reader with %s: pass', async (_, condition) => {
    const { code, check } = await role((rs) => {
      abac(rs);
      grant(rs, SEED.principals.api, SeedIds.registry, reader, condition);
    });
    expect(check.status).toBe('pass');
    expect(check.reason).toContain('Container Registry Repository Reader');
    expect(code).toBe(0);
  });

  it('a condition for other repositories: fail naming it', async () => {
    const { code, check } = await role((rs) => {
      abac(rs);
      grant(
        rs,
        SEED.principals.api,
        SeedIds.registry,
        reader,
        cond(`@Request[Microsoft.ContainerRegistry/registries/repositories:name] StringStartsWith 'fabrikam/'`),
      );
    });
    expect(code).toBe(3);
    expect(check.status).toBe('fail');
    expect(check.reason).toContain('does not allow contoso/api');
  });

  it.each([
    ['another attribute', cond(`@Resource[Microsoft.ContainerRegistry/registries:name] StringEquals 'acrseed1'`)],
    [
      'an operator ACR does not document',
      cond(`@Request[Microsoft.ContainerRegistry/registries/repositories:name] StringMatches 'contoso/.*'`),
    ],
    [
      'SubOperationMatches',
      `((!(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/content/read'} AND SubOperationMatches{'x'})) OR (@Request[Microsoft.ContainerRegistry/registries/repositories:name] StringEquals 'contoso/api'))`,
    ],
    [
      'an unterminated string',
      cond(`@Request[Microsoft.ContainerRegistry/registries/repositories:name] StringEquals 'contoso/api`),
    ],
  ])('a condition doctor cannot read (%s) is unknown, never pass', async (_, condition) => {
    const { code, check } = await role((rs) => {
      abac(rs);
      grant(rs, SEED.principals.api, SeedIds.registry, reader, condition);
    });
    expect(code).toBe(3);
    expect(check.status).toBe('inconclusive');
  });

  it('Owner on the subscription grants no repository data in that mode', async () => {
    const { check } = await role((rs) => {
      abac(rs);
      grant(rs, SEED.principals.api, sub, '8e3af657-a8ff-443c-a75c-2fe8c4bcb635');
    });
    expect(check.status).toBe('fail');
  });
});
