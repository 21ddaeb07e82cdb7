/** Shapes shared by the JWS and COSE envelope parsers. */

/**
 * A parsed envelope, JWS or COSE (structure only; nothing verified yet). The protected header is given in
 * JWS names (`alg: "PS256"`, `cty`, `crit`, times as RFC 3339 strings) whatever the format, so one set of
 * header checks serves both.
 */
export interface ParsedEnvelope {
  format: 'jws' | 'cose';
  header: Record<string, unknown>;
  /** The bytes the signature covers (JWS signing input, COSE Sig_structure). */
  signingInput: Buffer;
  signature: Buffer;
  payload: Buffer;
  /** DER certificates, leaf first (`x5c` / COSE `x5chain`). */
  certificates: Buffer[];
  timestampToken?: Buffer;
}

/** Thrown by the envelope parsers for malformed envelopes. */
export class EnvelopeError extends Error {}

/** Upper bound of an envelope: notation's envelopes are a few kB; anything huge is refused before parsing. */
export const MAX_ENVELOPE_BYTES = 4 * 1024 * 1024;
