/**
 * notation's trust policy document (`trustpolicy.json`, version 1.0) and trust store, validated with
 * errors that name the JSON path. The same files a team uses with `notation verify` work here unchanged.
 * cosign public keys have no place in notation's format, so acr-guard keeps them in a separate file,
 * `cosign-keys.json` ({@link parseCosignKeysDocument}), naming `cosign/<store>/*.pub` folders per trust policy
 * entry. The older form, a `cosign:<name>` entry in a policy's `trustStores`, is still read (notation's
 * `policy import` refuses it, so a file using it can no longer be shared with notation).
 * Pure: the file reading lives in `adapters/trustStoreFiles.ts`.
 */
import { GuardError, ErrorCodes } from '../errors';
import { isJsonObject, JsonReader } from '../jsonReader';
import {
  type CertInfo,
  CertificateParseError,
  parseCertificate,
  parseDistinguishedName,
  splitPem,
  subjectMatches,
} from './x509';
import { createPublicKey, type KeyObject } from 'node:crypto';

/** Verification levels of the spec. */
export type VerificationLevel = 'strict' | 'permissive' | 'audit' | 'skip';
/** The validations a level governs. */
export type ValidationName = 'integrity' | 'authenticity' | 'authenticTimestamp' | 'expiry' | 'revocation';
/** What a level does with a validation. */
export type ValidationAction = 'enforce' | 'log' | 'skip';

/** The spec's table: what each level does with each validation. */
export const LEVEL_ACTIONS: Record<VerificationLevel, Record<ValidationName, ValidationAction>> = {
  strict: {
    integrity: 'enforce',
    authenticity: 'enforce',
    authenticTimestamp: 'enforce',
    expiry: 'enforce',
    revocation: 'enforce',
  },
  permissive: {
    integrity: 'enforce',
    authenticity: 'enforce',
    authenticTimestamp: 'log',
    expiry: 'log',
    revocation: 'log',
  },
  audit: { integrity: 'enforce', authenticity: 'log', authenticTimestamp: 'log', expiry: 'log', revocation: 'log' },
  skip: { integrity: 'skip', authenticity: 'skip', authenticTimestamp: 'skip', expiry: 'skip', revocation: 'skip' },
};

/** Trust store types: notation's three plus acr-guard's cosign keys. */
export type TrustStoreType = 'ca' | 'signingAuthority' | 'tsa' | 'cosign';
const STORE_TYPES: readonly TrustStoreType[] = ['ca', 'signingAuthority', 'tsa', 'cosign'];

/** One validated trust policy. */
export interface TrustPolicy {
  name: string;
  /** `*` or `registry/repository` entries. */
  registryScopes: string[];
  level: VerificationLevel;
  /** The level's actions with the policy's overrides applied. */
  actions: Record<ValidationName, ValidationAction>;
  verifyTimestamp: 'always' | 'afterCertExpiry';
  /** `type:name` references, e.g. `ca:acme`. */
  trustStores: Array<{ type: TrustStoreType; name: string }>;
  /** `*` (any identity), or subject attribute sets. */
  trustedIdentities: '*' | Array<{ text: string; attributes: Map<string, string[]> }>;
}

/** A validated `trustpolicy.json`. */
export interface TrustPolicyDocument {
  version: '1.0';
  trustPolicies: TrustPolicy[];
}

const NAME_RE = /^[A-Za-z0-9_.-]+$/;

/** The core JSON reader speaking `INVALID_CONFIG`: `trust policy: <path>: expected …, got …`. */
const reader = new JsonReader({
  code: ErrorCodes.INVALID_CONFIG,
  source: 'trust policy',
  root: '', // paths are the caller's own ('$' for the document), shown as given
});

function fail(path: string, expected: string, got: unknown): GuardError {
  return reader.fail(path, expected, got);
}

function stringArray(value: unknown, path: string): string[] {
  if (!Array.isArray(value) || value.length === 0) throw fail(path, 'a non-empty array of strings', value);
  value.forEach((v, i) => {
    if (typeof v !== 'string' || v.length === 0) throw fail(`${path}[${i}]`, 'a non-empty string', v);
  });
  const dup = value.findIndex((v, i) => value.indexOf(v) !== i);
  if (dup >= 0) throw fail(`${path}[${dup}]`, 'each entry once', value[dup]);
  return value as string[];
}

const SCOPE_RE = /^[a-z0-9.-]+(:[0-9]+)?\/[a-z0-9]+([._-][a-z0-9]+|__|\/[a-z0-9]+)*$/;

/**
 * Validates a parsed `trustpolicy.json` (notation's rules: version 1.0, unique names, `*` alone, no scope
 * in two policies, `integrity` not overridable, stores and identities absent exactly when level is skip,
 * identities `*` alone or `x509.subject:` with at least C, ST and O).
 */
