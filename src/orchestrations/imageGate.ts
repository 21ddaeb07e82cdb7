/**
 * `imageGate`: one instance per `registry/repository@digest`. Control flow only: every side effect is an
 * activity, time comes from `context.df.currentUtcDateTime`, waiting is a durable timer.
 *
 * loadGateContext → (registry not allowed: ignored) → resolveManifest (artifact: ignored) → collect findings
 * for every platform manifest × source in parallel, re-collecting only what is still pending after each poll
 * interval until the scan deadline → verifySignatures (the pushed digest) → decide → applyVerdict →
 * recordVerdict → (on a push, when a retention rule covers the repository) the repository's retention, with the
 * image just gated protected. A retention failure is reported in the outcome and never changes the verdict.
 *
 * Version 2 instances (src/orchestrations/versions.ts) take the same steps with the reads in one activity,
 * `prepare` (loadGateContext, resolveManifest, the first round of findings, verifySignatures), and the writes in
 * one, `applyAndRecord` (applyVerdict, recordVerdict); a part of either that throws runs again as its own version
 * 1 activity, with the same retries; pending findings are polled as in version 1, and signatures read before a
 * wait are verified again after it.
 * Version 3 instances call `prepareAndFinish` first: `prepare`, then, when nothing has to be waited for, the same
 * decision (src/orchestrations/gateDecision.ts) and `applyAndRecord` in the same call; otherwise (and for what it
 * deferred, or a release it could not apply) the gate goes on as version 2.
 *
 * Fail closed: when an activity fails for good (after its retries) or reports a permanent failure, the gate
 * builds a block verdict naming the step and the code, applies the block and records it. It never releases.
 */
import { ErrorCodes, type ErrorCode, messageOf } from '../core/errors';
import * as df from 'durable-functions';
import { blockedVerdict, type PolicyStamp } from '../core/decision';
import { isAcrHost } from '../core/acrHost';
import type { ApplyMode } from '../core/policyTypes';
import { withProof } from '../core/releaseProof';
import {
  scanCheckName,
  type ApplyResult,
  type Check,
  type FindingsResult,
  type FindingsSourceName,
  type ImageId,
  type ScanCheckName,
  type SignatureResult,
  type Verdict,
  type VerdictCheckName,
} from '../core/types';
import type { ActivityFailure, gateActivities, ApplyVerdictInput } from './activities';
import { collectFindingsInput } from './gateContext';
import { decideGate, findingsKey, pendingFindings } from './gateDecision';
import { isDeferred, type AppliedAndRecorded, type PreparedAndFinished } from './combinedSteps';
import { gateShapeOf } from './versions';
import { Activities, PurgeActivities } from './names';
import { emptyOutcome, type RepositoryOutcome } from '../core/purge/summary';
import { failureCode, retryOptionsOf } from './retry';
import type { PurgeRepositoryInput } from './purgeActivities';

/** Input of `imageGate`. */
export interface GateInput {
  image: ImageId;
  /** Tag the image was pushed or requested with, when known (informational; the gate acts on the digest). */
  tag?: string;
  /** `runtime`: a re-gate of a running digest by runtime assurance — decided and recorded, never applied. */
  trigger: 'push' | 'rescan' | 'cli' | 'runtime';
  /** Decide without applying. */
  dryRun?: boolean;
}

/**
 * Output of `imageGate`, on `status`: `decided` always carries its verdict; `ignored` (not gated: a registry
 * outside the allowlist, or a signature/report/SBOM artifact) always its reason and never a verdict. The JSON
 * is the one older instances wrote (same fields, same values).
 */
export type GateOutcome =
  | {
      status: 'decided';
      verdict: Verdict;
      apply?: ApplyResult;
      /** Set when the verdict could not be recorded. */
      reason?: string;
      /** The per-push retention step, when it ran (a failure here never changes the verdict). */
      retention?: RepositoryOutcome;
    }
  | { status: 'ignored'; reason: string; verdict?: undefined; apply?: undefined; retention?: undefined };

/**
 * What the history of one gate over a single image may grow to (256 KiB), however large its reports: activities
 * pass bounded summaries (the worst `MAX_VERDICT_FINDINGS` findings and counts), never whole finding lists.
 * Durable Functions stores and replays every activity input and result, so this is asserted by the tests.
 */
export const GATE_HISTORY_BUDGET_BYTES = 256 * 1024;

