import {
  formatImage,
  gateInstanceId,
  parseImageReference,
  referrerTagSubject,
  rescanInstanceId,
  validateDigest,
  validateRegistryHost,
  validateRepository,
  validateTag,
} from '../../../src/core/reference';
import { GuardError } from '../../../src/core/errors';
import type { ImageId } from '../../../src/core/types';

const D256 = `sha256:${'a1'.repeat(32)}`;
const D512 = `sha512:${'0f'.repeat(64)}`;

/** Runs `fn`, expecting a GuardError with `code` and `field`; returns it for further assertions. */
function guardError(fn: () => unknown, code: string, field: string): GuardError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(GuardError);
    const e = err as GuardError;
    expect({ code: e.code, field: e.field }).toEqual({ code, field });
    return e;
  }
  throw new Error('expected a GuardError, nothing was thrown');
}

describe('validateRepository', () => {
  it.each(['a', 'contoso/api', 'contoso/edge/web-api', 'a.b_c__d---e/f0', 'library/ubuntu', 'x'.repeat(255)])(
    'accepts %s',
    (name) => {
      expect(validateRepository(name)).toBe(name);
    },
  );

  it.each([
    ['empty', ''],
    ['path traversal', 'a/../b'],
    ['dot segment', './a'],
    ['double dot segment', '..'],
    ['percent-encoded traversal', '%2e%2e/a'],
    ['leading slash', '/contoso/api'],
    ['trailing slash', 'contoso/api/'],
    ['empty segment', 'contoso//api'],
    ['upper case', 'Contoso/api'],
    ['triple underscore', 'a___b'],
    ['leading separator', '-a'],
    ['trailing separator', 'a-'],
    ['space', 'contoso api'],
    ['colon', 'contoso:api'],
    ['at', 'contoso@api'],
    ['query', 'contoso/api?x=1'],
    ['backslash', 'contoso\\api'],
    ['newline', 'contoso/api\n'],
    ['unicode', 'cöntoso/api'],
    ['256 chars', 'x'.repeat(256)],
    ['huge', 'a/'.repeat(100_000) + 'a'],
  ])('rejects %s', (_what, name) => {
    const e = guardError(() => validateRepository(name, 'target.repository'), 'INVALID_INPUT', 'target.repository');
    expect(e.message).toContain('target.repository: expected a lower-case OCI repository path');
  });

  it('rejects non-strings from untyped callers', () => {
    guardError(() => validateRepository(42 as unknown as string), 'INVALID_INPUT', 'repository');
  });
});

describe('validateDigest', () => {
  it.each([D256, D512])('accepts %s', (d) => expect(validateDigest(d)).toBe(d));
  it.each([
    ['short', 'sha256:abc'],
    ['upper hex', D256.toUpperCase()],
    ['upper hex body', `sha256:${'A1'.repeat(32)}`],
    ['no algorithm', 'a1'.repeat(32)],
    ['other algorithm', `md5:${'a1'.repeat(16)}`],
    ['sha512 with 64 hex', `sha512:${'a1'.repeat(32)}`],
    ['trailing newline', `${D256}\n`],
    ['non-hex', `sha256:${'g1'.repeat(32)}`],
    ['empty', ''],
  ])('rejects %s', (_w, d) => {
    const e = guardError(() => validateDigest(d), 'INVALID_INPUT', 'digest');
    expect(e.message).toContain('sha256:<64 lower-case hex>');
  });
});

describe('validateTag', () => {
  it.each(['v1', 'latest', '1.2.3-rc.1', '_x', 'A'.repeat(128), 'sha256-abc.sig'])('accepts %s', (t) =>
    expect(validateTag(t)).toBe(t),
  );
  it.each([
    ['empty', ''],
    ['leading dot', '.v1'],
    ['leading dash', '-v1'],
    ['129 chars', 'a'.repeat(129)],
    ['slash', 'v1/x'],
    ['colon', 'v:1'],
    ['space', 'v 1'],
  ])('rejects %s', (_w, t) => {
    guardError(() => validateTag(t, 'data.target.tag'), 'INVALID_INPUT', 'data.target.tag');
  });
});

