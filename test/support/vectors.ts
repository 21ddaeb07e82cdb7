/**
 * Reads the shared signature test vectors (`../shared/vectors`, real notation/cosign output) in place: they
 * are never copied into the project. Tests that need them skip with one line when the folder is absent.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import type { RegistryClient } from '../../src/adapters/ports';
import { join, resolve } from 'node:path';
import type { Requirement } from './required';
import {
  buildTrustStore,
  parseTrustPolicyDocument,
  type TrustPolicyDocument,
  type TrustStore,
  type TrustStoreFile,
} from '../../src/core/signatures';

/** Root of the shared vectors. */
export const VECTORS = resolve(__dirname, '../../../shared/vectors');
/** True when the vectors are present. */
export const haveVectors = existsSync(join(VECTORS, 'README.md'));
/** The vectors as a requirement of a test block (see `describeRequiring` in ./required). */
export const sharedVectors: Requirement = {
  present: haveVectors,
  what: `the shared test vectors (${VECTORS})`,
  how: 'they sit in ../shared beside the checkout',
};
/** The subject image of notation's e2e layouts. */
export const E2E_SUBJECT = {
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: 'sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9',
  size: 517,
};

/** Bytes of a file under the vectors folder. */
export function vector(path: string): Buffer {
  return readFileSync(join(VECTORS, path));
}

/** A trust policy document from notation's e2e trust policies. */
export function e2ePolicy(file = 'trustpolicy.json'): TrustPolicyDocument {
  return parseTrustPolicyDocument(JSON.parse(vector(`notation/config/trustpolicies/${file}`).toString('utf8')));
}

/** A trust store made of named `ca` stores, each from vector certificate files. */
export function storeOf(stores: Record<string, string[]>, type: TrustStoreFile['type'] = 'ca'): TrustStore {
  return buildTrustStore(
    Object.entries(stores).flatMap(([name, files]) =>
      files.map((f) => ({ type, name, file: f.split('/').pop() as string, bytes: vector(f) })),
    ),
  );
}

/** One OCI layout of notation's e2e data: its blobs and the signature manifests found in it. */
export interface Layout {
  dir: string;
  blob(digest: string): Buffer;
  /** Signature manifests whose subject is `subject` (scan of all manifest blobs, OCI-layout semantics). */
  signatures(
    subject: string,
  ): Array<{ digest: string; manifest: Record<string, unknown>; envelope: Buffer; envelopeMediaType: string }>;
}

/** Opens `notation/registry/oci_layout/<name>`, or a layout at a path under the vectors (a name with a `/`). */
export function layout(name: string): Layout {
  const dir = name.includes('/') ? join(VECTORS, name) : join(VECTORS, 'notation/registry/oci_layout', name);
  const blob = (digest: string): Buffer => readFileSync(join(dir, 'blobs', ...digest.split(':')));
  return {
    dir,
    blob,
    signatures(subject) {
      const out: ReturnType<Layout['signatures']> = [];
      for (const hex of readdirSync(join(dir, 'blobs/sha256'))) {
        let m: Record<string, unknown>;
        try {
          m = JSON.parse(blob(`sha256:${hex}`).toString('utf8')) as Record<string, unknown>;
        } catch {
          continue;
        }
        const subj = m.subject as { digest?: string } | undefined;
        if (subj?.digest !== subject) continue;
        const layer = (m.layers as Array<{ digest: string; mediaType: string }>)[0];
        out.push({
          digest: `sha256:${hex}`,
          manifest: m,
          envelope: blob(layer.digest),
          envelopeMediaType: layer.mediaType,
        });
      }
      return out;
    },
  };
}

/** Pushes an OCI image layout as it is: blobs, then manifests by digest, then its tags. */
export async function pushLayout(client: RegistryClient, repository: string, name: string): Promise<void> {
  const l = layout(name);
  const manifests: Array<{ digest: string; bytes: Buffer; mediaType: string }> = [];
  for (const hex of readdirSync(join(l.dir, 'blobs/sha256'))) {
    const bytes = l.blob(`sha256:${hex}`);
    let mediaType: string | undefined;
    try {
      mediaType = (JSON.parse(bytes.toString('utf8')) as { mediaType?: string }).mediaType;
    } catch {
      mediaType = undefined;
    }
    if (mediaType?.startsWith('application/vnd.oci.image.'))
      manifests.push({ digest: `sha256:${hex}`, bytes, mediaType });
    else await client.putBlob(repository, bytes);
  }
  // Subjects before the manifests that refer to them (image manifests before signature manifests and indexes).
  const rank = (m: { bytes: Buffer; mediaType: string }): number =>
    m.mediaType.endsWith('index.v1+json') ? 2 : m.bytes.includes('"subject"') ? 1 : 0;
  manifests.sort((a, b) => rank(a) - rank(b));
  for (const m of manifests) await client.putManifest(repository, m.digest, m.bytes, m.mediaType);
  const index = JSON.parse(readFileSync(join(l.dir, 'index.json'), 'utf8')) as {
    manifests: Array<{ digest: string; mediaType: string; annotations?: Record<string, string> }>;
  };
  for (const m of index.manifests) {
    const tag = m.annotations?.['org.opencontainers.image.ref.name'];
    if (tag) await client.putManifest(repository, tag, l.blob(m.digest), m.mediaType);
  }
}
