/**
 * The one pagination guard every paged listing goes through (OCI catalog and tags, referrers, ACR manifests,
 * Resource Graph, ARM lists). A registry or service decides how many pages it hands out and what each
 * continuation says; nothing it sends may keep a listing going for ever or make a listing that was cut short
 * look complete. So a listing:
 *
 * - reads at most `maxPages` pages and `maxEntries` entries (checked before the next page is asked for):
 *   `LISTING_TOO_LARGE`;
 * - stops on a time bound when it has one (`maxMs`, for callers that may have left, such as a rescan request):
 *   `LISTING_TIMEOUT`;
 * - ends with `LISTING_LOOP` when a continuation repeats one already followed (a→b→a, a Link back to the same
 *   page), when a page promises more but adds no new entry (an endless run of empty pages with a fresh
 *   `last`), or when an entry comes twice (a page served again under another cursor);
 * - never returns part of a listing: every stop is an error, so a purge never plans on a partial listing and a
 *   rescan of a repository starts nothing.
 *
 * Pure: no I/O, no clock of its own (the caller passes `nowMs`).
 */
import { ErrorCodes, GuardError } from './errors';

/** The bounds of one listing. */
export interface ListingBounds {
  /** Most pages read. */
  maxPages: number;
  /** Most entries accepted over all pages. */
  maxEntries: number;
  /** Most time the whole listing may take, ms (none when absent). */
  maxMs?: number;
}

/**
 * The bounds of each listing, in one place (docs/limits.md has one row per bound). Page bounds are a tenth of
 * the entry bounds or less because every page must add at least one new entry; with the page sizes asked
 * (1000, or 100 for a rescan) an honest registry needs far fewer.
 */
export const LISTING_BOUNDS = {
  /** `/v2/_catalog` (purge targets): 100,000 repositories, 10,000 pages, 30 minutes. */
  catalog: { maxPages: 10_000, maxEntries: 100_000, maxMs: 30 * 60_000 },
  /** `/v2/<name>/tags/list` of the purge: 1,000,000 tags (as many as manifests), 10,000 pages, 30 minutes. */
  repositoryTags: { maxPages: 10_000, maxEntries: 1_000_000, maxMs: 30 * 60_000 },
  /** ACR `/acr/v1/<name>/_manifests` of the purge: 1,000,000 manifests, 10,000 pages, 30 minutes. */
  acrManifests: { maxPages: 10_000, maxEntries: 1_000_000, maxMs: 30 * 60_000 },
  /** `/v2/<name>/referrers/<digest>` of one image: 10,000 referrers, 20 pages, 2 minutes (a gate waits on it). */
  referrers: { maxPages: 20, maxEntries: 10_000, maxMs: 2 * 60_000 },
  /**
   * `/v2/<name>/tags/list` of a repository rescan: 100 tags (MAX_REPOSITORY_TAGS), 100 pages, 10 s (the caller
   * is waiting for the answer; once it left, nothing should keep asking the registry).
   */
  rescanTags: { maxPages: 100, maxEntries: 100, maxMs: 10_000 },
  /** Resource Graph rows of one image (Defender findings): 50 pages of 1000 rows. */
  resourceGraph: { maxPages: 50, maxEntries: 50_000 },
  /** One ARM list of the in-use lookup (Container Apps, revisions, jobs, container groups): 100,000 items, 1000 pages. */
  armList: { maxPages: 1000, maxEntries: 100_000 },
} as const satisfies Record<string, ListingBounds>;

/** Options of a {@link ListingGuard}. */
export interface ListingGuardOptions {
  /** The clock, epoch ms (needed only with `maxMs`). */
  nowMs?: () => number;
  /**
   * What to do with an entry listed twice: `loop` (the default: tags, repositories, manifests are sets, and a
   * repeat means a page came again) or `ignore` (referrers; the page must still add something new).
   */
  duplicates?: 'loop' | 'ignore';
  /** The error for too many entries, when the caller's own is clearer (a rescan names its request field). */
  tooManyEntries?: (max: number) => GuardError;
  /**
   * Accept a page without entries that promises more (ARM lists do this while they fan out over regions); the
   * page bound and the cursor checks still end such a listing. Default false: such a page is LISTING_LOOP.
   */
  allowEmptyPages?: boolean;
}

