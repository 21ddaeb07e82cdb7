/**
 * Orchestration versions. host.json's `extensions.durableTask.defaultVersion` stamps every new orchestration
 * instance (sub-orchestrations included) with {@link ORCHESTRATION_VERSION}; an instance keeps the version it
 * was created with for its whole life, and `context.df.version` tells the orchestrator which shape to replay.
 * Instances created before the setting existed have no version: they are version 1. The local host stamps the
 * same constant (a test checks host.json against it). With `versionMatchStrategy` `CurrentOrOlder` a worker never
 * takes an instance newer than its own default; an orchestrator that meets one anyway fails it (nothing applied).
 *
 * `imageGate`: version 1 calls loadGateContext, resolveManifest, collectFindings, verifySignatures, applyVerdict,
 * recordVerdict (7 replays of a typical gate); version 2 reads in one activity (`prepare`) and writes in one
 * (`applyAndRecord`): 3 replays; version 3 reads, decides, applies and records in one (`prepareAndFinish`) when
 * nothing has to be waited for, and goes on as version 2 otherwise: 2 replays (src/orchestrations/combinedSteps.ts).
 * The other orchestrations have one shape for every version.
 */

/** The version new instances get (host.json `durableTask.defaultVersion`). Raise it when an orchestration's shape changes. */
export const ORCHESTRATION_VERSION = '3';

/** The shapes of `imageGate`. */
export type GateShape = 1 | 2 | 3;

/**
 * The shape of `imageGate` an instance of `version` replays: no version (or `1`) is 1, `2` is 2, `3` is 3. A version this
 * code does not know throws: the instance fails, and nothing is released or applied.
 */
export function gateShapeOf(version: string | undefined): GateShape {
  if (version === undefined || version === '' || version === '1') return 1;
  if (version === '2') return 2;
  if (version === '3') return 3;
  throw new Error(
    `imageGate: this instance has orchestration version "${version}", which this code does not know (it knows 1, 2 and 3): ` +
      'a newer deployment created it. This instance fails and nothing was applied; a rescan on the newer deployment ' +
      'gates the image (host.json versionMatchStrategy CurrentOrOlder keeps such instances from older workers).',
  );
}
