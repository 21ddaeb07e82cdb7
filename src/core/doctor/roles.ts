/**
 * Role definitions: the built-ins doctor knows by their fixed ids (learn.microsoft.com/azure/role-based-access-control/
 * built-in-roles), custom ones from the snapshot, and action matching with ARM's wildcards and notActions.
 */
import { globMatch } from './glob';
import { arr, byId, ofType, str, Types, type Snapshot } from './snapshot';

/** A role's name and permissions: control plane (actions) and data plane (dataActions), each minus its `not` list. */
export interface RoleDefinition {
  id: string;
  name: string;
  actions: readonly string[];
  notActions: readonly string[];
  /** Data-plane actions (absent = none): judged on their own, never granted by `actions`. */
  dataActions?: readonly string[];
  notDataActions?: readonly string[];
  builtIn: boolean;
}

/** Fixed ids of the built-in roles doctor names in its findings and fixes. */
export const BuiltInRoleIds = {
  owner: '8e3af657-a8ff-443c-a75c-2fe8c4bcb635',
  contributor: 'b24988ac-6180-42a0-ab88-20f7382dd24c',
  userAccessAdministrator: '18d7d88d-d35e-4fb5-a5c3-7773c20a72d9',
  reader: 'acdd72a7-3385-48ef-bd42-f606fba81ae7',
  acrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d',
  acrPush: '8311e382-0749-4cb8-b61a-304f252e45ec',
  acrDelete: 'c2f4ef07-c644-48eb-af81-4b1b4947fb11',
  acrQuarantineWriter: 'c8d4ff99-41c3-41a8-9f60-21dfdad59608',
  /** The roles an ABAC-mode registry honours for repository data (with optional conditions on the repository). */
  repositoryReader: 'b93aa761-3e63-49ed-ac28-beffa264f7ac',
  repositoryWriter: '2a1e307c-b015-4ebd-883e-5b7698a07328',
  repositoryContributor: '2efddaa5-3f1f-4df3-97df-af3f13818f4c',
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6',
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7',
  logAnalyticsReader: '73c42c96-874c-492b-b04d-ab87d138a893',
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb',
} as const;

const B = BuiltInRoleIds;
const CONTRIBUTOR_NOT = [
  'Microsoft.Authorization/*/Delete',
  'Microsoft.Authorization/*/Write',
  'Microsoft.Authorization/elevateAccess/Action',
  'Microsoft.Blueprint/blueprintAssignments/write',
  'Microsoft.Blueprint/blueprintAssignments/delete',
  'Microsoft.Compute/galleries/share/action',
  'Microsoft.Purview/consents/write',
  'Microsoft.Purview/consents/delete',
];

const REPO = 'Microsoft.ContainerRegistry/registries/repositories';
const REPO_READ = [`${REPO}/content/read`, `${REPO}/metadata/read`];
const REPO_WRITE = [`${REPO}/content/write`, `${REPO}/metadata/write`];
const REPO_DELETE = [`${REPO}/content/delete`, `${REPO}/metadata/delete`];

/**
 * The built-in table: control-plane actions, and the data actions of the ACR repository roles (other roles' data
 * actions are not needed by any check and are left out).
 */
export const BUILT_IN_ROLES: ReadonlyMap<string, RoleDefinition> = new Map(
  (
    [
      [B.owner, 'Owner', ['*'], []],
      [B.contributor, 'Contributor', ['*'], CONTRIBUTOR_NOT],
      [
        B.userAccessAdministrator,
        'User Access Administrator',
        ['*/read', 'Microsoft.Authorization/*', 'Microsoft.Support/*'],
        [],
      ],
      [B.reader, 'Reader', ['*/read'], []],
      [B.acrPull, 'AcrPull', ['Microsoft.ContainerRegistry/registries/pull/read'], []],
      [
        B.acrPush,
        'AcrPush',
        ['Microsoft.ContainerRegistry/registries/pull/read', 'Microsoft.ContainerRegistry/registries/push/write'],
        [],
      ],
      [B.acrDelete, 'AcrDelete', ['Microsoft.ContainerRegistry/registries/artifacts/delete'], []],
      [
        B.acrQuarantineWriter,
        'AcrQuarantineWriter',
        [
          'Microsoft.ContainerRegistry/registries/quarantine/read',
          'Microsoft.ContainerRegistry/registries/quarantine/write',
        ],
        [],
      ],
      [B.keyVaultSecretsUser, 'Key Vault Secrets User', [], []],
      [
        B.keyVaultSecretsOfficer,
        'Key Vault Secrets Officer',
        [
          'Microsoft.Authorization/*/read',
          'Microsoft.Insights/alertRules/*',
          'Microsoft.Resources/deployments/*',
          'Microsoft.Resources/subscriptions/resourceGroups/read',
          'Microsoft.Support/*',
          'Microsoft.KeyVault/checkNameAvailability/read',
          'Microsoft.KeyVault/deletedVaults/read',
          'Microsoft.KeyVault/locations/*/read',
          'Microsoft.KeyVault/vaults/*/read',
          'Microsoft.KeyVault/operations/read',
        ],
        [],
      ],
      [
        B.logAnalyticsReader,
        'Log Analytics Reader',
        [
          '*/read',
          'Microsoft.OperationalInsights/workspaces/analytics/query/action',
          'Microsoft.OperationalInsights/workspaces/search/action',
          'Microsoft.Support/*',
        ],
        ['Microsoft.OperationalInsights/workspaces/sharedKeys/read'],
      ],
      [
        B.monitoringMetricsPublisher,
        'Monitoring Metrics Publisher',
        [
          'Microsoft.Insights/Register/Action',
          'Microsoft.Support/*',
          'Microsoft.Resources/subscriptions/resourceGroups/read',
        ],
        [],
      ],
      [B.repositoryReader, 'Container Registry Repository Reader', [], [], REPO_READ],
      [B.repositoryWriter, 'Container Registry Repository Writer', [], [], [...REPO_READ, ...REPO_WRITE]],
      [
        B.repositoryContributor,
        'Container Registry Repository Contributor',
        [],
        [],
        [...REPO_READ, ...REPO_WRITE, ...REPO_DELETE],
      ],
    ] as Array<[string, string, string[], string[], string[]?]>
  ).map(([id, name, actions, notActions, dataActions]) => [
    id,
    { id, name, actions, notActions, ...(dataActions ? { dataActions, notDataActions: [] } : {}), builtIn: true },
  ]),
);