export function parseTrustPolicyDocument(json: unknown): TrustPolicyDocument {
  if (!isJsonObject(json)) throw fail('$', 'a JSON object', json);
  const doc = json;
  if (doc.version !== '1.0') throw fail('version', '"1.0"', doc.version);
  if (!Array.isArray(doc.trustPolicies) || doc.trustPolicies.length === 0)
    throw fail('trustPolicies', 'a non-empty array', doc.trustPolicies);
  const names = new Set<string>();
  const scopes = new Map<string, string>();
  let wildcard: string | undefined;
  const trustPolicies = doc.trustPolicies.map((item, i): TrustPolicy => {
    const path = `trustPolicies[${i}]`;
    if (!isJsonObject(item)) throw fail(path, 'an object', item);
    const p = item;
    if (typeof p.name !== 'string' || !NAME_RE.test(p.name))
      throw fail(`${path}.name`, 'a name of [A-Za-z0-9_.-]', p.name);
    if (names.has(p.name)) throw fail(`${path}.name`, 'a name used by one policy only', p.name);
    names.add(p.name);
    const registryScopes = stringArray(p.registryScopes, `${path}.registryScopes`);
    registryScopes.forEach((scope, j) => {
      const at = `${path}.registryScopes[${j}]`;
      if (scope === '*') {
        if (registryScopes.length > 1) throw fail(at, '"*" as the only scope of its policy', scope);
        if (wildcard) throw fail(at, `"*" in one policy only (also in ${wildcard})`, scope);
        wildcard = p.name as string;
      } else {
        if (!SCOPE_RE.test(scope)) throw fail(at, '"*" or a repository "registry/path" without tag or digest', scope);
        const other = scopes.get(scope);
        if (other) throw fail(at, `a scope used by one policy only (also in ${other})`, scope);
        scopes.set(scope, p.name as string);
      }
    });
    const sv = p.signatureVerification;
    if (!isJsonObject(sv)) throw fail(`${path}.signatureVerification`, 'an object with "level"', sv);
    const v = sv;
    if (typeof v.level !== 'string' || !Object.hasOwn(LEVEL_ACTIONS, v.level))
      throw fail(`${path}.signatureVerification.level`, 'strict, permissive, audit or skip', v.level);
    const level = v.level as VerificationLevel;
    const actions = { ...LEVEL_ACTIONS[level] };
    if (v.override !== undefined) {
      if (level === 'skip')
        throw fail(`${path}.signatureVerification.override`, 'no override with level skip', v.override);
      if (!isJsonObject(v.override)) throw fail(`${path}.signatureVerification.override`, 'an object', v.override);
      for (const [key, action] of Object.entries(v.override)) {
        const at = `${path}.signatureVerification.override.${key}`;
        if (key === 'integrity') throw fail(at, 'no override of integrity (it is always enforced)', action);
        if (!['authenticity', 'authenticTimestamp', 'expiry', 'revocation'].includes(key))
          throw fail(at, 'one of authenticity, authenticTimestamp, expiry, revocation', key);
        if (action !== 'enforce' && action !== 'log' && action !== 'skip')
          throw fail(at, 'enforce, log or skip', action);
        if (key === 'authenticity' && action === 'skip')
          throw fail(at, 'enforce or log (authenticity cannot be skipped)', action);
        actions[key as ValidationName] = action;
      }
    }
    let verifyTimestamp: TrustPolicy['verifyTimestamp'] = 'always';
    if (v.verifyTimestamp !== undefined) {
      if (v.verifyTimestamp !== 'always' && v.verifyTimestamp !== 'afterCertExpiry')
        throw fail(`${path}.signatureVerification.verifyTimestamp`, 'always or afterCertExpiry', v.verifyTimestamp);
      verifyTimestamp = v.verifyTimestamp;
    }
    if (level === 'skip') {
      if (p.trustStores !== undefined && !(Array.isArray(p.trustStores) && p.trustStores.length === 0))
        throw fail(`${path}.trustStores`, 'no trust stores with level skip', p.trustStores);
      if (
        p.trustedIdentities !== undefined &&
        !(Array.isArray(p.trustedIdentities) && p.trustedIdentities.length === 0)
      )
        throw fail(`${path}.trustedIdentities`, 'no trusted identities with level skip', p.trustedIdentities);
      return { name: p.name, registryScopes, level, actions, verifyTimestamp, trustStores: [], trustedIdentities: [] };
    }
    const trustStores = stringArray(p.trustStores, `${path}.trustStores`).map((ref, j) =>
      parseStoreRef(ref, `${path}.trustStores[${j}]`),
    );
    return {
      name: p.name,
      registryScopes,
      level,
      actions,
      verifyTimestamp,
      trustStores,
      trustedIdentities: parseIdentities(p.trustedIdentities, `${path}.trustedIdentities`),
    };
  });
  return { version: '1.0', trustPolicies };
}

