/**
 * What checkov cannot see (it has no Container Apps checks, and runs its ACR checks only on a few
 * properties): the security properties the review asked for, read from the Bicep's syntax tree.
 */
import { at, declarationBody, declarations, objectsWith, parseInfra, properties, resourceBody, stringLiteral, type BicepFile, type Node } from '../support/bicep';

let files: Map<string, BicepFile>;
beforeAll(async () => {
  files = await parseInfra();
});

function file(name: string): BicepFile {
  const f = files.get(name === 'main' ? 'infra/main.bicep' : `infra/modules/${name}.bicep`);
  if (!f) throw new Error(`missing ${name}`);
  return f;
}

/** The source text of a property (undefined when absent). */
function text(obj: Node, path: string): string | undefined {
  return at(obj, path)?.text;
}

describe('registry', () => {
  it('is Premium, private, without admin user or anonymous pull, with quarantine on and export off', () => {
    const r = resourceBody(file('registry'), 'registry');
    expect(text(r, 'sku.name')).toBe("'Premium'");
    expect(text(r, 'properties.adminUserEnabled')).toBe('false');
    expect(text(r, 'properties.anonymousPullEnabled')).toBe('false');
    expect(text(r, 'properties.publicNetworkAccess')).toBe("'Disabled'");
    // On in quarantine mode; promote mode turns it off (test/infra/bicep.test.ts), main passes `quarantine: !promote`.
    expect(text(r, 'properties.policies.quarantinePolicy.status')).toBe("quarantine ? 'enabled' : 'disabled'");
    expect(file('registry').text).toMatch(/param quarantine bool = true/);
    expect(text(r, 'properties.policies.exportPolicy.status')).toBe("'disabled'");
    // ACR refuses soft delete and untagged retention together: exactly one of them is on.
    expect(text(r, 'properties.policies.retentionPolicy.status')).toBe("deletePolicy == 'retention' ? 'enabled' : 'disabled'");
    expect(text(r, 'properties.policies.softDeletePolicy.status')).toBe("deletePolicy == 'softDelete' ? 'enabled' : 'disabled'");
  });

  it('has a private endpoint with the privatelink.azurecr.io zone linked to the VNet', () => {
    const pe = properties(at(declarationBody(file('registry'), 'module', 'endpoint'), 'params') as Node);
    expect(stringLiteral(pe.get('privateDnsZoneName'))).toBe('privatelink.azurecr.io');
    expect(stringLiteral(pe.get('groupId'))).toBe('registry');
    const link = resourceBody(file('privateEndpoint'), 'link');
    expect(text(link, 'properties.virtualNetwork.id')).toBe('vnetId');
    expect(text(resourceBody(file('privateEndpoint'), 'zoneGroup'), 'properties.privateDnsZoneConfigs')).toContain('zone.id');
  });

  it("scope maps: production-pull-only reads the seeds' repositories, ci-push never deletes; tokens carry no password", () => {
    const reg = file('registry');
    const defaults = /param repositories array = \[([^\]]*)\]/.exec(reg.text)?.[1];
    expect(defaults?.match(/'[^']+'/g)).toEqual(["'contoso/api'", "'contoso/frontend'", "'contoso/worker'"]);
    expect(stringLiteral(at(resourceBody(reg, 'pullScope'), 'name'))).toBe('production-pull-only');
    expect(text(resourceBody(reg, 'pullScope'), 'properties.actions')).toBe('concat(contentRead, metadataRead)');
    expect(text(resourceBody(reg, 'pushScope'), 'properties.actions')).not.toMatch(/delete/i);
    for (const t of ['pullToken', 'pushToken']) expect(text(resourceBody(reg, t), 'properties.credentials')).toBeUndefined();
    expect(reg.text).not.toMatch(/content\/delete|metadata\/write/);
  });
});

