/**
 * Issue 17 case 6, the pure parts: roles judged by what they allow (actions minus notActions, wildcards as ARM
 * matches them), ACR ABAC conditions on the repository name, and one id twice refused. fast-check properties
 * with a fixed seed.
 */
import fc from 'fast-check';
import {
  AUTHORIZATION_WRITE_ACTIONS,
  BUILT_IN_ROLES,
  BuiltInRoleIds,
  buildSnapshot,
  conditionAllows,
  globMatch,
  isPrivileged,
  parseCondition,
  registryWriteRights,
  repositoryReadCondition,
  roleAllows,
  rolePrivilege,
  type RoleDefinition,
} from '../../../../src/core/doctor';
import { isGuardError } from '../../../../src/core/errors';

const SEED = 17;
const role = (actions: string[], notActions: string[] = []): RoleDefinition => ({
  id: 'custom',
  name: 'custom',
  actions,
  notActions,
  builtIn: false,
});

/** A string with each letter's case flipped at random. */
const anyCase = (s: string) =>
  fc
    .array(fc.boolean(), { minLength: s.length, maxLength: s.length })
    .map((flips) => [...s].map((ch, i) => (flips[i] ? ch.toUpperCase() : ch.toLowerCase())).join(''));

/** Action patterns: real actions, their segments replaced by `*` or cut short with `*`. */
const REAL = [
  ...AUTHORIZATION_WRITE_ACTIONS,
  'Microsoft.Authorization/roleAssignments/delete',
  'Microsoft.Authorization/roleAssignments/read',
  'Microsoft.Compute/virtualMachines/write',
  'Microsoft.ContainerRegistry/registries/pull/read',
  'Microsoft.ContainerRegistry/registries/write',
  'Microsoft.Resources/subscriptions/resourceGroups/read',
  'Microsoft.Support/supportTickets/write',
];
const pattern = fc.oneof(
  fc.constantFrom(...REAL, '*', '*/write', '*/read', 'Microsoft.*', 'Microsoft.Authorization/*', '*/action'),
  fc.tuple(fc.constantFrom(...REAL), fc.nat(), fc.boolean()).map(([a, n, cut]) => {
    const parts = a.split('/');
    const i = n % parts.length;
    if (cut) return `${a.slice(0, n % a.length)}*`;
    parts[i] = '*';
    return parts.join('/');
  }),
);

