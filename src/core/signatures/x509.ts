/**
 * X.509 certificate facts and checks for signature verification (Notary Project signature specification,
 * "Certificate Requirements"). Parsing and signature checks use `node:crypto`; the extensions node does
 * not expose (key usage bits, criticality, basic constraints) are decoded with `@peculiar/asn1-x509`.
 * Pure: no I/O, time passed in.
 */
import { X509Certificate, createHash } from 'node:crypto';
import type * as Asn1Schema from '@peculiar/asn1-schema';
import type * as Asn1X509 from '@peculiar/asn1-x509';
import type { Certificate } from '@peculiar/asn1-x509';

// The ASN.1 libraries are loaded on the first certificate parsed: a cold start that verifies no signature
// does not pay for them (their schema decorators run at load).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const asn1Schema = (): typeof Asn1Schema => require('@peculiar/asn1-schema');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const asn1X509 = (): typeof Asn1X509 => require('@peculiar/asn1-x509');

/** OIDs used by the checks. */
export const Oids = {
  codeSigning: '1.3.6.1.5.5.7.3.3',
  timeStamping: '1.3.6.1.5.5.7.3.8',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  anyExtendedKeyUsage: '2.5.29.37.0',
} as const;

/** Signature algorithms of certificates that are too weak to trust (MD5, SHA-1). */
const WEAK_CERT_SIGNATURE_OIDS = new Map([
  ['1.2.840.113549.1.1.4', 'md5WithRSAEncryption'],
  ['1.2.840.113549.1.1.5', 'sha1WithRSAEncryption'],
  ['1.2.840.10045.4.1', 'ecdsa-with-SHA1'],
  ['1.2.840.10040.4.3', 'dsa-with-sha1'],
]);

/** A parsed certificate: node's object plus the extension facts the checks need. */
export interface CertInfo {
  x509: X509Certificate;
  /** DER bytes. */
  raw: Buffer;
  /** Subject as `CN=…, O=…` (RFC 4514 order as node prints it, joined with ", "). */
  subject: string;
  /** Subject attributes: type (upper case) → values. */
  subjectAttributes: Map<string, string[]>;
  notBefore: Date;
  notAfter: Date;
  /** undefined when the extension is absent. */
  basicConstraints?: { ca: boolean; pathLength?: number; critical: boolean };
  keyUsage?: { digitalSignature: boolean; keyCertSign: boolean; critical: boolean };
  extKeyUsage?: string[];
  /** Subject key identifier, when the extension is present (CMS signers may be named by it). */
  subjectKeyId?: Buffer;
  /** Key algorithm facts: `rsa` with bits, or `ec` with curve. */
  key: { type: 'rsa'; bits: number } | { type: 'ec'; curve: string } | { type: 'other'; name: string };
  /** Name of the certificate's own signature algorithm when it is a weak one. */
  weakSignatureAlgorithm?: string;
  selfSigned: boolean;
  /** Hex sha256 of the DER, for messages. */
  sha256: string;
}

/** Thrown by {@link parseCertificate} for bytes that are not one well-formed certificate. */
export class CertificateParseError extends Error {}

const CURVES: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

/** How many parsed certificates are kept (most images of a registry are signed by a handful of certificates). */
export const CERT_CACHE_SIZE = 512;
const certCache = new Map<string, CertInfo>();

/**
 * Parses one DER (or PEM) certificate. Throws {@link CertificateParseError} on malformed input, nothing else.
 * Parsed certificates are memoised by the sha256 of their bytes (parsing the extensions costs ~1.5 ms; a
 * signer's certificate repeats across every image it signed). The result is never mutated.
 */
export function parseCertificate(bytes: Buffer): CertInfo {
  const key = createHash('sha256').update(bytes).digest('hex');
  const hit = certCache.get(key);
  if (hit) return hit;
  const info = parseUncached(bytes);
  if (certCache.size >= CERT_CACHE_SIZE) certCache.delete(certCache.keys().next().value as string);
  certCache.set(key, info);
  return info;
}

function parseUncached(bytes: Buffer): CertInfo {
  try {
    return parseCertificateFields(bytes);
  } catch (err) {
    // node's X509Certificate getters (public key, names) can throw on odd certificates that parsed.
    if (err instanceof CertificateParseError) throw err;
    throw new CertificateParseError(`not a usable X.509 certificate (${(err as Error).message})`);
  }
}

