/**
 * The timer triggers: registered with the host under their names and schedules (from the app settings, with
 * defaults), and their handlers called as the host calls them (a real InvocationContext) with settings
 * pointing at loopback stand-ins driven by the real SDK clients.
 */
import { InvocationContext } from '@azure/functions';
import { handleAlertQueries } from '../../src/app/alertQueries';
import { handleRotateTokens } from '../../src/app/rotateTokens';
import { isGuardError } from '../../src/core/errors';
import {
  latestSecret,
  startArm,
  startKeyVault,
  startLogAnalytics,
  startSink,
  testCredential,
  type ArmStandIn,
  type KeyVaultStandIn,
  type LogAnalyticsStandIn,
  type SinkStandIn,
} from '../support/azureStandIns';
import { testTlsMaterial } from '../support/httpsServer';
import { registeredFunctions } from '../support/functionsCore';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- jest.mock factories cannot use imports
jest.mock('@azure/functions-core', () => require('../support/functionsCore').recordingFunctionsCore(), {
  virtual: true,
});

const WORKSPACE = '0d5c3a1e-8b7f-4c2d-9e6a-5f4b3c2d1e0f';
const SUB = '1f4b2c3d-5e6f-4a7b-8c9d-0e1f2a3b4c5d';
const TOKEN_ID = `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/contoso/tokens/timer-token`;

function context(name: string, lines: string[]): InvocationContext {
  return new InvocationContext({
    invocationId: 'test',
    functionName: name,
    logHandler: (_level, ...args) => lines.push(args.map(String).join(' ')),
  });
}

