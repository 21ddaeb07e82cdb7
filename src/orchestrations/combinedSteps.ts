/**
 * The two activities of `imageGate` version 2 (src/orchestrations/versions.ts), each doing two of version 1's
 * steps in one activity call, so a gate replays its history 5 times instead of 7:
 * - `prepare`: loadGateContext, then (when the registry is allowed) resolveManifest;
 * - `applyAndRecord`: applyVerdict, then (unless a release could not be applied) recordVerdict of the verdict
 *   with the release's proof.
 *
 * The second half of each never fails the activity: when it throws (a transient error, or a bug) the result says
 * so (`deferred`) and the orchestrator runs that half as its own version 1 activity, with the gate's Durable
 * retries. So a transient registry or store error is retried exactly as before, a first half that succeeded is
 * not repeated, and a failure names the step that failed. A transient failure of the first half throws, and the
 * activity is retried whole (the second half has not run).
 */
import { toErrorCode, type ErrorCode } from '../core/errors';
import { withProof } from '../core/releaseProof';
import type { ApplyResult, ImageId } from '../core/types';
import type { ActivityFailure } from './activityFailure';
import { applyVerdict, type ApplyVerdictInput } from './applyVerdict';
import { loadGateContext, type GateContext } from './gateContext';
import { recordVerdict } from './recordVerdict';
import { resolveManifest, type ResolvedImage } from './resolveManifest';
import { SILENT_ACTIVITY_CONTEXT, type ActivityContext, type GateServices } from './services';

/** The second half of a combined step threw: the orchestrator runs it again as its own activity. */
export interface DeferredStep {
  ok: false;
  deferred: true;
  code: ErrorCode;
  detail: string;
}

/** Output of {@link prepareGate}: the gate's context and, when the registry is allowed, what was pushed. */
export interface PreparedGate {
  context: GateContext | ActivityFailure;
  /** Absent when the context failed or the registry is not allowed (nothing was read). */
  resolved?: ResolvedImage | ActivityFailure | DeferredStep;
}

/** Output of {@link applyAndRecord}. */
export interface AppliedAndRecorded {
  apply: ApplyResult;
  /**
   * Absent when nothing was recorded on purpose: a release that could not be applied (the orchestrator blocks
   * and calls again with the block).
   */
  recorded?: { ok: true } | ActivityFailure | DeferredStep;
}

function deferred(err: unknown): DeferredStep {
  const code = toErrorCode((err as { code?: unknown } | undefined)?.code);
  return { ok: false, deferred: true, code, detail: err instanceof Error ? err.message : String(err) };
}

/** loadGateContext, then resolveManifest when the registry is allowed: version 2's first activity. */
export async function prepareGate(
  services: GateServices,
  input: { image: ImageId },
  context: ActivityContext = SILENT_ACTIVITY_CONTEXT,
): Promise<PreparedGate> {
  const gate = await loadGateContext(services, input);
  if (!gate.ok || !gate.registryAllowed) return { context: gate };
  try {
    return { context: gate, resolved: await resolveManifest(services, input) };
  } catch (err) {
    const later = deferred(err);
    context.warn(
      `prepare: resolveManifest ${input.image.repository}@${input.image.digest}: ${later.code}: ${later.detail}; retried as its own step`,
    );
    return { context: gate, resolved: later };
  }
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
  try {
    return {
      apply,
      recorded: await recordVerdict(services, { verdict: withProof(input.verdict, apply.proof) }, context),
    };
  } catch (err) {
    const later = deferred(err);
    context.warn(
      `applyAndRecord: recordVerdict ${input.verdict.image.repository}@${input.verdict.image.digest}: ${later.code}: ${later.detail}; retried as its own step`,
    );
    return { apply, recorded: later };
  }
}
