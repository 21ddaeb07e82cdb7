/**
 * The healthy platform infra/ deploys, as the ARM resource objects a doctor snapshot holds, built from the
 * Bicep's own resource bodies: each resource's `sku`, `kind`, `identity` and `properties` are evaluated from
 * its syntax tree (tree-sitter-bicep) with the module parameters main.bicep passes, and ARM's read-only
 * additions (ids, loginServer, principal ids, the endpoint's customDnsConfigs, the A records its zone group
 * writes) are added as ARM returns them. The broken states of the tests are edits of this snapshot.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { INFRA, at, declarationBody, literalMap, parseInfra, resourceBody, type BicepFile, type Node } from './bicep';

/** Values of identifiers, member and call expressions (`roles.acrPull`, `subscription().tenantId`). */
type Ctx = Record<string, unknown>;

const ESC: Record<string, string> = { "\\'": "'", '\\\\': '\\', '\\n': '\n', '\\r': '\r', '\\t': '\t', '\\$': '$' };

/** Evaluates a Bicep expression node; an unbound name throws (the fixture must follow the Bicep). */
export function evaluate(n: Node, ctx: Ctx): unknown {
  switch (n.type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const p of n.namedChildren) {
        if (p.type !== 'object_property') continue; // comments
        const [k, v] = p.namedChildren;
        const key = k.type === 'string' ? String(evaluate(k, ctx)) : k.text;
        out[key] = evaluate(v, ctx);
      }
      return out;
    }
    case 'array':
      {
        // tree-sitter-bicep splits a one-line `[ f().x ]` into two elements; such an element list is read whole.
        const inner = n.text.slice(1, -1).trim();
        if (inner in ctx) return [ctx[inner]];
      }
      return n.namedChildren.filter((c) => c.type !== 'comment').map((c) => evaluate(c, ctx));
    case 'string':
      return n.namedChildren
        .map((c) =>
          c.type === 'string_content'
            ? c.text
            : c.type === 'escape_sequence'
              ? (ESC[c.text] ?? c.text)
              : String(evaluate(c, ctx)),
        )
        .join('');
    case 'interpolation': {
      // The grammar sometimes leaves the expression unnamed: then `${name}` is read from the text.
      const inner = n.namedChildren[0];
      if (inner) return String(evaluate(inner, ctx));
      const name = n.text.replace(/^\$\{|\}$/g, '');
      if (!(name in ctx)) throw new Error(`bicep fixture: ${name} is not bound (line ${n.startPosition.row + 1})`);
      return String(ctx[name]);
    }
    case 'boolean':
      return n.text === 'true';
    case 'number':
      return Number(n.text);
    case 'null':
      return null;
    case 'parenthesized_expression':
      return evaluate(n.namedChildren[0], ctx);
    case 'identifier':
    case 'call_expression':
    case 'member_expression': {
      if (n.text in ctx) return ctx[n.text];
      if (n.type === 'call_expression' && /^json\(/.test(n.text))
        return JSON.parse(String(evaluate(n.descendantsOfType('string')[0], ctx)));
      if (n.type === 'member_expression') {
        const parts = n.namedChildren;
        const obj = evaluate(n.childForFieldName('object') ?? parts[0], ctx) as Record<string, unknown>;
        const key = (n.childForFieldName('property') ?? parts[parts.length - 1]).text;
        if (obj && typeof obj === 'object' && key in obj) return obj[key];
      }
      throw new Error(`bicep fixture: ${n.text} is not bound (line ${n.startPosition.row + 1})`);
    }
    case 'ternary_expression':
      return evaluate(n.childForFieldName('condition')!, ctx)
        ? evaluate(n.childForFieldName('consequence')!, ctx)
        : evaluate(n.childForFieldName('alternative')!, ctx);
    case 'binary_expression': {
      const [l, r] = n.namedChildren;
      const op = n.children[1].text;
      const a = evaluate(l, ctx);
      const b = evaluate(r, ctx);
      if (op === '==') return a === b;
      if (op === '!=') return a !== b;
      if (op === '&&') return Boolean(a) && Boolean(b);
      if (op === '||') return Boolean(a) || Boolean(b);
      throw new Error(`bicep fixture: operator ${op}`);
    }
    default:
      throw new Error(`bicep fixture: cannot evaluate ${n.type} ${n.text.slice(0, 60)}`);
  }
}

