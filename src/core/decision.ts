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
  SEVERITIES,
  type Check,
  type Finding,
  type FindingsResult,
  type FindingsSourceName,
  type ImageId,
  type Severity,
  type SignatureResult,
  type Verdict,
} from './types';
import type { GateRule, VulnerabilityException } from './policyTypes';
import { MAX_VERDICT_FINDINGS } from './findingsSummary';

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

/** A finding after de-duplication across sources. */
interface MergedFinding extends Finding {
  sources: string[];
}

/**
 * One finding as a verdict's `vulnerabilities` check lists it (`details.findings`): what the sources said and
 * what the policy made of it. `status`: `blocking` (blocks; `exceptionExpired` when an expired exception
 * matched), `below-threshold` (its severity is not in `block`), `passed-over` (no fixed version under
 * `onlyFixable`), `excepted` (an exception in force, `exception` and `exceptionExpires` name it).
 */
export interface ListedFinding {
  id: string;
  severity: Severity;
  /** Which rating decided the severity, when the report names it (e.g. `nvd`, `ghsa`). */
  severitySource?: string;
  package?: string;
  installedVersion?: string;
  fixedVersion?: string;
  /** `defender`, `sarif:<report digest>`, `cyclonedx:<report digest>`: every source that reported it. */
  sources: string[];
  status: 'blocking' | 'below-threshold' | 'passed-over' | 'excepted';
  /** The policy path of the exception that matched (in force, or expired for a blocking finding). */
  exception?: string;
  exceptionExpires?: string;
  exceptionExpired?: string;
}

function listedFinding(f: MergedFinding): Omit<ListedFinding, 'status'> {
  return {
    id: f.id,
    severity: f.severity,
    ...(f.severitySource ? { severitySource: f.severitySource } : {}),
    ...(f.package !== undefined ? { package: f.package } : {}),
    ...(f.installedVersion !== undefined ? { installedVersion: f.installedVersion } : {}),
    ...(f.fixedVersion !== undefined ? { fixedVersion: f.fixedVersion } : {}),
    sources: f.sources,
  };
}

const MAX_SUMMARY_ITEMS = 3;

function severityRank(s: Severity): number {
  const i = SEVERITIES.indexOf(s);
  return i < 0 ? SEVERITIES.length : i;
}

function findingKey(f: Finding): string {
  return `${f.id.toUpperCase()}\u0000${f.package ?? ''}`;
}

/**
 * De-duplicates findings by (id, package), keeping the more severe one. A fixed version known to any
 * source is kept, because `onlyFixable` must not pass a finding over just because one source lacks the fix.
 */
