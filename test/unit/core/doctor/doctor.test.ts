/**
 * doctor's checks on snapshots that reproduce each broken state, and on the healthy platform infra/ deploys
 * (built from the Bicep's own resource bodies: test/support/doctorSeeds.ts).
 */
import fc from 'fast-check';
import {
  buildSnapshot,
  diagnoseIdentities,
  diagnosePlatform,
  diagnosePull,
  parseSnapshot,
  MAX_RULE_DEPTH,
  MAX_SNAPSHOT_BYTES,
  MAX_SNAPSHOT_CONTAINERS,
  MAX_SNAPSHOT_DEPTH,
  MAX_SNAPSHOT_RESOURCES,
  type DoctorCheck,
  type Snapshot,
  type VerdictAnswer,
} from '../../../../src/core/doctor';
import { isGuardError } from '../../../../src/core/errors';
import { SEED, SeedIds, SeedImages, seedResources } from '../../../support/doctorSeeds';
import { blockedApiVerdict, releasedApiVerdict } from '../../../support/doctorVerdicts';

type R = Record<string, unknown>;
const released = new Map<string, VerdictAnswer>([
  [SeedImages.api, { status: 'found', verdict: releasedApiVerdict() }],
  [
    SeedImages.worker,
    {
      status: 'found',
      verdict: { ...releasedApiVerdict(), image: { ...releasedApiVerdict().image, repository: 'contoso/worker' } },
    },
  ],
]);

async function seed(edit?: (rs: R[]) => R[] | void): Promise<Snapshot> {
  let rs = await seedResources();
  rs = edit?.(rs) ?? rs;
  return buildSnapshot(rs);
}
const byId = (rs: R[], id: string) =>
  rs.find((r) => String(r.id).toLowerCase() === id.toLowerCase()) as R & { properties: R };
const notPassing = (checks: DoctorCheck[]) => checks.filter((c) => c.status !== 'pass');
const one = (checks: DoctorCheck[], id: string, target?: string) => {
  const found = checks.filter((c) => c.id === id && (target === undefined || c.target === target));
  expect(found).toHaveLength(1);
  return found[0];
};

describe('the healthy platform infra/ deploys', () => {
  it('passes every platform check', async () => {
    const report = diagnosePlatform({ snapshot: await seed() });
    expect(notPassing(report.checks)).toEqual([]);
    // Every control is covered once for each resource it concerns.
    expect(new Set(report.checks.map((c) => c.id))).toEqual(
      new Set([
        'platform.registry-sku',
        'platform.registry-admin-user',
        'platform.registry-public-access',
        'platform.registry-anonymous-pull',
        'platform.registry-quarantine',
        'platform.registry-soft-delete-or-retention',
        'platform.registry-export',
        'platform.registry-diagnostics',
        'platform.defender-containers',
        'platform.environment-internal',
        'platform.environment-diagnostics',
        'platform.app-ingress',
        'platform.keyvault-rbac',
        'platform.keyvault-purge-protection',
        'platform.deploy-policy',
        'platform.deploy-policy-subscription',
      ]),
    );
  });

  it('passes every identity check (no broad privileged role anywhere)', async () => {
    const report = diagnoseIdentities({ snapshot: await seed() });
    expect(notPassing(report.checks)).toEqual([]);
    expect(report.checks.map((c) => c.target).sort()).toEqual(
      [SeedIds.apiIdentity, SeedIds.guardIdentity, SeedIds.workerIdentity].sort(),
    );
  });

  it('passes every pull check of the API app and the worker', async () => {
    const snapshot = await seed();
    for (const w of [SeedIds.api, `ci-worker-${SEED.token}`]) {
      const report = diagnosePull({ snapshot, workload: w, verdicts: released });
      expect(notPassing(report.checks)).toEqual([]);
      expect(report.checks.map((c) => c.id)).toEqual(
        expect.arrayContaining([
          'pull.gate-verdict',
          'pull.private-endpoint',
          'pull.dns-zone-link',
          'pull.dns-a-record',
          'pull.identity-assigned',
          'pull.identity-role',
        ]),
      );
    }
  });
});

