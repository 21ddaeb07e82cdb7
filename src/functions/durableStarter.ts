/**
 * Adapts the Functions host's durable client to {@link OrchestrationStatusStarter}.
 */
import type * as df from 'durable-functions';
import type { InstanceState, InstanceStatus, OrchestrationStatusStarter } from '../app/orchestrationStarter';

/**
 * durable-functions 3.x `getStatus` throws a plain Error for an unknown instance, with no code; its message
 * says "HTTP 404". This is the one place that reads it, so a library change breaks one adapter, not callers.
 */
function isNotFound(err: unknown): boolean {
  return err instanceof Error && /\bHTTP 404\b/.test(err.message);
}

function iso(value: unknown): string | undefined {
  return value instanceof Date ? value.toISOString() : typeof value === 'string' ? value : undefined;
}

/** An {@link OrchestrationStatusStarter} over the real durable client (`df.getClient(context)`). */
export function durableOrchestrationStarter(client: df.DurableClient): OrchestrationStatusStarter {
  return {
    async getStatus(instanceId: string): Promise<InstanceStatus | undefined> {
      try {
        const status = await client.getStatus(instanceId, { showHistory: false, showInput: false });
        if (!status?.runtimeStatus) return undefined;
        return {
          instanceId,
          runtimeStatus: status.runtimeStatus as InstanceState,
          customStatus: status.customStatus,
          output: status.output,
          createdTime: iso(status.createdTime),
          lastUpdatedTime: iso(status.lastUpdatedTime),
        };
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    async getState(instanceId: string): Promise<InstanceState | undefined> {
      try {
        const status = await client.getStatus(instanceId, { showHistory: false, showInput: false });
        return (status?.runtimeStatus as InstanceState | undefined) ?? undefined;
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    async start(orchestrator: string, instanceId: string, input: unknown): Promise<void> {
      await client.startNew(orchestrator, { instanceId, input });
    },
  };
}
