/**
 * Token rotation end to end with the REAL `ContainerRegistryManagementClient` and `SecretClient` against
 * loopback stand-ins of ARM (tokens, generateCredentials) and Key Vault (challenge auth, versions), alerts to
 * a webhook stand-in. Every assertion reads the servers' state: which password ARM holds per slot, which
 * version Key Vault publishes, what the webhook received. Faults: Key Vault write fails after the password
 * was generated; ARM answers 429; each ends with the previously published password valid and published.
 */
import { ArmTokenAdmin } from '../../src/adapters/acrTokens';
import { KeyVaultSecretStore } from '../../src/adapters/keyVaultSecrets';
import { WebhookSink } from '../../src/adapters/alertSinks';
import { MemoryAlertStateStore } from '../../src/adapters/alertState';
import { createTlsFetch } from '../../src/adapters/registry/tlsFetch';
import { rotateTokens, PASSWORD_CONTENT_TYPE, type RotationRunOptions } from '../../src/jobs/tokenRotation';
import {
  latestSecret,
  startArm,
  startKeyVault,
  startSink,
  testCredential,
  type ArmStandIn,
  type KeyVaultStandIn,
  type SinkStandIn,
} from '../support/azureStandIns';

const DAY = 86_400_000;
const SUB = '1f4b2c3d-5e6f-4a7b-8c9d-0e1f2a3b4c5d';
const tokenId = (name: string) =>
  `/subscriptions/${SUB}/resourceGroups/rg-acr/providers/Microsoft.ContainerRegistry/registries/contoso/tokens/${name}`;
const SETTINGS = { validityMs: 30 * DAY, renewBeforeMs: 7 * DAY };

