/**
 * RFC 3161 timestamp countersignatures of Notary Project signatures: the token (CMS SignedData over a
 * TSTInfo) must be signed by a time-stamping certificate that chains to a root in the policy's `tsa`
 * stores, and its message imprint must be the hash of the envelope's raw signature bytes. The result is the
 * time range [genTime - accuracy, genTime + accuracy]. CMS structures are decoded with `@peculiar/asn1-cms`;
 * TSTInfo (which no installed schema covers) with `asn1js`, which that library is built on. Pure.
 */
import { createHash, verify as cryptoVerify, constants } from 'node:crypto';
import type * as Asn1Schema from '@peculiar/asn1-schema';
import type * as Asn1Cms from '@peculiar/asn1-cms';
import type { SignedData } from '@peculiar/asn1-cms';
import type * as Asn1js from 'asn1js';

// The ASN.1 libraries are loaded on the first timestamp verified (their schema decorators run at load).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const asn1Schema = (): typeof Asn1Schema => require('@peculiar/asn1-schema');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const asn1Cms = (): typeof Asn1Cms => require('@peculiar/asn1-cms');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const asn1jsLib = (): typeof Asn1js => require('asn1js');
import { type CertInfo, CertificateParseError, caCertProblems, parseCertificate, signingCertProblems } from './x509';

/** Thrown for a token that cannot be trusted; the message says why. */
export class TimestampError extends Error {}

const OID = {
  tstInfo: '1.2.840.113549.1.9.16.1.4',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
  rsaEncryption: '1.2.840.113549.1.1.1',
  rsaPss: '1.2.840.113549.1.1.10',
  sha256WithRSA: '1.2.840.113549.1.1.11',
  sha384WithRSA: '1.2.840.113549.1.1.12',
  sha512WithRSA: '1.2.840.113549.1.1.13',
  ecdsaSha256: '1.2.840.10045.4.3.2',
  ecdsaSha384: '1.2.840.10045.4.3.3',
  ecdsaSha512: '1.2.840.10045.4.3.4',
} as const;

const HASH_BY_OID = new Map<string, string>([
  [OID.sha256, 'sha256'],
  [OID.sha384, 'sha384'],
  [OID.sha512, 'sha512'],
]);

/** What a verified token says. */
export interface VerifiedTimestamp {
  genTime: Date;
  /** genTime - accuracy and genTime + accuracy. */
  from: Date;
  to: Date;
  /** Subject of the TSA's signing certificate. */
  tsa: string;
}

function hashOf(oid: string, what: string): string {
  const hash = HASH_BY_OID.get(oid);
  if (!hash)
    throw new TimestampError(`${what} uses an unsupported hash algorithm ${oid} (SHA-256, SHA-384 or SHA-512)`);
  return hash;
}

/** TSTInfo fields the verification needs, decoded with asn1js. */
function parseTstInfo(der: ArrayBuffer): { hashOid: string; imprint: Buffer; genTime: Date; accuracyMs: number } {
  const asn1js = asn1jsLib();
  const parsed = asn1js.fromBER(der);
  if (parsed.offset === -1 || !(parsed.result instanceof asn1js.Sequence))
    throw new TimestampError('TSTInfo is not a DER SEQUENCE');
  const items = parsed.result.valueBlock.value;
  const imprint = items[2];
  const genTime = items[4];
  if (!(imprint instanceof asn1js.Sequence) || !(genTime instanceof asn1js.GeneralizedTime))
    throw new TimestampError('TSTInfo lacks messageImprint or genTime');
  const [alg, digest] = imprint.valueBlock.value;
  const algOid = alg instanceof asn1js.Sequence ? alg.valueBlock.value[0] : undefined;
  if (!(algOid instanceof asn1js.ObjectIdentifier) || !(digest instanceof asn1js.OctetString))
    throw new TimestampError('TSTInfo messageImprint is malformed');
  let accuracyMs = 0;
  const accuracy = items[5];
  if (accuracy instanceof asn1js.Sequence) {
    for (const part of accuracy.valueBlock.value) {
      if (part instanceof asn1js.Integer) accuracyMs += part.valueBlock.valueDec * 1000;
      else if (part.idBlock.tagClass === 3 && part.idBlock.tagNumber === 0) accuracyMs += intOf(part);
      else if (part.idBlock.tagClass === 3 && part.idBlock.tagNumber === 1) accuracyMs += intOf(part) / 1000;
    }
  }
  return {
    hashOid: algOid.valueBlock.toString(),
    imprint: Buffer.from(digest.valueBlock.valueHexView),
    genTime: genTime.toDate(),
    accuracyMs,
  };
}