function mergeFindings(findings: Finding[]): MergedFinding[] {
  const byKey = new Map<string, MergedFinding>();
  for (const f of findings) {
    const key = findingKey(f);
    const existing = byKey.get(key);
    if (!existing) {
      byKey.set(key, { ...f, sources: [f.source] });
      continue;
    }
    const sources = existing.sources.includes(f.source) ? existing.sources : [...existing.sources, f.source];
    const winner: MergedFinding =
      severityRank(f.severity) < severityRank(existing.severity) ? { ...f, sources } : { ...existing, sources };
    if (!winner.fixedVersion) winner.fixedVersion = existing.fixedVersion ?? f.fixedVersion;
    if (existing.fixAvailable || f.fixAvailable) winner.fixAvailable = true;
    if (!winner.installedVersion) winner.installedVersion = existing.installedVersion ?? f.installedVersion;
    byKey.set(key, winner);
  }
  // Code-unit order, not localeCompare: ids are ASCII, and localeCompare costs seconds over 300,000 findings.
  return [...byKey.values()].sort(
    (a, b) => severityRank(a.severity) - severityRank(b.severity) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
}

function exceptionMatches(exception: VulnerabilityException, finding: Finding): boolean {
  if (exception.id.toUpperCase() !== finding.id.toUpperCase()) return false;
  if (!exception.packages) return true;
  return finding.package !== undefined && exception.packages.includes(finding.package);
}

function describeFinding(f: MergedFinding): string {
  const pkg = f.package ? ` in ${f.package}` : '';
  const version = f.installedVersion ? ` ${f.installedVersion}` : '';
  const fix = f.fixedVersion ? ` -> ${f.fixedVersion}` : f.fixAvailable ? ' (fix available)' : ' (no fix)';
  const rated = f.severitySource ? `, rated by ${f.severitySource}` : '';
  return `${f.id} (${f.severity}${rated})${pkg}${version}${fix} [${f.sources.join(', ')}]`;
}

function shortFinding(f: Finding): string {
  return `${f.id} (${f.severity})${f.package ? ` in ${f.package}` : ''}`;
}

/** Completion of the scan for one manifest: which sources are ready, and whether waiting can still help. */
function sourceResult(findings: FindingsResult[], source: FindingsSourceName): FindingsResult {
  return findings.find((r) => r.source === source) ?? { source, status: 'pending', detail: 'no result recorded' };
}

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

/** Findings a source counted but did not list, by severity, over the ready sources of one manifest. */
interface Unlisted {
  total: number;
  bySeverity: Partial<Record<Severity, number>>;
  fixableBySeverity: Partial<Record<Severity, number>>;
}

function unlistedOf(ready: ReadonlyArray<Extract<FindingsResult, { status: 'ready' }>>): Unlisted {
  const out: Unlisted = { total: 0, bySeverity: {}, fixableBySeverity: {} };
  for (const r of ready) {
    if (!r.tally || r.tally.omitted <= 0) continue;
    out.total += r.tally.omitted;
    for (const s of SEVERITIES) {
      let listed = 0;
      let listedFixable = 0;
      for (const f of r.findings) {
        if (f.severity !== s) continue;
        listed++;
        if (f.fixedVersion || f.fixAvailable) listedFixable++;
      }
      const all = r.tally.bySeverity[s] ?? 0;
      const fixable = r.tally.fixableBySeverity[s] ?? 0;
      if (all > listed) out.bySeverity[s] = (out.bySeverity[s] ?? 0) + (all - listed);
      if (fixable > listedFixable)
        out.fixableBySeverity[s] = (out.fixableBySeverity[s] ?? 0) + (fixable - listedFixable);
    }
  }
  return out;
}

interface ManifestOutcome {
  unlisted: Unlisted;
  /** Of the unlisted findings, those of a blocking severity (they block unseen). */
  unlistedBlocking: number;
  checks: Check[];
  blocking: MergedFinding[];
  counted: MergedFinding[];
  expiredNotes: Map<string, string>;
  /** Keys of findings removed by an exception in force. */
  excepted: string[];
}

function evaluateManifest(input: DecideInput, rule: GateRule, m: ManifestEvidence, isIndex: boolean): ManifestOutcome {
  const checks: Check[] = [];
  const where = isIndex ? `platform ${m.platform ?? 'unknown'} (${m.digest}): ` : '';
  const withManifest = (check: Check): Check => (isIndex ? { ...check, manifest: m.digest } : check);
  const vuln = rule.vulnerabilities;
  const rulePath = `gate[${rule.index}].vulnerabilities`;

  // 1. One scan:<source> check per source.
  const results = input.sources.map((s) => sourceResult(m.findings, s));
  const ready = results.filter((r): r is Extract<FindingsResult, { status: 'ready' }> => r.status === 'ready');
  for (const r of results) {
    const name = `scan:${r.source}`;
    if (r.status === 'ready') {
      const total = r.tally?.total ?? r.findings.length;
      const listed = r.tally && r.tally.omitted > 0 ? ` (the worst ${r.findings.length} listed)` : '';
      checks.push(
        withManifest({
          name,
          status: 'pass',
          reason: `${where}${total} findings from ${r.source}${listed}: ${r.detail}`,
          details: { findings: total },
        }),
      );
    } else if (r.status === 'pending') {
      const others = ready.filter((o) => o.source !== r.source).map((o) => o.source);
      if (vuln.require === 'any' && others.length > 0) {
        checks.push(
          withManifest({
            name,
            status: 'skip',
            reason: `${where}no results from ${r.source} yet; ${others.join(', ')} ready and ${rulePath}.require is any`,
          }),
        );
      } else {
        const when = input.deadlinePassed ? 'by the deadline' : 'yet';
        checks.push(
          withManifest({
            name,
            status: 'inconclusive',
            reason: `${where}no results from ${r.source} ${when}; unscanned is never clean (${r.detail})`,
          }),
        );
      }
    } else {
      checks.push(
        withManifest({
          name,
          status: 'inconclusive',
          reason: `${where}${r.source} failed (${r.code}): ${r.detail}`,
          details: { code: r.code },
        }),
      );
    }
  }

  // 2. Vulnerabilities over the ready sources.
  const merged = mergeFindings(ready.flatMap((r) => r.findings));
  const blocking: MergedFinding[] = [];
  const counted: MergedFinding[] = [];
  const expiredNotes = new Map<string, string>();
  let passedOver = 0;
  const excepted: string[] = [];
  let belowThreshold = 0;
  // Every finding with what the policy made of it, for the verdict's structured details (the worst
  // MAX_VERDICT_FINDINGS of them are kept: `merged` is worst first).
  const statusOf = new Map<MergedFinding, ListedFinding>();
  for (const f of merged) {
    const matching = vuln.exceptions.map((e, i) => ({ e, i })).filter(({ e }) => exceptionMatches(e, f));
    const valid = matching.find(({ e }) => input.now.getTime() < e.expiresAtMs);
    const wouldBlock =
      vuln.block.includes(f.severity) && (!vuln.onlyFixable || Boolean(f.fixedVersion || f.fixAvailable));
    if (valid) {
      excepted.push(findingKey(f));
      statusOf.set(f, {
        ...listedFinding(f),
        status: 'excepted',
        exception: `${rulePath}.exceptions[${valid.i}]`,
        exceptionExpires: valid.e.expires,
      });
      // Record the exceptions that changed the outcome; one for a finding below the threshold only leaves the counts.
      if (vuln.block.includes(f.severity)) {
        checks.push(
          withManifest({
            name: 'exceptions',
            status: 'pass',
            reason: `${where}exception ${rulePath}.exceptions[${valid.i}] for ${f.id} applies until ${valid.e.expires}: ${valid.e.reason}`,
            details: {
              exception: `${rulePath}.exceptions[${valid.i}]`,
              id: f.id,
              package: f.package,
              expires: valid.e.expires,
            },
          }),
        );
      }
      continue;
    }
    counted.push(f);
    if (!vuln.block.includes(f.severity)) {
      belowThreshold++;
      statusOf.set(f, { ...listedFinding(f), status: 'below-threshold' });
      continue;
    }
    if (!wouldBlock) {
      passedOver++;
      statusOf.set(f, { ...listedFinding(f), status: 'passed-over' });
      continue;
    }
    blocking.push(f);
    const expired = matching[0];
    statusOf.set(f, {
      ...listedFinding(f),
      status: 'blocking',
      ...(expired ? { exception: `${rulePath}.exceptions[${expired.i}]`, exceptionExpired: expired.e.expires } : {}),
    });
    if (expired) {
      const note = `exception ${rulePath}.exceptions[${expired.i}] for ${f.id} expired ${expired.e.expires}; it no longer applies`;
      expiredNotes.set(findingKey(f), note);
      checks.push(
        withManifest({
          name: 'exceptions',
          status: 'skip',
          reason: `${where}${note}`,
          details: {
            exception: `${rulePath}.exceptions[${expired.i}]`,
            id: f.id,
            package: f.package,
            expired: expired.e.expires,
          },
        }),
      );
    }
  }
  // Findings counted but not listed: those of a blocking severity can never be passed over unseen.
  const unlisted = unlistedOf(ready);
  let unlistedBlocking = 0;
  for (const s of vuln.block)
    unlistedBlocking += (vuln.onlyFixable ? unlisted.fixableBySeverity[s] : unlisted.bySeverity[s]) ?? 0;
  const unlistedText =
    unlistedBlocking > 0
      ? `; ${unlistedBlocking} more findings of a blocking severity (${vuln.block.join(', ')}) counted but not listed (each source lists its worst ${MAX_VERDICT_FINDINGS})`
      : '';
  const notes: string[] = [];
  if (belowThreshold > 0) notes.push(`${belowThreshold} below the block threshold`);
  if (passedOver > 0) notes.push(`${passedOver} without a fixed version passed over (${rulePath}.onlyFixable)`);
  if (excepted.length > 0) notes.push(`${excepted.length} excepted`);
  const noteText = notes.length > 0 ? `; ${notes.join(', ')}` : '';
  const complete = vuln.require === 'all' ? ready.length === results.length : ready.length > 0;
  const details = {
    blocking: blocking.slice(0, MAX_VERDICT_FINDINGS).map((f) => ({
      id: f.id,
      severity: f.severity,
      ...(f.severitySource ? { severitySource: f.severitySource } : {}),
      package: f.package,
      installedVersion: f.installedVersion,
      fixedVersion: f.fixedVersion,
      ...(f.fixAvailable ? { fixAvailable: true } : {}),
      sources: f.sources,
    })),
    ...(unlisted.total > 0 ? { unlisted: unlisted.total, unlistedBlocking } : {}),
    passedOver,
    excepted: excepted.length,
    belowThreshold,
    expiredExceptions: [...expiredNotes.values()],
    // Every finding (not only the blocking ones), worst first, bounded like the sources' lists.
    findings: merged.slice(0, MAX_VERDICT_FINDINGS).map((f) => statusOf.get(f) as ListedFinding),
    ...(merged.length > MAX_VERDICT_FINDINGS ? { findingsNotListed: merged.length - MAX_VERDICT_FINDINGS } : {}),
  };
  if (blocking.length > 0) {
    const expiredText = expiredNotes.size > 0 ? `; ${[...expiredNotes.values()].join('; ')}` : '';
    checks.push(
      withManifest({
        name: 'vulnerabilities',
        status: 'fail',
        reason: `${where}${plural(blocking.length, 'blocking finding')} (${rulePath}.block: ${vuln.block.join(', ')}): ${listFindings(blocking)}${unlistedText}${noteText}${expiredText}`,
        details,
      }),
    );
  } else if (unlistedBlocking > 0) {
    // Nothing listed blocks, yet findings of a blocking severity were not listed: they block unseen. Without
    // exceptions they certainly block; with exceptions they might be excepted, which cannot be told here.
    const status = vuln.exceptions.length === 0 ? 'fail' : 'inconclusive';
    checks.push(
      withManifest({
        name: 'vulnerabilities',
        status,
        reason: `${where}0 listed findings block, but${unlistedText.slice(1)}; they cannot be checked against ${rulePath}.exceptions${noteText}`,
        details,
      }),
    );
  } else if (ready.length === 0) {
    checks.push(
      withManifest({
        name: 'vulnerabilities',
        status: 'inconclusive',
        reason: `${where}no findings source is ready (${input.sources.join(', ') || 'none configured'}); cannot evaluate vulnerabilities`,
        details,
      }),
    );
  } else if (!complete) {
    const missing = results.filter((r) => r.status !== 'ready').map((r) => r.source);
    checks.push(
      withManifest({
        name: 'vulnerabilities',
        status: 'inconclusive',
        reason: `${where}0 blocking findings so far, but ${missing.join(', ')} not ready and ${rulePath}.require is all${noteText}`,
        details,
      }),
    );
  } else {
    checks.push(
      withManifest({
        name: 'vulnerabilities',
        status: 'pass',
        reason: `${where}0 blocking findings from ${ready.map((r) => r.source).join(', ')}${noteText}`,
        details,
      }),
    );
  }

  // 3. Signatures.
  const sig = m.signatures;
  const sigPath = `gate[${rule.index}].signatures`;
  const trust = rule.signatures.trustPolicy ? ` (trust policy ${rule.signatures.trustPolicy})` : '';
  // Only an entry that enforced authenticity (strict or permissive) makes "verified" mean "signed by a trusted
  // key"; under audit any key passes, so that result never satisfies `required` (and an absent record of the
  // level counts as not enforced: fail closed).
  const e = sig.enforcement;
  const enforced =
    e !== undefined && (e.level === 'strict' || e.level === 'permissive') && e.authenticity === 'enforce';
  const auditOnly = sig.status === 'verified' && !enforced;
  const level = e ? `${e.level}, policy entry ${e.trustPolicy}` : 'level unknown';
  const shown = auditOnly ? `audit only (authenticity not enforced: ${level})` : sig.status;
  const sigDetails = { status: sig.status, ...(e ? { level: e.level, trustPolicy: e.trustPolicy } : {}), auditOnly };
  if (rule.signatures.required) {
    const status =
      sig.status === 'verified' ? (enforced ? 'pass' : 'fail') : sig.status === 'failed' ? 'fail' : 'inconclusive';
    const needs = auditOnly ? `; ${sigPath}.required needs a trust policy entry at level strict or permissive` : '';
    checks.push(
      withManifest({
        name: 'signatures',
        status,
        reason: `${where}signatures ${sig.status === 'verified' ? (enforced ? `verified (${level})` : shown) : `${sig.status}${trust}`}: ${sig.reason}${needs}`,
        details: { ...sigDetails, required: true, signatures: sig.signatures.length },
      }),
    );
  } else {
    const status = sig.status === 'verified' && enforced ? 'pass' : 'skip';
    checks.push(
      withManifest({
        name: 'signatures',
        status,
        reason: `${where}signatures ${shown}, not required by ${sigPath}: ${sig.reason}`,
        details: { ...sigDetails, required: false, signatures: sig.signatures.length },
      }),
    );
  }
  return { unlisted, unlistedBlocking, checks, blocking, counted, expiredNotes, excepted };
}

/** The blocking findings for a check reason: at most {@link MAX_VERDICT_FINDINGS}, then how many more. */
function listFindings(findings: MergedFinding[]): string {
  const shown = findings.slice(0, MAX_VERDICT_FINDINGS).map(describeFinding).join('; ');
  return findings.length > MAX_VERDICT_FINDINGS
    ? `${shown}; and ${findings.length - MAX_VERDICT_FINDINGS} more`
    : shown;
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
    else if (check.name.startsWith('scan:')) {
      const code = typeof check.details?.code === 'string' ? ` (${check.details.code})` : '';
      phrase = `${check.name.slice(5)} ${check.status === 'fail' ? 'failed' : 'inconclusive'}${code}`;
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
