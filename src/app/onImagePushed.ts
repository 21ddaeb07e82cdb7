/**
 * Event Grid trigger: `Microsoft.ContainerRegistry.ImagePushed` (Event Grid schema or CloudEvents 1.0).
 * Parses and validates the event, checks the registry allowlist, and starts `imageGate` once per digest.
 */
import type { InvocationContext } from '@azure/functions';
import { parseAcrEvent, type PushEventParse } from '../core/events';
import { isRegistryAllowed } from '../core/policyLookup';
import type { Policy } from '../core/policyTypes';
import { startGateOnce, type OrchestrationStarter, type StartResult } from './orchestrationStarter';

/** What the handler did with one event. */
export type PushHandling = { outcome: 'ignored'; reason: string } | ({ outcome: 'start' } & StartResult);

/** Dependencies of {@link handleImagePushed}: the policy (for the allowlist) and a durable starter. */
export interface ImagePushedDeps {
  policy: Policy;
  starter: OrchestrationStarter;
}

/**
 * Handles one ACR push event. Other event types and registries outside the allowlist are ignored
 * (logged, not an error: Event Grid must not retry them). A malformed push event throws `INVALID_INPUT`
 * naming the field; the Functions host then fails the invocation and Event Grid retries or dead-letters
 * it, so the event is never lost silently.
 */
export async function handleImagePushed(
  event: unknown,
  deps: ImagePushedDeps,
  context: InvocationContext,
): Promise<PushHandling> {
  return startGateForPush(
    parseAcrEvent(event),
    deps,
    { log: (line) => context.log(line), warn: (line) => context.warn(line) },
    'onImagePushed',
  );
}

/**
 * The part of a push shared by every source of push events (Event Grid here, the registry's own
 * notifications in the local service): ignore what is not a push or not allowlisted, else start the gate
 * once per digest.
 */
export async function startGateForPush(
  parsed: PushEventParse,
  deps: ImagePushedDeps,
  log: { log: (line: string) => void; warn: (line: string) => void },
  source: string,
): Promise<PushHandling> {
  if (parsed.kind === 'ignored') {
    log.log(`${source}: ignored event ${parsed.eventId ?? '(no id)'}: ${parsed.reason}`);
    return { outcome: 'ignored', reason: parsed.reason };
  }
  if (!isRegistryAllowed(deps.policy, parsed.image.registry)) {
    const reason = `registry ${parsed.image.registry} is not in the policy's registries allowlist`;
    log.warn(`${source}: ignored event ${parsed.eventId}: ${reason}`);
    return { outcome: 'ignored', reason };
  }
  const result = await startGateOnce(deps.starter, { image: parsed.image, tag: parsed.tag, trigger: 'push' });
  log.log(
    result.started
      ? `${source}: started gate ${result.instanceId} for ${result.image}`
      : `${source}: not started for ${result.image}: ${result.reason}`,
  );
  return { outcome: 'start', ...result };
}