describe('validateRegistryHost', () => {
  it.each([
    ['contosoacrprod.azurecr.io', 'contosoacrprod.azurecr.io'],
    ['ContosoAcrProd.AzureCR.io', 'contosoacrprod.azurecr.io'],
    ['contoso.azurecr.io:443', 'contoso.azurecr.io'],
    ['127.0.0.1:5000', '127.0.0.1:5000'],
    ['localhost:5000', 'localhost:5000'],
    ['localhost', 'localhost'],
    ['169.254.169.254', '169.254.169.254'],
    ['[::1]:5000', '[::1]:5000'],
    ['[fe80::1]', '[fe80::1]'],
    ['[::ffff:10.0.0.1]:443', '[::ffff:10.0.0.1]'],
    ['registry-1.docker.io', 'registry-1.docker.io'],
    ['host:65535', 'host:65535'],
  ])('accepts %s as %s', (input, expected) => {
    expect(validateRegistryHost(input)).toBe(expected);
  });

  it.each([
    ['empty', ''],
    ['userinfo', 'user@contoso.azurecr.io'],
    ['user and password', 'user:pass@contoso.azurecr.io'],
    ['scheme', 'https://contoso.azurecr.io'],
    ['path', 'contoso.azurecr.io/v2'],
    ['query', 'contoso.azurecr.io?x=1'],
    ['fragment', 'contoso.azurecr.io#x'],
    ['space', 'contoso .azurecr.io'],
    ['leading space', ' contoso.azurecr.io'],
    ['port 0', 'contoso.azurecr.io:0'],
    ['port 65536', 'contoso.azurecr.io:65536'],
    ['empty port', 'contoso.azurecr.io:'],
    ['non-numeric port', 'contoso.azurecr.io:https'],
    ['over-long label', `${'a'.repeat(64)}.azurecr.io`],
    ['over-long host', `${'a.'.repeat(130)}io`],
    ['empty label', 'contoso..azurecr.io'],
    ['trailing dot', 'contoso.azurecr.io.'],
    ['underscore', 'contoso_acr.azurecr.io'],
    ['label starting with dash', '-contoso.azurecr.io'],
    ['bad IPv4', '999.1.1.1'],
    ['unbracketed IPv6', '::1'],
    ['bad IPv6', '[::g]'],
    ['IPv6 zone id', '[fe80::1%25eth0]'],
    ['unclosed bracket', '[::1'],
    ['percent-encoding', 'contoso%2eazurecr.io'],
    ['backslash', 'contoso.azurecr.io\\x'],
    ['huge', 'a'.repeat(100_000)],
  ])('rejects %s', (_w, h) => {
    const e = guardError(() => validateRegistryHost(h, 'data.request.host'), 'INVALID_INPUT', 'data.request.host');
    expect(e.message).toContain('registry host');
  });
});

describe('parseImageReference', () => {
  it.each<[string, object]>([
    ['contoso.azurecr.io/contoso/api:v1', { registry: 'contoso.azurecr.io', repository: 'contoso/api', tag: 'v1' }],
    [
      `contoso.azurecr.io/contoso/api@${D256}`,
      { registry: 'contoso.azurecr.io', repository: 'contoso/api', digest: D256 },
    ],
    [
      `contoso.azurecr.io/contoso/api:v1@${D256}`,
      { registry: 'contoso.azurecr.io', repository: 'contoso/api', tag: 'v1', digest: D256 },
    ],
    ['127.0.0.1:5000/team/app:latest', { registry: '127.0.0.1:5000', repository: 'team/app', tag: 'latest' }],
    ['localhost/app:1', { registry: 'localhost', repository: 'app', tag: '1' }],
    ['[::1]:5000/app:1', { registry: '[::1]:5000', repository: 'app', tag: '1' }],
    ['Contoso.AzureCR.io:443/app:1', { registry: 'contoso.azurecr.io', repository: 'app', tag: '1' }],
    ['169.254.169.254/app:1', { registry: '169.254.169.254', repository: 'app', tag: '1' }],
  ])('parses %s', (text, expected) => {
    expect(parseImageReference(text)).toEqual(expected);
  });

  it('accepts a bare repository only when allowed', () => {
    expect(parseImageReference('contoso.azurecr.io/contoso/api', { allowBare: true })).toEqual({
      registry: 'contoso.azurecr.io',
      repository: 'contoso/api',
    });
    const e = guardError(
      () => parseImageReference('contoso.azurecr.io/contoso/api', { field: 'args.image' }),
      'INVALID_INPUT',
      'args.image',
    );
    expect(e.message).toContain('a tag or a digest is required');
  });

  it('accepts the field as a plain string too', () => {
    guardError(() => parseImageReference('nope', 'body.image'), 'INVALID_INPUT', 'body.image');
  });

  it.each([
    ['no registry', 'contoso/api:v1', 'registry host'],
    ['docker hub short name', 'ubuntu:22.04', 'registry host'],
    ['empty', '', '<registry>/<repository>'],
    ['path traversal', 'contoso.azurecr.io/a/../b:v1', 'repository must be'],
    ['percent traversal', 'contoso.azurecr.io/%2e%2e/b:v1', 'repository must be'],
    ['userinfo', 'user@contoso.azurecr.io/app:v1', 'after "@"'],
    ['scheme', 'https://contoso.azurecr.io/app:v1', ''],
    ['bad digest', 'contoso.azurecr.io/app@sha256:abc', 'after "@"'],
    ['bad tag', 'contoso.azurecr.io/app:-x', 'after ":"'],
    ['upper-case repository', 'contoso.azurecr.io/App:v1', 'repository must be'],
    ['empty repository', 'contoso.azurecr.io/:v1', 'repository must be'],
    ['bad port', 'contoso.azurecr.io:99999/app:v1', 'registry part'],
    ['huge', `contoso.azurecr.io/${'a'.repeat(5000)}:v1`, ''],
  ])('rejects %s', (_w, text, message) => {
    const e = guardError(() => parseImageReference(text), 'INVALID_INPUT', 'image');
    expect(e.message).toContain(message);
  });
});

