/**
 * Lists every manifest of one repository with what the purge plan needs (tags, times, media type, lock,
 * subject, index children, size), through the `RegistryClient` port.
 *
 * - On ACR (`listAcrManifests`): `/acr/v1/<repo>/_manifests`, paged, gives digests, tags, created and last
 *   update times, sizes, lock attributes and index references. ACR's listing does not say which manifest is a
 *   referrer, so the bodies of untagged non-index manifests that no index references (where signatures, SBOMs
 *   and reports live) are read for their `subject`; an index without `references` is read for its children.
 * - Elsewhere: the tags list, each tag's manifest, the image config's `created` time as the age (an index: its
 *   newest child's), then every index's children and every manifest's referrers (the OCI 1.1 API, or the
 *   `sha256-<hex>` fallback tag index), recursively. An untagged manifest that no index lists and no referrers
 *   listing names cannot be found on a plain registry (the distribution API has no "list manifests"): it is
 *   neither kept nor deleted, because the purge never sees it.
 */
import { ErrorCodes, GuardError } from '../../core/errors';
import type { ManifestRecord } from '../../core/purge/plan';
import { MediaTypes } from '../../core/types';
import type { FetchedManifest, RegistryClient } from '../ports';

/** Defaults of the listing, in one place. */
export const LISTING_DEFAULTS = {
  /** Page size asked of tag and manifest listings. */
  pageSize: 1000,
  /** Manifests (and configs) read at once. */
  concurrency: 16,
  /** Most manifests one repository listing accepts (a guard against a registry that never ends a listing). */
  maxManifests: 1_000_000,
  /** Largest image config read for its `created` time. */
  maxConfigBytes: 1024 * 1024,
} as const;

/** Options for {@link listRepositoryManifests}. */
export interface ListingOptions {
  pageSize?: number;
  concurrency?: number;
  /** Called as manifests are found (progress displays). */
  onProgress?: (found: number) => void;
}

const FALLBACK_TAG_RE = /^(sha256|sha512)-([a-f0-9]{64}|[a-f0-9]{128})$/;
const IMAGE_CONFIG_TYPES = new Set<string>([MediaTypes.ociConfig, 'application/vnd.docker.container.image.v1+json']);

/** Runs `work` over `items` with at most `limit` at once; the first error stops taking new items and is thrown. */
async function eachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (failed === undefined && next < items.length) {
        const item = items[next++];
        try {
          await work(item);
        } catch (err) {
          failed ??= err;
        }
      }
    }),
  );
  if (failed !== undefined) throw failed;
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
export async function listRepositoryManifests(client: RegistryClient, repository: string, options: ListingOptions = {}): Promise<ManifestRecord[]> {
  if (client.supportsAcrAttributes() && client.listAcrManifests) return listAcr(client, repository, options);
  return listPlain(client, repository, options);
}

async function listAcr(client: RegistryClient, repository: string, options: ListingOptions): Promise<ManifestRecord[]> {
  const list = client.listAcrManifests?.bind(client);
  if (!list) throw new GuardError(ErrorCodes.UNSUPPORTED, `registry ${client.host}: no ACR manifest listing`);
  const records = new Map<string, ManifestRecord>();
  let last: string | undefined;
  const seenPages = new Set<string>();
  for (;;) {
    const page = await list(repository, { pageSize: options.pageSize ?? LISTING_DEFAULTS.pageSize, ...(last ? { last } : {}) });
    for (const m of page.items) {
      const a = m.changeableAttributes;
      const record: ManifestRecord = { digest: m.digest, tags: m.tags, mediaType: m.mediaType ?? '' };
      const created = parseTime(m.createdTime);
      const updated = parseTime(m.lastUpdateTime);
      if (created !== undefined) record.createdMs = created;
      if (updated !== undefined) record.updatedMs = updated;
      if (a.deleteEnabled === false || a.writeEnabled === false) record.locked = true;
      if (m.imageSize !== undefined) record.size = m.imageSize;
      if (m.references) record.children = m.references;
      records.set(m.digest, record);
    }
    options.onProgress?.(records.size);
    if (records.size > LISTING_DEFAULTS.maxManifests) throw new GuardError(ErrorCodes.MALFORMED, `registry ${client.host}: ${repository} lists more than ${LISTING_DEFAULTS.maxManifests} manifests; refused`);
    if (!page.next) break;
    // A listing that hands out the same continuation twice would never end.
    if (seenPages.has(page.next)) throw new GuardError(ErrorCodes.MALFORMED, `registry ${client.host}: the manifest listing of ${repository} repeats its continuation ${page.next}`);
    seenPages.add(page.next);
    last = page.next;
  }
  // Bodies where the listing is silent: untagged non-indexes (subject), indexes without references (children).
  // (Platform manifests an index references are children, not referrers: their bodies are not needed.)
  const listedChildren = new Set([...records.values()].flatMap((r) => r.children ?? []));
  const toRead = [...records.values()].filter(
    (r) => (r.tags.length === 0 && !isIndexType(r.mediaType) && !listedChildren.has(r.digest)) || (isIndexType(r.mediaType) && r.children === undefined) || r.tags.some((t) => FALLBACK_TAG_RE.test(t)),
  );
  await eachLimited(toRead, options.concurrency ?? LISTING_DEFAULTS.concurrency, async (r) => {
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
    if (manifest.subject) r.subject = manifest.subject.digest;
    if (manifest.children.length > 0) r.children = manifest.children.map((c) => c.digest);
    const fallback = r.tags.map((t) => FALLBACK_TAG_RE.exec(t)).find(Boolean);
    if (fallback && !r.subject) r.subject = `${fallback[1]}:${fallback[2]}`;
  });
  return [...records.values()];
}

