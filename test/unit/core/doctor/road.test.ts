/**
 * `doctor platform`'s road checks on snapshots: the healthy platform infra/ deploys (test/support/doctorSeeds.ts,
 * built from the Bicep, in quarantine and in promote mode) passes; each way the road can be broken fails with its
 * evidence and fix: the deploy-time policy missing, in audit, not enforced, exempted, scoped out or harmless; under
 * promote the registry not in ABAC mode, or an identity other than acr-guard's able to write the release prefix.
 */
import fc from 'fast-check';
import {
  buildSnapshot,
  evaluatePolicyRule,
  diagnosePlatform,
  roadFromPolicy,
  type DoctorCheck,
  type RoadOptions,
} from '../../../../src/core/doctor';
import { evaluateCondition, parseCondition, probeNames, type Condition } from '../../../../src/core/doctor/abac';
import { loadPolicy } from '../../../../src/core/policy';
import { SEED, SeedIds, seedResources } from '../../../support/doctorSeeds';

/** The road's question: does the condition allow `action` on repository `name`. */
const conditionAllows = (c: Condition, action: string, name: string) =>
  evaluateCondition(c, { action, repository: name });
/** A condition doctor reads (the test fails on one it cannot). */
const readable = (src: string): Condition => {
  const c = parseCondition(src);
  if (c === undefined) throw new Error(`doctor cannot read ${src}`);
  return c;
};

type R = Record<string, unknown> & { id: string; properties: Record<string, unknown> };
const SUB = `/subscriptions/${SEED.subscription}`;
const ROAD: RoadOptions = {
  registries: [{ host: SeedIds.loginServer, mode: 'promote', releasePrefix: 'release/' }],
  guardPrincipalIds: [SEED.principals.guard],
};
const WRITER = '2a1e307c-b015-4ebd-883e-5b7698a07328';
const CONTRIBUTOR_REPO = '2efddaa5-3f1f-4df3-97df-af3f13818f4c';
const CI = '44444444-4444-4444-4444-444444444444';
const NAME = '@Request[Microsoft.ContainerRegistry/registries/repositories:name]';
const WRITE =
  "!(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/content/write'}) AND !(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/metadata/write'})";

async function run(opts: { promote?: boolean; road?: RoadOptions; edit?: (rs: R[]) => R[] | void } = {}) {
  let rs = (await seedResources({ gateMode: opts.promote ? 'promote' : 'quarantine' })) as R[];
  rs = opts.edit?.(rs) ?? rs;
  return diagnosePlatform({ snapshot: buildSnapshot(rs), road: opts.road }).checks;
}
const failing = (checks: DoctorCheck[]) => checks.filter((c) => c.status !== 'pass');
const assignments = (rs: R[]) => rs.filter((r) => /policyAssignments/i.test(r.id));
const roleAssignment = (n: number, principalId: string, role: string, condition?: string): R => {
  const id = `${SeedIds.registry}/providers/Microsoft.Authorization/roleAssignments/9999${String(n).padStart(4, '0')}-0000-4000-8000-000000000000`;
  return {
    id,
    name: id.split('/').pop(),
    type: 'Microsoft.Authorization/roleAssignments',
    properties: {
      principalId,
      scope: SeedIds.registry,
      roleDefinitionId: `${SUB}/providers/Microsoft.Authorization/roleDefinitions/${role}`,
      ...(condition ? { condition, conditionVersion: '2.0' } : {}),
    },
  };
};

