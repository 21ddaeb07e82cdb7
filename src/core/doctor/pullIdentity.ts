/**
 * The identity half of `doctor pull`: the pull identity named for the registry is assigned to the workload and
 * holds a role that allows the pull on the registry (AcrPull or any role with the pull action; in ABAC
 * repository-permissions mode, a role with the repository read data action whose condition allows the
 * repository). Pure, over the snapshot.
 */
import { parseImageReference } from '../reference';
import { fail, pass, sh, unknown, type DoctorCheck } from './check';
import { ACR_REPOSITORY_ATTRIBUTE, conditionAllows, repositoryReadCondition } from './abac';
import {
  assignmentsOf,
  resolveRole,
  roleAllows,
  roleAllowsData,
  scopeKind,
  type Assignment,
  type RoleDefinition,
} from './roles';
import { byId, idKey, ofType, parseArmId, str, Types, type ArmResource, type Snapshot } from './snapshot';
import { isSystemRef, nameAndGroup, pullEntries, workloadIdentities, workloadImages, type Workload } from './workloads';

/** A role that allows nothing (an assignment whose definition is not in the snapshot). */
const NO_ROLE: RoleDefinition = { id: '', name: '', actions: [], notActions: [], builtIn: false };

/** The action a role must allow for a pull. */
export const PULL_ACTION = 'Microsoft.ContainerRegistry/registries/pull/read';

/** The data action a pull needs on a registry in ABAC repository-permissions mode. */
export const REPOSITORY_READ_DATA_ACTION = 'Microsoft.ContainerRegistry/registries/repositories/content/read';

/** A registry in ABAC repository-permissions mode (`roleAssignmentMode: AbacRepositoryPermissions`). */
export function isAbac(registry: ArmResource): boolean {
  return /^abacrepositorypermissions$/i.test(str(registry.properties, 'roleAssignmentMode') ?? '');
}

/**
 * Pull rights on a registry in ABAC mode: AcrPull, AcrPush and AcrDelete are not honoured there (nor Owner or
 * Contributor for data); a role with the repository read data action is, when its condition on the repository
 * name holds. A condition doctor cannot read is unknown, never a pass.
 */
