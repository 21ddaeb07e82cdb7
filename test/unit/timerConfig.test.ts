/**
 * Settings of the alert and rotation timers: defaults, and every bad value named by its setting.
 */
import { loadAlertsConfig, loadRotationConfig, timerSchedule } from '../../src/app/timerConfig';
import { isGuardError } from '../../src/core/errors';

const WS = '6c2f1b8e-2f43-4d61-9a63-3b1a0e5d7c11';
const TOKEN =
  '/subscriptions/1f4b2c3d-5e6f-4a7b-8c9d-0e1f2a3b4c5d/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/contoso/tokens/ci-pull';
const KV = 'https://contoso-kv.vault.azure.net';
const EG = 'https://alerts.westeurope-1.eventgrid.azure.net/api/events';

function settingOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (isGuardError(err, 'INVALID_CONFIG')) return err.field;
    throw err;
  }
  return undefined;
}

describe('alert timer settings', () => {
  it('defaults', () => {
    expect(
      loadAlertsConfig({ ACR_GUARD_LOG_ANALYTICS_WORKSPACE_ID: WS, ACR_GUARD_ALERT_EVENTGRID_ENDPOINT: EG }),
    ).toEqual({
      workspaceId: WS,
      logsEndpoint: 'https://api.loganalytics.io/v1',
      rulesFile: undefined,
      concurrency: 4,
      sinks: {
        eventGridEndpoint: EG,
        webhookUrlSecret: undefined,
        webhookFormat: 'messagecard',
        keyVaultUrl: undefined,
      },
      stateTable: 'AcrGuardAlertState',
    });
    expect(
      loadAlertsConfig({ ACR_GUARD_LOG_ANALYTICS_WORKSPACE_ID: WS }, { requireSinks: false }).sinks.eventGridEndpoint,
    ).toBeUndefined();
  });

  it.each([
    [{}, 'ACR_GUARD_LOG_ANALYTICS_WORKSPACE_ID'],
    [{ ACR_GUARD_LOG_ANALYTICS_WORKSPACE_ID: WS }, 'ACR_GUARD_ALERT_EVENTGRID_ENDPOINT'],
    [
      {
        ACR_GUARD_LOG_ANALYTICS_WORKSPACE_ID: WS,
        ACR_GUARD_ALERT_EVENTGRID_ENDPOINT: 'http://alerts.example/api/events',
      },
      'ACR_GUARD_ALERT_EVENTGRID_ENDPOINT',
    ],
    [{ ACR_GUARD_LOG_ANALYTICS_WORKSPACE_ID: WS, ACR_GUARD_ALERT_WEBHOOK_SECRET: 'hook' }, 'ACR_GUARD_KEY_VAULT_URL'],
    [
      {
        ACR_GUARD_LOG_ANALYTICS_WORKSPACE_ID: WS,
        ACR_GUARD_ALERT_WEBHOOK_SECRET: 'bad name!',
        ACR_GUARD_KEY_VAULT_URL: KV,
      },
      'ACR_GUARD_ALERT_WEBHOOK_SECRET',
    ],
    [
      {
        ACR_GUARD_LOG_ANALYTICS_WORKSPACE_ID: WS,
        ACR_GUARD_ALERT_EVENTGRID_ENDPOINT: EG,
        ACR_GUARD_ALERT_CONCURRENCY: '0',
      },
      'ACR_GUARD_ALERT_CONCURRENCY',
    ],
    [
      {
        ACR_GUARD_LOG_ANALYTICS_WORKSPACE_ID: WS,
        ACR_GUARD_ALERT_EVENTGRID_ENDPOINT: EG,
        ACR_GUARD_ALERT_WEBHOOK_FORMAT: 'html',
      },
      'ACR_GUARD_ALERT_WEBHOOK_FORMAT',
    ],
    [
      {
        ACR_GUARD_LOG_ANALYTICS_WORKSPACE_ID: WS,
        ACR_GUARD_ALERT_EVENTGRID_ENDPOINT: EG,
        ACR_GUARD_LOG_ANALYTICS_ENDPOINT: 'https://x.example/v1?sig=abc',
      },
      'ACR_GUARD_LOG_ANALYTICS_ENDPOINT',
    ],
    // The identity's tokens go to these hosts: anything but the service's Azure hosts (or loopback) is refused.
    [
      {
        ACR_GUARD_LOG_ANALYTICS_WORKSPACE_ID: WS,
        ACR_GUARD_ALERT_EVENTGRID_ENDPOINT: EG,
        ACR_GUARD_LOG_ANALYTICS_ENDPOINT: 'https://api.loganalytics.io.evil.example/v1',
      },
      'ACR_GUARD_LOG_ANALYTICS_ENDPOINT',
    ],
    [
      {
        ACR_GUARD_LOG_ANALYTICS_WORKSPACE_ID: WS,
        ACR_GUARD_ALERT_EVENTGRID_ENDPOINT: 'https://collector.example/api/events',
      },
      'ACR_GUARD_ALERT_EVENTGRID_ENDPOINT',
    ],
    [
      {
        ACR_GUARD_LOG_ANALYTICS_WORKSPACE_ID: WS,
        ACR_GUARD_ALERT_WEBHOOK_SECRET: 'hook',
        ACR_GUARD_KEY_VAULT_URL: 'https://vault.example',
      },
      'ACR_GUARD_KEY_VAULT_URL',
    ],
  ])('%j -> %s', (env, setting) => {
    expect(settingOf(() => loadAlertsConfig(env))).toBe(setting);
  });
});