describe('the healthy platform passes the road', () => {
  it('quarantine mode (the Bicep default): every workload and the subscription covered by an enforced Deny', async () => {
    const checks = await run();
    expect(failing(checks)).toEqual([]);
    const road = checks.filter((c) => c.id.startsWith('platform.deploy-policy'));
    expect(
      road
        .filter((c) => c.id === 'platform.deploy-policy')
        .map((c) => c.target)
        .sort(),
    ).toEqual([SeedIds.api, SeedIds.worker].sort());
    expect(road.filter((c) => c.id === 'platform.deploy-policy-subscription')).toHaveLength(3);
  });

  it('promote mode with --policy and the guard identity: ABAC on, only acr-guard writes release/', async () => {
    const checks = await run({ promote: true, road: ROAD });
    expect(failing(checks)).toEqual([]);
    const ids = checks.map((c) => c.id);
    expect(ids).toEqual(expect.arrayContaining(['platform.registry-abac', 'platform.release-writers']));
    expect(checks.find((c) => c.id === 'platform.release-writers')?.evidence).toMatch(/only acr-guard/);
    // Quarantine is off under promote, on purpose.
    expect(checks.find((c) => c.id === 'platform.registry-quarantine')?.evidence).toMatch(/promote mode/);
  });

  it("a CI pusher with the Bicep's condition (write everywhere but release/) is not a release writer", async () => {
    const cond = `((${WRITE}) OR (${NAME} StringNotStartsWithIgnoreCase 'release/'))`;
    const checks = await run({ promote: true, road: ROAD, edit: (rs) => [...rs, roleAssignment(1, CI, WRITER, cond)] });
    expect(failing(checks)).toEqual([]);
  });
});

