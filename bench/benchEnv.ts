/** Shared by the benchmarks: sizes read from the environment, validated. */

/** An integer 1..max from `process.env[name]`, or `fallback` when unset; throws naming the variable. */
export function intFromEnv(name: string, fallback: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw new Error(`${name}: expected an integer 1..${max}, got ${JSON.stringify(raw)}`);
  return n;
}
