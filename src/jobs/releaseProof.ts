/**
 * A release carries its proof (issue 19): the referrers graph of the released digest (and of each platform
 * child of an index) copied into the release repository with bytes unchanged, and a signed verification summary
 * (VSA) attached to the release.
 *
 * Referrers are found through the referrers API (or the `sha256-<hex>` fallback index the registry adapter reads
 * when there is none) and cosign's tag form (`sha256-<hex>.sig|.att|.sbom`). A listed referrer is copied only
 * when its own manifest says it refers to that subject (or, for the tag form, it is not runnable): a listing is
 * written by whoever can push, and must never smuggle an image into the release repository. After a subject's
 * referrers are copied, the release repository is asked for them; those it does not list (a registry without
 * the referrers API, like docker-registry 2.8) are added to its `sha256-<hex>` fallback index, as the OCI 1.1
 * distribution spec asks clients to do. Every failure is reported in the proof, never skipped silently.
 */
import { ErrorCodes, GuardError, isGuardError } from '../core/errors';
import { hasFilesystemLayer } from '../core/indexChildren';
import { mapLimit } from '../core/mapLimit';
import {
  PROOF_BOUNDS,
  cosignTagsFor,
  proofKind,
  type ProofFailure,
  type ProofItem,
  type ReleaseProof,
} from '../core/releaseProof';
import { MediaTypes, type Descriptor } from '../core/types';
import {
  COSIGN_SIGNATURE_ANNOTATION,
  DSSE_MEDIA_TYPE,
  IN_TOTO_PAYLOAD_TYPE,
  VSA_LAYER_ANNOTATION,
  VSA_PREDICATE_TYPE,
  cosignAttestationConfig,
  cosignAttestationTag,
  dsseEnvelope,
  dssePae,
  sha256Digest,
  type VsaStatement,
} from '../core/vsa';
import type { FetchedManifest, RegistryClient } from '../adapters/ports';
import type { AttestationSigner } from '../adapters/attestationSigner';

/** Options of {@link copyReferrerGraph}. */
export interface ReferrerGraphOptions {
  /** The repository the image was pushed to. */
  from: string;
  /** The release repository; absent: only discover (quarantine mode, a block), copy nothing. */
  target?: string;
  /** The released digest and, for an index, its platform children. */
  roots: string[];
  bounds?: { maxDepth: number; maxReferrers: number; concurrency: number };
  /** Called with each manifest's digest before it is written (the local service recognises its own pushes by it). */
  beforeWrite?: (repository: string, digest: string) => void;
}

interface Found {
  digest: string;
  tag?: string;
}

function permanent(err: unknown): GuardError | undefined {
  return isGuardError(err) && err.code !== ErrorCodes.TRANSIENT ? err : undefined;
}

/** The referrers of `subject` in `from`: the API / fallback listing and cosign's tags. Transient errors throw. */
async function discover(
  client: RegistryClient,
  from: string,
  subject: string,
  failed: ProofFailure[],
): Promise<Found[]> {
  const listed = (async (): Promise<Found[]> => {
    try {
      return (await client.listReferrers(from, subject)).map((d) => ({ digest: d.digest }));
    } catch (err) {
      const e = permanent(err);
      if (!e) throw err;
      failed.push({ digest: subject, code: e.code, detail: `listing its referrers failed: ${e.message}` });
      return [];
    }
  })();
  const tagged = Promise.all(
    cosignTagsFor(subject).map(async (tag): Promise<Found | undefined> => {
      try {
        return { digest: await client.resolveTag(from, tag), tag };
      } catch (err) {
        if (isGuardError(err, ErrorCodes.NOT_FOUND)) return undefined;
        const e = permanent(err);
        if (!e) throw err;
        failed.push({ digest: subject, code: e.code, detail: `reading cosign tag ${tag} failed: ${e.message}` });
        return undefined;
      }
    }),
  );
  // Both awaited together: a transient failure of one never leaves the other's rejection unhandled.
  const [found, tags] = await Promise.all([listed, tagged]);
  for (const t of tags) if (t) found.push(t);
  return found;
}

/**
 * Whether a fetched manifest may travel as a referrer of `subject`: by content, never by the listing. An image
 * (a filesystem layer) or an index never does; an API referrer must name `subject`; a cosign tag-form artifact
 * has no subject, so its tag (`sha256-<hex of subject>.sig`) is what binds it, and it must not be runnable.
 */
