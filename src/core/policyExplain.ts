/**
 * A policy that explains itself: which gate rule applies to an image and why, what will decide its verdict,
 * which retention rule applies and what it keeps (`acr-guard policy explain`), and a short summary of every
 * rule (`acr-guard policy check`). Pure: the policy, the reference and the time come in; nothing is fetched.
 *
 * The look-ups are the ones the gate and the purge use (`findGateRule`'s first match, `applyModeFor`,
 * `effectiveSources`, `promoteTarget`), so the explanation cannot disagree with what they do.
 */
import { formatDuration } from './duration';
import { DEFAULT_DELETION_CAP } from './purge/cap';
import { isGuardError } from './errors';
import { matchGlob } from './glob';
import { isAcrHost } from './acrHost';
import { applyModeFor, effectiveSources, findRegistry, promoteTarget, runtimePolicyOf } from './policyLookup';
import type { ApplyMode, DeletionCap, GateRule, Policy, RetentionRule } from './policyTypes';
import { formatImage } from './reference';
import { selectTrustPolicy, type TrustPolicyDocument } from './signatures/trustPolicy';
import type { FindingsSourceName, ImageReference, Severity } from './types';

/** One rule scope looked at, in file order, with why it did or did not match. */
export interface ScopeConsidered {
  /** `gate[1]`, `retention[0]`. */
  rule: string;
  scope: string;
  matched: boolean;
  reason: string;
}

/** An exception of the applying rule, and whether it is still in force at the explanation's time. */
export interface ExceptionExplained {
  /** `gate[1].exceptions[0]`. */
  path: string;
  id: string;
  expires: string;
  reason: string;
  /** Only these packages; absent: every package with that id. */
  packages?: string[];
  /** True when the end of the `expires` day (UTC) is at or before `now`: it no longer applies. */
  expired: boolean;
}

/** The trust policy entry that applies (only when a trust policy file was given). */
export interface TrustEntryExplained {
  /** The entry's name; absent when none applies. */
  name?: string;
  found: boolean;
  /** How it was chosen: named by the rule, by its `registryScopes` listing the repository, or the `*` entry. */
  selectedBy?: 'rule' | 'registryScopes' | 'wildcard';
  level?: string;
  registryScopes?: string[];
  trustStores?: string[];
  note: string;
}

/** What the applying gate rule will decide with. */
export interface GateExplained {
  /** Rules looked at up to and including the one that applies (or all of them when none does). */
  considered: ScopeConsidered[];
  /** The rule that applies, if any. */
  rule?: { path: string; index: number; scope: string };
  /** Rules after the applying one, never looked at (first match wins). */
  notConsidered: number;
  vulnerabilities?: {
    block: Severity[];
    onlyFixable: boolean;
    /** Sources the gate consults on this registry; `sourcesDefaulted` when the rule does not list them. */
    sources: FindingsSourceName[];
    sourcesDefaulted: boolean;
    require: 'any' | 'all';
    scanDeadline: string;
    pollInterval: string;
    maxReportAge: string;
    ratingSources?: string[];
    exceptions: ExceptionExplained[];
  };
  signatures?: { required: boolean; trustPolicy?: string; effect: string; entry?: TrustEntryExplained };
  reports?: {
    consulted: boolean;
    maxReportAge: string;
    signedBy?: string;
    effect: string;
    entry?: TrustEntryExplained;
  };
}

/** The retention rule that applies to the repository, and what it keeps. */
export interface RetentionExplained {
  considered: ScopeConsidered[];
  rule?: { path: string } & RetentionRuleText & {
      /** True when the rule does not set `maxDeletes` (the default cap applies). */
      maxDeletesDefaulted: boolean;
    };
  /** Sentences, in the order the purge applies them. */
  keeps: string[];
  /** With a tag and a `tagPattern`: whether that tag matches it (may go once old and not among the kept). */
  tagMatchesPattern?: boolean;
}