describe('doctor pull: the broken states behind ImagePullBackOff', () => {
  it("zone not linked to the workload's network: fail with the link command", async () => {
    const snapshot = await seed((rs) => {
      byId(rs, `${SeedIds.zone}/virtualNetworkLinks/link-seed`).properties = {
        registrationEnabled: false,
        virtualNetwork: { id: SeedIds.hubVnet },
      };
    });
    const checks = diagnosePull({ snapshot, workload: `ca-api-${SEED.token}`, verdicts: released }).checks;
    expect(notPassing(checks).map((c) => c.id)).toEqual(['pull.dns-zone-link']);
    const c = one(checks, 'pull.dns-zone-link');
    expect(c.status).toBe('fail');
    expect(c.evidence).toContain('linked to: vnet-hub');
    expect(c.fix).toBe(
      `az network private-dns link vnet create -g ${SEED.resourceGroup} -z privatelink.azurecr.io -n link-vnet-${SEED.token} -v ${SeedIds.vnet} -e false`,
    );
  });

  it("the data endpoint's A record missing: fail naming it, with add-record", async () => {
    const data = `${SeedIds.zone}/A/acr${SEED.token}.${SEED.location}.data`;
    const snapshot = await seed((rs) => rs.filter((r) => r.id !== data));
    const checks = diagnosePull({ snapshot, workload: SeedIds.api, verdicts: released }).checks;
    const fqdn = `acr${SEED.token}.${SEED.location}.data.azurecr.io`;
    expect(notPassing(checks).map((c) => `${c.id} ${c.target}`)).toEqual([`pull.dns-a-record ${fqdn}`]);
    expect(one(checks, 'pull.dns-a-record', fqdn).fix).toBe(
      `az network private-dns record-set a add-record -g ${SEED.resourceGroup} -z privatelink.azurecr.io -n acr${SEED.token}.${SEED.location}.data -a ${SEED.endpointIps.data}`,
    );
    expect(one(checks, 'pull.dns-a-record', `acr${SEED.token}.azurecr.io`).status).toBe('pass');
  });

  it('an A record pointing elsewhere: fail with remove-record and add-record', async () => {
    const snapshot = await seed((rs) => {
      byId(rs, `${SeedIds.zone}/A/acr${SEED.token}`).properties = {
        ttl: 3600,
        aRecords: [{ ipv4Address: '10.99.0.4' }],
      };
    });
    const c = one(
      diagnosePull({ snapshot, workload: SeedIds.api, verdicts: released }).checks,
      'pull.dns-a-record',
      `acr${SEED.token}.azurecr.io`,
    );
    expect(c.status).toBe('fail');
    expect(c.evidence).toContain('10.99.0.4');
    expect(c.fix).toBe(
      `az network private-dns record-set a remove-record -g ${SEED.resourceGroup} -z privatelink.azurecr.io -n acr${SEED.token} -a 10.99.0.4 && ` +
        `az network private-dns record-set a add-record -g ${SEED.resourceGroup} -z privatelink.azurecr.io -n acr${SEED.token} -a ${SEED.endpointIps.registry}`,
    );
  });

  it('AcrPull missing: fail with the role assignment to create', async () => {
    const snapshot = await seed((rs) =>
      rs.filter(
        (r) =>
          !(
            r.type === 'Microsoft.Authorization/roleAssignments' &&
            (r.properties as R).principalId === SEED.principals.api &&
            String((r.properties as R).scope) === SeedIds.registry
          ),
      ),
    );
    const checks = diagnosePull({ snapshot, workload: SeedIds.api, verdicts: released }).checks;
    expect(notPassing(checks).map((c) => c.id)).toEqual(['pull.identity-role']);
    expect(one(checks, 'pull.identity-role').fix).toBe(
      `az role assignment create --assignee-object-id ${SEED.principals.api} --assignee-principal-type ServicePrincipal --role AcrPull --scope ${SeedIds.registry}`,
    );
    expect(one(checks, 'pull.identity-role').evidence).toContain('Key Vault Secrets User at'); // what it does hold
  });

  it('AcrPull only at a management group: unknown (the snapshot does not say which subscriptions it holds)', async () => {
    const mg = '/providers/Microsoft.Management/managementGroups/platform';
    const snapshot = await seed((rs) => {
      const out = rs.filter(
        (r) =>
          !(
            r.type === 'Microsoft.Authorization/roleAssignments' &&
            (r.properties as R).principalId === SEED.principals.api &&
            String((r.properties as R).scope) === SeedIds.registry
          ),
      );
      out.push({
        id: `${mg}/providers/Microsoft.Authorization/roleAssignments/m1`,
        name: 'm1',
        type: 'Microsoft.Authorization/roleAssignments',
        properties: {
          principalId: SEED.principals.api,
          scope: mg,
          roleDefinitionId: `/providers/Microsoft.Authorization/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d`,
        },
      });
      return out;
    });
    const c = one(diagnosePull({ snapshot, workload: SeedIds.api, verdicts: released }).checks, 'pull.identity-role');
    expect(c.status).toBe('unknown');
    expect(c.evidence).toContain(`management group ${mg}`);
  });

  it('AcrPull on an identity the app does not use: the pull identity is not assigned to the app', async () => {
    const snapshot = await seed((rs) => {
      const app = byId(rs, SeedIds.api);
      ((app.properties.configuration as R).registries as R[])[0].identity = SeedIds.workerIdentity;
    });
    const checks = diagnosePull({ snapshot, workload: SeedIds.api, verdicts: released }).checks;
    const c = one(checks, 'pull.identity-assigned');
    expect(c.status).toBe('fail');
    expect(c.evidence).toContain(`identity id-worker-${SEED.token}, which is not assigned`);
    expect(c.fix).toBe(
      `az containerapp identity assign -n ca-api-${SEED.token} -g ${SEED.resourceGroup} --user-assigned ${SeedIds.workerIdentity}`,
    );
  });

  it('the image quarantined by the gate: fail with the reasons and the rescan call', async () => {
    const verdicts = new Map(released);
    verdicts.set(SeedImages.api, { status: 'found', verdict: blockedApiVerdict() });
    const checks = diagnosePull({ snapshot: await seed(), workload: SeedIds.api, verdicts }).checks;
    expect(notPassing(checks).map((c) => c.id)).toEqual(['pull.gate-verdict']);
    const c = one(checks, 'pull.gate-verdict');
    expect(c.evidence).toContain('CVE-2024-3094 (critical)');
    expect(c.fix).toContain(`https://func-${SEED.token}.azurewebsites.net/api/rescan`);
    expect(c.fix).toContain(`"image":"${SeedIds.loginServer}/contoso/api@sha256:`);
  });

  it('missing data is unknown, never pass: no verdicts looked up, no customDnsConfigs, an unknown principal', async () => {
    const snapshot = await seed((rs) => {
      byId(rs, SeedIds.endpoint).properties.customDnsConfigs = [];
      const app = byId(rs, SeedIds.api) as unknown as { identity: { userAssignedIdentities: R } };
      app.identity.userAssignedIdentities = { [SeedIds.apiIdentity]: {} };
      return rs.filter((r) => r.id !== SeedIds.apiIdentity);
    });
    const checks = diagnosePull({ snapshot, workload: SeedIds.api }).checks;
    expect(one(checks, 'pull.gate-verdict').status).toBe('unknown');
    expect(one(checks, 'pull.dns-a-record').status).toBe('unknown');
    expect(one(checks, 'pull.identity-role').status).toBe('unknown');
    expect(diagnosePull({ snapshot, workload: 'no-such-app' }).checks.map((c) => c.status)).toEqual(['unknown']);
  });

  it('an endpoint connection whose state is not captured is unknown, never an approved endpoint (review finding)', async () => {
    const snapshot = await seed((rs) => {
      const pe = byId(rs, SeedIds.endpoint) as unknown as { properties: { privateLinkServiceConnections: R[] } };
      for (const c of pe.properties.privateLinkServiceConnections)
        delete ((c.properties as R).privateLinkServiceConnectionState as R | undefined)?.status;
    });
    expect(one(diagnosePull({ snapshot, workload: SeedIds.api }).checks, 'pull.private-endpoint').status).toBe(
      'unknown',
    );
  });

  it('an app whose configuration is not captured has an unknown ingress, never "no ingress" (review finding)', async () => {
    const snapshot = await seed((rs) => {
      delete byId(rs, SeedIds.api).properties.configuration;
    });
    expect(one(diagnosePlatform({ snapshot }).checks, 'platform.app-ingress', SeedIds.api).status).toBe('unknown');
  });
});