/** The GUID at the end of a role definition id (`/subscriptions/…/providers/Microsoft.Authorization/roleDefinitions/<guid>`). */
export function roleGuid(roleDefinitionId: string): string {
  return (roleDefinitionId.split('/').pop() ?? '').toLowerCase();
}

/** The definition of a role: built-in by its fixed id, custom from the snapshot; undefined when unknown. */
export function resolveRole(s: Snapshot, roleDefinitionId: string): RoleDefinition | undefined {
  const guid = roleGuid(roleDefinitionId);
  const builtIn = BUILT_IN_ROLES.get(guid);
  if (builtIn) return builtIn;
  const custom =
    byId(s, roleDefinitionId) ?? ofType(s, Types.roleDefinition).find((d) => d.name.toLowerCase() === guid);
  if (!custom) return undefined;
  const perms = arr(custom.properties, 'permissions');
  const list = (key: string) => perms.flatMap((p) => arr(p, key)).filter((a): a is string => typeof a === 'string');
  return {
    id: guid,
    name: str(custom.properties, 'roleName') ?? guid,
    actions: list('actions'),
    notActions: list('notActions'),
    dataActions: list('dataActions'),
    notDataActions: list('notDataActions'),
    builtIn: false,
  };
}

/**
 * ARM action pattern match: case-insensitive, `*` matches any run of characters (within a segment or across
 * segments, as ARM's `Microsoft.Authorization/<any>` and `<any>/write` do).
 */
export function actionMatches(pattern: string, action: string): boolean {
  return globMatch(pattern.trim(), action.trim(), { ignoreCase: true });
}

/** True when the role allows the control-plane `action` (some action matches and no notAction does). */
export function roleAllows(role: RoleDefinition, action: string): boolean {
  return role.actions.some((a) => actionMatches(a, action)) && !role.notActions.some((n) => actionMatches(n, action));
}

/** True when the role allows the data-plane `dataAction` (`actions` never grant data actions, as in Azure RBAC). */
export function roleAllowsData(role: RoleDefinition, dataAction: string): boolean {
  return (
    (role.dataActions ?? []).some((a) => actionMatches(a, dataAction)) &&
    !(role.notDataActions ?? []).some((n) => actionMatches(n, dataAction))
  );
}

/**
 * Control-plane actions that hand out rights: whoever holds one can grant itself (or anyone) anything at that
 * scope, or switch off the policies that guard it.
 */
export const AUTHORIZATION_WRITE_ACTIONS = [
  'Microsoft.Authorization/roleAssignments/write',
  'Microsoft.Authorization/roleDefinitions/write',
  'Microsoft.Authorization/policyAssignments/write',
  'Microsoft.Authorization/policyDefinitions/write',
  'Microsoft.Authorization/policySetDefinitions/write',
  'Microsoft.Authorization/policyExemptions/write',
  'Microsoft.Authorization/elevateAccess/Action',
] as const;

/**
 * Writes of resource types no role names by provider: a role allows one of these only through a wildcard that
 * spans providers (`*`, `<any>/write`, `Microsoft.*`…), i.e. it can write (nearly) any resource. Several, so one
 * odd notAction cannot hide a wildcard.
 */
export const ANY_WRITE_PROBES = [
  'Microsoft.Compute/virtualMachines/write',
  'Microsoft.ContainerRegistry/registries/write',
  'Microsoft.Network/virtualNetworks/write',
  'Microsoft.KeyVault/vaults/write',
  'Microsoft.Web/sites/write',
  'Microsoft.App/containerApps/write',
  'Microsoft.Storage/storageAccounts/write',
  'Microsoft.Resources/subscriptions/resourceGroups/write',
  'Microsoft.AcrGuardUnlisted/anything/write',
] as const;

