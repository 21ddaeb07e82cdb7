/**
 * Lists every manifest of one repository with what the purge plan needs (tags, times, media type, lock,
 * subject, index children, size), through the `RegistryClient` port.
 *
 * - On ACR (`listAcrManifests`): `/acr/v1/<repo>/_manifests`, paged, gives digests, tags, created and last
 *   update times, sizes, lock attributes and index references. A manifest whose `deleteEnabled` or
 *   `writeEnabled` is false, or not reported, is locked (fail closed). ACR's listing does not say which manifest
 *   is a referrer, so the bodies of untagged non-index manifests that no index references (where signatures,
 *   SBOMs and reports live) and of manifests with a referrer tag are read for their `subject`; an index without
 *   `references` is read for its children.
 * - Elsewhere: the tags list (through the shared guard of src/core/listing.ts: a listing that loops, stalls or
 *   passes its bounds is refused, never planned on), each tag's manifest, the image
 *   config's `created` time as the age (an index: its newest child's), then every index's children and every
 *   manifest's referrers (the OCI 1.1 API, or the `sha256-<hex>` fallback tag index), recursively. A `created`
 *   before 2000 or more than a day after now (reproducible builds set 1970 or 1980) is no age: unknown. An
 *   untagged manifest that no index lists and no referrers listing names cannot be found on a plain registry
 *   (the distribution API has no "list manifests"): it is neither kept nor deleted, because the purge never sees it.
 * - Both: a subject comes only from content (src/core/purge/referrerTies.ts), never from a tag's name: a
 *   manifest's own `subject` (unless its body has a filesystem layer: then it is an image whatever it claims);
 *   a referrers fallback index (`sha256-<hex>` tag) only when every manifest it lists names that digest as its
 *   own subject; a cosign `.sig`/`.att` manifest only when its simple-signing / DSSE payloads (read, bounded)
 *   name the digest its tag names. Anything else is listed without a subject (the plan judges it as itself, or
 *   keeps it when it has only referrer-style tags).
 */
import { ErrorCodes, GuardError } from '../../core/errors';
import { collectListing, LISTING_BOUNDS, type ListingBounds } from '../../core/listing';
import type { ManifestRecord } from '../../core/purge/plan';
import { hasFilesystemLayer } from '../../core/indexChildren';
import { isReferrerTag } from '../../core/reference';
import {
  COSIGN_PAYLOAD_LIMITS,
  cosignPayloadLayers,
  digestNamedByPayload,
  tiedSubject,
  type ReadManifest,
} from '../../core/purge/referrerTies';
import { MediaTypes } from '../../core/types';
import { mapLimit } from '../../core/mapLimit';
import type { FetchedManifest, RegistryClient } from '../ports';

/** Defaults of the listing, in one place. */
export const LISTING_DEFAULTS = {
  /** Page size asked of tag and manifest listings. */
  pageSize: 1000,
  /** Manifests (and configs) read at once. */
  concurrency: 16,
  /** Most manifests one repository listing accepts (with index children and referrers found by reading them). */
  maxManifests: LISTING_BOUNDS.repositoryTags.maxEntries,
  /** Largest image config read for its `created` time. */
  maxConfigBytes: 1024 * 1024,
  /** A build time before this is no age (reproducible builds set 1970 or 1980): 2000-01-01T00:00:00Z. */
  earliestPlausibleMs: Date.UTC(2000, 0, 1),
  /** A build time later than now plus this is no age either (a clock far ahead): one day. */
  futureSlackMs: 86_400_000,
} as const;

/** Options for {@link listRepositoryManifests}. */
export interface ListingOptions {
  pageSize?: number;
  concurrency?: number;
  /** Called as manifests are found (progress displays). */
  onProgress?: (found: number) => void;
  /** Now, epoch ms: a build time more than a day after it is no age. Default: the clock when the listing starts. */
  nowMs?: number;
  /** Bounds of the tag or `_manifests` listing (default LISTING_BOUNDS.repositoryTags / acrManifests). */
  bounds?: ListingBounds;
}

