/**
 * The policy's look-ups, as the gate, the purge, runtime assurance and `policy explain` use them: the rule that
 * applies to a repository, the registry entry of a host, how a verdict is applied there, which findings sources
 * are read, where a released image is promoted. Pure.
 */
import { isAcrHost } from './acrHost';
import { GuardError, ErrorCodes } from './errors';
import { matchGlob } from './glob';
import { RUNTIME_GRACE_DEFAULTS, RUNTIME_REGATE_AFTER_DEFAULT_MS } from './policy';
import type { ApplyMode, GateRule, Policy, RegistryPolicy, RetentionRule, RuntimePolicy } from './policyTypes';
import { validateRegistryHost, validateRepository } from './reference';
import type { FindingsSourceName } from './types';

/** The first gate rule whose scope matches `repository`, or undefined (then the gate blocks). */
export function findGateRule(policy: Policy, repository: string): GateRule | undefined {
  return policy.gate.find((rule) => matchGlob(rule.scope, repository));
}

/** The runtime section of `policy`, with defaults when the policy was built in code without one. */
export function runtimePolicyOf(policy: Policy): RuntimePolicy {
  return (
    policy.runtime ?? {
      graceMs: { ...RUNTIME_GRACE_DEFAULTS },
      regateAfterMs: RUNTIME_REGATE_AFTER_DEFAULT_MS,
      allowRegistries: [],
      tolerateTags: false,
    }
  );
}

/** The first retention rule whose scope matches `repository`, or undefined (then nothing is purged). */
export function findRetentionRule(policy: Policy, repository: string): RetentionRule | undefined {
  return policy.retention.find((rule) => matchGlob(rule.scope, repository));
}

/** The registry entry for `host` (normalised first: case, default port), or undefined. */
export function findRegistry(policy: Policy, host: string): RegistryPolicy | undefined {
  let normalised: string;
  try {
    normalised = validateRegistryHost(host);
  } catch {
    return undefined;
  }
  return policy.registries.find((registry) => registry.host === normalised);
}

/** True when acr-guard may act on `host`: it is listed under `registries`. */
export function isRegistryAllowed(policy: Policy, host: string): boolean {
  return findRegistry(policy, host) !== undefined;
}

/** True for Azure Container Registry login servers (public and sovereign clouds); see `./acrHost`. */
export { isAcrHost };

/**
 * How a verdict is applied on `host`: the registry's explicit `apply`, else `quarantine` on ACR hosts,
 * else `promote` when the rule names a promote target, else `none` (record only). A host not in the
 * policy gets `none`.
 */
export function applyModeFor(policy: Policy, host: string, rule: GateRule | undefined): ApplyMode {
  const registry = findRegistry(policy, host);
  if (!registry) return 'none';
  if (registry.apply) return registry.apply;
  if (isAcrHost(registry.host)) return 'quarantine';
  return rule?.promote ? 'promote' : 'none';
}

/** The findings sources to consult: the rule's explicit list, else Defender and reports on ACR, else reports. */
export function effectiveSources(rule: GateRule, host: string): FindingsSourceName[] {
  if (rule.vulnerabilities.sources) return [...rule.vulnerabilities.sources];
  return isAcrHost(host) ? ['defender', 'reports'] : ['reports'];
}

/**
 * The repository a released image is promoted into (`{repository}` replaced), validated; undefined when the
 * rule has no promote target. Throws `INVALID_INPUT` when the result is not a valid repository or is the
 * source repository itself.
 */
export function promoteTarget(rule: GateRule, repository: string): string | undefined {
  if (!rule.promote) return undefined;
  const field = `gate[${rule.index}].promote.repository`;
  const target = validateRepository(rule.promote.repository.split('{repository}').join(repository), field);
  if (target === repository) {
    throw new GuardError(
      ErrorCodes.INVALID_INPUT,
      `${field}: expected a target different from the source repository ${repository}`,
      { field },
    );
  }
  return target;
}
