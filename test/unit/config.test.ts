/**
 * App settings: every bad setting is named with the expected form; no key or SAS is accepted.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeConfig, loadConfig, readPolicyText, type AppConfig } from '../../src/app/config';

const BASE = { ACR_GUARD_AUDIT_TABLE_ENDPOINT: 'https://stacrguard.table.core.windows.net' };
const KEY = 'c2VjcmV0c2VjcmV0c2VjcmV0';

describe('loadConfig', () => {
  it('reads a minimal Azure configuration with defaults, frozen', () => {
    const config = loadConfig(BASE);
    expect(config).toEqual({
      policy: { kind: 'file', path: 'policy/acr-guard.yaml' },
      audit: {
        kind: 'table',
        endpoint: 'https://stacrguard.table.core.windows.net',
        tableName: 'AcrGuardVerdicts',
        devAccount: false,
        from: 'ACR_GUARD_AUDIT_TABLE_ENDPOINT',
      },
      azureClientId: undefined,
      defenderSubscriptions: [],
      plainHttpRegistries: [],
      dryRun: false,
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.audit)).toBe(true);
    expect(Object.isFrozen(config.defenderSubscriptions)).toBe(true);
  });

  it('takes inline policy, subscriptions, loopback plain-http registries, a user-assigned identity and dry run', () => {
    const config = loadConfig({
      AzureWebJobsStorage__tableServiceUri: 'https://st.table.core.windows.net/',
      ACR_GUARD_POLICY: 'version: 1',
      ACR_GUARD_DEFENDER_SUBSCRIPTIONS: '00000000-0000-0000-0000-000000000001, 00000000-0000-0000-0000-000000000002',
      ACR_GUARD_PLAIN_HTTP_REGISTRIES: '127.0.0.1:5000,localhost:5001,[::1]:5002,127.1.2.3',
      AZURE_CLIENT_ID: '11111111-2222-3333-4444-555555555555',
      ACR_GUARD_DRY_RUN: 'TRUE',
      // Not a setting acr-guard reads: its instrumentation key is none of the audit store's business.
      APPLICATIONINSIGHTS_CONNECTION_STRING: 'InstrumentationKey=00000000-0000-0000-0000-000000000000',
    });
    expect(config.audit).toEqual({
      kind: 'table',
      endpoint: 'https://st.table.core.windows.net',
      tableName: 'AcrGuardVerdicts',
      devAccount: false,
      from: 'AzureWebJobsStorage__tableServiceUri',
    });
    expect(config.policy).toEqual({ kind: 'inline', text: 'version: 1' });
    expect(config.defenderSubscriptions).toHaveLength(2);
    expect(config.plainHttpRegistries).toEqual(['127.0.0.1:5000', 'localhost:5001', '[::1]:5002', '127.1.2.3']);
    expect(config.dryRun).toBe(true);
    expect(describeConfig(config)).toContain('user-assigned 11111111-2222-3333-4444-555555555555');
  });

  it.each<[string, Record<string, string>, AppConfig['audit']]>([
    [
      'an explicit endpoint, with a table name',
      { ...BASE, ACR_GUARD_AUDIT_TABLE: 'Verdicts2' },
      {
        kind: 'table',
        endpoint: 'https://stacrguard.table.core.windows.net',
        tableName: 'Verdicts2',
        devAccount: false,
        from: 'ACR_GUARD_AUDIT_TABLE_ENDPOINT',
      },
    ],
    [
      'the identity-based host storage account',
      { AzureWebJobsStorage__accountName: 'stacrguard', AzureWebJobsStorage__credential: 'managedidentity' },
      {
        kind: 'table',
        endpoint: 'https://stacrguard.table.core.windows.net',
        tableName: 'AcrGuardVerdicts',
        devAccount: false,
        from: 'AzureWebJobsStorage__accountName',
      },
    ],
    [
      'Azurite by UseDevelopmentStorage=true',
      { AzureWebJobsStorage: 'UseDevelopmentStorage=true' },
      {
        kind: 'table',
        endpoint: 'http://127.0.0.1:10002/devstoreaccount1',
        tableName: 'AcrGuardVerdicts',
        devAccount: true,
        from: 'AzureWebJobsStorage',
      },
    ],
    [
      'Azurite by its loopback URL',
      { ACR_GUARD_AUDIT_TABLE_ENDPOINT: 'http://127.0.0.1:41234/devstoreaccount1' },
      {
        kind: 'table',
        endpoint: 'http://127.0.0.1:41234/devstoreaccount1',
        tableName: 'AcrGuardVerdicts',
        devAccount: true,
        from: 'ACR_GUARD_AUDIT_TABLE_ENDPOINT',
      },
    ],
    [
      'a local directory over the host storage',
      { ACR_GUARD_AUDIT_DIR: '.acr-guard/audit', AzureWebJobsStorage: 'UseDevelopmentStorage=true' },
      { kind: 'file', dir: '.acr-guard/audit' },
    ],
  ])('chooses the audit store from %s', (_name, env, audit) => {
    expect(loadConfig(env).audit).toEqual(audit);
  });

  it.each([
    ['ACR_GUARD_AUDIT_TABLE_ENDPOINT', {}],
    ['ACR_GUARD_AUDIT_TABLE_ENDPOINT', { ACR_GUARD_AUDIT_TABLE_ENDPOINT: 'http://st.table.core.windows.net' }],
    ['ACR_GUARD_AUDIT_TABLE_ENDPOINT', { ACR_GUARD_AUDIT_TABLE_ENDPOINT: 'not a url' }],
    ['ACR_GUARD_AUDIT_TABLE_ENDPOINT', { ACR_GUARD_AUDIT_TABLE_ENDPOINT: 'https://user:pw@st.table.core.windows.net' }],
    [
      'ACR_GUARD_AUDIT_TABLE_ENDPOINT',
      { ACR_GUARD_AUDIT_TABLE_ENDPOINT: `https://st.table.core.windows.net/?sv=2024-01-01&sig=${KEY}` },
    ],
    [
      'ACR_GUARD_AUDIT_TABLE_ENDPOINT',
      { ACR_GUARD_AUDIT_TABLE_ENDPOINT: `DefaultEndpointsProtocol=https;AccountName=st;AccountKey=${KEY}` },
    ],
    [
      'AzureWebJobsStorage__tableServiceUri',
      { AzureWebJobsStorage__tableServiceUri: 'http://10.0.0.4:10002/devstoreaccount1' },
    ],
    ['AzureWebJobsStorage__accountName', { AzureWebJobsStorage__accountName: 'Not_An_Account' }],
    [
      'AzureWebJobsStorage',
      {
        ...BASE,
        AzureWebJobsStorage: `DefaultEndpointsProtocol=https;AccountName=st;AccountKey=${KEY};EndpointSuffix=core.windows.net`,
      },
    ],
    ['ACR_GUARD_AUDIT_TABLE', { ...BASE, ACR_GUARD_AUDIT_TABLE: 'bad-name' }],
    ['ACR_GUARD_AUDIT_TABLE', { ...BASE, ACR_GUARD_AUDIT_TABLE: '1abc' }],
    ['ACR_GUARD_AUDIT_TABLE', { ...BASE, ACR_GUARD_AUDIT_TABLE: 'ab' }],
    ['ACR_GUARD_AUDIT_TABLE', { ...BASE, ACR_GUARD_AUDIT_TABLE: `a${'b'.repeat(63)}` }],
    ['ACR_GUARD_AUDIT_DIR', { ...BASE, ACR_GUARD_AUDIT_DIR: '/tmp/audit' }],
    ['AZURE_CLIENT_ID', { ...BASE, AZURE_CLIENT_ID: 'not-a-guid' }],
    [
      'ACR_GUARD_DEFENDER_SUBSCRIPTIONS',
      { ...BASE, ACR_GUARD_DEFENDER_SUBSCRIPTIONS: '00000000-0000-0000-0000-000000000001,nope' },
    ],
    ['ACR_GUARD_PLAIN_HTTP_REGISTRIES', { ...BASE, ACR_GUARD_PLAIN_HTTP_REGISTRIES: 'registry.example.com' }],
    ['ACR_GUARD_PLAIN_HTTP_REGISTRIES', { ...BASE, ACR_GUARD_PLAIN_HTTP_REGISTRIES: '127.0.0.1:5000,10.0.0.5:5000' }],
    ['ACR_GUARD_PLAIN_HTTP_REGISTRIES', { ...BASE, ACR_GUARD_PLAIN_HTTP_REGISTRIES: 'localhost.example.com' }],
    ['ACR_GUARD_PLAIN_HTTP_REGISTRIES[0]', { ...BASE, ACR_GUARD_PLAIN_HTTP_REGISTRIES: 'user@127.0.0.1' }],
    ['ACR_GUARD_DRY_RUN', { ...BASE, ACR_GUARD_DRY_RUN: 'yes' }],
    ['ACR_GUARD_POLICY', { ...BASE, ACR_GUARD_POLICY: 'version: 1', ACR_GUARD_POLICY_FILE: 'p.yaml' }],
    [
      'ACR_GUARD_AUDIT_CONNECTION',
      { ...BASE, ACR_GUARD_AUDIT_CONNECTION: `DefaultEndpointsProtocol=https;AccountName=x;AccountKey=${KEY}` },
    ],
    ['ACR_GUARD_AUDIT_SAS', { ...BASE, ACR_GUARD_AUDIT_SAS: `SharedAccessSignature=sv=2024&sig=${KEY}` }],
  ])('names %s when it is wrong', (field, env) => {
    let error: (Error & { code?: string; field?: string }) | undefined;
    try {
      loadConfig(env as Record<string, string>);
    } catch (err) {
      error = err as Error & { code?: string; field?: string };
    }
    // Host syntax is checked by the shared reference validator (INVALID_INPUT); the rest is INVALID_CONFIG.
    expect(['INVALID_CONFIG', 'INVALID_INPUT']).toContain(error?.code);
    expect(error?.field).toBe(field);
    expect(error?.message).toContain(field);
    expect(error?.message).toMatch(/expected/);
    expect(error?.message).not.toContain(KEY);
  });
});

describe('signature trust settings', () => {
  it('reads ACR_GUARD_TRUST_POLICY_FILE and ACR_GUARD_TRUST_STORE_DIR together, and shows them in the summary', () => {
    const config = loadConfig({
      ...BASE,
      ACR_GUARD_TRUST_POLICY_FILE: ' trust/trustpolicy.json ',
      ACR_GUARD_TRUST_STORE_DIR: 'trust/truststore',
    });
    expect(config.signatureTrust).toEqual({
      kind: 'files',
      policyFile: 'trust/trustpolicy.json',
      storeDir: 'trust/truststore',
    });
    expect(Object.isFrozen(config.signatureTrust)).toBe(true);
    expect(describeConfig(config)).toContain('signature trust: trust/trustpolicy.json + trust/truststore');
    expect(loadConfig(BASE).signatureTrust).toBeUndefined();
  });

  it('reads ACR_GUARD_TRUST_BLOB_URL (https, or loopback http for Azurite), never with a SAS or with the file pair', () => {
    expect(
      loadConfig({ ...BASE, ACR_GUARD_TRUST_BLOB_URL: 'https://sttrust.blob.core.windows.net/trust/prod' })
        .signatureTrust,
    ).toEqual({ kind: 'blob', url: 'https://sttrust.blob.core.windows.net/trust/prod' });
    expect(
      describeConfig(
        loadConfig({ ...BASE, ACR_GUARD_TRUST_BLOB_URL: 'http://127.0.0.1:10000/devstoreaccount1/trust' }),
      ),
    ).toContain('signature trust: blob http://127.0.0.1:10000/devstoreaccount1/trust');
    for (const url of [
      'http://sttrust.blob.core.windows.net/trust',
      'https://sttrust.blob.core.windows.net/',
      'not a url',
    ]) {
      expect(() => loadConfig({ ...BASE, ACR_GUARD_TRUST_BLOB_URL: url })).toThrow(
        expect.objectContaining({ field: 'ACR_GUARD_TRUST_BLOB_URL' }),
      );
    }
    expect(() =>
      loadConfig({ ...BASE, ACR_GUARD_TRUST_BLOB_URL: 'https://sttrust.blob.core.windows.net/trust?sv=2024&sig=abc' }),
    ).toThrow(/ACR_GUARD_TRUST_BLOB_URL: expected no account key or SAS/);
    expect(() =>
      loadConfig({
        ...BASE,
        ACR_GUARD_TRUST_BLOB_URL: 'https://s.blob.core.windows.net/t',
        ACR_GUARD_TRUST_POLICY_FILE: 'a',
        ACR_GUARD_TRUST_STORE_DIR: 'b',
      }),
    ).toThrow(/not both/);
  });

  it.each([
    [{ ACR_GUARD_TRUST_POLICY_FILE: 'trustpolicy.json' }, 'ACR_GUARD_TRUST_STORE_DIR'],
    [{ ACR_GUARD_TRUST_STORE_DIR: 'truststore' }, 'ACR_GUARD_TRUST_POLICY_FILE'],
  ])('one without the other is refused naming the missing setting', (env, field) => {
    expect(() => loadConfig({ ...BASE, ...env })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG', field }));
  });
});

describe('describeConfig', () => {
  it('summarises without the inline policy text', () => {
    const text = describeConfig(
      loadConfig({ AzureWebJobsStorage: 'UseDevelopmentStorage=true', ACR_GUARD_POLICY: 'version: 1 # internal-note' }),
    );
    expect(text).toContain('inline (');
    expect(text).toContain('Azurite dev account');
    expect(text).not.toContain('internal-note');
  });
});

describe('readPolicyText', () => {
  const dir = mkdtempSync(join(tmpdir(), 'acr-guard-config-'));
  const read = (path: string) => readFileSync(path, 'utf8');

  it('returns the inline policy, or reads the named file', () => {
    expect(readPolicyText(loadConfig({ ...BASE, ACR_GUARD_POLICY: 'version: 1\n' }), read)).toBe('version: 1\n');
    writeFileSync(join(dir, 'policy.yaml'), 'version: 2\n');
    expect(readPolicyText(loadConfig({ ...BASE, ACR_GUARD_POLICY_FILE: join(dir, 'policy.yaml') }), read)).toBe(
      'version: 2\n',
    );
  });

  it('names ACR_GUARD_POLICY_FILE when the file cannot be read', () => {
    expect(() =>
      readPolicyText(loadConfig({ ...BASE, ACR_GUARD_POLICY_FILE: join(dir, 'missing.yaml') }), read),
    ).toThrow(
      expect.objectContaining({
        code: 'INVALID_CONFIG',
        field: 'ACR_GUARD_POLICY_FILE',
        message: expect.stringContaining('ENOENT'),
      }),
    );
  });
});

describe('ACR_GUARD_VERDICT_EVENTGRID_ENDPOINT', () => {
  const base = { ACR_GUARD_AUDIT_DIR: '/tmp/audit' };
  it('is optional, and when set names an Event Grid topic (or a loopback stand-in) over https', () => {
    expect(loadConfig(base).verdictEvents).toBeUndefined();
    expect(
      loadConfig({
        ...base,
        ACR_GUARD_VERDICT_EVENTGRID_ENDPOINT: 'https://verdicts.westeurope-1.eventgrid.azure.net/api/events',
      }).verdictEvents,
    ).toEqual({ eventGridEndpoint: 'https://verdicts.westeurope-1.eventgrid.azure.net/api/events' });
    for (const bad of [
      'http://verdicts.westeurope-1.eventgrid.azure.net/api/events',
      'https://evil.example.com/api/events',
    ])
      expect(() => loadConfig({ ...base, ACR_GUARD_VERDICT_EVENTGRID_ENDPOINT: bad })).toThrow(
        /ACR_GUARD_VERDICT_EVENTGRID_ENDPOINT/,
      );
  });
});