async function listPlain(client: RegistryClient, repository: string, options: ListingOptions): Promise<ManifestRecord[]> {
  const concurrency = options.concurrency ?? LISTING_DEFAULTS.concurrency;
  const tagsByDigest = new Map<string, Set<string>>();
  const tags: string[] = [];
  let last: string | undefined;
  for (;;) {
    let page;
    try {
      page = await client.listTags(repository, { pageSize: options.pageSize ?? LISTING_DEFAULTS.pageSize, ...(last ? { last } : {}) });
    } catch (err) {
      // A repository with no manifest left has no tags list at all.
      if (err instanceof GuardError && err.code === ErrorCodes.NOT_FOUND && last === undefined) return [];
      throw err;
    }
    tags.push(...page.items);
    if (!page.next || page.next === last || tags.length > LISTING_DEFAULTS.maxManifests) break;
    last = page.next;
  }

  const records = new Map<string, ManifestRecord & { configDigest?: string; annotationCreated?: number }>();
  const read = async (reference: string): Promise<FetchedManifest | undefined> => {
    try {
      return await client.getManifest(repository, reference);
    } catch (err) {
      if (err instanceof GuardError && err.code === ErrorCodes.NOT_FOUND) return undefined; // deleted since listed
      throw err;
    }
  };
  const add = (manifest: FetchedManifest): boolean => {
    if (records.has(manifest.digest)) return false;
    // No size: a plain registry reports no image size, and the manifest's own bytes would understate what is freed.
    const record: ManifestRecord & { configDigest?: string; annotationCreated?: number } = { digest: manifest.digest, tags: [], mediaType: manifest.mediaType };
    if (manifest.subject) record.subject = manifest.subject.digest;
    if (manifest.children.length > 0) record.children = manifest.children.map((c) => c.digest);
    const config = manifest.blobs[0];
    if (config && IMAGE_CONFIG_TYPES.has(config.mediaType) && !manifest.subject) record.configDigest = config.digest;
    const annotated = parseTime(manifest.annotations?.['org.opencontainers.image.created']);
    if (annotated !== undefined) record.annotationCreated = annotated;
    records.set(manifest.digest, record);
    return true;
  };

  // 1. Every tag's manifest.
  await eachLimited(tags, concurrency, async (tag) => {
    const manifest = await read(tag);
    if (!manifest) return;
    add(manifest);
    const set = tagsByDigest.get(manifest.digest) ?? new Set<string>();
    set.add(tag);
    tagsByDigest.set(manifest.digest, set);
  });
  options.onProgress?.(records.size);

  // 2. Index children and referrers, breadth first, until nothing new turns up.
  let frontier = [...records.keys()];
  while (frontier.length > 0) {
    const found: string[] = [];
    await eachLimited(frontier, concurrency, async (digest) => {
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
    });
    if (records.size > LISTING_DEFAULTS.maxManifests) throw new GuardError(ErrorCodes.MALFORMED, `registry ${client.host}: ${repository} has more than ${LISTING_DEFAULTS.maxManifests} manifests; refused`);
    options.onProgress?.(records.size);
    frontier = found;
  }

  // 3. Ages: the image config's `created`, else the manifest's `org.opencontainers.image.created` annotation.
  const withConfig = [...records.values()].filter((r) => r.configDigest !== undefined);
  await eachLimited(withConfig, concurrency, async (r) => {
    let bytes: Buffer;
    try {
      bytes = await client.getBlob(repository, r.configDigest as string, LISTING_DEFAULTS.maxConfigBytes);
    } catch (err) {
      if (err instanceof GuardError && (err.code === ErrorCodes.NOT_FOUND || err.code === ErrorCodes.MALFORMED)) return; // age unknown: kept under olderThan
      throw err;
    }
    try {
      const created = parseTime((JSON.parse(bytes.toString('utf8')) as { created?: string }).created);
      if (created !== undefined) r.createdMs = created;
    } catch {
      // not JSON: age unknown
    }
  });

  const out: ManifestRecord[] = [];
  for (const r of records.values()) {
    const record: ManifestRecord = { digest: r.digest, tags: [...(tagsByDigest.get(r.digest) ?? [])].sort(), mediaType: r.mediaType };
    const created = r.createdMs ?? r.annotationCreated;
    if (created !== undefined) record.createdMs = created;
    if (r.size !== undefined) record.size = r.size;
    if (r.subject) record.subject = r.subject;
    if (r.children) record.children = r.children;
    const fallback = record.tags.map((t) => FALLBACK_TAG_RE.exec(t)).find(Boolean);
    if (fallback && !record.subject) record.subject = `${fallback[1]}:${fallback[2]}`;
    out.push(record);
  }
  // An index is as old as its newest child (when it has no time of its own).
  const byDigest = new Map(out.map((r) => [r.digest, r]));
  for (const r of out) {
    if (r.createdMs !== undefined || !r.children) continue;
    const times = r.children.map((c) => byDigest.get(c)?.createdMs).filter((t): t is number => t !== undefined);
    if (times.length > 0 && times.length === r.children.filter((c) => byDigest.has(c)).length) r.createdMs = Math.max(...times);
  }
  return out;
}