function abacRoleCheck(
  s: Snapshot,
  registry: ArmResource,
  who: string,
  principalId: string,
  assignments: readonly Assignment[],
  covering: readonly Assignment[],
  repository: string,
): DoctorCheck {
  const reg = registry.id;
  const id = 'pull.identity-role';
  const target = `${reg} (repository ${repository})`;
  const req = { action: REPOSITORY_READ_DATA_ACTION, repository };
  const name = (a: Assignment) => resolveRole(s, a.roleDefinitionId)?.name ?? a.roleDefinitionId;
  const readers = covering.filter((a) => {
    const role = resolveRole(s, a.roleDefinitionId);
    return role !== undefined && roleAllowsData(role, REPOSITORY_READ_DATA_ACTION);
  });
  const granting = readers.find((a) => conditionAllows(a.condition, req) === true);
  const unreadable = readers.filter((a) => conditionAllows(a.condition, req) === undefined);
  const excluded = readers.filter((a) => conditionAllows(a.condition, req) === false);
  const legacy = covering.filter((a) => {
    const role = resolveRole(s, a.roleDefinitionId);
    return role !== undefined && roleAllows(role, PULL_ACTION);
  });
  const mode = 'the registry is in ABAC repository-permissions mode (roleAssignmentMode AbacRepositoryPermissions)';
  const ignored = legacy.length
    ? `; ${legacy.map((a) => `${name(a)} at ${a.scope}`).join(', ')} ${legacy.length > 1 ? 'are' : 'is'} not honoured in that mode`
    : '';
  const fix =
    `az role assignment create --assignee-object-id ${principalId} --assignee-principal-type ServicePrincipal --role "Container Registry Repository Reader" --scope ${reg} --condition ${sh(repositoryReadCondition(repository))} --condition-version 2.0` +
    legacy.map((a) => ` && az role assignment delete --ids ${a.id}`).join('');
  if (granting)
    return pass(
      id,
      target,
      `${mode}: ${who} (principal ${principalId}) holds ${name(granting)} at ${granting.scope}${granting.condition ? ', whose condition allows this repository' : ' without a condition (every repository)'}${ignored}`,
    );
  if (unreadable.length > 0)
    return unknown(
      id,
      target,
      `${mode}: ${who} (principal ${principalId}) holds ${unreadable.map((a) => `${name(a)} at ${a.scope}`).join(', ')} with a condition doctor cannot read (not one of the documented ACR forms on ${ACR_REPOSITORY_ATTRIBUTE}), so whether it allows ${repository} is not known`,
      fix,
    );
  const mg = assignments.filter(
    (a) =>
      scopeKind(a.scope) === 'managementGroup' &&
      roleAllowsData(resolveRole(s, a.roleDefinitionId) ?? NO_ROLE, REPOSITORY_READ_DATA_ACTION),
  );
  if (mg.length > 0)
    return unknown(
      id,
      target,
      `${mode}: ${who} (principal ${principalId}) may read repositories through an assignment at management group ${mg.map((a) => a.scope).join(', ')}; whether it contains the registry's subscription is not in the snapshot`,
      fix,
    );
  const unresolved = covering.filter((a) => !resolveRole(s, a.roleDefinitionId));
  if (unresolved.length > 0)
    return unknown(
      id,
      target,
      `${mode}: ${who} (principal ${principalId}) holds role(s) ${unresolved.map((a) => a.roleDefinitionId).join(', ')} over the registry whose definitions are not in the snapshot`,
      fix,
    );
  const why = [
    ...(legacy.length
      ? [`it holds ${legacy.map((a) => `${name(a)} at ${a.scope}`).join(', ')}, which this mode does not honour`]
      : []),
    ...(excluded.length
      ? [`the condition of ${excluded.map((a) => `${name(a)} at ${a.scope}`).join(', ')} does not allow ${repository}`]
      : []),
  ];
  return fail(
    id,
    target,
    `${mode}: ${who} (principal ${principalId}) has no role with ${REPOSITORY_READ_DATA_ACTION} for ${repository} (AcrPull, AcrPush and AcrDelete are not honoured; use Container Registry Repository Reader)${why.length ? `: ${why.join('; ')}` : ''}`,
    fix,
  );
}

