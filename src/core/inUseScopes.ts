/**
 * The scopes in-use protection searches for deployed images (`ACR_GUARD_INUSE_SCOPES`): ARM ids of a
 * subscription, a resource group, a Container App, a Container Apps job or a Container Instances container
 * group. Pure parsing and validation; every name is checked against its ARM naming rule before it can reach
 * a URL.
 */
import { ErrorCodes, GuardError } from './errors';

/**
 * One validated scope. `id` is normalised: canonical segment keywords, no trailing slash, the subscription id
 * and resource names in lower case (ARM compares them without case, and these names are lower case by rule);
 * the resource group keeps its case.
 */
export type InUseScope =
  | { kind: 'subscription'; id: string; subscriptionId: string }
  | { kind: 'resourceGroup'; id: string; subscriptionId: string; resourceGroup: string }
  | {
      kind: 'containerApp' | 'containerAppJob' | 'containerGroup';
      id: string;
      subscriptionId: string;
      resourceGroup: string;
      name: string;
    };

/** The forms a scope may take, for messages. */
export const INUSE_SCOPE_FORMS =
  '/subscriptions/<guid>, /subscriptions/<guid>/resourceGroups/<rg>, or a resource in one: ' +
  '…/providers/Microsoft.App/containerApps/<name>, …/providers/Microsoft.App/jobs/<name>, …/providers/Microsoft.ContainerInstance/containerGroups/<name>';

const GUID = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';
/** Resource group names: 1-90 letters, digits, `_`, `-`, `.`, `(`, `)`; not ending in a period. */
const RESOURCE_GROUP = /^[\p{L}\p{N}_().-]{1,90}$/u;
/** Container Apps and Container Apps jobs: 2-32 lower-case letters, digits and single hyphens, starting with a letter. */
const CONTAINER_APP = /^[a-z](?:[a-z0-9]|-(?!-)){0,30}[a-z0-9]$/;
/** Container groups: 1-63 lower-case letters, digits and single hyphens, not starting or ending with a hyphen. */
const CONTAINER_GROUP = /^[a-z0-9](?:[a-z0-9]|-(?!-)){0,61}[a-z0-9]$|^[a-z0-9]$/;

const RESOURCE_TYPES: Record<
  string,
  { kind: 'containerApp' | 'containerAppJob' | 'containerGroup'; canonical: string; name: RegExp; rule: string }
> = {
  'microsoft.app/containerapps': {
    kind: 'containerApp',
    canonical: 'Microsoft.App/containerApps',
    name: CONTAINER_APP,
    rule: '2-32 lower-case letters, digits and single hyphens, starting with a letter and ending with a letter or digit',
  },
  'microsoft.app/jobs': {
    kind: 'containerAppJob',
    canonical: 'Microsoft.App/jobs',
    name: CONTAINER_APP,
    rule: '2-32 lower-case letters, digits and single hyphens, starting with a letter and ending with a letter or digit',
  },
  'microsoft.containerinstance/containergroups': {
    kind: 'containerGroup',
    canonical: 'Microsoft.ContainerInstance/containerGroups',
    name: CONTAINER_GROUP,
    rule: '1-63 lower-case letters, digits and single hyphens, not starting or ending with a hyphen',
  },
};

/**
 * Parses one scope. Segment keywords (`subscriptions`, `resourceGroups`, provider and type) match without
 * regard to case, as ARM does; the id comes back with canonical keywords. Throws `INVALID_CONFIG` naming
 * `field` and the expected forms.
 */
export function parseInUseScope(text: string, field: string): InUseScope {
  const fail = (why: string): GuardError =>
    new GuardError(
      ErrorCodes.INVALID_CONFIG,
      `${field}: ${why}; expected ${INUSE_SCOPE_FORMS}, got ${JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}…` : text)}`,
      { field },
    );
  const value = text.trim().replace(/\/+$/, '');
  const parts = value.split('/');
  if (parts[0] !== '' || parts.length < 3 || parts[1].toLowerCase() !== 'subscriptions')
    throw fail('not an ARM id starting with /subscriptions/');
  const subscriptionId = parts[2];
  if (!new RegExp(`^${GUID}$`).test(subscriptionId)) throw fail('the subscription id is not a GUID');
  const subscription = `/subscriptions/${subscriptionId.toLowerCase()}`;
  if (parts.length === 3)
    return { kind: 'subscription', id: subscription, subscriptionId: subscriptionId.toLowerCase() };
  if (parts[3].toLowerCase() !== 'resourcegroups' || parts.length < 5)
    throw fail('after the subscription comes /resourceGroups/<name>');
  const resourceGroup = parts[4];
  if (!RESOURCE_GROUP.test(resourceGroup) || resourceGroup.endsWith('.'))
    throw fail(
      `resource group ${JSON.stringify(resourceGroup)} is not a valid name (1-90 letters, digits, _ - . ( ), not ending in a period)`,
    );
  const group = `${subscription}/resourceGroups/${resourceGroup}`;
  if (parts.length === 5)
    return { kind: 'resourceGroup', id: group, subscriptionId: subscriptionId.toLowerCase(), resourceGroup };
  if (parts.length !== 9 || parts[5].toLowerCase() !== 'providers')
    throw fail('a resource id has the form …/providers/<namespace>/<type>/<name>');
  const type = RESOURCE_TYPES[`${parts[6]}/${parts[7]}`.toLowerCase()];
  if (!type) throw fail(`resource type ${parts[6]}/${parts[7]} is not one in-use protection reads`);
  // ARM ids compare without case, and ARM itself sometimes returns names in another case than they were
  // created with: the name is checked and kept in lower case, the only case the naming rule allows.
  const name = parts[8].toLowerCase();
  if (!type.name.test(name))
    throw fail(`${type.canonical} name ${JSON.stringify(parts[8])} is not valid (${type.rule})`);
  return {
    kind: type.kind,
    id: `${group}/providers/${type.canonical}/${name}`,
    subscriptionId: subscriptionId.toLowerCase(),
    resourceGroup,
    name,
  };
}

/**
 * Parses a comma-separated list of scopes (blank items ignored), dropping exact duplicates (compared without
 * regard to case). `field` names the setting; items are reported as `field[i]`.
 */
export function parseInUseScopes(value: string, field: string): InUseScope[] {
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const seen = new Set<string>();
  const out: InUseScope[] = [];
  items.forEach((item, i) => {
    const scope = parseInUseScope(item, `${field}[${i}]`);
    const key = scope.id.toLowerCase();
    if (!seen.has(key)) {
      seen.add(key);
      out.push(scope);
    }
  });
  return out;
}