describe('the deploy-time policy broken', () => {
  it('missing: every workload and the subscription fail, with the deployment as the fix', async () => {
    const checks = await run({ edit: (rs) => rs.filter((r) => !/policyAssignments/i.test(r.id)) });
    const bad = failing(checks);
    expect(bad.map((c) => c.id).sort()).toEqual(
      [...Array(2).fill('platform.deploy-policy'), ...Array(3).fill('platform.deploy-policy-subscription')].sort(),
    );
    expect(bad[0].evidence).toMatch(/deploy-time policy is missing/);
    expect(bad[0].fix).toMatch(/az deployment sub create|azd provision/);
  });

  it('in audit (effect Audit) or not enforced (DoNotEnforce): fail, with the update as the fix', async () => {
    for (const edit of [
      (a: R) => ((a.properties.parameters as Record<string, { value: unknown }>).effect = { value: 'Audit' }),
      (a: R) => (a.properties.enforcementMode = 'DoNotEnforce'),
    ]) {
      const checks = await run({ edit: (rs) => void assignments(rs).forEach(edit) });
      const api = checks.find((c) => c.id === 'platform.deploy-policy' && c.target === SeedIds.api) as DoctorCheck;
      expect(api.status).toBe('fail');
      expect(api.evidence).toMatch(/effect is Audit|enforcementMode = DoNotEnforce/);
      expect(api.fix).toMatch(
        /az policy assignment update .* --enforcement-mode Default --params '\{"effect":\{"value":"Deny"\}\}'/,
      );
    }
  });

  it('the effect left to the definition default (Deny) still passes; Disabled fails', async () => {
    expect(
      failing(
        await run({
          edit: (rs) =>
            void assignments(rs).forEach((a) => delete (a.properties.parameters as Record<string, unknown>).effect),
        }),
      ),
    ).toEqual([]);
    const checks = await run({
      edit: (rs) =>
        void assignments(rs).forEach(
          (a) => ((a.properties.parameters as Record<string, unknown>).effect = { value: 'Disabled' }),
        ),
    });
    expect(failing(checks).length).toBe(5);
  });

  it("exempted for the API's resource group: the API fails with the exemption's delete, the worker too, the subscription does not", async () => {
    const asg = (rs: R[]) => assignments(rs).find((a) => /containerapps/i.test(a.id)) as R;
    const exemption = (rs: R[], extra: Record<string, unknown> = {}): R => ({
      id: `${SeedIds.rg}/providers/Microsoft.Authorization/policyExemptions/hotfix`,
      name: 'hotfix',
      type: 'Microsoft.Authorization/policyExemptions',
      properties: { policyAssignmentId: asg(rs).id, exemptionCategory: 'Waiver', ...extra },
    });
    const checks = await run({ edit: (rs) => [...rs, exemption(rs)] });
    const bad = failing(checks);
    expect(bad.map((c) => c.target)).toEqual([SeedIds.api]);
    expect(bad[0].evidence).toMatch(/exempted by hotfix \(Waiver\)/);
    expect(bad[0].fix).toBe(`az policy exemption delete --name hotfix --scope ${SeedIds.rg}`);
    // An exemption that expired is no exemption, when doctor knows the time.
    const expired = (rs: R[]) => [...rs, exemption(rs, { expiresOn: '2020-01-01T00:00:00Z' })];
    expect(
      failing(
        await run({
          edit: expired,
          road: { registries: [], guardPrincipalIds: [], now: new Date('2026-12-07T00:00:00Z') },
        }),
      ),
    ).toEqual([]);
    // Without the time, it still counts (fail closed).
    expect(failing(await run({ edit: expired }))).toHaveLength(1);
  });

  it("scoped out (notScopes holds the workloads' resource group): those workloads fail", async () => {
    const checks = await run({
      edit: (rs) => void assignments(rs).forEach((a) => (a.properties.notScopes = [SeedIds.rg])),
    });
    expect(
      failing(checks)
        .map((c) => c.target)
        .sort(),
    ).toEqual([SeedIds.api, SeedIds.worker].sort());
  });

  it('a look-alike definition that names the aliases but lets everything through fails, by its evaluated rule', async () => {
    const checks = await run({
      edit: (rs) =>
        void rs
          .filter((r) => /policyDefinitions/i.test(r.id))
          .forEach((d) => {
            d.properties.policyRule = {
              if: {
                allOf: [
                  { field: 'type', equals: 'Microsoft.App/containerApps' },
                  {
                    count: {
                      field: 'Microsoft.App/containerApps/template.containers[*]',
                      where: {
                        value: "[current('Microsoft.App/containerApps/template.containers[*].image')]",
                        like: '*',
                      },
                    },
                    greater: 99,
                  },
                ],
              },
              then: { effect: "[parameters('effect')]" },
            };
          }),
    });
    const api = checks.find((c) => c.id === 'platform.deploy-policy' && c.target === SeedIds.api) as DoctorCheck;
    expect(api.status).toBe('fail');
    expect(api.evidence).toMatch(/does not refuse doctor-probe\.invalid\/outside:latest/);
  });

  it('a rule that skips init containers fails (the probe puts the outside image in the only init container)', async () => {
    const checks = await run({
      edit: (rs) =>
        void rs
          .filter((r) => /policyDefinitions/i.test(r.id))
          .forEach((d) => {
            const rule = d.properties.policyRule as { if: { allOf: [unknown, { anyOf: unknown[] }] } };
            rule.if.allOf[1].anyOf = rule.if.allOf[1].anyOf.slice(0, 1);
          }),
    });
    expect(failing(checks).filter((c) => c.id === 'platform.deploy-policy').length).toBe(2);
  });

  it('a hostile rule (nested past the depth bound, or an unknown function) is reported as not evaluable, not as protection', async () => {
    let deep: unknown = { field: 'type', equals: 'x' };
    for (let i = 0; i < 200; i++) deep = { not: deep };
    for (const policyRule of [
      { if: deep, then: { effect: 'Deny' } },
      { if: { value: "[reference('x')]", equals: 1 }, then: { effect: 'Deny' } },
    ]) {
      const checks = await run({
        edit: (rs) =>
          void rs.filter((r) => /policyDefinitions/i.test(r.id)).forEach((d) => (d.properties.policyRule = policyRule)),
      });
      const api = checks.find((c) => c.id === 'platform.deploy-policy' && c.target === SeedIds.api) as DoctorCheck;
      expect(api.status).toBe('fail');
      expect(api.evidence).toMatch(/could not be evaluated/);
    }
  });
});

