/**
 * The deploy-time policy (infra/modules/deployPolicy.bicep, rules in infra/modules/policies/released-images.json),
 * evaluated against resource bodies with the Azure Policy evaluator in test/support/azurePolicy.ts: the platform's
 * own bodies (read from the Bicep) pass, and every way around the gate is refused. The rules evaluated are the
 * bytes the Bicep loads (`loadJsonContent`), not a copy.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assignmentParameters, evaluatePolicyRule, type PolicyResource } from '../support/azurePolicy';
import { INFRA, at, bicepValue, declarationBody, declarations, parseInfra, properties, stringLiteral, type BicepFile, type Node } from '../support/bicep';

const POLICY_MODULE = 'infra/modules/deployPolicy.bicep';
const RULES_FILE = join(INFRA, 'modules', 'policies', 'released-images.json');

interface PolicyFile {
  parameters: Record<string, { type: string; defaultValue?: unknown; allowedValues?: unknown[] }>;
  rules: Record<'containerApps' | 'jobs' | 'containerGroups', { if: unknown; then: { effect: string } }>;
}

let files: Map<string, BicepFile>;
let policy: PolicyFile;
beforeAll(async () => {
  files = await parseInfra();
  policy = JSON.parse(readFileSync(RULES_FILE, 'utf8')) as PolicyFile;
});

function file(path: string): BicepFile {
  const f = files.get(path);
  if (!f) throw new Error(`missing ${path}`);
  return f;
}

const LOGIN = 'contosoacr.azurecr.io';
const DIGEST = `sha256:${'ab'.repeat(32)}`;
const RELEASED = `${LOGIN}/release/contoso/api@${DIGEST}`;
/** The assignment's parameters in promote mode, as main.bicep passes them (defaults of main's parameters). */
const PROMOTE = { releasedImagePrefix: `${LOGIN}/release/`, toleratedRegistries: ['mcr.microsoft.com'] };

type Kind = keyof PolicyFile['rules'];
const TYPE_OF: Record<Kind, string> = {
  containerApps: 'Microsoft.App/containerApps',
  jobs: 'Microsoft.App/jobs',
  containerGroups: 'Microsoft.ContainerInstance/containerGroups',
};

/** The effect the assignment for the resource's type applies, or undefined (compliant). Every rule is evaluated. */
function verdict(resource: PolicyResource, values: Record<string, unknown> = PROMOTE): string | undefined {
  const params = assignmentParameters(policy.parameters, values);
  const effects = (Object.keys(policy.rules) as Kind[]).map((k) => evaluatePolicyRule(policy.rules[k], resource, params)).filter((e) => e !== undefined);
  if (effects.length > 1) throw new Error('two rules matched one resource');
  return effects[0];
}

function app(images: string[], init: string[] = [], type = TYPE_OF.containerApps): PolicyResource {
  return {
    type,
    name: 'ca-team',
    properties: {
      template: {
        containers: images.map((image, i) => ({ name: `c${i}`, image })),
        ...(init.length ? { initContainers: init.map((image, i) => ({ name: `i${i}`, image })) } : {}),
      },
    },
  };
}

function group(images: string[], init: string[] = []): PolicyResource {
  return {
    type: TYPE_OF.containerGroups,
    name: 'ci-team',
    properties: {
      osType: 'Linux',
      containers: images.map((image, i) => ({ name: `c${i}`, properties: { image, resources: { requests: { cpu: 1, memoryInGB: 1 } } } })),
      ...(init.length ? { initContainers: init.map((image, i) => ({ name: `i${i}`, properties: { image } })) } : {}),
    },
  };
}