/** `{sku, kind, identity, properties}` of a resource body, evaluated. */
function shape(body: Node, ctx: Ctx): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of ['sku', 'kind', 'identity', 'properties']) {
    const v = at(body, key);
    if (v) out[key] = evaluate(v, ctx);
  }
  return out;
}

/** Ids and names of the seed deployment. */
export const SEED = {
  subscription: '00000000-0000-0000-0000-0000000000aa',
  tenant: '00000000-0000-0000-0000-0000000000ee',
  resourceGroup: 'rg-seed',
  token: 'seed1',
  location: 'westeurope',
  principals: {
    api: '11111111-1111-1111-1111-111111111111',
    worker: '22222222-2222-2222-2222-222222222222',
    guard: '33333333-3333-3333-3333-333333333333',
  },
  endpointIps: { registry: '10.40.0.5', data: '10.40.0.6' },
} as const;

const RG = `/subscriptions/${SEED.subscription}/resourceGroups/${SEED.resourceGroup}`;
const id = (type: string, name: string) => `${RG}/providers/${type}/${name}`;

/** Resource ids of the seed deployment. */
export const SeedIds = {
  rg: RG,
  registry: id('Microsoft.ContainerRegistry/registries', `acr${SEED.token}`),
  loginServer: `acr${SEED.token}.azurecr.io`,
  vnet: id('Microsoft.Network/virtualNetworks', `vnet-${SEED.token}`),
  hubVnet: id('Microsoft.Network/virtualNetworks', 'vnet-hub'),
  peSubnet: `${id('Microsoft.Network/virtualNetworks', `vnet-${SEED.token}`)}/subnets/snet-private-endpoints`,
  caSubnet: `${id('Microsoft.Network/virtualNetworks', `vnet-${SEED.token}`)}/subnets/snet-container-apps`,
  aciSubnet: `${id('Microsoft.Network/virtualNetworks', `vnet-${SEED.token}`)}/subnets/snet-aci`,
  zone: id('Microsoft.Network/privateDnsZones', 'privatelink.azurecr.io'),
  endpoint: id('Microsoft.Network/privateEndpoints', `pe-acr${SEED.token}`),
  environment: id('Microsoft.App/managedEnvironments', `cae-${SEED.token}`),
  api: id('Microsoft.App/containerApps', `ca-api-${SEED.token}`),
  worker: id('Microsoft.ContainerInstance/containerGroups', `ci-worker-${SEED.token}`),
  vault: id('Microsoft.KeyVault/vaults', `kv-${SEED.token}`),
  site: id('Microsoft.Web/sites', `func-${SEED.token}`),
  workspace: id('Microsoft.OperationalInsights/workspaces', `log-${SEED.token}`),
  apiIdentity: id('Microsoft.ManagedIdentity/userAssignedIdentities', `id-api-${SEED.token}`),
  workerIdentity: id('Microsoft.ManagedIdentity/userAssignedIdentities', `id-worker-${SEED.token}`),
  guardIdentity: id('Microsoft.ManagedIdentity/userAssignedIdentities', `id-guard-${SEED.token}`),
} as const;

/** The images the seed workloads run. */
export const SeedImages = {
  api: `${SeedIds.loginServer}/contoso/api:1.4.2`,
  worker: `${SeedIds.loginServer}/contoso/worker:2.0.0`,
};

let cache: Promise<Map<string, BicepFile>> | undefined;

/** How main.bicep is deployed for the seed: its gate mode (quarantine by default, as main.bicep's default). */
export interface SeedOptions {
  gateMode?: 'quarantine' | 'promote';
}