describe('doctor identities', () => {
  it('an ACI identity with Contributor on the subscription: fail, with AcrPull on the registry as the replacement', async () => {
    const rid = `/subscriptions/${SEED.subscription}/providers/Microsoft.Authorization/roleAssignments/99999999-0000-4000-8000-000000000000`;
    const snapshot = await seed((rs) => {
      rs.push({
        id: rid,
        name: rid.split('/').pop(),
        type: 'Microsoft.Authorization/roleAssignments',
        properties: {
          principalId: SEED.principals.worker,
          scope: `/subscriptions/${SEED.subscription}`,
          roleDefinitionId: `/subscriptions/${SEED.subscription}/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c`,
        },
      });
    });
    const checks = diagnoseIdentities({ snapshot }).checks;
    expect(notPassing(checks).map((c) => c.target)).toEqual([SeedIds.workerIdentity]);
    const c = one(checks, 'identities.least-privilege', SeedIds.workerIdentity);
    expect(c.status).toBe('fail');
    expect(c.evidence).toContain(`Contributor at subscription scope /subscriptions/${SEED.subscription}`);
    // AcrPull on the registry is already held: the fix only removes the broad assignment.
    expect(c.evidence).toContain('It needs only: AcrPull on acrseed1 (pulls from acrseed1.azurecr.io; already held)');
    expect(c.fix).toBe(`az role assignment delete --ids ${rid}`);
    // Without it, the fix grants it first.
    const without = await seed((rs) => {
      rs.push({
        id: rid,
        name: rid.split('/').pop(),
        type: 'Microsoft.Authorization/roleAssignments',
        properties: {
          principalId: SEED.principals.worker,
          scope: `/subscriptions/${SEED.subscription}`,
          roleDefinitionId: `/subscriptions/${SEED.subscription}/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c`,
        },
      });
      return rs.filter(
        (r) =>
          !(
            r.type === 'Microsoft.Authorization/roleAssignments' &&
            (r.properties as R).principalId === SEED.principals.worker &&
            (r.properties as R).scope === SeedIds.registry
          ),
      );
    });
    expect(
      one(diagnoseIdentities({ snapshot: without }).checks, 'identities.least-privilege', SeedIds.workerIdentity).fix,
    ).toBe(
      `az role assignment create --assignee-object-id ${SEED.principals.worker} --assignee-principal-type ServicePrincipal --role 'AcrPull' --scope ${SeedIds.registry} && az role assignment delete --ids ${rid}`,
    );
  });

  it('a custom role with "*" at resource group scope fails; one whose definition is missing is unknown', async () => {
    const def = `/subscriptions/${SEED.subscription}/providers/Microsoft.Authorization/roleDefinitions/cccccccc-0000-4000-8000-000000000000`;
    const ra = (n: string, role: string) => ({
      id: `${SeedIds.rg}/providers/Microsoft.Authorization/roleAssignments/${n}`,
      name: n,
      type: 'Microsoft.Authorization/roleAssignments',
      properties: { principalId: SEED.principals.api, scope: SeedIds.rg, roleDefinitionId: role },
    });
    const star = await seed((rs) => {
      rs.push(
        {
          id: def,
          name: 'cccccccc-0000-4000-8000-000000000000',
          type: 'Microsoft.Authorization/roleDefinitions',
          properties: { roleName: 'everything', permissions: [{ actions: ['*'], notActions: [] }] },
        },
        ra('x1', def),
      );
    });
    const c = one(diagnoseIdentities({ snapshot: star }).checks, 'identities.least-privilege', SeedIds.apiIdentity);
    expect(c.status).toBe('fail');
    expect(c.evidence).toContain(
      'Key Vault Secrets User on kv-seed1 (reads secret db-password from kv-seed1.vault.azure.net; already held)',
    );
    expect(c.fix).toBe(
      `az role assignment delete --ids ${SeedIds.rg}/providers/Microsoft.Authorization/roleAssignments/x1`,
    );
    const missing = await seed((rs) => {
      rs.push(ra('x2', def));
    });
    expect(
      one(diagnoseIdentities({ snapshot: missing }).checks, 'identities.least-privilege', SeedIds.apiIdentity).status,
    ).toBe('unknown');
    // --scope: only workloads under it.
    expect(diagnoseIdentities({ snapshot: star, scope: SeedIds.worker }).checks.map((x) => x.target)).toEqual([
      SeedIds.workerIdentity,
    ]);
  });
});

