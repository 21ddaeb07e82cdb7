/**
 * The Functions app's entry point (package.json `main`): importing a module registers its functions.
 * Bundled into one file so the app holds a single copy of @azure/functions and durable-functions.
 */
import { setGateServicesProvider } from '../orchestrations/services';
import { getRuntime } from '../runtime';
import './onImagePushed';
import './rescan';
import './verdicts';
import './alertQueries';
import './rotateTokens';
import './nightlyPurge';
import '../orchestrations/register';
import { app, type HttpRequest, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { runtimeSinksConfig } from '../config';
import { sinksFor } from '../jobs/compose';
import { setRuntimeServicesProvider } from '../orchestrations/runtimeActivities';
import { runtimeInventoryFor } from '../adapters/runtimeInventory';
import { durableGateStarter } from './durableStarter';
import { azureAuthMode } from './http';
import { registerRuntimeTimer } from './runtimeTimer';
import { handleRuntimeAuditTimer, handleRuntimeReport, isRuntimeAuditStore } from './runtimeAudit';

// Activities may run on a worker that has not run a trigger yet: build the runtime on first use.
setGateServicesProvider(() => getRuntime().services);

// Runtime assurance: the hourly timer starts `runtimeAudit`; GET /api/runtime serves the latest report.
registerRuntimeTimer('runtimeAudit', 'ACR_GUARD_RUNTIME_SCHEDULE', (_env, deps, context) => handleRuntimeAuditTimer(deps, durableGateStarter(df.getClient(context)), context), {
  extraInputs: [df.input.durableClient()],
});
function runtimeAuditStore() {
  const audit = getRuntime().services.audit;
  if (!isRuntimeAuditStore(audit)) throw new Error('the configured audit store has no runtime side');
  return audit;
}
app.http('runtime', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'runtime',
  handler: (request: HttpRequest, context: InvocationContext) => handleRuntimeReport(request, { audit: runtimeAuditStore(), auth: azureAuthMode(process.env) }, context),
});
setRuntimeServicesProvider(() => {
  const runtime = getRuntime();
  return {
    // Resource Graph across the scopes' subscriptions (ARM only for apps with several active revisions).
    inventory: runtimeInventoryFor(runtime.config, runtime.credential),
    inventoryLabel: 'azure resource graph (ACR_GUARD_INUSE_SCOPES)',
    audit: runtimeAuditStore(),
    sinks: sinksFor(runtimeSinksConfig(process.env), { credential: runtime.credential }),
  };
});