function parseStoreRef(ref: string, path: string): { type: TrustStoreType; name: string } {
  const colon = ref.indexOf(':');
  const type = ref.slice(0, colon) as TrustStoreType;
  const name = ref.slice(colon + 1);
  if (colon <= 0 || !STORE_TYPES.includes(type) || !NAME_RE.test(name))
    throw fail(path, '"ca:<name>", "signingAuthority:<name>", "tsa:<name>" or "cosign:<name>"', ref);
  return { type, name };
}

function parseIdentities(value: unknown, path: string): TrustPolicy['trustedIdentities'] {
  const list = stringArray(value, path);
  if (list.includes('*')) {
    if (list.length > 1) throw fail(path, '"*" alone or a list of x509.subject identities', value);
    return '*';
  }
  const parsed = list.map((text, i) => {
    const at = `${path}[${i}]`;
    if (!text.startsWith('x509.subject:')) throw fail(at, '"x509.subject:<distinguished name>"', text);
    const attributes = parseDistinguishedName(text.slice('x509.subject:'.length));
    if (!attributes) throw fail(at, 'a well-formed distinguished name (C=.., ST=.., O=.., ...)', text);
    for (const required of ['C', 'ST', 'O'])
      if (!attributes.has(required)) throw fail(at, `a distinguished name with ${required}`, text);
    return { text, attributes };
  });
  // notation refuses identities where one matches everything another does (one would make the other moot).
  parsed.forEach((a, i) =>
    parsed.forEach((b, j) => {
      if (i !== j && subjectMatches(a.attributes, b.attributes))
        throw fail(`${path}[${j}]`, `identities that do not overlap (${a.text} already covers it)`, b.text);
    }),
  );
  return parsed;
}

/**
 * The policy for an artifact: the one named by the gate rule when given, otherwise the one whose scopes
 * list `registry/repository`, otherwise the `*` policy. Undefined when none applies.
 */
export function selectTrustPolicy(doc: TrustPolicyDocument, scope: string, name?: string): TrustPolicy | undefined {
  if (name !== undefined) return doc.trustPolicies.find((p) => p.name === name);
  return (
    doc.trustPolicies.find((p) => p.registryScopes.includes(scope)) ??
    doc.trustPolicies.find((p) => p.registryScopes.includes('*'))
  );
}

/** One file of a trust store as read from disk: `x509/<type>/<name>/<file>` or `cosign/<name>/<file>`. */
export interface TrustStoreFile {
  type: TrustStoreType;
  name: string;
  file: string;
  bytes: Buffer;
}

/** Parsed trust stores, keyed by `type:name`. Built once and reused (the "warm" trust store). */
export interface TrustStore {
  certificates: Map<string, CertInfo[]>;
  cosignKeys: Map<string, KeyObject[]>;
}

/**
 * Parses trust store files. `ca` and `signingAuthority` stores hold CA or self-signed certificates, `tsa`
 * stores self-signed roots (notation's rules); `cosign` stores PEM public keys. Errors name the file.
 */
export function buildTrustStore(files: TrustStoreFile[]): TrustStore {
  const store: TrustStore = { certificates: new Map(), cosignKeys: new Map() };
  for (const f of files) {
    const where = f.type === 'cosign' ? `cosign/${f.name}/${f.file}` : `x509/${f.type}/${f.name}/${f.file}`;
    const key = `${f.type}:${f.name}`;
    if (f.type === 'cosign') {
      let k: KeyObject;
      try {
        k = createPublicKey(f.bytes);
      } catch {
        throw new GuardError(
          ErrorCodes.INVALID_CONFIG,
          `trust store ${where}: expected a PEM public key (cosign.pub)`,
          { field: where },
        );
      }
      const details = k.asymmetricKeyDetails ?? {};
      const weak =
        k.asymmetricKeyType === 'rsa' && (details.modulusLength ?? 0) < 2048
          ? `RSA ${details.modulusLength}-bit key is too weak (at least 2048)`
          : undefined;
      if (weak) throw new GuardError(ErrorCodes.INVALID_CONFIG, `trust store ${where}: ${weak}`, { field: where });
      store.cosignKeys.set(key, [...(store.cosignKeys.get(key) ?? []), k]);
      continue;
    }
    let certs: CertInfo[];
    try {
      certs = splitPem(f.bytes).map(parseCertificate);
    } catch (err) {
      const why = err instanceof CertificateParseError ? err.message : 'unreadable';
      throw new GuardError(
        ErrorCodes.INVALID_CONFIG,
        `trust store ${where}: expected PEM or DER X.509 certificates: ${why}`,
        { field: where },
      );
    }
    for (const cert of certs) {
      const isCa = cert.basicConstraints?.ca === true;
      if (f.type === 'tsa' ? !(isCa && cert.selfSigned) : !isCa && !cert.selfSigned) {
        const need = f.type === 'tsa' ? 'a self-signed root CA certificate' : 'a CA or self-signed signing certificate';
        throw new GuardError(
          ErrorCodes.INVALID_CONFIG,
          `trust store ${where}: certificate "${cert.subject}" is not ${need}`,
          { field: where },
        );
      }
    }
    store.certificates.set(key, [...(store.certificates.get(key) ?? []), ...certs]);
  }
  return store;
}

