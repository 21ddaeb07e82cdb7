/**
 * Brownfield first: infra/guard.bicep deploys acr-guard alone onto an existing registry, Event Grid system
 * topic and (optionally) Container Apps environment and Log Analytics workspace. Read from the Bicep's syntax
 * tree: the existing resources are only referenced (never created), acr-guard's roles are the least-privilege
 * set on the one resource each is about, it gets every setting the greenfield Function App gets, the default
 * policy is generated from the registry's login server (and the real policy loader accepts it), and the azd
 * project under infra/brownfield points at this entry with postdeploy hooks for posix and Windows that exist
 * and parse. checkov runs over guard.bicep with the rest of infra/ (test/infra/checkov.test.ts).
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { loadPolicy } from '../../src/core/policy';
import { isRegistryAllowed } from '../../src/core/policyLookup';
import { parseInUseScopes } from '../../src/core/inUseScopes';
import { ROOT, at, declarationBody, declarations, literalMap, objectsWith, parseInfra, properties, resourceBody, stringLiteral, syntaxProblems, type BicepFile, type Node } from '../support/bicep';

const GUARD = 'infra/guard.bicep';
const MAIN = 'infra/main.bicep';

let files: Map<string, BicepFile>;
beforeAll(async () => {
  files = await parseInfra();
});

function file(path: string): BicepFile {
  const f = files.get(path);
  if (!f) throw new Error(`missing ${path}`);
  return f;
}

/** `module NAME 'path'` → path, for every module of a file. */
function modulePaths(f: BicepFile): Map<string, string> {
  return new Map(declarations(f).filter((d) => d.kind === 'module').map((d) => [d.name, stringLiteral(d.node.namedChildren[1]) ?? '']));
}

/** The `{ name, value }` app settings passed to the Function App module of an entry file. */
function appSettingNames(f: BicepFile): string[] {
  const guard = declarationBody(f, 'module', 'guard');
  return objectsWith(at(guard, 'params.appSettings') as Node, 'name', 'value').map((o) => stringLiteral(properties(o).get('name')) ?? '(computed)');
}

