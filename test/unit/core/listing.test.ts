/**
 * The shared pagination guard (src/core/listing.ts): bounds on pages, entries and time, loops (a repeated or
 * stuck cursor, a page served twice, a page adding nothing), and the strict Link header reader.
 */
import fc from 'fast-check';
import { collectListing, linkNext, ListingGuard, LISTING_BOUNDS, type ListedPage } from '../../../src/core/listing';
import { ErrorCodes, GuardError } from '../../../src/core/errors';

/** A listing from a table of pages keyed by cursor ('' for the first page). */
function pages(table: Record<string, ListedPage<string>>): {
  fetch: (c: string | undefined) => Promise<ListedPage<string>>;
  asked: Array<string | undefined>;
} {
  const asked: Array<string | undefined> = [];
  return {
    asked,
    fetch: async (cursor) => {
      asked.push(cursor);
      const page = table[cursor ?? ''];
      if (!page) throw new Error(`no page ${String(cursor)}`);
      return page;
    },
  };
}

const BOUNDS = { maxPages: 10, maxEntries: 10 };

describe('collectListing', () => {
  it('returns every entry of a listing that ends', async () => {
    const p = pages({ '': { items: ['a', 'b'], next: 'b' }, b: { items: ['c'], next: 'c' }, c: { items: [] } });
    await expect(collectListing('t', BOUNDS, p.fetch, (x) => x)).resolves.toEqual(['a', 'b', 'c']);
    expect(p.asked).toEqual([undefined, 'b', 'c']);
  });

  it('takes one page of 600,000 entries within the bounds without overflowing the stack', async () => {
    const items = Array.from({ length: 600_000 }, (_, i) => `t${i}`);
    const out = await collectListing(
      't',
      { maxPages: 2, maxEntries: 1_000_000 },
      async () => ({ items }),
      (x) => x,
    );
    expect(out).toHaveLength(600_000);
  });

  it('an empty listing (one empty last page) is complete', async () => {
    await expect(collectListing('t', BOUNDS, pages({ '': { items: [] } }).fetch, (x) => x)).resolves.toEqual([]);
  });

  it.each([
    ['a→b→a', { '': { items: ['1'], next: 'a' }, a: { items: ['2'], next: 'b' }, b: { items: ['3'], next: 'a' } }, 3],
    ['a page pointing to itself', { '': { items: ['1'], next: 'a' }, a: { items: ['2'], next: 'a' } }, 2],
    ['an empty page promising more', { '': { items: [], next: 'x' } }, 1],
    [
      'a page adding only entries already listed',
      { '': { items: ['1'], next: 'a' }, a: { items: ['1'], next: 'b' } },
      2,
    ],
  ] as Array<[string, Record<string, ListedPage<string>>, number]>)(
    '%s: LISTING_LOOP after %#',
    async (_name, table, requests) => {
      const p = pages(table);
      await expect(collectListing('t', BOUNDS, p.fetch, (x) => x)).rejects.toMatchObject({
        code: ErrorCodes.LISTING_LOOP,
      });
      expect(p.asked.length).toBe(requests);
    },
  );

  it("with the first page's own cursor, a link back to it is a loop at once", async () => {
    const p = pages({ '/first': { items: ['1'], next: '/first' } });
    await expect(collectListing('t', BOUNDS, p.fetch, (x) => x, { first: '/first' })).rejects.toMatchObject({
      code: ErrorCodes.LISTING_LOOP,
    });
    expect(p.asked).toEqual(['/first']);
  });

  it('duplicates: ignore skips a repeated entry but still needs something new on a page that promises more', async () => {
    const ok = pages({ '': { items: ['1', '1'], next: 'a' }, a: { items: ['1', '2'] } });
    await expect(collectListing('t', BOUNDS, ok.fetch, (x) => x, { duplicates: 'ignore' })).resolves.toEqual([
      '1',
      '1',
      '1',
      '2',
    ]);
    const stalled = pages({ '': { items: ['1'], next: 'a' }, a: { items: ['1'], next: 'b' } });
    await expect(collectListing('t', BOUNDS, stalled.fetch, (x) => x, { duplicates: 'ignore' })).rejects.toMatchObject({
      code: ErrorCodes.LISTING_LOOP,
    });
  });

  it('too many pages or entries: LISTING_TOO_LARGE, the next page never asked for', async () => {
    let n = 0;
    const endless = async (): Promise<ListedPage<string>> => ({ items: [`e${++n}`], next: `e${n}` });
    await expect(collectListing('t', { maxPages: 5, maxEntries: 100 }, endless, (x) => x)).rejects.toMatchObject({
      code: ErrorCodes.LISTING_TOO_LARGE,
      message: expect.stringContaining('more than 5 pages'),
    });
    expect(n).toBe(5);
    n = 0;
    const wide = async (): Promise<ListedPage<string>> => ({
      items: Array.from({ length: 4 }, () => `w${++n}`),
      next: `w${n}`,
    });
    await expect(collectListing('t', { maxPages: 100, maxEntries: 10 }, wide, (x) => x)).rejects.toMatchObject({
      code: ErrorCodes.LISTING_TOO_LARGE,
      message: expect.stringContaining('more than 10 entries'),
    });
    expect(n).toBe(12);
    // Exactly the bound is accepted.
    const exact = pages({ '': { items: ['1', '2', '3'], next: '3' }, 3: { items: ['4', '5'] } });
    await expect(collectListing('t', { maxPages: 2, maxEntries: 5 }, exact.fetch, (x) => x)).resolves.toHaveLength(5);
  });

  it('counts entries without keys (rows): a page of none that promises more is a loop', async () => {
    const rows = pages({ '': { items: ['r', 'r'], next: 'a' }, a: { items: [], next: 'b' } });
    await expect(collectListing('t', BOUNDS, rows.fetch, undefined)).rejects.toMatchObject({
      code: ErrorCodes.LISTING_LOOP,
    });
  });

  it('the time bound: LISTING_TIMEOUT before the next page once the time is up (the clock is passed in)', async () => {
    let now = 1000;
    let n = 0;
    const slow = async (): Promise<ListedPage<string>> => {
      now += 400;
      return { items: [`s${++n}`], next: `s${n}` };
    };
    await expect(
      collectListing('t', { maxPages: 100, maxEntries: 100, maxMs: 1000 }, slow, (x) => x, { nowMs: () => now }),
    ).rejects.toMatchObject({ code: ErrorCodes.LISTING_TIMEOUT });
    expect(n).toBe(3);
    expect(() => new ListingGuard('t', { maxPages: 1, maxEntries: 1, maxMs: 5 })).toThrow(GuardError);
  });

  it('a bound that is not a positive integer is a configuration error', () => {
    for (const bad of [0, -1, 1.5, Number.NaN])
      expect(() => new ListingGuard('t', { maxPages: bad, maxEntries: 1 })).toThrow(
        expect.objectContaining({ code: ErrorCodes.INVALID_CONFIG }),
      );
  });

  it('the custom error for too many entries replaces LISTING_TOO_LARGE (a rescan names its field)', async () => {
    const custom = new GuardError(ErrorCodes.INVALID_INPUT, 'too many', { field: 'repository' });
    const p = pages({ '': { items: ['1', '2', '3'] } });
    await expect(
      collectListing('t', { maxPages: 5, maxEntries: 2 }, p.fetch, (x) => x, { tooManyEntries: () => custom }),
    ).rejects.toBe(custom);
  });

  it('the default bounds are positive integers and each has fewer pages than entries', () => {
    for (const b of Object.values(LISTING_BOUNDS)) {
      expect(Number.isInteger(b.maxPages) && b.maxPages > 0 && b.maxPages <= b.maxEntries).toBe(true);
    }
  });

  it('property: any listing either returns exactly the entries of its pages in order, or ends with a LISTING_* code, within its page bound', async () => {
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            items: fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'), { maxLength: 4 }),
            next: fc.option(fc.constantFrom('p0', 'p1', 'p2', 'p3', 'p4'), { nil: undefined }),
          }),
          { minLength: 1, maxLength: 6 },
        ),
        async (table) => {
          runs++;
          // Page i answers cursor `p<i>` (page 0 the first request); an unknown cursor answers the first page again.
          const fetch = async (cursor: string | undefined): Promise<ListedPage<string>> =>
            table[cursor === undefined ? 0 : Number(cursor.slice(1)) % table.length];
          let requests = 0;
          const counted = (c: string | undefined): Promise<ListedPage<string>> => {
            requests++;
            return fetch(c);
          };
          try {
            const out = await collectListing('t', { maxPages: 8, maxEntries: 20 }, counted, (x) => x);
            // Accepted: the chain ended on a page without a continuation, and every entry is new.
            expect(new Set(out).size).toBe(out.length);
          } catch (err) {
            expect(err).toBeInstanceOf(GuardError);
            expect((err as GuardError).code).toMatch(/^LISTING_(LOOP|TOO_LARGE)$/);
          }
          expect(requests).toBeLessThanOrEqual(8);
        },
      ),
      { numRuns: 500 },
    );
    expect(runs).toBe(500);
  });
});

