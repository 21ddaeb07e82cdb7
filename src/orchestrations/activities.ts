/**
 * The activities of `imageGate`: plain async functions from JSON input to JSON output. {@link gateActivities}
 * maps them by their registered names (src/orchestrations/names.ts); the function table (src/app) hands that map
 * to both hosts. Reading what was pushed (an index's children included) lives in `resolveManifest.ts`, the apply
 * step in `applyVerdict.ts`; failures as data in `activityFailure.ts`.
 */
import { ErrorCodes, isGuardError } from '../core/errors';
import {
  applyModeFor,
  effectiveSources,
  findGateRule,
  findRetentionRule,
  isRegistryAllowed,
  promoteTarget,
} from '../core/policyLookup';
import type { ApplyMode, GateRule, Policy } from '../core/policyTypes';
import { boundFindingsResult } from '../core/findingsSummary';
import { ruleLabel } from '../core/purge/plan';
import {
  type FindingsResult,
  type FindingsSourceName,
  type ImageId,
  type ResolvedManifest,
  type SignatureResult,
  type Verdict,
} from '../core/types';
import { publishVerdictEvent, type PublishReport } from '../adapters/verdictEvents';
import { verdictEvent } from '../core/verdictEvent';
import { permanentAsData, type ActivityFailure } from './activityFailure';
import { applyVerdict, type ApplyVerdictInput } from './applyVerdict';
import { resolveManifest } from './resolveManifest';
import { Activities } from './names';
import { SILENT_ACTIVITY_CONTEXT, type ActivityContext, type GateServices } from './services';

export type { ActivityFailure } from './activityFailure';
export { applyVerdict, MAX_QUARANTINE_DETAILS, quarantineDetails, type ApplyVerdictInput } from './applyVerdict';
export { INDEX_CHILD_READS, resolveManifest, type PlatformManifest, type ResolvedImage } from './resolveManifest';

// ---- loadGateContext ----

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

// ---- collectFindings ----

/** Input of {@link collectFindings}: one platform manifest, one source. */
export interface CollectFindingsInput {
  /** The platform manifest (never an index). */
  image: ImageId;
  source: FindingsSourceName;
  maxReportAgeMs: number;
  /** Orchestration time, epoch ms. */
  nowMs: number;
  /** The gate rule's `ratingSources` (CycloneDX rating preference), when it names any. */
  ratingSources?: string[];
  /** The gate rule's `reportsSignedBy` (trust policy entry reports must be signed under), when set. */
  reportsSignedBy?: string;
}

/**
 * Asks one findings source about one manifest. Never reports a permanent failure as a failure: a source that
 * errs gives a `status: 'error'` result, which the decision treats as inconclusive (never clean).
 *
 * The result goes into Durable history (and is replayed), so it carries at most `MAX_VERDICT_FINDINGS`
 * findings, the worst, with counts of all: never a whole findings list.
 */
export async function collectFindings(
  services: GateServices,
  input: CollectFindingsInput,
  context: ActivityContext = SILENT_ACTIVITY_CONTEXT,
): Promise<FindingsResult> {
  const source = services.sources.find((s) => s.name === input.source);
  if (!source) {
    return {
      source: input.source,
      status: 'error',
      code: ErrorCodes.UNSUPPORTED,
      detail: `findings source "${input.source}" is not configured in this deployment`,
    };
  }
  try {
    const query = {
      image: input.image,
      maxReportAgeMs: input.maxReportAgeMs,
      nowMs: input.nowMs,
      ...(input.ratingSources ? { ratingSources: input.ratingSources } : {}),
      ...(input.reportsSignedBy ? { reportsSignedBy: input.reportsSignedBy } : {}),
    };
    return boundFindingsResult(await source.collect(query));
  } catch (err) {
    if (isGuardError(err) && err.code !== ErrorCodes.TRANSIENT) {
      context.warn(
        `collectFindings: ${input.source} for ${input.image.repository}@${input.image.digest}: ${err.code}: ${err.message}`,
      );
      return { source: input.source, status: 'error', code: err.code, detail: err.message };
    }
    throw err;
  }
}

// ---- verifySignatures ----

/** Input of {@link verifySignatures}. */
export interface VerifySignaturesActivityInput {
  /** The pushed digest: an index's signatures sign the index. */
  image: ImageId;
  manifest: ResolvedManifest;
  trustPolicy?: string;
}