function intOf(node: Asn1js.AsnType): number {
  const bytes = Buffer.from((node as Asn1js.Primitive).valueBlock.valueHexView);
  return bytes.reduce((n, b) => n * 256 + b, 0);
}

function verifyCmsSignature(
  signer: CertInfo,
  algorithmOid: string,
  digestHash: string,
  data: Buffer,
  signature: Buffer,
): boolean {
  const key = signer.x509.publicKey;
  try {
    switch (algorithmOid) {
      case OID.rsaEncryption:
        return cryptoVerify(digestHash, data, { key, padding: constants.RSA_PKCS1_PADDING }, signature);
      case OID.sha256WithRSA:
      case OID.sha384WithRSA:
      case OID.sha512WithRSA:
        return cryptoVerify(
          { [OID.sha256WithRSA]: 'sha256', [OID.sha384WithRSA]: 'sha384', [OID.sha512WithRSA]: 'sha512' }[algorithmOid],
          data,
          { key, padding: constants.RSA_PKCS1_PADDING },
          signature,
        );
      case OID.rsaPss:
        return cryptoVerify(
          digestHash,
          data,
          { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO },
          signature,
        );
      case OID.ecdsaSha256:
      case OID.ecdsaSha384:
      case OID.ecdsaSha512:
        return cryptoVerify(
          { [OID.ecdsaSha256]: 'sha256', [OID.ecdsaSha384]: 'sha384', [OID.ecdsaSha512]: 'sha512' }[algorithmOid],
          data,
          key,
          signature,
        );
      default:
        return false;
    }
  } catch {
    return false;
  }
}

/**
 * Verifies an RFC 3161 token countersigning `signature` (the envelope's raw signature bytes) against the
 * `tsa` roots. Throws {@link TimestampError} naming the first problem.
 */