describe('doctor platform: each control off fails with its fix', () => {
  const cases: Array<[string, (rs: R[]) => void, string]> = [
    [
      'platform.registry-admin-user',
      (rs) => {
        byId(rs, SeedIds.registry).properties.adminUserEnabled = true;
      },
      `az acr update -n acr${SEED.token} --admin-enabled false`,
    ],
    [
      'platform.registry-public-access',
      (rs) => {
        byId(rs, SeedIds.registry).properties.publicNetworkAccess = 'Enabled';
      },
      `az acr update -n acr${SEED.token} --public-network-enabled false`,
    ],
    [
      'platform.registry-quarantine',
      (rs) => {
        ((byId(rs, SeedIds.registry).properties.policies as R).quarantinePolicy as R).status = 'disabled';
      },
      'quarantinePolicy.status=enabled',
    ],
    [
      'platform.app-ingress',
      (rs) => {
        ((byId(rs, SeedIds.api).properties.configuration as R).ingress as R).external = true;
      },
      '--type internal',
    ],
    [
      'platform.environment-internal',
      (rs) => {
        delete byId(rs, SeedIds.environment).properties.vnetConfiguration;
      },
      '--internal-only true',
    ],
    [
      'platform.keyvault-purge-protection',
      (rs) => {
        byId(rs, SeedIds.vault).properties.enablePurgeProtection = false;
      },
      '--enable-purge-protection true',
    ],
    [
      'platform.defender-containers',
      (rs) => {
        (rs.find((r) => r.type === 'Microsoft.Security/pricings') as R & { properties: R }).properties.pricingTier =
          'Free';
      },
      'az security pricing create -n Containers --tier standard',
    ],
  ];
  it.each(cases)('%s', async (id, edit, fix) => {
    const checks = diagnosePlatform({ snapshot: await seed(edit) }).checks;
    expect(notPassing(checks).map((c) => c.id)).toEqual([id]);
    expect(one(checks, id).fix).toContain(fix);
  });

  it('diagnostics removed fails; a property missing from the snapshot is unknown', async () => {
    const checks = diagnosePlatform({
      snapshot: await seed((rs) => {
        delete byId(rs, SeedIds.registry).properties.anonymousPullEnabled;
        return rs.filter((r) => !String(r.id).startsWith(`${SeedIds.environment}/providers/Microsoft.Insights`));
      }),
    }).checks;
    expect(
      notPassing(checks)
        .map((c) => `${c.id}:${c.status}`)
        .sort(),
    ).toEqual(['platform.environment-diagnostics:fail', 'platform.registry-anonymous-pull:unknown']);
  });
});

