/**
 * The combined activities of `imageGate` versions 2 and 3 (src/orchestrations/versions.ts). Version 3's
 * `prepareAndFinish` is version 2's two in one call when nothing has to be waited for (see its comment below).
 *
 * Version 2: a gate reads in one activity and writes in one, and decides in between, so a typical gate replays its
 * history 3 times instead of 7:
 * - `prepare` reads: loadGateContext, then (registry allowed) resolveManifest, then (an image under a gate rule)
 *   the first round of findings for every platform manifest and source, and the pushed digest's signatures;
 * - `applyAndRecord` writes: applyVerdict, then (unless a release could not be applied) recordVerdict of the
 *   verdict with the release's proof.
 *
 * Every part after the first never fails the activity: when it throws (a transient error, or a bug) the result
 * says so (`deferred`) and the orchestrator runs that part as its own version 1 activity, with the gate's
 * Durable retries. So a transient registry or store error is retried as before, a part that succeeded is not
 * repeated, and a failure names the step that failed. A transient failure of the first part throws, and the
 * activity is retried whole (nothing after it has run). Findings that are still pending are polled by the
 * orchestrator with durable timers, as in version 1; signatures read here count only when no findings had to be
 * waited for or read again (otherwise they are verified after the findings, as in version 1).
 */
import { errorCodeOf, type ErrorCode, messageOf } from '../core/errors';
import { withProof } from '../core/releaseProof';
import { mapLimit } from '../core/mapLimit';
import type { ApplyResult, FindingsResult, FindingsSourceName, ImageId, SignatureResult, Verdict } from '../core/types';
import { collectFindings } from './collectFindings';
import { verifySignatures } from './verifySignatures';
import type { ActivityFailure } from './activityFailure';
import { applyVerdict, type ApplyVerdictInput } from './applyVerdict';
import { collectFindingsInput, loadGateContext, type GateContext } from './gateContext';
import { decideGate, findingsKey, pendingFindings } from './gateDecision';
import { recordVerdict } from './recordVerdict';
import { resolveManifest, type ResolvedImage } from './resolveManifest';
import { SILENT_ACTIVITY_CONTEXT, type ActivityContext, type GateServices } from './services';

/** A part of a combined step after its first threw: the orchestrator runs that part again as its own activity. */
export interface DeferredStep {
  ok: false;
  deferred: true;
  code: ErrorCode;
  detail: string;
}

/** Whether a combined step's answer for one of its parts is a {@link DeferredStep}. */
export function isDeferred(value: unknown): value is DeferredStep {
  if (typeof value !== 'object' || value === null) return false;
  const step = value as Partial<DeferredStep>;
  return step.ok === false && step.deferred === true;
}

/** Input of {@link prepareGate}. */
export interface PrepareGateInput {
  image: ImageId;
  /** Orchestration time (epoch ms) the findings are judged at, as the orchestrator's own collectFindings calls. */
  nowMs: number;
}

/** One platform manifest's answer from one findings source, read by {@link prepareGate}. */
export interface PreparedFindings {
  digest: string;
  source: FindingsSourceName;
  result: FindingsResult | DeferredStep;
}

/** Output of {@link prepareGate}: what it read, each part absent when it was not reached. */
export interface PreparedGate {
  context: GateContext | ActivityFailure;
  /** Absent when the context failed or the registry is not allowed (nothing was read). */
  resolved?: ResolvedImage | ActivityFailure | DeferredStep;
  /** Every platform × source of the gate rule, when the manifest resolved to an image or index under a rule. */
  findings?: PreparedFindings[];
  /** The pushed digest's signatures, read with the findings. */
  signatures?: SignatureResult | DeferredStep;
}

/** Findings sources asked at once by {@link prepareGate} (an index's platforms × the rule's sources). */
export const PREPARE_COLLECT_CONCURRENCY = 8;

/** Output of {@link applyAndRecord}. */
export interface AppliedAndRecorded {
  apply: ApplyResult;
  /**
   * Absent when nothing was recorded on purpose: a release that could not be applied (the orchestrator blocks
   * and calls again with the block).
   */
  recorded?: { ok: true } | ActivityFailure | DeferredStep;
}

/**
 * Runs `part`; what it throws becomes a {@link DeferredStep}, logged under `what`, for the orchestrator to run
 * again as its own activity.
 */
async function orDeferred<T>(
  what: string,
  context: ActivityContext,
  part: () => Promise<T>,
): Promise<T | DeferredStep> {
  try {
    return await part();
  } catch (err) {
    const later: DeferredStep = { ok: false, deferred: true, code: errorCodeOf(err), detail: messageOf(err) };
    context.warn(`${what}: ${later.code}: ${later.detail}; retried as its own step`);
    return later;
  }
}

/**
 * Version 2's reading activity: loadGateContext; then, when the registry is allowed, resolveManifest; then, for an
 * image or index under a gate rule, every platform × source's findings and the pushed digest's signatures.
 */
