/**
 * A {@link GateStarter} that runs `imageGate` in this process through the local durable driver, keeping
 * instance states in memory. The same exactly-once rules as in Azure apply (they live in `startGateOnce`).
 */
import type { GateStarter, InstanceState } from '../functions/gateStarter';
import type { GateInput, GateOutcome } from '../orchestrations/imageGate';
import type { GateServices } from '../orchestrations/services';
import { runGateLocally } from './localGate';

/** A local starter; `settled()` waits for every gate it started. */
export interface LocalGateStarter extends GateStarter {
  /** Waits until every started gate has finished; resolves to their outcomes by instance id. */
  settled(): Promise<Map<string, GateOutcome | Error>>;
}

/** Creates a local starter over `services`, with virtual (tests) or real timers. */
export function localGateStarter(options: { services: GateServices; timers?: 'real' | 'virtual'; now?: () => Date }): LocalGateStarter {
  const states = new Map<string, InstanceState>();
  const running: Promise<void>[] = [];
  const outcomes = new Map<string, GateOutcome | Error>();
  return {
    async getState(instanceId) {
      return states.get(instanceId);
    },
    async start(_orchestrator, instanceId, input) {
      states.set(instanceId, 'Running');
      const gateInput = input as GateInput;
      running.push(
        runGateLocally({ ...gateInput, services: options.services, timers: options.timers ?? 'virtual', instanceId, startTime: options.now?.() })
          .then((outcome) => {
            states.set(instanceId, 'Completed');
            outcomes.set(instanceId, outcome);
          })
          .catch((err: Error) => {
            states.set(instanceId, 'Failed');
            outcomes.set(instanceId, err);
          }),
      );
    },
    async settled() {
      await Promise.all(running);
      return outcomes;
    },
  };
}
