/**
 * `doctor platform [--scope <id>]`: the controls the platform is meant to have, each with its fix: registry
 * Premium, admin user off, public network access off, anonymous pull off, quarantine on, soft delete or
 * retention on, export off; Defender for Containers on; registry and environment diagnostic settings to a
 * workspace; Container Apps environments internal and apps without external ingress; Key Vault with RBAC and
 * purge protection; and the road to production (road.ts): the deploy-time policy, ABAC under promote, who can
 * write the release prefix. Pure.
 */
import { fail, pass, unknown, type DoctorCheck, type DoctorReport } from './check';
import { diagnoseRoad, promotes, type RoadOptions } from './road';
import {
  arr,
  idKey,
  ofType,
  parseArmId,
  prop,
  scopeCovers,
  str,
  Types,
  type ArmResource,
  type Snapshot,
} from './snapshot';

/** Inputs of {@link diagnosePlatform}. */
export interface PlatformInput {
  snapshot: Snapshot;
  /** Only resources under this ARM scope. */
  scope?: string;
  /** The gate mode of each registry and acr-guard's identity (from the policy and the command line), for the road's registry checks. */
  road?: RoadOptions;
}

/** A property check: `ok` decides from the value; undefined value → unknown. */
function propCheck(
  id: string,
  r: ArmResource,
  path: string,
  ok: (v: unknown) => boolean,
  describe: string,
  fix: string,
): DoctorCheck {
  const value = path === 'sku.name' ? r.sku?.name : prop(r.properties, path);
  if (value === undefined || value === null) return unknown(id, r.id, `${path} is not in the snapshot`, fix);
  const shown = `${path} = ${JSON.stringify(value)}`;
  return ok(value) ? pass(id, r.id, shown) : fail(id, r.id, `${shown}: ${describe}`, fix);
}

const eq = (want: string) => (v: unknown) => typeof v === 'string' && v.toLowerCase() === want.toLowerCase();
const isFalse = (v: unknown) => v === false;
const isTrue = (v: unknown) => v === true;

/** Diagnostic settings of a resource that send logs to a Log Analytics workspace. */
function diagnosticsToWorkspace(s: Snapshot, r: ArmResource): ArmResource[] {
  const prefix = `${idKey(r.id)}/providers/microsoft.insights/diagnosticsettings/`;
  return ofType(s, Types.diagnosticSetting).filter(
    (d) =>
      idKey(d.id).startsWith(prefix) &&
      !!str(d.properties, 'workspaceId') &&
      arr(d.properties, 'logs').some((l) => prop(l, 'enabled') === true),
  );
}

function workspaceHint(s: Snapshot): string {
  const fromSetting = ofType(s, Types.diagnosticSetting)
    .map((d) => str(d.properties, 'workspaceId'))
    .find((x) => !!x);
  return fromSetting ?? ofType(s, Types.workspace)[0]?.id ?? '<log-analytics-workspace-id>';
}

function diagnosticsCheck(s: Snapshot, id: string, r: ArmResource): DoctorCheck {
  const found = diagnosticsToWorkspace(s, r);
  if (found.length > 0)
    return pass(
      id,
      r.id,
      `diagnostic setting ${found[0].name} sends logs to ${str(found[0].properties, 'workspaceId')}`,
    );
  return fail(
    id,
    r.id,
    'no diagnostic setting sends its logs to a Log Analytics workspace',
    `az monitor diagnostic-settings create --name to-log-analytics --resource ${r.id} --workspace ${workspaceHint(s)} --logs '[{"categoryGroup":"allLogs","enabled":true}]' --metrics '[{"category":"AllMetrics","enabled":true}]'`,
  );
}