describe('Container Apps', () => {
  it('environment: own subnet, internal only, logs to the workspace in resource-specific tables', () => {
    const ca = file('containerApps');
    const env = resourceBody(ca, 'environment');
    expect(text(env, 'properties.vnetConfiguration.internal')).toBe('true');
    expect(text(env, 'properties.vnetConfiguration.infrastructureSubnetId')).toBe('subnetId');
    expect(text(resourceBody(ca, 'environmentDiagnostics'), 'properties.logAnalyticsDestinationType')).toBe("'Dedicated'");
    expect(text(declarationBody(file('main'), 'module', 'containerApps'), 'params.subnetId')).toBe('network.outputs.containerAppsSubnetId');
  });

  it('API: internal ingress from the VNet only, 2-10 replicas, identity pull, Key Vault references, 401 for anonymous', () => {
    const ca = file('containerApps');
    const api = resourceBody(ca, 'api');
    expect(text(api, 'properties.configuration.ingress.external')).toBe('false');
    expect(text(api, 'properties.configuration.ingress.allowInsecure')).toBe('false');
    const rules = objectsWith(at(api, 'properties.configuration.ingress.ipSecurityRestrictions') as Node, 'action');
    expect(rules.map((r) => [text(r, 'action'), text(r, 'ipAddressRange')])).toEqual([["'Allow'", 'vnetAddressPrefix']]);
    expect(text(api, 'properties.template.scale.minReplicas')).toBe('2');
    expect(text(api, 'properties.template.scale.maxReplicas')).toBe('10');
    const registries = objectsWith(at(api, 'properties.configuration.registries') as Node, 'server');
    expect(registries.map((r) => [...properties(r).keys()].sort())).toEqual([['identity', 'server']]);
    // Secrets are Key Vault references only: no `value`.
    const secret = declarations(ca).find((d) => d.name === 'secrets')?.node.text ?? '';
    expect(secret).toMatch(/keyVaultUrl:/);
    expect(secret).not.toMatch(/\bvalue:/);
    const auth = resourceBody(ca, 'auth');
    expect(text(auth, 'properties.globalValidation.unauthenticatedClientAction')).toBe("'Return401'");
    expect(text(auth, 'properties.platform.enabled')).toBe('true');
  });
});

describe('Container Instances', () => {
  it('worker: delegated subnet, no public IP, identity pull, secure values only, restart on failure, confidential option', () => {
    const aci = file('containerInstance');
    const w = resourceBody(aci, 'worker');
    expect(at(w, 'properties.ipAddress')).toBeUndefined();
    expect(text(w, 'properties.subnetIds')).toContain('subnetId');
    expect(text(w, 'properties.restartPolicy')).toBe("'OnFailure'");
    const creds = objectsWith(at(w, 'properties.imageRegistryCredentials') as Node, 'server');
    expect(creds.map((c) => [...properties(c).keys()].sort())).toEqual([['identity', 'server']]);
    const vars = objectsWith(w, 'name', 'secureValue');
    expect(vars).toHaveLength(1);
    expect(objectsWith(w, 'name', 'value')).toEqual([]);
    expect(aci.text).toMatch(/@secure\(\)\nparam workerSecret string/);
    expect(aci.text).toMatch(/@allowed\(\[ 'Standard', 'Confidential' \]\)/);
    // The secret comes from Key Vault at deployment, never from a parameter file.
    expect(file('main').text).toMatch(/workerSecret: vault\.getSecret\(workerSecretName\)/);
    const subnet = /name: 'snet-aci'[^}]*delegation: '([^']+)'/.exec(file('network').text)?.[1];
    expect(subnet).toBe('Microsoft.ContainerInstance/containerGroups');
  });
});

