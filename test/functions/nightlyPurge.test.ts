/**
 * Timer `nightlyPurge`: registered with its schedule (app setting, default) and a durable client input; the
 * handler starts `registryPurge` once per scheduled run.
 */
import { InvocationContext } from '@azure/functions';
import { handleNightlyPurge, purgeInstanceId } from '../../src/app/nightlyPurge';
import { MemoryStarter } from '../support/durableGateFakes';
import { registeredFunctions } from '../support/functionsCore';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- jest.mock factories cannot use imports
jest.mock('@azure/functions-core', () => require('../support/functionsCore').recordingFunctionsCore(), {
  virtual: true,
});

describe('nightlyPurge', () => {
  it('registers as a timer with its schedule and a durable client input', async () => {
    // Importing the handler registers nothing: only the app's entry point does.
    expect(registeredFunctions()).toEqual([]);
    await jest.isolateModulesAsync(async () => {
      await import('../../src/functions/index');
    });
    process.env.ACR_GUARD_PURGE_SCHEDULE = '0 15 2 * * *';
    try {
      await jest.isolateModulesAsync(async () => {
        await import('../../src/functions/index');
      });
    } finally {
      delete process.env.ACR_GUARD_PURGE_SCHEDULE;
    }
    const registered = registeredFunctions();
    // The first load had the default schedule, the second the setting's.
    const timers = registered.filter((r) => r.name === 'nightlyPurge');
    const timer = timers.at(-1);
    expect(Object.values(timers[0]?.bindings ?? {}).find((b) => b.type === 'timerTrigger')?.schedule).toBe(
      '0 0 3 * * *',
    );
    expect(Object.values(timer?.bindings ?? {}).find((b) => b.type === 'timerTrigger')?.schedule).toBe('0 15 2 * * *');
    expect(Object.values(timer?.bindings ?? {}).some((b) => b.type === 'durableClient')).toBe(true);
    // The orchestrations and activities it starts are registered too.
    expect(registered.map((r) => r.name)).toEqual(
      expect.arrayContaining([
        'registryPurge',
        'repositoryPurge',
        'repositoryPurge_purgeRepository',
        'registryPurge_listTargets',
        'registryPurge_recordSummary',
        'imageGate_retention',
      ]),
    );
  });

  it('starts registryPurge once per scheduled run', async () => {
    const starter = new MemoryStarter();
    const lines: string[] = [];
    const context = new InvocationContext({
      invocationId: 't',
      functionName: 'nightlyPurge',
      logHandler: (_l, ...args) => lines.push(args.join(' ')),
    });
    const nowMs = Date.parse('2026-12-01T03:00:00.250Z');
    expect(await handleNightlyPurge({ dryRun: false, nowMs }, starter, context)).toEqual({
      instanceId: 'purge-202612010300',
      started: true,
    });
    expect(starter.instances.get('purge-202612010300')).toEqual({
      orchestrator: 'registryPurge',
      input: { trigger: 'timer', dryRun: false },
      state: 'Running',
    });
    expect(await handleNightlyPurge({ dryRun: false, nowMs: nowMs + 20_000 }, starter, context)).toEqual({
      instanceId: 'purge-202612010300',
      started: false,
    });
    expect(lines.at(-1)).toContain('already Running');
    expect(purgeInstanceId(Date.parse('2026-12-02T03:00:00Z'))).toBe('purge-202612020300');
  });
});
