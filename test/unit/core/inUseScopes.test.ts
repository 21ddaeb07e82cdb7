/**
 * In-use scopes (`ACR_GUARD_INUSE_SCOPES`): every form ARM ids take, normalised; every malformed one refused
 * with a message naming the item and the expected forms, before any name can reach a URL.
 */
import { isGuardError } from '../../../src/core/errors';
import { parseInUseScope, parseInUseScopes } from '../../../src/core/inUseScopes';

const SUB = '6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f';
const RG = `/subscriptions/${SUB}/resourceGroups/rg-prod`;

describe('parseInUseScope', () => {
  it('reads subscriptions, resource groups, Container Apps, jobs and container groups', () => {
    expect(parseInUseScope(`/subscriptions/${SUB.toUpperCase()}`, 'f')).toEqual({
      kind: 'subscription',
      id: `/subscriptions/${SUB}`,
      subscriptionId: SUB,
    });
    expect(parseInUseScope(`${RG}/`, 'f')).toEqual({
      kind: 'resourceGroup',
      id: RG,
      subscriptionId: SUB,
      resourceGroup: 'rg-prod',
    });
    expect(parseInUseScope(`${RG}/providers/Microsoft.App/containerApps/api`, 'f')).toEqual({
      kind: 'containerApp',
      id: `${RG}/providers/Microsoft.App/containerApps/api`,
      subscriptionId: SUB,
      resourceGroup: 'rg-prod',
      name: 'api',
    });
    expect(parseInUseScope(`${RG}/providers/Microsoft.App/jobs/nightly-report`, 'f')).toMatchObject({
      kind: 'containerAppJob',
      name: 'nightly-report',
    });
    expect(parseInUseScope(`${RG}/providers/Microsoft.ContainerInstance/containerGroups/w`, 'f')).toMatchObject({
      kind: 'containerGroup',
      name: 'w',
    });
  });

  it('matches keywords and names without regard to case, as ARM does: canonical keywords, lower-case names, the group as given', () => {
    const s = parseInUseScope(
      `/Subscriptions/${SUB}/RESOURCEGROUPS/My.Group(1)_x/PROVIDERS/microsoft.app/CONTAINERAPPS/Api`,
      'f',
    );
    expect(s.id).toBe(`/subscriptions/${SUB}/resourceGroups/My.Group(1)_x/providers/Microsoft.App/containerApps/api`);
    expect(s).toMatchObject({ name: 'api' });
    expect(parseInUseScope(`/subscriptions/${SUB}/resourceGroups/grüppe-ü`, 'f')).toMatchObject({
      resourceGroup: 'grüppe-ü',
    });
  });

  it.each([
    ['', /not an ARM id/],
    ['subscriptions/x', /not an ARM id/],
    [`https://management.azure.com/subscriptions/${SUB}`, /not an ARM id/],
    ['/subscriptions/not-a-guid', /not a GUID/],
    [`/subscriptions/${SUB}/locations/westeurope`, /resourceGroups/],
    [`/subscriptions/${SUB}/resourceGroups/ends.`, /not a valid name/],
    [`/subscriptions/${SUB}/resourceGroups/${'a'.repeat(91)}`, /not a valid name/],
    [`/subscriptions/${SUB}/resourceGroups/a b`, /not a valid name/],
    [`/subscriptions/${SUB}/resourceGroups/a%2Fb`, /not a valid name/],
    [`${RG}/providers/Microsoft.App/containerApps`, /providers\/<namespace>\/<type>\/<name>/],
    [`${RG}/providers/Microsoft.App/containerApps/api/revisions/api--v1`, /providers\/<namespace>\/<type>\/<name>/],
    [`${RG}/providers/Microsoft.Web/sites/api`, /Microsoft\.Web\/sites is not one in-use protection reads/],
    [`${RG}/providers/Microsoft.App/managedEnvironments/env`, /not one in-use protection reads/],
    [`${RG}/providers/Microsoft.App/containerApps/API_1`, /containerApps name "API_1" is not valid \(2-32 lower-case/],
    [`${RG}/providers/Microsoft.App/containerApps/a`, /is not valid/],
    [`${RG}/providers/Microsoft.App/containerApps/1api`, /is not valid/],
    [`${RG}/providers/Microsoft.App/containerApps/api-`, /is not valid/],
    [`${RG}/providers/Microsoft.App/containerApps/a--b`, /is not valid/],
    [`${RG}/providers/Microsoft.App/containerApps/${'a'.repeat(33)}`, /is not valid/],
    [`${RG}/providers/Microsoft.App/jobs/..`, /is not valid/],
    [`${RG}/providers/Microsoft.ContainerInstance/containerGroups/-w`, /containerGroups name "-w" is not valid \(1-63/],
    [`${RG}/providers/Microsoft.ContainerInstance/containerGroups/${'w'.repeat(64)}`, /is not valid/],
    [`${RG}/providers/Microsoft.ContainerInstance/containerGroups/w_1`, /is not valid/],
  ])('refuses %j', (value, why) => {
    let err: unknown;
    try {
      parseInUseScope(value, 'ACR_GUARD_INUSE_SCOPES[0]');
    } catch (e) {
      err = e;
    }
    expect(isGuardError(err, 'INVALID_CONFIG')).toBe(true);
    const message = (err as Error).message;
    expect(message).toMatch(why);
    expect(message).toMatch(
      /^ACR_GUARD_INUSE_SCOPES\[0\]: .*; expected \/subscriptions\/<guid>, \/subscriptions\/<guid>\/resourceGroups\/<rg>, or a resource in one/,
    );
    expect((err as { field?: string }).field).toBe('ACR_GUARD_INUSE_SCOPES[0]');
  });

  it('accepts the name limits exactly', () => {
    expect(parseInUseScope(`${RG}/providers/Microsoft.App/containerApps/a${'b'.repeat(31)}`, 'f').kind).toBe(
      'containerApp',
    );
    expect(
      parseInUseScope(`${RG}/providers/Microsoft.ContainerInstance/containerGroups/${'w'.repeat(63)}`, 'f').kind,
    ).toBe('containerGroup');
    expect(parseInUseScope(`/subscriptions/${SUB}/resourceGroups/${'a'.repeat(90)}`, 'f').kind).toBe('resourceGroup');
  });
});

describe('parseInUseScopes', () => {
  it('splits on commas, skips blanks, drops duplicates compared without case', () => {
    const scopes = parseInUseScopes(
      ` ${RG} ,, ${RG.toUpperCase().replace(SUB.toUpperCase(), SUB)}/ , /subscriptions/${SUB}`,
      'S',
    );
    expect(scopes.map((s) => s.id)).toEqual([RG, `/subscriptions/${SUB}`]);
    expect(parseInUseScopes('  ', 'S')).toEqual([]);
  });

  it('names the bad item by position', () => {
    expect(() => parseInUseScopes(`${RG},/subscriptions/x`, 'S')).toThrow(/^S\[1\]: the subscription id is not a GUID/);
  });
});
