/**
 * Carries out the deletes of a purge plan, by digest, and nothing else: the plan decided, this only executes.
 *
 * - Waves in order; within a wave, a pool whose size adapts (AIMD): it grows by one per `limit` successes up to
 *   `maxConcurrency`, halves on a 429, and every worker pauses until the `Retry-After` has passed.
 * - 429, 5xx, 408, timeouts and connection resets (`TRANSIENT`) are retried with exponential back-off (or the
 *   server's `Retry-After`); a 404 counts as done (someone, or an earlier attempt, deleted it already).
 * - 401/403 (`REGISTRY_AUTH`) stops the run cleanly: nothing new starts, what is in flight finishes, and the
 *   result says what was and was not deleted.
 * - A delete that failed for good keeps everything that waits for it (`after`): a child stays while the index
 *   that lists it stays, a subject stays while its referrer stays.
 * - On ACR each manifest is read once more just before its delete: if a tag was pushed onto it or it was
 *   locked since the plan, it is left (`CHANGED_SINCE_PLAN`), since a delete by digest would take that tag too.
 * - A locked manifest the plan deletes (the rule says `includeLocked`) is unlocked first on ACR: its attributes are
 *   read, then `deleteEnabled`/`writeEnabled` set to true. If its delete then fails for good, or the run stops
 *   before it is retried, the lock is put back as it was (best effort); the failure's detail and `lock` say
 *   whether it was restored, and `leftUnlocked` lists the manifests whose lock could not be.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCodes, GuardError, type ErrorCode, messageOf } from '../core/errors';
import type { PlanDelete } from '../core/purge/plan';
import type { ManifestAttributes, RegistryClient } from '../adapters/ports';

/** Defaults of the executor, in one place. */
export const EXECUTE_DEFAULTS = {
  /** Most deletes in flight (acr purge caps its `--concurrency` at 32). */
  maxConcurrency: 32,
  /** Deletes in flight when a run starts. */
  initialConcurrency: 8,
  /** Attempts per delete for transient failures (429 included). */
  maxAttempts: 8,
  /** First back-off after a transient failure without Retry-After, ms (doubles each attempt). */
  firstBackoffMs: 200,
  /** Longest wait honoured for one Retry-After or back-off, ms. */
  maxBackoffMs: 60_000,
} as const;

/** Tries to put back a lock after a delete that did not happen (transient failures only are retried). */
const RELOCK_ATTEMPTS = 3;

/** Options for {@link executePurge}. */
export interface ExecuteOptions {
  client: RegistryClient;
  repository: string;
  deletes: readonly PlanDelete[];
  maxConcurrency?: number;
  initialConcurrency?: number;
  maxAttempts?: number;
  firstBackoffMs?: number;
  maxBackoffMs?: number;
  /** Called after each delete settles. */
  onProgress?: (progress: { done: number; total: number; concurrency: number }) => void;
  /** Waits `ms` (tests may shorten); default a real timer. */
  sleep?: (ms: number) => Promise<void>;
}

/** One delete that did not happen. */
export interface DeleteFailure {
  digest: string;
  tags: string[];
  code: ErrorCode;
  detail: string;
  /** Set when the manifest was unlocked for this delete: whether its lock was put back afterwards. */
  lock?: 'restored' | 'not-restored';
}

/** What an execution did. */
export interface ExecuteResult {
  /** Deleted by this run. */
  deleted: PlanDelete[];
  /** Already gone when deleted (404): counted as done. */
  alreadyGone: PlanDelete[];
  /** Attempted and failed for good. */
  failed: DeleteFailure[];
  /** Not attempted: the run stopped, or something they wait for was not deleted. */
  notAttempted: DeleteFailure[];
  /** Manifests unlocked for a delete that did not happen, whose lock could not be put back: lock them by hand. */
  leftUnlocked: string[];
  /** Why the run stopped early (auth refused), when it did. */
  stopped?: { code: ErrorCode; detail: string };
  /** 429 answers seen, and transient retries made. */
  throttled: number;
  retries: number;
  elapsedMs: number;
}

