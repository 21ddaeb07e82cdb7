/**
 * The signed verdict a release carries: an in-toto Statement v1 with the SLSA Verification Summary Attestation
 * (VSA) v1 predicate, wrapped in a DSSE envelope the way `cosign attest` stores it, so stock
 * `cosign verify-attestation --key … --type https://slsa.dev/verification_summary/v1` verifies it.
 *
 * Pure: building the statement, the DSSE pre-authentication encoding (PAE), the cosign attestation manifest
 * shape, and {@link checkVsa} (what a consumer requires of a VSA) over bytes and a public key. Signing is an
 * adapter's job (a PEM file or a Key Vault key); fetching one from a registry too.
 */
import { createHash, createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { ErrorCodes, GuardError } from './errors';
import { sha256HexOf } from './digest';
import type { Check, Verdict } from './types';

/** The VSA predicate type (SLSA v1.0 `docs/spec/v1.0/verification_summary.md`). */
export const VSA_PREDICATE_TYPE = 'https://slsa.dev/verification_summary/v1';
/** The in-toto Statement type. */
export const IN_TOTO_STATEMENT_V1 = 'https://in-toto.io/Statement/v1';
/** DSSE payload type of an in-toto statement. */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
/** Media type of a layer holding a DSSE envelope (cosign's attestation layers). */
export const DSSE_MEDIA_TYPE = 'application/vnd.dsse.envelope.v1+json';
/** The annotation cosign puts on every signature/attestation layer (empty for an attestation). */
export const COSIGN_SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
/** Marks the attestation layer acr-guard wrote, so a new verdict replaces it instead of piling up. */
export const VSA_LAYER_ANNOTATION = 'dev.acr-guard/vsa';
/** Extension field (a URI, as the VSA spec asks of extensions) carrying the gate's checks and their results. */
export const VSA_CHECKS_FIELD = 'https://github.com/acr-guard/vsa/checks/v1';
/** Largest DSSE envelope read back from a registry. */
export const MAX_VSA_ENVELOPE_BYTES = 1024 * 1024;
/** Checks listed in a VSA (the worst first; the rest counted). */
export const MAX_VSA_CHECKS = 100;

/** An in-toto resource descriptor with a sha256 digest. */
export interface VsaResource {
  uri: string;
  digest: { sha256: string };
}

/** The statement acr-guard signs. */
export interface VsaStatement {
  _type: typeof IN_TOTO_STATEMENT_V1;
  subject: Array<{ name: string; digest: { sha256: string } }>;
  predicateType: typeof VSA_PREDICATE_TYPE;
  predicate: {
    verifier: { id: string };
    timeVerified: string;
    resourceUri: string;
    policy: VsaResource;
    inputAttestations: VsaResource[];
    verificationResult: 'PASSED' | 'FAILED';
    verifiedLevels: string[];
    slsaVersion: '1.0';
    [VSA_CHECKS_FIELD]: {
      decision: Verdict['decision'];
      summary: string;
      rule: string;
      checks: Array<Pick<Check, 'name' | 'status' | 'reason' | 'manifest'>>;
      omittedChecks?: number;
    };
  };
}

/** Input of {@link buildVsaStatement}. */
export interface VsaInput {
  verdict: Verdict;
  /** Where the verdict's image lives now (`host/repository`: the release repository after a promotion). */
  repository: string;
  /** `verifier.id`: who verified (a URI). */
  verifierId: string;
  /** Where the policy lives (a URI); its hash is the verdict's policy hash. */
  policyUri: string;
  /** The reports and signatures the verdict used, by digest (`uri` is `host/repository@digest`). */
  inputAttestations: VsaResource[];
}

/** `sha256:<hex>` → `<hex>`; refuses another algorithm (a VSA subject digest is sha256 here). */
function sha256Hex(digest: string, field: string): string {
  const hex = sha256HexOf(digest);
  if (hex === undefined)
    throw new GuardError(ErrorCodes.INVALID_INPUT, `${field}: expected a sha256 digest, got ${digest}`, { field });
  return hex;
}

/** The policy hash of a verdict (`sha256:<hex>` or bare hex) as bare hex. */
export function policyHashHex(hash: string): string {
  return hash.startsWith('sha256:') ? hash.slice(7) : hash;
}

/** Builds the VSA statement of a verdict (pure; time is the verdict's decision time). */
export function buildVsaStatement(input: VsaInput): VsaStatement {
  const { verdict } = input;
  const hex = sha256Hex(verdict.image.digest, 'verdict.image.digest');
  const passed = verdict.decision === 'release';
  const order: Record<string, number> = { fail: 0, inconclusive: 1, pass: 2, skip: 3 };
  const checks = [...verdict.checks]
    .sort((a, b) => (order[a.status] ?? 9) - (order[b.status] ?? 9))
    .map((c) => ({
      name: c.name,
      status: c.status,
      reason: c.reason.length > 300 ? `${c.reason.slice(0, 300)}…` : c.reason,
      ...(c.manifest ? { manifest: c.manifest } : {}),
    }));
  return {
    _type: IN_TOTO_STATEMENT_V1,
    subject: [{ name: input.repository, digest: { sha256: hex } }],
    predicateType: VSA_PREDICATE_TYPE,
    predicate: {
      verifier: { id: input.verifierId },
      timeVerified: verdict.decidedAt,
      resourceUri: `${input.repository}@${verdict.image.digest}`,
      policy: { uri: input.policyUri, digest: { sha256: policyHashHex(verdict.policy.hash) } },
      inputAttestations: input.inputAttestations,
      verificationResult: passed ? 'PASSED' : 'FAILED',
      // acr-guard verifies vulnerabilities and signatures against a policy, not build provenance: level 0.
      verifiedLevels: passed ? ['SLSA_BUILD_LEVEL_0'] : ['FAILED'],
      slsaVersion: '1.0',
      [VSA_CHECKS_FIELD]: {
        decision: verdict.decision,
        summary: verdict.summary.length > 500 ? `${verdict.summary.slice(0, 500)}…` : verdict.summary,
        rule: verdict.rule,
        checks: checks.slice(0, MAX_VSA_CHECKS),
        ...(checks.length > MAX_VSA_CHECKS ? { omittedChecks: checks.length - MAX_VSA_CHECKS } : {}),
      },
    },
  };
}

/** The DSSE v1 pre-authentication encoding: what is signed. */
export function dssePae(payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${type.length} `, 'utf8'),
    type,
    Buffer.from(` ${payload.length} `, 'utf8'),
    payload,
  ]);
}

/** A DSSE envelope as cosign writes it. */
export interface DsseEnvelope {
  payloadType: string;
  payload: string;
  signatures: Array<{ keyid: string; sig: string }>;
}

/** The DSSE envelope of a payload and its (ASN.1 DER, as cosign expects of ECDSA) signature. */
export function dsseEnvelope(payload: Buffer, signatureDer: Buffer, keyid = ''): Buffer {
  const envelope: DsseEnvelope = {
    payloadType: IN_TOTO_PAYLOAD_TYPE,
    payload: payload.toString('base64'),
    signatures: [{ keyid, sig: signatureDer.toString('base64') }],
  };
  return Buffer.from(JSON.stringify(envelope), 'utf8');
}

/**
 * The image config cosign writes beside its attestation layers (its `rootfs.diff_ids` are the layer digests),
 * reproduced so the manifest is the shape `cosign verify-attestation` reads.
 */
export function cosignAttestationConfig(layerDigests: string[]): Buffer {
  return Buffer.from(
    JSON.stringify({
      architecture: '',
      created: '0001-01-01T00:00:00Z',
      history: [{ created: '0001-01-01T00:00:00Z' }],
      os: '',
      rootfs: { type: 'layers', diff_ids: layerDigests },
      config: {},
    }),
    'utf8',
  );
}

/** cosign's attestation tag of a digest: `sha256-<hex>.att`. */
export function cosignAttestationTag(digest: string): string {
  return `${digest.replace(':', '-')}.att`;
}

/** Converts an IEEE P1363 (r||s) ECDSA signature (Key Vault's form) to ASN.1 DER (cosign's form). */
export function p1363ToDer(raw: Buffer): Buffer {
  if (raw.length === 0 || raw.length % 2 !== 0)
    throw new GuardError(ErrorCodes.MALFORMED, `ECDSA signature: ${raw.length} bytes is not an r||s pair`);
  const half = raw.length / 2;
  const integer = (bytes: Buffer): Buffer => {
    let i = 0;
    while (i < bytes.length - 1 && bytes[i] === 0) i++;
    let v = bytes.subarray(i);
    if (v[0] & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
    return Buffer.concat([Buffer.from([0x02, v.length]), v]);
  };
  const body = Buffer.concat([integer(raw.subarray(0, half)), integer(raw.subarray(half))]);
  const length = body.length < 0x80 ? Buffer.from([body.length]) : Buffer.from([0x81, body.length]);
  return Buffer.concat([Buffer.from([0x30]), length, body]);
}

/** What {@link checkVsa} requires. */
export interface VsaRequirement {
  /** The digest the VSA must name. */
  digest: string;
  /** The verifier's public key (PEM or a KeyObject). */
  publicKey: string | KeyObject;
  /** The current policy hash (`sha256:<hex>` or hex); absent: any policy. */
  policyHash?: string;
  /** The verifier id the VSA must carry; absent: any. */
  verifierId?: string;
}

/** The outcome of {@link checkVsa}. */
export type VsaCheck =
  | { ok: true; statement: VsaStatement }
  | { ok: false; code: typeof ErrorCodes.VSA_REJECTED; reason: string };

/** `timeVerified` as epoch ms; an unreadable time counts as the newest (it can then only refuse: stale). */
export function vsaVerifiedAt(statement: VsaStatement): number {
  const t = Date.parse(String(statement.predicate.timeVerified));
  return Number.isNaN(t) ? Number.POSITIVE_INFINITY : t;
}

/**
 * The VSA that speaks for a digest among those signed by the key: the newest by `timeVerified`, and on a tie a
 * FAILED one (fail closed), so a later block is never outvoted by an older release still attached.
 */
export function newestVsa<T extends { statement: VsaStatement }>(signed: readonly T[]): T | undefined {
  if (signed.length === 0) return undefined;
  return signed.reduce((a, b) => {
    const d = vsaVerifiedAt(b.statement) - vsaVerifiedAt(a.statement);
    if (d > 0 || Number.isNaN(d)) return b;
    if (d < 0) return a;
    return b.statement.predicate.verificationResult !== 'PASSED' ? b : a;
  });
}

function reject(reason: string): VsaCheck {
  return { ok: false, code: ErrorCodes.VSA_REJECTED, reason };
}

/**
 * Checks one DSSE envelope (bytes, as read from a registry) against what a consumer requires: signed by the
 * key, an in-toto statement with the VSA predicate, naming this digest, `PASSED`, and (when given) the current
 * policy hash. Pure; never throws on hostile input (bounded by {@link MAX_VSA_ENVELOPE_BYTES}).
 */
export function checkVsa(envelopeBytes: Buffer, want: VsaRequirement): VsaCheck {
  const opened = openVsa(envelopeBytes, want);
  if (!opened.ok) return opened;
  const p = opened.statement.predicate;
  if (p.verificationResult !== 'PASSED')
    return reject(`verificationResult is ${JSON.stringify(p.verificationResult)}, not "PASSED"`);
  if (want.verifierId !== undefined && p.verifier?.id !== want.verifierId)
    return reject(`verifier.id is ${JSON.stringify(p.verifier?.id)}, not ${JSON.stringify(want.verifierId)}`);
  if (want.policyHash !== undefined && p.policy?.digest?.sha256 !== policyHashHex(want.policyHash))
    return reject(
      `the policy hash is ${JSON.stringify(p.policy?.digest?.sha256)}, not the current ${policyHashHex(want.policyHash)}`,
    );
  return opened;
}

/**
 * The first half of {@link checkVsa}: the envelope is signed by the key and carries an in-toto statement with the
 * VSA predicate whose subject names the digest, whatever its `verificationResult` (a consumer that must see a
 * FAILED verdict newer than a PASSED one reads both). Pure; never throws on hostile input.
 */
export function openVsa(envelopeBytes: Buffer, want: Pick<VsaRequirement, 'digest' | 'publicKey'>): VsaCheck {
  if (envelopeBytes.length > MAX_VSA_ENVELOPE_BYTES)
    return reject(`the envelope is ${envelopeBytes.length} bytes, over the ${MAX_VSA_ENVELOPE_BYTES}-byte limit`);
  let envelope: DsseEnvelope;
  try {
    envelope = JSON.parse(envelopeBytes.toString('utf8')) as DsseEnvelope;
  } catch {
    return reject('the envelope is not JSON');
  }
  if (!envelope || typeof envelope !== 'object' || typeof envelope.payload !== 'string')
    return reject('the envelope has no payload');
  if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE)
    return reject(`the payload type is ${JSON.stringify(envelope.payloadType)}, not ${IN_TOTO_PAYLOAD_TYPE}`);
  if (!Array.isArray(envelope.signatures) || envelope.signatures.length === 0)
    return reject('the envelope carries no signature');
  let key: KeyObject;
  try {
    key = typeof want.publicKey === 'string' ? createPublicKey(want.publicKey) : want.publicKey;
  } catch {
    return reject('the public key is not a PEM public key');
  }
  const payload = Buffer.from(envelope.payload, 'base64');
  const pae = dssePae(envelope.payloadType, payload);
  const signed = envelope.signatures.some((s) => {
    if (!s || typeof s.sig !== 'string') return false;
    try {
      return cryptoVerify('sha256', pae, key, Buffer.from(s.sig, 'base64'));
    } catch {
      return false;
    }
  });
  if (!signed) return reject('no signature of the envelope verifies with the given key');
  let statement: VsaStatement;
  try {
    statement = JSON.parse(payload.toString('utf8')) as VsaStatement;
  } catch {
    return reject('the signed payload is not JSON');
  }
  if (!statement || typeof statement !== 'object') return reject('the signed payload is not a statement');
  if (statement._type !== IN_TOTO_STATEMENT_V1) return reject(`_type is not ${IN_TOTO_STATEMENT_V1}`);
  if (statement.predicateType !== VSA_PREDICATE_TYPE) return reject(`predicateType is not ${VSA_PREDICATE_TYPE}`);
  const hex = sha256HexOf(want.digest);
  if (!hex) return reject(`the required digest ${want.digest} is not a sha256 digest`);
  const names = Array.isArray(statement.subject) && statement.subject.some((s) => s?.digest?.sha256 === hex);
  if (!names) return reject(`the statement's subject does not name ${want.digest}`);
  const p = statement.predicate;
  if (!p || typeof p !== 'object') return reject('the statement has no predicate');
  return { ok: true, statement };
}

/** sha256 of bytes as `sha256:<hex>`. */
export function sha256Digest(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** `host/repository` of an image (a VSA's subject name). */
export function vsaRepositoryName(image: Verdict['image'], repository = image.repository): string {
  return `${image.registry}/${repository}`;
}
