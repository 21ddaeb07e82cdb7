/**
 * The gate's first step: what the policy says about one image (allowlist, gate rule, sources, apply mode, wait
 * times, retention), read once at the start of the gate and kept in history.
 */
import {
  applyModeFor,
  effectiveSources,
  findGateRule,
  findRetentionRule,
  isRegistryAllowed,
  promoteTarget,
} from '../core/policyLookup';
import type { ApplyMode, GateRule, Policy } from '../core/policyTypes';
import { ruleLabel } from '../core/purge/plan';
import type { FindingsSourceName, ImageId } from '../core/types';
import type { CollectFindingsInput } from './collectFindings';
import { permanentAsData, type ActivityFailure } from './activityFailure';
import type { GateServices } from './services';

/** Input of {@link loadGateContext}. */
export interface LoadGateContextInput {
  image: ImageId;
}

/**
 * What the policy says about one image, resolved once at the start of the gate; on `rule`: a matching gate rule
 * with its sources, or none (no sources, no promotion target). The JSON is the one older instances wrote.
 */
export type GateContext = GateContextCommon &
  (
    | {
        rule: GateRule;
        sources: FindingsSourceName[];
        /** Release repository for `promote` mode. */
        promoteTarget?: string;
      }
    | { rule?: undefined; sources: []; promoteTarget?: undefined }
  );

/** What every {@link GateContext} carries. */
interface GateContextCommon {
  ok: true;
  registryAllowed: boolean;
  /** `gate[<i>] scope "<glob>"`, or `none` when no rule matches. */
  ruleLabel: string;
  applyMode: ApplyMode;
  policyVersion: number;
  policyHash: string;
  scanDeadlineMs: number;
  pollIntervalMs: number;
  maxReportAgeMs: number;
  trustPolicy?: string;
  /** The retention rule covering the repository, when one does: the gate runs it after recording the verdict. */
  retentionRule?: string;
  /** Whether verdict events are configured: the gate then publishes the recorded verdict (absent in old histories). */
  publishVerdicts?: boolean;
}

/** Reads the policy for an image: allowlist, gate rule, sources, apply mode, wait times. */
export async function loadGateContext(
  services: GateServices,
  input: LoadGateContextInput,
): Promise<GateContext | ActivityFailure> {
  return permanentAsData(async () => {
    const policy = services.policy();
    const { registry, repository } = input.image;
    const rule = findGateRule(policy, repository);
    const applyMode = applyModeFor(policy, registry, rule);
    const byRule = rule
      ? {
          rule,
          sources: effectiveSources(rule, registry),
          promoteTarget: applyMode === 'promote' ? promoteTarget(rule, repository) : undefined,
        }
      : { rule: undefined, sources: [] as [], promoteTarget: undefined };
    return {
      ok: true as const,
      registryAllowed: isRegistryAllowed(policy, registry),
      ...byRule,
      ruleLabel: rule ? `gate[${rule.index}] scope "${rule.scope}"` : 'none',
      applyMode,
      policyVersion: policy.version,
      policyHash: policy.hash,
      scanDeadlineMs: rule?.vulnerabilities.scanDeadlineMs ?? 0,
      pollIntervalMs: rule?.vulnerabilities.pollIntervalMs ?? 60_000,
      maxReportAgeMs: rule?.vulnerabilities.maxReportAgeMs ?? 0,
      trustPolicy: rule?.signatures.trustPolicy,
      ...retentionOf(policy, repository),
      ...(services.verdictEvents && services.verdictEvents.length > 0 ? { publishVerdicts: true } : {}),
    };
  });
}

/** The retention rule covering a repository, as a label (only present when one does: the gate then runs it). */
function retentionOf(policy: Policy, repository: string): { retentionRule?: string } {
  const rule = findRetentionRule(policy, repository);
  return rule ? { retentionRule: ruleLabel(rule) } : {};
}

/**
 * The input of one collectFindings call: one platform manifest, one source, under the gate rule's report age,
 * rating preference and report signers, judged at orchestration time `nowMs`. Pure: the orchestrator and
 * version 2's `prepare` build it the same way.
 */
export function collectFindingsInput(
  gate: GateContext & { rule: GateRule },
  image: ImageId,
  digest: string,
  source: FindingsSourceName,
  nowMs: number,
): CollectFindingsInput {
  const { vulnerabilities } = gate.rule;
  return {
    image: { ...image, digest },
    source,
    maxReportAgeMs: gate.maxReportAgeMs,
    nowMs,
    ...(vulnerabilities.ratingSources ? { ratingSources: [...vulnerabilities.ratingSources] } : {}),
    ...(vulnerabilities.reportsSignedBy ? { reportsSignedBy: vulnerabilities.reportsSignedBy } : {}),
  };
}
