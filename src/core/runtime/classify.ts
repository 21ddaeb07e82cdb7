/**
 * Runtime assurance, pure part: what runs (an inventory of deployed references, each with the workload that
 * runs it) is classified against the recorded verdicts and the policy into one status per running image, from
 * a fixed vocabulary ({@link RUNTIME_STATUSES}). No I/O and no clock: the edges resolve tags, read verdicts and
 * the grace state, and pass `nowMs`.
 *
 * The steps: {@link planInventory} groups the containers by normalised reference and says which tags must be
 * resolved (only on allowlisted registries: a registry outside the allowlist is never contacted);
 * {@link classifyRuntime} turns the resolutions and verdicts into entries, the next grace state and the
 * digests due for a re-gate.
 */
import { SEVERITIES, type ImageId, type Severity, type Verdict } from '../types';
import type { GraceKey, Policy } from '../policyTypes';
import { findGateRule, isRegistryAllowed, runtimePolicyOf } from '../policyLookup';
import { normaliseDeployedReference, type NormalisedReference } from '../purge/inUse';
import { formatDuration, humanDuration } from '../duration';
import { ErrorCodes, GuardError } from '../errors';

/** The statuses a running image can have; tests and users match these words. */
export const RUNTIME_STATUSES = [
  'released',
  'by-tag',
  'blocked',
  'overdue',
  'never-gated',
  'outside-allowlist',
  'allowed-external',
  'unresolved',
] as const;
/** One of {@link RUNTIME_STATUSES}. */
export type RuntimeStatus = (typeof RUNTIME_STATUSES)[number];
/** Statuses that need no action (CLI exit 0, no alert). */
export const RUNTIME_OK_STATUSES: readonly RuntimeStatus[] = ['released', 'allowed-external'];

/** Most containers one runtime report covers; more is `RUNTIME_INVENTORY_TOO_LARGE` (no report from part of the estate). */
export const MAX_RUNTIME_CONTAINERS = 100_000;
/** Most distinct images re-gated by one run; the rest wait for the next run (oldest verdicts first). */
export const MAX_RUNTIME_REGATES = 500;
/** How long a grace clock is kept for a digest that no longer runs (so a redeploy does not restart its clock). */
export const GRACE_STATE_RETENTION_MS = 90 * 86_400_000;

/** A container found running: its image reference as deployed and the workload (ARM id + container name) running it. */
export interface RunningContainer {
  image: string;
  source: string;
}

/** One distinct running image: the containers that run it grouped under its normalised reference. */
export interface InventoryImage {
  /** Grouping key and display text: `registry/repository[:tag][@digest]`, or the raw text when it does not parse. */
  key: string;
  ref?: NormalisedReference;
  /** Where the registry stands in the policy. */
  scope: 'allowlisted' | 'outside' | 'external' | 'invalid';
  workloads: string[];
}

/** The inventory grouped, and the tags to resolve (allowlisted, deployed by tag only). */
export interface InventoryPlan {
  images: InventoryImage[];
  /** Keys of {@link InventoryImage}s whose tag must be resolved to a digest now. */
  toResolve: Array<{ key: string; registry: string; repository: string; tag: string }>;
}

/** The edge's answer for a tag: the digest it points at now, or why it could not be resolved. */
export type Resolution = { digest: string } | { error: string };

/** The first time a running digest was seen blocked (key {@link digestKey}) → ISO time. Survives restarts in the audit store. */
export type GraceState = Record<string, string>;

/** One running image in the report. */
export interface RuntimeEntry {
  image: string;
  digest?: string;
  /** Deployed by tag only (no digest): a finding of its own — pin by digest. */
  byTag: boolean;
  workloads: string[];
  status: RuntimeStatus;
  reason: string;
  /** For `blocked` and `overdue`: first seen blocked + the grace of the worst blocking severity. */
  graceUntil?: string;
}

/** Counts per status (every status present, zero when none). */
export type RuntimeSummary = Record<RuntimeStatus, number>;

/** What {@link classifyRuntime} returns. */
export interface RuntimeClassification {
  entries: RuntimeEntry[];
  summary: RuntimeSummary;
  /** The grace state to store for the next run. */
  graceState: GraceState;
  /** When each clock's digest was last seen running, to store beside {@link graceState}. */
  graceSeen: GraceState;
  /** Digests whose verdict is stale or from another policy version, oldest verdict first, at most {@link MAX_RUNTIME_REGATES}. */
  due: Array<{ image: ImageId; tag?: string; why: string }>;
  /** Due digests left for a later run (over {@link MAX_RUNTIME_REGATES}). */
  dueLeft: number;
}