describe('the module', () => {
  it('loads the rules file the test evaluates, one definition and one assignment per workload type, Deny by default', () => {
    const m = file(POLICY_MODULE);
    expect(m.text).toMatch(/^targetScope = 'subscription'$/m);
    expect(declarationBody(m, 'var', 'policy').text).toBe("loadJsonContent('policies/released-images.json')");
    const defs = declarationBody(m, 'resource', 'definitions');
    expect(at(defs, 'properties.policyRule')?.text).toBe('policy.rules[kind.key]');
    expect(at(defs, 'properties.parameters')?.text).toBe('policy.parameters');
    const kinds = declarationBody(m, 'var', 'kinds').namedChildren.map((o) => stringLiteral(properties(o).get('key')));
    expect(kinds.sort()).toEqual(Object.keys(policy.rules).sort());
    expect(Object.keys(TYPE_OF).sort()).toEqual(Object.keys(policy.rules).sort());
    expect(policy.parameters.effect).toEqual(expect.objectContaining({ defaultValue: 'Deny', allowedValues: ['Deny', 'Audit', 'Disabled'] }));
    expect(m.text).toMatch(/@allowed\(\[ 'Deny', 'Audit', 'Disabled' \]\)\nparam effect string = 'Deny'/);
    const asg = declarationBody(m, 'resource', 'assignments');
    expect(at(asg, 'properties.enforcementMode')?.text).toBe("'Default'");
    expect(at(asg, 'properties.parameters.effect.value')?.text).toBe('effect');
  });

  it('main.bicep wires it at subscription scope: release prefix by gate mode, tolerated registries, Deny by default', () => {
    const main = file('infra/main.bicep');
    const mod = declarationBody(main, 'module', 'deployPolicy');
    expect(stringLiteral(mod.namedChildren.length ? declarations(main).find((d) => d.name === 'deployPolicy')?.node.namedChildren[1] : undefined)).toBe('modules/deployPolicy.bicep');
    // No `scope:`: the module deploys at main's own target, the subscription.
    expect(properties(mod).has('scope')).toBe(false);
    const params = properties(properties(mod).get('params') as Node);
    expect(params.get('releasedImagePrefix')?.text).toBe(
      "toLower(promote ? '${registry.outputs.loginServer}/${releaseRepositoryPrefix}' : '${registry.outputs.loginServer}/')",
    );
    expect(params.get('effect')?.text).toBe('deployPolicyEffect');
    expect(main.text).toMatch(/param deployPolicyEffect string = 'Deny'/);
    expect(main.text).toMatch(/param deployPolicyToleratedRegistries array = \[ 'mcr\.microsoft\.com' \]/);
  });
});

describe("the platform's own bodies pass", () => {
  it('the API container app, as containerApps.bicep builds it with its default image (a tolerated registry)', () => {
    const ca = file('infra/modules/containerApps.bicep');
    const image = stringLiteral(declarations(ca).find((d) => d.name === 'image')?.node.namedChildren.at(-1));
    expect(image).toBe('mcr.microsoft.com/k8se/quickstart:latest');
    const body = bicepValue(declarationBody(ca, 'resource', 'api'), { image }) as { properties: Record<string, unknown> };
    const resource: PolicyResource = { type: 'Microsoft.App/containerApps', name: 'ca-api', properties: body.properties };
    expect((resource.properties?.template as { containers: { image: string }[] }).containers.map((c) => c.image)).toEqual([image]);
    expect(verdict(resource)).toBeUndefined();
    // Without the tolerated registry, the placeholder is refused like any other image from outside.
    expect(verdict(resource, { ...PROMOTE, toleratedRegistries: [] })).toBe('Deny');
    // The same app with a released image passes without any tolerated registry.
    const released = bicepValue(declarationBody(ca, 'resource', 'api'), { image: RELEASED }) as { properties: Record<string, unknown> };
    expect(verdict({ ...resource, properties: released.properties }, { ...PROMOTE, toleratedRegistries: [] })).toBeUndefined();
  });

  it('the worker container group, as containerInstance.bicep builds it with a released image', () => {
    const aci = file('infra/modules/containerInstance.bicep');
    const body = bicepValue(declarationBody(aci, 'resource', 'worker'), { image: `${LOGIN}/release/contoso/worker@${DIGEST}` }) as { properties: Record<string, unknown> };
    const resource: PolicyResource = { type: 'Microsoft.ContainerInstance/containerGroups', name: 'ci-worker', properties: body.properties };
    expect(verdict(resource)).toBeUndefined();
    // The tag main.bicep used to document is refused.
    const tagged = bicepValue(declarationBody(aci, 'resource', 'worker'), { image: `${LOGIN}/contoso/worker:1.0` }) as { properties: Record<string, unknown> };
    expect(verdict({ ...resource, properties: tagged.properties })).toBe('Deny');
  });

  it('a job and a group with released images and a tolerated init container pass; other resource types are not touched', () => {
    expect(verdict(app([RELEASED], [`mcr.microsoft.com/azure-cli@${DIGEST}`], TYPE_OF.jobs))).toBeUndefined();
    expect(verdict(group([RELEASED], [RELEASED]))).toBeUndefined();
    expect(verdict({ type: 'Microsoft.Web/sites', properties: { siteConfig: { linuxFxVersion: 'DOCKER|nginx:latest' } } })).toBeUndefined();
    // Quarantine mode: any repository of the guarded registry, by digest.
    const quarantine = { releasedImagePrefix: `${LOGIN}/`, toleratedRegistries: [] };
    expect(verdict(app([`${LOGIN}/contoso/api@${DIGEST}`]), quarantine)).toBeUndefined();
    expect(verdict(app([`${LOGIN}/contoso/api:1.0`]), quarantine)).toBe('Deny');
  });
});