function registryChecks(s: Snapshot, r: ArmResource, promote: boolean): DoctorCheck[] {
  const n = `-n ${r.name}`;
  const soft = prop(r.properties, 'policies.softDeletePolicy.status');
  const retention = prop(r.properties, 'policies.retentionPolicy.status');
  const deletion: DoctorCheck =
    soft === undefined && retention === undefined
      ? unknown(
          'platform.registry-soft-delete-or-retention',
          r.id,
          'policies.softDeletePolicy and policies.retentionPolicy are not in the snapshot',
        )
      : eq('enabled')(soft) || eq('enabled')(retention)
        ? pass(
            'platform.registry-soft-delete-or-retention',
            r.id,
            `softDeletePolicy.status = ${JSON.stringify(soft)}, retentionPolicy.status = ${JSON.stringify(retention)}`,
          )
        : fail(
            'platform.registry-soft-delete-or-retention',
            r.id,
            'neither soft delete nor untagged retention is on: a wrong delete cannot be undone',
            `az acr config soft-delete update -r ${r.name} --status enabled --days 7`,
          );
  return [
    propCheck(
      'platform.registry-sku',
      r,
      'sku.name',
      eq('Premium'),
      'private endpoints, quarantine and export control need Premium',
      `az acr update ${n} --sku Premium`,
    ),
    propCheck(
      'platform.registry-admin-user',
      r,
      'adminUserEnabled',
      isFalse,
      'the admin user is a shared password with push and delete rights',
      `az acr update ${n} --admin-enabled false`,
    ),
    propCheck(
      'platform.registry-public-access',
      r,
      'publicNetworkAccess',
      eq('Disabled'),
      'the registry is reachable from the internet',
      `az acr update ${n} --public-network-enabled false`,
    ),
    propCheck(
      'platform.registry-anonymous-pull',
      r,
      'anonymousPullEnabled',
      isFalse,
      'anyone can pull without signing in',
      `az acr update ${n} --anonymous-pull-enabled false`,
    ),
    // Under promote the release repository (written by acr-guard only) takes quarantine's place.
    promote
      ? pass(
          'platform.registry-quarantine',
          r.id,
          'promote mode: workloads run the release repository, which only acr-guard writes',
        )
      : propCheck(
          'platform.registry-quarantine',
          r,
          'policies.quarantinePolicy.status',
          eq('enabled'),
          'pushed images are pullable before the gate decides',
          `az resource update --ids ${r.id} --set properties.policies.quarantinePolicy.status=enabled`,
        ),
    deletion,
    propCheck(
      'platform.registry-export',
      r,
      'policies.exportPolicy.status',
      eq('disabled'),
      'images can be exported out of the private network (exports need public access off first)',
      `az acr update ${n} --allow-exports false`,
    ),
    diagnosticsCheck(s, 'platform.registry-diagnostics', r),
  ];
}

/** Zero checks is `unknown`, never a pass: an empty snapshot, or a --scope that matches nothing. */
function nothingInScope(scope: string | undefined): DoctorCheck {
  return unknown(
    'platform.scope',
    scope ?? '/',
    `no registry, Container Apps environment, app, container group or Key Vault is in ${scope ? `scope ${scope}` : 'the snapshot'}: nothing was checked`,
  );
}