/** What changed on a manifest since it was planned for deletion, or undefined: its tags, or a lock it did not have. */
function changeSincePlan(d: PlanDelete, now: ManifestAttributes & { tags?: string[] }): string | undefined {
  const planned = [...d.tags].sort();
  const current = [...(now.tags ?? [])].sort();
  if (planned.length !== current.length || planned.some((t, i) => t !== current[i])) {
    return `its tags changed (planned [${planned.join(', ')}], now [${current.join(', ')}])`;
  }
  if (!d.locked && (now.deleteEnabled === false || now.writeEnabled === false)) return 'it was locked';
  return undefined;
}

/** Deletes what the plan says, in its order; never throws for a registry failure (the result says what happened). */
export async function executePurge(options: ExecuteOptions): Promise<ExecuteResult> {
  const started = performance.now();
  const max = Math.max(1, Math.min(options.maxConcurrency ?? EXECUTE_DEFAULTS.maxConcurrency, 256));
  const maxAttempts = options.maxAttempts ?? EXECUTE_DEFAULTS.maxAttempts;
  const firstBackoff = options.firstBackoffMs ?? EXECUTE_DEFAULTS.firstBackoffMs;
  const maxBackoff = options.maxBackoffMs ?? EXECUTE_DEFAULTS.maxBackoffMs;
  const wait = options.sleep ?? ((ms: number) => sleep(ms));
  const { client, repository } = options;
  const result: ExecuteResult = {
    deleted: [],
    alreadyGone: [],
    failed: [],
    notAttempted: [],
    leftUnlocked: [],
    throttled: 0,
    retries: 0,
    elapsedMs: 0,
  };
  const gone = new Set<string>();
  let limit = Math.max(1, Math.min(options.initialConcurrency ?? EXECUTE_DEFAULTS.initialConcurrency, max));
  let credit = 0;
  let pausedUntil = 0;
  let done = 0;
  const total = options.deletes.length;

  const waves = new Map<number, PlanDelete[]>();
  for (const d of options.deletes) {
    const list = waves.get(d.wave) ?? [];
    list.push(d);
    waves.set(d.wave, list);
  }
  const skip = (d: PlanDelete, code: ErrorCode, detail: string): void => {
    result.notAttempted.push({ digest: d.digest, tags: d.tags, code, detail });
    done++;
  };

  /**
   * Puts back the lock of a manifest unlocked for a delete that did not happen (a few tries for transient
   * failures); returns what to add to the failure.
   */
  const relock = async (
    d: PlanDelete,
    previous: ManifestAttributes,
  ): Promise<Pick<DeleteFailure, 'lock'> & { note: string }> => {
    const attributes = { deleteEnabled: previous.deleteEnabled ?? false, writeEnabled: previous.writeEnabled ?? false };
    const shown = `deleteEnabled=${attributes.deleteEnabled}, writeEnabled=${attributes.writeEnabled}`;
    for (let attempt = 1; ; attempt++) {
      try {
        await client.setManifestAttributes(repository, d.digest, attributes);
        return { lock: 'restored', note: `; it had been unlocked for the delete and its lock was restored (${shown})` };
      } catch (err) {
        const code = err instanceof GuardError ? err.code : ErrorCodes.ERROR;
        if (code === ErrorCodes.TRANSIENT && attempt < RELOCK_ATTEMPTS) {
          await wait(Math.min(firstBackoff * 2 ** (attempt - 1), maxBackoff));
          continue;
        }
        result.leftUnlocked.push(d.digest);
        const why = messageOf(err);
        return {
          lock: 'not-restored',
          note: `; it had been unlocked for the delete and its lock could NOT be restored (${why}): it is left deleteEnabled=true, writeEnabled=true — set ${shown} by hand`,
        };
      }
    }
  };

  /** One delete with its retries; returns normally whatever happened (recorded in `result`). */
  const deleteOne = async (d: PlanDelete): Promise<void> => {
    /** The attributes before this run unlocked the manifest, once it has. */
    let unlockedFrom: ManifestAttributes | undefined;
    /** ACR: the manifest's tags and attributes read just before its first attempt. */
    let checked: (ManifestAttributes & { tags?: string[] }) | undefined;
    /** Records a delete that did not happen, putting back the lock first if this run removed it. */
    const give = async (list: DeleteFailure[], code: ErrorCode, detail: string): Promise<void> => {
      const entry: DeleteFailure = { digest: d.digest, tags: d.tags, code, detail };
      if (unlockedFrom) {
        const { lock, note } = await relock(d, unlockedFrom);
        entry.lock = lock;
        entry.detail += note;
      }
      list.push(entry);
      done++;
    };
    for (let attempt = 1; ; attempt++) {
      const pause = pausedUntil - performance.now();
      if (pause > 0) await wait(pause);
      if (result.stopped) {
        if (unlockedFrom)
          return give(
            result.notAttempted,
            result.stopped.code,
            `not attempted: the run stopped (${result.stopped.detail})`,
          );
        return skip(d, result.stopped.code, `not attempted: the run stopped (${result.stopped.detail})`);
      }
      try {
        if (!checked && client.supportsAcrAttributes()) {
          // Between the listing and now a tag may have been pushed onto this digest (a rollback by tag), or the
          // manifest locked: a delete by digest would take the new tag with it. Read it once more and leave it
          // if it changed; the next run plans it again.
          let current: ManifestAttributes & { tags?: string[] };
          try {
            current = await client.getManifestAttributes(repository, d.digest);
          } catch (err) {
            if (!(err instanceof GuardError && err.code === ErrorCodes.NOT_FOUND)) throw err;
            result.alreadyGone.push(d);
            gone.add(d.digest);
            done++;
            return;
          }
          checked = current;
          const change = changeSincePlan(d, current);
          if (change)
            return give(
              result.notAttempted,
              ErrorCodes.CHANGED_SINCE_PLAN,
              `not deleted: ${change} since the plan; the next run plans it again`,
            );
        }
        if (d.locked && !unlockedFrom && checked) {
          // Read above, so that a failed delete can put back exactly the lock it found.
          const before = checked;
          if (before.deleteEnabled === false || before.writeEnabled === false) {
            await client.setManifestAttributes(repository, d.digest, { deleteEnabled: true, writeEnabled: true });
            unlockedFrom = before;
          }
        }
        const existed = await client.deleteManifest(repository, d.digest);
        (existed ? result.deleted : result.alreadyGone).push(d);
        gone.add(d.digest);
        done++;
        // Additive increase: one more slot per `limit` successes.
        if (limit < max && ++credit >= limit) {
          credit = 0;
          limit++;
        }
        return;
      } catch (err) {
        const code = err instanceof GuardError ? err.code : ErrorCodes.ERROR;
        const detail = messageOf(err);
        if (code === ErrorCodes.REGISTRY_AUTH) {
          result.stopped ??= { code, detail };
          return give(result.failed, code, detail);
        }
        if (code !== ErrorCodes.TRANSIENT || attempt >= maxAttempts) {
          return give(
            result.failed,
            code,
            code === ErrorCodes.TRANSIENT ? `${detail} (gave up after ${attempt} attempts)` : detail,
          );
        }
        result.retries++;
        const status = err instanceof GuardError ? err.status : undefined;
        const retryAfter =
          err instanceof GuardError && err.retryAfterSeconds !== undefined ? err.retryAfterSeconds * 1000 : undefined;
        if (status === 429) {
          result.throttled++;
          // Multiplicative decrease, and everyone waits out the server's Retry-After.
          limit = Math.max(1, Math.floor(limit / 2));
          credit = 0;
          const until = performance.now() + Math.min(retryAfter ?? firstBackoff * 2 ** (attempt - 1), maxBackoff);
          if (until > pausedUntil) pausedUntil = until;
        } else {
          await wait(Math.min(retryAfter ?? firstBackoff * 2 ** (attempt - 1), maxBackoff));
        }
      }
    }
  };

  for (const wave of [...waves.keys()].sort((a, b) => a - b)) {
    const items = waves.get(wave) as PlanDelete[];
    let next = 0;
    let running = 0;
    await new Promise<void>((resolve) => {
      const pump = (): void => {
        while (running < limit && next < items.length) {
          const d = items[next++];
          if (result.stopped) {
            skip(d, result.stopped.code, `not attempted: the run stopped (${result.stopped.detail})`);
            continue;
          }
          const blocker = d.after.find((p) => !gone.has(p));
          if (blocker !== undefined) {
            skip(d, 'KEPT_BY_FAILED_DELETE', `not attempted: ${blocker} lists or refers to it and was not deleted`);
            continue;
          }
          running++;
          void deleteOne(d).then(() => {
            running--;
            options.onProgress?.({ done, total, concurrency: limit });
            pump();
          });
        }
        if (running === 0 && next >= items.length) resolve();
      };
      pump();
    });
  }
  result.elapsedMs = performance.now() - started;
  return result;
}
