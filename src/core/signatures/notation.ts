/**
 * Notary Project signature verification (notaryproject/specifications: signature specification, JWS
 * envelope, trust store and trust policy). Verifies one signature envelope over bytes against a trust
 * policy and a parsed trust store at a given time. Pure: no I/O, the clock is an argument.
 *
 * Checks, and the validation of the level table that governs each:
 * - `envelope` (integrity): JWS JSON serialization or COSE_Sign1, protected header (alg, cty, crit, signing scheme, times),
 *   certificate chain structure, signature value;
 * - `target` (integrity): the signed descriptor names the gated digest, media type and size;
 * - `authenticity`: the chain contains a certificate from the policy's `ca` (or `signingAuthority`) stores;
 * - `trustedIdentity` (authenticity): the signing certificate's subject is in `trustedIdentities`;
 * - `authenticTimestamp`: the chain is valid at verification time (or at the authentic signing time);
 * - `expiry`: the signature's `io.cncf.notary.expiry` has not passed;
 * - `revocation`: not performed (reported as such).
 */
import { verify as cryptoVerify, constants } from 'node:crypto';
import { CheckTable, bad, good, type Finding, type SignatureVerification } from './checks';
import type { SignatureCheckName } from '../types';
import { parseCoseEnvelope } from './cose';
import { TimestampError, verifyTimestampToken, type VerifiedTimestamp } from './timestamp';
import { EnvelopeError, MAX_ENVELOPE_BYTES, type ParsedEnvelope } from './envelope';

export { EnvelopeError, MAX_ENVELOPE_BYTES, type ParsedEnvelope };
import type { TrustPolicy, TrustStore } from './trustPolicy';
import {
  type CertInfo,
  CertificateParseError,
  chainProblems,
  parseCertificate,
  subjectMatches,
  validityProblem,
} from './x509';

/** Envelope media types of Notary Project signatures. */
export const NotationMediaTypes = {
  jws: 'application/jose+json',
  cose: 'application/cose',
  payload: 'application/vnd.cncf.notary.payload.v1+json',
  signature: 'application/vnd.cncf.notary.signature',
} as const;

/** Protected header names of the spec. */
const H = {
  scheme: 'io.cncf.notary.signingScheme',
  signingTime: 'io.cncf.notary.signingTime',
  authenticSigningTime: 'io.cncf.notary.authenticSigningTime',
  expiry: 'io.cncf.notary.expiry',
  plugin: 'io.cncf.notary.verificationPlugin',
  pluginMinVersion: 'io.cncf.notary.verificationPluginMinVersion',
} as const;

/** Critical headers this verifier understands; any other critical header fails the signature. */
const UNDERSTOOD_CRITICAL: readonly string[] = [H.scheme, H.expiry, H.authenticSigningTime];

/** JWS algorithms allowed by the spec, with the key each requires and its hash. */
const ALGORITHMS: Record<string, { key: string; hash: string; ec: boolean }> = {
  PS256: { key: 'RSA 2048', hash: 'sha256', ec: false },
  PS384: { key: 'RSA 3072', hash: 'sha384', ec: false },
  PS512: { key: 'RSA 4096', hash: 'sha512', ec: false },
  ES256: { key: 'EC P-256', hash: 'sha256', ec: true },
  ES384: { key: 'EC P-384', hash: 'sha384', ec: true },
  ES512: { key: 'EC P-521', hash: 'sha512', ec: true },
};

/** The descriptor being verified (the gated manifest). */
export interface TargetDescriptor {
  mediaType: string;
  digest: string;
  size: number;
}

const B64URL = /^[A-Za-z0-9_-]*$/;
const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

function b64url(value: unknown, field: string): string {
  if (typeof value !== 'string' || !B64URL.test(value)) throw new EnvelopeError(`${field} is not unpadded base64url`);
  // Canonical only: a string whose unused low bits differ decodes to the same bytes, so two envelopes would
  // carry one signature; refuse anything that does not re-encode to itself.
  if (Buffer.from(value, 'base64url').toString('base64url') !== value)
    throw new EnvelopeError(`${field} is not canonical base64url`);
  return value;
}

