/**
 * The one OCI digest grammar acr-guard accepts: `sha256:<64 lower-case hex>` or `sha512:<128 lower-case hex>`,
 * the two algorithms the registry adapter can verify content against. Every check of a digest in src/ uses
 * these, so a digest accepted in one place is accepted in all (and refused in all).
 */

/** A whole digest: `sha256:<64 lower-case hex>` or `sha512:<128 lower-case hex>`. */
export const DIGEST_PATTERN = /^(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

/** A whole sha256 digest, the hex captured: for places that only speak sha256 (cosign, in-toto subjects). */
export const SHA256_DIGEST_PATTERN = /^sha256:([a-f0-9]{64})$/;

/** A digest anywhere in a text (case-insensitive: callers lower-case what it finds). */
export const DIGEST_IN_TEXT = /(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})/i;

/** True when `value` is a whole digest in {@link DIGEST_PATTERN}'s grammar. */
export function isDigest(value: unknown): value is string {
  return typeof value === 'string' && DIGEST_PATTERN.test(value);
}

/** True when `value` is a whole sha256 digest (see {@link SHA256_DIGEST_PATTERN}). */
export function isSha256Digest(value: unknown): value is string {
  return typeof value === 'string' && SHA256_DIGEST_PATTERN.test(value);
}

/** The hex of a sha256 digest, or undefined for anything else (another algorithm, upper case, a fragment). */
export function sha256HexOf(value: string): string | undefined {
  return SHA256_DIGEST_PATTERN.exec(value)?.[1];
}