/** The healthy seed snapshot's resources (a fresh copy each call, safe to edit). */
export async function seedResources(opts: SeedOptions = {}): Promise<Array<Record<string, unknown>>> {
  const promote = opts.gateMode === 'promote';
  cache ??= parseInfra();
  const files = await cache;
  const file = (n: string) => files.get(n === 'main' ? 'infra/main.bicep' : `infra/modules/${n}.bicep`) as BicepFile;
  const I = SeedIds;
  const roles = Object.fromEntries(literalMap(file('main'), 'roles'));
  const base: Ctx = {
    location: SEED.location,
    resourceToken: SEED.token,
    tags: {},
    'subscription()': { tenantId: SEED.tenant, subscriptionId: SEED.subscription },
    'resourceGroup().id': RG,
    'resourceGroup()': { id: RG },
    resourceGroup: RG,
    roles,
    guardPrincipalId: SEED.principals.guard,
    identities: {
      outputs: {
        apiPrincipalId: SEED.principals.api,
        workerPrincipalId: SEED.principals.worker,
        guardPrincipalId: SEED.principals.guard,
      },
    },
    workspaceId: I.workspace,
    vnetId: I.vnet,
    promote,
    releasePrefix: 'release',
    ciPushPrincipalIds: [],
  };
  // main.bicep's vars the registry's role lists are made of, evaluated in order (`concat([…], <pushers>)`: the
  // literal list; the seed has no CI pushers).
  for (const name of ['releaseRepositoryPrefix', 'repositoryName', 'writeActions', 'readActions', 'conditions'])
    base[name] = evaluate(declarationBody(file('main'), 'var', name), base);
  for (const name of ['legacyRegistryRoles', 'abacRegistryRoles']) {
    const concat = declarationBody(file('main'), 'var', name);
    base[name] = evaluate(concat.descendantsOfType('array')[0], base);
  }
  const out: Array<Record<string, unknown>> = [];
  const add = (rid: string, type: string, extra: Record<string, unknown>) =>
    out.push({ id: rid, name: rid.split('/').pop(), type, location: SEED.location, ...extra });

  // Registry: the Bicep's properties plus ARM's loginServer.
  const reg = shape(resourceBody(file('registry'), 'registry'), {
    ...base,
    roleAssignmentMode: promote ? 'AbacRepositoryPermissions' : 'LegacyRegistryPermissions',
    quarantine: !promote,
    deletePolicy: 'softDelete',
    deleteRetentionDays: 7,
    zoneRedundant: true,
  });
  (reg.properties as Record<string, unknown>).loginServer = I.loginServer;
  add(I.registry, 'Microsoft.ContainerRegistry/registries', reg);
  const diag = (target: string, file2: string, name: string) =>
    add(
      `${target}/providers/Microsoft.Insights/diagnosticSettings/to-log-analytics`,
      'Microsoft.Insights/diagnosticSettings',
      shape(resourceBody(file(file2), name), base),
    );
  diag(I.registry, 'registry', 'diagnostics');

  // Private endpoint, zone, link (privateEndpoint.bicep with the registry module's params), and what ARM adds.
  const peParams = evaluate(at(declarationBody(file('registry'), 'module', 'endpoint'), 'params') as Node, {
    ...base,
    'registry.id': I.registry,
    'registry.name': `acr${SEED.token}`,
    privateEndpointSubnetId: I.peSubnet,
  }) as Ctx;
  const peCtx = { ...base, ...peParams };
  const pe = shape(resourceBody(file('privateEndpoint'), 'endpoint'), peCtx);
  const peProps = pe.properties as Record<string, unknown>;
  for (const c of peProps.privateLinkServiceConnections as Array<{ properties: Record<string, unknown> }>)
    c.properties.privateLinkServiceConnectionState = { status: 'Approved', description: 'Auto-Approved' };
  peProps.provisioningState = 'Succeeded';
  peProps.customDnsConfigs = [
    { fqdn: `acr${SEED.token}.${SEED.location}.data.azurecr.io`, ipAddresses: [SEED.endpointIps.data] },
    { fqdn: `acr${SEED.token}.azurecr.io`, ipAddresses: [SEED.endpointIps.registry] },
  ];
  add(I.endpoint, 'Microsoft.Network/privateEndpoints', pe);
  add(I.zone, 'Microsoft.Network/privateDnsZones', { location: 'global', properties: {} });
  const link = shape(resourceBody(file('privateEndpoint'), 'link'), peCtx);
  // ARM's read-only states of a link that finished (Microsoft.Network/privateDnsZones/virtualNetworkLinks GET).
  Object.assign(link.properties as Record<string, unknown>, {
    provisioningState: 'Succeeded',
    virtualNetworkLinkState: 'Completed',
  });
  add(`${I.zone}/virtualNetworkLinks/link-seed`, 'Microsoft.Network/privateDnsZones/virtualNetworkLinks', {
    location: 'global',
    ...link,
  });
  // The endpoint's zone group writes one A record per customDnsConfigs entry.
  add(`${I.zone}/A/acr${SEED.token}`, 'Microsoft.Network/privateDnsZones/A', {
    properties: { ttl: 10, aRecords: [{ ipv4Address: SEED.endpointIps.registry }] },
  });
  add(`${I.zone}/A/acr${SEED.token}.${SEED.location}.data`, 'Microsoft.Network/privateDnsZones/A', {
    properties: { ttl: 10, aRecords: [{ ipv4Address: SEED.endpointIps.data }] },
  });
  add(I.vnet, 'Microsoft.Network/virtualNetworks', {
    properties: { addressSpace: { addressPrefixes: ['10.40.0.0/16'] }, subnets: [], virtualNetworkPeerings: [] },
  });

  // Identities (ARM adds the principal ids).
  add(I.apiIdentity, 'Microsoft.ManagedIdentity/userAssignedIdentities', {
    properties: { principalId: SEED.principals.api },
  });
  add(I.workerIdentity, 'Microsoft.ManagedIdentity/userAssignedIdentities', {
    properties: { principalId: SEED.principals.worker },
  });
  add(I.guardIdentity, 'Microsoft.ManagedIdentity/userAssignedIdentities', {
    properties: { principalId: SEED.principals.guard },
  });
  const withPrincipal = (r: Record<string, unknown>, identityId: string, principalId: string) => {
    (r.identity as { userAssignedIdentities: Record<string, unknown> }).userAssignedIdentities = {
      [identityId]: { principalId },
    };
    return r;
  };

  // Container Apps environment, its diagnostics, and the API app.
  add(
    I.environment,
    'Microsoft.App/managedEnvironments',
    shape(resourceBody(file('containerApps'), 'environment'), { ...base, subnetId: I.caSubnet, zoneRedundant: true }),
  );
  diag(I.environment, 'containerApps', 'environmentDiagnostics');
  const apiCtx = {
    ...base,
    'environment.id': I.environment,
    identityId: I.apiIdentity,
    registryLoginServer: I.loginServer,
    image: SeedImages.api,
    vnetAddressPrefix: '10.40.0.0/16',
    secrets: [
      {
        name: 'db-password',
        keyVaultUrl: `https://kv-${SEED.token}.vault.azure.net/secrets/db-password`,
        identity: I.apiIdentity,
      },
    ],
    secretEnv: [{ name: 'DB_PASSWORD', secretRef: 'db-password' }],
  };
  add(
    I.api,
    'Microsoft.App/containerApps',
    withPrincipal(shape(resourceBody(file('containerApps'), 'api'), apiCtx), I.apiIdentity, SEED.principals.api),
  );

  // The worker container group.
  // The workspace key is write-only in ARM (a GET never returns it): the snapshot holds null, as a capture would.
  const workspace = { id: I.workspace, properties: { customerId: '00000000-0000-0000-0000-0000000000cc' } };
  const workerCtx = {
    ...base,
    sku: 'Standard',
    ccePolicy: '',
    subnetId: I.aciSubnet,
    registryLoginServer: I.loginServer,
    identityId: I.workerIdentity,
    image: SeedImages.worker,
    workerSecret: null,
    workspace,
    'workspace.listKeys()': { primarySharedKey: null },
  };
  add(
    I.worker,
    'Microsoft.ContainerInstance/containerGroups',
    withPrincipal(
      shape(resourceBody(file('containerInstance'), 'worker'), workerCtx),
      I.workerIdentity,
      SEED.principals.worker,
    ),
  );

  // Key Vault and its diagnostics; Defender for Containers (main.bicep); acr-guard's Function App.
  const vault = shape(resourceBody(file('keyVault'), 'vault'), base);
  (vault.properties as Record<string, unknown>).vaultUri = `https://kv-${SEED.token}.vault.azure.net/`;
  add(I.vault, 'Microsoft.KeyVault/vaults', vault);
  diag(I.vault, 'keyVault', 'diagnostics');
  out.push({
    id: `/subscriptions/${SEED.subscription}/providers/Microsoft.Security/pricings/Containers`,
    name: 'Containers',
    type: 'Microsoft.Security/pricings',
    ...shape(resourceBody(file('main'), 'defenderForContainers'), base),
  });
  add(I.workspace, 'Microsoft.OperationalInsights/workspaces', { properties: {} });
  const site = {
    kind: 'functionapp,linux',
    identity: evaluate(at(resourceBody(file('functionApp'), 'site'), 'identity') as Node, {
      identityId: I.guardIdentity,
    }),
    properties: { defaultHostName: `func-${SEED.token}.azurewebsites.net` },
  };
  add(I.site, 'Microsoft.Web/sites', withPrincipal(site, I.guardIdentity, SEED.principals.guard));

  // Role assignments exactly as main.bicep passes them to the registry and vault modules, plus the custom roles.
  let n = 0;
  const assign = (scope: string, principalId: string, roleDefinitionId: string, condition?: string) => {
    n++;
    const rid = `${scope}/providers/Microsoft.Authorization/roleAssignments/${String(n).padStart(8, '0')}-0000-4000-8000-000000000000`;
    out.push({
      id: rid,
      name: rid.split('/').pop(),
      type: 'Microsoft.Authorization/roleAssignments',
      properties: {
        principalId,
        principalType: 'ServicePrincipal',
        scope,
        roleDefinitionId,
        ...(condition ? { condition, conditionVersion: '2.0' } : {}),
      },
    });
  };
  const roleId = (guid: string) =>
    `/subscriptions/${SEED.subscription}/providers/Microsoft.Authorization/roleDefinitions/${guid}`;
  for (const [module, scope] of [
    ['registry', I.registry],
    ['keyVault', I.vault],
  ] as const) {
    const list = evaluate(
      at(declarationBody(file('main'), 'module', module), 'params.roleAssignments') as Node,
      base,
    ) as Array<{ principalId: string; roleDefinitionId: string; condition?: string }>;
    for (const ra of list) assign(scope, ra.principalId, roleId(ra.roleDefinitionId), ra.condition);
  }
  for (const [f, name, scope] of [
    ['inUseReader', 'inUseReaderRole', RG],
    ['registry', 'tokenCredentialRole', I.registry],
  ] as const) {
    const guid = `${f === 'inUseReader' ? 'aaaaaaaa' : 'bbbbbbbb'}-0000-4000-8000-000000000000`;
    out.push({
      id: roleId(guid),
      name: guid,
      type: 'Microsoft.Authorization/roleDefinitions',
      ...shape(resourceBody(file(f), name), base),
    });
    assign(scope, SEED.principals.guard, roleId(guid));
  }
  out.push(...deployPolicyResources(files, promote ? `${I.loginServer}/release/` : `${I.loginServer}/`));
  return out;
}

