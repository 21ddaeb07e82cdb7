/**
 * The purge's activities (nightly `registryPurge` / `repositoryPurge`, and the gate's per-push retention step):
 * JSON in, JSON out, over the services they are built with ({@link purgeActivities}). A transient failure (listing, in-use lookup) is
 * thrown so Durable retries it; every other outcome, failures included, comes back as data. A repository whose
 * plan is held past the deletion cap is alerted when the run's summary is recorded.
 */
import { ErrorCodes, GuardError, isGuardError } from '../core/errors';
import { operationalAlert } from '../core/alerts/evaluate';
import { notifyOnce } from '../jobs/notify';
import { findRetentionRule, isRegistryAllowed } from '../core/policyLookup';
import { emptyOutcome, type RepositoryOutcome, type PurgeSummary } from '../core/purge/summary';
import { purgeRepository, repositoriesToPurge } from '../jobs/purge';
import { PurgeActivities } from './names';
import { SILENT_ACTIVITY_CONTEXT, type ActivityContext, type PurgeAlerts, type PurgeServices } from './services';
import type { InUseLookup } from '../adapters/ports';

/** Input of {@link listPurgeTargets}: one registry, or every allowlisted registry when absent. */
export interface ListTargetsInput {
  registry?: string;
}

/** The repositories to purge, per registry, and the registries that could not be listed. */
export interface PurgeTargets {
  registries: Array<{ registry: string; repositories: string[] }>;
}

/** Lists the repositories each registry's retention rules cover. A catalog failure throws (retried). */
export async function listPurgeTargets(services: PurgeServices, input: ListTargetsInput): Promise<PurgeTargets> {
  const policy = services.policy();
  if (policy.retention.length === 0) return { registries: [] };
  const hosts = input.registry ? [input.registry] : policy.registries.map((r) => r.host);
  const registries: PurgeTargets['registries'] = [];
  for (const registry of hosts) {
    if (!isRegistryAllowed(policy, registry))
      throw new GuardError(
        ErrorCodes.REGISTRY_NOT_ALLOWED,
        `registry ${registry} is not in the policy's registries allowlist; nothing was purged`,
      );
    const targets = await repositoriesToPurge(services.registry(registry), policy);
    registries.push({ registry, repositories: targets.map((t) => t.repository) });
  }
  return { registries };
}

/** Input of {@link purgeRepositoryActivity}. */
export interface PurgeRepositoryInput {
  registry: string;
  repository: string;
  /** ISO 8601 orchestration time: the plan's "now". */
  now: string;
  dryRun: boolean;
  /** Digests protected whatever the rule says (the gate's retention step: the image just gated). */
  protect?: string[];
  /** The run allows plans past the deletion cap (`allowOverCap` of the request); default false: they are held. */
  allowOverCap?: boolean;
}

/**
 * How old an in-use answer the nightly purge's repositories may share: a registry of hundreds of repositories
 * must not list every app and revision hundreds of times against ARM's read limits. The per-push retention
 * step always asks afresh.
 */
export const NIGHTLY_IN_USE_MAX_AGE_MS = 120_000;

/** The nightly `repositoryPurge` step: {@link purgeOneRepository} with a shared in-use answer. */
export function purgeRepositoryActivity(
  services: PurgeServices,
  input: PurgeRepositoryInput,
  context: ActivityContext = SILENT_ACTIVITY_CONTEXT,
): Promise<RepositoryOutcome> {
  return purgeOneRepository(services, input, NIGHTLY_IN_USE_MAX_AGE_MS, context);
}

/** The gate's per-push retention step: {@link purgeOneRepository} with a fresh in-use answer. */
export function gateRetentionActivity(
  services: PurgeServices,
  input: PurgeRepositoryInput,
  context: ActivityContext = SILENT_ACTIVITY_CONTEXT,
): Promise<RepositoryOutcome> {
  return purgeOneRepository(services, input, 0, context);
}

/**
 * Plans and executes one repository's retention with the policy's rule. Throws `TRANSIENT` when listing or the
 * in-use lookup failed transiently (Durable retries the whole repository: a fresh listing, a fresh plan).
 */