describe('rotation timer settings', () => {
  it('accepts sovereign-cloud hosts and loopback stand-ins', () => {
    expect(
      loadRotationConfig({
        ACR_GUARD_ROTATION_TOKENS: TOKEN,
        ACR_GUARD_KEY_VAULT_URL: 'https://kv1.vault.azure.cn',
        ACR_GUARD_ARM_ENDPOINT: 'https://127.0.0.1:8443',
        ACR_GUARD_ALERT_EVENTGRID_ENDPOINT: EG,
      }).armEndpoint,
    ).toBe('https://127.0.0.1:8443');
  });

  it('defaults: 30 d validity, renewed 7 d ahead, public ARM', () => {
    expect(
      loadRotationConfig({
        ACR_GUARD_ROTATION_TOKENS: TOKEN,
        ACR_GUARD_KEY_VAULT_URL: KV,
        ACR_GUARD_ALERT_EVENTGRID_ENDPOINT: EG,
      }),
    ).toMatchObject({
      tokens: [TOKEN],
      keyVaultUrl: KV,
      validityMs: 30 * 86_400_000,
      renewBeforeMs: 7 * 86_400_000,
      armEndpoint: 'https://management.azure.com',
    });
  });

  it.each([
    [{ ACR_GUARD_KEY_VAULT_URL: KV, ACR_GUARD_ALERT_EVENTGRID_ENDPOINT: EG }, 'ACR_GUARD_ROTATION_TOKENS'],
    [
      {
        ACR_GUARD_ROTATION_TOKENS: `${TOKEN},/subscriptions/x`,
        ACR_GUARD_KEY_VAULT_URL: KV,
        ACR_GUARD_ALERT_EVENTGRID_ENDPOINT: EG,
      },
      'ACR_GUARD_ROTATION_TOKENS',
    ],
    [{ ACR_GUARD_ROTATION_TOKENS: TOKEN, ACR_GUARD_ALERT_EVENTGRID_ENDPOINT: EG }, 'ACR_GUARD_KEY_VAULT_URL'],
    [
      {
        ACR_GUARD_ROTATION_TOKENS: TOKEN,
        ACR_GUARD_KEY_VAULT_URL: KV,
        ACR_GUARD_ALERT_EVENTGRID_ENDPOINT: EG,
        ACR_GUARD_ROTATION_VALIDITY: '10d',
      },
      'ACR_GUARD_ROTATION_VALIDITY',
    ],
    [
      {
        ACR_GUARD_ROTATION_TOKENS: TOKEN,
        ACR_GUARD_KEY_VAULT_URL: KV,
        ACR_GUARD_ALERT_EVENTGRID_ENDPOINT: EG,
        ACR_GUARD_ROTATION_RENEW_BEFORE: 'soon',
      },
      'ACR_GUARD_ROTATION_RENEW_BEFORE',
    ],
    [{ ACR_GUARD_ROTATION_TOKENS: TOKEN, ACR_GUARD_KEY_VAULT_URL: KV }, 'ACR_GUARD_ALERT_EVENTGRID_ENDPOINT'],
    [
      {
        ACR_GUARD_ROTATION_TOKENS: TOKEN,
        ACR_GUARD_KEY_VAULT_URL: KV,
        ACR_GUARD_ALERT_EVENTGRID_ENDPOINT: EG,
        ACR_GUARD_ARM_ENDPOINT: 'https://management.example.com',
      },
      'ACR_GUARD_ARM_ENDPOINT',
    ],
  ])('%j -> %s', (env, setting) => {
    expect(settingOf(() => loadRotationConfig(env))).toBe(setting);
  });
});