describe('snapshot validation (bounded)', () => {
  it('rejects a file over MAX_SNAPSHOT_BYTES before parsing, and more than MAX_SNAPSHOT_RESOURCES entries', () => {
    const big = Buffer.alloc(MAX_SNAPSHOT_BYTES + 1, 0x20);
    let err: unknown;
    try {
      parseSnapshot(big, 'big.json');
    } catch (e) {
      err = e;
    }
    expect(isGuardError(err, 'SNAPSHOT_TOO_LARGE')).toBe(true);
    try {
      buildSnapshot(new Array(MAX_SNAPSHOT_RESOURCES + 1).fill({}));
    } catch (e) {
      err = e;
    }
    expect(isGuardError(err, 'SNAPSHOT_TOO_MANY_RESOURCES')).toBe(true);
  });

  /**
   * `{"resources": [{id, type, properties: {"p": <value>}}]}` where the value nests one object (`true`) or array
   * (`false`) per entry of `kinds`: 4 + `kinds.length` levels deep in all.
   */
  const nestedWith = (kinds: readonly boolean[]) =>
    `{"resources": [{"id": "/subscriptions/s/x", "type": "Microsoft.Web/sites", "properties": {"p": ${kinds
      .map((k) => (k ? '{"k":' : '['))
      .join('')}0${[...kinds]
      .reverse()
      .map((k) => (k ? '}' : ']'))
      .join('')}}}]}`;
  const nestedTo = (levels: number) => nestedWith(new Array<boolean>(levels - 4).fill(false));
  const caught = (f: () => unknown): unknown => {
    try {
      f();
    } catch (e) {
      return e;
    }
    return undefined;
  };

  it('refuses a snapshot nested deeper than MAX_SNAPSHOT_DEPTH before parsing: SNAPSHOT_TOO_DEEP, nothing checked', () => {
    expect(parseSnapshot(nestedTo(MAX_SNAPSHOT_DEPTH)).resources).toHaveLength(1);
    const err = caught(() => parseSnapshot(nestedTo(MAX_SNAPSHOT_DEPTH + 1), 'deep.json'));
    expect(isGuardError(err, 'SNAPSHOT_TOO_DEEP')).toBe(true);
    expect((err as Error).message).toMatch(
      new RegExp(
        `^deep\\.json: \\(document\\): expected JSON nested at most ${MAX_SNAPSHOT_DEPTH} levels deep, got deeper nesting at offset \\d+; nothing was checked`,
      ),
    );
    // A hostile file as large as a snapshot may be, all brackets: refused by the scan alone, quickly, with no parse.
    const hostile = Buffer.alloc(MAX_SNAPSHOT_BYTES, 0x5b);
    const started = process.hrtime.bigint();
    expect(
      isGuardError(
        caught(() => parseSnapshot(hostile, 'h.json')),
        'SNAPSHOT_TOO_DEEP',
      ),
    ).toBe(true);
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(2000);
    // Brackets inside strings are not nesting; the bound leaves room for every rule the policy evaluator reads.
    expect(
      parseSnapshot(`{"resources": [{"id": "/s", "type": "a/b", "name": "${'['.repeat(1000)}"}]}`).resources,
    ).toHaveLength(1);
    expect(2 * MAX_RULE_DEPTH + 6).toBeLessThan(MAX_SNAPSHOT_DEPTH);
  });

  it('refuses a snapshot of more than MAX_SNAPSHOT_CONTAINERS objects and arrays before parsing: SNAPSHOT_TOO_MANY_VALUES', () => {
    // Within the byte bound, flat: 64 MiB of [] would be 32 million arrays built by JSON.parse.
    const flat = (n: number) => `{"resources": [], "x": [${'[],'.repeat(n - 4)}[]]}`;
    expect(parseSnapshot(flat(MAX_SNAPSHOT_CONTAINERS)).resources).toHaveLength(0);
    const err = caught(() => parseSnapshot(flat(MAX_SNAPSHOT_CONTAINERS + 1), 'flat.json'));
    expect(isGuardError(err, 'SNAPSHOT_TOO_MANY_VALUES')).toBe(true);
    expect((err as Error).message).toMatch(
      new RegExp(
        `^flat\\.json: \\(document\\): expected at most ${MAX_SNAPSHOT_CONTAINERS} objects and arrays, got more .*nothing was checked`,
      ),
    );
    const hostile = Buffer.from(`[${'[],'.repeat(Math.floor((MAX_SNAPSHOT_BYTES - 8) / 3))}[]]`);
    expect(hostile.length).toBeLessThanOrEqual(MAX_SNAPSHOT_BYTES);
    expect(
      isGuardError(
        caught(() => parseSnapshot(hostile, 'h.json')),
        'SNAPSHOT_TOO_MANY_VALUES',
      ),
    ).toBe(true);
  });

  it('property: a snapshot is refused with SNAPSHOT_TOO_DEEP exactly when it nests deeper than the bound', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { maxLength: 2 * MAX_SNAPSHOT_DEPTH }), (kinds) => {
        const err = caught(() => parseSnapshot(nestedWith(kinds)));
        if (kinds.length + 4 > MAX_SNAPSHOT_DEPTH) expect(isGuardError(err, 'SNAPSHOT_TOO_DEEP')).toBe(true);
        else expect(err).toBeUndefined();
      }),
      { seed: 22, numRuns: 200 },
    );
  });

  it('names the entry and field of bad input', () => {
    expect(() =>
      parseSnapshot('{"resources": [{"id": "/subscriptions/x", "type": "Microsoft.Web/sites"}, {"id": 3}]}', 's.json'),
    ).toThrow(
      's.json: resources[1].id: expected an ARM resource id starting with "/" (at most 2048 chars), got number 3',
    );
    expect(() => parseSnapshot('{"resources": {}}', 's.json')).toThrow(
      's.json: resources: expected an array of ARM resource objects in {"resources": [...]}, got an object',
    );
    expect(() => parseSnapshot('[]', 's.json')).toThrow(/s\.json: \(document\): expected an object \{"resources"/);
    expect(() => parseSnapshot('{', 's.json')).toThrow(/s\.json: \(document\): expected JSON .*, got a syntax error/);
    expect(() => parseSnapshot('{"resources": [{"id": "/s", "type": "a/b", "sku": "S1"}]}', 's.json')).toThrow(
      's.json: resources[0].sku: expected an object, got "S1"',
    );
    // Without a file (the live inventory), the path alone, as before.
    expect(() => buildSnapshot([{ id: 'x' }])).toThrow(/^resources\[0\]\.id: expected an ARM resource id/);
  });

  it('property: any JSON value either parses into a snapshot or throws INVALID_INPUT or SNAPSHOT_DUPLICATE_ID (never anything else)', () => {
    let runs = 0;
    fc.assert(
      fc.property(
        fc.jsonValue({ maxDepth: 4 }),
        fc.array(
          fc.record(
            { id: fc.string(), type: fc.string(), properties: fc.jsonValue({ maxDepth: 2 }) },
            { requiredKeys: [] },
          ),
          { maxLength: 5 },
        ),
        (doc, resources) => {
          runs++;
          for (const text of [JSON.stringify(doc), JSON.stringify({ resources })]) {
            try {
              const s = parseSnapshot(text);
              // Whatever parsed, every check module runs without throwing.
              diagnosePlatform({ snapshot: s });
              diagnoseIdentities({ snapshot: s });
              diagnosePull({ snapshot: s, workload: 'x' });
            } catch (e) {
              if (!isGuardError(e, 'INVALID_INPUT', 'SNAPSHOT_DUPLICATE_ID')) throw e;
            }
          }
        },
      ),
      { numRuns: 300 },
    );
    expect(runs).toBe(300);
  });
});