describe('roles are judged by what they allow', () => {
  it('the built-ins: Owner, Contributor and User Access Administrator are privileged; the narrow roles are not', () => {
    const privileged = [...BUILT_IN_ROLES.values()].filter(isPrivileged).map((r) => r.name);
    expect(privileged.sort()).toEqual(['Contributor', 'Owner', 'User Access Administrator']);
    // Contributor writes anything but cannot hand out rights; User Access Administrator the reverse.
    expect(rolePrivilege(BUILT_IN_ROLES.get(BuiltInRoleIds.contributor)!)).toEqual({
      authorizationWrites: [],
      writesAnything: true,
    });
    expect(rolePrivilege(BUILT_IN_ROLES.get(BuiltInRoleIds.userAccessAdministrator)!).writesAnything).toBe(false);
  });

  it('dataActions count apart: registry write rights from control-plane actions or repository data actions', () => {
    const rights = (id: string) => registryWriteRights(BUILT_IN_ROLES.get(id)!);
    expect(rights(BuiltInRoleIds.acrPull)).toEqual([]);
    expect(rights(BuiltInRoleIds.acrPush)).toEqual(['push']);
    expect(rights(BuiltInRoleIds.acrDelete)).toEqual(['delete']);
    expect(rights(BuiltInRoleIds.repositoryReader)).toEqual([]);
    expect(rights(BuiltInRoleIds.repositoryWriter)).toEqual(['push']);
    expect(rights(BuiltInRoleIds.repositoryContributor)).toEqual(['push', 'delete']);
    // `actions` never grant data actions; notDataActions subtract.
    expect(registryWriteRights(role(['Microsoft.ContainerRegistry/registries/repositories/*']))).toEqual([]);
    expect(
      registryWriteRights({
        ...role([]),
        dataActions: ['Microsoft.ContainerRegistry/*'],
        notDataActions: ['microsoft.containerregistry/registries/repositories/content/DELETE'],
      }),
    ).toEqual(['push']);
    // Repository roles are data roles: never privileged.
    expect(isPrivileged(BUILT_IN_ROLES.get(BuiltInRoleIds.repositoryContributor)!)).toBe(false);
  });

  it('property: a role whose actions include X allows X however either is written in case', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...REAL).chain((a) => fc.tuple(fc.constant(a), anyCase(a), anyCase(a))),
        ([, written, asked]) => {
          expect(roleAllows(role([written]), asked)).toBe(true);
          expect(roleAllows(role([written], [asked]), written)).toBe(false);
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('property: any role allowing one authorization write, in any case or through any wildcard, is privileged', () => {
    fc.assert(
      fc.property(fc.array(pattern, { maxLength: 4 }), fc.array(pattern, { maxLength: 3 }), (actions, notActions) => {
        const r = role(actions, notActions);
        if (AUTHORIZATION_WRITE_ACTIONS.some((a) => roleAllows(r, a))) expect(isPrivileged(r)).toBe(true);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('property: adding notActions never makes a role more privileged; adding actions never less', () => {
    const le = (a: ReturnType<typeof rolePrivilege>, b: ReturnType<typeof rolePrivilege>) => {
      expect(a.authorizationWrites.every((x) => b.authorizationWrites.includes(x))).toBe(true);
      if (a.writesAnything) expect(b.writesAnything).toBe(true);
    };
    fc.assert(
      fc.property(
        fc.array(pattern, { maxLength: 4 }),
        fc.array(pattern, { maxLength: 3 }),
        fc.array(pattern, { minLength: 1, maxLength: 3 }),
        (actions, notActions, extra) => {
          const base = rolePrivilege(role(actions, notActions));
          le(rolePrivilege(role(actions, [...notActions, ...extra])), base);
          le(base, rolePrivilege(role([...actions, ...extra], notActions)));
        },
      ),
      { seed: SEED, numRuns: 500 },
    );
  });
});

describe('ACR ABAC conditions on the repository name', () => {
  const ATTR = '@Request[Microsoft.ContainerRegistry/registries/repositories:name]';
  const wrap = (expr: string) =>
    `((!(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/content/read'}) AND !(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/metadata/read'})) OR (${expr}))`;
  const read = (repository: string) => ({
    action: 'Microsoft.ContainerRegistry/registries/repositories/content/read',
    repository,
  });
  const repo = fc.stringMatching(/^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*){0,2}$/);

  it('the documented forms', () => {
    expect(conditionAllows(wrap(`${ATTR} StringStartsWithIgnoreCase 'team-a/'`), read('Team-A/api'))).toBe(true);
    expect(conditionAllows(wrap(`${ATTR} StringStartsWith 'team-a/'`), read('Team-A/api'))).toBe(false);
    expect(conditionAllows(wrap(`${ATTR} StringNotEquals 'team-a/secret'`), read('team-a/secret'))).toBe(false);
    expect(
      conditionAllows(
        wrap(`${ATTR} StringStartsWith 'app/' AND NOT ${ATTR} StringEquals 'app/secret'`),
        read('app/secret'),
      ),
    ).toBe(false);
    expect(conditionAllows(wrap(`${ATTR} StringLike 'app/*/web'`), read('app/x/web'))).toBe(true);
    // A condition on other actions only leaves reads alone.
    const pushOnly = `((!(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/content/write'})) OR (${ATTR} StringEquals 'x'))`;
    expect(conditionAllows(pushOnly, read('anything'))).toBe(true);
    expect(conditionAllows(undefined, read('anything'))).toBe(true);
  });

  it('property: StringStartsWith / StringEquals / their IgnoreCase forms decide as the operator says', () => {
    fc.assert(
      fc.property(repo, repo, fc.boolean(), (name, prefix, ignoreCase) => {
        const ic = ignoreCase ? 'IgnoreCase' : '';
        const norm = (x: string) => (ignoreCase ? x.toLowerCase() : x);
        expect(conditionAllows(wrap(`${ATTR} StringStartsWith${ic} '${prefix}'`), read(name))).toBe(
          norm(name).startsWith(norm(prefix)),
        );
        expect(conditionAllows(wrap(`${ATTR} StringEquals${ic} '${prefix}'`), read(name))).toBe(
          norm(name) === norm(prefix),
        );
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('property: the fix doctor prints allows exactly its repository', () => {
    fc.assert(
      fc.property(repo, repo, (name, other) => {
        expect(conditionAllows(repositoryReadCondition(name), read(name))).toBe(true);
        expect(conditionAllows(repositoryReadCondition(name), read(other))).toBe(
          name.toLowerCase() === other.toLowerCase(),
        );
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('property: any text either parses or is unknown (undefined), never throws; unknown is never a pass', () => {
    const pieces = fc.constantFrom(
      '(',
      ')',
      '!',
      ' AND ',
      ' OR ',
      ' NOT ',
      ATTR,
      ' StringEquals ',
      ' StringStartsWith ',
      ' ForAnyOfAnyValues:StringEquals ',
      "'a'",
      "{'a','b'}",
      "ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/content/read'}",
      '@Resource[x]',
      "'",
      '{',
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 80 }),
          fc.array(pieces, { maxLength: 12 }).map((p) => p.join('')),
        ),
        (text) => {
          const parsed = parseCondition(text);
          const allowed = conditionAllows(text, read('a'));
          if (parsed === undefined && text.trim() !== '') expect(allowed).toBeUndefined();
        },
      ),
      { seed: SEED, numRuns: 1000 },
    );
  });
});

describe('one resource id twice', () => {
  it('property: the same id again, in any case, is refused naming both entries', () => {
    const id =
      '/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/acr';
    fc.assert(
      fc.property(anyCase(id), fc.nat({ max: 3 }), (again, before) => {
        const others = Array.from({ length: before }, (_, i) => ({
          id: `${id}${i}`,
          type: 'Microsoft.ContainerRegistry/registries',
        }));
        const rs = [{ id, type: 'Microsoft.ContainerRegistry/registries' }, ...others, { id: again, type: 'x/y' }];
        try {
          buildSnapshot(rs);
          throw new Error('accepted');
        } catch (e) {
          expect(isGuardError(e, 'SNAPSHOT_DUPLICATE_ID')).toBe(true);
          expect((e as Error).message).toContain(
            `resources[${before + 1}].id: ${JSON.stringify(again)} is already resources[0]`,
          );
        }
      }),
      { seed: SEED, numRuns: 100 },
    );
  });
});

describe('wildcards are matched without backtracking (hostile patterns)', () => {
  it('property: globMatch agrees with a regular-expression reference on small inputs', () => {
    const ref = (p: string, t: string, q: boolean) =>
      new RegExp(
        `^${[...p].map((c) => (c === '*' ? '.*' : q && c === '?' ? '.' : c.replace(/[.+?^${}()|[\]\\/]/g, '\\$&'))).join('')}$`,
        's',
      ).test(t);
    fc.assert(
      fc.property(fc.stringMatching(/^[ab*?/]{0,8}$/), fc.stringMatching(/^[ab?/]{0,10}$/), fc.boolean(), (p, t, q) => {
        expect(globMatch(p, t, { questionMark: q })).toBe(ref(p, t, q));
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('a custom role or condition of thousands of `*` is judged within a bound', () => {
    const hostile = `${'*a'.repeat(3000)}*b`;
    const started = Date.now();
    expect(roleAllows(role([hostile]), 'a'.repeat(5000))).toBe(false);
    expect(isPrivileged(role([hostile]))).toBe(false);
    const condition = `@Request[Microsoft.ContainerRegistry/registries/repositories:name] StringLike '${hostile.slice(0, 4000)}'`;
    expect(conditionAllows(condition, { action: 'x', repository: 'a'.repeat(256) })).toBe(false);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