/** Durable retry policy of every gate activity: first retry after 2 s, doubling, at most 4 attempts. */
export const GATE_RETRY = {
  firstRetryIntervalMs: 2_000,
  backoffCoefficient: 2,
  maxNumberOfAttempts: 4,
  maxRetryIntervalMs: 60_000,
} as const;

function retryOptions(): df.RetryOptions {
  return retryOptionsOf(GATE_RETRY);
}

/** Progress exposed through the instance's custom status. */
export type GateProgress =
  | {
      step:
        | 'loading-policy'
        | 'resolving-manifest'
        | 'verifying-signatures'
        | 'deciding'
        | 'applying'
        | 'recording'
        | 'retention'
        | 'done';
    }
  | { step: 'collecting-findings'; pending: string[] }
  | {
      step: 'waiting-for-scan';
      pending: string[];
      /** The next poll (ISO 8601). */
      until: string;
      /** When the gate stops waiting and decides with what it has (ISO 8601): pending sources then block. */
      deadline: string;
      /** What is pending, in full: which source, for which (platform) digest. */
      waitingFor: Array<{ source: string; digest: string; platform?: string }>;
    };

/** A step's outcome: its value, or why it failed (after retries, or as a permanent failure). */
type StepResult<T> = { ok: true; value: T } | { ok: false; code: ErrorCode; detail: string };

type Gen<T> = Generator<df.Task, T, unknown>;

function isFailure(value: unknown): value is ActivityFailure {
  return typeof value === 'object' && value !== null && (value as { ok?: unknown }).ok === false;
}

/** A value a combined step returned for one of its halves, as that half's own step would have. */
function asStep<T>(value: T | ActivityFailure): StepResult<Exclude<T, ActivityFailure>> {
  return isFailure(value)
    ? { ok: false, code: value.code, detail: value.detail }
    : { ok: true, value: value as Exclude<T, ActivityFailure> };
}

/** The gate's activities by registered name: their inputs and outputs type {@link step}. */
type GateActivityMap = ReturnType<typeof gateActivities>;

/** Calls a gate activity by name, its input and output typed from {@link gateActivities}. */
function* step<N extends keyof GateActivityMap>(
  context: df.OrchestrationContext,
  name: N,
  input: Parameters<GateActivityMap[N]>[0],
): Gen<StepResult<Exclude<Awaited<ReturnType<GateActivityMap[N]>>, ActivityFailure>>> {
  return yield* callStep<Awaited<ReturnType<GateActivityMap[N]>>>(context, name, input);
}

/** Calls an activity with the gate's retry policy and turns every failure into data. */
function* callStep<T>(
  context: df.OrchestrationContext,
  name: string,
  input: unknown,
): Gen<StepResult<Exclude<T, ActivityFailure>>> {
  try {
    const value = (yield context.df.callActivityWithRetry(name, retryOptions(), input)) as T;
    if (isFailure(value)) return { ok: false, code: value.code, detail: value.detail };
    return { ok: true, value: value as Exclude<T, ActivityFailure> };
  } catch (err) {
    return {
      ok: false,
      code: failureCode(err),
      detail: `failed after ${GATE_RETRY.maxNumberOfAttempts} attempts: ${messageOf(err)}`,
    };
  }
}

function label(digest: string, source: FindingsSourceName, platform?: string): string {
  return `${platform ?? digest.slice(0, 19)}:${source}`;
}

