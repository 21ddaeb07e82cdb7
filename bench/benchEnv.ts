/** Shared by the benchmarks: sizes read from the environment, validated; the machine line; the median. */
import { cpus, loadavg, totalmem } from 'node:os';

/** An integer 1..max from `process.env[name]`, or `fallback` when unset; throws naming the variable. */
export function intFromEnv(name: string, fallback: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw new Error(`${name}: expected an integer 1..${max}, got ${JSON.stringify(raw)}`);
  return n;
}

/**
 * The machine a benchmark ran on, for its first line: CPUs, memory, node, platform and the load average at the
 * start (a ratio measured on a loaded machine says so).
 */
export function machineLine(): string {
  const cpu = cpus();
  const load = loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
  return `machine: ${cpu.length} x ${cpu[0]?.model ?? 'unknown cpu'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, node ${process.version}, ${process.platform}/${process.arch}; load average ${load}`;
}

/** The median of `values` (the mean of the two middle values when their number is even). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const m = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
}
