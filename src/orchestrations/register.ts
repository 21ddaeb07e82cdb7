/**
 * Registers `imageGate` and its activities with the Functions host. Imported only by the app's entry
 * point (`src/functions/index.ts`): the CLI and the local driver run the same functions without the host.
 */
import * as df from 'durable-functions';
import { gateActivities } from './activities';
import { imageGateOrchestrator } from './imageGate';
import { ORCH_IMAGE_GATE, ORCH_REGISTRY_PURGE, ORCH_REPOSITORY_PURGE, ORCH_RUNTIME_AUDIT } from './names';
import { purgeActivities } from './purgeActivities';
import { registryPurgeOrchestrator, repositoryPurgeOrchestrator } from './purge';
import { runtimeAuditOrchestrator } from './runtimeAudit';
import { runtimeActivities } from './runtimeActivities';

df.app.orchestration(ORCH_IMAGE_GATE, imageGateOrchestrator);
df.app.orchestration(ORCH_REGISTRY_PURGE, registryPurgeOrchestrator);
df.app.orchestration(ORCH_REPOSITORY_PURGE, repositoryPurgeOrchestrator);
df.app.orchestration(ORCH_RUNTIME_AUDIT, runtimeAuditOrchestrator);

for (const [name, handler] of Object.entries({ ...gateActivities, ...purgeActivities, ...runtimeActivities })) {
  const run = handler as (input: unknown) => Promise<unknown>;
  df.app.activity(name, { handler: (input: unknown) => run(input) });
}