/**
 * The deploy-time policy as ARM returns it after main.bicep deployed modules/deployPolicy.bicep at the seed's
 * subscription: one custom definition per workload type (rule and parameters from the JSON the module loads) and
 * its assignment, with main.bicep's default parameter values.
 */
function deployPolicyResources(
  files: Map<string, BicepFile>,
  releasedImagePrefix: string,
): Array<Record<string, unknown>> {
  const module = files.get('infra/modules/deployPolicy.bicep') as BicepFile;
  const json = JSON.parse(readFileSync(join(INFRA, 'modules', 'policies', 'released-images.json'), 'utf8')) as {
    parameters: Record<string, unknown>;
    rules: Record<string, unknown>;
  };
  const kinds = evaluate(declarationBody(module, 'var', 'kinds'), {}) as Array<{ key: string }>;
  const sub = `/subscriptions/${SEED.subscription}`;
  const out: Array<Record<string, unknown>> = [];
  for (const kind of kinds) {
    const defName = `acr-guard-released-images-${kind.key}-${SEED.token}`;
    const defId = `${sub}/providers/Microsoft.Authorization/policyDefinitions/${defName}`;
    out.push({
      id: defId,
      name: defName,
      type: 'Microsoft.Authorization/policyDefinitions',
      properties: {
        policyType: 'Custom',
        mode: 'Indexed',
        parameters: json.parameters,
        policyRule: json.rules[kind.key],
      },
    });
    const asgName = `acr-guard-${kind.key}-${SEED.token}`;
    out.push({
      id: `${sub}/providers/Microsoft.Authorization/policyAssignments/${asgName}`,
      name: asgName,
      type: 'Microsoft.Authorization/policyAssignments',
      properties: {
        scope: sub,
        notScopes: [],
        policyDefinitionId: defId,
        enforcementMode: 'Default',
        parameters: {
          effect: { value: 'Deny' },
          releasedImagePrefix: { value: releasedImagePrefix },
          toleratedRegistries: { value: ['mcr.microsoft.com'] },
        },
      },
    });
  }
  return out;
}