describe('every way around the gate is refused', () => {
  const refused: [string, string][] = [
    ['a tag', `${LOGIN}/release/contoso/api:1.0`],
    ['latest by default (no tag, no digest)', `${LOGIN}/release/contoso/api`],
    ['another repository', `${LOGIN}/contoso/api@${DIGEST}`],
    ['a repository that only starts like the prefix', `${LOGIN}/release-candidates/contoso/api@${DIGEST}`],
    ['the release prefix without a repository', `${LOGIN}/release/@${DIGEST}`],
    ['another registry', `evilacr.azurecr.io/release/contoso/api@${DIGEST}`],
    ['a look-alike host', `${LOGIN}.evil.com/release/contoso/api@${DIGEST}`],
    ['a look-alike host with the login server as a path', `evil.com/${LOGIN}/release/contoso/api@${DIGEST}`],
    ['Docker Hub by short name', 'nginx:latest'],
    ['a tag beside the digest', `${LOGIN}/release/contoso/api:1.0@${DIGEST}`],
    ['a short digest', `${LOGIN}/release/contoso/api@sha256:abcd`],
    ['another digest algorithm', `${LOGIN}/release/contoso/api@sha512:${'ab'.repeat(64)}`],
    ['two @', `${LOGIN}/release/contoso/api@${DIGEST}@${DIGEST}`],
    ['upper-case repository', `${LOGIN}/release/Contoso/API@${DIGEST}`],
    ['upper-case host', `${LOGIN.toUpperCase()}/release/contoso/api@${DIGEST}`],
    ['upper-case release prefix', `${LOGIN}/RELEASE/contoso/api@${DIGEST}`],
    ['release/../ path trick', `${LOGIN}/release/../contoso/api@${DIGEST}`],
    ['release/./ path trick', `${LOGIN}/release/./contoso/api@${DIGEST}`],
    ['double slash', `${LOGIN}/release//contoso/api@${DIGEST}`],
    ['a port on the login server', `${LOGIN}:443/release/contoso/api@${DIGEST}`],
    ['a tolerated host with a port', `mcr.microsoft.com:443/k8se/quickstart:latest`],
    ['a tolerated host as a prefix of another', `mcr.microsoft.com.evil.com/k8se/quickstart:latest`],
    ['empty image', ''],
  ];

  it.each(refused)('%s (%s): as a container of an app, a job and a group', (_what, image) => {
    expect(verdict(app([image]))).toBe('Deny');
    expect(verdict(app([image], [], TYPE_OF.jobs))).toBe('Deny');
    expect(verdict(group([image]))).toBe('Deny');
  });

  it.each(refused)('%s (%s): as an init container beside a released container', (_what, image) => {
    expect(verdict(app([RELEASED], [image]))).toBe('Deny');
    expect(verdict(app([RELEASED], [image], TYPE_OF.jobs))).toBe('Deny');
    expect(verdict(group([RELEASED], [image]))).toBe('Deny');
  });

  it('one bad container among good ones is enough', () => {
    expect(verdict(app([RELEASED, `${LOGIN}/contoso/api:1.0`, RELEASED]))).toBe('Deny');
    expect(verdict(group([RELEASED, 'docker.io/library/nginx:latest']))).toBe('Deny');
  });

  it('the effect is the assignment\'s: Audit reports, Disabled lets through; a value outside the allowed three is refused', () => {
    const bad = app([`${LOGIN}/contoso/api:1.0`]);
    expect(verdict(bad, { ...PROMOTE, effect: 'Audit' })).toBe('Audit');
    expect(verdict(bad, { ...PROMOTE, effect: 'Disabled' })).toBe('Disabled');
    expect(() => verdict(bad, { ...PROMOTE, effect: 'Append' })).toThrow(/not allowed/);
  });

  it('an app with no containers array (a PATCH body without the template) is not matched by the count', () => {
    // Azure evaluates the full resource after the PATCH is merged; see docs/deploy-policy.md.
    expect(verdict({ type: TYPE_OF.containerApps, properties: { configuration: {} } })).toBeUndefined();
  });
});

describe('the evaluator itself', () => {
  it('refuses an unknown alias and a like with two wildcards, as Azure refuses such definitions', () => {
    const rule = (cond: unknown) => ({ if: cond, then: { effect: 'Deny' } });
    expect(() => evaluatePolicyRule(rule({ field: 'Microsoft.App/containerApps/template.containers[*].imagex', exists: true }), app([RELEASED]), {})).toThrow(/unknown alias/);
    expect(() => evaluatePolicyRule(rule({ value: 'a', like: '*a*' }), app([RELEASED]), {})).toThrow(/at most one wildcard/);
    expect(evaluatePolicyRule(rule({ value: '[[literal]', equals: '[[literal]' }), app([RELEASED]), {})).toBe('Deny');
    expect(evaluatePolicyRule(rule({ field: 'type', equals: 'microsoft.app/CONTAINERAPPS' }), app([RELEASED]), {})).toBe('Deny');
  });
});