function parseCertificateFields(bytes: Buffer): CertInfo {
  const { AsnConvert } = asn1Schema();
  const { BasicConstraints, Certificate, ExtendedKeyUsage, KeyUsage, KeyUsageFlags, SubjectKeyIdentifier } = asn1X509();
  const { id_ce_basicConstraints, id_ce_extKeyUsage, id_ce_keyUsage, id_ce_subjectKeyIdentifier } = asn1X509();
  let x509: X509Certificate;
  let asn: Certificate;
  try {
    x509 = new X509Certificate(bytes);
    asn = AsnConvert.parse(x509.raw, Certificate);
  } catch (err) {
    throw new CertificateParseError(`not a well-formed X.509 certificate (${(err as Error).message})`);
  }
  const info: Partial<CertInfo> = {};
  try {
    for (const ext of asn.tbsCertificate.extensions ?? []) {
      if (ext.extnID === id_ce_basicConstraints) {
        const bc = AsnConvert.parse(ext.extnValue, BasicConstraints);
        info.basicConstraints = { ca: bc.cA, pathLength: bc.pathLenConstraint, critical: ext.critical };
      } else if (ext.extnID === id_ce_keyUsage) {
        const ku = AsnConvert.parse(ext.extnValue, KeyUsage);
        info.keyUsage = {
          digitalSignature: (ku.toNumber() & KeyUsageFlags.digitalSignature) !== 0,
          keyCertSign: (ku.toNumber() & KeyUsageFlags.keyCertSign) !== 0,
          critical: ext.critical,
        };
      } else if (ext.extnID === id_ce_extKeyUsage) {
        info.extKeyUsage = [...AsnConvert.parse(ext.extnValue, ExtendedKeyUsage)].map(String);
      } else if (ext.extnID === id_ce_subjectKeyIdentifier) {
        info.subjectKeyId = Buffer.from(AsnConvert.parse(ext.extnValue, SubjectKeyIdentifier).buffer);
      }
    }
  } catch (err) {
    throw new CertificateParseError(`certificate has a malformed extension (${(err as Error).message})`);
  }
  const details = x509.publicKey.asymmetricKeyDetails ?? {};
  const keyType = x509.publicKey.asymmetricKeyType;
  const key: CertInfo['key'] =
    keyType === 'rsa'
      ? { type: 'rsa', bits: details.modulusLength ?? 0 }
      : keyType === 'ec'
        ? { type: 'ec', curve: CURVES[details.namedCurve ?? ''] ?? details.namedCurve ?? 'unknown' }
        : { type: 'other', name: keyType ?? 'unknown' };
  const notBefore = new Date(x509.validFrom);
  const notAfter = new Date(x509.validTo);
  if (Number.isNaN(notBefore.getTime()) || Number.isNaN(notAfter.getTime()))
    throw new CertificateParseError('certificate validity dates are unreadable');
  const lines = x509.subject.split('\n').filter((l) => l.length > 0);
  return {
    ...info,
    x509,
    raw: x509.raw,
    subject: lines.join(', '),
    subjectAttributes: attributesOf(lines),
    notBefore,
    notAfter,
    key,
    weakSignatureAlgorithm: WEAK_CERT_SIGNATURE_OIDS.get(asn.signatureAlgorithm.algorithm),
    // Not checkIssued(): OpenSSL also demands keyCertSign of the issuer, which a self-signed leaf lacks.
    selfSigned: x509.subject === x509.issuer && safeVerify(x509, x509),
    sha256: x509.fingerprint256.replace(/:/g, '').toLowerCase(),
  };
}

/** Splits a PEM bundle into DER certificates; a non-PEM buffer is taken as one DER certificate. */
export function splitPem(bytes: Buffer): Buffer[] {
  const text = bytes.toString('latin1');
  if (!text.includes('-----BEGIN')) return [bytes];
  const out: Buffer[] = [];
  const re = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----/g;
  for (let m = re.exec(text); m; m = re.exec(text)) out.push(Buffer.from(m[1].replace(/\s+/g, ''), 'base64'));
  if (out.length === 0) throw new CertificateParseError('PEM file holds no CERTIFICATE block');
  return out;
}

function attributesOf(lines: string[]): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const line of lines) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const type = line.slice(0, eq).toUpperCase();
    map.set(type, [...(map.get(type) ?? []), line.slice(eq + 1)]);
  }
  return map;
}