/** Everything `policy explain` says about one image. */
export interface PolicyExplanation {
  /** The reference as given, normalised: `registry/repository:tag` or `…@digest`. */
  image: string;
  repository: string;
  tag?: string;
  digest?: string;
  /** ISO time the exceptions were judged at. */
  at: string;
  registry: {
    host: string;
    /** Listed under `registries`: acr-guard gates and purges it. */
    allowed: boolean;
    /** How a verdict is applied there (only when allowed). */
    apply?: ApplyMode;
    applyReason: string;
    /** Not gated but tolerated at runtime (`runtime.allowRegistries`). */
    allowedExternal: boolean;
  };
  /** True when the registry is allowed and a gate rule applies: the image is gated by that rule. */
  applies: boolean;
  /** Why the image is refused before gating, and what happens then. */
  refusal?: { reason: 'registry-not-allowed' | 'no-gate-rule'; whatHappens: string };
  gate: GateExplained;
  retention: RetentionExplained;
  /** In promote mode: where a released image goes (or why the template cannot be used for this repository). */
  promote?: { target?: string; error?: string };
}

/** The literal text of a glob up to its first wildcard. */
function literalPrefix(pattern: string): string {
  const at = pattern.search(/[*?]/);
  return at < 0 ? pattern : pattern.slice(0, at);
}

/** Why `pattern` does or does not match `repository`, in one clause a person can check. */
export function explainScope(pattern: string, repository: string): { matched: boolean; reason: string } {
  if (matchGlob(pattern, repository)) {
    if (!/[*?]/.test(pattern)) return { matched: true, reason: `"${pattern}" names ${repository} exactly` };
    return { matched: true, reason: `"${pattern}" matches ${repository}` };
  }
  const prefix = literalPrefix(pattern);
  if (!/[*?]/.test(pattern)) return { matched: false, reason: `"${pattern}" names only ${pattern}` };
  if (pattern.endsWith('/**') && repository === pattern.slice(0, -3))
    return { matched: false, reason: `a trailing "/**" needs at least one more path segment after ${repository}` };
  if (!repository.startsWith(prefix))
    return { matched: false, reason: `${repository} does not start with "${prefix}"` };
  if (!pattern.includes('**')) {
    const want = pattern.split('/').length;
    const got = repository.split('/').length;
    if (want !== got)
      return {
        matched: false,
        reason: `${pattern.includes('*') ? '"*"' : '"?"'} matches within one path segment: "${pattern}" has ${want} segment${want === 1 ? '' : 's'}, ${repository} ${got}`,
      };
  }
  return {
    matched: false,
    reason: `the rest of ${repository} after "${prefix}" does not fit "${pattern.slice(prefix.length)}"`,
  };
}

/** The scopes of `rules` in order, up to and including the first that matches `repository`. */
function considerScopes(
  rules: ReadonlyArray<{ scope: string; index: number }>,
  section: 'gate' | 'retention',
  repository: string,
): { considered: ScopeConsidered[]; index?: number } {
  const considered: ScopeConsidered[] = [];
  for (const rule of rules) {
    const { matched, reason } = explainScope(rule.scope, repository);
    considered.push({ rule: `${section}[${rule.index}]`, scope: rule.scope, matched, reason });
    if (matched) return { considered, index: rule.index };
  }
  return { considered };
}

/** The trust policy entry `name` (or the one selected for `scope` when no name), explained. */
function trustEntry(
  doc: TrustPolicyDocument,
  scope: string,
  name: string | undefined,
  required: boolean,
): TrustEntryExplained {
  const entry = selectTrustPolicy(doc, scope, name);
  if (!entry)
    return {
      ...(name ? { name } : {}),
      found: false,
      note: name
        ? `the trust policy file has no entry named ${name}`
        : `no entry of the trust policy file lists ${scope} or "*" in its registryScopes`,
    };
  const selectedBy = name ? 'rule' : entry.registryScopes.includes(scope) ? 'registryScopes' : 'wildcard';
  const weak = entry.level === 'audit' || entry.level === 'skip';
  return {
    name: entry.name,
    found: true,
    selectedBy,
    level: entry.level,
    registryScopes: [...entry.registryScopes],
    trustStores: entry.trustStores.map((t) => `${t.type}:${t.name}`),
    note:
      required && weak
        ? `level ${entry.level}: a signature verified only at this level does not satisfy signatures.required (strict or permissive needed)`
        : `level ${entry.level}`,
  };
}

