/**
 * The Bicep against itself and against the code: every file parses (tree-sitter-bicep), every parameter
 * and output is described, every app setting the code reads is set, every role the code needs is
 * assigned on the single resource it is about (and nothing more), and Event Grid targets a function that
 * exists.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EVENT_TRIGGERS, servedBy } from '../../src/app/functionTable';
import {
  ROOT,
  declarationBody,
  declarations,
  literalMap,
  objectsWith,
  parseBicep,
  parseInfra,
  properties,
  stringLiteral,
  syntaxProblems,
  type BicepFile,
  type Node,
} from '../support/bicep';

const MAIN = 'infra/main.bicep';
const FUNCTION_APP = 'infra/modules/functionApp.bicep';

let files: Map<string, BicepFile>;
beforeAll(async () => {
  files = await parseInfra();
});

function file(path: string): BicepFile {
  const f = files.get(path);
  if (!f) throw new Error(`missing ${path}`);
  return f;
}

/** The app's own source (what runs in Azure): src/ without the local stand-ins and the CLI. */
function appSources(): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of readdirSync(join(ROOT, 'src'), { withFileTypes: true, recursive: true })) {
    const abs = join(e.parentPath, e.name);
    const rel = abs.slice(ROOT.length + 1);
    if (!e.isFile() || !e.name.endsWith('.ts') || rel.startsWith('src/local/') || rel.startsWith('src/cli/')) continue;
    out.set(rel, readFileSync(abs, 'utf8'));
  }
  return out;
}

/** App setting names the code reads: `env.NAME`, `env['NAME']`, `process.env.NAME`. */
function settingsReadByCode(): Set<string> {
  const names = new Set<string>();
  for (const text of appSources().values()) {
    for (const m of text.matchAll(/\benv(?:\.([A-Za-z_][A-Za-z0-9_]*)|\[\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]\s*\])/g)) names.add(m[1] ?? m[2]);
    // Read through a helper: `durationSetting(env, 'NAME', …)`.
    for (const m of text.matchAll(/\benv\s*,\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]/g)) names.add(m[1]);
    // Keys of setting tables (`TIMER_SCHEDULES`, `ENDPOINT_HOSTS`) read through `env[setting]`.
    for (const m of text.matchAll(/^\s*(ACR_GUARD_[A-Z0-9_]+)\s*:/gm)) names.add(m[1]);
  }
  // Setting names start with a capital (ACR_GUARD_*, AZURE_*, AzureWebJobsStorage…); `env.payload` is an envelope.
  return new Set([...names].filter((n) => /^[A-Z]/.test(n)));
}

/**
 * Settings the code reads that Azure must NOT set, each with its reason. Everything else the code reads
 * has to be in the Function App's app settings.
 */
const NOT_SET_IN_AZURE: Record<string, string> = {
  ACR_GUARD_AUDIT_DIR: 'local JSON-lines audit store for the CLI and npm start; Azure records to the table',
  ACR_GUARD_PLAIN_HTTP_REGISTRIES: 'loopback registries over plain http, local use only',
  ACR_GUARD_POLICY_FILE: 'alternative to ACR_GUARD_POLICY (the two exclude each other); the packaged policy/acr-guard.yaml is the default',
  AzureWebJobsStorage: 'UseDevelopmentStorage=true for Azurite; Azure uses the identity-based AzureWebJobsStorage__* settings',
  ACR_GUARD_TRUST_POLICY_FILE: 'trust material from files, for the CLI and local runs; Azure reads it from the signature-trust container (ACR_GUARD_TRUST_BLOB_URL)',
  ACR_GUARD_TRUST_STORE_DIR: 'goes with ACR_GUARD_TRUST_POLICY_FILE (local runs); the two exclude ACR_GUARD_TRUST_BLOB_URL',
  AzureWebJobsStorage__tableServiceUri: 'alternative to ACR_GUARD_AUDIT_TABLE_ENDPOINT, which is set',
  ACR_GUARD_ATTESTATION_KEY_FILE: 'a PEM signing key file for local runs and the CLI; Azure signs with the Key Vault key (ACR_GUARD_ATTESTATION_KEY_ID), the two exclude each other',
  WEBSITE_AUTH_ENABLED: 'set by App Service itself when authentication (authsettingsV2, guardApiClientId) is on; the HTTP functions refuse every call without it',
};