describe('timer triggers', () => {
  it('registers alertQueries and rotateTokens as timers with their schedules', async () => {
    process.env.ACR_GUARD_ALERT_SCHEDULE = '0 */10 * * * *';
    try {
      await jest.isolateModulesAsync(async () => {
        await import('../../src/functions/index');
      });
    } finally {
      delete process.env.ACR_GUARD_ALERT_SCHEDULE;
    }
    const registered = registeredFunctions();
    const timers = Object.fromEntries(
      registered
        .filter((r) => ['alertQueries', 'rotateTokens'].includes(r.name))
        .map((r) => [r.name, Object.values(r.bindings).find((b) => b.type === 'timerTrigger')?.schedule]),
    );
    expect(timers).toEqual({ alertQueries: '0 */10 * * * *', rotateTokens: '0 30 3 * * *' });
  });

  it('a bad schedule setting does not stop the worker from registering every other function', async () => {
    const before = registeredFunctions().length;
    process.env.ACR_GUARD_RUNTIME_SCHEDULE = 'every hour';
    try {
      await jest.isolateModulesAsync(async () => {
        await import('../../src/functions/index');
      });
    } finally {
      delete process.env.ACR_GUARD_RUNTIME_SCHEDULE;
    }
    const names = registeredFunctions()
      .slice(before)
      .map((r) => r.name);
    // Everything registers; the runtimeAudit timer with its default schedule (its runs fail naming the setting).
    expect(names).toEqual(expect.arrayContaining(['onImagePushed', 'rescan', 'verdicts', 'imageGate', 'runtimeAudit']));
    const runtimeTimer = registeredFunctions()
      .slice(before)
      .find((r) => r.name === 'runtimeAudit');
    expect(Object.values(runtimeTimer!.bindings).find((b) => b.type === 'timerTrigger')?.schedule).toBe('0 0 * * * *');
  });

  describe('handlers against stand-ins', () => {
    let logs: LogAnalyticsStandIn;
    let arm: ArmStandIn;
    let vault: KeyVaultStandIn;
    let topic: SinkStandIn;
    let ca: string;

    beforeAll(async () => {
      ca = (await testTlsMaterial()).ca;
      [logs, arm, vault, topic] = await Promise.all([
        startLogAnalytics(WORKSPACE, (q) =>
          q.includes('ContainerRegistryLoginEvents')
            ? {
                columns: [
                  ['LoginServer', 'string'],
                  ['Identity', 'string'],
                  ['CallerIpAddress', 'string'],
                  ['Count', 'long'],
                  ['LastResult', 'string'],
                  ['LastSeen', 'datetime'],
                ],
                rows: [['contoso.azurecr.io', 'x', '198.51.100.1', 4, 'denied', '2026-11-22T00:00:00Z']],
              }
            : { status: 503, body: { error: { code: 'ServiceUnavailable', message: 'try later' } } },
        ),
        startArm(),
        startKeyVault(),
        startSink('/api/events', { requireToken: true }),
      ]);
    });
    afterAll(async () => {
      await Promise.all([logs.server.close(), arm.server.close(), vault.server.close(), topic.server.close()]);
    });

    it('alertQueries: one run alerts what it found, warns about the rules that could not run', async () => {
      const lines: string[] = [];
      const env = {
        ACR_GUARD_LOG_ANALYTICS_WORKSPACE_ID: WORKSPACE,
        ACR_GUARD_LOG_ANALYTICS_ENDPOINT: logs.endpoint,
        ACR_GUARD_ALERT_EVENTGRID_ENDPOINT: topic.url,
      };
      const report = await handleAlertQueries(
        env,
        { credential: testCredential(), ca, dryRun: false, nowMs: Date.now() },
        context('alertQueries', lines),
      );
      expect(report.rules.find((r) => r.rule === 'registry-login-failures')!.alerted).toBe(1);
      const received = (topic.received as Array<Array<{ eventType: string }>>).flat();
      expect(received.filter((e) => e.eventType === 'AcrGuard.Alert.Incident')).toHaveLength(1);
      expect(received.filter((e) => e.eventType === 'AcrGuard.Alert.Operational')).toHaveLength(3);
      expect(lines.at(-1)).toMatch(
        /alertQueries: 4 rule\(s\), 4 alert\(s\) sent; not complete: console-errors, image-pull-failures, pulled-not-released/,
      );
    });

    it('alertQueries: a missing setting fails the invocation naming it', async () => {
      await expect(
        handleAlertQueries(
          { ACR_GUARD_LOG_ANALYTICS_WORKSPACE_ID: WORKSPACE },
          { credential: testCredential(), dryRun: false, nowMs: 0 },
          context('alertQueries', []),
        ),
      ).rejects.toMatchObject({
        code: 'INVALID_CONFIG',
        field: 'ACR_GUARD_ALERT_EVENTGRID_ENDPOINT',
      });
    });

    it('rotateTokens: rotates into Key Vault; a failing token fails the invocation after the others ran', async () => {
      arm.tokens.set(TOKEN_ID, { status: 'enabled', passwords: {} });
      const missing = TOKEN_ID.replace('timer-token', 'gone-token');
      const env = {
        ACR_GUARD_ROTATION_TOKENS: `${missing},${TOKEN_ID}`,
        ACR_GUARD_KEY_VAULT_URL: vault.vaultUrl,
        ACR_GUARD_ARM_ENDPOINT: arm.endpoint,
        ACR_GUARD_ALERT_EVENTGRID_ENDPOINT: topic.url,
      };
      const lines: string[] = [];
      const err = await handleRotateTokens(
        env,
        { credential: testCredential(), ca, dryRun: false, nowMs: Date.now() },
        context('rotateTokens', lines),
      ).catch((e: unknown) => e);
      expect(isGuardError(err, 'UPSTREAM')).toBe(true);
      expect(latestSecret(vault, 'acr-contoso-timer-token')!.value).toBe(
        arm.tokens.get(TOKEN_ID)!.passwords.password1!.value,
      );
      const all = lines.join('\n');
      for (const p of arm.generated) expect(all).not.toContain(p);
      expect(all).toMatch(/acr-contoso-timer-token: rotated/);
    });
  });
});
