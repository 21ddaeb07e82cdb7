/**
 * Runtime assurance job: from an inventory of running containers to a classification, over the ports (registry
 * clients for tag resolution, the audit store's batched verdict read). Shared by the CLI, the local service and
 * the `runtimeReconcile` orchestration's activities.
 *
 * Only tags on allowlisted registries are resolved (a registry outside the allowlist is never contacted), with
 * at most {@link RUNTIME_RESOLVE_CONCURRENCY} requests in flight; verdicts are read in one batched call.
 */
import { isGuardError } from '../core/errors';
import type { Policy } from '../core/policyTypes';
import {
  classifyRuntime,
  digestsToLookUp,
  planInventory,
  type GraceState,
  type InventoryPlan,
  type Resolution,
  type RunningContainer,
  type RuntimeClassification,
  type RuntimeReport,
} from '../core/runtime/classify';
import type { RegistryClientFactory, RuntimeAssuranceStore } from '../adapters/ports';
import { mapLimit } from '../core/mapLimit';

/** Tag resolutions in flight at once. */
export const RUNTIME_RESOLVE_CONCURRENCY = 8;

/** Resolves the plan's tags to digests; a failure is that image's `unresolved` reason, never a guess. */
export async function resolveRunningTags(
  plan: InventoryPlan,
  registry: RegistryClientFactory,
): Promise<Map<string, Resolution>> {
  const answers = await mapLimit(
    plan.toResolve,
    RUNTIME_RESOLVE_CONCURRENCY,
    async (r): Promise<[string, Resolution]> => {
      try {
        return [r.key, { digest: await registry(r.registry).resolveTag(r.repository, r.tag) }];
      } catch (err) {
        const code = isGuardError(err) ? err.code : 'ERROR';
        return [r.key, { error: `${code}: ${(err as Error).message.slice(0, 300)}` }];
      }
    },
  );
  return new Map(answers);
}

/** Input of {@link assessRuntime}. */
export interface AssessRuntimeInput {
  containers: readonly RunningContainer[];
  policy: Policy;
  registry: RegistryClientFactory;
  audit: Pick<RuntimeAssuranceStore, 'latestVerdicts'>;
  graceState: GraceState;
  graceSeen?: GraceState;
  nowMs: number;
  /** Resolutions already made in this run (a re-classification after re-gates reuses them: one answer per run). */
  resolutions?: ReadonlyMap<string, Resolution>;
  /** False when no verdict store was given: a digest without a verdict is `unresolved`, not `never-gated`. */
  verdictStore?: boolean;
}

/** Plans, resolves, reads verdicts (batched) and classifies. */
export async function assessRuntime(
  input: AssessRuntimeInput,
): Promise<{ plan: InventoryPlan; resolutions: Map<string, Resolution>; classification: RuntimeClassification }> {
  const plan = planInventory(input.containers, input.policy);
  const resolutions = input.resolutions ? new Map(input.resolutions) : await resolveRunningTags(plan, input.registry);
  const verdicts = await input.audit.latestVerdicts(digestsToLookUp(plan, resolutions));
  const classification = classifyRuntime({
    plan,
    resolutions,
    verdicts,
    policy: input.policy,
    graceState: input.graceState,
    ...(input.graceSeen ? { graceSeen: input.graceSeen } : {}),
    nowMs: input.nowMs,
    ...(input.verdictStore === false ? { verdictStore: false } : {}),
  });
  return { plan, resolutions, classification };
}

/** The report of a run. */
export function runtimeReportOf(options: {
  classification: RuntimeClassification;
  policy: Policy;
  nowMs: number;
  inventory: string;
  regated?: RuntimeReport['regated'];
}): RuntimeReport {
  return {
    generatedAt: new Date(options.nowMs).toISOString(),
    policyHash: options.policy.hash,
    inventory: options.inventory,
    images: options.classification.entries,
    summary: options.classification.summary,
    regated: options.regated ?? [],
    regatesLeft: options.classification.dueLeft,
  };
}
