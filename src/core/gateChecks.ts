/**
 * The per-manifest checks of the gate, each a named function returning its checks: {@link scanChecks} (one
 * `scan:<source>` per source), {@link vulnerabilityChecks} (`exceptions` notes and one `vulnerabilities`) and
 * {@link signatureCheck} (one `signatures`). Every reason they write is in {@link prose}, so the wording of a
 * verdict is read and reviewed in one place. `decide` (./decision.ts) combines them into the verdict.
 */
import { plural } from './plural';
import {
  SEVERITIES,
  type Check,
  scanCheckName,
  type Finding,
  type FindingsResult,
  type FindingsSourceName,
  type Severity,
  type SignatureResult,
} from './types';
import type { GateRule, VulnerabilityException } from './policyTypes';
import { MAX_VERDICT_FINDINGS } from './findingsSummary';
import type { ErrorCode } from './errors';

/** A finding after de-duplication across sources. */
export interface MergedFinding extends Finding {
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

function severityRank(s: Severity): number {
  const i = SEVERITIES.indexOf(s);
  return i < 0 ? SEVERITIES.length : i;
}

/** The key findings merge on: id (case-insensitive) and package. */
export function findingKey(f: Finding): string {
  return `${f.id.toUpperCase()}\u0000${f.package ?? ''}`;
}

/**
 * De-duplicates findings by (id, package), keeping the more severe one. A fixed version known to any
 * source is kept, because `onlyFixable` must not pass a finding over just because one source lacks the fix.
 */
export function mergeFindings(findings: Finding[]): MergedFinding[] {
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

/** A finding in a few words, for the verdict summary. */
export function shortFinding(f: Finding): string {
  return `${f.id} (${f.severity})${f.package ? ` in ${f.package}` : ''}`;
}

/** Completion of the scan for one manifest: which sources are ready, and whether waiting can still help. */
export function sourceResult(findings: FindingsResult[], source: FindingsSourceName): FindingsResult {
  return findings.find((r) => r.source === source) ?? { source, status: 'pending', detail: 'no result recorded' };
}

/** Findings a source counted but did not list, by severity, over the ready sources of one manifest. */
export interface Unlisted {
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

/** The blocking findings for a check reason: at most {@link MAX_VERDICT_FINDINGS}, then how many more. */
function listFindings(findings: MergedFinding[]): string {
  const shown = findings.slice(0, MAX_VERDICT_FINDINGS).map(describeFinding).join('; ');
  return findings.length > MAX_VERDICT_FINDINGS
    ? `${shown}; and ${findings.length - MAX_VERDICT_FINDINGS} more`
    : shown;
}

type ReadyResult = Extract<FindingsResult, { status: 'ready' }>;

/** Every reason text the per-manifest checks write; `w` is the manifest prefix (empty for a plain image). */
export const prose = {
  scanReady: (w: string, r: ReadyResult, total: number): string =>
    `${w}${total} findings from ${r.source}${r.tally && r.tally.omitted > 0 ? ` (the worst ${r.findings.length} listed)` : ''}: ${r.detail}`,
  scanSkipped: (w: string, source: string, others: readonly string[], rulePath: string): string =>
    `${w}no results from ${source} yet; ${others.join(', ')} ready and ${rulePath}.require is any`,
  scanPending: (w: string, source: string, deadlinePassed: boolean, detail: string): string =>
    `${w}no results from ${source} ${deadlinePassed ? 'by the deadline' : 'yet'}; unscanned is never clean (${detail})`,
  scanFailed: (w: string, source: string, code: ErrorCode, detail: string): string =>
    `${w}${source} failed (${code}): ${detail}`,
  exceptionApplies: (w: string, path: string, id: string, e: VulnerabilityException): string =>
    `${w}exception ${path} for ${id} applies until ${e.expires}: ${e.reason}`,
  /** Without the manifest prefix: the note is also quoted in the `vulnerabilities` reason and the summary. */
  exceptionExpired: (path: string, id: string, expires: string): string =>
    `exception ${path} for ${id} expired ${expires}; it no longer applies`,
  unlisted: (unlistedBlocking: number, block: readonly Severity[]): string =>
    unlistedBlocking > 0
      ? `; ${unlistedBlocking} more findings of a blocking severity (${block.join(', ')}) counted but not listed (each source lists its worst ${MAX_VERDICT_FINDINGS})`
      : '',
  notes: (belowThreshold: number, passedOver: number, excepted: number, rulePath: string): string => {
    const notes: string[] = [];
    if (belowThreshold > 0) notes.push(`${belowThreshold} below the block threshold`);
    if (passedOver > 0) notes.push(`${passedOver} without a fixed version passed over (${rulePath}.onlyFixable)`);
    if (excepted > 0) notes.push(`${excepted} excepted`);
    return notes.length > 0 ? `; ${notes.join(', ')}` : '';
  },
  vulnerabilitiesBlock: (
    w: string,
    blocking: MergedFinding[],
    rulePath: string,
    block: readonly Severity[],
    unlistedText: string,
    noteText: string,
    expiredNotes: ReadonlyMap<string, string>,
  ): string => {
    const expiredText = expiredNotes.size > 0 ? `; ${[...expiredNotes.values()].join('; ')}` : '';
    return `${w}${plural(blocking.length, 'blocking finding')} (${rulePath}.block: ${block.join(', ')}): ${listFindings(blocking)}${unlistedText}${noteText}${expiredText}`;
  },
  vulnerabilitiesUnlisted: (w: string, unlistedText: string, rulePath: string, noteText: string): string =>
    `${w}0 listed findings block, but${unlistedText.slice(1)}; they cannot be checked against ${rulePath}.exceptions${noteText}`,
  vulnerabilitiesNoSource: (w: string, sources: readonly string[]): string =>
    `${w}no findings source is ready (${sources.join(', ') || 'none configured'}); cannot evaluate vulnerabilities`,
  vulnerabilitiesIncomplete: (w: string, missing: readonly string[], rulePath: string, noteText: string): string =>
    `${w}0 blocking findings so far, but ${missing.join(', ')} not ready and ${rulePath}.require is all${noteText}`,
  vulnerabilitiesPass: (w: string, ready: readonly ReadyResult[], noteText: string): string =>
    `${w}0 blocking findings from ${ready.map((r) => r.source).join(', ')}${noteText}`,
  signaturesRequired: (
    w: string,
    sig: SignatureResult,
    enforced: boolean,
    level: string,
    shown: string,
    trust: string,
    needs: string,
  ): string =>
    `${w}signatures ${sig.status === 'verified' ? (enforced ? `verified (${level})` : shown) : `${sig.status}${trust}`}: ${sig.reason}${needs}`,
  signaturesNeedEnforcement: (sigPath: string): string =>
    `; ${sigPath}.required needs a trust policy entry at level strict or permissive`,
  signaturesOptional: (w: string, shown: string, sigPath: string, sig: SignatureResult): string =>
    `${w}signatures ${shown}, not required by ${sigPath}: ${sig.reason}`,
} as const;

/** Where one manifest's checks are reported: reason prefix, manifest digest on an index's checks, the rule. */
export interface ManifestScope {
  rule: GateRule;
  /** `platform linux/amd64 (sha256:…): ` for a manifest of an index; empty for a plain image. */
  where: string;
  /** Adds `manifest` to a check of an index's manifest. */
  withManifest: (check: Check) => Check;
}

/** The scope of manifest `m` under `rule`. */
export function manifestScope(
  rule: GateRule,
  m: { digest: string; platform?: string },
  isIndex: boolean,
): ManifestScope {
  return {
    rule,
    where: isIndex ? `platform ${m.platform ?? 'unknown'} (${m.digest}): ` : '',
    withManifest: (check) => (isIndex ? { ...check, manifest: m.digest } : check),
  };
}

/** What {@link scanChecks} found out: its checks, every source's result and the ready ones. */
export interface ScanOutcome {
  checks: Check[];
  results: FindingsResult[];
  ready: ReadyResult[];
}

/**
 * One `scan:<source>` check per effective source: `pass` when ready, `skip` when pending but another source
 * is ready under `require: any`, `inconclusive` when pending otherwise (unscanned is never clean) or failed.
 */
export function scanChecks(
  scope: ManifestScope,
  input: { sources: readonly FindingsSourceName[]; findings: FindingsResult[]; deadlinePassed: boolean },
): ScanOutcome {
  const { where, withManifest, rule } = scope;
  const rulePath = `gate[${rule.index}].vulnerabilities`;
  const checks: Check[] = [];
  const results = input.sources.map((s) => sourceResult(input.findings, s));
  const ready = results.filter((r): r is ReadyResult => r.status === 'ready');
  for (const r of results) {
    const name = scanCheckName(r.source);
    const source = r.source;
    if (r.status === 'ready') {
      const total = r.tally?.total ?? r.findings.length;
      checks.push(
        withManifest({
          name,
          source,
          status: 'pass',
          reason: prose.scanReady(where, r, total),
          details: { findings: total },
        }),
      );
    } else if (r.status === 'pending') {
      const others = ready.filter((o) => o.source !== r.source).map((o) => o.source);
      if (rule.vulnerabilities.require === 'any' && others.length > 0) {
        checks.push(
          withManifest({ name, source, status: 'skip', reason: prose.scanSkipped(where, r.source, others, rulePath) }),
        );
      } else {
        checks.push(
          withManifest({
            name,
            source,
            status: 'inconclusive',
            reason: prose.scanPending(where, r.source, input.deadlinePassed, r.detail),
          }),
        );
      }
    } else {
      checks.push(
        withManifest({
          name,
          source,
          status: 'inconclusive',
          reason: prose.scanFailed(where, r.source, r.code, r.detail),
          details: { code: r.code },
        }),
      );
    }
  }
  return { checks, results, ready };
}

/** What {@link vulnerabilityChecks} found out, beyond its checks, for the verdict's counts and summary. */
export interface VulnerabilityOutcome {
  checks: Check[];
  unlisted: Unlisted;
  /** Of the unlisted findings, those of a blocking severity (they block unseen). */
  unlistedBlocking: number;
  blocking: MergedFinding[];
  counted: MergedFinding[];
  expiredNotes: Map<string, string>;
  /** Keys of findings removed by an exception in force. */
  excepted: string[];
}

/**
 * The vulnerability checks over the ready sources: an `exceptions` check for each exception that changed the
 * outcome (`pass` in force, `skip` expired), then one `vulnerabilities` check (`fail` on a blocking finding or
 * unlisted blocking findings without exceptions; `inconclusive` when none is ready, `require: all` is not met,
 * or unlisted blocking findings might be excepted; `pass` otherwise).
 */
export function vulnerabilityChecks(
  scope: ManifestScope,
  scan: ScanOutcome,
  input: { sources: readonly FindingsSourceName[]; now: Date },
): VulnerabilityOutcome {
  const { where, withManifest, rule } = scope;
  const { results, ready } = scan;
  const checks: Check[] = [];
  const vuln = rule.vulnerabilities;
  const rulePath = `gate[${rule.index}].vulnerabilities`;
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
            reason: prose.exceptionApplies(where, `${rulePath}.exceptions[${valid.i}]`, f.id, valid.e),
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
      const note = prose.exceptionExpired(`${rulePath}.exceptions[${expired.i}]`, f.id, expired.e.expires);
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
  const unlistedText = prose.unlisted(unlistedBlocking, vuln.block);
  const noteText = prose.notes(belowThreshold, passedOver, excepted.length, rulePath);
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
  const name = 'vulnerabilities';
  if (blocking.length > 0) {
    const reason = prose.vulnerabilitiesBlock(
      where,
      blocking,
      rulePath,
      vuln.block,
      unlistedText,
      noteText,
      expiredNotes,
    );
    checks.push(withManifest({ name, status: 'fail', reason, details }));
  } else if (unlistedBlocking > 0) {
    // Nothing listed blocks, yet findings of a blocking severity were not listed: they block unseen. Without
    // exceptions they certainly block; with exceptions they might be excepted, which cannot be told here.
    const status = vuln.exceptions.length === 0 ? 'fail' : 'inconclusive';
    const reason = prose.vulnerabilitiesUnlisted(where, unlistedText, rulePath, noteText);
    checks.push(withManifest({ name, status, reason, details }));
  } else if (ready.length === 0) {
    const reason = prose.vulnerabilitiesNoSource(where, input.sources);
    checks.push(withManifest({ name, status: 'inconclusive', reason, details }));
  } else if (!complete) {
    const missing = results.filter((r) => r.status !== 'ready').map((r) => r.source);
    const reason = prose.vulnerabilitiesIncomplete(where, missing, rulePath, noteText);
    checks.push(withManifest({ name, status: 'inconclusive', reason, details }));
  } else {
    checks.push(
      withManifest({ name, status: 'pass', reason: prose.vulnerabilitiesPass(where, ready, noteText), details }),
    );
  }
  return { checks, unlisted, unlistedBlocking, blocking, counted, expiredNotes, excepted };
}

/**
 * The `signatures` check. Only an entry that enforced authenticity (strict or permissive) makes "verified"
 * mean "signed by a trusted key"; under audit any key passes, so that result never satisfies `required` (and
 * an absent record of the level counts as not enforced: fail closed).
 */
export function signatureCheck(scope: ManifestScope, sig: SignatureResult): Check {
  const { where, withManifest, rule } = scope;
  const sigPath = `gate[${rule.index}].signatures`;
  const trust = rule.signatures.trustPolicy ? ` (trust policy ${rule.signatures.trustPolicy})` : '';
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
    const needs = auditOnly ? prose.signaturesNeedEnforcement(sigPath) : '';
    return withManifest({
      name: 'signatures',
      status,
      reason: prose.signaturesRequired(where, sig, enforced, level, shown, trust, needs),
      details: { ...sigDetails, required: true, signatures: sig.signatures.length },
    });
  }
  return withManifest({
    name: 'signatures',
    status: sig.status === 'verified' && enforced ? 'pass' : 'skip',
    reason: prose.signaturesOptional(where, shown, sigPath, sig),
    details: { ...sigDetails, required: false, signatures: sig.signatures.length },
  });
}

/** Everything one manifest contributes to a verdict: its checks in order (scan, vulnerabilities, signatures). */
export type ManifestOutcome = VulnerabilityOutcome;

/** Runs the three checks of one manifest of an image (one of several for an index) under `rule`. */
export function evaluateManifest(
  input: { sources: readonly FindingsSourceName[]; deadlinePassed: boolean; now: Date },
  rule: GateRule,
  m: { digest: string; platform?: string; findings: FindingsResult[]; signatures: SignatureResult },
  isIndex: boolean,
): ManifestOutcome {
  const scope = manifestScope(rule, m, isIndex);
  const scan = scanChecks(scope, {
    sources: input.sources,
    findings: m.findings,
    deadlinePassed: input.deadlinePassed,
  });
  const vulnerabilities = vulnerabilityChecks(scope, scan, input);
  const checks: Check[] = [...scan.checks];
  // Loops, not push(...spread): a spread of a huge array overflows the call stack.
  for (const c of vulnerabilities.checks) checks.push(c);
  checks.push(signatureCheck(scope, m.signatures));
  return { ...vulnerabilities, checks };
}
