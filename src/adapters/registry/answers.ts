/**
 * What a registry's answers must look like, checked before acr-guard uses them: name lists of a listing,
 * descriptors, ACR's changeable attributes. A wrong shape from a registry is `MALFORMED` (never silently
 * dropped); attributes a caller passes are held to the same shape as `INVALID_INPUT`.
 */
import { describeFound, ErrorCodes, GuardError } from '../../core/errors';
import { validateDigest } from '../../core/reference';
import type { Descriptor } from '../../core/types';
import type { ManifestAttributes } from '../ports';

/** A listing entry list: an array of valid names, or null/absent-as-null (MALFORMED otherwise, never silently dropped). */
export function nameList(
  value: unknown,
  field: string,
  validate: (name: string, field: string) => string,
  where: string,
): string[] {
  if (value === null) return [];
  if (!Array.isArray(value))
    throw new GuardError(
      ErrorCodes.MALFORMED,
      `${where}: ${field} is not a list (${describeFound(value)}); the listing was refused`,
    );
  return value.map((v, i) => {
    try {
      return validate(v as string, `${field}[${i}]`);
    } catch {
      throw new GuardError(
        ErrorCodes.MALFORMED,
        `${where}: ${field}[${i}] is not a valid name (${describeFound(v)}); the listing was refused`,
      );
    }
  });
}

/** `value` when it has a descriptor's fields and types (unchecked digest and size), else undefined. */
function asDescriptor(value: unknown): Descriptor | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const d = value as Record<string, unknown>;
  if (typeof d.mediaType !== 'string' || typeof d.digest !== 'string' || typeof d.size !== 'number') return undefined;
  return d as unknown as Descriptor;
}

/** A list of descriptors (`layers`, `manifests`), each checked; absent is empty, anything else MALFORMED. */
export function descriptors(value: unknown, field: string, where: string): Descriptor[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new GuardError(ErrorCodes.MALFORMED, `${where}: ${field} is not an array`);
  return value.map((v, i) => checkedDescriptor(v, `${field}[${i}]`, where));
}

/** One descriptor (`config`, `subject`, an entry of `layers` or `manifests`), checked; a bad one is MALFORMED. */
export function checkedDescriptor(value: unknown, field: string, where: string): Descriptor {
  const d = asDescriptor(value);
  if (!d) throw new GuardError(ErrorCodes.MALFORMED, `${where}: ${field} is not a descriptor`);
  // A bad digest from a registry is a malformed answer, not a caller's bad input. Only the algorithms the OCI
  // image spec registers (sha256, sha512) name content acr-guard can verify; a size is a byte count.
  // validateDigest holds the one digest grammar (core/digest.ts): sha256/sha512 at full length, the two
  // algorithms verifyDigest can check content against.
  try {
    validateDigest(d.digest, `${field}.digest`);
  } catch {
    throw new GuardError(
      ErrorCodes.MALFORMED,
      `${where}: ${field}.digest is not a digest (${describeFound(d.digest)})`,
    );
  }
  if (!Number.isSafeInteger(d.size) || d.size < 0)
    throw new GuardError(ErrorCodes.MALFORMED, `${where}: ${field}.size is not a byte count (${d.size})`);
  return d;
}

const BOOLEAN_ATTRIBUTES = ['deleteEnabled', 'writeEnabled', 'readEnabled', 'listEnabled'] as const;
const STRING_ATTRIBUTES = ['quarantineState', 'quarantineDetails'] as const;

/** The changeable attributes of a value, typed; wrong types are MALFORMED from a registry, INVALID_INPUT from a caller. */
export function pickAttributes(value: unknown, where: string, input = false): ManifestAttributes {
  if (value === undefined || value === null) return {};
  const fail = (field: string, expected: string): GuardError =>
    input
      ? new GuardError(ErrorCodes.INVALID_INPUT, `${where}.${field}: expected ${expected}`, {
          field: `${where}.${field}`,
        })
      : new GuardError(ErrorCodes.MALFORMED, `${where}: changeableAttributes.${field} is not ${expected}`);
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw input
      ? new GuardError(ErrorCodes.INVALID_INPUT, `${where}: expected an object`, { field: where })
      : new GuardError(ErrorCodes.MALFORMED, `${where}: changeableAttributes is not an object`);
  }
  const v = value as Record<string, unknown>;
  const out: ManifestAttributes = {};
  for (const key of BOOLEAN_ATTRIBUTES) {
    if (v[key] === undefined) continue;
    if (typeof v[key] !== 'boolean') throw fail(key, 'a boolean');
    out[key] = v[key];
  }
  for (const key of STRING_ATTRIBUTES) {
    if (v[key] === undefined) continue;
    if (typeof v[key] !== 'string') throw fail(key, 'a string');
    out[key] = v[key];
  }
  return out;
}