function safeVerify(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/** Key size/algorithm limits of the spec: RSA 2048/3072/4096, ECDSA P-256/P-384/P-521. Returns a problem or undefined. */
export function keyProblem(cert: CertInfo, role: 'signing' | 'CA'): string | undefined {
  const k = cert.key;
  if (k.type === 'rsa') {
    if (role === 'signing' && ![2048, 3072, 4096].includes(k.bits))
      return `RSA ${k.bits}-bit key is not allowed for signing (2048, 3072 or 4096)`;
    if (k.bits < 2048) return `RSA ${k.bits}-bit key is too weak (at least 2048)`;
    return undefined;
  }
  if (k.type === 'ec')
    return ['P-256', 'P-384', 'P-521'].includes(k.curve)
      ? undefined
      : `EC curve ${k.curve} is not allowed (P-256, P-384 or P-521)`;
  return `key type ${k.name} is not allowed (RSA or ECDSA)`;
}

/** Notary Project requirements on a signing (leaf) certificate; returns the problems found. */
export function signingCertProblems(cert: CertInfo, purpose: 'codeSigning' | 'timeStamping' = 'codeSigning'): string[] {
  const problems: string[] = [];
  const who = `certificate "${cert.subject}"`;
  if (cert.basicConstraints?.ca) problems.push(`${who} is a CA certificate and cannot sign`);
  if (!cert.keyUsage) problems.push(`${who} has no key usage extension (digitalSignature is required)`);
  else {
    if (!cert.keyUsage.digitalSignature) problems.push(`${who}: key usage must include digitalSignature`);
    if (cert.keyUsage.keyCertSign) problems.push(`${who}: key usage must not include keyCertSign`);
  }
  if (cert.extKeyUsage) {
    const wanted = purpose === 'codeSigning' ? Oids.codeSigning : Oids.timeStamping;
    if (!cert.extKeyUsage.includes(wanted)) problems.push(`${who}: extended key usage must include ${purpose}`);
    const forbidden =
      purpose === 'codeSigning'
        ? [Oids.anyExtendedKeyUsage, Oids.serverAuth, Oids.emailProtection, Oids.timeStamping]
        : [Oids.anyExtendedKeyUsage];
    for (const oid of forbidden)
      if (cert.extKeyUsage.includes(oid)) problems.push(`${who}: extended key usage must not include ${oid}`);
  }
  const key = keyProblem(cert, 'signing');
  if (key) problems.push(`${who}: ${key}`);
  if (cert.weakSignatureAlgorithm)
    problems.push(`${who} is signed with ${cert.weakSignatureAlgorithm}, which is too weak`);
  return problems;
}

/** Requirements on a CA certificate in a chain (basicConstraints CA, keyCertSign, key limits). */
export function caCertProblems(cert: CertInfo, below: number): string[] {
  const problems: string[] = [];
  const who = `CA certificate "${cert.subject}"`;
  if (!cert.basicConstraints?.ca) problems.push(`${who} is not marked as a CA (basicConstraints)`);
  else if (cert.basicConstraints.pathLength !== undefined && below > cert.basicConstraints.pathLength)
    problems.push(`${who}: path length ${below} exceeds its limit ${cert.basicConstraints.pathLength}`);
  if (cert.keyUsage && !cert.keyUsage.keyCertSign) problems.push(`${who}: key usage must include keyCertSign`);
  const key = keyProblem(cert, 'CA');
  if (key) problems.push(`${who}: ${key}`);
  if (cert.weakSignatureAlgorithm && !cert.selfSigned)
    problems.push(`${who} is signed with ${cert.weakSignatureAlgorithm}, which is too weak`);
  return problems;
}

/**
 * Validates an ordered chain (leaf first): the leaf meets the signing requirements, each certificate is
 * issued and signed by the next, CAs meet theirs, and the last one is self-signed (a root). A single
 * self-signed leaf is a valid chain. Returns the problems (empty when valid).
 */
export function chainProblems(chain: CertInfo[], purpose: 'codeSigning' | 'timeStamping' = 'codeSigning'): string[] {
  if (chain.length === 0) return ['the certificate chain is empty'];
  const problems = signingCertProblems(chain[0], purpose);
  for (let i = 0; i + 1 < chain.length; i++) {
    const cert = chain[i];
    const issuer = chain[i + 1];
    if (!cert.x509.checkIssued(issuer.x509) || !safeVerify(cert.x509, issuer.x509)) {
      problems.push(
        `certificate "${cert.subject}" is not issued and signed by the next certificate in the chain "${issuer.subject}"`,
      );
    }
    problems.push(...caCertProblems(issuer, i));
  }
  const root = chain[chain.length - 1];
  if (!root.selfSigned) problems.push(`the last certificate in the chain "${root.subject}" is not a self-signed root`);
  return problems;
}

/** The first certificate that is not valid at `at`, with a message in notation's words; undefined when all are. */
export function validityProblem(chain: CertInfo[], at: Date): string | undefined {
  for (const cert of chain) {
    if (at < cert.notBefore)
      return `verification time is before certificate "${cert.subject}" validity period, it will be valid from ${cert.notBefore.toUTCString()}`;
    if (at > cert.notAfter)
      return `verification time is after certificate "${cert.subject}" validity period, it was expired at ${cert.notAfter.toUTCString()}`;
  }
  return undefined;
}

/**
 * Parses an RFC 4514-style distinguished name (`C=US, ST=WA, O=Contoso, CN=signer`) into attributes.
 * Escaped commas (`\,`) stay inside values. Returns undefined when malformed.
 */
export function parseDistinguishedName(text: string): Map<string, string[]> | undefined {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\\' && i + 1 < text.length) {
      current += text[i + 1];
      i++;
    } else if (ch === ',' || ch === '+') {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  const map = new Map<string, string[]>();
  for (const raw of parts) {
    const part = raw.trim();
    const eq = part.indexOf('=');
    if (eq <= 0) return undefined;
    const type = part.slice(0, eq).trim().toUpperCase();
    const value = part.slice(eq + 1).trim();
    if (!/^[A-Z][A-Z0-9.-]*$/.test(type) || value.length === 0 || value.startsWith('#')) return undefined;
    map.set(type, [...(map.get(type) ?? []), value]);
  }
  return map;
}

/** True when every attribute of `wanted` appears with the same value in `subject` (notation's subset match). */
export function subjectMatches(wanted: Map<string, string[]>, subject: Map<string, string[]>): boolean {
  for (const [type, values] of wanted) {
    const have = subject.get(type) ?? [];
    if (!values.every((v) => have.includes(v))) return false;
  }
  return true;
}
