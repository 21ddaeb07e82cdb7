/**
 * `doctor identities [--scope <id>]`: every managed identity a Container App, container group or Function App
 * uses, with its role assignments; a fail for any privileged role (judged by what it allows, built-in or custom:
 * it writes role assignments, role definitions or policy, or any resource) at management group, subscription or
 * resource group scope (or the root), with the least-privilege replacement for what the workload actually uses.
 * Nothing in scope is `unknown`, never a clean bill. Pure.
 */
import { fail, pass, unknown, type DoctorCheck, type DoctorReport } from './check';
import { registryFor } from './pull';
import { isAbac } from './pullIdentity';
import {
  assignmentsOf,
  isPrivileged,
  privilegeReason,
  registryWriteRights,
  resolveRole,
  scopeKind,
  type Assignment,
  type RoleDefinition,
} from './roles';
import { arr, idKey, ofType, parseArmId, scopeCovers, str, Types, type Snapshot } from './snapshot';
import { allWorkloads, isSystemRef, pullEntries, workloadIdentities, type Workload } from './workloads';

/** Inputs of {@link diagnoseIdentities}. */
export interface IdentitiesInput {
  snapshot: Snapshot;
  /** Only workloads under this ARM scope (a subscription, resource group or resource id). */
  scope?: string;
}