describe('infra/guard.bicep', () => {
  it('parses, is resource-group scoped, and describes every parameter, output and user-defined type', () => {
    const g = file(GUARD);
    expect(syntaxProblems(g.root)).toEqual([]);
    expect(g.text).toMatch(/^targetScope = 'resourceGroup'$/m);
    // User-defined types for the ids and the network, each with its @description.
    const types = g.root.namedChildren.filter((n) => n.type === 'type_declaration');
    expect(types.length).toBeGreaterThanOrEqual(3);
    for (const t of types) {
      const before = g.text.slice(Math.max(0, t.startIndex - 300), t.startIndex);
      expect({ type: t.namedChildren[0]?.text, described: /@description\('(?:[^'\\]|\\.)+'\)\s*(@\w+\([^)]*\)\s*)*$/.test(before) }).toEqual({ type: t.namedChildren[0]?.text, described: true });
    }
    const params = declarations(g).filter((d) => d.kind === 'param');
    expect(params.filter((p) => !p.description).map((p) => p.name)).toEqual([]);
    const typeOf = (name: string) => params.find((p) => p.name === name)?.node.namedChildren[1]?.text;
    expect([typeOf('registryId'), typeOf('systemTopicId'), typeOf('containerAppsEnvironmentId'), typeOf('workspaceId')]).toEqual(['resourceId', 'resourceId', 'optionalResourceId', 'optionalResourceId']);
    // Only the ids of the registry and its topic are required (and the azd environment name).
    expect(params.filter((p) => !p.hasDefault).map((p) => p.name).sort()).toEqual(['environmentName', 'registryId', 'systemTopicId']);
  });

  it('references the registry, the system topic and the workspace as existing resources, in their own groups, and creates none of them', () => {
    const g = file(GUARD);
    const decl = (name: string) => declarations(g).find((d) => d.kind === 'resource' && d.name === name)!;
    for (const [name, type, parts] of [
      ['registry', 'Microsoft.ContainerRegistry/registries', 'registryParts'],
      ['systemTopic', 'Microsoft.EventGrid/systemTopics', 'topicParts'],
      ['workspace', 'Microsoft.OperationalInsights/workspaces', 'workspaceParts'],
    ] as const) {
      const d = decl(name);
      expect(d.node.text.split('\n')[0]).toMatch(new RegExp(`^resource ${name} '${type.replace(/\//g, '\\/')}@[\\w-]+' existing = \\{$`));
      expect(properties(resourceBody(g, name)).get('scope')?.text).toBe(`resourceGroup(${parts}[2], ${parts}[4])`);
    }
    // Nothing in the brownfield entry or the modules it deploys creates a registry, a system topic or a
    // Container Apps environment.
    const used = [GUARD, ...[...modulePaths(g).values()].map((p) => `infra/${p}`)];
    for (const path of used) {
      for (const d of declarations(file(path)).filter((x) => x.kind === 'resource')) {
        const first = d.node.text.split('\n')[0];
        if (/ existing = /.test(first)) continue;
        expect({ path, first }).not.toEqual({ path, first: expect.stringMatching(/'Microsoft\.(ContainerRegistry\/registries|EventGrid\/systemTopics|App\/managedEnvironments)@/) });
      }
    }
    // The workspace is created only when none is given.
    expect(declarations(g).find((d) => d.name === 'newWorkspace')?.node.text).toMatch(/= if \(empty\(workspaceId\)\)/);
  });

  it("acr-guard's roles: the least-privilege set, each on the one resource it is about (no rotation: Secrets User, no token role)", () => {
    const g = file(GUARD);
    const roles = literalMap(g, 'roles');
    const mainRoles = literalMap(file(MAIN), 'roles');
    // The GUIDs are the ones the greenfield names the same (checked against the built-in roles in bicep.test.ts).
    for (const [k, v] of roles) if (mainRoles.has(k)) expect({ k, v }).toEqual({ k, v: mainRoles.get(k) });
    expect(roles.get('keyVaultSecretsUser')).toBe('4633458b-17de-408a-b874-0445c86b69e6');
    expect(roles.get('storageBlobDataContributor')).toBe('ba92f5b4-2d11-453d-a403-e96b0029c9fe');
    const target: Record<string, string> = {
      'modules/registryRoles.bicep': 'registry',
      'modules/keyVault.bicep': 'key vault',
      'modules/appInsightsRole.bicep': 'Application Insights',
      'modules/logIngestion.bicep': 'data collection rule',
    };
    const assigned: string[] = [];
    for (const o of objectsWith(g.root, 'principalId', 'roleDefinitionId')) {
      const props = properties(o);
      if (props.get('principalId')?.text !== 'guardPrincipalId') continue;
      let p: Node | null = o;
      while (p && p.type !== 'module_declaration') p = p.parent;
      const path = stringLiteral(p?.namedChildren[1]) ?? '';
      const key = /^roles\.(\w+)$/.exec(props.get('roleDefinitionId')?.text ?? '')?.[1] ?? '';
      // workspaceRoleAssignments of the log ingestion module are on the workspace, not the rule.
      let prop: Node | null = o.parent;
      while (prop && prop.type !== 'object_property') prop = prop.parent;
      const where = prop?.namedChildren[0]?.text === 'workspaceRoleAssignments' ? 'workspace' : target[path];
      assigned.push(`${key} @ ${where ?? path}`);
    }
    const inUse = properties(at(declarationBody(g, 'module', 'inUseReader'), 'params') as Node).get('principalIds')?.text;
    if (inUse === '[ guardPrincipalId ]') assigned.push('in-use reader (custom) @ Container Apps environment resource group');
    expect(assigned.sort()).toEqual(
      [
        'acrPull @ registry',
        'acrQuarantineWriter @ registry',
        'acrDelete @ registry',
        'reader @ registry',
        'keyVaultSecretsUser @ key vault',
        'monitoringMetricsPublisher @ Application Insights',
        'monitoringMetricsPublisher @ data collection rule',
        'logAnalyticsReader @ workspace',
        'in-use reader (custom) @ Container Apps environment resource group',
      ].sort(),
    );
    // The in-use reader goes to the environment's group only when an environment is given.
    expect(declarations(g).find((d) => d.name === 'inUseReader')?.node.text).toMatch(/= if \(!empty\(containerAppsEnvironmentId\)\)/);
    expect(properties(declarationBody(g, 'module', 'inUseReader')).get('scope')?.text).toBe('resourceGroup(environmentParts[2], environmentParts[4])');
    // The registry's roles are deployed in the registry's group, on the registry itself.
    expect(properties(declarationBody(g, 'module', 'registryRoles')).get('scope')?.text).toBe('resourceGroup(registryParts[2], registryParts[4])');
    expect(properties(resourceBody(file('infra/modules/registryRoles.bicep'), 'registryRoles')).get('scope')?.text).toBe('registry');
    // The dead-letter storage is the Function App module's account (same name expression, same token).
    expect(at(resourceBody(g, 'deadLetterStorage'), 'name')?.text).toBe(at(resourceBody(file('infra/modules/functionApp.bicep'), 'storage'), 'name')?.text);
    expect(at(declarationBody(g, 'module', 'guard'), 'params.resourceToken')?.text).toBe('resourceToken');
    // The topic's own identity may write dead letters to the one container, nothing else.
    const dl = resourceBody(g, 'deadLetterWriter');
    expect(properties(dl).get('scope')?.text).toBe('deadLetterStorage::blobService::container');
    expect(at(dl, 'properties.principalId')?.text).toBe('systemTopic.identity.principalId');
    expect(at(dl, 'properties.roleDefinitionId')?.text).toContain('roles.storageBlobDataContributor');
  });

  it('sets every app setting the greenfield Function App gets (same names), none twice', () => {
    const brown = appSettingNames(file(GUARD));
    expect(new Set(brown).size).toBe(brown.length);
    expect([...brown].sort()).toEqual([...appSettingNames(file(MAIN))].sort());
  });

  it('subscribes onImagePushed on the existing topic (in its group) only after the code is deployed (subscribeEvents)', () => {
    const g = file(GUARD);
    const events = declarations(g).find((d) => d.name === 'events')!;
    expect(events.node.text).toMatch(/= if \(subscribeEvents\)/);
    const body = declarationBody(g, 'module', 'events');
    expect(properties(body).get('scope')?.text).toBe('resourceGroup(topicParts[2], topicParts[4])');
    expect(stringLiteral(at(body, 'params.functionName'))).toBe('onImagePushed');
    const es = file('infra/modules/eventSubscription.bicep').text;
    expect(es).toMatch(/resource systemTopic '[^']+' existing = \{/);
    expect(es).toMatch(/includedEventTypes:\s*\[\s*'Microsoft\.ContainerRegistry\.ImagePushed'\s*\]/);
    expect(es).toMatch(/deadLetterWithResourceIdentity:/);
  });
});

describe('in-use protection', () => {
  it("the environment's resource group becomes an ACR_GUARD_INUSE_SCOPES entry that the app's parser accepts", () => {
    expect(declarationBody(file(GUARD), 'var', 'inUseScopes').text).toBe(
      "join(concat(empty(containerAppsEnvironmentId) ? [] : [ '/subscriptions/${environmentParts[2]}/resourceGroups/${environmentParts[4]}' ], inUseAdditionalScopes), ',')",
    );
    const id = '/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg-platform/providers/Microsoft.App/managedEnvironments/cae-platform';
    const parts = id.split('/');
    const scopes = parseInUseScopes(`/subscriptions/${parts[2]}/resourceGroups/${parts[4]}`, 'ACR_GUARD_INUSE_SCOPES');
    expect(scopes).toHaveLength(1);
  });
});

describe('the default policy is generated from the registry the deployment points at', () => {
  it("ACR_GUARD_POLICY is infra/brownfield/default-policy.yaml with the registry's login server, unless policyYaml is given", () => {
    const g = file(GUARD);
    expect(declarationBody(g, 'var', 'defaultPolicy').text).toBe("replace(loadTextContent('brownfield/default-policy.yaml'), '__REGISTRY_LOGIN_SERVER__', registry.properties.loginServer)");
    const setting = objectsWith(at(declarationBody(g, 'module', 'guard'), 'params.appSettings') as Node, 'name', 'value').find((o) => stringLiteral(properties(o).get('name')) === 'ACR_GUARD_POLICY');
    expect(properties(setting!).get('value')?.text).toBe('empty(policyYaml) ? defaultPolicy : policyYaml');
  });

  it('the real policy loader accepts the generated policy: registries[0].host is the login server, every repository is gated', () => {
    const template = readFileSync(join(ROOT, 'infra', 'brownfield', 'default-policy.yaml'), 'utf8');
    expect(template.split('__REGISTRY_LOGIN_SERVER__')).toHaveLength(2);
    const policy = loadPolicy(template.replace('__REGISTRY_LOGIN_SERVER__', 'contosoplatform.azurecr.io'));
    expect(policy.registries[0].host).toBe('contosoplatform.azurecr.io');
    expect(isRegistryAllowed(policy, 'contosoplatform.azurecr.io')).toBe(true);
    expect(isRegistryAllowed(policy, 'other.azurecr.io')).toBe(false);
    // One rule for every repository, at any depth: nothing pushed falls through ungated.
    expect(policy.gate.map((r) => r.scope)).toEqual(['**']);
    expect(policy.gate[0].vulnerabilities?.block).toEqual(['critical', 'high']);
    // The untouched template is not a valid policy (the placeholder is not a host): it can never ship as is.
    expect(() => loadPolicy(template)).toThrow(/registries/);
  });
});

describe('azd: the brownfield project and the postdeploy hooks', () => {
  const brownfieldDir = join(ROOT, 'infra', 'brownfield');
  const azureYaml = (dir: string) => parseYaml(readFileSync(join(dir, 'azure.yaml'), 'utf8')) as {
    infra: { provider: string; path: string; module: string };
    services: Record<string, { project: string; host: string; language: string }>;
    hooks: { postdeploy: Record<'posix' | 'windows', { shell: string; run: string }> };
  };

  it('infra/brownfield/azure.yaml deploys infra/guard.bicep with its parameters file, and the service from the repository root', () => {
    const y = azureYaml(brownfieldDir);
    expect(y.infra.provider).toBe('bicep');
    expect(resolve(brownfieldDir, y.infra.path, `${y.infra.module}.bicep`)).toBe(join(ROOT, GUARD));
    expect(existsSync(resolve(brownfieldDir, y.infra.path, `${y.infra.module}.parameters.json`))).toBe(true);
    const [name, service] = Object.entries(y.services)[0];
    expect(resolve(brownfieldDir, service.project)).toBe(ROOT);
    expect(service.host).toBe('function');
    // The Function App module tags itself with the same azd service name.
    expect(file('infra/modules/functionApp.bicep').text).toContain(`'azd-service-name': '${name}'`);
    expect(name).toBe(Object.keys(azureYaml(ROOT).services)[0]);
  });

  it('guard.parameters.json maps every required parameter from the azd environment, and names only real parameters', () => {
    const json = JSON.parse(readFileSync(join(ROOT, 'infra', 'guard.parameters.json'), 'utf8')) as { parameters: Record<string, { value: string }> };
    const params = declarations(file(GUARD)).filter((d) => d.kind === 'param');
    const names = params.map((p) => p.name);
    expect(Object.keys(json.parameters).filter((k) => !names.includes(k))).toEqual([]);
    for (const p of params.filter((x) => !x.hasDefault)) expect(json.parameters[p.name]?.value).toMatch(/^\$\{[A-Z_]+\}$/);
    expect(json.parameters.registryId.value).toBe('${ACR_GUARD_REGISTRY_ID}');
    expect(json.parameters.systemTopicId.value).toBe('${ACR_GUARD_SYSTEM_TOPIC_ID}');
  });

  it('the demo and the brownfield project run the same postdeploy scripts, posix (sh) and windows (pwsh), and both exist', () => {
    for (const dir of [ROOT, brownfieldDir]) {
      const hooks = azureYaml(dir).hooks.postdeploy;
      expect({ posix: hooks.posix.shell, windows: hooks.windows.shell }).toEqual({ posix: 'sh', windows: 'pwsh' });
      expect(resolve(dir, hooks.posix.run)).toBe(join(ROOT, 'scripts', 'hooks', 'postdeploy.sh'));
      expect(resolve(dir, hooks.windows.run)).toBe(join(ROOT, 'scripts', 'hooks', 'postdeploy.ps1'));
    }
    // Same steps in both: read SUBSCRIBE_EVENTS, set it to true, provision again without prompting.
    for (const script of ['postdeploy.sh', 'postdeploy.ps1']) {
      const text = readFileSync(join(ROOT, 'scripts', 'hooks', script), 'utf8');
      expect(text).toContain('azd env get-value SUBSCRIBE_EVENTS');
      expect(text).toContain('azd env set SUBSCRIBE_EVENTS true');
      expect(text).toContain('azd provision --no-prompt');
    }
  });

  it('the posix hook passes `sh -n` and `bash -n`', async () => {
    const script = join(ROOT, 'scripts', 'hooks', 'postdeploy.sh');
    await promisify(execFile)('sh', ['-n', script]);
    await promisify(execFile)('bash', ['-n', script]);
    // The check is real: a broken script fails it.
    await expect(promisify(execFile)('bash', ['-n', '-c', 'if then fi'])).rejects.toThrow();
  });

  const pwsh = (() => {
    try {
      execFileSync('pwsh', ['-NoProfile', '-Command', '$PSVersionTable.PSVersion.Major'], { stdio: 'ignore', timeout: 20_000 });
      return true;
    } catch {
      return false;
    }
  })();
  (pwsh ? it : it.skip)('the windows hook parses with PowerShell (pwsh on PATH; skipped when it is not installed)', () => {
    const script = join(ROOT, 'scripts', 'hooks', 'postdeploy.ps1');
    const out = execFileSync('pwsh', ['-NoProfile', '-Command', `$e = $null; [void][System.Management.Automation.Language.Parser]::ParseFile('${script}', [ref]$null, [ref]$e); $e.Count`], { encoding: 'utf8' });
    expect(out.trim()).toBe('0');
  });
});
