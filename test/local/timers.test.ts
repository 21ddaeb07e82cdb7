/**
 * The local service's timers: `alertQueries` configured with the same settings as in Azure, pointed at the
 * loopback Log Analytics, Key Vault and webhook stand-ins (real SDK clients), fires on its NCRONTAB schedule
 * and alerts once per incident; `rotateTokens`, not configured, is skipped with one line.
 *
 * Time is driven, not waited for: the service runs with `timerClock: 'manual'` and the test fires the timers
 * for chosen instants (`fireTimers(at)` resolves when the runs it started have finished), so neither the
 * schedule nor the de-duplication depends on how fast a loaded machine gets through a run (it used to need two
 * runs within 30 s of wall time). The wall clock's own wiring (a tick each second calls the same `fire`) is
 * tested under Jest's fake timers below.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPolicy } from '../../src/core/policy';
import { startService, type LocalService } from '../../src/local/serve';
import { startLocalTimers } from '../../src/local/localTimers';
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
      timerClock: 'manual',
    });
  }, 30_000);
  afterAll(async () => {
    await service?.stop();
    await Promise.all([logs.server.close(), vault.server.close(), hook.server.close()]);
    rmSync(stateDir, { recursive: true, force: true });
  });

  // Instants on and off the `*/2 * * * * *` schedule (UTC), in the incident's hour.
  const at = (second: number): Date => new Date(Date.UTC(2026, 10, 22, 0, 5, second));
  const pullAlerts = () => hook.received.filter((m: any) => String(m.title).includes('image-pull-failures'));
  const runLines = () => lines.filter((l) => l.startsWith('alertQueries: '));

  it('runs alertQueries on its schedule and skips rotateTokens with one line', async () => {
    expect(lines).toContain('timer alertQueries: on schedule "*/2 * * * * *"');
    expect(lines.filter((l) => l.startsWith('timer rotateTokens: skipped'))).toHaveLength(1);

    // Off the schedule: nothing runs.
    expect(await service.fireTimers(at(3))).toEqual([]);
    expect(logs.queries).toHaveLength(0);

    // On it: one run of the four shipped rules, finished when fireTimers resolves; the pull-failure incident alerted.
    expect(await service.fireTimers(at(4))).toEqual(['alertQueries']);
    expect(logs.queries).toHaveLength(4);
    expect(pullAlerts()).toHaveLength(1);
    // (The stand-in answers the three other rules with a table lacking their columns: each is "not complete" and
    // sends its operational alert, which is de-duplicated like an incident.)
    expect(runLines()).toHaveLength(1);
    expect(runLines()[0]).toMatch(/^alertQueries: 4 rule\(s\), 4 alert\(s\) sent/);

    // The next time on the schedule: a second complete run; the incident, still open, is not alerted again.
    expect(await service.fireTimers(at(6))).toEqual(['alertQueries']);
    expect(logs.queries).toHaveLength(8);
    expect(pullAlerts()).toHaveLength(1);
    expect(runLines()).toHaveLength(2);
    expect(runLines()[1]).toMatch(/^alertQueries: 4 rule\(s\), 0 alert\(s\) sent/);
  }, 45_000);

  it('does not start a run while the previous one is still going', async () => {
    const before = logs.queries.length;
    const first = service.fireTimers(at(8)); // started now, still running
    expect(await service.fireTimers(at(10))).toEqual([]);
    expect(await first).toEqual(['alertQueries']);
    expect(logs.queries.length - before).toBe(4);
    expect(pullAlerts()).toHaveLength(1);
  }, 45_000);
});

describe('local timers on the wall clock', () => {
  afterEach(() => jest.useRealTimers());

  it('a tick each new second fires what is due at that second, once', async () => {
    jest.useFakeTimers({ now: Date.UTC(2026, 10, 22, 0, 5, 3) });
    const fired: number[] = [];
    const lines: string[] = [];
    const timers = startLocalTimers(
      { ACR_GUARD_PURGE_SCHEDULE: '*/2 * * * * *' },
      () => {
        throw new Error('no Azure client is needed');
      },
      (l) => lines.push(l),
      {
        purge: async () => {
          fired.push(Date.now());
          return 'done';
        },
      },
    );
    expect(timers.names).toEqual(['nightlyPurge']);
    await jest.advanceTimersByTimeAsync(250); // 00:05:03.250: off the schedule
    expect(fired).toEqual([]);
    await jest.advanceTimersByTimeAsync(750); // 00:05:04: due
    expect(fired).toEqual([Date.UTC(2026, 10, 22, 0, 5, 4)]);
    await jest.advanceTimersByTimeAsync(750); // more ticks within the same second: not again
    expect(fired).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(1_250); // 00:05:06: due again
    expect(fired).toEqual([Date.UTC(2026, 10, 22, 0, 5, 4), Date.UTC(2026, 10, 22, 0, 5, 6)]);
    timers.stop();
    await jest.advanceTimersByTimeAsync(10_000);
    expect(fired).toHaveLength(2);
  });
});