export async function prepareGate(
  services: GateServices,
  input: PrepareGateInput,
  context: ActivityContext = SILENT_ACTIVITY_CONTEXT,
): Promise<PreparedGate> {
  const { image } = input;
  const gate = await loadGateContext(services, { image });
  if (!gate.ok || !gate.registryAllowed) return { context: gate };
  const where = `${image.repository}@${image.digest}`;
  const resolved = await orDeferred(`prepare: resolveManifest ${where}`, context, () =>
    resolveManifest(services, { image }),
  );
  if (!resolved.ok || resolved.kind === 'artifact' || !gate.rule) return { context: gate, resolved };
  const ruled = { ...gate, rule: gate.rule };
  const pairs = resolved.platforms.flatMap((p) => gate.sources.map((source) => ({ digest: p.digest, source })));
  const [findings, signatures] = await Promise.all([
    mapLimit(pairs, PREPARE_COLLECT_CONCURRENCY, async ({ digest, source }) => ({
      digest,
      source,
      result: await orDeferred(`prepare: collectFindings(${source}) ${image.repository}@${digest}`, context, () =>
        collectFindings(services, collectFindingsInput(ruled, image, digest, source, input.nowMs), context),
      ),
    })),
    orDeferred(`prepare: verifySignatures ${where}`, context, () =>
      verifySignatures(services, { image, manifest: resolved.manifest, trustPolicy: gate.trustPolicy }, context),
    ),
  ]);
  return { context: gate, resolved, findings, signatures };
}

/**
 * applyVerdict, then recordVerdict of the verdict with the release's proof (what the orchestrator records too:
 * both use `withProof`), except when a release could not be applied.
 */
export async function applyAndRecord(
  services: GateServices,
  input: ApplyVerdictInput,
  context: ActivityContext = SILENT_ACTIVITY_CONTEXT,
): Promise<AppliedAndRecorded> {
  const applied = await applyVerdict(services, input, context);
  // A failure as version 1's orchestrator keeps it: mode, code and detail.
  const apply: ApplyResult = applied.ok
    ? applied
    : { mode: input.mode, ok: false, code: applied.code, detail: applied.detail };
  if (input.verdict.decision === 'release' && !apply.ok) return { apply };
  const { image } = input.verdict;
  const recorded = await orDeferred(`applyAndRecord: recordVerdict ${image.repository}@${image.digest}`, context, () =>
    recordVerdict(services, { verdict: withProof(input.verdict, apply.proof) }, context),
  );
  return { apply, recorded };
}

/** Input of {@link prepareAndFinish}: {@link prepareGate}'s, and what the verdict and its apply step need. */
export interface PrepareAndFinishInput extends PrepareGateInput {
  /** The tag the image was pushed with, when known (in the verdict). */
  tag?: string;
  /** Decide and record without applying. */
  dryRun: boolean;
}

/** Output of {@link prepareAndFinish}: what {@link prepareGate} read, and the verdict when it was finished here. */
export interface PreparedAndFinished extends PreparedGate {
  /**
   * The verdict, decided over what was read, with what applyAndRecord did with it; a {@link DeferredStep} when
   * applying or recording threw (the orchestrator then runs applyAndRecord as its own activity); absent when the
   * gate cannot be finished in one call (see {@link prepareAndFinish}).
   */
  finished?: { verdict: Verdict } & (AppliedAndRecorded | { deferred: DeferredStep });
}

/**
 * Version 3's first activity: {@link prepareGate}, then, when nothing has to be waited for or read again, the
 * decision over what it read and {@link applyAndRecord}, so a gate whose reports are there is one activity call
 * and two replays. It is not finished here (the orchestrator goes on as version 2 from what was read) when: the
 * context or the manifest failed or was deferred, the registry is not allowed, the image is an artifact or under no
 * gate rule, a findings read or the signatures were deferred, or a platform's scan is still pending before the
 * scan deadline (judged at `nowMs`, as the findings are). The decision is the orchestrator's own
 * (src/orchestrations/gateDecision.ts) at orchestration time `nowMs`; a throw from it (a bug) leaves the decision to
 * the orchestrator, which blocks naming it.
 */
export async function prepareAndFinish(
  services: GateServices,
  input: PrepareAndFinishInput,
  context: ActivityContext = SILENT_ACTIVITY_CONTEXT,
): Promise<PreparedAndFinished> {
  const prepared = await prepareGate(services, { image: input.image, nowMs: input.nowMs }, context);
  const verdict = decideAtOnce(prepared, input);
  if (!verdict || !prepared.context.ok) return prepared;
  const gate = prepared.context;
  const { image } = input;
  const done = await orDeferred(`prepareAndFinish: applyAndRecord ${image.repository}@${image.digest}`, context, () =>
    applyAndRecord(
      services,
      { verdict, mode: gate.applyMode, dryRun: input.dryRun, promoteTarget: gate.promoteTarget },
      context,
    ),
  );
  return { ...prepared, finished: isDeferred(done) ? { verdict, deferred: done } : { verdict, ...done } };
}

/** The verdict over what `prepared` read, when the gate needs nothing more (see {@link prepareAndFinish}). */
function decideAtOnce(prepared: PreparedGate, input: PrepareAndFinishInput): Verdict | undefined {
  const { context: gate, resolved, findings, signatures } = prepared;
  if (!gate.ok || !gate.rule || !resolved?.ok || resolved.kind === 'artifact') return undefined;
  if (!findings || !signatures || isDeferred(signatures)) return undefined;
  const results = new Map<string, FindingsResult>();
  for (const f of findings) {
    if (isDeferred(f.result)) return undefined;
    results.set(findingsKey(f.digest, f.source), f.result);
  }
  // The scan deadline is `nowMs` (the gate's start) + scanDeadlineMs: at `nowMs` it has passed only when it is 0.
  const pending = pendingFindings(gate.rule, gate.sources, resolved.platforms, results).length > 0;
  const deadlinePassed = pending && gate.scanDeadlineMs <= 0;
  if (pending && !deadlinePassed) return undefined;
  try {
    return decideGate({
      gate,
      image: input.image,
      tag: input.tag,
      platforms: resolved.platforms,
      results,
      signatures,
      deadlinePassed,
      now: new Date(input.nowMs),
    });
  } catch {
    return undefined;
  }
}