describe('rotateTokens against ARM and Key Vault stand-ins (real SDK clients)', () => {
  let arm: ArmStandIn;
  let vault: KeyVaultStandIn;
  let hook: SinkStandIn;
  const logs: string[] = [];

  beforeAll(async () => {
    [arm, vault, hook] = await Promise.all([startArm(), startKeyVault(), startSink('/hook')]);
  });
  afterAll(async () => {
    await Promise.all([arm.server.close(), vault.server.close(), hook.server.close()]);
    // Nothing any test logged or alerted contains a password ARM generated.
    const seen = `${logs.join('\n')}\n${JSON.stringify(hook.received)}`;
    expect(arm.generated.length).toBeGreaterThan(3);
    for (const password of arm.generated) expect(seen).not.toContain(password);
  });

  function options(ids: string[], nowMs: number, extra: Partial<RotationRunOptions> = {}): RotationRunOptions {
    const credential = testCredential();
    const { state, ...rest } = extra;
    return {
      state: state ?? new MemoryAlertStateStore(),
      tokenIds: ids,
      tokens: new ArmTokenAdmin({
        credential,
        endpoint: arm.endpoint,
        ca: arm.server.ca,
        maxRetries: 1,
        pollIntervalMs: 10,
      }),
      secrets: new KeyVaultSecretStore({ credential, vaultUrl: vault.vaultUrl, ca: vault.server.ca, maxRetries: 0 }),
      sinks: [new WebhookSink({ url: async () => hook.url, fetch: createTlsFetch({ ca: hook.server.ca }) })],
      settings: SETTINGS,
      nowMs,
      log: (l) => logs.push(l),
      ...rest,
    };
  }

  it('first run publishes a new slot with expiry, tags and content type; later runs keep it until due, then rotate the other slot', async () => {
    const id = tokenId('ci-pull');
    const t0 = Date.now();
    arm.tokens.set(id, { status: 'enabled', passwords: {} });

    const [first] = await rotateTokens(options([id], t0));
    expect(first).toMatchObject({ result: 'rotated', secretName: 'acr-contoso-ci-pull', plan: { slot: 'password1' } });
    let published = latestSecret(vault, 'acr-contoso-ci-pull')!;
    expect(published.value).toBe(arm.tokens.get(id)!.passwords.password1!.value);
    expect(published).toMatchObject({
      contentType: PASSWORD_CONTENT_TYPE,
      enabled: true,
      tags: { 'acr-guard-slot': 'password1', 'acr-guard-token': 'ci-pull', 'acr-guard-registry': 'contoso' },
    });
    expect(published.exp).toBe(Math.floor((t0 + 30 * DAY) / 1000));
    expect(vault.challenges).toBeGreaterThan(0);

    const generatedBefore = arm.generated.length;
    const [second] = await rotateTokens(options([id], t0 + 10 * DAY));
    expect(second.result).toBe('kept');
    expect(arm.generated.length).toBe(generatedBefore);

    const password1 = arm.tokens.get(id)!.passwords.password1!.value;
    const [third] = await rotateTokens(options([id], t0 + 24 * DAY));
    expect(third).toMatchObject({ result: 'rotated', plan: { slot: 'password2', publishedSlot: 'password1' } });
    // The old password is untouched on the registry (valid until its own expiry), the new one is published.
    expect(arm.tokens.get(id)!.passwords.password1!.value).toBe(password1);
    published = latestSecret(vault, 'acr-contoso-ci-pull')!;
    expect(published.value).toBe(arm.tokens.get(id)!.passwords.password2!.value);
    expect(published.tags['acr-guard-slot']).toBe('password2');
    expect(vault.secrets.get('acr-contoso-ci-pull')!.length).toBe(2);
  });

  it('Key Vault write fails after the password was generated: the published password stays valid and published, the failure is alerted', async () => {
    const id = tokenId('prod-pull');
    const t0 = Date.now();
    arm.tokens.set(id, { status: 'enabled', passwords: {} });
    await rotateTokens(options([id], t0));
    const before = latestSecret(vault, 'acr-contoso-prod-pull')!;
    expect(before.tags['acr-guard-slot']).toBe('password1');

    // One failure: the store is built with maxRetries 0, so the SDK does not retry it.
    vault.putFaults.push({ status: 500, body: { error: { code: 'InternalServerError', message: 'boom' } } });
    const hookBefore = hook.received.length;
    const [outcome] = await rotateTokens(options([id], t0 + 24 * DAY));
    expect(outcome).toMatchObject({ result: 'failed', error: { step: 'publish', code: 'TRANSIENT' } });
    // ARM did generate password2 …
    expect(arm.tokens.get(id)!.passwords.password2).toBeDefined();
    // … but Key Vault still publishes password1, whose value is still the one the registry accepts, unexpired.
    const after = latestSecret(vault, 'acr-contoso-prod-pull')!;
    expect(after.version).toBe(before.version);
    expect(after.value).toBe(arm.tokens.get(id)!.passwords.password1!.value);
    expect(Date.parse(arm.tokens.get(id)!.passwords.password1!.expiry!)).toBeGreaterThan(t0 + 24 * DAY);
    const alerts = hook.received.slice(hookBefore) as Array<{ title: string; text: string }>;
    expect(alerts).toHaveLength(1);
    expect(alerts[0].title).toMatch(/rotation failed at publish.*published password1 is unchanged and still valid/);

    // The next run completes the rotation.
    const [retry] = await rotateTokens(options([id], t0 + 24 * DAY + 60_000));
    expect(retry.result).toBe('rotated');
    expect(latestSecret(vault, 'acr-contoso-prod-pull')!.value).toBe(arm.tokens.get(id)!.passwords.password2!.value);
  });

  it('ARM answers 429 to generateCredentials: nothing changes anywhere, the failure is alerted', async () => {
    const id = tokenId('deploy-pull');
    const t0 = Date.now();
    arm.tokens.set(id, { status: 'enabled', passwords: {} });
    await rotateTokens(options([id], t0));
    const armBefore = JSON.stringify(arm.tokens.get(id));
    const vaultBefore = latestSecret(vault, 'acr-contoso-deploy-pull')!.version;
    const throttled = {
      status: 429,
      headers: { 'retry-after': '0' },
      body: { error: { code: 'TooManyRequests', message: 'throttled' } },
    };
    arm.generateFaults.push(throttled, throttled);
    const hookBefore = hook.received.length;
    const [outcome] = await rotateTokens(options([id], t0 + 24 * DAY));
    expect(outcome).toMatchObject({ result: 'failed', error: { step: 'generate', code: 'TRANSIENT' } });
    expect(JSON.stringify(arm.tokens.get(id))).toBe(armBefore);
    expect(latestSecret(vault, 'acr-contoso-deploy-pull')!.version).toBe(vaultBefore);
    expect((hook.received.slice(hookBefore)[0] as { title: string }).title).toMatch(/failed at generate/);
  });

  it('read-back mismatch (the vault holds something else): reported as a failure at verify and alerted', async () => {
    const id = tokenId('verify-token');
    arm.tokens.set(id, { status: 'enabled', passwords: {} });
    vault.onStore = (v) => {
      v.value = 'something-else';
    };
    const hookBefore = hook.received.length;
    try {
      const [outcome] = await rotateTokens(options([id], Date.now()));
      expect(outcome).toMatchObject({ result: 'failed', error: { step: 'verify', code: 'VERIFY_MISMATCH' } });
    } finally {
      vault.onStore = undefined;
    }
    expect((hook.received.slice(hookBefore)[0] as { title: string }).title).toMatch(/failed at verify/);
  });

  it('repeated failures of one token alert once per hour when runs share the alert state', async () => {
    const id = tokenId('flaky-token');
    arm.tokens.set(id, { status: 'enabled', passwords: {} });
    const state = new MemoryAlertStateStore();
    const denied = { status: 403, body: { error: { code: 'AuthorizationFailed', message: 'no' } } };
    arm.generateFaults.push(denied, denied, denied);
    const hookBefore = hook.received.length;
    const t0 = Date.now();
    await rotateTokens(options([id], t0, { state }));
    await rotateTokens(options([id], t0 + 10 * 60_000, { state }));
    expect(hook.received.length - hookBefore).toBe(1);
    await rotateTokens(options([id], t0 + 61 * 60_000, { state }));
    expect(hook.received.length - hookBefore).toBe(2);
  });

  it('dry run: plans only — no generateCredentials, no secret write', async () => {
    const id = tokenId('dry-run-token');
    arm.tokens.set(id, { status: 'enabled', passwords: {} });
    const generated = arm.generated.length;
    const puts = vault.server.requests.filter((r) => r.method === 'PUT').length;
    const [outcome] = await rotateTokens(options([id], Date.now(), { dryRun: true }));
    expect(outcome).toMatchObject({ result: 'planned', plan: { action: 'rotate', slot: 'password1' } });
    expect(arm.generated.length).toBe(generated);
    expect(vault.server.requests.filter((r) => r.method === 'PUT').length).toBe(puts);
  });

  it('flags a disabled token that is still published, and one without expiry, and does not rotate the disabled one', async () => {
    const id = tokenId('old-token');
    const t0 = Date.now();
    arm.tokens.set(id, { status: 'enabled', passwords: {} });
    await rotateTokens(options([id], t0));
    arm.tokens.get(id)!.status = 'disabled';
    arm.tokens.get(id)!.passwords.password2 = {
      value: 'legacy-no-expiry-value',
      creationTime: new Date(t0).toISOString(),
    };
    const generated = arm.generated.length;
    const hookBefore = hook.received.length;
    const [outcome] = await rotateTokens(options([id], t0 + DAY));
    expect(outcome.result).toBe('skipped');
    expect(outcome.plan!.flags.map((f) => f.code).sort()).toEqual(['disabled-but-published', 'no-expiry']);
    expect(arm.generated.length).toBe(generated);
    expect(hook.received.length - hookBefore).toBe(2);
  });

  it('a token ARM does not know fails at read, alerted, and the next token still rotates', async () => {
    const good = tokenId('after-missing');
    arm.tokens.set(good, { status: 'enabled', passwords: {} });
    const out = await rotateTokens(options([tokenId('missing-token'), good], Date.now()));
    expect(out.map((o) => o.result)).toEqual(['failed', 'rotated']);
    expect(out[0].error).toMatchObject({ step: 'read', code: 'NOT_FOUND' });
  });
});
