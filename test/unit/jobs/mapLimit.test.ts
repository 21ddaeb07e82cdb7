/**
 * mapLimit: order kept, at most `limit` in flight, and the first failure rejects the whole call (the in-use
 * lookup relies on this: one failed revision listing makes the answer incomplete, never partial).
 */
import { mapLimit } from '../../../src/jobs/mapLimit';

describe('mapLimit', () => {
  it('keeps the input order with at most `limit` calls in flight', async () => {
    let inFlight = 0;
    let most = 0;
    const out = await mapLimit([5, 1, 4, 2, 3], 2, async (n, i) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, n));
      inFlight--;
      return `${i}:${n}`;
    });
    expect(out).toEqual(['0:5', '1:1', '2:4', '3:2', '4:3']);
    expect(most).toBe(2);
  });

  it('rejects with the first failure', async () => {
    const first = new Error('first');
    await expect(
      mapLimit([1, 2, 3, 4], 2, async (n) => {
        await new Promise((r) => setTimeout(r, n * 5));
        if (n === 2) throw first;
        if (n === 3) throw new Error('later');
        return n;
      }),
    ).rejects.toBe(first);
  });

  it('does nothing for no items', async () => {
    expect(await mapLimit([], 4, async () => 1)).toEqual([]);
  });
});