/** A pattern that can match actions of any provider: a `*` in its first (namespace) segment. */
function spansProviders(pattern: string): boolean {
  return (pattern.trim().split('/')[0] ?? '').includes('*');
}

/** What makes a role privileged, judged by what it allows (actions minus notActions, wildcards expanded). */
export interface RolePrivilege {
  /** The {@link AUTHORIZATION_WRITE_ACTIONS} the role allows. */
  authorizationWrites: string[];
  /** The role writes (nearly) any resource type: `*`, `<any>/write` or a wildcard across providers, net of notActions. */
  writesAnything: boolean;
}

/** Judges a role by what it allows. Monotone: adding notActions never adds a privilege. */
export function rolePrivilege(role: RoleDefinition): RolePrivilege {
  const authorizationWrites = AUTHORIZATION_WRITE_ACTIONS.filter((a) => roleAllows(role, a));
  const writesAnything = ANY_WRITE_PROBES.some(
    (probe) =>
      role.actions.some((a) => spansProviders(a) && actionMatches(a, probe)) &&
      !role.notActions.some((n) => actionMatches(n, probe)),
  );
  return { authorizationWrites, writesAnything };
}

/**
 * Privileged: the role can write role assignments, role definitions or policy, or write any resource (`*`,
 * `<any>/write`): Owner, Contributor and User Access Administrator, and every custom role that allows as much.
 */
export function isPrivileged(role: RoleDefinition): boolean {
  const p = rolePrivilege(role);
  return p.writesAnything || p.authorizationWrites.length > 0;
}

/** Why a role is privileged, in a few words (empty when it is not). */
export function privilegeReason(role: RoleDefinition): string {
  const p = rolePrivilege(role);
  const parts: string[] = [];
  if (p.writesAnything) parts.push('writes any resource');
  if (p.authorizationWrites.length > 0) parts.push(`can ${p.authorizationWrites.join(', ')}`);
  return parts.join('; ');
}

/**
 * The registry data rights a role carries (push, delete), from control-plane actions (legacy registries:
 * `registries/push/write`, `registries/artifacts/delete`) and from data actions (ABAC-mode registries:
 * `repositories/content/write`, `repositories/content/delete`). Judged apart from privilege: pushing decides
 * nothing at acr-guard, but whoever holds it is worth naming in a review.
 */
export function registryWriteRights(role: RoleDefinition): string[] {
  const out: string[] = [];
  if (
    roleAllows(role, 'Microsoft.ContainerRegistry/registries/push/write') ||
    roleAllowsData(role, `${REPO}/content/write`)
  )
    out.push('push');
  if (
    roleAllows(role, 'Microsoft.ContainerRegistry/registries/artifacts/delete') ||
    roleAllowsData(role, `${REPO}/content/delete`)
  )
    out.push('delete');
  return out;
}

/** One role assignment as the checks read it. */
export interface Assignment {
  id: string;
  principalId: string;
  scope: string;
  roleDefinitionId: string;
  /** The ABAC condition (`properties.condition`), when the assignment has one. */
  condition?: string;
}

/** The scope of an assignment: `properties.scope`, else its id up to `/providers/Microsoft.Authorization/roleAssignments/`. */
function assignmentScope(id: string, scope: string | undefined): string {
  if (scope) return scope;
  const i = id.toLowerCase().indexOf('/providers/microsoft.authorization/roleassignments/');
  return i >= 0 ? id.slice(0, i) || '/' : id;
}

/** Every role assignment of a principal (object id compared case-insensitively). */
export function assignmentsOf(s: Snapshot, principalId: string): Assignment[] {
  const p = principalId.toLowerCase();
  return ofType(s, Types.roleAssignment)
    .filter((a) => (str(a.properties, 'principalId') ?? '').toLowerCase() === p)
    .map((a) => ({
      id: a.id,
      principalId,
      scope: assignmentScope(a.id, str(a.properties, 'scope')),
      roleDefinitionId: str(a.properties, 'roleDefinitionId') ?? '',
      ...(str(a.properties, 'condition') ? { condition: str(a.properties, 'condition') } : {}),
    }));
}

/** The kind of a scope: root, management group, subscription, resource group or a resource. */
export function scopeKind(scope: string): 'root' | 'managementGroup' | 'subscription' | 'resourceGroup' | 'resource' {
  const s = scope.replace(/\/+$/, '');
  if (s === '') return 'root';
  if (/^\/providers\/Microsoft\.Management\/managementGroups\/[^/]+$/i.test(s)) return 'managementGroup';
  if (/^\/subscriptions\/[^/]+$/i.test(s)) return 'subscription';
  if (/^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+$/i.test(s)) return 'resourceGroup';
  return 'resource';
}
