/**
 * The record of acr-guard's own promotion writes: which `registry/repository@digest` the apply step has just
 * copied into a release repository. The local registry notifies the service of those pushes like any other;
 * the receiver recognises them by this record (what acr-guard wrote), never by a header the client sent
 * (a `User-Agent` anyone can claim). Pure: time is passed in; bounded in entries and age.
 */
import type { ImageId } from './types';

/** Most promotion writes remembered; the oldest is dropped first (its late notification is then gated: fail closed). */
export const MAX_PROMOTION_RECORDS = 10_000;
/** How long a promotion write is remembered (ms): the registry notifies within seconds. */
export const PROMOTION_RECORD_TTL_MS = 15 * 60_000;

function keyOf(image: ImageId): string {
  return `${image.registry}/${image.repository}@${image.digest}`;
}

/** Promotion writes acr-guard made, by destination `registry/repository@digest`, with the time they were made. */
export class PromotionRecord {
  private readonly written = new Map<string, number>();

  constructor(private readonly options: { maxEntries?: number; ttlMs?: number } = {}) {}

  /** Notes that acr-guard is about to write `image` (a destination repository and digest) at `nowMs`. */
  record(image: ImageId, nowMs: number): void {
    const key = keyOf(image);
    this.written.delete(key); // re-inserted last: Map order is insertion order, so the oldest is first
    this.written.set(key, nowMs);
    const max = this.options.maxEntries ?? MAX_PROMOTION_RECORDS;
    while (this.written.size > max) this.written.delete(this.written.keys().next().value as string);
  }

  /** True when acr-guard wrote exactly this destination repository and digest within the record's age. */
  wrote(image: ImageId, nowMs: number): boolean {
    const at = this.written.get(keyOf(image));
    if (at === undefined) return false;
    if (nowMs - at > (this.options.ttlMs ?? PROMOTION_RECORD_TTL_MS)) {
      this.written.delete(keyOf(image));
      return false;
    }
    return true;
  }

  /** Number of writes remembered (for tests and the bound). */
  get size(): number {
    return this.written.size;
  }
}