describe('acr-guard Function App', () => {
  it('Flex Consumption, Node 22, VNet integration, HTTPS only, TLS 1.2, FTP and basic publishing off', () => {
    const fa = file('functionApp');
    const site = resourceBody(fa, 'site');
    expect(text(resourceBody(fa, 'plan'), 'sku.tier')).toBe("'FlexConsumption'");
    expect(text(site, 'properties.functionAppConfig.runtime')).toBe("{ name: 'node', version: '22' }");
    expect(text(site, 'properties.virtualNetworkSubnetId')).toBe('subnetId');
    expect(text(site, 'properties.httpsOnly')).toBe('true');
    expect(text(site, 'properties.siteConfig.minTlsVersion')).toBe("'1.2'");
    expect(text(site, 'properties.siteConfig.ftpsState')).toBe("'Disabled'");
    for (const p of ['ftpPublishing', 'scmPublishing']) expect(text(resourceBody(fa, p), 'properties.allow')).toBe('false');
    expect(text(resourceBody(fa, 'storage'), 'properties.allowSharedKeyAccess')).toBe('false');
    expect(text(resourceBody(fa, 'storage'), 'properties.networkAcls.defaultAction')).toBe("'Deny'");
  });
});

describe('monitoring', () => {
  it('the registry, Key Vault, Container Apps environment and Function App send diagnostics to the one workspace', () => {
    for (const name of ['registry', 'keyVault', 'containerApps', 'functionApp']) {
      const diag = declarations(file(name)).filter((d) => d.kind === 'resource' && /Microsoft\.Insights\/diagnosticSettings@/.test(d.node.text));
      expect({ name, workspaces: diag.map((d) => text(declarationBody(file(name), 'resource', d.name), 'properties.workspaceId')) }).toEqual({ name, workspaces: ['workspaceId'] });
    }
    // Every module gets the same workspace from main (the worker's container group too: test/infra/alertTables.test.ts;
    // the workbook reads it: test/infra/workbook.test.ts).
    expect(file('main').text.match(/workspaceId: monitoring\.outputs\.workspaceId/g)).toHaveLength(6);
  });

  it('the failed-image-pull alert is a scheduled query on the workspace with an action group', () => {
    const m = file('monitoring');
    const alert = resourceBody(m, 'failedPullAlert');
    expect(text(alert, 'properties.scopes')).toBe('[ workspace.id ]');
    expect(text(alert, 'properties.actions.actionGroups')).toBe('[ actionGroup.id ]');
    expect(m.text).toMatch(/ImagePullBackOff/);
    expect(m.text).toMatch(/ErrImagePull/);
  });

  it('Defender for Containers is the only resource at subscription scope besides the resource group', () => {
    const subscriptionResources = declarations(file('main')).filter((d) => d.kind === 'resource' && !/existing/.test(d.node.text.split('\n')[0]));
    expect(subscriptionResources.map((d) => stringLiteral(d.node.namedChildren[1]))).toEqual(['Microsoft.Resources/resourceGroups@2024-03-01', 'Microsoft.Security/pricings@2024-01-01']);
    expect(text(resourceBody(file('main'), 'defenderForContainers'), 'name')).toBe("'Containers'");
  });
});

describe('HTTP API authentication (Easy Auth)', () => {
  it('requires an Entra token for the API on every path but the Event Grid webhook, and passes the guard API client id', () => {
    const auth = resourceBody(file('functionApp'), 'easyAuth');
    expect(text(auth, 'properties.platform.enabled')).toBe('true');
    expect(text(auth, 'properties.globalValidation.requireAuthentication')).toBe('true');
    expect(text(auth, 'properties.globalValidation.unauthenticatedClientAction')).toBe("'Return401'");
    expect(text(auth, 'properties.globalValidation.excludedPaths')?.replace(/\s+/g, ' ')).toBe("[ '/runtime/webhooks/eventgrid' ]");
    expect(text(auth, 'properties.identityProviders.azureActiveDirectory.validation.allowedAudiences')).toContain("'api://${guardApiClientId}'");
    const params = properties(at(declarationBody(file('main'), 'module', 'guard'), 'params') as Node);
    expect(params.get('guardApiClientId')?.text).toBe('guardApiClientId');
  });
});