export function verifyTimestampToken(token: Buffer, signature: Buffer, roots: CertInfo[]): VerifiedTimestamp {
  const { AsnConvert } = asn1Schema();
  const { ContentInfo, SignedData, id_signedData } = asn1Cms();
  let signed: SignedData;
  try {
    const info = AsnConvert.parse(token, ContentInfo);
    if (info.contentType !== id_signedData) throw new TimestampError('the timestamp token is not CMS SignedData');
    signed = AsnConvert.parse(info.content, SignedData);
  } catch (err) {
    if (err instanceof TimestampError) throw err;
    throw new TimestampError(`the timestamp token is not valid CMS (${(err as Error).message})`);
  }
  if (signed.encapContentInfo.eContentType !== OID.tstInfo)
    throw new TimestampError('the timestamp token does not hold a TSTInfo (eContentType)');
  const eContent = signed.encapContentInfo.eContent?.single?.buffer ?? signed.encapContentInfo.eContent?.any;
  if (!eContent) throw new TimestampError('the timestamp token has no TSTInfo content');
  const content = Buffer.from(eContent as ArrayBuffer);
  const tst = parseTstInfo(
    content.buffer.slice(content.byteOffset, content.byteOffset + content.byteLength) as ArrayBuffer,
  );

  if (signed.signerInfos.length !== 1)
    throw new TimestampError(`the timestamp token has ${signed.signerInfos.length} signers, expected one`);
  const si = signed.signerInfos[0];
  const certs: CertInfo[] = [];
  for (const choice of signed.certificates ?? []) {
    if (!choice.certificate) continue;
    try {
      certs.push(parseCertificate(Buffer.from(AsnConvert.serialize(choice.certificate))));
    } catch (err) {
      if (err instanceof CertificateParseError)
        throw new TimestampError(`the timestamp token carries a malformed certificate (${err.message})`);
      throw err;
    }
  }
  const sid = si.sid.issuerAndSerialNumber;
  const ski = si.sid.subjectKeyIdentifier ? Buffer.from(si.sid.subjectKeyIdentifier.buffer) : undefined;
  const signer = sid
    ? certs.find((c) => Buffer.from(c.x509.serialNumber, 'hex').equals(trimInt(Buffer.from(sid.serialNumber))))
    : certs.find((c) => ski !== undefined && c.subjectKeyId !== undefined && c.subjectKeyId.equals(ski));
  if (!signer) throw new TimestampError('signing certificate not found in the timestamp token');
  if (!si.signedAttrs || si.signedAttrs.length === 0)
    throw new TimestampError('the timestamp token has no signed attributes');
  const digestHash = hashOf(si.digestAlgorithm.algorithm, 'the token signer');
  const attr = (oid: string): ArrayBuffer | undefined => si.signedAttrs?.find((a) => a.attrType === oid)?.attrValues[0];
  const ct = attr(OID.contentType);
  const md = attr(OID.messageDigest);
  if (!ct || oidOf(ct) !== OID.tstInfo)
    throw new TimestampError("the token signer's contentType attribute is not TSTInfo");
  if (!md || !octetsOf(md)?.equals(createHash(digestHash).update(content).digest()))
    throw new TimestampError("the token signer's messageDigest does not match the TSTInfo");
  // The signature covers the DER of the attributes as a SET OF, in the order they were received (DER order);
  // each attribute re-encodes byte for byte (its values are kept raw by the parser).
  const body = Buffer.concat(si.signedAttrs.map((a) => Buffer.from(AsnConvert.serialize(a))));
  const signedAttrs = Buffer.concat([Buffer.from([0x31]), derLength(body.length), body]);
  if (
    !verifyCmsSignature(
      signer,
      si.signatureAlgorithm.algorithm,
      digestHash,
      signedAttrs,
      Buffer.from(si.signature.buffer),
    )
  )
    throw new TimestampError('the timestamp token signature does not verify');

  const problems = signingCertProblems(signer, 'timeStamping');
  if (problems.length > 0)
    throw new TimestampError(`the timestamp signing certificate is not valid: ${problems.join('; ')}`);
  // Only a token whose signer is trusted is worth reading further: then it must countersign this signature.
  const chain = chainTo(signer, certs, roots);
  const imprintHash = hashOf(tst.hashOid, 'the message imprint');
  if (!createHash(imprintHash).update(signature).digest().equals(tst.imprint))
    throw new TimestampError('invalid TSTInfo: mismatched message (the token does not countersign this signature)');
  for (const cert of chain) {
    if (tst.genTime < cert.notBefore || tst.genTime > cert.notAfter)
      throw new TimestampError(`the timestamp's genTime is outside the validity of TSA certificate "${cert.subject}"`);
  }
  return {
    genTime: tst.genTime,
    from: new Date(tst.genTime.getTime() - tst.accuracyMs),
    to: new Date(tst.genTime.getTime() + tst.accuracyMs),
    tsa: signer.subject,
  };
}

/** DER length octets. */
function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** The OID in a DER attribute value, or undefined. */
function oidOf(der: ArrayBuffer): string | undefined {
  const asn1js = asn1jsLib();
  const node = asn1js.fromBER(der).result;
  return node instanceof asn1js.ObjectIdentifier ? node.valueBlock.toString() : undefined;
}

/** The bytes of a DER OCTET STRING attribute value, or undefined. */
function octetsOf(der: ArrayBuffer): Buffer | undefined {
  const asn1js = asn1jsLib();
  const node = asn1js.fromBER(der).result;
  return node instanceof asn1js.OctetString ? Buffer.from(node.valueBlock.valueHexView) : undefined;
}

function trimInt(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  return bytes.subarray(i);
}

/** Builds signer → … → a trusted root from the token's certificates and the tsa roots; throws when it cannot. */
function chainTo(signer: CertInfo, pool: CertInfo[], roots: CertInfo[]): CertInfo[] {
  const chain = [signer];
  let current = signer;
  for (let depth = 0; depth < 8; depth++) {
    if (roots.some((r) => r.raw.equals(current.raw))) return chain;
    const issuer = [...roots, ...pool].find(
      (c) => !c.raw.equals(current.raw) && current.x509.checkIssued(c.x509) && current.x509.verify(c.x509.publicKey),
    );
    if (!issuer) break;
    const problems = caCertProblems(issuer, depth);
    if (problems.length > 0)
      throw new TimestampError(`the timestamp certificate chain is not valid: ${problems.join('; ')}`);
    chain.push(issuer);
    if (roots.some((r) => r.raw.equals(issuer.raw))) return chain;
    current = issuer;
  }
  throw new TimestampError(
    "the timestamp token's certificate chain does not lead to a root in the tsa trust store (certificate signed by unknown authority)",
  );
}