function refusal(manifest: FetchedManifest, subject: string, tag: string | undefined): string | undefined {
  if (manifest.children.length > 0 || manifest.mediaType === MediaTypes.ociIndex)
    return 'it is an index; only single-manifest referrers are copied';
  if (hasFilesystemLayer(manifest.json)) return 'it has a filesystem layer (a runnable image), not a referrer';
  if (tag === undefined && manifest.subject?.digest !== subject)
    return `its subject is ${manifest.subject?.digest ?? 'absent'}, not ${subject}: the listing named a manifest that does not refer to it`;
  return undefined;
}

/** The descriptor a fallback index lists for a copied referrer, from its own manifest. */
function indexEntry(m: FetchedManifest): Descriptor {
  return {
    mediaType: m.mediaType,
    digest: m.digest,
    size: m.size,
    ...(m.artifactType ? { artifactType: m.artifactType } : {}),
    ...(m.annotations ? { annotations: m.annotations } : {}),
  };
}

/**
 * Makes `target` list `entries` as referrers of `subject`: nothing to do where its referrers API lists them
 * already; otherwise they are added to the `sha256-<hex>` fallback index (read, merged, written).
 */
async function ensureListed(
  client: RegistryClient,
  target: string,
  subject: string,
  entries: Descriptor[],
  beforeWrite?: (repository: string, digest: string) => void,
): Promise<void> {
  if (entries.length === 0) return;
  const listed = new Set((await client.listReferrers(target, subject)).map((d) => d.digest));
  const missing = entries.filter((e) => !listed.has(e.digest));
  if (missing.length === 0) return;
  const tag = subject.replace(':', '-');
  let existing: Descriptor[] = [];
  try {
    existing = (await client.getManifest(target, tag)).children;
  } catch (err) {
    if (!isGuardError(err, ErrorCodes.NOT_FOUND)) throw err;
  }
  const manifests = [...existing.filter((d) => !missing.some((m) => m.digest === d.digest)), ...missing];
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests }));
  beforeWrite?.(target, sha256Digest(bytes));
  await client.putManifest(target, tag, bytes, MediaTypes.ociIndex);
}

/** Copies one referrer manifest (its blobs first, mounted where the registry can) by digest, and its tag. */
async function copyOne(
  client: RegistryClient,
  from: string,
  target: string,
  manifest: FetchedManifest,
  tag: string | undefined,
  mounts: Map<string, Promise<void>>,
  beforeWrite?: (repository: string, digest: string) => void,
): Promise<void> {
  for (const blob of manifest.blobs) {
    // Referrers share blobs (oras's empty config above all): each is mounted once per walk, and copies running
    // at once wait for the same mount instead of racing it (docker-registry 2.8 answers such races with a 500).
    let mounted = mounts.get(blob.digest);
    if (!mounted) {
      mounted = client.mountBlob(target, blob.digest, from);
      mounts.set(blob.digest, mounted);
      mounted.catch(() => mounts.delete(blob.digest));
    }
    await mounted;
  }
  beforeWrite?.(target, manifest.digest);
  const put = await client.putManifest(target, manifest.digest, manifest.bytes, manifest.mediaType);
  if (put !== manifest.digest)
    throw new GuardError(
      ErrorCodes.DIGEST_MISMATCH,
      `${target}: the registry stored ${put} for referrer ${manifest.digest}; the copy is not faithful`,
    );
  if (tag) await client.putManifest(target, tag, manifest.bytes, manifest.mediaType);
}

/**
 * Walks (and, with a `target`, copies) the referrers graph of `roots`, breadth first, within the bounds. A
 * referrer that cannot be read, is refused, or lies beyond a bound is a failure in the result; transient errors
 * throw (the activity is retried; copies are idempotent).
 */
