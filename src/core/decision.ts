/**
 * THE gate decision: a pure function of (policy rule, findings, signature results, now) -> verdict.
 *
 * Every check is recorded with a reason. One line decides: release iff every check is `pass` or `skip` and
 * there was at least one manifest to judge. Everything else blocks: a failing check, an inconclusive one
 * (a source that errored, a scan that never came, a signature that could not be verified), a missing rule.
 * Unscanned is never clean.
 *
 * Sources hand over at most `MAX_VERDICT_FINDINGS` findings each (the worst) with counts of all (`tally`). A
 * finding that was counted but not listed cannot be matched against exceptions, so when such findings are of a
 * blocking severity they block: `fail` when the rule has no exceptions, `inconclusive` otherwise.
 */
import { plural } from './plural';
import {
  isScanCheck,
  scanCheckSource,
  type Check,
  type FindingsResult,
  type FindingsSourceName,
  type ImageId,
  type Severity,
  type SignatureResult,
  type Verdict,
} from './types';
import type { GateRule } from './policyTypes';
import {
  evaluateManifest,
  findingKey,
  mergeFindings,
  shortFinding,
  sourceResult,
  type MergedFinding,
} from './gateChecks';

export type { ListedFinding } from './gateChecks';

/** The evidence gathered for one manifest (one per platform manifest of an index; one for a plain image). */
export interface ManifestEvidence {
  digest: string;
  /** `linux/amd64` etc., for indexes. */
  platform?: string;
  findings: FindingsResult[];
  signatures: SignatureResult;
}

/** Which policy decided: its version and content hash (all a verdict records of it). */
export interface PolicyStamp {
  version: number;
  hash: string;
}

/** Input of {@link decide}. */
export interface DecideInput {
  policy: PolicyStamp;
  rule: GateRule | undefined;
  image: ImageId;
  tag?: string;
  /** Effective sources for this image. */
  sources: FindingsSourceName[];
  /** One per platform manifest (one for a plain image). */
  manifests: ManifestEvidence[];
  /** The scan wait deadline has passed. */
  deadlinePassed: boolean;
  /** Checks recorded upstream (resolution errors...), always kept. */
  extraChecks?: Check[];
  /** Orchestration time. */
  now: Date;
}

const MAX_SUMMARY_ITEMS = 3;

/**
 * True when waiting longer cannot change the findings for one manifest: with `require: all`, no source is
 * still pending; with `require: any`, one source is ready or none is pending. (Errors end the wait; they
 * block in {@link decide} either way.)
 */
export function scanComplete(input: {
  rule: GateRule;
  sources: FindingsSourceName[];
  findings: FindingsResult[];
}): boolean {
  const results = input.sources.map((s) => sourceResult(input.findings, s));
  const pending = results.some((r) => r.status === 'pending');
  if (input.rule.vulnerabilities.require === 'all') return !pending;
  return results.some((r) => r.status === 'ready') || !pending;
}

function ruleLabel(rule: GateRule): string {
  return `gate[${rule.index}] scope "${rule.scope}"`;
}

function countFindings(findings: MergedFinding[]): Partial<Record<Severity, number>> {
  const counts: Partial<Record<Severity, number>> = {};
  const seen = new Set<string>();
  for (const f of findings) {
    const key = findingKey(f);
    if (seen.has(key)) continue;
    seen.add(key);
    counts[f.severity] = (counts[f.severity] ?? 0) + 1;
  }
  return counts;
}

/** Short phrases for the summary line, most important first. */
function blockingPhrases(
  checks: Check[],
  blocking: MergedFinding[],
  expiredNotes: Map<string, string>,
  unlistedBlocking = 0,
): string[] {
  const phrases: string[] = [];
  const unique = mergeFindings(blocking);
  for (const f of unique.slice(0, MAX_SUMMARY_ITEMS)) {
    const expired = expiredNotes.get(findingKey(f));
    phrases.push(`${shortFinding(f)}${expired ? ' (exception expired)' : ''}`);
  }
  if (unique.length > MAX_SUMMARY_ITEMS)
    phrases.push(plural(unique.length - MAX_SUMMARY_ITEMS, 'more blocking finding'));
  if (unique.length > 0 && unlistedBlocking > 0)
    phrases.push(`${unlistedBlocking} more of a blocking severity not listed`);
  const seen = new Set<string>();
  for (const check of checks) {
    if (check.status === 'pass' || check.status === 'skip') continue;
    if (check.name === 'vulnerabilities' && check.status === 'fail' && unique.length > 0) continue;
    let phrase: string;
    if (check.name === 'signatures')
      phrase =
        check.details?.auditOnly === true
          ? `signatures audit only: authenticity not enforced (trust policy ${String(check.details.trustPolicy)})`
          : `signatures ${check.status === 'fail' ? 'failed' : 'inconclusive'}`;
    else if (isScanCheck(check)) {
      const code = typeof check.details?.code === 'string' ? ` (${check.details.code})` : '';
      phrase = `${scanCheckSource(check)} ${check.status === 'fail' ? 'failed' : 'inconclusive'}${code}`;
    } else if (
      check.name === 'vulnerabilities' &&
      typeof check.details?.unlistedBlocking === 'number' &&
      check.details.unlistedBlocking > 0
    ) {
      phrase = `${check.details.unlistedBlocking} unlisted findings of a blocking severity`;
    } else if (check.name === 'vulnerabilities') phrase = 'vulnerabilities inconclusive';
    else phrase = `${check.name} ${check.status}: ${check.reason}`;
    if (!seen.has(phrase)) {
      seen.add(phrase);
      phrases.push(phrase);
    }
  }
  return phrases;
}

