/**
 * One repository's purge: list → match the deployed images → plan → check the deletion cap → (unless a dry run
 * or the plan is held) execute exactly that plan. Used by the CLI, the per-push retention activity and the nightly `repositoryPurge` activity alike.
 *
 * Fail closed: when the rule protects images in use and the in-use lookup fails (or none is configured), the
 * plan is not made and nothing is deleted; the outcome says why. A plan past the deletion cap (src/core/purge/cap.ts)
 * is held unless `allowOverCap`: nothing of the repository is deleted, the outcome is `held` with
 * `PURGE_CAP_EXCEEDED` (a dry run reports the same code, and still shows the whole plan).
 */
import { ErrorCodes, GuardError, errorCodeOf } from '../core/errors';
import { collectListing, LISTING_BOUNDS, type ListingBounds } from '../core/listing';
import { matchDeployedImages } from '../core/purge/inUse';
import { keptByReason, planPurge, ruleLabel, type PurgePlan } from '../core/purge/plan';
import { emptyOutcome, type RepositoryOutcome } from '../core/purge/summary';
import { capHeldDetail, checkDeletionCap, type CapCheck } from '../core/purge/cap';
import { findRetentionRule } from '../core/policyLookup';
import type { Policy, RetentionRule } from '../core/policyTypes';
import type { DeployedImage, InUseLookup, RegistryClient } from '../adapters/ports';
import { listRepositoryManifests, type ListingOptions } from '../adapters/registry/manifestListing';
import { executePurge, type ExecuteOptions, type ExecuteResult } from './purgeExecute';

/** Options for {@link purgeRepository}. */
export interface PurgeRepositoryOptions {
  client: RegistryClient;
  repository: string;
  rule: RetentionRule;
  /** Where deployed images are looked up; required when the rule protects images in use. */
  inUse?: InUseLookup;
  /** Deployed images already looked up for the whole run (one lookup shared by every repository). */
  deployed?: readonly DeployedImage[];
  nowMs: number;
  dryRun: boolean;
  /** Digests protected whatever the rule says (the image a gate just decided). */
  protect?: readonly string[];
  listing?: ListingOptions;
  execute?: Omit<ExecuteOptions, 'client' | 'repository' | 'deletes'>;
  /** The run says explicitly that a plan past the deletion cap may be executed (`--allow-over-cap`). */
  allowOverCap?: boolean;
}

/** What {@link purgeRepository} did: the plan, the execution (absent on a dry run or a refusal), the outcome. */
export interface PurgeRepositoryResult {
  plan?: PurgePlan;
  /** The deletion cap checked against the plan (absent when no plan was made). */
  cap?: CapCheck;
  execution?: ExecuteResult;
  outcome: RepositoryOutcome;
}

/** The deployed images: from the run's shared lookup, or this call's; throws (fail closed) when none can be had. */
async function deployedImages(options: PurgeRepositoryOptions): Promise<readonly DeployedImage[]> {
  if (!options.rule.protectInUse) return [];
  if (options.deployed) return options.deployed;
  if (!options.inUse) {
    throw new GuardError(
      ErrorCodes.INVALID_CONFIG,
      `${ruleLabel(options.rule)} protects images in use, but no in-use lookup is configured (ACR_GUARD_INUSE_SCOPES, or the CLI's --deployed file); nothing was deleted`,
      { field: 'ACR_GUARD_INUSE_SCOPES' },
    );
  }
  return options.inUse.listDeployedImages();
}

