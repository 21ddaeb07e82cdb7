/**
 * The local service's timers: `alertQueries` configured with the same settings as in Azure, pointed at the
 * loopback Log Analytics, Key Vault and webhook stand-ins (real SDK clients), fires on its NCRONTAB schedule
 * and alerts once per incident; `rotateTokens`, not configured, is skipped with one line.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPolicy } from '../../src/core/policy';
import { startService, type LocalService } from '../../src/local/serve';
import {
  pullFailureAnswer,
  startKeyVault,
  startLogAnalytics,
  startSink,
  testCredential,
  type KeyVaultStandIn,
  type LogAnalyticsStandIn,
  type SinkStandIn,
} from '../support/azureStandIns';

const WORKSPACE = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';

describe('local service timers', () => {
  let logs: LogAnalyticsStandIn;
  let vault: KeyVaultStandIn;
  let hook: SinkStandIn;
  let service: LocalService;
  let stateDir: string;
  const lines: string[] = [];

  beforeAll(async () => {
    [logs, vault, hook] = await Promise.all([
      startLogAnalytics(WORKSPACE, pullFailureAnswer),
      startKeyVault(),
      startSink('/teams'),
    ]);
    vault.secrets.set('alert-webhook-url', [{ version: 'v1', value: hook.url, tags: {}, enabled: true }]);
    stateDir = mkdtempSync(join(tmpdir(), 'acr-guard-timers-'));
    service = await startService({
      policy: loadPolicy(
        'version: 1\nregistries: [{ host: "registry.example.com" }]\ngate: []\nretention: []\n',
        'test policy',
      ),
      stateDir,
      env: {
        ACR_GUARD_LOG_ANALYTICS_WORKSPACE_ID: WORKSPACE,
        ACR_GUARD_LOG_ANALYTICS_ENDPOINT: logs.endpoint,
        ACR_GUARD_KEY_VAULT_URL: vault.vaultUrl,
        ACR_GUARD_ALERT_WEBHOOK_SECRET: 'alert-webhook-url',
        ACR_GUARD_ALERT_SCHEDULE: '*/2 * * * * *',
      },
      credential: testCredential,
      ca: logs.server.ca,
      log: (line) => lines.push(line),
    });
  }, 30_000);
  afterAll(async () => {
    await service?.stop();
    await Promise.all([logs.server.close(), vault.server.close(), hook.server.close()]);
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('runs alertQueries on its schedule and skips rotateTokens with one line', async () => {
    expect(lines).toContain('timer alertQueries: on schedule "*/2 * * * * *"');
    expect(lines.filter((l) => l.startsWith('timer rotateTokens: skipped'))).toHaveLength(1);
    // Generous: the first run also loads the Log Analytics and Key Vault SDKs (loaded where first used), and
    // the machine may be shared.
    const deadline = Date.now() + 30_000;
    while (logs.queries.length < 2 * 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    // At least two runs of the four shipped rules; the pull-failure incident alerted once (de-duplicated).
    expect(logs.queries.length).toBeGreaterThanOrEqual(8);
    expect(hook.received.filter((m: any) => String(m.title).includes('image-pull-failures'))).toHaveLength(1);
    expect(lines.some((l) => l.startsWith('alertQueries: 4 rule(s)'))).toBe(true);
  }, 45_000);
});
