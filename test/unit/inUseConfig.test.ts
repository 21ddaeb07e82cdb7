/**
 * `ACR_GUARD_INUSE_SCOPES` in the app configuration: absent means in-use protection is off (and says so);
 * present, every scope is validated and the ARM endpoint comes from `ACR_GUARD_ARM_ENDPOINT`.
 */
import { describeConfig, loadConfig } from '../../src/app/config';

const BASE = { ACR_GUARD_AUDIT_TABLE_ENDPOINT: 'https://stacrguard.table.core.windows.net' };
const SUB = '6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f';

describe('ACR_GUARD_INUSE_SCOPES', () => {
  it('absent or blank: in-use protection is off, and the summary says so', () => {
    for (const value of [undefined, '', ' , ']) {
      const config = loadConfig({ ...BASE, ACR_GUARD_INUSE_SCOPES: value });
      expect(config.inUse).toBeUndefined();
      expect(describeConfig(config)).toContain('in-use protection: off (ACR_GUARD_INUSE_SCOPES not set)');
    }
  });

  it('set: validated scopes, frozen, at the public ARM endpoint by default or ACR_GUARD_ARM_ENDPOINT', () => {
    const config = loadConfig({ ...BASE, ACR_GUARD_INUSE_SCOPES: `/subscriptions/${SUB}/resourceGroups/rg-prod` });
    expect(config.inUse).toEqual({
      scopes: [
        {
          kind: 'resourceGroup',
          id: `/subscriptions/${SUB}/resourceGroups/rg-prod`,
          subscriptionId: SUB,
          resourceGroup: 'rg-prod',
        },
      ],
      armEndpoint: 'https://management.azure.com',
    });
    expect(Object.isFrozen(config.inUse)).toBe(true);
    expect(Object.isFrozen(config.inUse!.scopes)).toBe(true);
    expect(describeConfig(config)).toContain('in-use protection: 1 scope(s)');
    const sovereign = loadConfig({
      ...BASE,
      ACR_GUARD_INUSE_SCOPES: `/subscriptions/${SUB}`,
      ACR_GUARD_ARM_ENDPOINT: 'https://management.chinacloudapi.cn/',
    });
    expect(sovereign.inUse!.armEndpoint).toBe('https://management.chinacloudapi.cn');
  });

  it('a malformed scope fails the configuration, naming the setting, the item and the expected forms', () => {
    expect(() =>
      loadConfig({
        ...BASE,
        ACR_GUARD_INUSE_SCOPES: `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.App/containerApps/bad_name`,
      }),
    ).toThrow(
      /^app setting ACR_GUARD_INUSE_SCOPES\[0\]: Microsoft\.App\/containerApps name "bad_name" is not valid .*; expected \/subscriptions\/<guid>/,
    );
    try {
      loadConfig({ ...BASE, ACR_GUARD_INUSE_SCOPES: 'rg-prod' });
      throw new Error('accepted');
    } catch (err) {
      expect(err).toMatchObject({ code: 'INVALID_CONFIG', field: 'ACR_GUARD_INUSE_SCOPES' });
    }
  });

  it('tokens go only to an ARM host: another ACR_GUARD_ARM_ENDPOINT is refused', () => {
    expect(() =>
      loadConfig({
        ...BASE,
        ACR_GUARD_INUSE_SCOPES: `/subscriptions/${SUB}`,
        ACR_GUARD_ARM_ENDPOINT: 'https://example.com',
      }),
    ).toThrow(/ACR_GUARD_ARM_ENDPOINT/);
  });
});