describe('the registry half under promote', () => {
  it('not in ABAC mode: fail, with az acr update --role-assignment-mode rbac-abac; every AcrPush-like role then writes release/', async () => {
    const checks = await run({
      promote: true,
      road: ROAD,
      edit: (rs) => {
        (rs.find((r) => r.id === SeedIds.registry) as R).properties.roleAssignmentMode = 'LegacyRegistryPermissions';
        rs.push(roleAssignment(2, CI, '8311e382-0749-4cb8-b61a-304f252e45ec'));
      },
    });
    const abac = checks.find((c) => c.id === 'platform.registry-abac') as DoctorCheck;
    expect(abac.status).toBe('fail');
    expect(abac.fix).toMatch(/az acr update -n acrseed1 --role-assignment-mode rbac-abac/);
    const writers = checks.find((c) => c.id === 'platform.release-writers') as DoctorCheck;
    expect(writers.status).toBe('fail');
    expect(writers.evidence).toMatch(new RegExp(`${CI} \\(AcrPush pushes to every repository`));
    // The workloads' conditioned readers are not writers, in either mode.
    expect(writers.evidence).not.toMatch(new RegExp(SEED.principals.api));
  });

  it('roleAssignmentMode missing from the snapshot: unknown', async () => {
    const checks = await run({
      promote: true,
      road: ROAD,
      edit: (rs) => void delete (rs.find((r) => r.id === SeedIds.registry) as R).properties.roleAssignmentMode,
    });
    expect(checks.find((c) => c.id === 'platform.registry-abac')?.status).toBe('unknown');
  });

  const writerCases: [string, string, string | undefined, RegExp][] = [
    ['Repository Writer without a condition', WRITER, undefined, /without a condition writes every repository/],
    [
      'Repository Contributor with a condition for one release repository',
      CONTRIBUTOR_REPO,
      `((${WRITE}) OR (${NAME} StringEqualsIgnoreCase 'release/contoso/api'))`,
      /allows content\/write on release\/contoso\/api/,
    ],
    [
      'Writer whose exclusion is case-sensitive and misspelt (Release/)',
      WRITER,
      `((${WRITE}) OR (${NAME} StringNotStartsWith 'Release/'))`,
      /allows content\/write on release\/zz-probe/,
    ],
    [
      'Writer excluding "release" without its slash… but allowing release/ through an OR',
      WRITER,
      `((${WRITE}) OR (${NAME} StringNotStartsWithIgnoreCase 'release-') OR (${NAME} StringLike 'release/*'))`,
      /allows content\/write/,
    ],
    [
      'Writer whose condition only limits reads',
      WRITER,
      `((!(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/content/read'})) OR (${NAME} StringStartsWithIgnoreCase 'team/'))`,
      /allows content\/write on release\//,
    ],
    [
      'Writer with a condition doctor does not understand',
      WRITER,
      `((${WRITE}) OR (@Resource[Microsoft.ContainerRegistry/registries:name] StringEquals 'acrseed1'))`,
      /does not understand/,
    ],
    ['a role doctor does not know', '12345678-0000-4000-8000-00000000abcd', undefined, /not known to doctor/],
  ];

  it.each(writerCases)(
    '%s: release-writers fails naming the principal and the assignment',
    async (_what, role, condition, why) => {
      const checks = await run({
        promote: true,
        road: ROAD,
        edit: (rs) => [...rs, roleAssignment(3, CI, role, condition)],
      });
      const writers = checks.find((c) => c.id === 'platform.release-writers') as DoctorCheck;
      expect(writers.status).toBe('fail');
      expect(writers.evidence).toMatch(why);
      expect(writers.evidence).toContain(CI);
      expect(writers.fix).toMatch(/^az role assignment delete --ids \/subscriptions\/.*roleAssignments\/99990003-/);
    },
  );

  it('a custom role with repository data actions by wildcard, at the resource group, writes release/', async () => {
    const roleId = `${SUB}/providers/Microsoft.Authorization/roleDefinitions/cccccccc-0000-4000-8000-000000000000`;
    const checks = await run({
      promote: true,
      road: ROAD,
      edit: (rs) => {
        rs.push({
          id: roleId,
          name: 'cccccccc-0000-4000-8000-000000000000',
          type: 'Microsoft.Authorization/roleDefinitions',
          properties: {
            roleName: 'team pusher',
            type: 'CustomRole',
            permissions: [{ actions: [], dataActions: ['Microsoft.ContainerRegistry/registries/repositories/*'] }],
          },
        });
        const ra = roleAssignment(4, CI, 'cccccccc-0000-4000-8000-000000000000');
        ra.properties.scope = SeedIds.rg;
        rs.push(ra);
      },
    });
    expect(checks.find((c) => c.id === 'platform.release-writers')?.evidence).toMatch(
      /team pusher without a condition/,
    );
  });

  it('Owner at the subscription does not write repositories in ABAC mode (control plane only)', async () => {
    const owner = roleAssignment(5, CI, '8e3af657-a8ff-443c-a75c-2fe8c4bcb635');
    owner.properties.scope = SUB;
    expect(failing(await run({ promote: true, road: ROAD, edit: (rs) => [...rs, owner] }))).toEqual([]);
  });

  it("acr-guard's principal not given: its own writes count like anyone's (fail, never pass)", async () => {
    const checks = await run({ promote: true, road: { ...ROAD, guardPrincipalIds: [] } });
    // Without it acr-guard's own Contributor is a writer like any other.
    expect(checks.find((c) => c.id === 'platform.release-writers')?.status).toBe('fail');
  });

  it('a registry acr-guard runs in quarantine mode gets no ABAC or writer check', async () => {
    const checks = await run({ road: { ...ROAD, registries: [{ host: SeedIds.loginServer, mode: 'quarantine' }] } });
    expect(checks.filter((c) => /registry-abac|release-writers/.test(c.id))).toEqual([]);
    expect(failing(checks)).toEqual([]);
  });
});

