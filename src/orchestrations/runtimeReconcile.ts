/**
 * `runtimeReconcile` (started by the `runtimeAudit` timer, hourly by default). Control flow only. The timer and
 * the activities keep their deployed `runtimeAudit` names (see `names.ts`): running instances replay by them.
 *
 * assess → the due digests re-gated as `imageGate` sub-orchestrations with trigger `runtime` (decided and
 * recorded, never applied), at most {@link RUNTIME_REGATE_PARALLEL} at once → report (classify on the new
 * verdicts, record the report, alert, keep the grace clocks). A re-gate that fails is named in the report and
 * never changes a status by itself.
 */
import { messageOf } from '../core/errors';
import * as df from 'durable-functions';
import { formatImage } from '../core/reference';
import type { RuntimeSummary } from '../core/runtime/classify';
import type { GateInput, GateOutcome } from './imageGate';
import { ORCH_IMAGE_GATE, RuntimeReconcileActivities } from './names';
import type { RuntimeAssessOutput, RuntimeReportInput, RuntimeReportOutput } from './runtimeReconcileActivities';
import { retryOptionsOf } from './retry';

/** Re-gates in flight at once. */
export const RUNTIME_REGATE_PARALLEL = 4;

/** Durable retry policy of the runtime activities: 5 s, doubling, 3 attempts, at most 1 min apart. */
export const RUNTIME_RETRY = {
  firstRetryIntervalMs: 5_000,
  backoffCoefficient: 2,
  maxNumberOfAttempts: 3,
  maxRetryIntervalMs: 60_000,
} as const;

/** Input of `runtimeReconcile`. */
export interface RuntimeReconcileInput {
  trigger: 'timer' | 'local';
}

/** Output of `runtimeReconcile`. */
export interface RuntimeReconcileOutput {
  summary?: RuntimeSummary;
  regated: number;
  alerts: number;
  /** Set when the run could not complete (nothing recorded then). */
  error?: string;
}

type Gen<T> = Generator<df.Task, T, unknown>;

function retry(): df.RetryOptions {
  return retryOptionsOf(RUNTIME_RETRY);
}

/** The orchestrator. */
export function* runtimeReconcileOrchestrator(context: df.OrchestrationContext): Gen<RuntimeReconcileOutput> {
  const now = context.df.currentUtcDateTime.toISOString();
  let assessed: RuntimeAssessOutput;
  try {
    assessed = (yield context.df.callActivityWithRetry(RuntimeReconcileActivities.assess, retry(), {
      now,
    })) as RuntimeAssessOutput;
  } catch (err) {
    return {
      regated: 0,
      alerts: 0,
      error: `listing or classifying what runs failed; no report was made: ${messageOf(err)}`,
    };
  }
  const regated: RuntimeReportInput['regated'] = [];
  for (let start = 0; start < assessed.due.length; start += RUNTIME_REGATE_PARALLEL) {
    const batch = assessed.due.slice(start, start + RUNTIME_REGATE_PARALLEL);
    const tasks = batch.map((d, j) => {
      const input: GateInput = { image: d.image, ...(d.tag ? { tag: d.tag } : {}), trigger: 'runtime' };
      return context.df.callSubOrchestrator(ORCH_IMAGE_GATE, input, `${context.df.instanceId}-g${start + j}`);
    });
    try {
      yield context.df.Task.all(tasks);
    } catch {
      // One re-gate failed; the others' outcomes are read below, the failed one is named in the report.
    }
    batch.forEach((d, j) => {
      const task = tasks[j];
      const outcome = task.isCompleted && !task.isFaulted ? (task.result as GateOutcome) : undefined;
      const result = outcome?.verdict
        ? outcome.verdict.decision
        : outcome
          ? `${outcome.status}: ${outcome.reason ?? ''}`
          : 're-gate failed (or was cut short by another one failing); the earlier verdict stands';
      regated.push({ image: formatImage(d.image), why: d.why, outcome: result });
    });
  }
  try {
    const reported = (yield context.df.callActivityWithRetry(RuntimeReconcileActivities.report, retry(), {
      now,
      regated,
    } satisfies RuntimeReportInput)) as RuntimeReportOutput;
    return { summary: reported.summary, regated: regated.length, alerts: reported.alerts };
  } catch (err) {
    return { regated: regated.length, alerts: 0, error: `recording the runtime report failed: ${messageOf(err)}` };
  }
}