describe('linkNext', () => {
  it.each([
    ['</v2/x/tags/list?last=b&n=2>; rel="next"', '/v2/x/tags/list?last=b&n=2'],
    ['</a>; rel=next', '/a'],
    ['<https://r.example/v2/_catalog?last=x>; rel="next"; title="x"', 'https://r.example/v2/_catalog?last=x'],
    ['</p>; rel="prev", </n>; rel="next"', '/n'],
    ['</n>; rel="next prefetch"', '/n'],
    ['</p>; rel="prev"', undefined],
    ['', undefined],
    ['   ', undefined],
  ])('%j → %j', (header, next) => {
    expect(linkNext(header, 't')).toBe(next);
  });

  it.each([
    'garbage',
    '</a>; rel="next",',
    '<>; rel="next"',
    '</a> rel="next"',
    '</a>; rel="next", </b>; rel="next"',
    `</${'a'.repeat(9000)}>; rel="next"`,
    '</a; rel="next"',
  ])('refuses header %# (LISTING_INVALID: a continuation that cannot be read must not look like the end)', (header) => {
    expect(() => linkNext(header, 't')).toThrow(expect.objectContaining({ code: ErrorCodes.LISTING_INVALID }));
  });

  it('property: never an untyped throw, on any string', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (header) => {
        try {
          const next = linkNext(header, 't');
          expect(next === undefined || typeof next === 'string').toBe(true);
        } catch (err) {
          expect((err as GuardError).code).toBe(ErrorCodes.LISTING_INVALID);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