/** Validates a bound: a positive integer (a programming error otherwise). */
function positive(n: number, name: string): number {
  if (!Number.isInteger(n) || n < 1)
    throw new GuardError(ErrorCodes.INVALID_CONFIG, `${name}: expected a positive integer, got ${String(n)}`, {
      field: name,
    });
  return n;
}

/** Shortens a cursor for an error message (a hostile registry chooses it). */
function shown(cursor: string): string {
  return JSON.stringify(cursor.length > 80 ? `${cursor.slice(0, 80)}…` : cursor);
}

/**
 * Follows one listing page by page. Call {@link ListingGuard.beforePage} with the cursor before asking for each
 * page and {@link ListingGuard.afterPage} with what the page listed and its continuation; each throws a
 * `LISTING_*` GuardError when the listing must end.
 */
export class ListingGuard {
  private readonly maxPages: number;
  private readonly maxEntries: number;
  private readonly deadline?: number;
  private readonly startedMs?: number;
  private readonly cursors = new Set<string>();
  private readonly keys = new Set<string>();
  private current: string | undefined;
  private pagesRead = 0;
  private entriesRead = 0;

  /** `what` names the listing in errors, e.g. `registry r.example: tags of team/api`. */
  constructor(
    readonly what: string,
    bounds: ListingBounds,
    private readonly options: ListingGuardOptions = {},
  ) {
    this.maxPages = positive(bounds.maxPages, 'maxPages');
    this.maxEntries = positive(bounds.maxEntries, 'maxEntries');
    if (bounds.maxMs !== undefined) {
      if (!options.nowMs)
        throw new GuardError(ErrorCodes.INVALID_CONFIG, 'nowMs: a listing with a time bound needs a clock', {
          field: 'nowMs',
        });
      this.startedMs = options.nowMs();
      this.deadline = this.startedMs + positive(bounds.maxMs, 'maxMs');
    }
  }

  /** Pages read so far. */
  get pages(): number {
    return this.pagesRead;
  }

  /** Distinct entries read so far. */
  get entries(): number {
    return this.entriesRead;
  }

  /** Before asking for a page: `cursor` is its continuation (undefined for the first page). */
  beforePage(cursor: string | undefined): void {
    if (this.pagesRead >= this.maxPages) {
      throw new GuardError(
        ErrorCodes.LISTING_TOO_LARGE,
        `${this.what}: more than ${this.maxPages} pages; the listing was refused (nothing is decided from part of it)`,
      );
    }
    this.checkTime();
    this.current = cursor;
  }

  /** The time bound alone (callers check it between other steps of the same request too). */
  checkTime(): void {
    if (this.deadline === undefined || !this.options.nowMs) return;
    const now = this.options.nowMs();
    if (now >= this.deadline) {
      throw new GuardError(
        ErrorCodes.LISTING_TIMEOUT,
        `${this.what}: not finished within ${this.deadline - (this.startedMs ?? 0)} ms (${this.pagesRead} pages read); the listing was abandoned, nothing is decided from part of it`,
      );
    }
  }

  /**
   * After a page: `keys` identify its entries (undefined: count them only, every entry new), `next` is its
   * continuation (undefined: the listing ended). Throws when the listing must end with an error.
   */
  afterPage(keys: readonly string[] | number, next: string | undefined): void {
    this.pagesRead++;
    let added = 0;
    if (typeof keys === 'number') {
      added = keys;
    } else {
      for (const key of keys) {
        if (this.keys.has(key)) {
          if ((this.options.duplicates ?? 'loop') === 'loop')
            throw new GuardError(
              ErrorCodes.LISTING_LOOP,
              `${this.what}: page ${this.pagesRead} lists ${shown(key)} again (a page served twice); refused`,
            );
          continue;
        }
        // Checked before the entry is kept: the set never grows past the bound.
        if (this.entriesRead + added >= this.maxEntries) throw this.tooMany();
        this.keys.add(key);
        added++;
      }
    }
    this.entriesRead += added;
    if (this.entriesRead > this.maxEntries) throw this.tooMany();
    if (next === undefined) return;
    if (this.current !== undefined) this.cursors.add(this.current);
    if (next === this.current)
      throw new GuardError(
        ErrorCodes.LISTING_LOOP,
        `${this.what}: page ${this.pagesRead} points back to itself (${shown(next)}); refused`,
      );
    if (this.cursors.has(next))
      throw new GuardError(
        ErrorCodes.LISTING_LOOP,
        `${this.what}: page ${this.pagesRead} points back to a page already read (${shown(next)}); refused`,
      );
    if (added === 0 && !(this.options.allowEmptyPages && (typeof keys === 'number' || keys.length === 0)))
      throw new GuardError(
        ErrorCodes.LISTING_LOOP,
        `${this.what}: page ${this.pagesRead} adds nothing new but promises more (${shown(next)}); refused`,
      );
  }