function jsonObject(bytes: Buffer, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new EnvelopeError(`${what} is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new EnvelopeError(`${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

/** Parses the JWS JSON serialization of a Notary Project envelope. Throws {@link EnvelopeError}. */
export function parseJwsEnvelope(bytes: Buffer): ParsedEnvelope {
  if (bytes.length > MAX_ENVELOPE_BYTES) throw new EnvelopeError(`envelope is larger than ${MAX_ENVELOPE_BYTES} bytes`);
  const env = jsonObject(bytes, 'envelope');
  const protectedB64 = b64url(env.protected, 'protected');
  const payloadB64 = b64url(env.payload, 'payload');
  const signature = Buffer.from(b64url(env.signature, 'signature'), 'base64url');
  if (signature.length === 0) throw new EnvelopeError('signature is empty');
  const unprotected = env.header;
  if (typeof unprotected !== 'object' || unprotected === null || Array.isArray(unprotected))
    throw new EnvelopeError('header (unprotected) is missing');
  const u = unprotected as Record<string, unknown>;
  if (!Array.isArray(u.x5c) || u.x5c.length === 0)
    throw new EnvelopeError('header.x5c must be a non-empty array of certificates');
  const certificates = u.x5c.map((c, i) => {
    if (typeof c !== 'string' || c.length === 0 || !B64.test(c))
      throw new EnvelopeError(`header.x5c[${i}] is not base64`);
    return Buffer.from(c, 'base64');
  });
  let timestampToken: Buffer | undefined;
  const tst = u['io.cncf.notary.timestampSignature'];
  if (tst !== undefined) {
    if (typeof tst !== 'string' || !B64.test(tst))
      throw new EnvelopeError('header io.cncf.notary.timestampSignature is not base64');
    timestampToken = Buffer.from(tst, 'base64');
  }
  const header = jsonObject(Buffer.from(protectedB64, 'base64url'), 'protected header');
  const signingInput = Buffer.from(`${protectedB64}.${payloadB64}`, 'ascii');
  return {
    format: 'jws',
    signingInput,
    signature,
    header,
    payload: Buffer.from(payloadB64, 'base64url'),
    certificates,
    timestampToken,
  };
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function time(value: unknown, name: string): Date {
  if (typeof value !== 'string' || !RFC3339.test(value))
    throw new EnvelopeError(`protected header ${name} is not an RFC 3339 time`);
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new EnvelopeError(`protected header ${name} is not a valid time`);
  return d;
}

/** The protected header, validated. */
export interface ProtectedHeader {
  alg: string;
  scheme: 'notary.x509' | 'notary.x509.signingAuthority';
  signingTime?: Date;
  authenticSigningTime?: Date;
  expiry?: Date;
  crit: string[];
}

/** Validates the protected header per the spec. Throws {@link EnvelopeError}. */
export function checkProtectedHeader(h: Record<string, unknown>): ProtectedHeader {
  const alg = h.alg;
  if (typeof alg !== 'string' || !Object.hasOwn(ALGORITHMS, alg))
    throw new EnvelopeError(
      `algorithm ${JSON.stringify(alg)} is not allowed (PS256, PS384, PS512, ES256, ES384, ES512)`,
    );
  if (h.cty !== NotationMediaTypes.payload)
    throw new EnvelopeError(`content type (cty) must be ${NotationMediaTypes.payload}`);
  const scheme = h[H.scheme];
  if (scheme !== 'notary.x509' && scheme !== 'notary.x509.signingAuthority')
    throw new EnvelopeError(
      `signing scheme ${JSON.stringify(scheme)} is not notary.x509 or notary.x509.signingAuthority`,
    );
  const crit = h.crit;
  if (!Array.isArray(crit) || crit.length === 0 || crit.some((c) => typeof c !== 'string'))
    throw new EnvelopeError('crit must be a non-empty array of header names');
  if (new Set(crit).size !== crit.length) throw new EnvelopeError('crit lists a header twice');
  for (const name of crit as string[]) {
    if (!Object.hasOwn(h, name)) throw new EnvelopeError(`critical header ${name} is not present`);
    if (name === H.plugin || name === H.pluginMinVersion)
      throw new EnvelopeError(
        `signature requires verification plugin ${JSON.stringify(h[H.plugin])}, which acr-guard does not run`,
      );
    if (!UNDERSTOOD_CRITICAL.includes(name)) throw new EnvelopeError(`unknown critical header ${name}`);
  }
  if (!crit.includes(H.scheme)) throw new EnvelopeError(`crit must include ${H.scheme}`);
  const out: ProtectedHeader = { alg, scheme, crit: crit as string[] };
  if (h[H.expiry] !== undefined) {
    if (!crit.includes(H.expiry)) throw new EnvelopeError(`crit must include ${H.expiry} when it is present`);
    out.expiry = time(h[H.expiry], H.expiry);
  }
  if (scheme === 'notary.x509') {
    out.signingTime = time(h[H.signingTime], H.signingTime);
    if (h[H.authenticSigningTime] !== undefined)
      throw new EnvelopeError(`${H.authenticSigningTime} is only allowed with notary.x509.signingAuthority`);
  } else {
    if (!crit.includes(H.authenticSigningTime))
      throw new EnvelopeError(`crit must include ${H.authenticSigningTime} with notary.x509.signingAuthority`);
    out.authenticSigningTime = time(h[H.authenticSigningTime], H.authenticSigningTime);
  }
  if (out.expiry && out.expiry <= (out.signingTime ?? out.authenticSigningTime ?? out.expiry))
    throw new EnvelopeError('expiry is not after the signing time');
  return out;
}

function keyMatches(alg: string, leaf: CertInfo): boolean {
  const want = ALGORITHMS[alg].key;
  const have =
    leaf.key.type === 'rsa' ? `RSA ${leaf.key.bits}` : leaf.key.type === 'ec' ? `EC ${leaf.key.curve}` : leaf.key.name;
  return want === have;
}

function verifyEnvelopeSignature(env: ParsedEnvelope, alg: string, leaf: CertInfo): boolean {
  const a = ALGORITHMS[alg];
  const data = env.signingInput;
  try {
    if (a.ec) return cryptoVerify(a.hash, data, { key: leaf.x509.publicKey, dsaEncoding: 'ieee-p1363' }, env.signature);
    return cryptoVerify(
      a.hash,
      data,
      {
        key: leaf.x509.publicKey,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: constants.RSA_PSS_SALTLEN_AUTO,
      },
      env.signature,
    );
  } catch {
    return false;
  }
}

/** Checks the signed payload names the target descriptor exactly. */
export function checkPayload(payload: Buffer, target: TargetDescriptor): Finding {
  let doc: Record<string, unknown>;
  try {
    doc = jsonObject(payload, 'payload');
  } catch (err) {
    return bad((err as Error).message);
  }
  const t = doc.targetArtifact as Record<string, unknown> | undefined;
  if (typeof t !== 'object' || t === null || Array.isArray(t)) return bad('payload has no targetArtifact descriptor');
  const problems: string[] = [];
  if (t.digest !== target.digest) problems.push(`digest ${JSON.stringify(t.digest)} (gated ${target.digest})`);
  if (t.mediaType !== target.mediaType)
    problems.push(`media type ${JSON.stringify(t.mediaType)} (gated ${target.mediaType})`);
  if (t.size !== target.size) problems.push(`size ${JSON.stringify(t.size)} (gated ${target.size})`);
  if (problems.length > 0)
    return bad(`the signature is for another artifact: ${problems.join(', ')}`, {
      signedDigest: typeof t.digest === 'string' ? t.digest : undefined,
    });
  return good(`signed descriptor matches ${target.digest}`);
}

/** Input of {@link verifyNotationSignature}. */
export interface NotationVerifyInput {
  /** Digest of the signature manifest (for the result). */
  signatureDigest: string;
  envelope: Buffer;
  envelopeMediaType: string;
  target: TargetDescriptor;
  policy: TrustPolicy;
  store: TrustStore;
  now: Date;
}

/** Verifies one Notary Project signature envelope; never throws for bad input (a malformed envelope fails). */
export function verifyNotationSignature(input: NotationVerifyInput): SignatureVerification {
  const { policy } = input;
  const table = new CheckTable(policy.actions, policy.level);
  if (policy.level === 'skip') {
    return {
      digest: input.signatureDigest,
      kind: 'notation',
      outcome: 'skipped',
      reason: `trust policy ${policy.name} is configured to skip verification`,
      checks: [],
    };
  }
  const later: SignatureCheckName[] = [
    'target',
    'authenticity',
    'trustedIdentity',
    'authenticTimestamp',
    'expiry',
    'revocation',
  ];
  let env: ParsedEnvelope;
  let header: ProtectedHeader;
  let chain: CertInfo[];
  try {
    if (input.envelopeMediaType === NotationMediaTypes.jws) env = parseJwsEnvelope(input.envelope);
    else if (input.envelopeMediaType === NotationMediaTypes.cose) env = parseCoseEnvelope(input.envelope);
    else
      throw new EnvelopeError(
        `blob media type ${JSON.stringify(input.envelopeMediaType)} is not a signature envelope (${NotationMediaTypes.jws} or ${NotationMediaTypes.cose})`,
      );
    header = checkProtectedHeader(env.header);
    chain = env.certificates.map(parseCertificate);
    const problems = chainProblems(chain);
    if (problems.length > 0) throw new EnvelopeError(`invalid certificate chain: ${problems.join('; ')}`);
    if (!keyMatches(header.alg, chain[0]))
      throw new EnvelopeError(
        `algorithm ${header.alg} does not match the signing key (${ALGORITHMS[header.alg].key} required)`,
      );
    if (!verifyEnvelopeSignature(env, header.alg, chain[0]))
      throw new EnvelopeError('the signature does not verify (envelope or payload tampered, or signed by another key)');
  } catch (err) {
    const why =
      err instanceof EnvelopeError || err instanceof CertificateParseError
        ? err.message
        : `unexpected envelope content (${(err as Error).message})`;
    table.record('envelope', 'integrity', bad(why));
    table.notEvaluated(later, 'integrity failed');
    return table.outcome(input.signatureDigest, 'notation');
  }
  table.record(
    'envelope',
    'integrity',
    good(`${env.format.toUpperCase()} ${header.alg} signature by "${chain[0].subject}" verifies (${header.scheme})`, {
      format: env.format,
      signingScheme: header.scheme,
      leafSha256: chain[0].sha256,
    }),
  );
  if (!table.record('target', 'integrity', checkPayload(env.payload, input.target))) {
    table.notEvaluated(later.slice(1), 'the signature is for another artifact');
    return table.outcome(input.signatureDigest, 'notation');
  }
  table.record('authenticity', 'authenticity', authenticity(chain, header, input));
  table.record('trustedIdentity', 'authenticity', trustedIdentity(chain[0], policy));
  table.record('authenticTimestamp', 'authenticTimestamp', authenticTimestamp(chain, header, env, input));
  table.record(
    'expiry',
    'expiry',
    header.expiry && input.now > header.expiry
      ? bad(`digital signature has expired on ${header.expiry.toUTCString()}`)
      : good(header.expiry ? `valid until ${header.expiry.toISOString()}` : 'the signature has no expiry'),
  );
  // Revocation (OCSP/CRL) needs network access the pure core does not have: say so instead of pretending.
  table.checks.push({
    name: 'revocation',
    status: 'skip',
    reason: `not performed: acr-guard does not check OCSP/CRL revocation (${chain.length} certificate(s) in the chain)`,
    details: { validation: 'revocation', performed: false },
  });
  return table.outcome(input.signatureDigest, 'notation');
}

function authenticity(chain: CertInfo[], header: ProtectedHeader, input: NotationVerifyInput): Finding {
  const type = header.scheme === 'notary.x509' ? 'ca' : 'signingAuthority';
  const stores = input.policy.trustStores.filter((s) => s.type === type);
  if (stores.length === 0)
    return bad(`trust policy ${input.policy.name} names no ${type} trust store for ${header.scheme} signatures`);
  const missing = stores
    .filter((s) => !input.store.certificates.has(`${s.type}:${s.name}`))
    .map((s) => `${s.type}:${s.name}`);
  for (const s of stores) {
    for (const trusted of input.store.certificates.get(`${s.type}:${s.name}`) ?? []) {
      const match = chain.find((c) => c.raw.equals(trusted.raw));
      if (match)
        return good(`chain contains "${match.subject}" from trust store ${s.type}:${s.name}`, {
          trustStore: `${s.type}:${s.name}`,
        });
    }
  }
  const note = missing.length > 0 ? ` (trust store ${missing.join(', ')} is empty or missing)` : '';
  return bad(
    `certificate chain does not contain any trusted certificate of ${stores.map((s) => `${s.type}:${s.name}`).join(', ')}${note}`,
  );
}

function trustedIdentity(leaf: CertInfo, policy: TrustPolicy): Finding {
  if (policy.trustedIdentities === '*')
    return good(`any identity is trusted by ${policy.name}; signer "${leaf.subject}"`);
  const hit = policy.trustedIdentities.find((id) => subjectMatches(id.attributes, leaf.subjectAttributes));
  if (hit) return good(`signer "${leaf.subject}" matches ${hit.text}`);
  return bad(
    `signing certificate subject "${leaf.subject}" is not in trustedIdentities of trust policy ${policy.name}`,
  );
}

function authenticTimestamp(
  chain: CertInfo[],
  header: ProtectedHeader,
  env: ParsedEnvelope,
  input: NotationVerifyInput,
): Finding {
  if (header.scheme === 'notary.x509.signingAuthority') {
    const at = header.authenticSigningTime as Date;
    const problem = validityProblem(chain, at);
    return problem
      ? bad(problem.replace('verification time', 'authentic signing time'))
      : good(`chain valid at the authentic signing time ${at.toISOString()}`);
  }
  // notation's rule: the timestamp is verified when the policy names a tsa store, unless verifyTimestamp is
  // afterCertExpiry and the chain is still valid; otherwise the chain must be valid now.
  const tsaStores = input.policy.trustStores.filter((s) => s.type === 'tsa');
  const expiredNow = validityProblem(chain, input.now);
  const perform =
    tsaStores.length > 0 && !(input.policy.verifyTimestamp === 'afterCertExpiry' && expiredNow === undefined);
  if (!perform)
    return expiredNow ? bad(expiredNow) : good(`chain valid at verification time ${input.now.toISOString()}`);
  if (!env.timestampToken) return bad('no timestamp countersignature was found in the signature envelope');
  const roots = tsaStores.flatMap((s) => input.store.certificates.get(`tsa:${s.name}`) ?? []);
  if (roots.length === 0)
    return bad(`the tsa trust stores ${tsaStores.map((s) => `tsa:${s.name}`).join(', ')} hold no certificate`);
  let ts: VerifiedTimestamp;
  try {
    ts = verifyTimestampToken(env.timestampToken, env.signature, roots);
  } catch (err) {
    return bad(
      err instanceof TimestampError ? err.message : `the timestamp token could not be read (${(err as Error).message})`,
    );
  }
  for (const cert of chain) {
    if (ts.from < cert.notBefore)
      return bad(
        `timestamp can be before certificate "${cert.subject}" validity period, it will be valid from ${cert.notBefore.toUTCString()}`,
      );
    if (ts.to > cert.notAfter)
      return bad(
        `timestamp can be after certificate "${cert.subject}" validity period, it was expired at ${cert.notAfter.toUTCString()}`,
      );
  }
  return good(
    `timestamped by "${ts.tsa}" at ${ts.genTime.toISOString()} (range ${ts.from.toISOString()} to ${ts.to.toISOString()}); the chain was valid then`,
    {
      timestamp: {
        genTime: ts.genTime.toISOString(),
        from: ts.from.toISOString(),
        to: ts.to.toISOString(),
        tsa: ts.tsa,
      },
    },
  );
}