function verdictBase(input: {
  policy: PolicyStamp | undefined;
  image: ImageId;
  tag?: string;
  now: Date;
}): Pick<Verdict, 'image' | 'tag' | 'policy' | 'decidedAt'> {
  const base: Pick<Verdict, 'image' | 'tag' | 'policy' | 'decidedAt'> = {
    image: { registry: input.image.registry, repository: input.image.repository, digest: input.image.digest },
    policy: { version: input.policy?.version ?? 0, hash: input.policy?.hash ?? 'none' },
    decidedAt: input.now.toISOString(),
  };
  if (input.tag !== undefined) base.tag = input.tag;
  return base;
}

/**
 * Decides the gate for one image. Fails closed: any check that is not `pass` or `skip` blocks, and so do
 * a missing rule and an empty manifest list.
 */
export function decide(input: DecideInput): Verdict {
  const checks: Check[] = [...(input.extraChecks ?? [])];
  const rule = input.rule;
  if (!rule) {
    checks.push({
      name: 'policy',
      status: 'fail',
      reason: `no gate rule matches ${input.image.repository}; unmatched images are blocked`,
    });
    return {
      ...verdictBase(input),
      decision: 'block',
      summary: `blocked: no gate rule matches ${input.image.repository}`,
      checks,
      findingCounts: {},
      rule: 'none',
    };
  }
  if (input.manifests.length === 0) {
    checks.push({ name: 'manifest', status: 'inconclusive', reason: 'no manifest evidence to evaluate' });
  }
  const isIndex = input.manifests.length > 1 || input.manifests.some((m) => m.digest !== input.image.digest);
  const blocking: MergedFinding[] = [];
  const counted: MergedFinding[] = [];
  const expiredNotes = new Map<string, string>();
  const excepted = new Set<string>();
  const unlisted: Partial<Record<Severity, number>> = {};
  let unlistedTotal = 0;
  let unlistedBlocking = 0;
  // Loops, not push(...spread): a spread of a huge array overflows the call stack (it did, with 300,000 findings).
  for (const m of input.manifests) {
    const outcome = evaluateManifest(input, rule, m, isIndex);
    for (const c of outcome.checks) checks.push(c);
    for (const f of outcome.blocking) blocking.push(f);
    for (const f of outcome.counted) counted.push(f);
    for (const [k, v] of outcome.expiredNotes) expiredNotes.set(k, v);
    for (const key of outcome.excepted) excepted.add(key);
    unlistedTotal += outcome.unlisted.total;
    unlistedBlocking += outcome.unlistedBlocking;
    for (const [s, n] of Object.entries(outcome.unlisted.bySeverity) as Array<[Severity, number]>)
      unlisted[s] = (unlisted[s] ?? 0) + n;
  }
  // The one line that decides.
  const release = input.manifests.length > 0 && checks.every((c) => c.status === 'pass' || c.status === 'skip');
  const findingCounts = countFindings(counted);
  // Unlisted findings are counted too (they may include excepted ones: counts err upwards, never down).
  for (const [s, n] of Object.entries(unlisted) as Array<[Severity, number]>)
    findingCounts[s] = (findingCounts[s] ?? 0) + n;
  let summary: string;
  if (release) {
    const total = Object.values(findingCounts).reduce((a, b) => a + (b ?? 0), 0);
    const parts = [`0 blocking findings`, plural(total, 'other finding')];
    if (excepted.size > 0) parts.push(`${excepted.size} excepted`);
    const sigs = checks.filter((c) => c.name === 'signatures');
    const levels = [
      ...new Set(sigs.map((c) => `${String(c.details?.level)}, policy entry ${String(c.details?.trustPolicy)}`)),
    ];
    const sigText =
      sigs.length > 0 && sigs.every((c) => c.status === 'pass')
        ? `signatures verified (${levels.join('; ')})`
        : 'signatures not required';
    summary = `released: ${parts.join(', ')}; ${sigText}`;
  } else {
    const phrases = blockingPhrases(checks, blocking, expiredNotes, unlistedBlocking);
    summary = `blocked: ${phrases.length > 0 ? phrases.join('; ') : 'a check did not pass'}`;
  }
  return {
    ...verdictBase(input),
    decision: release ? 'release' : 'block',
    summary,
    checks,
    findingCounts,
    ...(unlistedTotal > 0 ? { findingsOmitted: unlistedTotal } : {}),
    rule: ruleLabel(rule),
  };
}

/**
 * A fail-closed verdict for an error before any evidence exists (policy unreadable, manifest unresolvable,
 * registry not allowed). Always `block`, whatever the status of the given check.
 */
export function blockedVerdict(input: {
  policy: PolicyStamp | undefined;
  image: ImageId;
  tag?: string;
  now: Date;
  check: Check;
}): Verdict {
  return {
    ...verdictBase(input),
    decision: 'block',
    summary: `blocked: ${input.check.name} ${input.check.status}: ${input.check.reason}`,
    checks: [input.check],
    findingCounts: {},
    rule: 'none',
  };
}