/** Key of a digest in verdict maps and the grace state: `registry/repository@digest`. */
export function digestKey(image: ImageId): string {
  return `${image.registry}/${image.repository}@${image.digest}`;
}

function referenceText(ref: NormalisedReference): string {
  return `${ref.registry}/${ref.repository}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
}

/**
 * Groups running containers by normalised reference and places each registry against the policy. Throws
 * `RUNTIME_INVENTORY_TOO_LARGE` over {@link MAX_RUNTIME_CONTAINERS} (checked before any work).
 */
export function planInventory(containers: readonly RunningContainer[], policy: Policy): InventoryPlan {
  if (containers.length > MAX_RUNTIME_CONTAINERS) {
    throw new GuardError(
      ErrorCodes.RUNTIME_INVENTORY_TOO_LARGE,
      `the inventory lists ${containers.length} containers, over the bound of ${MAX_RUNTIME_CONTAINERS} (MAX_RUNTIME_CONTAINERS); narrow the scopes. No report was made`,
    );
  }
  const allowExternal = new Set(runtimePolicyOf(policy).allowRegistries);
  const byKey = new Map<string, InventoryImage>();
  const scopes = new Map<string, InventoryImage['scope']>();
  for (const c of containers) {
    const ref = normaliseDeployedReference(c.image);
    const key = ref ? referenceText(ref) : String(c.image).slice(0, 300);
    let image = byKey.get(key);
    if (!image) {
      let scope: InventoryImage['scope'] = 'invalid';
      if (ref) {
        // One policy look-up per registry, not per image: a large estate runs from a handful of registries.
        scope =
          scopes.get(ref.registry) ??
          (isRegistryAllowed(policy, ref.registry)
            ? 'allowlisted'
            : allowExternal.has(ref.registry)
              ? 'external'
              : 'outside');
        scopes.set(ref.registry, scope);
      }
      image = { key, ...(ref ? { ref } : {}), scope, workloads: [] };
      byKey.set(key, image);
    }
    if (!image.workloads.includes(c.source)) image.workloads.push(c.source);
  }
  const images = [...byKey.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  for (const image of images) image.workloads.sort();
  const toResolve = images
    .filter((i) => i.scope === 'allowlisted' && i.ref && i.ref.digest === undefined)
    .map((i) => ({
      key: i.key,
      registry: (i.ref as NormalisedReference).registry,
      repository: (i.ref as NormalisedReference).repository,
      tag: (i.ref as NormalisedReference).tag as string,
    }));
  return { images, toResolve };
}

/** The images of a plan whose digests are known after resolution (allowlisted only): what to read verdicts for. */
export function digestsToLookUp(plan: InventoryPlan, resolutions: ReadonlyMap<string, Resolution>): ImageId[] {
  const out = new Map<string, ImageId>();
  for (const image of plan.images) {
    const digest = digestOf(image, resolutions);
    if (image.scope !== 'allowlisted' || !image.ref || !digest) continue;
    const id = { registry: image.ref.registry, repository: image.ref.repository, digest };
    out.set(digestKey(id), id);
  }
  return [...out.values()];
}

function digestOf(image: InventoryImage, resolutions: ReadonlyMap<string, Resolution>): string | undefined {
  if (image.ref?.digest) return image.ref.digest;
  const r = resolutions.get(image.key);
  return r && 'digest' in r ? r.digest : undefined;
}

/**
 * The grace key of a blocking verdict: the most severe severity among its failing `vulnerabilities` checks'
 * blocking findings (or, when those details were cut from the record, among its counted findings the rule
 * blocks); `other` when no finding caused the block (signatures, scans pending, no rule).
 */
export function worstBlockingSeverity(verdict: Verdict, policy: Policy): GraceKey {
  const failing = verdict.checks.filter((c) => c.name === 'vulnerabilities' && c.status === 'fail');
  if (failing.length === 0) return 'other';
  const seen = new Set<Severity>();
  for (const c of failing) {
    const blocking = (c.details as { blocking?: Array<{ severity?: unknown }> } | undefined)?.blocking;
    if (Array.isArray(blocking))
      for (const f of blocking) if (SEVERITIES.includes(f?.severity as Severity)) seen.add(f.severity as Severity);
  }
  if (seen.size === 0) {
    const block = findGateRule(policy, verdict.image.repository)?.vulnerabilities.block ?? SEVERITIES;
    for (const s of block) if ((verdict.findingCounts[s] ?? 0) > 0) seen.add(s);
  }
  return SEVERITIES.find((s) => seen.has(s)) ?? 'other';
}

function emptySummary(): RuntimeSummary {
  return Object.fromEntries(RUNTIME_STATUSES.map((s) => [s, 0])) as RuntimeSummary;
}

/** Input of {@link classifyRuntime}. */
export interface ClassifyInput {
  plan: InventoryPlan;
  /** Tag resolutions by {@link InventoryImage.key} (from the edge; allowlisted images only). */
  resolutions: ReadonlyMap<string, Resolution>;
  /** Latest verdict per digest ({@link digestKey}); absent: none recorded. */
  verdicts: ReadonlyMap<string, Verdict>;
  policy: Policy;
  graceState: Readonly<GraceState>;
  /** When each clock's digest was last seen running (absent in states written before it existed: firstSeen counts). */
  graceSeen?: Readonly<GraceState>;
  nowMs: number;
  /**
   * False when no verdict store was read (the CLI without `--audit-dir`): a digest without a verdict is then
   * `unresolved` ("not known"), not `never-gated` ("reached a workload around the gate"). Default true.
   */
  verdictStore?: boolean;
}

/**
 * Classifies every running image. A `release` verdict counts only under the current policy version (a
 * release under another policy is `never-gated` until it is re-gated: fail closed); a `block` counts under
 * any version (a block is never lifted by a policy edit alone).
 */
export function classifyRuntime(input: ClassifyInput): RuntimeClassification {
  const { plan, resolutions, verdicts, policy, nowMs } = input;
  const runtime = runtimePolicyOf(policy);
  const summary = emptySummary();
  const entries: RuntimeEntry[] = [];
  const graceState: GraceState = {};
  const graceSeen: GraceState = {};
  const nowIso = new Date(nowMs).toISOString();
  const running = new Set<string>();
  const due: Array<{ image: ImageId; tag?: string; why: string; decidedMs: number; key: string }> = [];
  const staleWhy = `verdict older than runtime.regateAfter (${formatDuration(runtime.regateAfterMs)})`;
  const releasedNow = new Set<string>();

  for (const image of plan.images) {
    const byTag = image.ref !== undefined && image.ref.digest === undefined;
    const base = { image: image.key, byTag, workloads: [...image.workloads] };
    const push = (entry: RuntimeEntry): void => {
      entries.push(entry);
      summary[entry.status] += 1;
    };
    if (image.scope === 'invalid' || !image.ref) {
      push({
        ...base,
        byTag: false,
        status: 'unresolved',
        reason: 'not a valid image reference; it cannot be resolved to a digest',
      });
      continue;
    }
    const ref = image.ref;
    if (image.scope === 'outside') {
      push({
        ...base,
        ...(ref.digest ? { digest: ref.digest } : {}),
        status: 'outside-allowlist',
        reason: `registry ${ref.registry} is not in the policy's registries (nor runtime.allowRegistries): deployed around the gate; it was not contacted`,
      });
      continue;
    }
    if (image.scope === 'external') {
      push({
        ...base,
        ...(ref.digest ? { digest: ref.digest } : {}),
        status: 'allowed-external',
        reason: `registry ${ref.registry} is tolerated by runtime.allowRegistries; not gated, not contacted`,
      });
      continue;
    }
    const digest = digestOf(image, resolutions);
    if (!digest) {
      const r = resolutions.get(image.key);
      const why = r && 'error' in r ? r.error : 'not resolved';
      push({ ...base, status: 'unresolved', reason: `tag ${ref.tag} cannot be resolved to a digest now (${why})` });
      continue;
    }
    const id: ImageId = { registry: ref.registry, repository: ref.repository, digest };
    const key = digestKey(id);
    running.add(key);
    const verdict = verdicts.get(key);
    if (!verdict) {
      push(
        input.verdictStore === false
          ? {
              ...base,
              digest,
              status: 'unresolved',
              reason: `no verdict store was read, so whether ${digest} passed the gate is not known`,
            }
          : {
              ...base,
              digest,
              status: 'never-gated',
              reason: `no verdict exists for ${digest}: it reached a workload without passing the gate`,
            },
      );
      continue;
    }
    const decidedMs = Date.parse(verdict.decidedAt);
    const samePolicy = verdict.policy?.hash === policy.hash;
    const age = nowMs - decidedMs;
    if (!samePolicy)
      due.push({
        image: id,
        ...(ref.tag ? { tag: ref.tag } : {}),
        why: 'verdict made under another policy version',
        decidedMs,
        key,
      });
    else if (!(age <= runtime.regateAfterMs))
      due.push({ image: id, ...(ref.tag ? { tag: ref.tag } : {}), why: staleWhy, decidedMs, key });
    if (verdict.decision === 'release') {
      if (samePolicy && byTag && !runtime.tolerateTags) {
        // The tag resolves to a released digest NOW; what the replicas pulled is not recorded (Container Apps
        // keeps the reference, not the digest), and the tag can have moved since the pull: never `released`.
        releasedNow.add(key);
        push({
          ...base,
          digest,
          status: 'by-tag',
          reason: `deployed by tag ${ref.tag}, which resolves now to ${digest} (released ${verdict.decidedAt}, ${verdict.rule}); what the replicas pulled is not recorded and the tag can move after the pull. Pin by digest (acr-guard deploy), or set runtime.tolerateTags: true`,
        });
      } else if (samePolicy) {
        releasedNow.add(key);
        push({
          ...base,
          digest,
          status: 'released',
          reason: `released ${verdict.decidedAt} (${verdict.rule})${byTag ? `; deployed by tag ${ref.tag}, tolerated by runtime.tolerateTags` : ''}`,
        });
      } else {
        push({
          ...base,
          digest,
          status: 'never-gated',
          reason: `no verdict under the current policy: the last one (release, ${verdict.decidedAt}) was made under policy ${String(verdict.policy?.hash).slice(0, 12)}; a re-gate is due`,
        });
      }
      continue;
    }
    const firstSeen = input.graceState[key] ?? graceState[key] ?? nowIso;
    graceState[key] = firstSeen;
    graceSeen[key] = nowIso;
    const severity = worstBlockingSeverity(verdict, policy);
    const graceMs = runtime.graceMs[severity];
    const untilMs = Date.parse(firstSeen) + graceMs;
    const graceUntil = new Date(untilMs).toISOString();
    const worst = severity === 'other' ? 'a block no finding caused' : `worst blocking severity ${severity}`;
    if (nowMs >= untilMs) {
      push({
        ...base,
        digest,
        status: 'overdue',
        graceUntil,
        reason: `${verdict.summary}; first seen blocked ${firstSeen}, grace for ${worst} (${formatDuration(graceMs)}) ended ${graceUntil}`,
      });
    } else {
      push({
        ...base,
        digest,
        status: 'blocked',
        graceUntil,
        reason: `${verdict.summary}; grace for ${worst} (${formatDuration(graceMs)}) left: ${humanDuration(untilMs - nowMs)}`,
      });
    }
  }

  // Clocks of digests not seen blocked and running in this run (stopped, or their tag did not resolve this once)
  // are kept for GRACE_STATE_RETENTION_MS after they were LAST seen running, so that a redeploy or a passing
  // resolve error does not restart the grace of an overdue image; a digest released now has its clock cleared.
  for (const [key, firstSeen] of Object.entries(input.graceState)) {
    if (key in graceState || releasedNow.has(key) || running.has(key)) continue;
    const lastSeen = input.graceSeen?.[key] ?? firstSeen;
    if (nowMs - Date.parse(lastSeen) <= GRACE_STATE_RETENTION_MS) {
      graceState[key] = firstSeen;
      graceSeen[key] = lastSeen;
    }
  }
  // Oldest verdicts first, so a run that hits the bound re-gates the stalest.
  due.sort((a, b) => a.decidedMs - b.decidedMs || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const seenDue = new Set<string>();
  const unique = due.filter((d) => !seenDue.has(d.key) && seenDue.add(d.key) !== undefined);
  const kept = unique
    .slice(0, MAX_RUNTIME_REGATES)
    .map(({ image, tag, why }) => ({ image, ...(tag !== undefined ? { tag } : {}), why }));
  return { entries, summary, graceState, graceSeen, due: kept, dueLeft: unique.length - kept.length };
}

/** A runtime report as recorded in the audit store and served by `GET /api/runtime`. */
export interface RuntimeReport {
  /** ISO time of the run (orchestration time in Azure). */
  generatedAt: string;
  /** The policy hash the images were classified under. */
  policyHash: string;
  /** Where the inventory came from (`azure`, `--deployed <file>`, `demo`). */
  inventory: string;
  images: RuntimeEntry[];
  summary: RuntimeSummary;
  /** Digests re-gated by this run (recorded, never applied), and those left for a later run. */
  regated: Array<{ image: string; why: string; outcome: string }>;
  regatesLeft: number;
}

/** The JSON the CLI prints (`--output json`): `{ images, summary }`. */
export function runtimeJson(
  entries: readonly RuntimeEntry[],
  summary: RuntimeSummary,
): { images: RuntimeEntry[]; summary: RuntimeSummary } {
  return {
    images: entries.map((e) => ({
      image: e.image,
      ...(e.digest !== undefined ? { digest: e.digest } : {}),
      byTag: e.byTag,
      workloads: e.workloads,
      status: e.status,
      reason: e.reason,
      ...(e.graceUntil !== undefined ? { graceUntil: e.graceUntil } : {}),
    })),
    summary,
  };
}