const IMAGE_CONFIG_TYPES = new Set<string>([MediaTypes.ociConfig, 'application/vnd.docker.container.image.v1+json']);

/** {@link mapLimit}'s options here: the first error stops taking new items, and is thrown. */
const STOP_ON_ERROR = { stopOnError: true } as const;

/** True when a tag is cosign's signature or attestation tag (`sha256-<hex>.sig`, `.att`). */
function isCosignTag(tag: string): boolean {
  return isReferrerTag(tag) && (tag.endsWith('.sig') || tag.endsWith('.att'));
}

/**
 * The digest a cosign-shaped manifest's payloads all name (read bounded, see COSIGN_PAYLOAD_LIMITS), or undefined
 * when it is not cosign-shaped, a payload cannot be read or parsed, or they name different digests.
 */
async function cosignPayloadDigest(
  client: RegistryClient,
  repository: string,
  json: Record<string, unknown>,
): Promise<string | undefined> {
  const layers = cosignPayloadLayers(json);
  if (!layers) return undefined;
  const named = new Set<string>();
  for (const layer of layers) {
    let bytes: Buffer;
    try {
      bytes = await client.getBlob(repository, layer.digest, COSIGN_PAYLOAD_LIMITS.maxPayloadBytes);
    } catch (err) {
      // Missing, over the bound or not matching its digest: not tied (the plan keeps it).
      if (
        err instanceof GuardError &&
        (err.code === ErrorCodes.NOT_FOUND ||
          err.code === ErrorCodes.MALFORMED ||
          err.code === ErrorCodes.DIGEST_MISMATCH ||
          err.code === ErrorCodes.INVALID_INPUT)
      )
        return undefined;
      throw err;
    }
    const digest = digestNamedByPayload(layer.mediaType, bytes);
    if (digest === undefined) return undefined;
    named.add(digest);
  }
  return named.size === 1 ? [...named][0] : undefined;
}

function parseTime(text: string | undefined): number | undefined {
  if (!text) return undefined;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? ms : undefined;
}

function isIndexType(mediaType: string | undefined): boolean {
  return mediaType === MediaTypes.ociIndex || mediaType === MediaTypes.dockerManifestList;
}

/** Lists a repository's manifests for the purge plan (see the module comment for what each registry gives). */
export async function listRepositoryManifests(
  client: RegistryClient,
  repository: string,
  options: ListingOptions = {},
): Promise<ManifestRecord[]> {
  if (client.supportsAcrAttributes() && client.listAcrManifests) return listAcr(client, repository, options);
  return listPlain(client, repository, options);
}

