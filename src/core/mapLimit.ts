/** Options for {@link mapLimit}. */
export interface MapLimitOptions {
  /**
   * Stop taking new items at the first error, wait for the calls in flight, then throw that first error.
   * Without it, the first error is thrown at once and the other workers go on taking items.
   */
  stopOnError?: boolean;
}

/** Maps `items` with at most `limit` calls of `fn` in flight; results keep the input order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
  options: MapLimitOptions = {},
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (next < items.length && failed === undefined) {
      const i = next++;
      if (!options.stopOnError) {
        results[i] = await fn(items[i], i);
        continue;
      }
      try {
        results[i] = await fn(items[i], i);
      } catch (error) {
        failed ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failed !== undefined) throw failed.error;
  return results;
}
