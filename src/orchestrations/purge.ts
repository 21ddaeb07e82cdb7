/**
 * `registryPurge` (started by the `nightlyPurge` timer) and `repositoryPurge`. Control flow only.
 *
 * registryPurge: listTargets (with retries) → for each repository, a `repositoryPurge` sub-orchestration, at most
 * {@link PURGE_PARALLEL} at once → a summary (deleted, bytes freed where known, kept by reason, errors) →
 * recordSummary. A repository that fails does not stop the others; its error is in the summary.
 *
 * repositoryPurge: one activity (list → plan → execute) with its own retries; a failure after the retries
 * becomes a `failed` outcome (nothing more is deleted for that repository in this run).
 */
import * as df from 'durable-functions';
import { ErrorCodes, type ErrorCode, messageOf } from '../core/errors';
import { emptyOutcome, summarisePurge, type PurgeSummary, type RepositoryOutcome } from '../core/purge/summary';
import { failureCode, retryOptionsOf } from './retry';
import type { PurgeRepositoryInput, PurgeTargets } from './purgeActivities';
import { ORCH_REPOSITORY_PURGE, PurgeActivities } from './names';

/** Repositories purged at once by one `registryPurge`. */
export const PURGE_PARALLEL = 4;

/** Durable retry policy of the purge activities: 5 s, doubling, 4 attempts, at most 2 min apart. */
export const PURGE_RETRY = {
  firstRetryIntervalMs: 5_000,
  backoffCoefficient: 2,
  maxNumberOfAttempts: 4,
  maxRetryIntervalMs: 120_000,
} as const;

/** The retry options of {@link PURGE_RETRY}. */
export function purgeRetryOptions(): df.RetryOptions {
  return retryOptionsOf(PURGE_RETRY);
}

/** Input of `registryPurge`. */
export interface RegistryPurgeInput {
  /** One registry, or every allowlisted one when absent. */
  registry?: string;
  dryRun?: boolean;
  trigger?: PurgeSummary['trigger'];
  /** Carry out plans past their rule's deletion cap (said explicitly by the run); default false: they are held. */
  allowOverCap?: boolean;
}

/** Output of `registryPurge`: one summary per registry. */
export interface RegistryPurgeOutput {
  summaries: PurgeSummary[];
  /** Set when the targets could not be listed (then nothing was purged). */
  error?: string;
}

type Gen<T> = Generator<df.Task, T, unknown>;

function failedOutcome(repository: string, code: ErrorCode, detail: string): RepositoryOutcome {
  return emptyOutcome(repository, '', 'failed', { code, detail });
}

/** `repositoryPurge`: one repository, with its own activity retries. */
export function* repositoryPurgeOrchestrator(context: df.OrchestrationContext): Gen<RepositoryOutcome> {
  const input = context.df.getInput() as PurgeRepositoryInput;
  try {
    return (yield context.df.callActivityWithRetry(
      PurgeActivities.purgeRepository,
      purgeRetryOptions(),
      input,
    )) as RepositoryOutcome;
  } catch (err) {
    return failedOutcome(
      input.repository,
      failureCode(err),
      `failed after ${PURGE_RETRY.maxNumberOfAttempts} attempts (nothing more was deleted in ${input.repository} by this run): ${messageOf(err)}`,
    );
  }
}

/** `registryPurge`: fans out per repository, bounded, and records a summary per registry. */
export function* registryPurgeOrchestrator(context: df.OrchestrationContext): Gen<RegistryPurgeOutput> {
  const input = (context.df.getInput() ?? {}) as RegistryPurgeInput;
  const dryRun = input.dryRun === true;
  const startedAt = context.df.currentUtcDateTime.toISOString();
  let targets: PurgeTargets;
  try {
    targets = (yield context.df.callActivityWithRetry(PurgeActivities.listTargets, purgeRetryOptions(), {
      ...(input.registry ? { registry: input.registry } : {}),
    })) as PurgeTargets;
  } catch (err) {
    return {
      summaries: [],
      error: `listing the repositories to purge failed; nothing was purged: ${messageOf(err)}`,
    };
  }
  const summaries: PurgeSummary[] = [];
  let child = 0;
  for (const { registry, repositories } of targets.registries) {
    const outcomes: RepositoryOutcome[] = [];
    for (let i = 0; i < repositories.length; i += PURGE_PARALLEL) {
      const batch = repositories.slice(i, i + PURGE_PARALLEL);
      context.df.setCustomStatus({ registry, done: i, total: repositories.length });
      const now = context.df.currentUtcDateTime.toISOString();
      const tasks = batch.map((repository) =>
        context.df.callSubOrchestrator(
          ORCH_REPOSITORY_PURGE,
          {
            registry,
            repository,
            now,
            dryRun,
            ...(input.allowOverCap === true ? { allowOverCap: true } : {}),
          } satisfies PurgeRepositoryInput,
          `${context.df.instanceId}-r${child++}`,
        ),
      );
      try {
        outcomes.push(...((yield context.df.Task.all(tasks)) as RepositoryOutcome[]));
      } catch {
        // repositoryPurge turns its own failures into outcomes; a failure here is the sub-orchestration itself.
        tasks.forEach((t, j) =>
          outcomes.push(
            t.isCompleted && !t.isFaulted
              ? (t.result as RepositoryOutcome)
              : failedOutcome(
                  batch[j],
                  ErrorCodes.SUBORCHESTRATION_FAILED,
                  'the repository purge failed or did not finish',
                ),
          ),
        );
      }
    }
    const summary = summarisePurge({
      registry,
      trigger: input.trigger ?? 'timer',
      dryRun,
      startedAt,
      finishedAt: context.df.currentUtcDateTime.toISOString(),
      outcomes,
    });
    try {
      yield context.df.callActivityWithRetry(PurgeActivities.recordSummary, purgeRetryOptions(), { summary });
    } catch (err) {
      summary.errors.push({
        repository: '',
        code: ErrorCodes.AUDIT_FAILED,
        detail: `the summary could not be recorded: ${messageOf(err)}`,
      });
    }
    summaries.push(summary);
  }
  context.df.setCustomStatus({ done: true });
  return { summaries };
}