async function listAcr(client: RegistryClient, repository: string, options: ListingOptions): Promise<ManifestRecord[]> {
  const list = client.listAcrManifests?.bind(client);
  if (!list) throw new GuardError(ErrorCodes.UNSUPPORTED, `registry ${client.host}: no ACR manifest listing`);
  const records = new Map<string, ManifestRecord>();
  // The shared guard ends a listing that loops, stalls or passes its bounds with an error: never a partial plan.
  const listed = await collectListing(
    `registry ${client.host}: the manifest listing of ${repository}`,
    options.bounds ?? LISTING_BOUNDS.acrManifests,
    (last) =>
      list(repository, {
        pageSize: options.pageSize ?? LISTING_DEFAULTS.pageSize,
        ...(last !== undefined ? { last } : {}),
      }),
    (m) => m.digest,
    { nowMs: Date.now, onPage: (guard) => options.onProgress?.(guard.entries) },
  );
  for (const m of listed) {
    const a = m.changeableAttributes;
    const record: ManifestRecord = { digest: m.digest, tags: m.tags, mediaType: m.mediaType ?? '' };
    const created = parseTime(m.createdTime);
    const updated = parseTime(m.lastUpdateTime);
    if (created !== undefined) record.createdMs = created;
    if (updated !== undefined) record.updatedMs = updated;
    // Not reported is not known to be unlocked: fail closed.
    if (a.deleteEnabled !== true || a.writeEnabled !== true) record.locked = true;
    if (m.imageSize !== undefined) record.size = m.imageSize;
    if (m.references) record.children = m.references;
    records.set(m.digest, record);
  }
  // Bodies where the listing is silent: untagged non-indexes and referrer-tagged manifests (subject), indexes
  // without references (children), and what a referrer-tagged index lists (their own subjects decide whether it
  // is a referrers listing). (Platform manifests an index references are children, not referrers.)
  const listedChildren = new Set([...records.values()].flatMap((r) => r.children ?? []));
  const listedByReferrerTagged = new Set(
    [...records.values()].filter((r) => r.tags.some(isReferrerTag)).flatMap((r) => r.children ?? []),
  );
  const toRead = [...records.values()].filter(
    (r) =>
      (r.tags.length === 0 && !isIndexType(r.mediaType) && !listedChildren.has(r.digest)) ||
      (isIndexType(r.mediaType) && r.children === undefined) ||
      r.tags.some(isReferrerTag) ||
      listedByReferrerTagged.has(r.digest),
  );
  const read = new Map<string, ReadManifest>();
  const readBodies = (batch: ManifestRecord[]): Promise<unknown> =>
    mapLimit(
      batch,
      options.concurrency ?? LISTING_DEFAULTS.concurrency,
      async (r) => {
        let manifest: FetchedManifest;
        try {
          manifest = await client.getManifest(repository, r.digest);
        } catch (err) {
          // Deleted since the listing: nothing to plan for it.
          if (err instanceof GuardError && err.code === ErrorCodes.NOT_FOUND) {
            records.delete(r.digest);
            return;
          }
          throw err;
        }
        if (!r.mediaType) r.mediaType = manifest.mediaType;
        if (manifest.children.length > 0) r.children = manifest.children.map((c) => c.digest);
        read.set(r.digest, await readManifest(client, repository, manifest, r.tags));
      },
      STOP_ON_ERROR,
    );
  await readBodies(toRead);
  // A referrer-tagged index whose children the listing did not give (read just now): its listed manifests are
  // read too, so whether it is a referrers listing is decided on what they say, never on their absence.
  await readBodies(
    [
      ...new Set(
        [...read.values()].filter((m) => m.isIndex && m.tags.some(isReferrerTag)).flatMap((m) => m.children ?? []),
      ),
    ]
      .filter((d) => !read.has(d))
      .map((d) => records.get(d))
      .filter((r): r is ManifestRecord => r !== undefined),
  );
  // Subjects by content only (src/core/purge/referrerTies.ts): never from a tag's name.
  for (const [digest, m] of read) {
    const r = records.get(digest);
    const subject = r ? tiedSubject(m, read) : undefined;
    if (r && subject !== undefined) r.subject = subject;
  }
  return [...records.values()];
}

/**
 * What the listing keeps of a manifest body to tie it by content: its own subject (none for a runnable body: an
 * image whatever it claims), whether it is an index and its children, and for a cosign-shaped body with a
 * `.sig`/`.att` tag, the digest its payloads name (read bounded).
 */
async function readManifest(
  client: RegistryClient,
  repository: string,
  manifest: FetchedManifest,
  tags: readonly string[],
): Promise<ReadManifest> {
  const runnable = hasFilesystemLayer(manifest.json);
  const m: ReadManifest = {
    digest: manifest.digest,
    tags,
    runnable,
    isIndex: isIndexType(manifest.mediaType) || manifest.children.length > 0,
    children: manifest.children.map((c) => c.digest),
  };
  if (!runnable && manifest.subject) m.ownSubject = manifest.subject.digest;
  if (!runnable && !manifest.subject && !m.isIndex && tags.some(isCosignTag)) {
    const named = await cosignPayloadDigest(client, repository, manifest.json);
    if (named !== undefined) m.payloadDigest = named;
  }
  return m;
}