export async function copyReferrerGraph(client: RegistryClient, options: ReferrerGraphOptions): Promise<ReleaseProof> {
  const bounds = options.bounds ?? PROOF_BOUNDS;
  const { from, target } = options;
  const items: ProofItem[] = [];
  const failed: ProofFailure[] = [];
  const seen = new Set(options.roots);
  let copied = 0;
  let full = false;
  const mounts = new Map<string, Promise<void>>();
  let level = options.roots.map((digest) => digest);
  for (let depth = 1; level.length > 0 && !full; depth++) {
    const next: string[] = [];
    // A level's subjects are asked at once (each: its listing and cosign's three tags); then copied in order.
    const discovered = await mapLimit(level, bounds.concurrency, (subject) => discover(client, from, subject, failed));
    for (const [index, subject] of level.entries()) {
      const found = discovered[index].filter((f) => !seen.has(f.digest));
      if (found.length === 0) continue;
      if (depth > bounds.maxDepth) {
        for (const f of found)
          failed.push({
            digest: f.digest,
            code: ErrorCodes.PROOF_TOO_DEEP,
            detail: `a referrer of ${subject} at depth ${depth}, deeper than ${bounds.maxDepth} (PROOF_BOUNDS.maxDepth); not copied`,
          });
        continue;
      }
      const room = bounds.maxReferrers - items.length;
      const taken = found.slice(0, Math.max(0, room));
      if (found.length > taken.length) {
        full = true;
        failed.push({
          digest: subject,
          code: ErrorCodes.PROOF_TOO_MANY_REFERRERS,
          detail: `the release has more than ${bounds.maxReferrers} referrers (PROOF_BOUNDS.maxReferrers); ${found.length - taken.length} of ${subject} and any further ones were not copied`,
        });
      }
      for (const f of taken) seen.add(f.digest);
      const entries: Descriptor[] = [];
      await mapLimit(taken, bounds.concurrency, async (f) => {
        let manifest: FetchedManifest;
        try {
          manifest = await client.getManifest(from, f.digest);
          const why = refusal(manifest, subject, f.tag);
          if (why) throw new GuardError(ErrorCodes.REGISTRY_REJECTED, `referrer ${f.digest} was refused: ${why}`);
          if (target) await copyOne(client, from, target, manifest, f.tag, mounts, options.beforeWrite);
        } catch (err) {
          const e = permanent(err);
          if (!e) throw err;
          failed.push({ digest: f.digest, code: e.code, detail: e.message });
          return;
        }
        if (target) copied++;
        if (!f.tag) entries.push(indexEntry(manifest));
        items.push({
          kind: proofKind(manifest.artifactType, f.tag),
          digest: f.digest,
          subject,
          ...(manifest.artifactType ? { artifactType: manifest.artifactType } : {}),
          ...(f.tag ? { tag: f.tag } : {}),
        });
        next.push(f.digest);
      });
      if (target) {
        try {
          await ensureListed(client, target, subject, entries, options.beforeWrite);
        } catch (err) {
          const e = permanent(err);
          if (!e) throw err;
          failed.push({
            digest: subject,
            code: e.code,
            detail: `the release repository does not list its ${entries.length} copied referrer(s): ${e.message}`,
          });
        }
      }
      if (full) break;
    }
    level = next;
  }
  return { copied, failed, items };
}

/**
 * Signs a VSA statement and attaches it to `repository@digest` the way `cosign attest` does: a DSSE envelope
 * layer (`dev.cosignproject.cosign/signature`, `predicateType`) in the manifest tagged `sha256-<hex>.att`. Other
 * attestations under that tag are kept; an earlier acr-guard VSA is replaced (one verdict per digest: the latest).
 */
export async function attachVsa(
  client: RegistryClient,
  repository: string,
  digest: string,
  statement: VsaStatement,
  signer: AttestationSigner,
  beforeWrite?: (repository: string, digest: string) => void,
): Promise<{ digest: string; tag: string }> {
  const payload = Buffer.from(JSON.stringify(statement), 'utf8');
  const signature = await signer.sign(dssePae(IN_TOTO_PAYLOAD_TYPE, payload));
  const envelope = dsseEnvelope(payload, signature);
  const layerDigest = await client.putBlob(repository, envelope);
  const tag = cosignAttestationTag(digest);
  let kept: Descriptor[] = [];
  try {
    const existing = await client.getManifest(repository, tag);
    kept = existing.blobs.slice(1).filter((l) => l.annotations?.[VSA_LAYER_ANNOTATION] === undefined);
  } catch (err) {
    if (!isGuardError(err, ErrorCodes.NOT_FOUND)) throw err;
  }
  const layers: Descriptor[] = [
    ...kept.filter((l) => l.digest !== layerDigest),
    {
      mediaType: DSSE_MEDIA_TYPE,
      size: envelope.length,
      digest: layerDigest,
      annotations: {
        [COSIGN_SIGNATURE_ANNOTATION]: '',
        predicateType: VSA_PREDICATE_TYPE,
        [VSA_LAYER_ANNOTATION]: 'true',
      },
    },
  ];
  const config = cosignAttestationConfig(layers.map((l) => l.digest));
  const configDigest = await client.putBlob(repository, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      config: { mediaType: MediaTypes.ociConfig, size: config.length, digest: configDigest },
      layers,
    }),
  );
  beforeWrite?.(repository, sha256Digest(manifest));
  const put = await client.putManifest(repository, tag, manifest, MediaTypes.ociManifest);
  return { digest: put, tag };
}