/** Plans and (unless `dryRun`) executes the purge of one repository. Never throws: failures are in the outcome. */
export async function purgeRepository(options: PurgeRepositoryOptions): Promise<PurgeRepositoryResult> {
  const { client, repository, rule } = options;
  const label = ruleLabel(rule);
  let deployed: readonly DeployedImage[];
  try {
    deployed = await deployedImages(options);
  } catch (err) {
    return {
      outcome: emptyOutcome(repository, label, 'skipped', {
        code: errorCodeOf(err, ErrorCodes.IN_USE_UNKNOWN),
        detail: `in-use lookup failed, so the purge of ${repository} did not run (nothing was deleted): ${(err as Error).message}`,
      }),
    };
  }
  let plan: PurgePlan;
  try {
    const inUse = matchDeployedImages({ deployed, registry: client.host, repository });
    const manifests = await listRepositoryManifests(client, repository, { nowMs: options.nowMs, ...options.listing });
    plan = planPurge({ repository, manifests, rule, inUse, protect: options.protect, nowMs: options.nowMs });
  } catch (err) {
    return {
      outcome: emptyOutcome(repository, label, 'failed', {
        code: errorCodeOf(err),
        detail: `listing or planning ${repository} failed (nothing was deleted): ${(err as Error).message}`,
      }),
    };
  }
  const kept = keptByReason(plan);
  const cap = checkDeletionCap(plan, rule, options.allowOverCap === true);
  const capError = cap.held
    ? { code: ErrorCodes.PURGE_CAP_EXCEEDED, detail: capHeldDetail(repository, label, cap, options.dryRun) }
    : undefined;
  if (options.dryRun) {
    // A dry run shows the whole plan, held or not: what a real run would delete once allowed.
    const sized = plan.deletes.filter((d) => d.size !== undefined);
    return {
      plan,
      cap,
      outcome: {
        ...emptyOutcome(repository, label, 'dry-run', capError),
        deleted: plan.deletes.length,
        bytesFreed: sized.reduce((n, d) => n + (d.size ?? 0), 0),
        sizeUnknown: plan.deletes.length - sized.length,
        keptByReason: kept,
      },
    };
  }
  if (capError)
    return { plan, cap, outcome: { ...emptyOutcome(repository, label, 'held', capError), keptByReason: kept } };
  const execution = await executePurge({ ...options.execute, client, repository, deletes: plan.deletes });
  const removed = [...execution.deleted, ...execution.alreadyGone];
  const sized = execution.deleted.filter((d) => d.size !== undefined);
  const partial = execution.failed.length > 0 || execution.notAttempted.length > 0;
  const outcome: RepositoryOutcome = {
    repository,
    rule: label,
    status: partial ? 'partial' : 'done',
    deleted: execution.deleted.length,
    alreadyGone: execution.alreadyGone.length,
    failed: execution.failed.length,
    notAttempted: execution.notAttempted.length,
    bytesFreed: sized.reduce((n, d) => n + (d.size ?? 0), 0),
    sizeUnknown: execution.deleted.length - sized.length,
    keptByReason: kept,
  };
  if (execution.stopped) {
    outcome.error = {
      code: execution.stopped.code,
      detail: `stopped: ${execution.stopped.detail}. Deleted ${removed.length} of ${plan.deletes.length}; ${execution.notAttempted.length} not attempted and ${execution.failed.length} failed are still in the registry`,
    };
  } else if (execution.failed.length > 0) {
    const first = execution.failed[0];
    outcome.error = {
      code: first.code,
      detail: `${execution.failed.length} delete(s) failed (first: ${first.digest}: ${first.detail}); ${execution.notAttempted.length} kept because they wait for a failed one; deleted ${removed.length} of ${plan.deletes.length}`,
    };
  }
  if (outcome.error && execution.leftUnlocked.length > 0) {
    outcome.error.detail += `; LEFT UNLOCKED (unlocked for a delete that did not happen, the lock could not be put back): ${execution.leftUnlocked.join(', ')}`;
  }
  return { plan, cap, execution, outcome };
}

/** Most repositories one purge run covers (a guard against a catalog that never ends): LISTING_BOUNDS.catalog. */
export const MAX_PURGE_REPOSITORIES = LISTING_BOUNDS.catalog.maxEntries;

/**
 * The repositories of a registry that a retention rule covers, with that rule (the first whose scope matches),
 * from the catalog, paged through the shared listing guard; sorted by name. A catalog that loops, stalls,
 * passes its bounds (LISTING_BOUNDS.catalog) or cannot be read throws: the run purges nothing rather than
 * act on part of a listing.
 */
export async function repositoriesToPurge(
  client: RegistryClient,
  policy: Policy,
  options: { pageSize?: number; bounds?: ListingBounds } = {},
): Promise<Array<{ repository: string; rule: RetentionRule }>> {
  const repositories = await collectListing(
    `registry ${client.host}: catalog`,
    options.bounds ?? LISTING_BOUNDS.catalog,
    (last) => client.listRepositories({ pageSize: options.pageSize ?? 1000, ...(last !== undefined ? { last } : {}) }),
    (r) => r,
    { nowMs: Date.now },
  );
  const out: Array<{ repository: string; rule: RetentionRule }> = [];
  for (const repository of repositories) {
    const rule = findRetentionRule(policy, repository);
    if (rule) out.push({ repository, rule });
  }
  return out.sort((a, b) => (a.repository < b.repository ? -1 : a.repository > b.repository ? 1 : 0));
}
