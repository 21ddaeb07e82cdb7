/**
 * App settings: every bad setting is named with the expected form; no secret is accepted.
 */
import { describeConfig, loadConfig } from '../../src/config';

const BASE = { ACR_GUARD_AUDIT_TABLE_ENDPOINT: 'https://stacrguard.table.core.windows.net' };

describe('loadConfig', () => {
  it('reads a minimal Azure configuration with defaults, frozen', () => {
    const config = loadConfig(BASE);
    expect(config).toEqual({
      policy: { kind: 'file', path: 'policy/acr-guard.yaml' },
      audit: { kind: 'table', endpoint: 'https://stacrguard.table.core.windows.net', tableName: 'AcrGuardVerdicts' },
      azureClientId: undefined,
      defenderSubscriptions: [],
      plainHttpRegistries: [],
      dryRun: false,
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.audit)).toBe(true);
  });

  it('takes the identity-based AzureWebJobsStorage table URI, inline policy, subscriptions, loopback plain-http registries', () => {
    const config = loadConfig({
      AzureWebJobsStorage__tableServiceUri: 'https://st.table.core.windows.net/',
      ACR_GUARD_POLICY: 'version: 1',
      ACR_GUARD_DEFENDER_SUBSCRIPTIONS: '00000000-0000-0000-0000-000000000001, 00000000-0000-0000-0000-000000000002',
      ACR_GUARD_PLAIN_HTTP_REGISTRIES: '127.0.0.1:5000,localhost:5001',
      AZURE_CLIENT_ID: '11111111-2222-3333-4444-555555555555',
      ACR_GUARD_DRY_RUN: 'true',
    });
    expect(config.audit).toEqual({ kind: 'table', endpoint: 'https://st.table.core.windows.net', tableName: 'AcrGuardVerdicts' });
    expect(config.policy).toEqual({ kind: 'inline', text: 'version: 1' });
    expect(config.defenderSubscriptions).toHaveLength(2);
    expect(config.plainHttpRegistries).toEqual(['127.0.0.1:5000', 'localhost:5001']);
    expect(config.dryRun).toBe(true);
    expect(describeConfig(config)).toContain('user-assigned 11111111-2222-3333-4444-555555555555');
  });

  it.each([
    ['ACR_GUARD_AUDIT_TABLE_ENDPOINT', {}],
    ['ACR_GUARD_AUDIT_TABLE_ENDPOINT', { ACR_GUARD_AUDIT_TABLE_ENDPOINT: 'http://st.table.core.windows.net' }],
    ['ACR_GUARD_AUDIT_TABLE_ENDPOINT', { ACR_GUARD_AUDIT_TABLE_ENDPOINT: 'not a url' }],
    ['ACR_GUARD_AUDIT_TABLE_ENDPOINT', { ACR_GUARD_AUDIT_TABLE_ENDPOINT: 'https://user:pw@st.table.core.windows.net' }],
    ['ACR_GUARD_AUDIT_TABLE', { ...BASE, ACR_GUARD_AUDIT_TABLE: 'bad-name' }],
    ['AZURE_CLIENT_ID', { ...BASE, AZURE_CLIENT_ID: 'not-a-guid' }],
    ['ACR_GUARD_DEFENDER_SUBSCRIPTIONS', { ...BASE, ACR_GUARD_DEFENDER_SUBSCRIPTIONS: '00000000-0000-0000-0000-000000000001,nope' }],
    ['ACR_GUARD_PLAIN_HTTP_REGISTRIES', { ...BASE, ACR_GUARD_PLAIN_HTTP_REGISTRIES: 'registry.example.com' }],
    ['ACR_GUARD_PLAIN_HTTP_REGISTRIES[0]', { ...BASE, ACR_GUARD_PLAIN_HTTP_REGISTRIES: 'user@127.0.0.1' }],
    ['ACR_GUARD_DRY_RUN', { ...BASE, ACR_GUARD_DRY_RUN: 'yes' }],
    ['ACR_GUARD_POLICY', { ...BASE, ACR_GUARD_POLICY: 'version: 1', ACR_GUARD_POLICY_FILE: 'p.yaml' }],
    ['ACR_GUARD_AUDIT_CONNECTION', { ...BASE, ACR_GUARD_AUDIT_CONNECTION: 'DefaultEndpointsProtocol=https;AccountName=x;AccountKey=c2VjcmV0c2VjcmV0' }],
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
    expect(error?.message).not.toContain('c2VjcmV0c2VjcmV0');
  });
});