/**
 * Settings the Bicep provides for features built in parallel branches, before their code reads them. The
 * test fails once the code reads one (move it out of this list) and names any ACR_GUARD_* setting that
 * nothing reads (a typo or a renamed setting).
 */
const PROVIDED_AHEAD = new Set<string>([]);

/** `{ name: '…', value: … }` entries of the Function App's settings: main's appSettings and the module's hostSettings. */
function appSettingsInBicep(): Map<string, Node> {
  const out = new Map<string, Node>();
  const scopes = [declarationBody(file(MAIN), 'module', 'guard'), declarationBody(file(FUNCTION_APP), 'var', 'hostSettings')];
  for (const scope of scopes) {
    for (const o of objectsWith(scope, 'name', 'value')) {
      const props = properties(o);
      const name = stringLiteral(props.get('name'));
      if (name === undefined) throw new Error(`app setting with a computed name: ${o.text}`);
      if (out.has(name)) throw new Error(`app setting ${name} is set twice`);
      out.set(name, props.get('value') as Node);
    }
  }
  return out;
}

describe('every Bicep file', () => {
  it('parses with tree-sitter-bicep without error or missing nodes', () => {
    expect(files.size).toBeGreaterThanOrEqual(10);
    const problems = [...files.values()].flatMap((f) => syntaxProblems(f.root).map((p) => `${f.path}:${p}`));
    expect(problems).toEqual([]);
  });

  it('describes every parameter ("Required." without a default, "Optional." with one) and every output', () => {
    const bad: string[] = [];
    for (const f of files.values()) {
      for (const d of declarations(f)) {
        if (d.kind !== 'param' && d.kind !== 'output') continue;
        const expected = d.kind === 'output' ? /^(Required|Optional)\. \S/ : d.hasDefault ? /^Optional\. \S/ : /^Required\. \S/;
        if (!d.description || !expected.test(d.description)) bad.push(`${f.path}: ${d.kind} ${d.name}: ${d.description ?? '(no @description)'}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('the syntax check sees a real error (the grammar is loaded, not an empty stub)', async () => {
    expect(syntaxProblems(await parseBicep("param x string = \nresource r 'T@1' = {{"))).not.toEqual([]);
    expect(syntaxProblems(await parseBicep("param x string = 'a'\n"))).toEqual([]);
    expect(stringLiteral((await parseBicep("var x = 'it\\'s'")).descendantsOfType('string')[0])).toBe("it's");
  });
});

describe('app settings', () => {
  it('every setting the code reads is set on the Function App, unless it is local-only', () => {
    const read = settingsReadByCode();
    const set = appSettingsInBicep();
    expect(read.size).toBeGreaterThan(5);
    const missing = [...read].filter((n) => !set.has(n) && !(n in NOT_SET_IN_AZURE));
    expect(missing).toEqual([]);
  });

  it('the local-only list names settings the code really reads, and none of them is set in Azure', () => {
    const read = settingsReadByCode();
    const set = appSettingsInBicep();
    expect(Object.keys(NOT_SET_IN_AZURE).filter((n) => !read.has(n))).toEqual([]);
    expect(Object.keys(NOT_SET_IN_AZURE).filter((n) => set.has(n))).toEqual([]);
  });

  it('every ACR_GUARD_* setting in the Bicep is read by the code or listed as provided ahead', () => {
    const read = settingsReadByCode();
    const set = [...appSettingsInBicep().keys()].filter((n) => n.startsWith('ACR_GUARD_'));
    expect(set.filter((n) => !read.has(n) && !PROVIDED_AHEAD.has(n))).toEqual([]);
    // Once a parallel branch reads a setting, it leaves the "ahead" list.
    expect([...PROVIDED_AHEAD].filter((n) => read.has(n))).toEqual([]);
    expect([...PROVIDED_AHEAD].filter((n) => !set.includes(n))).toEqual([]);
  });

  it('no setting carries a secret: no key, SAS, connection string with a key, listKeys() or secure parameter', () => {
    const secureParams = [...files.values()].flatMap((f) =>
      declarations(f)
        .filter((d) => d.kind === 'param' && /@secure\(\)/.test(f.text.slice(Math.max(0, d.node.startIndex - 400), d.node.startIndex)))
        .map((d) => d.name),
    );
    for (const [name, value] of appSettingsInBicep()) {
      expect({ name, value: value.text }).not.toEqual(expect.objectContaining({ value: expect.stringMatching(/AccountKey=|SharedAccessSignature|sig=|listKeys|listCredentials|getSecret/i) }));
      for (const p of secureParams) expect({ name, uses: value.text.includes(p) ? p : undefined }).toEqual({ name, uses: undefined });
    }
    expect(file(FUNCTION_APP).text).toMatch(/allowSharedKeyAccess:\s*false/);
    expect(appSettingsInBicep().get('AzureWebJobsStorage__credential')?.text).toBe("'managedidentity'");
  });
});

/** Role GUIDs of Azure's built-in roles (learn.microsoft.com/azure/role-based-access-control/built-in-roles). */
const BUILT_IN = {
  AcrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d',
  AcrDelete: 'c2f4ef07-c644-48eb-af81-4b1b4947fb11',
  AcrQuarantineWriter: 'c8d4ff99-41c3-41a8-9f60-21dfdad59608',
  'Key Vault Secrets Officer': 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7',
  'Key Vault Secrets User': '4633458b-17de-408a-b874-0445c86b69e6',
  'Log Analytics Reader': '73c42c96-874c-492b-b04d-ab87d138a893',
  'Monitoring Metrics Publisher': '3913510d-42f4-4e42-8a64-420c390055eb',
  Reader: 'acdd72a7-3385-48ef-bd42-f606fba81ae7',
  'Storage Blob Data Owner': 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
  'Storage Blob Data Contributor': 'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
  'Storage Queue Data Contributor': '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
  'Storage Table Data Contributor': '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
  AcrPush: '8311e382-0749-4cb8-b61a-304f252e45ec',
  'Container Registry Repository Reader': 'b93aa761-3e63-49ed-ac28-beffa264f7ac',
  'Container Registry Repository Writer': '2a1e307c-b015-4ebd-883e-5b7698a07328',
  'Container Registry Repository Contributor': '2efddaa5-3f1f-4df3-97df-af3f13818f4c',
  'Container Registry Repository Catalog Lister': 'bfdb9389-c9a5-478a-bb2f-ba9ca092c3c7',
} as const;
type RoleName = keyof typeof BUILT_IN | 'token credential generator (custom)' | 'in-use reader (custom)';
const NAME_OF = new Map<string, RoleName>(Object.entries(BUILT_IN).map(([n, id]) => [id, n as RoleName]));

/** Which module's resource an assignment is on, from the module the assignment list is passed to. */
const TARGET_OF_MODULE: Record<string, string> = {
  'modules/registry.bicep': 'registry',
  'modules/keyVault.bicep': 'key vault',
  'modules/monitoring.bicep': 'workspace',
  'modules/containerApps.bicep': 'API container app',
  'modules/containerInstance.bicep': 'worker container group',
  'modules/appInsightsRole.bicep': 'Application Insights',
  'modules/logIngestion.bicep': 'data collection rule',
};

/** The registry's role lists in main.bicep, one per gate mode (passed to the registry module by `gateMode`). */
const REGISTRY_ROLE_LISTS = { quarantine: 'legacyRegistryRoles', promote: 'abacRegistryRoles' } as const;
/** Every var holding registry role assignments, whichever the mode (lists and their CI pushers). */
const REGISTRY_ROLE_VARS = ['legacyRegistryRoles', 'abacRegistryRoles', 'legacyPushRoles', 'abacPushRoles'];
type GateMode = keyof typeof REGISTRY_ROLE_LISTS;

/** The `var` declaration a node sits in, if any. */
function enclosingVar(n: Node): string | undefined {
  let p: Node | null = n;
  while (p && p.type !== 'variable_declaration') p = p.parent;
  return p?.namedChildren[0]?.text;
}

/** acr-guard's role assignments as `role @ resource`, read from the Bicep, in one gate mode. */
function guardAssignments(mode: GateMode = 'quarantine'): string[] {
  const main = file(MAIN);
  const roles = literalMap(main, 'roles');
  const out: string[] = [];
  const moduleOf = (n: Node): string => {
    const list = enclosingVar(n);
    if (list && REGISTRY_ROLE_VARS.includes(list)) return 'registry';
    let p: Node | null = n;
    while (p && p.type !== 'module_declaration') p = p.parent;
    const path = stringLiteral(p?.namedChildren[1]);
    const target = path && TARGET_OF_MODULE[path];
    if (!target) throw new Error(`role assignment outside a known module: ${n.text}`);
    return target;
  };
  const roleName = (expr: string): RoleName => {
    const key = /^roles\.(\w+)$/.exec(expr)?.[1];
    const id = key && roles.get(key);
    const name = id && NAME_OF.get(id);
    if (!name) throw new Error(`unknown role ${expr} (${id ?? 'not in the roles map'})`);
    return name;
  };
  // Lists passed to modules, and the Application Insights module's flat params:
  // { principalId: guardPrincipalId, roleDefinitionId: roles.x }.
  for (const o of objectsWith(main.root, 'principalId', 'roleDefinitionId')) {
    const props = properties(o);
    const list = enclosingVar(o);
    if (list && list !== REGISTRY_ROLE_LISTS[mode] && REGISTRY_ROLE_VARS.includes(list)) continue;
    if (props.get('principalId')?.text === 'guardPrincipalId') out.push(`${roleName(props.get('roleDefinitionId')?.text ?? '')} @ ${moduleOf(o)}`);
  }
  // The narrow custom role for token credentials.
  const registryParams = properties(properties(declarationBody(main, 'module', 'registry')).get('params') as Node);
  if (/\bguardPrincipalId\b/.test(registryParams.get('tokenCredentialPrincipalIds')?.text ?? '')) out.push('token credential generator (custom) @ registry');
  // The narrow custom role for in-use protection, on the resource group (the one group-scoped assignment).
  const inUseParams = properties(properties(declarationBody(main, 'module', 'inUseReader')).get('params') as Node);
  if (/\bguardPrincipalId\b/.test(inUseParams.get('principalIds')?.text ?? '')) out.push('in-use reader (custom) @ resource group');
  // The Functions host's storage roles, inside the Function App module.
  const fa = file(FUNCTION_APP);
  const faRoles = literalMap(fa, 'roles');
  const storageLoop = declarations(fa).find((d) => d.kind === 'resource' && d.name === 'storageRoles');
  if (!storageLoop) throw new Error(`${fa.path}: no storageRoles`);
  for (const m of storageLoop.node.text.matchAll(/roles\.(\w+)/g)) {
    const name = NAME_OF.get(faRoles.get(m[1]) ?? '');
    if (!name) throw new Error(`unknown storage role ${m[0]}`);
    if (!out.includes(`${name} @ storage`)) out.push(`${name} @ storage`);
  }
  return out.sort();
}

/**
 * What the code does → the role it needs on which resource. A rule applies when its pattern occurs in the
 * app's source, so a feature that starts calling an API demands its role here.
 */
const NEEDS: { uses: RegExp; what: string; role: string }[] = [
  { uses: /\/v2\/\$\{/, what: 'reads manifests and blobs (OCI API)', role: 'AcrPull @ registry' },
  { uses: /quarantineState/, what: 'sets quarantineState (ACR PATCH)', role: 'AcrQuarantineWriter @ registry' },
  { uses: /method:\s*'DELETE'/, what: 'deletes manifests (purge)', role: 'AcrDelete @ registry' },
  { uses: /ResourceGraphClient/, what: "reads the registry's Defender assessments from Resource Graph", role: 'Reader @ registry' },
  { uses: /TableClient/, what: 'writes verdicts to Table storage', role: 'Storage Table Data Contributor @ storage' },
  { uses: /generateCredentials/, what: 'generates token passwords', role: 'token credential generator (custom) @ registry' },
  { uses: /\bSecretClient\b/, what: 'writes rotated token passwords to Key Vault', role: 'Key Vault Secrets Officer @ key vault' },
  { uses: /LogsQueryClient/, what: 'runs alert queries on Log Analytics', role: 'Log Analytics Reader @ workspace' },
  { uses: /LogsIngestionClient/, what: 'sends verdicts, purges and runtime statuses to Log Analytics (Logs Ingestion API)', role: 'Monitoring Metrics Publisher @ data collection rule' },
  { uses: /ContainerAppsAPIClient|arm-appcontainers/, what: 'lists images in use by Container Apps (apps, revisions, jobs)', role: 'in-use reader (custom) @ resource group' },
  { uses: /ContainerInstanceManagementClient|arm-containerinstance/, what: 'lists images in use by Container Instances', role: 'in-use reader (custom) @ resource group' },
];

/**
 * Role assignments allowed at resource-group scope, each with its reason. Every other assignment is on one resource.
 */
const RESOURCE_GROUP_SCOPED: Record<string, string> = {
  'infra/modules/inUseReader.bicep:inUseReaderAssignments':
    'in-use protection must see every Container App, job and container group of the group, including ones deployed later; the custom role holds read actions only (container workloads, and what doctor reads about their pulls)',
};

/** Roles of the Functions host itself (not of acr-guard's code). */
const HOST_NEEDS = ['Storage Blob Data Owner @ storage', 'Storage Queue Data Contributor @ storage', 'Monitoring Metrics Publisher @ Application Insights'];

describe('roles', () => {
  it('every role the code needs is assigned to acr-guard on the one resource it is about', () => {
    const code = [...appSources().values()].join('\n');
    const assigned = guardAssignments();
    const applying = NEEDS.filter((n) => n.uses.test(code));
    // The gate on main already reads the registry, quarantines, and records to Table storage.
    expect(applying.map((n) => n.role)).toEqual(expect.arrayContaining(['AcrPull @ registry', 'AcrQuarantineWriter @ registry', 'Storage Table Data Contributor @ storage']));
    expect(applying.filter((n) => !assigned.includes(n.role)).map((n) => `${n.what}: ${n.role}`)).toEqual([]);
  });

  it("acr-guard holds exactly the issue's least-privilege set, nothing more", () => {
    expect(guardAssignments()).toEqual([...new Set([...NEEDS.map((n) => n.role), ...HOST_NEEDS])].sort());
  });

  it('no Owner, Contributor or User Access Administrator; every assignment is scoped to one resource, but the in-use reader on the resource group', () => {
    const forbidden = ['8e3af657-a8ff-443c-a75c-2fe8c4bcb635', 'b24988ac-6180-42a0-ab88-20f7382dd24c', '18d7d88d-d35e-4fb5-a5c3-7773c20a72d9'];
    const bad: string[] = [];
    for (const f of files.values()) {
      for (const id of forbidden) if (f.text.includes(id)) bad.push(`${f.path}: ${id}`);
      for (const d of declarations(f)) {
        if (d.kind !== 'resource' || !/Microsoft\.Authorization\/roleAssignments@/.test(d.node.namedChildren[1]?.text ?? '')) continue;
        const scope = objectsWith(d.node, 'principalId').length ? d.node.descendantsOfType('object_property').find((p) => p.namedChildren[0]?.text === 'scope') : undefined;
        const target = scope?.namedChildren[1]?.text ?? '';
        // The group-scoped exception: no scope property in a module whose target scope is a resource group.
        if (RESOURCE_GROUP_SCOPED[`${f.path}:${d.name}`] && target === '' && /^targetScope = 'resourceGroup'$/m.test(f.text)) continue;
        if (!target || /\(/.test(target)) bad.push(`${f.path}: ${d.name} is not scoped to a resource (${target || 'no scope'})`);
      }
    }
    // Role assignments live in resource-group modules only; main (subscription scope) assigns nothing itself.
    expect(declarations(file(MAIN)).filter((d) => d.kind === 'resource' && /roleAssignments@/.test(d.node.text))).toEqual([]);
    expect(bad).toEqual([]);
  });

  it('the in-use reader reads container workloads only (no wildcard), assignable on its resource group only, and covers the whole group', () => {
    const f = file('infra/modules/inUseReader.bicep');
    const role = declarationBody(f, 'resource', 'inUseReaderRole');
    const list = properties(objectsWith(role, 'actions')[0]).get('actions')?.namedChildren.map((n) => stringLiteral(n)) ?? [];
    expect(list.sort()).toEqual([
      'Microsoft.App/containerApps/read',
      'Microsoft.App/containerApps/revisions/read',
      'Microsoft.App/jobs/read',
      'Microsoft.ContainerInstance/containerGroups/read',
      // doctor: read actions only (the alert's diagnosis)
      'Microsoft.App/managedEnvironments/read',
      'Microsoft.Authorization/roleAssignments/read',
      'Microsoft.Authorization/roleDefinitions/read',
      'Microsoft.ContainerRegistry/registries/read',
      'Microsoft.Insights/diagnosticSettings/read',
      'Microsoft.KeyVault/vaults/read',
      'Microsoft.ManagedIdentity/userAssignedIdentities/read',
      'Microsoft.Network/privateDnsZones/A/read',
      'Microsoft.Network/privateDnsZones/read',
      'Microsoft.Network/privateDnsZones/virtualNetworkLinks/read',
      'Microsoft.Network/privateEndpoints/read',
      'Microsoft.Network/virtualNetworks/read',
      // doctor follows custom DNS servers through DNS private resolvers and forwarding rulesets
      'Microsoft.Network/dnsResolvers/read',
      'Microsoft.Network/dnsResolvers/inboundEndpoints/read',
      'Microsoft.Network/dnsForwardingRulesets/read',
      'Microsoft.Network/dnsForwardingRulesets/forwardingRules/read',
      'Microsoft.Network/dnsForwardingRulesets/virtualNetworkLinks/read',
      'Microsoft.Web/sites/read',
    ].sort());
    // Read only: every action ends in /read.
    expect(list.every((a) => /\/read$/.test(a ?? ''))).toBe(true);
    for (const key of ['dataActions', 'notActions', 'notDataActions']) expect(properties(objectsWith(role, 'actions')[0]).get(key)?.text).toBe('[]');
    expect(properties(properties(role).get('properties') as Node).get('assignableScopes')?.text).toBe('[ resourceGroup().id ]');
    // The setting names the resource group first, so new workloads there are covered without a change here.
    expect(appSettingsInBicep().get('ACR_GUARD_INUSE_SCOPES')?.text).toBe('inUseScopes');
    expect(declarationBody(file(MAIN), 'var', 'inUseScopes').text).toMatch(/^join\(concat\(\[ rg\.id \], inUseAdditionalScopes\), ','\)$/);
  });

  it('the custom role only reads tokens and generates their credentials (no wildcard)', () => {
    const role = declarationBody(file('infra/modules/registry.bicep'), 'resource', 'tokenCredentialRole');
    const actions = objectsWith(role, 'actions')[0];
    const list = properties(actions).get('actions')?.namedChildren.map((n) => stringLiteral(n)) ?? [];
    expect(list.sort()).toEqual([
      'Microsoft.ContainerRegistry/registries/generateCredentials/action',
      'Microsoft.ContainerRegistry/registries/read',
      'Microsoft.ContainerRegistry/registries/tokens/read',
    ]);
  });

  it("the roles map's GUIDs are the built-in roles they are named after", () => {
    const expected: Record<string, string> = {
      acrPull: BUILT_IN.AcrPull,
      acrDelete: BUILT_IN.AcrDelete,
      acrQuarantineWriter: BUILT_IN.AcrQuarantineWriter,
      keyVaultSecretsOfficer: BUILT_IN['Key Vault Secrets Officer'],
      keyVaultSecretsUser: BUILT_IN['Key Vault Secrets User'],
      logAnalyticsReader: BUILT_IN['Log Analytics Reader'],
      monitoringMetricsPublisher: BUILT_IN['Monitoring Metrics Publisher'],
      reader: BUILT_IN.Reader,
      acrPush: BUILT_IN.AcrPush,
      repositoryReader: BUILT_IN['Container Registry Repository Reader'],
      repositoryWriter: BUILT_IN['Container Registry Repository Writer'],
      repositoryContributor: BUILT_IN['Container Registry Repository Contributor'],
      repositoryCatalogLister: BUILT_IN['Container Registry Repository Catalog Lister'],
    };
    expect(Object.fromEntries(literalMap(file(MAIN), 'roles'))).toEqual(expected);
  });
});

/** Every `{ principalId, roleDefinitionId[, condition] }` of one registry role list, as `principal: role [condition]`. */
function registryRoleList(mode: GateMode): { principal: string; role: string; condition?: string }[] {
  const main = file(MAIN);
  const roles = literalMap(main, 'roles');
  const pushes = mode === 'promote' ? 'abacPushRoles' : 'legacyPushRoles';
  const nodes = [declarationBody(main, 'var', REGISTRY_ROLE_LISTS[mode]), declarationBody(main, 'var', pushes)];
  return nodes.flatMap((b) => objectsWith(b, 'principalId', 'roleDefinitionId')).map((o) => {
    const props = properties(o);
    const key = /^roles\.(\w+)$/.exec(props.get('roleDefinitionId')?.text ?? '')?.[1];
    const role = NAME_OF.get(roles.get(key ?? '') ?? '') ?? `unknown ${key}`;
    const cond = /^conditions\.(\w+)$/.exec(props.get('condition')?.text ?? '')?.[1];
    return { principal: props.get('principalId')?.text ?? '', role, ...(cond ? { condition: cond } : {}) };
  });
}

/** The ABAC condition strings of main.bicep's `conditions` map, with the variables they use substituted. */
function abacConditions(releasePrefix = 'release/'): Map<string, string> {
  const main = file(MAIN);
  const vars = new Map<string, string>([['releaseRepositoryPrefix', releasePrefix]]);
  const expand = (n: Node): string =>
    n.namedChildren
      .map((c) => {
        if (c.type === 'string_content') return c.text;
        if (c.type === 'escape_sequence') return c.text === "\\'" ? "'" : c.text.slice(1);
        if (c.type === 'interpolation') {
          const name = c.namedChildren[0]?.text ?? '';
          if (vars.has(name)) return vars.get(name) as string;
          return expand(declarationBody(main, 'var', name));
        }
        throw new Error(`unexpected ${c.type} in a condition`);
      })
      .join('');
  const out = new Map<string, string>();
  for (const [k, v] of properties(declarationBody(main, 'var', 'conditions'))) out.set(k, expand(v));
  return out;
}

describe('promote mode: ABAC repository permissions', () => {
  it('the registry runs in ABAC mode with quarantine off under promote, and in legacy mode with quarantine under quarantine', () => {
    const params = properties(properties(declarationBody(file(MAIN), 'module', 'registry')).get('params') as Node);
    expect(params.get('roleAssignmentMode')?.text).toBe("promote ? 'AbacRepositoryPermissions' : 'LegacyRegistryPermissions'");
    expect(params.get('roleAssignments')?.text).toBe('promote ? abacRegistryRoles : legacyRegistryRoles');
    expect(params.get('quarantine')?.text).toBe('!promote');
    expect(declarationBody(file(MAIN), 'var', 'promote').text).toBe("gateMode == 'promote'");
    const reg = file('infra/modules/registry.bicep');
    // The first API version with roleAssignmentMode that keeps the preview policies.
    expect(reg.text).toMatch(/'Microsoft\.ContainerRegistry\/registries@2025-05-01-preview'/);
    expect(reg.text).toMatch(/roleAssignmentMode: roleAssignmentMode/);
    expect(reg.text).toMatch(/condition: contains\(ra, 'condition'\) \? ra\.condition : null/);
    expect(reg.text).toMatch(/conditionVersion: contains\(ra, 'condition'\) \? '2\.0' : null/);
  });

  it('no AcrPull, AcrPush, AcrDelete or AcrQuarantineWriter in promote mode (not honoured there): every identity holds a repository role', () => {
    const list = registryRoleList('promote');
    expect(list.filter((r) => /^Acr/.test(r.role))).toEqual([]);
    expect(list).toEqual([
      { principal: 'guardPrincipalId', role: 'Container Registry Repository Contributor', condition: 'writeReleaseOnly' },
      { principal: 'guardPrincipalId', role: 'Container Registry Repository Catalog Lister' },
      { principal: 'guardPrincipalId', role: 'Reader' },
      { principal: 'identities.outputs.apiPrincipalId', role: 'Container Registry Repository Reader', condition: 'readReleaseOnly' },
      { principal: 'identities.outputs.workerPrincipalId', role: 'Container Registry Repository Reader', condition: 'readReleaseOnly' },
      { principal: 'id', role: 'Container Registry Repository Writer', condition: 'writeAllButRelease' },
    ]);
    // The pushers' entries come from the CI principal id parameter.
    expect(declarationBody(file(MAIN), 'var', 'abacRegistryRoles').text).toMatch(/\], abacPushRoles\)$/);
    expect(declarations(file(MAIN)).find((d) => d.name === 'abacPushRoles')?.node.text).toMatch(/= \[for id in ciPushPrincipalIds: /);
    // Quarantine mode keeps today's model.
    expect(registryRoleList('quarantine').map((r) => `${r.principal}: ${r.role}`)).toEqual([
      'guardPrincipalId: AcrPull',
      'guardPrincipalId: AcrQuarantineWriter',
      'guardPrincipalId: AcrDelete',
      'guardPrincipalId: Reader',
      'identities.outputs.apiPrincipalId: AcrPull',
      'identities.outputs.workerPrincipalId: AcrPull',
      'id: AcrPush',
    ]);
  });

  it('the conditions: acr-guard writes the release prefix only, pushers everywhere but it, workloads read it only', () => {
    const c = abacConditions();
    const write = "!(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/content/write'}) AND !(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/metadata/write'})";
    const read = "!(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/content/read'}) AND !(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/metadata/read'})";
    const name = '@Request[Microsoft.ContainerRegistry/registries/repositories:name]';
    expect(Object.fromEntries(c)).toEqual({
      writeReleaseOnly: `((${write}) OR (${name} StringStartsWithIgnoreCase 'release/'))`,
      writeAllButRelease: `((${write}) OR (${name} StringNotStartsWithIgnoreCase 'release/'))`,
      readReleaseOnly: `((${read}) OR (${name} StringStartsWithIgnoreCase 'release/'))`,
    });
    // The prefix keeps its trailing slash, so 'release-candidates/…' is not the release prefix.
    expect(declarationBody(file(MAIN), 'var', 'releaseRepositoryPrefix').text).toBe("'${releasePrefix}/'");
  });

  it("acr-guard's promote-mode roles cover what the code does: read and delete everywhere, write the release prefix, list repositories", () => {
    expect(guardAssignments('promote')).toEqual(
      expect.arrayContaining(['Container Registry Repository Contributor @ registry', 'Container Registry Repository Catalog Lister @ registry', 'Reader @ registry']),
    );
    expect(guardAssignments('promote').filter((r) => /^Acr/.test(r))).toEqual([]);
  });
});

describe('Event Grid', () => {
  it('the ImagePushed subscription targets an Event Grid function registered in src/functions', () => {
    const params = properties(properties(declarationBody(file(MAIN), 'module', 'events')).get('params') as Node);
    const target = stringLiteral(params.get('functionName'));
    // The Azure host registers the function table's Event Grid triggers (test/unit/functionTable.test.ts keeps
    // src/functions/index.ts equal to the table).
    const registered = new Set<string>(EVENT_TRIGGERS.filter((t) => servedBy(t.hosts, 'azure')).map((t) => t.name));
    expect(registered.has(target ?? '(computed)')).toBe(true);
    const eg = file('infra/modules/eventGrid.bicep').text;
    expect(eg).toMatch(/includedEventTypes:\s*\[\s*'Microsoft\.ContainerRegistry\.ImagePushed'\s*\]/);
    expect(eg).toMatch(/resourceId:\s*'\$\{functionAppId\}\/functions\/\$\{functionName\}'/);
    expect(eg).toMatch(/retryPolicy:/);
    expect(eg).toMatch(/deadLetterWithResourceIdentity:/);
  });

  it("azd's service name in azure.yaml is the Function App's azd-service-name tag", () => {
    const azure = readFileSync(join(ROOT, 'azure.yaml'), 'utf8');
    const service = /^services:\n\s+([\w-]+):/m.exec(azure)?.[1];
    expect(file(FUNCTION_APP).text).toContain(`'azd-service-name': '${service}'`);
  });
});
