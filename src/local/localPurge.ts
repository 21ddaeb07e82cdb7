/**
 * The page's last purge summary, read back from the audit store. (Purges themselves run through the one local
 * runner: `runPurgeLocally` in orchestrationHost.ts.)
 */
import type { AuditStore } from '../adapters/ports';
import type { Policy } from '../core/policyTypes';
import type { PurgeSummary } from '../core/purge/summary';

/**
 * The page's "last purge": the most recent summary recorded for any of the policy's registries, or null (a
 * store that cannot answer counts as none).
 */
export async function latestPurgeSummaryOf(policy: Policy, audit: AuditStore): Promise<PurgeSummary | null> {
  let latest: PurgeSummary | null = null;
  for (const { host } of policy.registries) {
    const summary = await audit.latestPurgeSummary(host).catch(() => undefined);
    if (summary && (!latest || summary.finishedAt > latest.finishedAt)) latest = summary;
  }
  return latest;
}
