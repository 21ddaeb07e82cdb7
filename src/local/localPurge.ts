/**
 * Retention on the local host: its `POST /api/purge` route and the page's last purge summary, read back from the
 * audit store. (The runs themselves are the real `registryPurge` orchestration on the local orchestration host.)
 */
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type { AuditStore } from '../adapters/ports';
import type { Policy } from '../core/policyTypes';
import type { PurgeSummary } from '../core/purge/summary';
import { purgeResultOf } from '../core/result';
import {
  AppRoles,
  HttpRefusal,
  answer,
  errorResponse,
  jsonResponse,
  readJsonBody,
  requireRole,
  type HttpAuthMode,
} from '../app/http';

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

/** What {@link handleLocalPurge} needs: the auth mode, the service's one-at-a-time purge runner, its log. */
export interface LocalPurgeDeps {
  auth: HttpAuthMode;
  /** Starts (or joins) a run; undefined when a run of the other kind is in progress. */
  runPurge: (
    dryRun: boolean,
    trigger: PurgeSummary['trigger'],
    allowOverCap?: boolean,
  ) => Promise<PurgeSummary[]> | undefined;
  log: (line: string) => void;
}

/**
 * `POST /api/purge` with `{ "dryRun": true|false, "allowOverCap": true|false }`: runs retention now and answers
 * with the summaries. `allowOverCap` (default false) carries out plans past their rule's deletion cap.
 */
export function handleLocalPurge(request: HttpRequest, deps: LocalPurgeDeps): Promise<HttpResponseInit> {
  const { auth, runPurge, log } = deps;
  return answer(async () => {
    requireRole(request, auth, [AppRoles.purge]);
    const body = await readJsonBody(request);
    if (
      typeof body !== 'object' ||
      body === null ||
      Array.isArray(body) ||
      Object.keys(body).some((k) => k !== 'dryRun' && k !== 'allowOverCap')
    ) {
      throw new HttpRefusal(
        errorResponse(
          400,
          'INVALID_INPUT',
          'body: expected a JSON object { "dryRun": true|false, "allowOverCap": true|false }',
          'body',
        ),
      );
    }
    const dryRun = (body as { dryRun?: unknown }).dryRun ?? true;
    if (typeof dryRun !== 'boolean')
      throw new HttpRefusal(errorResponse(400, 'INVALID_INPUT', 'dryRun: expected true or false', 'dryRun'));
    const allowOverCap = (body as { allowOverCap?: unknown }).allowOverCap ?? false;
    if (typeof allowOverCap !== 'boolean')
      throw new HttpRefusal(
        errorResponse(400, 'INVALID_INPUT', 'allowOverCap: expected true or false', 'allowOverCap'),
      );
    const running = runPurge(dryRun, 'manual', allowOverCap);
    if (!running)
      return errorResponse(
        409,
        'CONFLICT',
        'another purge (dry or real, or with another allowOverCap) is running; ask again when it has finished',
      );
    const summaries = await running;
    // The envelope (as the CLI's: `data.repositories` a list, `deleted` a number), and `summaries` as before.
    const repositories = summaries.flatMap((sum) => sum.outcomes.map((o) => ({ registry: sum.registry, ...o })));
    const deleted = summaries.reduce((n, sum) => n + sum.deleted, 0);
    return jsonResponse(200, {
      ...purgeResultOf(summaries, { dryRun, repositories, deleted, registries: summaries.map((x) => x.registry) }),
      summaries,
    });
  }, log);
}
