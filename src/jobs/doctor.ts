/**
 * `acr-guard doctor` as a job: reads the gate's verdicts (read-only) for a workload's images and runs the pure
 * checks of src/core/doctor over a snapshot (from a file or the live inventory); and the bounded, never-throwing
 * diagnosis the image-pull alert carries.
 */
import { parseImageReference } from '../core/reference';
import { ErrorCodes, GuardError, isGuardError } from '../core/errors';
import {
  diagnosePull,
  findWorkload,
  registryFor,
  workloadImages,
  type DoctorCheck,
  type DoctorReport,
  type PresenceAnswer,
  type Snapshot,
  type VerdictAnswer,
} from '../core/doctor';
import type { AuditStore, RegistryClient } from '../adapters/ports';

/** Verdicts read per repository when an image is deployed by tag (the newest with that tag wins). */
export const MAX_VERDICTS_PER_TAG_LOOKUP = 50;
/** Time one registry presence lookup may take before the check is `unknown`. */
export const PRESENCE_TIMEOUT_MS = 15_000;
/** Default time the alert waits for a diagnosis before sending without it. */
export const ALERT_DIAGNOSIS_TIMEOUT_MS = 30_000;

/** The gate's verdict of each image (by digest; by the newest verdict recorded with the tag otherwise). */
export async function lookUpVerdicts(
  audit: AuditStore,
  images: readonly string[],
  /** Digests the registry says the images' tags point at now (from the presence check): preferred to the tag. */
  resolved: ReadonlyMap<string, string> = new Map(),
): Promise<Map<string, VerdictAnswer>> {
  const out = new Map<string, VerdictAnswer>();
  for (const image of images) {
    try {
      const ref = parseImageReference(image, { field: 'image' });
      // A tag is only as good as what it points at now: the verdict of that digest, when the registry said which.
      const digest = ref.digest ?? resolved.get(image);
      let verdict;
      if (digest) verdict = await audit.latestVerdict({ registry: ref.registry, repository: ref.repository, digest });
      else {
        const list = await audit.listVerdicts(ref.registry, ref.repository, MAX_VERDICTS_PER_TAG_LOOKUP);
        verdict = list.filter((v) => v.tag === ref.tag).sort((a, b) => b.decidedAt.localeCompare(a.decidedAt))[0];
      }
      out.set(
        image,
        verdict
          ? { status: 'found', verdict, ...(!ref.digest && digest ? { resolved: true } : {}) }
          : { status: 'none' },
      );
    } catch (err) {
      out.set(image, {
        status: 'error',
        reason: isGuardError(err) ? `${err.code}: ${err.message}` : 'unexpected error reading the audit store',
      });
    }
  }
  return out;
}

/** What `doctor pull` needs besides the snapshot. */
export interface PullJobDeps {
  /** The gate's verdicts (read-only); without it the verdict checks are `unknown`. */
  audit?: AuditStore;
  /** Asks the registry whether an image exists; without it no presence check is made. */
  presence?: (image: string) => Promise<PresenceAnswer>;
}

/** Runs `doctor pull` over a snapshot. */
export async function runDoctorPull(
  snapshot: Snapshot,
  workload: string,
  deps: PullJobDeps = {},
): Promise<DoctorReport> {
  const found = findWorkload(snapshot, workload).workload;
  const images = found ? workloadImages(found) : [];
  let presence: Map<string, PresenceAnswer> | undefined;
  if (deps.presence) {
    presence = new Map();
    for (const image of images) {
      // Only registries of the snapshot are asked (never a host a workload names that doctor does not know).
      let host: string;
      try {
        host = parseImageReference(image, { field: 'image' }).registry;
      } catch {
        continue;
      }
      if (!registryFor(snapshot, host)) continue;
      try {
        presence.set(image, await deps.presence(image));
      } catch (err) {
        presence.set(image, {
          status: 'unreachable',
          reason: isGuardError(err) ? `${err.code}: ${err.message}` : 'unexpected error',
        });
      }
    }
  }
  // Presence first: a tag's verdict is then the verdict of the digest it points at now, not the newest one recorded
  // under that tag (a digest pushed since without a verdict would otherwise hide behind an old release).
  const resolved = new Map<string, string>();
  for (const [image, answer] of presence ?? [])
    if (answer.status === 'present' && answer.digest) resolved.set(image, answer.digest);
  const verdicts = deps.audit ? await lookUpVerdicts(deps.audit, images, resolved) : undefined;
  return diagnosePull({ snapshot, workload, verdicts, presence });
}

/**
 * Presence through the registry's own API (a manifest GET by tag or digest), within {@link PRESENCE_TIMEOUT_MS}:
 * 404 is `absent`; anything else that fails throws (the check is then `unknown`, with the reason).
 */
export function registryPresence(
  clientFor: (host: string) => RegistryClient,
  timeoutMs = PRESENCE_TIMEOUT_MS,
): (image: string) => Promise<PresenceAnswer> {
  return async (image) => {
    const ref = parseImageReference(image, { field: 'image' });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new GuardError(
              ErrorCodes.TRANSIENT,
              `${ref.registry} did not answer within ${Math.round(timeoutMs / 1000)} s`,
            ),
          ),
        timeoutMs,
      );
      timer.unref?.();
    });
    try {
      const manifest = await Promise.race([
        clientFor(ref.registry).getManifest(ref.repository, ref.digest ?? (ref.tag as string)),
        late,
      ]);
      return { status: 'present', digest: manifest.digest };
    } catch (err) {
      if (isGuardError(err, 'NOT_FOUND')) return { status: 'absent' };
      throw err;
    } finally {
      clearTimeout(timer);
    }
  };
}

/** The diagnosis an image-pull alert carries: the checks that did not pass, or why doctor could not run. */
export type AlertDiagnosis =
  | { command: string; status: 'ok'; passed: number; notPassing: DoctorCheck[] }
  | { command: string; status: 'error'; reason: string };

/** Options of {@link alertDiagnoser}. */
export interface AlertDiagnoserOptions extends PullJobDeps {
  /** The snapshot to diagnose with (the live inventory of the configured scope). */
  snapshot: () => Promise<Snapshot>;
  timeoutMs?: number;
}

/**
 * `diagnose(app)` for the alert job: `doctor pull <app>` within `timeoutMs`; never throws, never blocks the
 * alert past the timeout (a failure or a timeout is the diagnosis' `reason`).
 */
export function alertDiagnoser(options: AlertDiagnoserOptions): (app: string) => Promise<AlertDiagnosis> {
  const timeoutMs = options.timeoutMs ?? ALERT_DIAGNOSIS_TIMEOUT_MS;
  return async (app) => {
    const command = `acr-guard doctor pull ${app}`;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<AlertDiagnosis>((resolve) => {
      timer = setTimeout(
        () =>
          resolve({
            command,
            status: 'error',
            reason: `doctor did not finish within ${Math.round(timeoutMs / 1000)} s`,
          }),
        timeoutMs,
      );
      timer.unref?.();
    });
    const run = (async (): Promise<AlertDiagnosis> => {
      try {
        const report = await runDoctorPull(await options.snapshot(), app, options);
        const notPassing = report.checks.filter((c) => c.status !== 'pass');
        return { command, status: 'ok', passed: report.checks.length - notPassing.length, notPassing };
      } catch (err) {
        return {
          command,
          status: 'error',
          reason: isGuardError(err) ? `${err.code}: ${err.message}` : 'unexpected error',
        };
      }
    })();
    try {
      return await Promise.race([run, timeout]);
    } finally {
      clearTimeout(timer);
    }
  };
}
