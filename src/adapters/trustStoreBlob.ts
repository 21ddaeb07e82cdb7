/**
 * Loads the signature trust material from Azure Blob storage with the app's managed identity: a container
 * (optionally a folder in it) holding `trustpolicy.json`, optionally acr-guard's `cosign-keys.json`, and
 * `truststore/` in notation's layout
 * (`truststore/x509/{ca,signingAuthority,tsa}/<store>/<file>`, `truststore/cosign/<store>/*.pub`), i.e. a
 * notation config folder uploaded as it is. Only the stores the trust policy names are downloaded. A loopback
 * http URL is Azurite, reached with its public development account.
 */
import type { TokenCredential } from '@azure/identity';
import type * as StorageBlob from '@azure/storage-blob';
import type { ContainerClient } from '@azure/storage-blob';
import { GuardError, ErrorCodes } from '../core/errors';
import { COSIGN_KEYS_FILE, buildTrustStore, type TrustStoreFile, type TrustStoreType } from '../core/signatures';
import { isLoopbackHost } from '../core/loopback';
import { AZURITE_DEV_ACCOUNT } from './auditStore';
import type { SignatureTrust } from './signatureVerifier';
import { applyCosignKeysText, parseTrustPolicyText } from './trustStoreFiles';

/** `@azure/storage-blob`, loaded on first use: a cold start that does not reach this adapter does not pay for it. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const storageBlob = (): typeof StorageBlob => require('@azure/storage-blob');

/** Largest trust file read (certificates and policies are a few kB). */
export const MAX_TRUST_BLOB_BYTES = 1024 * 1024;

const STORE_PATH = /^truststore\/(?:x509\/(ca|signingAuthority|tsa)|(cosign))\/([A-Za-z0-9_.-]+)\/([^/]+)$/;

/** Where the trust material lives: container client plus folder prefix (`''` or `folder/`). */
export function trustContainer(
  url: string,
  credential: TokenCredential | undefined,
  field: string,
): { container: ContainerClient; prefix: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new GuardError(
      ErrorCodes.INVALID_CONFIG,
      `${field}: expected a blob container URL such as https://<account>.blob.core.windows.net/<container>[/<folder>]`,
      { field },
    );
  }
  const azurite = u.protocol === 'http:' && isLoopbackHost(u.host);
  if (u.protocol !== 'https:' && !azurite)
    throw new GuardError(
      ErrorCodes.INVALID_CONFIG,
      `${field}: expected an https URL (http only for Azurite on loopback)`,
      { field },
    );
  if (u.search || u.hash || u.username)
    throw new GuardError(
      ErrorCodes.INVALID_CONFIG,
      `${field}: expected a URL without query, fragment or credentials (the managed identity is used)`,
      { field },
    );
  const segments = u.pathname.split('/').filter((s) => s.length > 0);
  const skip = azurite ? 1 : 0; // Azurite puts the account name first in the path.
  const containerName = segments[skip];
  if (!containerName || !/^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$/.test(containerName))
    throw new GuardError(ErrorCodes.INVALID_CONFIG, `${field}: the URL names no valid container`, { field });
  const base = `${u.protocol}//${u.host}/${segments.slice(0, skip + 1).join('/')}`;
  const folder = segments.slice(skip + 1).join('/');
  const container = azurite
    ? new (storageBlob().ContainerClient)(
        base,
        new (storageBlob().StorageSharedKeyCredential)(AZURITE_DEV_ACCOUNT.name, AZURITE_DEV_ACCOUNT.key),
      )
    : credential
      ? new (storageBlob().ContainerClient)(base, credential)
      : (() => {
          throw new GuardError(
            ErrorCodes.INVALID_CONFIG,
            `${field}: a managed identity credential is needed to read ${u.host}`,
            { field },
          );
        })();
  return { container, prefix: folder ? `${folder}/` : '' };
}

async function download(
  container: ContainerClient,
  name: string,
  size: number | undefined,
  field: string,
): Promise<Buffer> {
  if (size !== undefined && size > MAX_TRUST_BLOB_BYTES)
    throw new GuardError(
      ErrorCodes.INVALID_CONFIG,
      `${field}: blob ${name} is larger than ${MAX_TRUST_BLOB_BYTES} bytes`,
      { field },
    );
  try {
    return await container.getBlobClient(name).downloadToBuffer(0, undefined, { maxRetryRequestsPerBlock: 2 });
  } catch (err) {
    throw translate(err, `download ${name}`, field);
  }
}

function translate(err: unknown, what: string, field: string): GuardError {
  const status = (err as { statusCode?: number }).statusCode;
  if (status === 401 || status === 403)
    return new GuardError(
      ErrorCodes.INVALID_CONFIG,
      `${field}: ${what} was refused (${status}); grant the app's identity "Storage Blob Data Reader" on the container`,
      { field, status },
    );
  if (status === 404)
    return new GuardError(ErrorCodes.INVALID_CONFIG, `${field}: ${what}: not found`, { field, status });
  return new GuardError(ErrorCodes.TRANSIENT, `${field}: ${what} failed (${status ?? (err as Error).message})`, {
    status,
    cause: err,
  });
}

/** Loads `trustpolicy.json` and the stores it names from a blob container. */
export async function loadSignatureTrustFromBlob(options: {
  url: string;
  credential?: TokenCredential;
  field?: string;
}): Promise<SignatureTrust> {
  const field = options.field ?? 'trustBlobUrl';
  const { container, prefix } = trustContainer(options.url, options.credential, field);
  const blobs = new Map<string, number | undefined>();
  try {
    for await (const blob of container.listBlobsFlat({ prefix }))
      blobs.set(blob.name.slice(prefix.length), blob.properties.contentLength);
  } catch (err) {
    throw translate(err, `list ${options.url}`, field);
  }
  if (!blobs.has('trustpolicy.json'))
    throw new GuardError(
      ErrorCodes.INVALID_CONFIG,
      `${field}: ${prefix}trustpolicy.json is missing from the container`,
      { field },
    );
  let trustPolicy = parseTrustPolicyText(
    (await download(container, `${prefix}trustpolicy.json`, blobs.get('trustpolicy.json'), field)).toString('utf8'),
    `${options.url}/trustpolicy.json`,
    field,
  );
  if (blobs.has(COSIGN_KEYS_FILE))
    trustPolicy = applyCosignKeysText(
      (await download(container, `${prefix}${COSIGN_KEYS_FILE}`, blobs.get(COSIGN_KEYS_FILE), field)).toString('utf8'),
      `${options.url}/${COSIGN_KEYS_FILE}`,
      field,
      trustPolicy,
    );
  const named = new Set(trustPolicy.trustPolicies.flatMap((p) => p.trustStores.map((s) => `${s.type}:${s.name}`)));
  const files: TrustStoreFile[] = [];
  for (const [path, size] of blobs) {
    if (!path.startsWith('truststore/')) continue;
    const m = STORE_PATH.exec(path);
    if (!m)
      throw new GuardError(
        ErrorCodes.INVALID_CONFIG,
        `${field}: blob ${prefix}${path} is not in notation's trust store layout (truststore/x509/<ca|signingAuthority|tsa>/<store>/<file>)`,
        { field },
      );
    const type = (m[1] ?? m[2]) as TrustStoreType;
    if (!named.has(`${type}:${m[3]}`) || (type === 'cosign' && !m[4].endsWith('.pub'))) continue;
    files.push({ type, name: m[3], file: m[4], bytes: await download(container, `${prefix}${path}`, size, field) });
  }
  return { trustPolicy, trustStore: buildTrustStore(files) };
}