describe('missing data never passes (property)', () => {
  it('removing any subset of resources from a broken snapshot never turns a failing or unknown check into a pass', async () => {
    const broken = await seedResources();
    (broken.find((r) => r.id === `${SeedIds.zone}/virtualNetworkLinks/link-seed`) as R).properties = {
      virtualNetwork: { id: SeedIds.hubVnet },
    };
    (broken.find((r) => r.id === `${SeedIds.zone}/A/acr${SEED.token}`) as R).properties = {
      aRecords: [{ ipv4Address: '10.99.0.4' }],
    };
    (broken.find((r) => r.id === SeedIds.registry) as R & { properties: R }).properties.adminUserEnabled = true;
    broken.push({
      id: `/subscriptions/${SEED.subscription}/providers/Microsoft.Authorization/roleAssignments/c1`,
      name: 'c1',
      type: 'Microsoft.Authorization/roleAssignments',
      properties: {
        principalId: SEED.principals.worker,
        scope: `/subscriptions/${SEED.subscription}`,
        roleDefinitionId: '/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635',
      },
    });
    const base = broken.filter(
      (r) =>
        !(
          r.type === 'Microsoft.Authorization/roleAssignments' &&
          (r.properties as R).principalId === SEED.principals.worker &&
          (r.properties as R).scope === SeedIds.registry
        ),
    );
    const run = (rs: R[]) => {
      const snapshot = buildSnapshot(rs);
      return [
        ...diagnosePull({ snapshot, workload: SeedIds.api, verdicts: released }).checks.map((c) => ({
          ...c,
          id: `api ${c.id}`,
        })),
        ...diagnosePull({ snapshot, workload: SeedIds.worker, verdicts: released }).checks.map((c) => ({
          ...c,
          id: `worker ${c.id}`,
        })),
        ...diagnoseIdentities({ snapshot }).checks,
        ...diagnosePlatform({ snapshot }).checks,
      ];
    };
    const notPassingKeys = new Set(
      run(base)
        .filter((c) => c.status !== 'pass')
        .map((c) => `${c.id} ${c.target}`),
    );
    // The zone link, the A record (for each workload), Owner on the worker's identity, the admin user.
    expect(notPassingKeys.size).toBe(6);
    let runs = 0;
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: base.length, maxLength: base.length }), (keep) => {
        runs++;
        // Role assignments stay: deleting one is a real change (the Owner grant removed), not missing data.
        const passing = run(base.filter((r, i) => keep[i] || r.type === 'Microsoft.Authorization/roleAssignments'))
          .filter((c) => c.status === 'pass')
          .map((c) => `${c.id} ${c.target}`);
        expect(passing.filter((k) => notPassingKeys.has(k))).toEqual([]);
      }),
      { numRuns: 200 },
    );
    expect(runs).toBe(200);
    // A snapshot without any role assignment (captured without authorizationresources) proves nothing.
    const none = run(base.filter((r) => r.type !== 'Microsoft.Authorization/roleAssignments')).filter(
      (c) => c.id === 'identities.least-privilege',
    );
    expect(none.map((c) => c.status)).toEqual(['unknown', 'unknown', 'unknown']);
  });
});
