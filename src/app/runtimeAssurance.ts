/**
 * Runtime assurance in Azure (registered in `index.ts`, nothing on import):
 * - timer `runtimeAudit` (schedule: app setting ACR_GUARD_RUNTIME_SCHEDULE, default hourly): starts the
 *   orchestration (`ORCH_RUNTIME_RECONCILE`, function name `runtimeReconcile`) once per scheduled run;
 * - `GET /api/runtime`: the latest runtime report (200), or 404 before the first run.
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { RuntimeAssuranceStore } from '../adapters/ports';
import { runtimeResultOf } from '../core/result';
import { ORCH_RUNTIME_RECONCILE } from '../orchestrations/names';
import type { RuntimeReconcileInput } from '../orchestrations/runtimeReconcile';
import { scheduledInstanceId, startScheduledOnce, type OrchestrationStarter } from './orchestrationStarter';
import { AppRoles, HttpErrorCodes, answer, errorResponse, jsonResponse, requireRole, type HttpAuthMode } from './http';

/** The instance id of the audit started at `nowMs`: `runtime-YYYYMMDDHHMM` (one per scheduled minute). */
export function runtimeReconcileInstanceId(nowMs: number): string {
  return scheduledInstanceId('runtime', nowMs);
}

/** Starts `runtimeAudit` for this run unless it exists already. */
export async function handleRuntimeAuditTimer(
  deps: { nowMs: number },
  starter: OrchestrationStarter,
  context: InvocationContext,
): Promise<{ instanceId: string; started: boolean }> {
  const input: RuntimeReconcileInput = { trigger: 'timer' };
  return startScheduledOnce(
    starter,
    {
      source: 'runtimeAudit',
      orchestrator: ORCH_RUNTIME_RECONCILE,
      instanceId: runtimeReconcileInstanceId(deps.nowMs),
      input,
    },
    (line) => context.log(line),
  );
}

/** Dependencies of {@link handleRuntimeReport}. */
export interface RuntimeReportDeps {
  audit: Pick<RuntimeAssuranceStore, 'latestRuntimeReport'>;
  auth: HttpAuthMode;
}

/** `GET /api/runtime`. Readers need the app role `Verdicts.Read` (or `Rescan.Request`), like the verdicts. */
export async function handleRuntimeReport(
  request: HttpRequest,
  deps: RuntimeReportDeps,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  return answer(
    async () => {
      requireRole(request, deps.auth, [AppRoles.read, AppRoles.rescan]);
      const report = await deps.audit.latestRuntimeReport();
      if (!report)
        return errorResponse(
          404,
          HttpErrorCodes.NOT_FOUND,
          'no runtime report recorded yet (the runtimeAudit timer runs hourly by default)',
        );
      // The report's fields as before, and the envelope; its `summary` is the envelope's sentence, the counts per
      // status are under `data.summary` (the page reads them there).
      return jsonResponse(200, { ...report, ...runtimeResultOf(report.inventory, report, report.regated) });
    },
    (line) => context.warn(`runtime: ${line}`),
  );
}