function explainGateRule(
  rule: GateRule,
  host: string,
  repository: string,
  now: Date,
  trust: TrustPolicyDocument | undefined,
): Omit<GateExplained, 'considered' | 'notConsidered'> {
  const v = rule.vulnerabilities;
  const path = `gate[${rule.index}]`;
  const sources = effectiveSources(rule, host);
  const exceptions: ExceptionExplained[] = v.exceptions.map((e, i) => ({
    path: `${path}.vulnerabilities.exceptions[${i}]`,
    id: e.id,
    expires: e.expires,
    reason: e.reason,
    ...(e.packages ? { packages: [...e.packages] } : {}),
    expired: now.getTime() >= e.expiresAtMs,
  }));
  const trustName = rule.signatures.trustPolicy;
  const signatureEffect = rule.signatures.required
    ? `at least one signature must verify under ${trustName ? `trust policy entry ${trustName}` : 'the trust policy entry whose registryScopes match the image'}; not verified or inconclusive blocks`
    : 'signatures are checked and recorded but never block (not required)';
  const reportsConsulted = sources.includes('reports');
  const reportsEffect = !reportsConsulted
    ? 'attached reports are not consulted (sources does not list reports)'
    : v.reportsSignedBy
      ? `a report counts only when signed under trust policy entry ${v.reportsSignedBy} and younger than ${formatDuration(v.maxReportAgeMs)}; unsigned reports are ignored and named`
      : `every attached report younger than ${formatDuration(v.maxReportAgeMs)} counts, signed or not; the worst one decides`;
  return {
    rule: { path, index: rule.index, scope: rule.scope },
    vulnerabilities: {
      block: [...v.block],
      onlyFixable: v.onlyFixable,
      sources,
      sourcesDefaulted: v.sources === undefined,
      require: v.require,
      scanDeadline: formatDuration(v.scanDeadlineMs),
      pollInterval: formatDuration(v.pollIntervalMs),
      maxReportAge: formatDuration(v.maxReportAgeMs),
      ...(v.ratingSources ? { ratingSources: [...v.ratingSources] } : {}),
      exceptions,
    },
    signatures: {
      required: rule.signatures.required,
      ...(trustName ? { trustPolicy: trustName } : {}),
      effect: signatureEffect,
      ...(trust ? { entry: trustEntry(trust, `${host}/${repository}`, trustName, rule.signatures.required) } : {}),
    },
    reports: {
      consulted: reportsConsulted,
      maxReportAge: formatDuration(v.maxReportAgeMs),
      ...(v.reportsSignedBy ? { signedBy: v.reportsSignedBy } : {}),
      effect: reportsEffect,
      ...(trust && v.reportsSignedBy
        ? { entry: trustEntry(trust, `${host}/${repository}`, v.reportsSignedBy, false) }
        : {}),
    },
  };
}

/** `25%` or `40`: a deletion cap as written in the policy. */
function capText(cap: DeletionCap): string {
  return 'percent' in cap ? `${cap.percent}%` : String(cap.count);
}

/** What a retention rule keeps, as the purge applies it (docs/retention.md). */
function retentionKeeps(rule: RetentionRule): string[] {
  const keeps: string[] = [];
  const age = rule.olderThanMs !== undefined ? formatDuration(rule.olderThanMs) : undefined;
  keeps.push('anything pushed or retagged less than an hour ago');
  if (rule.protectInUse) keeps.push('anything a Container App or container group runs (protectInUse)');
  if (!rule.includeLocked) keeps.push('locked manifests (includeLocked: false)');
  if (rule.keep !== undefined) keeps.push(`the ${rule.keep} most recent tagged manifests`);
  if (age) keeps.push(`manifests updated less than ${age} ago, and those of unknown age`);
  if (rule.tagPattern) keeps.push(`tagged manifests with a tag that does not match /${rule.tagPattern}/`);
  if (rule.keep === undefined && rule.olderThanMs === undefined && rule.tagPattern === undefined)
    keeps.push('every tagged manifest (the rule selects only untagged ones)');
  keeps.push(rule.untagged ? 'no untagged manifest beyond the above' : 'every untagged manifest (untagged not set)');
  keeps.push('signatures and other referrers, until their subject goes');
  keeps.push(
    `the whole repository when one run would delete more than ${capText(rule.maxDeletes ?? DEFAULT_DELETION_CAP)} of its tagged manifests (maxDeletes${rule.maxDeletes ? '' : ', default'}: the plan is held)`,
  );
  return keeps;
}