/** The pull identity: assigned to the workload, and allowed to pull from the registry. */
export function identityChecks(s: Snapshot, w: Workload, registry: ArmResource, host: string): DoctorCheck[] {
  const reg = registry.id;
  const entry = pullEntries(w).find((e) => e.server.toLowerCase() === host.toLowerCase());
  const ng = nameAndGroup(w.resource);
  const isApp = w.kind === 'containerApp';
  if (!entry) {
    return [
      fail(
        'pull.identity-assigned',
        w.resource.id,
        `no ${isApp ? 'configuration.registries' : 'imageRegistryCredentials'} entry for ${host}: the pull is anonymous and the registry refuses it`,
        isApp
          ? `az containerapp registry set ${ng} --server ${host} --identity <identity-resource-id>`
          : `az container create ${ng} --acr-identity <identity-resource-id> --assign-identity <identity-resource-id> …  # recreate with the pull identity`,
      ),
    ];
  }
  if (!entry.identity)
    return [
      unknown(
        'pull.identity-assigned',
        w.resource.id,
        `${host} is pulled with username ${entry.username ?? '(none)'} (a token or the admin user); doctor checks managed identities only`,
      ),
    ];
  const identities = workloadIdentities(s, w);
  const sys = isSystemRef(entry.identity);
  const assigned = identities.find((i) =>
    sys ? i.ref === 'system' : idKey(i.ref) === idKey(entry.identity as string),
  );
  const checks: DoctorCheck[] = [];
  const who = sys ? 'the system-assigned identity' : `identity ${parseArmId(entry.identity).name}`;
  if (!assigned) {
    checks.push(
      fail(
        'pull.identity-assigned',
        w.resource.id,
        `${host} is pulled with ${who}, which is not assigned to ${w.resource.name} (assigned: ${identities.map((i) => (i.ref === 'system' ? 'system' : parseArmId(i.ref).name)).join(', ') || 'none'})`,
        isApp
          ? sys
            ? `az containerapp identity assign ${ng} --system-assigned`
            : `az containerapp identity assign ${ng} --user-assigned ${entry.identity}`
          : `az container create ${ng} --assign-identity ${sys ? '[system]' : entry.identity} --acr-identity ${sys ? '[system]' : entry.identity} …  # recreate with the identity`,
      ),
    );
  } else
    checks.push(
      pass('pull.identity-assigned', w.resource.id, `${host} is pulled with ${who}, assigned to ${w.resource.name}`),
    );
  const principalId =
    assigned?.principalId ?? (sys ? undefined : str(byId(s, entry.identity)?.properties, 'principalId'));
  if (!principalId) {
    checks.push(
      unknown(
        'pull.identity-role',
        reg,
        `the principal id of ${who} is not in the snapshot, so its role assignments cannot be read`,
      ),
    );
    return checks;
  }
  // No role assignment at all is a snapshot captured without them (every subscription has some): unknown, not fail.
  if (ofType(s, Types.roleAssignment).length === 0) {
    checks.push(
      unknown(
        'pull.identity-role',
        reg,
        `the snapshot holds no role assignments at all (captured without authorizationresources?), so the roles of ${who} are not known`,
      ),
    );
    return checks;
  }
  const assignments = assignmentsOf(s, principalId);
  const covering = assignments.filter(
    (a) => idKey(reg) === idKey(a.scope) || idKey(reg).startsWith(`${idKey(a.scope)}/`) || a.scope === '/',
  );
  if (isAbac(registry)) {
    const repositories = [
      ...new Set(
        workloadImages(w).flatMap((image) => {
          try {
            const ref = parseImageReference(image, { field: 'image' });
            return ref.registry.toLowerCase() === host.toLowerCase() ? [ref.repository] : [];
          } catch {
            return [];
          }
        }),
      ),
    ];
    for (const repository of repositories)
      checks.push(abacRoleCheck(s, registry, who, principalId, assignments, covering, repository));
    return checks;
  }
  const granting = covering.find((a) => {
    const role = resolveRole(s, a.roleDefinitionId);
    return role !== undefined && roleAllows(role, PULL_ACTION);
  });
  const fixRole = `az role assignment create --assignee-object-id ${principalId} --assignee-principal-type ServicePrincipal --role AcrPull --scope ${reg}`;
  if (granting) {
    checks.push(
      pass(
        'pull.identity-role',
        reg,
        `${who} (principal ${principalId}) holds ${resolveRole(s, granting.roleDefinitionId)?.name} at ${granting.scope}`,
      ),
    );
  } else if (
    assignments.some(
      (a) =>
        scopeKind(a.scope) === 'managementGroup' &&
        roleAllows(resolveRole(s, a.roleDefinitionId) ?? NO_ROLE, PULL_ACTION),
    )
  ) {
    // A management group's subscriptions are not in the snapshot: such a grant may or may not cover the registry.
    const mg = assignments.filter((a) => scopeKind(a.scope) === 'managementGroup').map((a) => a.scope);
    checks.push(
      unknown(
        'pull.identity-role',
        reg,
        `${who} (principal ${principalId}) may pull through an assignment at management group ${mg.join(', ')}; whether it contains the registry's subscription is not in the snapshot`,
        fixRole,
      ),
    );
  } else if (covering.some((a) => !resolveRole(s, a.roleDefinitionId))) {
    checks.push(
      unknown(
        'pull.identity-role',
        reg,
        `${who} (principal ${principalId}) holds role(s) ${covering
          .filter((a) => !resolveRole(s, a.roleDefinitionId))
          .map((a) => a.roleDefinitionId)
          .join(', ')} over the registry whose definitions are not in the snapshot`,
        fixRole,
      ),
    );
  } else {
    const elsewhere = assignments.map(
      (a) => `${resolveRole(s, a.roleDefinitionId)?.name ?? a.roleDefinitionId} at ${a.scope}`,
    );
    checks.push(
      fail(
        'pull.identity-role',
        reg,
        `${who} (principal ${principalId}) has no role with ${PULL_ACTION} on ${registry.name} or a scope above it${elsewhere.length ? ` (it holds: ${elsewhere.join('; ')})` : ''}`,
        fixRole,
      ),
    );
  }
  return checks;
}
