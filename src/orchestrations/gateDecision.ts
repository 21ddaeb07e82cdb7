/**
 * The gate's decision over what it has read, shared by the orchestrator (which decides in-line, over data already
 * in its history) and version 3's `prepareAndFinish` activity (which decides in the same call as its reads when
 * nothing has to be waited for). Pure: no I/O, time passed in; both sides build the same verdict from the same
 * evidence.
 */
import { decide, scanComplete, type ManifestEvidence } from '../core/decision';
import type { GateRule } from '../core/policyTypes';
import type { FindingsResult, FindingsSourceName, ImageId, SignatureResult, Verdict } from '../core/types';
import type { GateContext } from './gateContext';
import type { PlatformManifest } from './resolveManifest';

/** Findings read so far, by platform digest and source ({@link findingsKey}). */
export type FindingsByKey = ReadonlyMap<string, FindingsResult>;

/** The key of one platform digest × source in {@link FindingsByKey}. */
export function findingsKey(digest: string, source: FindingsSourceName): string {
  return `${digest}|${source}`;
}

/** One platform manifest × source still to be read. */
export type WantedFindings = PlatformManifest & { source: FindingsSourceName };

/**
 * What waiting can still change: for every platform whose scan is not complete under the rule, the sources that
 * answered `pending` (an `error` is final for this gate and blocks in `decide`).
 */
export function pendingFindings(
  rule: GateRule,
  sources: readonly FindingsSourceName[],
  platforms: readonly PlatformManifest[],
  results: FindingsByKey,
): WantedFindings[] {
  const incomplete = platforms.filter(
    (p) => !scanComplete({ rule, sources: [...sources], findings: platformFindings(p.digest, sources, results) }),
  );
  return incomplete.flatMap((p) =>
    sources
      .filter((s) => results.get(findingsKey(p.digest, s))?.status === 'pending')
      .map((source) => ({ ...p, source })),
  );
}

function platformFindings(
  digest: string,
  sources: readonly FindingsSourceName[],
  results: FindingsByKey,
): FindingsResult[] {
  return sources.map((s) => results.get(findingsKey(digest, s))).filter((r): r is FindingsResult => r !== undefined);
}

/** What {@link decideGate} decides over. */
export interface GateEvidence {
  /** Without a rule, the verdict is a block (no gate rule matches). */
  gate: GateContext;
  image: ImageId;
  tag?: string;
  platforms: readonly PlatformManifest[];
  results: FindingsByKey;
  signatures: SignatureResult;
  deadlinePassed: boolean;
  now: Date;
}

/** The verdict over every platform's findings and the pushed digest's signatures (throws only on a bug). */
export function decideGate(evidence: GateEvidence): Verdict {
  const { gate, results } = evidence;
  const manifests: ManifestEvidence[] = evidence.platforms.map((p) => ({
    digest: p.digest,
    ...(p.platform ? { platform: p.platform } : {}),
    findings: platformFindings(p.digest, gate.sources, results),
    signatures: evidence.signatures,
  }));
  return decide({
    policy: { version: gate.policyVersion, hash: gate.policyHash },
    rule: gate.rule,
    image: evidence.image,
    tag: evidence.tag,
    sources: gate.sources,
    manifests,
    deadlinePassed: evidence.deadlinePassed,
    now: evidence.now,
  });
}