/** The gate orchestrator. */
export function* imageGateOrchestrator(context: df.OrchestrationContext): Gen<GateOutcome> {
  const shape = gateShapeOf(context.df.version);
  const input = context.df.getInput() as GateInput;
  const { image, tag } = input;
  const startedAt = context.df.currentUtcDateTime.getTime();
  const progress = (p: GateProgress): void => context.df.setCustomStatus(p);
  const nowIso = (): string => context.df.currentUtcDateTime.toISOString();
  // Until the policy is read, a block is applied as ACR quarantine on ACR hosts and recorded only elsewhere.
  const applyTo: { mode: ApplyMode; promoteTarget?: string } = {
    mode: isAcrHost(image.registry) ? 'quarantine' : 'none',
  };
  /** The retention rule covering the repository, once the policy is read. */
  const retention: { rule?: string } = {};
  /** The version and hash of the policy that decides, once it is read. */
  const policyStamp: { value?: PolicyStamp } = {};
  /** Whether verdict events are configured (from loadGateContext; absent in histories older than the step). */
  const events: { publish: boolean } = { publish: false };

  /**
   * Publishes a recorded verdict as an event. The activity never fails and takes no retry policy (it retries
   * within bounds itself); anything it throws is ignored: delivery never changes or blocks the verdict.
   */
  function* publishStep(verdict: Verdict): Gen<void> {
    if (!events.publish) return;
    try {
      yield context.df.callActivity(Activities.publishVerdict, { verdict });
    } catch {
      // Logged by the activity; the verdict stands.
    }
  }

  /**
   * Applies and records a verdict; a release that cannot be applied becomes a block. `done`: what version 3's
   * first call already did with this verdict (applied it, and recorded it unless the release failed).
   */
  function* finish(verdict: Verdict, done?: AppliedAndRecorded): Gen<GateOutcome> {
    if (input.trigger === 'runtime') {
      // Runtime re-gate: the image runs somewhere. Block new images, never disturb running ones — so no
      // quarantine, no promotion, no untagging, no retention: the verdict is recorded and reported only.
      progress({ step: 'recording' });
      const kept = yield* step(context, Activities.recordVerdict, { verdict });
      if (kept.ok) yield* publishStep(verdict);
      progress({ step: 'done' });
      const apply: ApplyResult = {
        mode: 'none',
        ok: true,
        detail: 'runtime re-gate: recorded, not applied (running images are never disturbed)',
      };
      return {
        status: 'decided',
        verdict,
        apply,
        ...(kept.ok ? {} : { reason: `verdict not recorded: ${kept.code}: ${kept.detail}` }),
      };
    }
    progress({ step: 'applying' });
    const applyMode = applyTo.mode;
    const applyInput: ApplyVerdictInput = {
      verdict,
      mode: applyMode,
      dryRun: input.dryRun === true,
      promoteTarget: applyTo.promoteTarget,
    };
    let { apply, recorded } = done ? appliedOf(done) : yield* applyStep(applyInput);
    let final = verdict;
    if (verdict.decision === 'release' && !apply.ok) {
      // The release could not be carried out: block, and keep (or put) the image in quarantine.
      final = blocked({
        name: 'apply',
        status: 'fail',
        reason: `applyVerdict (${applyMode}) failed: ${apply.code}: ${apply.detail}`,
        details: { step: 'applyVerdict', code: apply.code },
      });
      ({ apply, recorded } = yield* applyStep({ ...applyInput, verdict: final }));
    }
    // What the release carries (and whether all of it was copied) is part of the recorded verdict.
    final = withProof(final, apply.proof);
    progress({ step: 'recording' });
    recorded ??= yield* step(context, Activities.recordVerdict, { verdict: final });
    if (recorded.ok) yield* publishStep(final);
    const retained = yield* retentionStep();
    progress({ step: 'done' });
    return {
      status: 'decided',
      verdict: final,
      apply,
      ...(recorded.ok ? {} : { reason: `verdict not recorded: ${recorded.code}: ${recorded.detail}` }),
      ...(retained ? { retention: retained } : {}),
    };
  }

  /**
   * Applies a verdict. Version 2 records it in the same call (`recorded`, the verdict with the release's proof),
   * except when a release could not be applied; `recorded` is absent when the caller must record it itself.
   */
  function* applyStep(applyInput: ApplyVerdictInput): Gen<{ apply: ApplyResult; recorded?: StepResult<{ ok: true }> }> {
    const failed = (f: { code: ErrorCode; detail: string }): ApplyResult => ({
      mode: applyInput.mode,
      ok: false,
      code: f.code,
      detail: f.detail,
    });
    if (shape === 1) {
      const applied = yield* step(context, Activities.applyVerdict, applyInput);
      return { apply: applied.ok ? applied.value : failed(applied) };
    }
    const done = yield* step(context, Activities.applyAndRecord, applyInput);
    return done.ok ? appliedOf(done.value) : { apply: failed(done) };
  }

  /** What applyAndRecord did, with `recorded` absent when the caller must record (not recorded, or deferred). */
  function appliedOf(done: AppliedAndRecorded): { apply: ApplyResult; recorded?: StepResult<{ ok: true }> } {
    const { apply, recorded } = done;
    return recorded === undefined || isDeferred(recorded) ? { apply } : { apply, recorded: asStep(recorded) };
  }

  /**
   * The repository's retention after a push (not a rescan, a CLI gate or a dry run), the image just gated
   * protected. Its outcome is reported; a failure is data and never touches the verdict.
   */
  function* retentionStep(): Gen<RepositoryOutcome | undefined> {
    if (!retention.rule || input.trigger !== 'push' || input.dryRun === true) return undefined;
    progress({ step: 'retention' });
    const purge: PurgeRepositoryInput = {
      registry: image.registry,
      repository: image.repository,
      now: nowIso(),
      dryRun: false,
      protect: [image.digest],
    };
    const ran = yield* callStep<RepositoryOutcome>(
      context,
      PurgeActivities.gateRetention,
      purge satisfies PurgeRepositoryInput,
    );
    if (ran.ok) return ran.value;
    return emptyOutcome(image.repository, retention.rule, 'failed', { code: ran.code, detail: ran.detail });
  }

  /**
   * A block verdict for a failure before (or instead of) a decision. The decision is pure core over data already
   * in history, so the orchestrator computes it in-line (deterministic on replay): no activity, no I/O.
   */
  function blocked(check: Check): Verdict {
    return blockedVerdict({ policy: policyStamp.value, image, tag, now: context.df.currentUtcDateTime, check });
  }

  function* failClosed(
    stepName: string,
    named: { name: VerdictCheckName } | { name: ScanCheckName; source: FindingsSourceName },
    failure: { code: ErrorCode; detail: string },
    manifest?: string,
  ): Gen<GateOutcome> {
    const reason = `${stepName} failed: ${failure.code}: ${failure.detail}`;
    return yield* finish(
      blocked({
        ...named,
        status: 'inconclusive',
        reason,
        ...(manifest ? { manifest } : {}),
        details: { step: stepName, code: failure.code },
      }),
    );
  }

  // 1. Policy (versions 2 and 3: and what was pushed, in the same call; version 3: the whole gate, when nothing has
  // to be waited for; a runtime re-gate is only recorded, so it reads as version 2 does).
  progress({ step: 'loading-policy' });
  const prepared =
    shape === 1
      ? undefined
      : shape === 3 && input.trigger !== 'runtime'
        ? yield* step(context, Activities.prepareAndFinish, {
            image,
            nowMs: startedAt,
            ...(tag === undefined ? {} : { tag }),
            dryRun: input.dryRun === true,
          })
        : yield* step(context, Activities.prepare, { image, nowMs: startedAt });
  const loaded =
    prepared === undefined
      ? yield* step(context, Activities.loadGateContext, { image })
      : prepared.ok
        ? asStep(prepared.value.context)
        : prepared;
  if (!loaded.ok) return yield* failClosed('loadGateContext', { name: 'policy' }, loaded);
  const gate = loaded.value;
  if (!gate.registryAllowed)
    return {
      status: 'ignored',
      reason: `registry ${image.registry} is not in the policy's registries allowlist; nothing was done`,
    };
  applyTo.mode = gate.applyMode;
  applyTo.promoteTarget = gate.promoteTarget;
  retention.rule = gate.retentionRule;
  events.publish = gate.publishVerdicts === true;
  policyStamp.value = { version: gate.policyVersion, hash: gate.policyHash };

  // 2. What was pushed (version 2: read by `prepare` unless that half has to run again on its own).
  progress({ step: 'resolving-manifest' });
  const read: PreparedAndFinished | undefined = prepared?.ok ? prepared.value : undefined;
  const readManifest = read?.resolved;
  const resolved =
    readManifest !== undefined && !isDeferred(readManifest)
      ? asStep(readManifest)
      : yield* step(context, Activities.resolveManifest, { image });
  if (!resolved.ok) return yield* failClosed('resolveManifest', { name: 'manifest' }, resolved);
  const { kind, manifest, platforms } = resolved.value;
  if (kind === 'artifact') {
    return {
      status: 'ignored',
      reason: `ignored: artifact (${manifest.artifactType ?? manifest.mediaType}${manifest.subject ? `, refers to ${manifest.subject.digest}` : ''}) is not an image`,
    };
  }

  // Version 3: decided (by the same pure decision, at the gate's start time), applied and recorded in the first
  // call; only what that call deferred, or a release it could not apply, is done here.
  const early = read?.finished;
  if (early) return yield* finish(early.verdict, 'deferred' in early ? undefined : early);

  // 3. Findings: every platform × source in parallel; poll only what is still pending, until the deadline.
  // `rule` is the discriminant of GateContext: no rule, no sources (and nothing to collect). Version 2: `prepare`
  // read the first round; only what it could not read (deferred) is collected now, before any wait.
  const rule = gate.rule;
  const sources = gate.sources;
  const results = new Map<string, FindingsResult>();
  const deadline = startedAt + gate.scanDeadlineMs;
  let deadlinePassed = false;
  let waited = false;
  let wanted = platforms.flatMap((p) => sources.map((source) => ({ ...p, source })));
  if (read?.findings) {
    for (const f of read.findings) if (!isDeferred(f.result)) results.set(findingsKey(f.digest, f.source), f.result);
    wanted = wanted.filter((w) => !results.has(findingsKey(w.digest, w.source)));
  }
  const readInFull = read?.findings !== undefined && wanted.length === 0;
  while (rule) {
    if (wanted.length > 0) {
      progress({ step: 'collecting-findings', pending: wanted.map((w) => label(w.digest, w.source, w.platform)) });
      const nowMs = context.df.currentUtcDateTime.getTime();
      const tasks = wanted.map((w) =>
        context.df.callActivityWithRetry(
          Activities.collectFindings,
          retryOptions(),
          collectFindingsInput({ ...gate, rule }, image, w.digest, w.source, nowMs),
        ),
      );
      try {
        const collected = (yield context.df.Task.all(tasks)) as FindingsResult[];
        collected.forEach((r, i) => results.set(findingsKey(wanted[i].digest, wanted[i].source), r));
      } catch (err) {
        const i = tasks.findIndex((t) => t.isFaulted);
        const failedOne = wanted[Math.max(i, 0)];
        return yield* failClosed(
          `collectFindings(${failedOne.source})`,
          { name: scanCheckName(failedOne.source), source: failedOne.source },
          {
            code: failureCode(err),
            detail: `failed after ${GATE_RETRY.maxNumberOfAttempts} attempts: ${messageOf(err)}`,
          },
          failedOne.digest,
        );
      }
    }
    // Only `pending` answers can change by waiting; an `error` is final for this gate.
    wanted = pendingFindings(rule, sources, platforms, results);
    if (wanted.length === 0) break;
    const now = context.df.currentUtcDateTime.getTime();
    if (now >= deadline) {
      deadlinePassed = true;
      break;
    }
    const until = new Date(Math.min(now + gate.pollIntervalMs, deadline));
    progress({
      step: 'waiting-for-scan',
      pending: wanted.map((w) => label(w.digest, w.source, w.platform)),
      until: until.toISOString(),
      deadline: new Date(deadline).toISOString(),
      waitingFor: wanted.map((w) => ({
        source: w.source,
        digest: w.digest,
        ...(w.platform ? { platform: w.platform } : {}),
      })),
    });
    waited = true;
    yield context.df.createTimer(until);
  }

  // 4. Signatures of the pushed digest (an index's signature signs the index). Version 2: those `prepare` read
  // count when it read every finding too and nothing was waited for (they are then as recent as the findings);
  // otherwise they are verified now, after the findings, as version 1 does.
  const readSigned = read?.signatures;
  let signed: StepResult<SignatureResult>;
  if (readInFull && !waited && readSigned !== undefined && !isDeferred(readSigned))
    signed = { ok: true, value: readSigned };
  else {
    progress({ step: 'verifying-signatures' });
    signed = yield* step(context, Activities.verifySignatures, { image, manifest, trustPolicy: gate.trustPolicy });
  }
  if (!signed.ok) return yield* failClosed('verifySignatures', { name: 'signatures' }, signed);

  // 5. Decide.
  progress({ step: 'deciding' });
  // Pure, computed in-line: every input is in history already (the policy's rule came from loadGateContext), so a
  // replay decides the same. A throw here is a bug; it still blocks, naming it.
  let decided: Verdict;
  try {
    decided = decideGate({
      gate,
      image,
      tag,
      platforms,
      results,
      signatures: signed.value,
      deadlinePassed,
      now: context.df.currentUtcDateTime,
    });
  } catch (err) {
    return yield* failClosed('decide', { name: 'decision' }, { code: ErrorCodes.ERROR, detail: messageOf(err) });
  }

  // 6 + 7. Apply and record.
  return yield* finish(decided);
}
