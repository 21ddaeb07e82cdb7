/**
 * Role definitions: the built-ins doctor knows by their fixed ids (learn.microsoft.com/azure/role-based-access-control/
 * built-in-roles), custom ones from the snapshot, and action matching with ARM's wildcards and notActions.
 */
import { arr, byId, ofType, str, Types, type Snapshot } from './snapshot';

/** A role's name and control-plane permissions. */
export interface RoleDefinition {
  id: string;
  name: string;
  actions: readonly string[];
  notActions: readonly string[];
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

/** The built-in table: control-plane actions only (data actions do not make a role privileged here). */
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
    ] as Array<[string, string, string[], string[]]>
  ).map(([id, name, actions, notActions]) => [id, { id, name, actions, notActions, builtIn: true }]),
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
    builtIn: false,
  };
}

/** ARM action pattern match: case-insensitive, `*` matches any run of characters. */
export function actionMatches(pattern: string, action: string): boolean {
  const re = new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\/]/g, '\\$&'))
      .join('.*')}$`,
    'i',
  );
  return re.test(action);
}

/** True when the role allows `action` (some action matches and no notAction does). */
export function roleAllows(role: RoleDefinition, action: string): boolean {
  return role.actions.some((a) => actionMatches(a, action)) && !role.notActions.some((n) => actionMatches(n, action));
}

/** Owner, Contributor, User Access Administrator, or any role with the action `*`. */
export function isPrivileged(role: RoleDefinition): boolean {
  return (
    [B.owner, B.contributor, B.userAccessAdministrator].includes(role.id as never) ||
    role.actions.some((a) => a.trim() === '*')
  );
}

/** One role assignment as the checks read it. */
export interface Assignment {
  id: string;
  principalId: string;
  scope: string;
  roleDefinitionId: string;
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
