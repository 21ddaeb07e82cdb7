import { DIGEST_IN_TEXT, DIGEST_PATTERN, isDigest, isSha256Digest, sha256HexOf } from '../../../src/core/digest';

const h64 = 'a'.repeat(64);
const h128 = 'b'.repeat(128);

describe('the one digest grammar', () => {
  it('accepts sha256 and sha512 at full length, lower case', () => {
    expect(isDigest(`sha256:${h64}`)).toBe(true);
    expect(isDigest(`sha512:${h128}`)).toBe(true);
    expect(DIGEST_PATTERN.test(`sha256:${h64}`)).toBe(true);
  });

  it.each([
    `sha256:${h64.toUpperCase()}`,
    `sha256:${h64}0`,
    `sha256:${h64.slice(1)}`,
    `sha512:${h64}`,
    `sha384:${'c'.repeat(96)}`,
    ` sha256:${h64}`,
    `sha256:${h64}\n`,
    h64,
  ])('refuses %j', (v) => {
    expect(isDigest(v)).toBe(false);
  });

  it('refuses what is not a string', () => {
    expect(isDigest(undefined)).toBe(false);
    expect(isDigest(42)).toBe(false);
    expect(isSha256Digest({})).toBe(false);
  });

  it('has a sha256-only form for the places that speak only sha256', () => {
    expect(isSha256Digest(`sha256:${h64}`)).toBe(true);
    expect(isSha256Digest(`sha512:${h128}`)).toBe(false);
    expect(sha256HexOf(`sha256:${h64}`)).toBe(h64);
    expect(sha256HexOf(`sha512:${h128}`)).toBeUndefined();
  });

  it('finds a digest inside a text, in any case', () => {
    expect(DIGEST_IN_TEXT.exec(`pkg:oci/app@SHA256:${h64.toUpperCase()}?x=1`)?.[1].toLowerCase()).toBe(`sha256:${h64}`);
  });
});