/** A retention rule as the explanation and the summary both show it (durations and the cap as text). */
export interface RetentionRuleText {
  scope: string;
  keep?: number;
  olderThan?: string;
  untagged?: boolean;
  tagPattern?: string;
  protectInUse: boolean;
  includeLocked: boolean;
  /** The deletion cap of one run (`25%` or `40`; the default when the rule does not set it). */
  maxDeletes: string;
}

function retentionRuleText(rule: Policy['retention'][number]): RetentionRuleText {
  return {
    scope: rule.scope,
    ...(rule.keep !== undefined ? { keep: rule.keep } : {}),
    ...(rule.olderThanMs !== undefined ? { olderThan: formatDuration(rule.olderThanMs) } : {}),
    ...(rule.untagged !== undefined ? { untagged: rule.untagged } : {}),
    ...(rule.tagPattern !== undefined ? { tagPattern: rule.tagPattern } : {}),
    protectInUse: rule.protectInUse,
    includeLocked: rule.includeLocked,
    maxDeletes: capText(rule.maxDeletes ?? DEFAULT_DELETION_CAP),
  };
}

function explainRetention(policy: Policy, repository: string, tag: string | undefined): RetentionExplained {
  const { considered, index } = considerScopes(policy.retention, 'retention', repository);
  if (index === undefined)
    return { considered, keeps: ['everything: no retention rule matches, so nothing is purged'] };
  const rule = policy.retention[index];
  const out: RetentionExplained = {
    considered,
    rule: {
      path: `retention[${index}]`,
      ...retentionRuleText(rule),
      maxDeletesDefaulted: rule.maxDeletes === undefined,
    },
    keeps: retentionKeeps(rule),
  };
  // The pattern was compiled when the policy loaded; matching a 128-char tag against it is bounded.
  if (tag !== undefined && rule.tagPattern !== undefined) out.tagMatchesPattern = new RegExp(rule.tagPattern).test(tag);
  return out;
}

function applyReason(policy: Policy, host: string, rule: GateRule | undefined, mode: ApplyMode): string {
  const index = policy.registries.findIndex((r) => r.host === host);
  if (policy.registries[index]?.apply) return `${mode}: set by registries[${index}].apply`;
  if (mode === 'quarantine') return 'quarantine: an Azure Container Registry host (ACR quarantine attributes)';
  if (mode === 'promote') return `promote: not ACR and gate[${rule?.index}] names promote.repository`;
  return 'none (record only): not ACR and the rule names no promote target';
}

/**
 * Explains how `policy` treats the image `ref` at `now`: which gate rule applies and why (the scopes before it
 * and why they did not match), the thresholds, exceptions (expired or not at `now`), signature and report
 * requirements, the retention rule and what it keeps, whether the registry is allowed, and the promote target.
 * With `options.trust` (the notation trust policy document), the trust policy entries that apply are named too.
 */