async function purgeOneRepository(
  services: PurgeServices,
  input: PurgeRepositoryInput,
  inUseMaxAgeMs: number,
  context: ActivityContext,
): Promise<RepositoryOutcome> {
  const policy = services.policy();
  const rule = findRetentionRule(policy, input.repository);
  if (!rule)
    return emptyOutcome(input.repository, '', 'skipped', {
      code: ErrorCodes.NO_RULE,
      detail: `no retention rule covers ${input.repository}; nothing was purged`,
    });
  const { outcome } = await purgeRepository({
    client: services.registry(input.registry),
    repository: input.repository,
    rule,
    ...(services.inUse ? { inUse: withMaxAge(services.inUse, inUseMaxAgeMs) } : {}),
    nowMs: Date.parse(input.now),
    dryRun: input.dryRun,
    protect: input.protect,
    allowOverCap: input.allowOverCap === true,
  });
  context.log(
    `purge ${input.registry}/${input.repository}${input.dryRun ? ' (dry run)' : ''}: ${outcome.status}, ${outcome.deleted} deleted, ${outcome.failed} failed`,
  );
  if ((outcome.status === 'failed' || outcome.status === 'skipped') && outcome.error?.code === ErrorCodes.TRANSIENT) {
    throw new GuardError(ErrorCodes.TRANSIENT, outcome.error.detail);
  }
  return outcome;
}

function withMaxAge(lookup: InUseLookup, maxAgeMs: number): InUseLookup {
  return maxAgeMs > 0 ? { listDeployedImages: () => lookup.listDeployedImages({ maxAgeMs }) } : lookup;
}

/** Held plans are re-alerted at most once a day per repository. */
export const CAP_ALERT_SUPPRESS_MS = 86_400_000;

/**
 * Records a purge run's summary in the audit store, then alerts every repository whose plan was held past the
 * deletion cap (`PURGE_CAP_EXCEEDED`) in a real run. An alert that no sink accepted is logged and counted, not
 * thrown: the summary (which names the held repository) is recorded either way, and the next run alerts again.
 */
export async function recordPurgeSummaryActivity(
  services: PurgeServices,
  input: { summary: PurgeSummary },
  context: ActivityContext = SILENT_ACTIVITY_CONTEXT,
): Promise<{ ok: true; alerts: number; alertsFailed: number }> {
  const { summary } = input;
  await services.audit.recordPurgeSummary(summary);
  const held = summary.dryRun
    ? []
    : summary.outcomes.filter((o) => o.status === 'held' && o.error?.code === ErrorCodes.PURGE_CAP_EXCEEDED);
  let alerts = 0;
  let alertsFailed = 0;
  if (held.length === 0) return { ok: true, alerts, alertsFailed };
  let where: PurgeAlerts | undefined;
  try {
    where = services.purgeAlerts?.();
  } catch (err) {
    context.warn(`purge: alert sinks unavailable (${(err as Error).message}); held plans are only in the summary`);
  }
  for (const o of held) {
    context.warn(`purge ${summary.registry}/${o.repository}: HELD (${o.error?.code}): ${o.error?.detail}`);
    if (!where) continue;
    const alert = operationalAlert({
      subject: `purge:${summary.registry}/${o.repository}`,
      code: ErrorCodes.PURGE_CAP_EXCEEDED,
      title: `Purge of ${summary.registry}/${o.repository} held: the plan is past the deletion cap, nothing of it was deleted`,
      nowMs: Date.parse(summary.finishedAt),
      fields: { registry: summary.registry, repository: o.repository, rule: o.rule, detail: o.error?.detail },
    });
    const delivery = await notifyOnce(alert, CAP_ALERT_SUPPRESS_MS, {
      state: where.state,
      sinks: where.sinks,
      nowMs: Date.parse(summary.finishedAt),
      onFailure: (sink, err) =>
        context.warn(`purge: alert to ${sink} failed (${isGuardError(err) ? err.message : 'unexpected error'})`),
    }).catch((): 'failed' => 'failed');
    if (delivery === 'sent') alerts++;
    if (delivery === 'failed') alertsFailed++;
  }
  return { ok: true, alerts, alertsFailed };
}

/** The purge's activities over `services`, by their registered names (the gate's are `gateActivities` in activities.ts). */
export function purgeActivities(services: PurgeServices) {
  return {
    [PurgeActivities.listTargets]: (input: ListTargetsInput, _context: ActivityContext) =>
      listPurgeTargets(services, input),
    [PurgeActivities.purgeRepository]: (input: PurgeRepositoryInput, context: ActivityContext) =>
      purgeRepositoryActivity(services, input, context),
    [PurgeActivities.recordSummary]: (input: { summary: PurgeSummary }, context: ActivityContext) =>
      recordPurgeSummaryActivity(services, input, context),
    [PurgeActivities.gateRetention]: (input: PurgeRepositoryInput, context: ActivityContext) =>
      gateRetentionActivity(services, input, context),
  } as const;
}