  private tooMany(): GuardError {
    return (
      this.options.tooManyEntries?.(this.maxEntries) ??
      new GuardError(
        ErrorCodes.LISTING_TOO_LARGE,
        `${this.what}: more than ${this.maxEntries} entries; the listing was refused (nothing is decided from part of it)`,
      )
    );
  }
}

/** One page as a listing source answers it. */
export interface ListedPage<T> {
  items: T[];
  /** The continuation; undefined when the listing ended. */
  next?: string;
}

/**
 * Reads a whole listing through a {@link ListingGuard}: every page from `fetchPage(cursor)`, each entry
 * identified by `key`. Returns every entry, or throws (a `LISTING_*` error, or whatever `fetchPage` threw):
 * never part of a listing.
 */
export async function collectListing<T>(
  what: string,
  bounds: ListingBounds,
  fetchPage: (cursor: string | undefined) => Promise<ListedPage<T>>,
  key: ((item: T) => string) | undefined,
  options: ListingGuardOptions & {
    onPage?: (guard: ListingGuard) => void;
    /** The first page's own cursor, when it has one (a referrers URL): a link back to it is then a loop at once. */
    first?: string;
  } = {},
): Promise<T[]> {
  const guard = new ListingGuard(what, bounds, options);
  const out: T[] = [];
  let cursor: string | undefined = options.first;
  for (;;) {
    guard.beforePage(cursor);
    const page = await fetchPage(cursor);
    guard.afterPage(key ? page.items.map(key) : page.items.length, page.next);
    // One by one: a spread of a page of hundreds of thousands of entries overflows the call stack.
    for (const item of page.items) out.push(item);
    options.onPage?.(guard);
    if (page.next === undefined) return out;
    cursor = page.next;
  }
}

/**
 * The target of the `rel="next"` link of an HTTP `Link` header (RFC 8288), or undefined when it has none.
 * A header that is present but is not a list of `<target>; params` links is `LISTING_INVALID` (a listing whose
 * continuation cannot be read must not look complete); so are two different `next` targets.
 */
export function linkNext(header: string | null | undefined, what: string): string | undefined {
  if (header === null || header === undefined || header.trim() === '') return undefined;
  const invalid = (why: string): GuardError =>
    new GuardError(ErrorCodes.LISTING_INVALID, `${what}: the Link header ${why}; the listing was refused`);
  if (header.length > 8192) throw invalid('is over 8192 characters');
  // link = "<" target ">" *( ";" param ), links separated by commas. Targets hold no ">"; quoted values no '"'.
  const LINK = /\s*<([^>]*)>((?:\s*;\s*[A-Za-z0-9!#$&+.^_`|~*-]+(?:\s*=\s*(?:"[^"]*"|[^\s;,"]+))?)*)\s*(,|$)/y;
  const PARAM = /;\s*([A-Za-z0-9!#$&+.^_`|~*-]+)(?:\s*=\s*(?:"([^"]*)"|([^\s;,"]+)))?/g;
  let next: string | undefined;
  let at = 0;
  while (at < header.length) {
    LINK.lastIndex = at;
    const m = LINK.exec(header);
    if (!m || m[0].length === 0) throw invalid('is not a list of <target>; rel=… links');
    for (const p of m[2].matchAll(PARAM)) {
      if (p[1].toLowerCase() !== 'rel') continue;
      const rels = (p[2] ?? p[3] ?? '').toLowerCase().split(/\s+/);
      if (!rels.includes('next')) continue;
      if (next !== undefined && next !== m[1]) throw invalid('has two different next links');
      next = m[1];
    }
    at = LINK.lastIndex;
    if (m[3] === '') break;
    if (at >= header.length) throw invalid('ends with a comma');
  }
  if (next !== undefined && next.trim() === '') throw invalid('has an empty next link');
  return next;
}