describe('formatImage and instance ids', () => {
  const image: ImageId = { registry: 'contoso.azurecr.io', repository: 'contoso/api', digest: D256 };

  it('formats by digest, or by tag for a reference without one', () => {
    expect(formatImage(image)).toBe(`contoso.azurecr.io/contoso/api@${D256}`);
    expect(formatImage({ registry: 'r.io', repository: 'a', tag: 'v1' })).toBe('r.io/a:v1');
    expect(formatImage({ registry: 'r.io', repository: 'a', tag: 'v1', digest: D256 })).toBe(`r.io/a:v1@${D256}`);
  });

  it('round-trips through parseImageReference', () => {
    expect(parseImageReference(formatImage(image))).toEqual(image);
  });

  it('derives a deterministic, safe gate instance id from the digest', () => {
    const id = gateInstanceId(image);
    expect(id).toMatch(/^gate-[0-9a-f]{40}$/);
    expect(gateInstanceId({ ...image })).toBe(id);
    expect(gateInstanceId({ ...image, digest: `sha256:${'b2'.repeat(32)}` })).not.toBe(id);
    expect(gateInstanceId({ ...image, repository: 'contoso/web' })).not.toBe(id);
    expect(id.length).toBeLessThanOrEqual(100);
    expect(id).not.toMatch(/[/\\#?]/);
  });

  it('derives rescan ids that depend on the nonce and never equal the gate id', () => {
    const a = rescanInstanceId(image, 'n1');
    expect(a).toMatch(/^rescan-[0-9a-f]{32}$/);
    expect(rescanInstanceId(image, 'n1')).toBe(a);
    expect(rescanInstanceId(image, 'n2')).not.toBe(a);
    expect(a).not.toBe(gateInstanceId(image));
  });
});

describe('referrerTagSubject', () => {
  const hex = 'ab'.repeat(32);
  it("names the digest of the fallback tag and of cosign's .sig, .att, .sbom tags", () => {
    for (const tag of [`sha256-${hex}`, `sha256-${hex}.sig`, `sha256-${hex}.att`, `sha256-${hex}.sbom`])
      expect(referrerTagSubject(tag)).toBe(`sha256:${hex}`);
    expect(referrerTagSubject(`sha512-${hex}${hex}.sig`)).toBe(`sha512:${hex}${hex}`);
  });
  it('is undefined for other tags and for a hex part that does not fit the algorithm', () => {
    for (const tag of ['v1', 'latest', `sha256-${hex}.SIG`, `sha256-${hex}0`, `sha512-${hex}`, `sha256-${hex}.sig.att`])
      expect(referrerTagSubject(tag)).toBeUndefined();
  });
});