/** The narrow roles a workload's identity needs, from what the workload does with it. */
function replacements(s: Snapshot, w: Workload, ref: string): Array<{ role: string; scope: string; why: string }> {
  const out: Array<{ role: string; scope: string; why: string }> = [];
  const same = (x: string | undefined) =>
    x !== undefined && (isSystemRef(ref) ? isSystemRef(x) : idKey(x) === idKey(ref));
  for (const e of pullEntries(w)) {
    if (!same(e.identity)) continue;
    const reg = registryFor(s, e.server);
    // A registry in ABAC mode does not honour AcrPull: the repository role is the replacement there.
    const role = reg && isAbac(reg) ? 'Container Registry Repository Reader' : 'AcrPull';
    out.push({ role, scope: reg?.id ?? `<registry-id of ${e.server}>`, why: `pulls from ${e.server}` });
  }
  for (const secret of arr(w.resource.properties, 'configuration.secrets')) {
    const url = str(secret, 'keyVaultUrl');
    if (!url || !same(str(secret, 'identity'))) continue;
    const host = url
      .replace(/^https:\/\//i, '')
      .split('/')[0]
      .toLowerCase();
    const vault = ofType(s, Types.keyVault).find((v) =>
      (str(v.properties, 'vaultUri') ?? '').toLowerCase().includes(host),
    );
    out.push({
      role: 'Key Vault Secrets User',
      scope: vault?.id ?? `<key-vault-id of ${host}>`,
      why: `reads secret ${str(secret, 'name') ?? ''} from ${host}`,
    });
  }
  const seen = new Set<string>();
  return out.filter((r) => !seen.has(`${r.role}|${idKey(r.scope)}`) && !!seen.add(`${r.role}|${idKey(r.scope)}`));
}

const BROAD = new Set(['root', 'managementGroup', 'subscription', 'resourceGroup']);

/** Runs the identity checks. */
export function diagnoseIdentities(input: IdentitiesInput): DoctorReport {
  const s = input.snapshot;
  const workloads = allWorkloads(s).filter((w) => !input.scope || scopeCovers(input.scope, w.resource.id));
  // One check per identity (a user-assigned identity shared by several workloads is one identity).
  const byIdentity = new Map<string, { ref: string; principalId?: string; users: Workload[] }>();
  for (const w of workloads) {
    for (const i of workloadIdentities(s, w)) {
      const key = i.ref === 'system' ? `${idKey(w.resource.id)}#system` : idKey(i.ref);
      const entry = byIdentity.get(key) ?? { ref: i.ref, principalId: i.principalId, users: [] };
      entry.principalId ??= i.principalId;
      entry.users.push(w);
      byIdentity.set(key, entry);
    }
  }
  const checks: DoctorCheck[] = [];
  // No role assignment at all is a snapshot captured without them (every subscription has some), not a clean bill.
  const captured = ofType(s, Types.roleAssignment).length > 0;
  for (const { ref, principalId, users } of byIdentity.values()) {
    const target = ref === 'system' ? `${users[0].resource.id} (system-assigned identity)` : ref;
    const usedBy = users.map((u) => `${u.kind} ${u.resource.name}`).join(', ');
    if (!principalId) {
      checks.push(
        unknown(
          'identities.least-privilege',
          target,
          `used by ${usedBy}; its principal id is not in the snapshot, so its role assignments cannot be read`,
        ),
      );
      continue;
    }
    if (!captured) {
      checks.push(
        unknown(
          'identities.least-privilege',
          target,
          `used by ${usedBy}; the snapshot holds no role assignments at all (captured without authorizationresources?), so its roles are not known`,
        ),
      );
      continue;
    }
    const assignments = assignmentsOf(s, principalId);
    const listed = (a: Assignment) => `${resolveRole(s, a.roleDefinitionId)?.name ?? a.roleDefinitionId} at ${a.scope}`;
    const broad = assignments.filter((a) => BROAD.has(scopeKind(a.scope)));
    const privileged = broad.filter((a) => {
      const role = resolveRole(s, a.roleDefinitionId);
      return role !== undefined && isPrivileged(role);
    });
    const unresolved = broad.filter((a) => resolveRole(s, a.roleDefinitionId) === undefined);
    // Registry write rights (control plane or data actions) are named, not failed: a review wants to see them.
    const writes = assignments.flatMap((a) => {
      const role = resolveRole(s, a.roleDefinitionId);
      const rights = role ? registryWriteRights(role) : [];
      return rights.length ? [`${role?.name} at ${a.scope} (${rights.join(', ')})`] : [];
    });
    const summary = `used by ${usedBy}; principal ${principalId}; ${assignments.length} role assignment(s)${assignments.length ? `: ${assignments.map(listed).join('; ')}` : ''}${writes.length ? `; registry write rights: ${writes.join('; ')}` : ''}`;
    if (privileged.length > 0) {
      const needs = users.flatMap((u) => replacements(s, u, ref));
      // A replacement the identity already holds needs no command (only the broad assignment goes).
      const held = (n: { role: string; scope: string }) =>
        assignments.some(
          (a) => resolveRole(s, a.roleDefinitionId)?.name === n.role && idKey(a.scope) === idKey(n.scope),
        );
      const create = needs
        .filter((n) => !held(n))
        .map(
          (n) =>
            `az role assignment create --assignee-object-id ${principalId} --assignee-principal-type ServicePrincipal --role '${n.role}' --scope ${n.scope}`,
        );
      const remove = privileged.map((a) => `az role assignment delete --ids ${a.id}`);
      const advice = needs.length
        ? ` It needs only: ${needs.map((n) => `${n.role} on ${parseArmId(n.scope).name} (${n.why}${held(n) ? '; already held' : ''})`).join('; ')}.`
        : ' Nothing in the snapshot shows what it needs: grant only the data-plane roles its code calls, on those resources.';
      checks.push(
        fail(
          'identities.least-privilege',
          target,
          `${privileged.map((a) => `${resolveRole(s, a.roleDefinitionId)?.name} at ${scopeKind(a.scope)} scope ${a.scope} (${privilegeReason(resolveRole(s, a.roleDefinitionId) as RoleDefinition)})`).join('; ')}: far more than a workload identity needs (${summary}).${advice}`,
          [...create, ...remove].join(' && '),
        ),
      );
    } else if (unresolved.length > 0) {
      checks.push(
        unknown(
          'identities.least-privilege',
          target,
          `${unresolved.map((a) => `role ${a.roleDefinitionId} at ${a.scope}`).join('; ')}: definitions not in the snapshot, so whether they are privileged is not known (${summary})`,
        ),
      );
    } else
      checks.push(
        pass(
          'identities.least-privilege',
          target,
          `no role at a broad scope writes role assignments, role definitions, policy or any resource (${summary})`,
        ),
      );
  }
  // Zero checks is not a clean bill: a scope that matches nothing, or a snapshot without workloads, says so.
  if (checks.length === 0)
    checks.push(
      unknown(
        'identities.scope',
        input.scope ?? '/',
        `no Container App, container group or Function App with a managed identity is in ${input.scope ? `scope ${input.scope}` : 'the snapshot'}: nothing was checked`,
      ),
    );
  return { checks };
}
