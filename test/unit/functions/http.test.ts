/** The HTTP edge helpers with real HttpRequest objects: Easy Auth principals, body limits, content types. */
import { HttpRequest } from '@azure/functions';
import { HttpRefusal, azureAuthMode, readClientPrincipal, readJsonBody, requireRole } from '../../../src/app/http';

const b64 = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64');

function req(headers: Record<string, string>, body?: string): HttpRequest {
  return new HttpRequest({
    method: 'POST',
    url: 'http://localhost/api/rescan',
    headers,
    ...(body === undefined ? {} : { body: { string: body } }),
  });
}

async function refusal(p: Promise<unknown> | (() => unknown)): Promise<number | undefined> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    if (err instanceof HttpRefusal) return err.response.status;
    throw err;
  }
  return undefined;
}

describe('Easy Auth principal', () => {
  it('reads roles from role_typ, "roles" and the WS-Fed role claim', () => {
    const principal = readClientPrincipal(
      req({
        'x-ms-client-principal': b64({
          auth_typ: 'aad',
          name_typ: 'name',
          role_typ: 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role',
          claims: [
            { typ: 'name', val: 'ops' },
            { typ: 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role', val: 'Rescan.Request' },
            { typ: 'roles', val: 'Verdicts.Read' },
            { typ: 'groups', val: 'Rescan.Admin' },
            { typ: 'roles' },
            'junk',
          ],
        }),
      }),
    );
    expect(principal).toEqual({ authType: 'aad', name: 'ops', roles: ['Rescan.Request', 'Verdicts.Read'] });
  });

  it.each([
    ['absent', undefined],
    ['not base64', '%%%'],
    ['not JSON', b64('roles=Rescan.Request')],
    ['JSON null', b64('null')],
    ['no claims', b64({ auth_typ: 'aad' })],
    ['claims not an array', b64({ auth_typ: 'aad', claims: { roles: 'Rescan.Request' } })],
    ['oversized', 'A'.repeat(20_000)],
  ])('%s: no principal, 401', async (_name, header) => {
    const r = req(header === undefined ? {} : { 'x-ms-client-principal': header });
    expect(readClientPrincipal(r)).toBeUndefined();
    expect(await refusal(() => requireRole(r, 'easyauth', ['Rescan.Request']))).toBe(401);
  });

  it('403 without the role (a group of the same name is not a role); nothing checked when auth is off', async () => {
    const r = req({
      'x-ms-client-principal': b64({ auth_typ: 'aad', claims: [{ typ: 'groups', val: 'Rescan.Request' }] }),
    });
    expect(await refusal(() => requireRole(r, 'easyauth', ['Rescan.Request']))).toBe(403);
    expect(requireRole(req({}), 'off', ['Rescan.Request'])).toBeUndefined();
  });
});

describe('JSON bodies', () => {
  it('accepts application/json with or without charset=utf-8', async () => {
    expect(await readJsonBody(req({ 'content-type': 'application/json' }, '{"a":1}'))).toEqual({ a: 1 });
    expect(await readJsonBody(req({ 'content-type': 'Application/JSON; charset=UTF-8' }, '[]'))).toEqual([]);
  });

  it('415 for other types, 413 over the limit (declared, or counted when the declaration lies), 400 for bad bytes', async () => {
    expect(await refusal(readJsonBody(req({ 'content-type': 'application/json-patch+json' }, '{}')))).toBe(415);
    expect(
      await refusal(readJsonBody(req({ 'content-type': 'application/json', 'content-length': '99999' }, '{}'))),
    ).toBe(413);
    expect(await refusal(readJsonBody(req({ 'content-type': 'application/json', 'content-length': '-1' }, '{}')))).toBe(
      413,
    );
    expect(await refusal(readJsonBody(req({ 'content-type': 'application/json' }, `"${'x'.repeat(100)}"`), 64))).toBe(
      413,
    );
    const invalidUtf8 = new HttpRequest({
      method: 'POST',
      url: 'http://localhost/',
      headers: { 'content-type': 'application/json' },
      body: { bytes: new Uint8Array([0x22, 0xff, 0xfe, 0x22]) },
    });
    expect(await refusal(readJsonBody(invalidUtf8))).toBe(400);
  });
});

describe('auth mode in Azure', () => {
  it('trusts the principal header only when App Service authentication is on', async () => {
    expect(azureAuthMode({ WEBSITE_AUTH_ENABLED: 'True' })).toBe('easyauth');
    expect(azureAuthMode({ WEBSITE_AUTH_ENABLED: 'False' })).toBe('unconfigured');
    expect(azureAuthMode({})).toBe('unconfigured');
    // Without Easy Auth, a forged principal with the right role is still refused.
    const forged = req({
      'x-ms-client-principal': b64({ auth_typ: 'aad', claims: [{ typ: 'roles', val: 'Rescan.Request' }] }),
    });
    expect(await refusal(() => requireRole(forged, 'unconfigured', ['Rescan.Request']))).toBe(401);
    expect(requireRole(forged, 'easyauth', ['Rescan.Request'])?.roles).toEqual(['Rescan.Request']);
  });
});