describe('ABAC conditions and the road from the policy', () => {
  it('parses the documented examples and evaluates them per action and repository', () => {
    const doc = `( (  !(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/content/read'})  AND  !(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/metadata/read'}) ) OR  (  ${NAME} StringStartsWithIgnoreCase 'backend/' ))`;
    const c = readable(doc);
    const read = 'Microsoft.ContainerRegistry/registries/repositories/content/read';
    expect(conditionAllows(c, read, 'backend/nginx')).toBe(true);
    expect(conditionAllows(c, read, 'BACKEND/nginx')).toBe(true);
    expect(conditionAllows(c, read, 'backend-infra/k8s')).toBe(false);
    expect(conditionAllows(c, 'Microsoft.ContainerRegistry/registries/repositories/content/write', 'anything')).toBe(
      true,
    );
    expect(conditionAllows(readable(`${NAME} StringEquals {'a', 'b'}`), read, 'b')).toBe(true);
    expect(conditionAllows(readable(`${NAME} StringEquals 'a' && ${NAME} StringEquals 'a'`), read, 'a')).toBe(true);
    // Doctor's reader models the documented cross-product operator (any value matches) that road's used to refuse.
    expect(conditionAllows(readable(`${NAME} ForAnyOfAnyValues:StringEquals {'a'}`), read, 'a')).toBe(true);
    expect(conditionAllows(readable(`${NAME} ForAnyOfAnyValues:StringEquals {'a'}`), read, 'b')).toBe(false);
    expect(probeNames(readable(`${NAME} StringEquals 'release/x'`), 'release/')).toContain('release/x');
  });

  it('refuses what it does not model', () => {
    for (const bad of [
      `${NAME} ForAllOfAllValues:StringEquals {'a'}`,
      `@Principal[Microsoft.Directory/CustomSecurityAttributes/Id:team] StringEquals 'x'`,
      `(${NAME} StringEquals 'a'`,
      `${NAME} StringEquals 'a' trailing`,
      `${'('.repeat(100)}${NAME} StringEquals 'a'${')'.repeat(100)}`,
      'x'.repeat(9000),
    ])
      expect(parseCondition(bad)).toBeUndefined();
  });

  it("the road from acr-guard's policy: apply mode per registry and the promote targets' common prefix", () => {
    const policy = loadPolicy(
      [
        'version: 1',
        'registries:',
        `  - { host: ${SeedIds.loginServer}, apply: promote }`,
        '  - other.azurecr.io',
        'gate:',
        '  - scope: "contoso/*"',
        '    vulnerabilities: { block: [critical] }',
        '    promote: { repository: "release/prod/{repository}" }',
        '  - scope: "team/*"',
        '    vulnerabilities: { block: [critical] }',
        '    promote: { repository: "release/team/{repository}" }',
      ].join('\n'),
      'policy.yaml',
    );
    const road = roadFromPolicy(policy, [SEED.principals.guard]);
    expect(road.registries).toEqual([
      { host: SeedIds.loginServer, mode: 'promote', releasePrefix: 'release/' },
      { host: 'other.azurecr.io', mode: 'quarantine', releasePrefix: 'release/' },
    ]);
  });
});

