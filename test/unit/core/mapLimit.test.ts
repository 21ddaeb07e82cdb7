/**
 * mapLimit: order kept, at most `limit` in flight, and the first failure rejects the whole call (the in-use
 * lookup relies on this: one failed revision listing makes the answer incomplete, never partial).
 */
import { mapLimit } from '../../../src/core/mapLimit';

describe('mapLimit', () => {
  const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

  it('keeps the input order with at most `limit` calls in flight', async () => {
    let inFlight = 0;
    let most = 0;
    const out = await mapLimit([5, 4, 3, 2, 1], 2, async (n, i) => {
      most = Math.max(most, ++inFlight);
      for (let k = 0; k < n; k++) await tick();
      inFlight--;
      return n * 10 + i;
    });
    expect(out).toEqual([50, 41, 32, 23, 14]);
    expect(most).toBe(2);
  });

  it('by default throws the first error at once while the other workers go on taking items (unchanged)', async () => {
    const started: number[] = [];
    await expect(
      mapLimit([0, 1, 2, 3, 4, 5], 2, async (n) => {
        started.push(n);
        await tick();
        if (n === 0) throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    for (let k = 0; k < 10; k++) await tick();
    expect(started).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('with stopOnError: takes no new item after the first error, waits for those in flight, then throws it', async () => {
    const started: number[] = [];
    const finished: number[] = [];
    await expect(
      mapLimit(
        [0, 1, 2, 3, 4, 5],
        2,
        async (n) => {
          started.push(n);
          await tick();
          if (n === 0) throw new Error('first');
          await tick();
          finished.push(n);
          if (n === 1) throw new Error('second');
        },
        { stopOnError: true },
      ),
    ).rejects.toThrow('first');
    expect(started).toEqual([0, 1]);
    expect(finished).toEqual([1]);
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
