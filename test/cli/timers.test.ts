/**
 * `acr-guard alerts list|run` and `acr-guard tokens rotate`: documented output and exit codes, run with the
 * same settings as the Functions app pointed at loopback stand-ins (real SDK clients).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alertsCommand, tokensCommand, type TimerCommandContext } from '../../src/cli/timers';
import { main } from '../../src/cli/main';
import {
  latestSecret,
  pullFailureAnswer,
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
import { expectValidResult } from '../support/resultSchema';
import { freePort } from '../../src/local/registryServer';

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

const WORKSPACE = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';
const SUB = '1f4b2c3d-5e6f-4a7b-8c9d-0e1f2a3b4c5d';
const TOKEN_ID = `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/contoso/tokens/cli-token`;

type Cmd = (
  argv: string[],
  io: { out: (s: string) => void; err: (s: string) => void },
  ctx?: TimerCommandContext,
) => Promise<number>;

async function run(
  cmd: Cmd,
  argv: string[],
  ctx?: TimerCommandContext,
): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await cmd(argv, { out: (s) => (out += `${s}\n`), err: (s) => (err += `${s}\n`) }, ctx);
  return { code, out, err };
}

describe('acr-guard alerts list', () => {
  it('for a person: the shared table (RULE, SEVERITY, WINDOW, THRESHOLD) and the count; no padding, no ANSI piped', async () => {
    const { code, out } = await run(alertsCommand, ['list'], { env: {} });
    expect(code).toBe(0);
    expect(out).toMatch(/^RULE\s+SEVERITY\s+WINDOW\s+THRESHOLD\n/);
    expect(out).toMatch(/\nimage-pull-failures\s+high\s+10m\s+> 3 \(Count\)\n/);
    expect(out).toMatch(/\n\d+ enabled alert rules\n$/);
    expect(out).not.toMatch(ANSI);
    for (const line of out.split('\n')) expect(line).toBe(line.trimEnd());
  });

  it('on a terminal: coloured, fitted to its width (80 columns)', async () => {
    let out = '';
    const code = await alertsCommand(
      ['list'],
      { out: (s) => (out += `${s}\n`), err: () => undefined, term: { color: true, columns: 80 } },
      { env: {} },
    );
    expect(code).toBe(0);
    expect(out).toMatch(ANSI);
    for (const line of out.replace(ANSI, '').split('\n')) expect(line.length).toBeLessThanOrEqual(80);
    expect(out.replace(ANSI, '')).toMatch(/│ image-pull-failures\s+│ high\s+│ 10m\s+│/);
  });

  it('--output json: every enabled rule with name, query, window, threshold, severity', async () => {
    const { code, out } = await run(alertsCommand, ['list', '--output', 'json'], { env: {} });
    expect(code).toBe(0);
    const result = JSON.parse(out);
    expectValidResult(result, 'alerts list');
    expect(result).toMatchObject({ apiVersion: 'acr-guard.io/v1', kind: 'AlertsResult', outcome: 'pass', exitCode: 0 });
    const rules = result.data.rules as Array<Record<string, unknown>>;
    expect(rules.map((r) => r.name)).toEqual([
      'console-errors',
      'image-pull-failures',
      'registry-login-failures',
      'pulled-not-released',
    ]);
    expect(rules[1]).toMatchObject({
      window: '10m',
      threshold: { column: 'Count', above: 3 },
      severity: 'high',
      query: expect.stringContaining(
        'let pullFailureReasons = dynamic(["ImagePullBackOff", "ErrImagePull", "ImagePullFailure"]);',
      ),
    });
  });

  it('reads ACR_GUARD_ALERT_RULES_FILE; a bad file is a usage error naming the key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'acr-guard-alerts-'));
    const good = join(dir, 'alerts.yaml');
    writeFileSync(
      good,
      'enable: [registry-access-outside-allowlist]\nparameters:\n  registry-access-outside-allowlist: { allowedIdentities: [ci] }\n',
    );
    const listed = JSON.parse(
      (await run(alertsCommand, ['list', '--output', 'json'], { env: { ACR_GUARD_ALERT_RULES_FILE: good } })).out,
    ).data.rules as Array<{ name: string }>;
    expect(listed.map((r) => r.name)).toContain('registry-access-outside-allowlist');
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'rules:\n  - { name: x-y-z, query: T, window: 5m, severity: urgent }\n');
    await expect(run(alertsCommand, ['list'], { env: { ACR_GUARD_ALERT_RULES_FILE: bad } })).rejects.toThrow(
      /rules\[0\]\.severity/,
    );
  });

  it('is wired into the main CLI (usage lists alerts and tokens)', async () => {
    let out = '';
    expect(await main(['help'], { out: (s) => (out += s), err: () => undefined })).toBe(0);
    expect(out).toMatch(/acr-guard alerts run \[--rule NAME\] \[--dry-run\]/);
    expect(out).toMatch(/acr-guard tokens rotate \[--dry-run\]/);
    let err = '';
    expect(await main(['alerts', 'run'], { out: () => undefined, err: (s) => (err += s) })).toBe(2);
    expect(err).toMatch(/ACR_GUARD_LOG_ANALYTICS_WORKSPACE_ID/);
  });
});

describe('acr-guard alerts run / tokens rotate against stand-ins', () => {
  let logs: LogAnalyticsStandIn;
  let arm: ArmStandIn;
  let vault: KeyVaultStandIn;
  let hook: SinkStandIn;

  beforeAll(async () => {
    [logs, arm, vault, hook] = await Promise.all([
      startLogAnalytics(WORKSPACE, pullFailureAnswer),
      startArm(),
      startKeyVault(),
      startSink('/teams'),
    ]);
    // The webhook URL lives in Key Vault (it embeds its own secret); the CLI reads it through the SecretClient.
    vault.secrets.set('alert-webhook-url', [{ version: 'v1', value: hook.url, tags: {}, enabled: true }]);
  });
  afterAll(async () => {
    await Promise.all([logs.server.close(), arm.server.close(), vault.server.close(), hook.server.close()]);
  });

  const ctx = (env: Record<string, string>): TimerCommandContext => ({
    env,
    credential: testCredential(),
    ca: logs.server.ca,
    nowMs: Date.parse('2026-11-22T00:05:00Z'),
  });
  const alertEnv = () => ({
    ACR_GUARD_LOG_ANALYTICS_WORKSPACE_ID: WORKSPACE,
    ACR_GUARD_LOG_ANALYTICS_ENDPOINT: logs.endpoint,
    ACR_GUARD_KEY_VAULT_URL: vault.vaultUrl,
    ACR_GUARD_ALERT_WEBHOOK_SECRET: 'alert-webhook-url',
  });

  it('alerts run --rule NAME --dry-run: one rule, prints what would alert, sends nothing', async () => {
    const before = logs.queries.length;
    const { code, out } = await run(
      alertsCommand,
      ['run', '--rule', 'image-pull-failures', '--dry-run'],
      ctx({ ACR_GUARD_LOG_ANALYTICS_WORKSPACE_ID: WORKSPACE, ACR_GUARD_LOG_ANALYTICS_ENDPOINT: logs.endpoint }),
    );
    expect(code).toBe(0);
    // The shared renderer: the envelope's status word and reason, the alerts that would go, the summary.
    expect(out).toMatch(/^STATUS\s+CHECK\s+REASON\n/);
    expect(out).toMatch(/\nPASS\s+image-pull-failures\s+ok: 1 incident\(s\), would alert 1, suppressed 0\n/);
    expect(out).toMatch(/\nimage-pull-failures\s+incident\s+high\s+image-pull-failures: 9 > 3 in 10m \(App=api\)\n/);
    expect(out).toMatch(/\n1 rule run, 1 incident\(s\)\n$/);
    expect(logs.queries.length - before).toBe(1);
    expect(hook.received).toEqual([]);
  });

  it('alerts run --rule with an unknown name is a usage error listing the rules', async () => {
    await expect(run(alertsCommand, ['run', '--rule', 'nope', '--dry-run'], ctx(alertEnv()))).rejects.toThrow(
      /--rule: expected one of console-errors/,
    );
  });

  it('alerts run --output json: the webhook (URL from Key Vault) gets the alert', async () => {
    const { code, out } = await run(
      alertsCommand,
      ['run', '--rule', 'image-pull-failures', '--output', 'json'],
      ctx(alertEnv()),
    );
    expect(code).toBe(0);
    expectValidResult(JSON.parse(out), 'alerts run');
    expect(JSON.parse(out).data.rules[0]).toMatchObject({ rule: 'image-pull-failures', alerted: 1 });
    expect(hook.received).toEqual([
      expect.objectContaining({
        '@type': 'MessageCard',
        title: expect.stringContaining('image-pull-failures: 9 > 3 in 10m (App=api)'),
      }),
    ]);
  });

  it('tokens rotate --dry-run prints the plan and changes nothing; tokens rotate rotates', async () => {
    arm.tokens.set(TOKEN_ID, { status: 'enabled', passwords: {} });
    const env = {
      ACR_GUARD_ROTATION_TOKENS: TOKEN_ID,
      ACR_GUARD_KEY_VAULT_URL: vault.vaultUrl,
      ACR_GUARD_ARM_ENDPOINT: arm.endpoint,
      ACR_GUARD_ALERT_WEBHOOK_SECRET: 'alert-webhook-url',
    };
    const dry = await run(tokensCommand, ['rotate', '--dry-run'], { ...ctx(env), ca: arm.server.ca });
    expect(dry.code).toBe(0);
    expect(dry.out).toMatch(/\nPASS\s+acr-contoso-cli-token\s+planned\s+rotate password1 until /);
    expect(dry.out).toMatch(/\n1 token: 1 planned \(dry run\)\n$/);
    expect(arm.generated).toEqual([]);
    expect(latestSecret(vault, 'acr-contoso-cli-token')).toBeUndefined();

    const real = await run(tokensCommand, ['rotate', '--output', 'json'], { ...ctx(env), ca: arm.server.ca });
    expect(real.code).toBe(0);
    expectValidResult(JSON.parse(real.out), 'tokens rotate');
    expect(JSON.parse(real.out)).toMatchObject({ kind: 'TokensResult', outcome: 'pass', exitCode: 0 });
    expect(JSON.parse(real.out).data.tokens[0]).toMatchObject({
      result: 'rotated',
      secretName: 'acr-contoso-cli-token',
    });
    expect(latestSecret(vault, 'acr-contoso-cli-token')!.value).toBe(
      arm.tokens.get(TOKEN_ID)!.passwords.password1!.value,
    );
    expect(`${real.out}${real.err}`).not.toContain(arm.generated[0]);
  });

  it('tokens rotate: a failure exits 1 and says the published password is unchanged', async () => {
    const env = {
      ACR_GUARD_ROTATION_TOKENS: TOKEN_ID,
      ACR_GUARD_KEY_VAULT_URL: vault.vaultUrl,
      ACR_GUARD_ARM_ENDPOINT: arm.endpoint,
      ACR_GUARD_ROTATION_VALIDITY: '2d',
      ACR_GUARD_ROTATION_RENEW_BEFORE: '1d',
      ACR_GUARD_ALERT_WEBHOOK_SECRET: 'alert-webhook-url',
    };
    const published = latestSecret(vault, 'acr-contoso-cli-token')!.version;
    const denied = { status: 403, body: { error: { code: 'AuthorizationFailed', message: 'no' } } };
    arm.generateFaults.push(denied);
    // 29 days on, the published password (30 d validity, renewed 1 d ahead here) is due.
    const later = { ...ctx(env), ca: arm.server.ca, nowMs: Date.now() + 29 * 86_400_000 };
    const { code, out } = await run(tokensCommand, ['rotate'], later);
    expect(code).toBe(1);
    expect(out).toMatch(
      /\nFAIL\s+acr-contoso-cli-token\s+failed\s+failed at generate: generating password2 of token cli-token was refused \(403 AuthorizationFailed\); grant/,
    );
    expect(out).toMatch(/\n1 token: 1 failed\n$/);
    expect(latestSecret(vault, 'acr-contoso-cli-token')!.version).toBe(published);
  });
});

describe('hints for failures reported inside the result (not thrown)', () => {
  it("alerts run with Log Analytics not running: INCONCLUSIVE, exit 1, and main's hint on stderr; JSON unchanged and hint-free", async () => {
    const port = await freePort();
    const env = {
      ACR_GUARD_LOG_ANALYTICS_WORKSPACE_ID: WORKSPACE,
      ACR_GUARD_LOG_ANALYTICS_ENDPOINT: `https://127.0.0.1:${port}`,
    };
    const human = await run(alertsCommand, ['run', '--rule', 'image-pull-failures', '--dry-run'], {
      env,
      credential: testCredential(),
    });
    expect(human.code).toBe(1);
    expect(human.out).toMatch(/\nINCONCLUSIVE\s+image-pull-failures\s+error: /);
    expect(human.err).toContain('hint: is the server running? nothing accepted the connection');

    const json = await run(alertsCommand, ['run', '--rule', 'image-pull-failures', '--dry-run', '--output', 'json'], {
      env,
      credential: testCredential(),
    });
    expect(json.code).toBe(1);
    const result = JSON.parse(json.out);
    expectValidResult(result, 'alerts run');
    expect(result).toMatchObject({ outcome: 'error', exitCode: 1, errors: [{ code: expect.any(String) }] });
    expect(json.out).not.toContain('hint');
    expect(json.err).not.toContain('hint:');
    // The kept error is not data: nothing of it reaches the envelope.
    expect(Object.keys(result.data.rules[0]).sort()).toEqual(
      ['alerted', 'alerts', 'detail', 'failed', 'incidents', 'rule', 'status', 'suppressed'].sort(),
    );
  });
});