describe('timer schedules', () => {
  it('defaults and overrides; a malformed schedule names its setting', () => {
    expect(timerSchedule({}, 'ACR_GUARD_ALERT_SCHEDULE')).toBe('0 */5 * * * *');
    expect(timerSchedule({ ACR_GUARD_ROTATION_SCHEDULE: '0 0 4 * * 1' }, 'ACR_GUARD_ROTATION_SCHEDULE')).toBe(
      '0 0 4 * * 1',
    );
    expect(
      settingOf(() => timerSchedule({ ACR_GUARD_ALERT_SCHEDULE: '*/5 * * * *' }, 'ACR_GUARD_ALERT_SCHEDULE')),
    ).toBe('ACR_GUARD_ALERT_SCHEDULE');
  });
});

describe('the values infra/main.bicep sets', () => {
  it('load as they are written there: vault URI and ARM endpoint with trailing slashes, empty optional settings', () => {
    const env = {
      ACR_GUARD_LOG_ANALYTICS_WORKSPACE_ID: WS,
      ACR_GUARD_LOG_ANALYTICS_ENDPOINT: 'https://api.loganalytics.io/v1',
      ACR_GUARD_KEY_VAULT_URL: `${KV}/`,
      ACR_GUARD_ARM_ENDPOINT: 'https://management.azure.com/',
      ACR_GUARD_ROTATION_TOKENS: `${TOKEN},${TOKEN.replace('ci-pull', 'ci-push')}`,
      ACR_GUARD_ROTATION_VALIDITY: '30d',
      ACR_GUARD_ROTATION_RENEW_BEFORE: '7d',
      ACR_GUARD_ALERT_RULES_FILE: '',
      ACR_GUARD_ALERT_CONCURRENCY: '4',
      ACR_GUARD_ALERT_STATE_TABLE: 'AcrGuardAlertState',
      ACR_GUARD_ALERT_WEBHOOK_SECRET: 'alert-webhook-url',
      ACR_GUARD_ALERT_WEBHOOK_FORMAT: 'messagecard',
      ACR_GUARD_ALERT_EVENTGRID_ENDPOINT: '',
      ACR_GUARD_ALERT_SCHEDULE: '0 */5 * * * *',
      ACR_GUARD_ROTATION_SCHEDULE: '0 30 3 * * *',
    };
    const alerts = loadAlertsConfig(env);
    expect(alerts.sinks).toMatchObject({ webhookUrlSecret: 'alert-webhook-url', eventGridEndpoint: undefined });
    expect(alerts.rulesFile).toBeUndefined();
    const rotation = loadRotationConfig(env);
    expect(rotation.tokens).toHaveLength(2);
    expect(rotation.keyVaultUrl).toMatch(/^https:\/\/contoso-kv\.vault\.azure\.net\/?$/);
    expect(timerSchedule(env, 'ACR_GUARD_ALERT_SCHEDULE')).toBe('0 */5 * * * *');
  });
});