describe('hostile input: conditions and rules written by whoever can assign roles or write policy', () => {
  const token = fc.constantFrom(
    '(',
    ')',
    '!',
    'AND',
    'OR',
    'NOT',
    '&&',
    '{',
    '}',
    ',',
    "'release/'",
    "'",
    NAME,
    '@Resource[x]',
    'StringStartsWith',
    'StringNotLikeIgnoreCase',
    "ActionMatches{'Microsoft.ContainerRegistry/*'}",
    'ForAnyOfAnyValues:StringEquals',
  );

  it('a condition either parses or is unknown (undefined); nothing is thrown, and parsed ones evaluate', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.array(token, { maxLength: 40 }).map((t) => t.join(' ')),
          fc.string({ maxLength: 200 }),
        ),
        (src) => {
          const node = parseCondition(src);
          if (node === undefined) return true;
          for (const name of probeNames(node, 'release/'))
            expect(
              typeof conditionAllows(node, 'Microsoft.ContainerRegistry/registries/repositories/content/write', name),
            ).toBe('boolean');
          return true;
        },
      ),
      { numRuns: 500 },
    );
  });

  it('a rule of any shape is evaluated within its bounds or refused with an Error, never a hang or a crash of another kind', () => {
    const leaf = fc.oneof(
      fc.record({
        field: fc.constantFrom('type', 'Microsoft.App/containerApps/template.containers[*].image', 'nope'),
        equals: fc.string({ maxLength: 5 }),
      }),
      fc.record({
        value: fc.constantFrom(
          "[parameters('x')]",
          "[split('a/b', '/')]",
          "[length('abc')]",
          "[current('x')]",
          '[[x]',
          '[unknown()]',
          "[concat('a', 1)]",
        ),
        notEquals: fc.integer(),
      }),
      fc.record({ value: fc.string({ maxLength: 10 }), like: fc.string({ maxLength: 6 }) }),
    );
    const cond = fc.letrec((tie) => ({
      c: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        leaf,
        fc.record({ allOf: fc.array(tie('c'), { maxLength: 3 }) }),
        fc.record({ anyOf: fc.array(tie('c'), { maxLength: 3 }) }),
        fc.record({ not: tie('c') }),
        fc.record({
          count: fc.record({
            field: fc.constant('Microsoft.App/containerApps/template.containers[*]'),
            where: tie('c'),
          }),
          greater: fc.integer({ min: -1, max: 2 }),
        }),
      ),
    })).c;
    const body = {
      type: 'Microsoft.App/containerApps',
      properties: { template: { containers: [{ name: 'a', image: 'x/y:z' }] } },
    };
    fc.assert(
      fc.property(cond, (c) => {
        try {
          const effect = evaluatePolicyRule({ if: c, then: { effect: 'Deny' } }, body, { x: ['a'] });
          return effect === undefined || effect === 'Deny';
        } catch (err) {
          return err instanceof Error;
        }
      }),
      { numRuns: 300 },
    );
  });
});
