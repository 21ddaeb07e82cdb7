/**
 * Reads notation's trust policy file and trust store directory from disk (the same layout `notation cert
 * add` writes: `x509/{ca,signingAuthority,tsa}/<store>/<cert files>`, plus acr-guard's `cosign/<store>/*.pub`),
 * and acr-guard's `cosign-keys.json` beside the trust policy file (which cosign key stores each entry trusts).
 * Symbolic links are refused (the spec forbids them in a trust store) and so are sub-directories inside a
 * named store (notation-go's choice), each with an error naming the path.
 */
import { lstat, readdir } from 'node:fs/promises';
import { MAX_OPERATOR_FILE_BYTES, readBoundedFile } from './boundedFile';
import { dirname, join } from 'node:path';
import { GuardError, ErrorCodes } from '../core/errors';
import type { SignatureTrust } from './signatureVerifier';
import {
  COSIGN_KEYS_FILE,
  buildTrustStore,
  parseCosignKeysDocument,
  parseTrustPolicyDocument,
  type TrustPolicyDocument,
  type TrustStore,
  type TrustStoreFile,
  type TrustStoreType,
} from '../core/signatures';

/** Most bytes of a `trustpolicy.json` read from disk. */
export const MAX_TRUST_POLICY_FILE_BYTES = MAX_OPERATOR_FILE_BYTES;
/** Most bytes of one certificate or key file in a trust store directory (a PEM chain is a few KiB). */
export const MAX_TRUST_STORE_FILE_BYTES = 256 * 1024;

/** Reads and validates a `trustpolicy.json`. */
export async function loadTrustPolicyFile(path: string, field = 'trustPolicy'): Promise<TrustPolicyDocument> {
  const text = (
    await readBoundedFile(path, { maxBytes: MAX_TRUST_POLICY_FILE_BYTES, field, what: 'trust policy file' })
  ).toString('utf8');
  return parseTrustPolicyText(text, path, field);
}

/** Parses and validates the text of a `trustpolicy.json` read from `where`. */
export function parseTrustPolicyText(text: string, where: string, field: string): TrustPolicyDocument {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new GuardError(ErrorCodes.INVALID_CONFIG, `${field}: trust policy ${where} is not JSON`, { field });
  }
  return parseTrustPolicyDocument(json);
}

async function entries(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/**
 * Reads the stores under `root` (a notation trust store directory) and parses them: only those named in
 * `only` (`type:name`) when given, as notation reads only the stores a policy names, so an unrelated bad
 * store does not break verification.
 */
export async function loadTrustStoreDir(
  root: string,
  field = 'trustStore',
  only?: ReadonlySet<string>,
): Promise<TrustStore> {
  const rootStat = await lstat(root).catch(() => undefined);
  if (!rootStat?.isDirectory())
    throw new GuardError(
      ErrorCodes.INVALID_CONFIG,
      `${field}: ${root} is not a directory (expected notation's trust store layout x509/ca/<name>/)`,
      { field },
    );
  const files: TrustStoreFile[] = [];
  const layouts: Array<{ type: TrustStoreType; dir: string }> = [
    { type: 'ca', dir: join(root, 'x509', 'ca') },
    { type: 'signingAuthority', dir: join(root, 'x509', 'signingAuthority') },
    { type: 'tsa', dir: join(root, 'x509', 'tsa') },
    { type: 'cosign', dir: join(root, 'cosign') },
  ];
  for (const { type, dir } of layouts) {
    for (const name of await entries(dir)) {
      if (only && !only.has(`${type}:${name}`)) continue;
      const storeDir = join(dir, name);
      const st = await lstat(storeDir);
      if (st.isSymbolicLink())
        throw new GuardError(
          ErrorCodes.INVALID_CONFIG,
          `${field}: ${storeDir} is a symbolic link; trust stores must not contain links`,
          { field },
        );
      if (!st.isDirectory()) continue;
      for (const file of await entries(storeDir)) {
        const path = join(storeDir, file);
        const fst = await lstat(path);
        if (fst.isSymbolicLink())
          throw new GuardError(
            ErrorCodes.INVALID_CONFIG,
            `${field}: ${path} is a symbolic link; trust stores must not contain links`,
            { field },
          );
        if (fst.isDirectory())
          throw new GuardError(
            ErrorCodes.INVALID_CONFIG,
            `${field}: ${path} is a directory; a named store holds certificate files only`,
            { field },
          );
        if (type === 'cosign' && !file.endsWith('.pub')) continue;
        files.push({
          type,
          name,
          file,
          bytes: await readBoundedFile(path, { maxBytes: MAX_TRUST_STORE_FILE_BYTES, field, what: 'trust store file' }),
        });
      }
    }
  }
  return buildTrustStore(files);
}

/** Parses the text of a `cosign-keys.json` read from `where` and applies it to `doc`. */
export function applyCosignKeysText(
  text: string,
  where: string,
  field: string,
  doc: TrustPolicyDocument,
): TrustPolicyDocument {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new GuardError(ErrorCodes.INVALID_CONFIG, `${field}: cosign keys file ${where} is not JSON`, { field });
  }
  try {
    return parseCosignKeysDocument(json, doc);
  } catch (err) {
    if (err instanceof GuardError) throw new GuardError(err.code, `${where}: ${err.message}`, { field });
    throw err;
  }
}

/**
 * Loads a trust policy file and the stores it names from a trust store directory: the "warm" trust material
 * the verifier keeps for the life of the process. `fields` name the settings or flags in errors. A
 * `cosign-keys.json` beside the trust policy file, when present, adds the cosign key stores it names.
 */
export async function loadSignatureTrust(
  policyFile: string,
  storeDir: string,
  fields: { policy: string; store: string } = { policy: 'trustPolicy', store: 'trustStore' },
): Promise<SignatureTrust> {
  let trustPolicy = await loadTrustPolicyFile(policyFile, fields.policy);
  const keysFile = join(dirname(policyFile), COSIGN_KEYS_FILE);
  const keysStat = await lstat(keysFile).catch(() => undefined);
  if (keysStat) {
    if (!keysStat.isFile())
      throw new GuardError(
        ErrorCodes.INVALID_CONFIG,
        `${fields.policy}: ${keysFile} is not a regular file (expected acr-guard's cosign keys file)`,
        { field: fields.policy },
      );
    const text = (
      await readBoundedFile(keysFile, {
        maxBytes: MAX_TRUST_POLICY_FILE_BYTES,
        field: fields.policy,
        what: 'cosign keys file',
      })
    ).toString('utf8');
    trustPolicy = applyCosignKeysText(text, keysFile, fields.policy, trustPolicy);
  }
  const named = new Set(trustPolicy.trustPolicies.flatMap((p) => p.trustStores.map((s) => `${s.type}:${s.name}`)));
  return { trustPolicy, trustStore: await loadTrustStoreDir(storeDir, fields.store, named) };
}