export function explainPolicy(
  policy: Policy,
  ref: ImageReference,
  now: Date,
  options: { trust?: TrustPolicyDocument } = {},
): PolicyExplanation {
  const registry = findRegistry(policy, ref.registry);
  const host = registry?.host ?? ref.registry;
  const runtime = runtimePolicyOf(policy);
  const { considered, index } = considerScopes(policy.gate, 'gate', ref.repository);
  const rule = index === undefined ? undefined : policy.gate[index];
  const gate: GateExplained = {
    considered,
    notConsidered: index === undefined ? 0 : policy.gate.length - index - 1,
    ...(rule ? explainGateRule(rule, host, ref.repository, now, options.trust) : {}),
  };
  const mode = registry ? applyModeFor(policy, host, rule) : undefined;
  const out: PolicyExplanation = {
    image: formatImage(ref),
    repository: ref.repository,
    ...(ref.tag !== undefined ? { tag: ref.tag } : {}),
    ...(ref.digest !== undefined ? { digest: ref.digest } : {}),
    at: now.toISOString(),
    registry: {
      host,
      allowed: registry !== undefined,
      ...(mode ? { apply: mode } : {}),
      applyReason: mode ? applyReason(policy, host, rule, mode) : 'not applied: the registry is not under registries',
      allowedExternal: registry === undefined && runtime.allowRegistries.includes(host),
    },
    applies: registry !== undefined && rule !== undefined,
    gate,
    retention: explainRetention(policy, ref.repository, ref.tag),
  };
  if (!registry) {
    const runtimeNote = out.registry.allowedExternal
      ? `; running images from it are tolerated by the runtime check (runtime.allowRegistries: allowed-external)`
      : '; a running image from it is reported by the runtime check as from a registry outside the policy';
    out.refusal = {
      reason: 'registry-not-allowed',
      whatHappens: `${host} is not under registries: push events and rescans for it are ignored and \`acr-guard gate\` refuses it (exit 2), so nothing there is gated, released or deleted${runtimeNote}`,
    };
  } else if (!rule) {
    out.refusal = {
      reason: 'no-gate-rule',
      whatHappens: `no gate rule matches ${ref.repository}: the gate blocks it (unmatched images are blocked${isAcrHost(host) ? ' and stay quarantined' : ''}); add a rule whose scope matches to gate it`,
    };
  }
  if (rule && mode === 'promote') {
    try {
      const target = promoteTarget(rule, ref.repository);
      out.promote = target
        ? { target: `${host}/${target}` }
        : { error: `gate[${rule.index}] names no promote.repository: a released image is recorded, not promoted` };
    } catch (err) {
      if (!isGuardError(err)) throw err;
      out.promote = { error: err.message };
    }
  }
  return out;
}

/** One line per rule, for `policy check`: the data behind its summary. */
export interface PolicyRulesSummary {
  registries: Array<{ host: string; apply: string }>;
  gate: Array<{
    rule: string;
    scope: string;
    block: Severity[];
    onlyFixable: boolean;
    exceptions: number;
    expiredExceptions: number;
    signaturesRequired: boolean;
    trustPolicy?: string;
    reportsSignedBy?: string;
    promote?: string;
  }>;
  retention: Array<{ rule: string } & RetentionRuleText>;
  runtime: { grace: Record<string, string>; regateAfter: string; allowRegistries: string[]; tolerateTags: boolean };
}

/** The rules of a valid policy in a short, stable shape (exceptions counted as expired or not at `now`). */
export function summarizePolicy(policy: Policy, now: Date): PolicyRulesSummary {
  const runtime = runtimePolicyOf(policy);
  return {
    registries: policy.registries.map((r) => ({
      host: r.host,
      apply:
        r.apply ?? (isAcrHost(r.host) ? 'quarantine' : 'promote when the rule names promote.repository, else none'),
    })),
    gate: policy.gate.map((rule) => ({
      rule: `gate[${rule.index}]`,
      scope: rule.scope,
      block: [...rule.vulnerabilities.block],
      onlyFixable: rule.vulnerabilities.onlyFixable,
      exceptions: rule.vulnerabilities.exceptions.length,
      expiredExceptions: rule.vulnerabilities.exceptions.filter((e) => now.getTime() >= e.expiresAtMs).length,
      signaturesRequired: rule.signatures.required,
      ...(rule.signatures.trustPolicy ? { trustPolicy: rule.signatures.trustPolicy } : {}),
      ...(rule.vulnerabilities.reportsSignedBy ? { reportsSignedBy: rule.vulnerabilities.reportsSignedBy } : {}),
      ...(rule.promote ? { promote: rule.promote.repository } : {}),
    })),
    retention: policy.retention.map((rule) => ({ rule: `retention[${rule.index}]`, ...retentionRuleText(rule) })),
    runtime: {
      grace: Object.fromEntries(Object.entries(runtime.graceMs).map(([k, ms]) => [k, formatDuration(ms)])),
      regateAfter: formatDuration(runtime.regateAfterMs),
      allowRegistries: [...runtime.allowRegistries],
      tolerateTags: runtime.tolerateTags,
    },
  };
}