/** The same policy at another level (the level's own actions, no overrides): for tests and what-if runs. */
export function atLevel(policy: TrustPolicy, level: VerificationLevel): TrustPolicy {
  return { ...policy, level, actions: { ...LEVEL_ACTIONS[level] } };
}

/** acr-guard's cosign keys file: which `cosign/<store>/*.pub` key folders each trust policy entry trusts. */
export const COSIGN_KEYS_FILE = 'cosign-keys.json';

const keysReader = new JsonReader({
  code: ErrorCodes.INVALID_CONFIG,
  source: 'cosign keys file',
  root: '', // paths are the caller's own ('$' for the document), shown as given
});

function keysFail(path: string, expected: string, got: unknown): GuardError {
  return keysReader.fail(path, expected, got);
}

/**
 * Applies a parsed `cosign-keys.json` to a validated trust policy document:
 * `{ "version": "1.0", "cosignKeys": [{ "trustPolicy": "<entry name>", "stores": ["<store>", ...] }] }`.
 * Each entry adds `cosign:<store>` to the named trust policy entry, so a cosign signature is checked at that
 * entry's level with those keys. Refused with the JSON path: an unknown key, an entry name the trust policy
 * does not define (or defines at level skip, which verifies nothing), a store name outside [A-Za-z0-9_.-],
 * an entry or store listed twice.
 */
export function parseCosignKeysDocument(json: unknown, doc: TrustPolicyDocument): TrustPolicyDocument {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw keysFail('$', 'a JSON object', json);
  const file = json as Record<string, unknown>;
  for (const key of Object.keys(file))
    if (key !== 'version' && key !== 'cosignKeys') throw keysFail(key, 'only "version" and "cosignKeys"', key);
  if (file.version !== '1.0') throw keysFail('version', '"1.0"', file.version);
  if (!Array.isArray(file.cosignKeys)) throw keysFail('cosignKeys', 'an array', file.cosignKeys);
  const added = new Map<string, string[]>();
  file.cosignKeys.forEach((item, i) => {
    const path = `cosignKeys[${i}]`;
    if (typeof item !== 'object' || item === null || Array.isArray(item))
      throw keysFail(path, 'an object { trustPolicy, stores }', item);
    const entry = item as Record<string, unknown>;
    for (const key of Object.keys(entry))
      if (key !== 'trustPolicy' && key !== 'stores')
        throw keysFail(`${path}.${key}`, '"trustPolicy" and "stores"', key);
    const name = entry.trustPolicy;
    const policy = doc.trustPolicies.find((p) => p.name === name);
    if (typeof name !== 'string' || !policy)
      throw keysFail(
        `${path}.trustPolicy`,
        `the name of an entry of trustpolicy.json (${doc.trustPolicies.map((p) => p.name).join(', ')})`,
        name,
      );
    if (policy.level === 'skip') throw keysFail(`${path}.trustPolicy`, 'an entry whose level is not skip', name);
    if (added.has(name)) throw keysFail(`${path}.trustPolicy`, 'each entry once', name);
    if (!Array.isArray(entry.stores) || entry.stores.length === 0)
      throw keysFail(`${path}.stores`, 'a non-empty array of key folder names (cosign/<name>/*.pub)', entry.stores);
    const stores = entry.stores.map((store, j) => {
      if (typeof store !== 'string' || !NAME_RE.test(store))
        throw keysFail(`${path}.stores[${j}]`, 'a name of [A-Za-z0-9_.-]', store);
      if (entry.stores && (entry.stores as unknown[]).indexOf(store) !== j)
        throw keysFail(`${path}.stores[${j}]`, 'each store once', store);
      return store;
    });
    added.set(name, stores);
  });
  return {
    version: '1.0',
    trustPolicies: doc.trustPolicies.map((p) => {
      const stores = added.get(p.name);
      if (!stores) return p;
      const have = new Set(p.trustStores.map((s) => `${s.type}:${s.name}`));
      const extra = stores
        .filter((name) => !have.has(`cosign:${name}`))
        .map((name) => ({ type: 'cosign' as const, name }));
      return { ...p, trustStores: [...p.trustStores, ...extra] };
    }),
  };
}