/** Runs the platform checks over the resources in scope. */
export function diagnosePlatform(input: PlatformInput): DoctorReport {
  const s = input.snapshot;
  const inScope = (r: ArmResource) => !input.scope || scopeCovers(input.scope, r.id) || scopeCovers(r.id, input.scope);
  const checks: DoctorCheck[] = [];
  const registries = ofType(s, Types.registry).filter(inScope);
  for (const r of registries) checks.push(...registryChecks(s, r, promotes(input.road, r)));

  // Defender for Containers, per subscription that holds a registry or a container workload in scope.
  const subs = new Set<string>();
  for (const r of [
    ...registries,
    ...ofType(s, Types.containerApp),
    ...ofType(s, Types.containerGroup),
    ...ofType(s, Types.managedEnvironment),
  ].filter(inScope)) {
    const sub = parseArmId(r.id).subscriptionId;
    if (sub) subs.add(sub.toLowerCase());
  }
  for (const sub of subs) {
    const target = `/subscriptions/${sub}`;
    const pricing = ofType(s, Types.pricing).find(
      (p) => p.name.toLowerCase() === 'containers' && (parseArmId(p.id).subscriptionId ?? '').toLowerCase() === sub,
    );
    const fix = `az security pricing create -n Containers --tier standard --subscription ${sub}`;
    const tier = str(pricing?.properties, 'pricingTier');
    if (!pricing || tier === undefined)
      checks.push(
        unknown(
          'platform.defender-containers',
          target,
          'the Defender for Containers pricing (Microsoft.Security/pricings/Containers) is not in the snapshot',
          fix,
        ),
      );
    else if (/^standard$/i.test(tier))
      checks.push(pass('platform.defender-containers', target, 'Defender for Containers pricingTier = Standard'));
    else
      checks.push(
        fail(
          'platform.defender-containers',
          target,
          `Defender for Containers pricingTier = ${tier}: no vulnerability findings reach the gate`,
          fix,
        ),
      );
  }

  for (const env of ofType(s, Types.managedEnvironment).filter(inScope)) {
    const ng = `-n ${env.name} -g ${parseArmId(env.id).resourceGroup}`;
    const fixEnv = `az containerapp env create ${ng} --infrastructure-subnet-resource-id <subnet-id> --internal-only true  # internal cannot be changed: recreate and move the apps`;
    // An environment ARM describes without a virtual network is public (its default); only an empty answer is unknown.
    if (Object.keys(env.properties).length > 0 && prop(env.properties, 'vnetConfiguration.internal') === undefined) {
      checks.push(
        fail(
          'platform.environment-internal',
          env.id,
          'no vnetConfiguration.internal: the environment has a public ingress address',
          fixEnv,
        ),
      );
    } else
      checks.push(
        propCheck(
          'platform.environment-internal',
          env,
          'vnetConfiguration.internal',
          isTrue,
          'the environment has a public ingress address',
          fixEnv,
        ),
      );
    checks.push(diagnosticsCheck(s, 'platform.environment-diagnostics', env));
  }
  for (const app of ofType(s, Types.containerApp).filter(inScope)) {
    const external = prop(app.properties, 'configuration.ingress.external');
    const ng = `-n ${app.name} -g ${parseArmId(app.id).resourceGroup}`;
    if (prop(app.properties, 'configuration') === undefined)
      checks.push(
        unknown(
          'platform.app-ingress',
          app.id,
          'the snapshot holds no configuration of this app: its ingress is not known',
        ),
      );
    else if (external === true)
      checks.push(
        fail(
          'platform.app-ingress',
          app.id,
          'configuration.ingress.external = true: the app accepts traffic from outside the environment',
          `az containerapp ingress update ${ng} --type internal`,
        ),
      );
    else
      checks.push(
        pass(
          'platform.app-ingress',
          app.id,
          prop(app.properties, 'configuration.ingress') ? 'configuration.ingress.external = false' : 'no ingress',
        ),
      );
  }
  for (const kv of ofType(s, Types.keyVault).filter(inScope)) {
    const ng = `-n ${kv.name} -g ${parseArmId(kv.id).resourceGroup}`;
    checks.push(
      propCheck(
        'platform.keyvault-rbac',
        kv,
        'enableRbacAuthorization',
        isTrue,
        'access policies grant whole-vault rights outside Azure RBAC',
        `az keyvault update ${ng} --enable-rbac-authorization true`,
      ),
    );
    checks.push(
      propCheck(
        'platform.keyvault-purge-protection',
        kv,
        'enablePurgeProtection',
        isTrue,
        'a deleted vault or secret can be purged before its retention ends',
        `az keyvault update ${ng} --enable-purge-protection true`,
      ),
    );
  }
  checks.push(...diagnoseRoad(s, inScope, input.road));
  if (checks.length === 0) checks.push(nothingInScope(input.scope));
  return { checks };
}
