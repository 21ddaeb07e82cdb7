/**
 * The road to production, checked by `doctor platform`: the deploy-time policy is assigned, enforced and not
 * exempted for every workload (and for the subscription, where the next workload will land); in promote mode the
 * registry runs with ABAC repository permissions; and no identity but acr-guard's can write the release prefix.
 * Decided by content: an assigned definition counts only when its rule, evaluated, refuses an image from outside
 * the release repository for that workload type; a role assignment counts as a writer when its role's actions
 * and its condition, evaluated on repository names under the prefix, allow a write. Pure.
 */
import { fail, pass, sh, unknown, type DoctorCheck } from './check';
import { evaluateCondition, probeNames, readCondition } from './abac';
import { applyModeFor } from '../policyLookup';
import type { Policy } from '../policyTypes';
import { assignmentParameters, evaluatePolicyRule, type PolicyResource } from './policyRule';
import { actionMatches, resolveRole, roleAllows } from './roles';
import {
  arr,
  byId,
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

/** How acr-guard applies verdicts on one registry (from its policy file). */
export interface RoadRegistry {
  /** Login server, e.g. `contosoacr.azurecr.io`. */
  host: string;
  mode: 'quarantine' | 'promote' | 'none';
  /** The release repositories' prefix with its trailing slash (promote), e.g. `release/`. */
  releasePrefix?: string;
}

/** What `doctor platform` needs to know to check the registry half of the road. */
export interface RoadOptions {
  registries: readonly RoadRegistry[];
  /** Principal (object) ids of acr-guard's identity: the only ones that may write the release prefix. */
  guardPrincipalIds: readonly string[];
  /** Now, for exemptions that expire (without it every exemption counts: fail closed). */
  now?: Date;
}

/** The workload types the deploy-time policy covers, with their image aliases. */
const WORKLOADS = [
  { type: 'Microsoft.App/containerApps', label: 'Container Apps', key: Types.containerApp },
  { type: 'Microsoft.App/jobs', label: 'Container Apps jobs', key: Types.job },
  { type: 'Microsoft.ContainerInstance/containerGroups', label: 'container groups', key: Types.containerGroup },
] as const;
type Workload = (typeof WORKLOADS)[number];

/**
 * A body of the workload type whose only container runs `image`; with `init`, the image runs in the only init
 * container and there is no other container, so a rule that skips init containers cannot match by accident.
 */
function probeBody(w: Workload, image: string, init: boolean): PolicyResource {
  const aci = w.type === 'Microsoft.ContainerInstance/containerGroups';
  const list = [aci ? { name: 'probe', properties: { image } } : { name: 'probe', image }];
  const arrays = init ? { containers: [], initContainers: list } : { containers: list };
  return { type: w.type, name: 'doctor-probe', properties: aci ? arrays : { template: arrays } };
}

/** The images the probes use: ones no deploy-time policy worth the name lets through. */
const OUTSIDE_IMAGES = ['doctor-probe.invalid/outside:latest'];

interface Assigned {
  assignment: ArmResource;
  scope: string;
  /** Why it does not protect, or undefined when it does (for this workload type). */
  weakness?: string;
}

function assignmentScope(a: ArmResource): string {
  const fromProps = str(a.properties, 'scope');
  if (fromProps) return fromProps;
  const i = a.id.toLowerCase().indexOf('/providers/microsoft.authorization/policyassignments/');
  return i >= 0 ? a.id.slice(0, i) || '/' : a.id;
}

/** Evaluates one assignment for one workload type: enforced, Deny, and its rule refuses images from outside. */
function judge(s: Snapshot, a: ArmResource, w: Workload): Assigned {
  const scope = assignmentScope(a);
  const defId = str(a.properties, 'policyDefinitionId') ?? '';
  const def = byId(s, defId);
  if (!def) return { assignment: a, scope, weakness: `its definition ${defId} is not in the snapshot` };
  const rule = prop(def.properties, 'policyRule') as { if: unknown; then: { effect: string } } | undefined;
  if (!rule || typeof rule !== 'object' || !rule.then)
    return { assignment: a, scope, weakness: 'its definition has no policyRule' };
  const values: Record<string, unknown> = {};
  const given = prop(a.properties, 'parameters');
  if (given && typeof given === 'object')
    for (const [k, v] of Object.entries(given as Record<string, unknown>)) values[k] = prop(v, 'value');
  const declared = (prop(def.properties, 'parameters') ?? {}) as Record<
    string,
    { defaultValue?: unknown; allowedValues?: unknown[] }
  >;
  let effects: (string | undefined)[];
  try {
    const params = assignmentParameters(declared, values);
    effects = [false, true].flatMap((init) =>
      OUTSIDE_IMAGES.map((img) => evaluatePolicyRule(rule, probeBody(w, img, init), params)),
    );
  } catch (err) {
    // A rule outside the evaluated subset is not assumed to protect (it may, but doctor cannot tell).
    return { assignment: a, scope, weakness: `its rule could not be evaluated (${(err as Error).message})` };
  }
  if (effects.some((e) => e === undefined))
    return {
      assignment: a,
      scope,
      weakness: `its rule does not refuse ${OUTSIDE_IMAGES[0]} in a container and an init container of ${w.label}`,
    };
  const effect = effects.find((e) => !/^deny$/i.test(e ?? ''));
  if (effect !== undefined)
    return { assignment: a, scope, weakness: `its effect is ${effect}: the deployment is reported, not refused` };
  if (!/^default$/i.test(str(a.properties, 'enforcementMode') ?? 'Default'))
    return {
      assignment: a,
      scope,
      weakness: `enforcementMode = ${str(a.properties, 'enforcementMode')}: Azure evaluates but does not refuse`,
    };
  return { assignment: a, scope };
}

function exemptionsFor(s: Snapshot, assignmentId: string, target: string, now: Date | undefined): ArmResource[] {
  return ofType(s, Types.policyExemption).filter((e) => {
    if (idKey(str(e.properties, 'policyAssignmentId') ?? '') !== idKey(assignmentId)) return false;
    const i = e.id.toLowerCase().indexOf('/providers/microsoft.authorization/policyexemptions/');
    const scope = i >= 0 ? e.id.slice(0, i) || '/' : e.id;
    if (!scopeCovers(scope, target)) return false;
    const expires = str(e.properties, 'expiresOn');
    return !(now && expires && Date.parse(expires) < now.getTime());
  });
}

/** One deploy-policy check for a target (a workload, or a subscription for the next workload of a type). */
function policyCheck(
  s: Snapshot,
  w: Workload,
  target: string,
  now: Date | undefined,
  subscriptionWide: boolean,
): DoctorCheck {
  const id = 'platform.deploy-policy';
  const covering = ofType(s, Types.policyAssignment).filter((a) => {
    const scope = assignmentScope(a);
    if (!scopeCovers(scope, target)) return false;
    return !arr(a.properties, 'notScopes').some((n) => typeof n === 'string' && scopeCovers(n, target));
  });
  const judged = covering.map((a) => judge(s, a, w));
  const protecting = judged.filter((j) => !j.weakness);
  const what = subscriptionWide ? `${w.label} deployed in ${target}` : target;
  const sub = parseArmId(target).subscriptionId ?? '<subscription>';
  const fixDeploy = `azd provision  # or: az deployment sub create -l <region> -f infra/main.bicep -p infra/main.parameters.json deployPolicyEffect=Deny  (subscription ${sub})`;
  for (const j of protecting) {
    const ex = exemptionsFor(s, j.assignment.id, target, now);
    if (ex.length === 0)
      return pass(
        id,
        target,
        `${w.label}: ${j.assignment.name} (at ${j.scope}) refuses images from outside the release repository, enforced, no exemption`,
      );
    if (protecting.length === 1 || protecting.every((p) => exemptionsFor(s, p.assignment.id, target, now).length > 0))
      return fail(
        id,
        target,
        `${what}: the deploy-time policy ${j.assignment.name} is exempted by ${ex.map((e) => e.name).join(', ')} (${str(ex[0].properties, 'exemptionCategory') ?? 'exemption'}): images that did not come through the gate are not refused there`,
        ex
          .map(
            (e) =>
              `az policy exemption delete --name ${sh(e.name)} --scope ${sh(e.id.slice(0, e.id.toLowerCase().indexOf('/providers/microsoft.authorization/policyexemptions/')))}`,
          )
          .join('\n'),
      );
  }
  if (judged.length === 0)
    return fail(
      id,
      target,
      `${what}: no policy assignment refuses images that did not come through the gate (the deploy-time policy is missing)`,
      fixDeploy,
    );
  const weak = judged.filter((j) => j.weakness);
  const fixes = weak
    .filter((j) => /effect|enforcementMode/.test(j.weakness ?? ''))
    .map(
      (j) =>
        `az policy assignment update --name ${sh(j.assignment.name)} --scope ${sh(j.scope)} --enforcement-mode Default --params '{"effect":{"value":"Deny"}}'`,
    );
  return fail(
    id,
    target,
    `${what}: no assignment refuses images from outside the release repository: ${weak.map((j) => `${j.assignment.name}: ${j.weakness}`).join('; ')}`,
    fixes.length ? fixes.join('\n') : fixDeploy,
  );
}

/** Data actions of the built-in repository roles (ABAC mode), by role GUID. */
const REPOSITORY_ROLE_DATA: Record<string, string[]> = {
  'b93aa761-3e63-49ed-ac28-beffa264f7ac': [
    'Microsoft.ContainerRegistry/registries/repositories/metadata/read',
    'Microsoft.ContainerRegistry/registries/repositories/content/read',
  ],
  '2a1e307c-b015-4ebd-883e-5b7698a07328': [
    'Microsoft.ContainerRegistry/registries/repositories/metadata/read',
    'Microsoft.ContainerRegistry/registries/repositories/content/read',
    'Microsoft.ContainerRegistry/registries/repositories/metadata/write',
    'Microsoft.ContainerRegistry/registries/repositories/content/write',
  ],
  '2efddaa5-3f1f-4df3-97df-af3f13818f4c': [
    'Microsoft.ContainerRegistry/registries/repositories/metadata/read',
    'Microsoft.ContainerRegistry/registries/repositories/content/read',
    'Microsoft.ContainerRegistry/registries/repositories/metadata/write',
    'Microsoft.ContainerRegistry/registries/repositories/content/write',
    'Microsoft.ContainerRegistry/registries/repositories/metadata/delete',
    'Microsoft.ContainerRegistry/registries/repositories/content/delete',
  ],
  'bfdb9389-c9a5-478a-bb2f-ba9ca092c3c7': ['Microsoft.ContainerRegistry/registries/catalog/read'],
};

const WRITE_ACTIONS = [
  'Microsoft.ContainerRegistry/registries/repositories/content/write',
  'Microsoft.ContainerRegistry/registries/repositories/metadata/write',
];
/** The control-plane push action the legacy mode honours (AcrPush, Owner, Contributor). */
const LEGACY_PUSH = 'Microsoft.ContainerRegistry/registries/push/write';

/** The data actions and notDataActions of a role: built-in repository roles by GUID, custom ones from the snapshot. */
function dataActionsOf(
  s: Snapshot,
  roleDefinitionId: string,
): { dataActions: string[]; notDataActions: string[] } | undefined {
  const guid = (roleDefinitionId.split('/').pop() ?? '').toLowerCase();
  if (REPOSITORY_ROLE_DATA[guid]) return { dataActions: REPOSITORY_ROLE_DATA[guid], notDataActions: [] };
  const custom =
    byId(s, roleDefinitionId) ?? ofType(s, Types.roleDefinition).find((d) => d.name.toLowerCase() === guid);
  if (!custom) return resolveRole(s, roleDefinitionId) ? { dataActions: [], notDataActions: [] } : undefined;
  const perms = arr(custom.properties, 'permissions');
  const list = (key: string) => perms.flatMap((p) => arr(p, key)).filter((a): a is string => typeof a === 'string');
  return { dataActions: list('dataActions'), notDataActions: list('notDataActions') };
}

/** Why an assignment lets its principal write under `prefix`, or undefined when it does not. */
function writesRelease(s: Snapshot, ra: ArmResource, abac: boolean, prefix: string): string | undefined {
  const roleId = str(ra.properties, 'roleDefinitionId') ?? '';
  const role = resolveRole(s, roleId);
  const data = dataActionsOf(s, roleId);
  const roleName = role?.name ?? (roleId.split('/').pop() as string);
  if (!data && !role) return `role ${roleName} is not known to doctor (not built in, not in the snapshot)`;
  const dataWrites = WRITE_ACTIONS.filter(
    (w) => data?.dataActions.some((d) => actionMatches(d, w)) && !data.notDataActions.some((d) => actionMatches(d, w)),
  );
  if (!abac) {
    // Legacy registry permissions: conditions are not evaluated, AcrPush/Owner/Contributor push everywhere.
    if (role && roleAllows(role, LEGACY_PUSH))
      return `${roleName} pushes to every repository (legacy registry permissions)`;
    return dataWrites.length
      ? `${roleName} writes every repository (legacy registry permissions ignore conditions)`
      : undefined;
  }
  if (dataWrites.length === 0) return undefined;
  const condition = str(ra.properties, 'condition');
  if (!condition) return `${roleName} without a condition writes every repository, ${prefix} included`;
  const read = readCondition(condition);
  if ('problem' in read)
    return `${roleName} with a condition doctor does not understand (${read.problem}): assumed to write ${prefix}`;
  const parsed = read.condition;
  for (const action of dataWrites)
    for (const name of probeNames(parsed, prefix))
      if (evaluateCondition(parsed, { action, repository: name }))
        return `${roleName}: its condition allows ${action.split('/').slice(-2).join('/')} on ${name}`;
  return undefined;
}

/** The registry checks of the road for one registry acr-guard runs in promote mode. */
function registryRoad(s: Snapshot, r: ArmResource, road: RoadOptions, reg: RoadRegistry): DoctorCheck[] {
  const prefix = reg.releasePrefix ?? 'release/';
  const mode = str(r.properties, 'roleAssignmentMode');
  const abac = /^AbacRepositoryPermissions$/i.test(mode ?? '');
  const checks: DoctorCheck[] = [];
  const fixAbac = `az acr update -n ${r.name} --role-assignment-mode rbac-abac  # first move every AcrPull/AcrPush/AcrDelete assignment to the Container Registry Repository roles (infra/main.bicep gateMode=promote does both)`;
  if (mode === undefined)
    checks.push(
      unknown(
        'platform.registry-abac',
        r.id,
        'roleAssignmentMode is not in the snapshot (captured with an older API version?)',
        fixAbac,
      ),
    );
  else if (abac)
    checks.push(
      pass(
        'platform.registry-abac',
        r.id,
        'roleAssignmentMode = "AbacRepositoryPermissions": repository roles with conditions decide who writes which repository',
      ),
    );
  else
    checks.push(
      fail(
        'platform.registry-abac',
        r.id,
        `roleAssignmentMode = ${JSON.stringify(mode)} under promote: any AcrPush holder can write ${prefix} and overwrite a release`,
        fixAbac,
      ),
    );
  const guard = new Set(road.guardPrincipalIds.map((p) => p.toLowerCase()));
  const writers: string[] = [];
  const fixes: string[] = [];
  for (const ra of ofType(s, Types.roleAssignment)) {
    const scope =
      str(ra.properties, 'scope') ??
      ra.id.slice(0, Math.max(0, ra.id.toLowerCase().indexOf('/providers/microsoft.authorization/roleassignments/')));
    if (!scopeCovers(scope, r.id)) continue;
    const principal = (str(ra.properties, 'principalId') ?? '').toLowerCase();
    if (guard.has(principal)) continue;
    const why = writesRelease(s, ra, abac, prefix);
    if (!why) continue;
    writers.push(`${principal} (${why}; assignment ${ra.id})`);
    fixes.push(
      `az role assignment delete --ids ${sh(ra.id)}  # then: Container Registry Repository Writer with a condition StringNotStartsWithIgnoreCase '${prefix}'`,
    );
  }
  if (writers.length)
    checks.push(
      fail(
        'platform.release-writers',
        r.id,
        `${writers.length} identit${writers.length === 1 ? 'y' : 'ies'} besides acr-guard can write ${prefix}: ${writers.join('; ')}`,
        fixes.join('\n'),
      ),
    );
  else if (guard.size === 0)
    checks.push(
      unknown(
        'platform.release-writers',
        r.id,
        "acr-guard's principal id was not given, so its writes cannot be told from others'",
        '',
      ),
    );
  else
    checks.push(
      pass('platform.release-writers', r.id, `only acr-guard (${[...guard].join(', ')}) can write ${prefix}`),
    );
  return checks;
}

/** The road's checks over the snapshot (workloads and registries filtered by `inScope`). */
export function diagnoseRoad(
  s: Snapshot,
  inScope: (r: ArmResource) => boolean,
  road: RoadOptions | undefined,
): DoctorCheck[] {
  const checks: DoctorCheck[] = [];
  const subs = new Set<string>();
  for (const w of WORKLOADS)
    for (const r of ofType(s, w.key).filter(inScope)) {
      checks.push(policyCheck(s, w, r.id, road?.now, false));
      const sub = parseArmId(r.id).subscriptionId;
      if (sub) subs.add(sub.toLowerCase());
    }
  for (const r of ofType(s, Types.registry).filter(inScope)) {
    const sub = parseArmId(r.id).subscriptionId;
    if (sub) subs.add(sub.toLowerCase());
  }
  // The next workload: every type must be covered at the subscription, not only where workloads run today.
  for (const sub of [...subs].sort())
    for (const w of WORKLOADS) {
      const c = policyCheck(s, w, `/subscriptions/${sub}`, road?.now, true);
      checks.push({ ...c, id: 'platform.deploy-policy-subscription', target: `/subscriptions/${sub} (${w.type})` });
    }
  if (road)
    for (const r of ofType(s, Types.registry).filter(inScope)) {
      const host = (str(r.properties, 'loginServer') ?? '').toLowerCase();
      const reg = road.registries.find((x) => x.host.toLowerCase() === host);
      if (reg?.mode === 'promote') checks.push(...registryRoad(s, r, road, reg));
    }
  return checks;
}

/** True when the registry runs in promote mode according to the road options. */
export function promotes(road: RoadOptions | undefined, r: ArmResource): boolean {
  const host = (str(r.properties, 'loginServer') ?? '').toLowerCase();
  return !!road?.registries.some((x) => x.host.toLowerCase() === host && x.mode === 'promote');
}

/**
 * The road options from acr-guard's policy: each registry's apply mode (as the gate applies it on ACR) and the
 * release prefix of the promote targets (`promote.repository: "release/{repository}"` → `release/`; with several
 * targets, their longest common prefix ending in `/`), plus acr-guard's principal ids.
 */
export function roadFromPolicy(policy: Policy, guardPrincipalIds: readonly string[], now?: Date): RoadOptions {
  const prefixes = [
    ...new Set(
      policy.gate
        .filter((r) => r.promote)
        .map((r) => (r.promote as { repository: string }).repository.split('{repository}')[0]),
    ),
  ];
  let prefix = prefixes[0] ?? 'release/';
  for (const p of prefixes.slice(1)) while (!p.startsWith(prefix)) prefix = prefix.slice(0, prefix.length - 1);
  prefix = prefix.slice(0, prefix.lastIndexOf('/') + 1);
  return {
    registries: policy.registries.map((r) => ({
      host: r.host,
      mode: applyModeFor(
        policy,
        r.host,
        policy.gate.find((g) => g.promote),
      ),
      releasePrefix: prefix,
    })),
    guardPrincipalIds,
    now,
  };
}