async function listPlain(
  client: RegistryClient,
  repository: string,
  options: ListingOptions,
): Promise<ManifestRecord[]> {
  const concurrency = options.concurrency ?? LISTING_DEFAULTS.concurrency;
  const nowMs = options.nowMs ?? Date.now();
  // A build time outside [2000, now + 1 day] says nothing about the age (reproducible builds: 1970, 1980).
  const plausible = (ms: number | undefined): number | undefined =>
    ms !== undefined && ms >= LISTING_DEFAULTS.earliestPlausibleMs && ms <= nowMs + LISTING_DEFAULTS.futureSlackMs
      ? ms
      : undefined;
  const tagsByDigest = new Map<string, Set<string>>();
  // A listing cut short would hide tags that a delete by digest removes too: the shared guard refuses a listing
  // that loops, stalls or passes its bounds rather than plan on part of it.
  let missing = false;
  const tags = await collectListing(
    `registry ${client.host}: the tag listing of ${repository}`,
    options.bounds ?? LISTING_BOUNDS.repositoryTags,
    async (last) => {
      try {
        return await client.listTags(repository, {
          pageSize: options.pageSize ?? LISTING_DEFAULTS.pageSize,
          ...(last !== undefined ? { last } : {}),
        });
      } catch (err) {
        // A repository with no manifest left has no tags list at all (a 404 on a later page stays an error).
        if (err instanceof GuardError && err.code === ErrorCodes.NOT_FOUND && last === undefined) {
          missing = true;
          return { items: [] };
        }
        throw err;
      }
    },
    (t) => t,
    { nowMs: Date.now },
  );
  if (missing) return [];

  const records = new Map<
    string,
    ManifestRecord & { configDigest?: string; annotationCreated?: number; runnable?: boolean }
  >();
  const read = async (reference: string): Promise<FetchedManifest | undefined> => {
    try {
      return await client.getManifest(repository, reference);
    } catch (err) {
      if (err instanceof GuardError && err.code === ErrorCodes.NOT_FOUND) return undefined; // deleted since listed
      throw err;
    }
  };
  // What each body says of itself, to tie subjects by content once every tag is known.
  const bodies = new Map<string, ReadManifest>();
  // Bodies that may be cosign signatures (no subject, no filesystem layer, not an index): few, kept to be read.
  const cosignShaped = new Map<string, Record<string, unknown>>();
  const add = (manifest: FetchedManifest): boolean => {
    if (records.has(manifest.digest)) return false;
    // No size: a plain registry reports no image size, and the manifest's own bytes would understate what is freed.
    const record: ManifestRecord & { configDigest?: string; annotationCreated?: number; runnable?: boolean } = {
      digest: manifest.digest,
      tags: [],
      mediaType: manifest.mediaType,
    };
    const runnable = hasFilesystemLayer(manifest.json);
    const body: ReadManifest = {
      digest: manifest.digest,
      tags: [],
      runnable,
      isIndex: isIndexType(manifest.mediaType) || manifest.children.length > 0,
      children: manifest.children.map((c) => c.digest),
    };
    if (runnable) record.runnable = true;
    // A runnable body is an image whatever `subject` it claims (see above): only a non-image follows its subject.
    else if (manifest.subject) body.ownSubject = manifest.subject.digest;
    else if (!body.isIndex) cosignShaped.set(manifest.digest, manifest.json);
    bodies.set(manifest.digest, body);
    if (manifest.children.length > 0) record.children = manifest.children.map((c) => c.digest);
    const config = manifest.blobs[0];
    if (config && IMAGE_CONFIG_TYPES.has(config.mediaType) && !manifest.subject) record.configDigest = config.digest;
    const annotated = plausible(parseTime(manifest.annotations?.['org.opencontainers.image.created']));
    if (annotated !== undefined) record.annotationCreated = annotated;
    records.set(manifest.digest, record);
    return true;
  };

  // 1. Every tag's manifest.
  await mapLimit(
    tags,
    concurrency,
    async (tag) => {
      const manifest = await read(tag);
      if (!manifest) return;
      add(manifest);
      const set = tagsByDigest.get(manifest.digest) ?? new Set<string>();
      set.add(tag);
      tagsByDigest.set(manifest.digest, set);
    },
    STOP_ON_ERROR,
  );
  options.onProgress?.(records.size);

  // 2. Index children and referrers, breadth first, until nothing new turns up.
  let frontier = [...records.keys()];
  while (frontier.length > 0) {
    const found: string[] = [];
    await mapLimit(
      frontier,
      concurrency,
      async (digest) => {
        const record = records.get(digest);
        if (!record) return;
        const linked = [...(record.children ?? [])];
        const referrers = await client.listReferrers(repository, digest);
        linked.push(...referrers.map((d) => d.digest));
        for (const d of linked) {
          if (records.has(d)) continue;
          const manifest = await read(d);
          if (manifest && add(manifest)) found.push(manifest.digest);
        }
      },
      STOP_ON_ERROR,
    );
    if (records.size > LISTING_DEFAULTS.maxManifests)
      throw new GuardError(
        ErrorCodes.MALFORMED,
        `registry ${client.host}: ${repository} has more than ${LISTING_DEFAULTS.maxManifests} manifests; refused`,
      );
    options.onProgress?.(records.size);
    frontier = found;
  }

  // Subjects by content only (src/core/purge/referrerTies.ts), never from a tag's name: a cosign `.sig`/`.att`
  // body is tied when its payloads (read, bounded) name the digest its tag names; a `sha256-<hex>` index when
  // everything it lists names that digest as its own subject.
  for (const [digest, body] of bodies) body.tags = [...(tagsByDigest.get(digest) ?? [])].sort();
  const cosignCandidates = [...cosignShaped.keys()].filter((d) => (bodies.get(d)?.tags ?? []).some(isCosignTag));
  await mapLimit(
    cosignCandidates,
    concurrency,
    async (digest) => {
      const named = await cosignPayloadDigest(client, repository, cosignShaped.get(digest) as Record<string, unknown>);
      if (named !== undefined) (bodies.get(digest) as ReadManifest).payloadDigest = named;
    },
    STOP_ON_ERROR,
  );
  cosignShaped.clear();
  for (const [digest, body] of bodies) {
    const r = records.get(digest);
    const subject = tiedSubject(body, bodies);
    if (!r || subject === undefined) continue;
    r.subject = subject;
    if (body.ownSubject === undefined) delete r.configDigest; // a referrer goes with its subject: its age is not needed
  }

  // 3. Ages: the image config's `created`, else the manifest's `org.opencontainers.image.created` annotation
  // (either only when plausible).
  const withConfig = [...records.values()].filter((r) => r.configDigest !== undefined);
  await mapLimit(
    withConfig,
    concurrency,
    async (r) => {
      let bytes: Buffer;
      try {
        bytes = await client.getBlob(repository, r.configDigest as string, LISTING_DEFAULTS.maxConfigBytes);
      } catch (err) {
        if (err instanceof GuardError && (err.code === ErrorCodes.NOT_FOUND || err.code === ErrorCodes.MALFORMED))
          return; // age unknown: kept under olderThan
        throw err;
      }
      try {
        const created = plausible(parseTime((JSON.parse(bytes.toString('utf8')) as { created?: string }).created));
        if (created !== undefined) r.createdMs = created;
      } catch {
        // not JSON: age unknown
      }
    },
    STOP_ON_ERROR,
  );

  const out: ManifestRecord[] = [];
  for (const r of records.values()) {
    const record: ManifestRecord = {
      digest: r.digest,
      tags: [...(tagsByDigest.get(r.digest) ?? [])].sort(),
      mediaType: r.mediaType,
    };
    const created = r.createdMs ?? r.annotationCreated;
    if (created !== undefined) record.createdMs = created;
    if (r.size !== undefined) record.size = r.size;
    if (r.subject) record.subject = r.subject;
    if (r.children) record.children = r.children;
    out.push(record);
  }
  // An index is as old as its newest child (when it has no time of its own).
  const byDigest = new Map(out.map((r) => [r.digest, r]));
  for (const r of out) {
    if (r.createdMs !== undefined || !r.children) continue;
    const times = r.children.map((c) => byDigest.get(c)?.createdMs).filter((t): t is number => t !== undefined);
    if (times.length > 0 && times.length === r.children.filter((c) => byDigest.has(c)).length)
      r.createdMs = Math.max(...times);
  }
  return out;
}