/**
 * A DNS private resolver in the hub network, its inbound endpoint at 10.50.0.4, and (with `linkHub`) the
 * `privatelink.azurecr.io` zone linked to the hub: the resources ARM returns for them (api-version 2022-07-01 and
 * 2020-06-01). Point the workload network's `dhcpOptions.dnsServers` at 10.50.0.4 to put it behind the resolver.
 */
export function hubResolver(linkHub: boolean): Array<Record<string, unknown>> {
  const resolver = `${RG}/providers/Microsoft.Network/dnsResolvers/dnspr-hub`;
  return [
    {
      id: resolver,
      name: 'dnspr-hub',
      type: 'Microsoft.Network/dnsResolvers',
      location: SEED.location,
      properties: { virtualNetwork: { id: SeedIds.hubVnet }, provisioningState: 'Succeeded' },
    },
    {
      id: `${resolver}/inboundEndpoints/inbound`,
      name: 'inbound',
      type: 'Microsoft.Network/dnsResolvers/inboundEndpoints',
      location: SEED.location,
      properties: {
        ipConfigurations: [
          {
            privateIpAddress: '10.50.0.4',
            privateIpAllocationMethod: 'Dynamic',
            subnet: { id: `${SeedIds.hubVnet}/subnets/snet-dns-in` },
          },
        ],
        provisioningState: 'Succeeded',
      },
    },
    ...(linkHub
      ? [
          {
            id: `${SeedIds.zone}/virtualNetworkLinks/link-hub`,
            name: 'link-hub',
            type: 'Microsoft.Network/privateDnsZones/virtualNetworkLinks',
            location: 'global',
            properties: {
              virtualNetwork: { id: SeedIds.hubVnet },
              registrationEnabled: false,
              provisioningState: 'Succeeded',
              virtualNetworkLinkState: 'Completed',
            },
          },
        ]
      : []),
  ];
}
