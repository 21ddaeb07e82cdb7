/**
 * COSE_Sign1 envelopes of the Notary Project (`application/cose`, notaryproject/specifications
 * signature-envelope-cose.md). CBOR decoding is `cbor` (node-cbor: pure JavaScript, maps as Map, duplicate keys refused); the Sig_structure the
 * signature covers is encoded here, because it must be byte-exact: ["Signature1", protected, h'', payload].
 * The protected header is translated to the JWS names so the same header checks apply to both formats.
 */
import type * as Cbor from 'cbor';

// cbor is loaded on the first COSE envelope parsed: a cold start that verifies no signature does not pay for it.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const cbor = (): typeof Cbor => require('cbor');
import { EnvelopeError, MAX_ENVELOPE_BYTES, type ParsedEnvelope } from './envelope';

/** COSE algorithm identifiers allowed by the spec, by JWS name. */
const COSE_ALGORITHMS = new Map<number, string>([
  [-37, 'PS256'],
  [-38, 'PS384'],
  [-39, 'PS512'],
  [-7, 'ES256'],
  [-35, 'ES384'],
  [-36, 'ES512'],
]);
const COSE_SIGN1_TAG = 18;
const LABEL = { alg: 1, crit: 2, contentType: 3, x5chain: 33 } as const;
const TIME_HEADERS = new Set([
  'io.cncf.notary.signingTime',
  'io.cncf.notary.authenticSigningTime',
  'io.cncf.notary.expiry',
]);

/** Every map decodes as a Map (labels keep their CBOR type); a repeated key or nesting deeper than 16 is an error. */
const DECODE_OPTIONS = { preferMap: true, preventDuplicateKeys: true, max_depth: 16 } as const;

function decode(bytes: Uint8Array, what: string): unknown {
  try {
    return cbor().decodeFirstSync(bytes, DECODE_OPTIONS) as unknown;
  } catch (err) {
    throw new EnvelopeError(`${what} is not valid CBOR (${(err as Error).message})`);
  }
}

function bstr(value: unknown, what: string): Buffer {
  if (!(value instanceof Uint8Array)) throw new EnvelopeError(`${what} must be a byte string`);
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/** CBOR head for major type `major` and length/value `n` (definite lengths, shortest form). */
function head(major: number, n: number): Buffer {
  const m = major << 5;
  if (n < 24) return Buffer.from([m | n]);
  if (n < 0x100) return Buffer.from([m | 24, n]);
  if (n < 0x10000) return Buffer.from([m | 25, n >> 8, n & 0xff]);
  const b = Buffer.alloc(5);
  b[0] = m | 26;
  b.writeUInt32BE(n, 1);
  return b;
}

/** The COSE Sig_structure for Sign1 with empty external AAD. */
export function sigStructure(protectedBytes: Buffer, payload: Buffer): Buffer {
  const context = Buffer.from('Signature1', 'ascii');
  return Buffer.concat([
    head(4, 4),
    head(3, context.length),
    context,
    head(2, protectedBytes.length),
    protectedBytes,
    head(2, 0),
    head(2, payload.length),
    payload,
  ]);
}

/** Parses a tagged COSE_Sign1 Notary Project envelope. Throws {@link EnvelopeError}. */
export function parseCoseEnvelope(bytes: Buffer): ParsedEnvelope {
  if (bytes.length > MAX_ENVELOPE_BYTES) throw new EnvelopeError(`envelope is larger than ${MAX_ENVELOPE_BYTES} bytes`);
  const top = decode(bytes, 'envelope');
  if (
    !(top instanceof cbor().Tagged) ||
    top.tag !== COSE_SIGN1_TAG ||
    !Array.isArray(top.value) ||
    top.value.length !== 4
  )
    throw new EnvelopeError('envelope is not a tagged COSE_Sign1 message (tag 18, array of 4)');
  const [protectedValue, unprotected, payloadValue, signatureValue] = top.value as unknown[];
  const protectedBytes = bstr(protectedValue, 'protected header');
  const payload = bstr(payloadValue, 'payload (detached payloads are not supported)');
  const signature = bstr(signatureValue, 'signature');
  if (signature.length === 0) throw new EnvelopeError('signature is empty');
  const prot = decode(protectedBytes, 'protected header');
  if (!(prot instanceof Map)) throw new EnvelopeError('protected header is not a CBOR map');
  if (!(unprotected instanceof Map)) throw new EnvelopeError('unprotected header is not a CBOR map');
  const header: Record<string, unknown> = {};
  for (const [label, value] of prot) {
    if (label === LABEL.alg)
      header.alg = typeof value === 'number' ? (COSE_ALGORITHMS.get(value) ?? `COSE ${value}`) : value;
    else if (label === LABEL.crit)
      header.crit = Array.isArray(value) ? value.map((c) => (typeof c === 'number' ? `COSE label ${c}` : c)) : value;
    else if (label === LABEL.contentType) header.cty = value;
    else if (typeof label === 'string') {
      if (label === '__proto__' || Object.hasOwn(header, label))
        throw new EnvelopeError(`protected header ${label} appears twice or is reserved`);
      // COSE carries times as tag 1 (epoch seconds), which the decoder gives as a Date; anything else is invalid.
      header[label] = TIME_HEADERS.has(label)
        ? value instanceof Date && !Number.isNaN(value.getTime())
          ? value.toISOString()
          : { invalid: true }
        : value;
    } else throw new EnvelopeError(`protected header has an unexpected label ${String(label)}`);
  }
  const chain = unprotected.get(LABEL.x5chain) as unknown;
  const list = chain instanceof Uint8Array ? [chain] : Array.isArray(chain) ? chain : undefined;
  if (!list || list.length === 0)
    throw new EnvelopeError('unprotected header x5chain (33) must hold the certificate chain');
  const certificates = list.map((c, i) => bstr(c, `x5chain[${i}]`));
  const tst = unprotected.get('io.cncf.notary.timestampSignature') as unknown;
  const timestampToken = tst === undefined ? undefined : bstr(tst, 'io.cncf.notary.timestampSignature');
  return {
    format: 'cose',
    header,
    signingInput: sigStructure(protectedBytes, payload),
    signature,
    payload,
    certificates,
    timestampToken,
  };
}