/** Verifies the signatures of the pushed manifest; a permanent error is an inconclusive result, never a pass. */
export async function verifySignatures(
  services: GateServices,
  input: VerifySignaturesActivityInput,
  context: ActivityContext = SILENT_ACTIVITY_CONTEXT,
): Promise<SignatureResult> {
  try {
    return await services.verifySignatures(input);
  } catch (err) {
    if (isGuardError(err) && err.code !== ErrorCodes.TRANSIENT) {
      context.warn(`verifySignatures: ${input.image.repository}@${input.image.digest}: ${err.code}: ${err.message}`);
      return {
        status: 'inconclusive',
        reason: `signature verification failed to run: ${err.code}: ${err.message}`,
        signatures: [],
      };
    }
    throw err;
  }
}

// ---- recordVerdict ----

/**
 * Appends the verdict to the audit store, once. Activities run at least once: a worker (or the local service)
 * that dies after the write but before its completion is recorded runs this again with the same verdict. The
 * gate's verdict is deterministic (decided at orchestration time), so the latest verdict of the image being
 * this one means the write happened: it is not appended twice.
 */
export async function recordVerdict(
  services: GateServices,
  input: { verdict: Verdict },
  context: ActivityContext = SILENT_ACTIVITY_CONTEXT,
): Promise<{ ok: true } | ActivityFailure> {
  return permanentAsData(async () => {
    const { audit } = services;
    const v = input.verdict;
    const latest = await audit.latestVerdict(v.image);
    const same =
      latest !== undefined &&
      latest.decidedAt === v.decidedAt &&
      latest.decision === v.decision &&
      latest.summary === v.summary &&
      latest.policy?.hash === v.policy?.hash;
    if (!same) await audit.recordVerdict(v);
    else
      context.log(
        `recordVerdict: ${v.image.repository}@${v.image.digest}: this verdict is already the latest (an activity retry); not appended again`,
      );
    return { ok: true as const };
  });
}

// ---- publishVerdict ----

/** What {@link publishVerdict} reports (never a failure: delivery does not change the verdict). */
export interface PublishVerdictResult {
  ok: true;
  reports: PublishReport[];
}

/**
 * Publishes a recorded verdict as a CloudEvent to every configured publisher, each a bounded number of times.
 * Never fails: an undelivered event is logged (warn) and reported; the verdict stands as recorded.
 */
export async function publishVerdict(
  services: GateServices,
  input: { verdict: Verdict },
  context: ActivityContext = SILENT_ACTIVITY_CONTEXT,
): Promise<PublishVerdictResult> {
  const publishers = services.verdictEvents ?? [];
  if (publishers.length === 0) return { ok: true, reports: [] };
  let reports: PublishReport[];
  try {
    reports = await publishVerdictEvent(publishers, verdictEvent(input.verdict));
  } catch (err) {
    // Building the event from a malformed record: say so, decide nothing.
    reports = publishers.map((p) => ({
      publisher: p.name,
      delivered: false,
      attempts: 0,
      error: String((err as Error)?.message),
    }));
  }
  const v = input.verdict;
  for (const r of reports) {
    if (r.delivered)
      context.log(`publishVerdict: ${v.image.repository}@${v.image.digest} ${v.decision}: sent to ${r.publisher}`);
    else
      context.warn(
        `publishVerdict: ${v.image.repository}@${v.image.digest} ${v.decision}: not delivered to ${r.publisher} after ${r.attempts} attempt(s) (${r.error}); the verdict is recorded and unchanged`,
      );
  }
  return { ok: true, reports };
}

/**
 * The activities of `imageGate` over `services`, by their registered names: what a host registers (Azure) or
 * hands to the local durable driver. Each handler gets the JSON input and the invocation's context (its log).
 */
export function gateActivities(services: GateServices) {
  return {
    [Activities.loadGateContext]: (input: LoadGateContextInput, _context: ActivityContext) =>
      loadGateContext(services, input),
    [Activities.resolveManifest]: (input: { image: ImageId }, _context: ActivityContext) =>
      resolveManifest(services, input),
    [Activities.collectFindings]: (input: CollectFindingsInput, context: ActivityContext) =>
      collectFindings(services, input, context),
    [Activities.verifySignatures]: (input: VerifySignaturesActivityInput, context: ActivityContext) =>
      verifySignatures(services, input, context),
    [Activities.applyVerdict]: (input: ApplyVerdictInput, context: ActivityContext) =>
      applyVerdict(services, input, context),
    [Activities.recordVerdict]: (input: { verdict: Verdict }, context: ActivityContext) =>
      recordVerdict(services, input, context),
    [Activities.publishVerdict]: (input: { verdict: Verdict }, context: ActivityContext) =>
      publishVerdict(services, input, context),
  } as const;
}
