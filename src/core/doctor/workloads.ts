/**
 * Workloads (Container Apps, container groups, Function Apps) as the doctor sees them: their images, pull
 * entries, network and managed identities, read from ARM resource objects.
 */
import {
  parseArmId,
  arr,
  byId,
  idKey,
  ofType,
  prop,
  str,
  Types,
  vnetOfSubnet,
  type ArmResource,
  type Snapshot,
} from './snapshot';

/** A workload kind doctor diagnoses. */
export type WorkloadKind = 'containerApp' | 'containerGroup' | 'functionApp';

/** A workload found in the snapshot. */
export interface Workload {
  kind: WorkloadKind;
  resource: ArmResource;
}

/** One registry pull entry (Container Apps `configuration.registries[]`, ACI `imageRegistryCredentials[]`). */
export interface PullEntry {
  server: string;
  identity?: string;
  username?: string;
}

/** One managed identity a workload carries. */
export interface WorkloadIdentity {
  /** `system` or the user-assigned identity's resource id. */
  ref: string;
  principalId?: string;
}

/** Every Container App, container group and Function App in the snapshot. */
export function allWorkloads(s: Snapshot): Workload[] {
  return [
    ...ofType(s, Types.containerApp).map((resource) => ({ kind: 'containerApp' as const, resource })),
    ...ofType(s, Types.containerGroup).map((resource) => ({ kind: 'containerGroup' as const, resource })),
    ...ofType(s, Types.site)
      .filter((r) => /functionapp/i.test(r.kind ?? ''))
      .map((resource) => ({ kind: 'functionApp' as const, resource })),
  ];
}

/**
 * The Container App or container group named by resource id or by name. A name two workloads share is
 * ambiguous: the answer lists their ids so the caller can pass one.
 */
export function findWorkload(s: Snapshot, nameOrId: string): { workload?: Workload; candidates: string[] } {
  const pullable = allWorkloads(s).filter((w) => w.kind !== 'functionApp');
  if (nameOrId.startsWith('/')) {
    const w = pullable.find((x) => idKey(x.resource.id) === idKey(nameOrId));
    return { workload: w, candidates: w ? [w.resource.id] : [] };
  }
  const matches = pullable.filter((w) => w.resource.name.toLowerCase() === nameOrId.toLowerCase());
  return { workload: matches.length === 1 ? matches[0] : undefined, candidates: matches.map((w) => w.resource.id) };
}

/** Images of the workload's containers and init containers, in order, without repeats. */
export function workloadImages(w: Workload): string[] {
  const p = w.resource.properties;
  const images =
    w.kind === 'containerApp'
      ? [...arr(p, 'template.initContainers'), ...arr(p, 'template.containers')].map((c) => str(c, 'image'))
      : [...arr(p, 'initContainers'), ...arr(p, 'containers')].map((c) => str(c, 'properties.image'));
  return [...new Set(images.filter((i): i is string => typeof i === 'string' && i.length > 0))];
}

/** The workload's registry pull entries. */
export function pullEntries(w: Workload): PullEntry[] {
  const list =
    w.kind === 'containerApp'
      ? arr(w.resource.properties, 'configuration.registries')
      : arr(w.resource.properties, 'imageRegistryCredentials');
  return list
    .map((e) => ({ server: str(e, 'server') ?? '', identity: str(e, 'identity'), username: str(e, 'username') }))
    .filter((e) => e.server !== '');
}

/** The managed identities the workload carries (system-assigned as `system`). */
export function workloadIdentities(s: Snapshot, w: Workload): WorkloadIdentity[] {
  const identity = w.resource.identity;
  const out: WorkloadIdentity[] = [];
  if (/systemassigned/i.test(identity?.type ?? '')) out.push({ ref: 'system', principalId: identity?.principalId });
  for (const [id, value] of Object.entries(identity?.userAssignedIdentities ?? {})) {
    out.push({ ref: id, principalId: value?.principalId ?? str(byId(s, id)?.properties, 'principalId') });
  }
  return out;
}

/** The subnet the workload runs in (Container Apps: its environment's infrastructure subnet). */
export function workloadSubnet(s: Snapshot, w: Workload): { subnetId?: string; missing?: string } {
  if (w.kind === 'containerApp') {
    const envId = str(w.resource.properties, 'environmentId') ?? str(w.resource.properties, 'managedEnvironmentId');
    const env = byId(s, envId);
    if (!env) return { missing: `its Container Apps environment ${envId ?? '(none named)'} is not in the snapshot` };
    return { subnetId: str(env.properties, 'vnetConfiguration.infrastructureSubnetId') };
  }
  if (w.kind === 'containerGroup') {
    const first = arr(w.resource.properties, 'subnetIds')[0];
    return { subnetId: str(first, 'id') };
  }
  return { subnetId: str(w.resource.properties, 'virtualNetworkSubnetId') };
}

/** The virtual network of the workload, or why it is not known. */
export function workloadVnet(s: Snapshot, w: Workload): { vnetId?: string; missing?: string } {
  const { subnetId, missing } = workloadSubnet(s, w);
  if (missing) return { missing };
  return { vnetId: vnetOfSubnet(subnetId) };
}

/** `-n <name> -g <rg>` for an az command on this resource. */
export function nameAndGroup(r: ArmResource | string): string {
  const id = typeof r === 'string' ? r : r.id;
  const { name, resourceGroup } = parseArmId(id);
  return `-n ${name} -g ${resourceGroup ?? '<resource-group>'}`;
}

/** True when the value is the literal `system` (Container Apps' spelling of the system-assigned identity). */
export function isSystemRef(ref: string | undefined): boolean {
  return typeof ref === 'string' && ref.toLowerCase() === 'system';
}

/** Reads `prop` from a resource's properties (re-exported for the check modules). */
export { prop };
