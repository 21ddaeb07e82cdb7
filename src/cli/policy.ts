/**
 * `acr-guard policy check <file>` and `acr-guard policy explain <file> <image>`: the policy explains itself.
 *
 * `check` validates a policy file with the validator the app uses (the same messages, field path first) and
 * prints a short summary of its rules. `explain` says which gate rule applies to an image and why, what will
 * decide its verdict, which retention rule applies and what it keeps; nothing is fetched (no network).
 * `--output json` prints the result envelope (src/core/result.ts, schemas/result.v1.schema.json), errors too.
 */
import { GuardError, ErrorCodes, isGuardError } from '../core/errors';
import { loadPolicy } from '../core/policy';
import type { Policy } from '../core/policyTypes';
import {
  explainPolicy,
  summarizePolicy,
  type PolicyExplanation,
  type PolicyRulesSummary,
  type ScopeConsidered,
  type TrustEntryExplained,
} from '../core/policyExplain';
import { parseImageReference } from '../core/reference';
import {
  errorResultOf,
  resultOf,
  type Result,
  type ResultCheck,
  type ResultCheckStatus as CheckStatus,
} from '../core/result';
import { readBoundedTextSync } from '../adapters/boundedFile';
import { loadTrustPolicyFile } from '../adapters/trustStoreFiles';
import { ExitCodes, UsageError, outputFormat, parseCommandArgs, wantsJson } from './args';
import { MAX_POLICY_BYTES } from '../core/policy';

export const POLICY_USAGE = `usage: acr-guard policy check <file> [--at <iso time>] [--output json|table]
       acr-guard policy explain <file> <registry>/<repository>(:<tag>|@<digest>) [--trust-policy <trustpolicy.json>]
                                [--at <iso time>] [--output json|table]
  check    validate a policy file (every error names its field path) and summarise its rules
           exit codes: 0 valid, 2 invalid or usage error
  explain  which gate rule applies to the image and why (the scopes before it and why they did not match),
           the thresholds, exceptions (expired or not at --at), signature and report requirements, the retention
           rule and what it keeps, whether the registry is allowed, the promote target. No network.
           exit codes: 0 a gate rule applies, 3 refused before gating (registry not allowed, no rule matches),
           2 invalid policy or usage error
  --at <iso time>  judge exception expiry at this time instead of now (e.g. 2027-02-01T00:00:00Z)
  --trust-policy <file>  (explain) the notation trust policy: name the entries that apply, their level and stores
  Editors: schemas/policy.schema.json (see docs/policy.md, "Editor setup")`;

type Io = { out: (s: string) => void; err: (s: string) => void };

/** Validation areas in the order the validator checks them; the first error stops it. */
const AREAS = ['(document)', 'version', 'registries', 'gate', 'retention', 'runtime'] as const;

/** The area a validator error field belongs to: `gate[0].scope` → `gate`. */
function areaOf(field: string | undefined): (typeof AREAS)[number] {
  const head = (field ?? '(document)').split(/[.[]/)[0];
  return (AREAS as readonly string[]).includes(head) ? (head as (typeof AREAS)[number]) : '(document)';
}

/** One check per validation area: those before the failing one passed, the rest were not reached. */
function areaChecks(error?: GuardError): ResultCheck[] {
  const failed = error ? AREAS.indexOf(areaOf(error.field)) : -1;
  // A missing `gate` is reported before the registries are looked at.
  const order = error && error.field === 'gate' ? ['(document)', 'version', 'gate'] : [...AREAS];
  return AREAS.map((area, i) => {
    let status: CheckStatus = 'pass';
    let reason = area === '(document)' ? 'valid YAML, a policy mapping' : `${area} is valid`;
    if (error && area === AREAS[failed]) {
      status = 'fail';
      reason = error.message;
    } else if (error && (failed < 0 || i > failed || !order.includes(area))) {
      status = 'skip';
      reason = 'not checked: validation stops at the first error';
    }
    return {
      name: area,
      status,
      reason,
      ...(status === 'fail'
        ? { fix: 'correct the field named in the message, then run acr-guard policy check again' }
        : {}),
    };
  });
}

function parseAt(value: string | boolean | undefined): Date {
  if (value === undefined) return new Date();
  const at = typeof value === 'string' ? new Date(value) : new Date(NaN);
  if (
    typeof value !== 'string' ||
    !/^\d{4}-\d{2}-\d{2}(T[0-9:.]+(Z|[+-]\d{2}:\d{2}))?$/.test(value) ||
    Number.isNaN(at.getTime())
  )
    throw new UsageError(
      `--at: expected an ISO time like 2027-02-01T00:00:00Z or a date 2027-02-01, got ${JSON.stringify(value)}`,
    );
  return at;
}

function readPolicy(file: string): { policy?: Policy; error?: GuardError } {
  const text = readBoundedTextSync(file, { maxBytes: MAX_POLICY_BYTES, field: 'file', what: 'policy file' });
  try {
    return { policy: loadPolicy(text, file) };
  } catch (err) {
    if (isGuardError(err, ErrorCodes.INVALID_POLICY)) return { error: err };
    throw err;
  }
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** The text summary of a valid policy's rules. */
export function renderRulesSummary(file: string, rules: PolicyRulesSummary, hash: string): string {
  const lines = [
    `${file}: valid (policy ${hash.slice(0, 12)}): ${plural(rules.registries.length, 'registry').replace('registrys', 'registries')}, ${plural(rules.gate.length, 'gate rule')}, ${plural(rules.retention.length, 'retention rule')}`,
    'registries:',
    ...rules.registries.map((r) => `  ${r.host}  apply: ${r.apply}`),
    'gate (first match wins; an image no rule matches is blocked):',
    ...(rules.gate.length === 0 ? ['  (none: every image is blocked)'] : []),
    ...rules.gate.map((g) => {
      const parts = [
        `block ${g.block.length ? g.block.join(',') : 'nothing'}${g.onlyFixable ? ' (fixable only)' : ''}`,
        g.signaturesRequired
          ? `signatures required${g.trustPolicy ? ` (${g.trustPolicy})` : ''}`
          : 'signatures optional',
        ...(g.reportsSignedBy ? [`reports signed by ${g.reportsSignedBy}`] : []),
        ...(g.exceptions
          ? [`${plural(g.exceptions, 'exception')}${g.expiredExceptions ? ` (${g.expiredExceptions} expired)` : ''}`]
          : []),
        ...(g.promote ? [`promote to ${g.promote}`] : []),
      ];
      return `  ${g.rule} ${g.scope}: ${parts.join('; ')}`;
    }),
    'retention (first match wins; no match, nothing is purged):',
    ...(rules.retention.length === 0 ? ['  (none)'] : []),
    ...rules.retention.map((r) => {
      const parts = [
        ...(r.keep !== undefined ? [`keep ${r.keep}`] : []),
        ...(r.olderThan ? [`older than ${r.olderThan}`] : []),
        ...(r.untagged ? ['untagged too'] : []),
        ...(r.tagPattern ? [`tags /${r.tagPattern}/`] : []),
        r.protectInUse ? 'in-use protected' : 'in-use NOT protected',
        ...(r.includeLocked ? ['locked too'] : []),
        `at most ${r.maxDeletes} per run`,
      ];
      return `  ${r.rule} ${r.scope}: ${parts.join('; ')}`;
    }),
    `runtime: regate after ${rules.runtime.regateAfter}; grace ${Object.entries(rules.runtime.grace)
      .map(([k, v]) => `${k} ${v}`)
      .join(
        ', ',
      )}${rules.runtime.allowRegistries.length ? `; tolerated registries ${rules.runtime.allowRegistries.join(', ')}` : ''}; workloads by tag ${rules.runtime.tolerateTags ? 'tolerated (tolerateTags)' : 'reported as by-tag'}`,
  ];
  return lines.join('\n');
}

function scopeLine(s: ScopeConsidered): string {
  return `  ${s.matched ? 'applies ' : 'no match'} ${s.rule} "${s.scope}": ${s.reason}`;
}

function trustEntryLine(entry: TrustEntryExplained): string {
  if (!entry.found) return `NOT FOUND: ${entry.note}`;
  const how = {
    rule: 'named by the rule',
    registryScopes: 'its registryScopes list the repository',
    wildcard: 'the "*" entry',
  }[entry.selectedBy ?? 'rule'];
  return `${entry.name} (${how}); ${entry.note}; stores ${entry.trustStores?.join(', ') || 'none'}`;
}

/** The text rendering of an explanation. */
export function renderExplanation(e: PolicyExplanation): string {
  const lines: string[] = [];
  const head = e.applies
    ? `${e.image}: gated by ${e.gate.rule?.path} "${e.gate.rule?.scope}"`
    : `${e.image}: REFUSED before gating (${e.refusal?.reason})`;
  lines.push(head);
  lines.push(
    `registry ${e.registry.host}: ${e.registry.allowed ? `allowed; verdicts applied by ${e.registry.applyReason}` : 'NOT under registries'}`,
  );
  if (e.refusal) lines.push(`what happens: ${e.refusal.whatHappens}`);
  lines.push('gate rules considered (first match wins):');
  lines.push(...e.gate.considered.map(scopeLine));
  if (e.gate.notConsidered > 0) lines.push(`  (${plural(e.gate.notConsidered, 'later rule')} not considered)`);
  const v = e.gate.vulnerabilities;
  if (v) {
    lines.push('thresholds:');
    lines.push(
      `  block ${v.block.length ? v.block.join(', ') : 'nothing'}; ${v.onlyFixable ? 'only findings with a fix block' : 'findings block with or without a fix'}`,
    );
    lines.push(
      `  sources ${v.sources.join(', ')}${v.sourcesDefaulted ? ' (default for this registry)' : ''}, require ${v.require}; wait up to ${v.scanDeadline} (poll ${v.pollInterval}), then block`,
    );
    if (v.ratingSources) lines.push(`  severity from rating sources ${v.ratingSources.join(' > ')}`);
    if (v.exceptions.length === 0) lines.push('  exceptions: none');
    for (const x of v.exceptions) {
      const pkgs = x.packages ? ` (packages ${x.packages.join(', ')})` : '';
      lines.push(
        `  exception ${x.id}${pkgs}: ${x.expired ? `EXPIRED ${x.expires}, no longer applies` : `applies through ${x.expires}`} (${x.path}): ${x.reason}`,
      );
    }
  }
  if (e.gate.signatures) lines.push(`signatures: ${e.gate.signatures.effect}`);
  if (e.gate.signatures?.entry) lines.push(`  trust policy entry: ${trustEntryLine(e.gate.signatures.entry)}`);
  if (e.gate.reports) lines.push(`reports: ${e.gate.reports.effect}`);
  if (e.gate.reports?.entry) lines.push(`  trust policy entry: ${trustEntryLine(e.gate.reports.entry)}`);
  if (e.promote)
    lines.push(`promote: ${e.promote.target ? `a released image is copied to ${e.promote.target}` : e.promote.error}`);
  lines.push('retention:');
  lines.push(...e.retention.considered.map(scopeLine));
  if (e.retention.rule)
    lines.push(
      '  keeps:',
      ...e.retention.keeps.map((k) => `    - ${k}`),
      ...(e.retention.tagMatchesPattern === undefined
        ? []
        : [
            `  tag ${e.tag} ${e.retention.tagMatchesPattern ? 'matches tagPattern: eligible once old enough and not kept' : 'does not match tagPattern: kept'}`,
          ]),
    );
  else lines.push(`  keeps ${e.retention.keeps[0]}`);
  return lines.join('\n');
}

/** The checks of an explanation: the registry, then each rule considered. */
function explanationChecks(e: PolicyExplanation): ResultCheck[] {
  const checks: ResultCheck[] = [
    {
      name: 'registry',
      target: e.registry.host,
      status: e.registry.allowed ? 'pass' : 'fail',
      reason: e.registry.allowed ? `under registries; ${e.registry.applyReason}` : (e.refusal?.whatHappens ?? ''),
      ...(e.registry.allowed ? {} : { fix: `add ${e.registry.host} under registries to gate it` }),
    },
  ];
  for (const s of e.gate.considered)
    checks.push({ name: s.rule, target: s.scope, status: s.matched ? 'pass' : 'skip', reason: s.reason });
  if (!e.gate.rule)
    checks.push({
      name: 'gate',
      status: 'fail',
      reason: `no gate rule matches ${e.repository}; unmatched images are blocked`,
      fix: `add a gate rule whose scope matches ${e.repository}`,
    });
  for (const s of e.retention.considered)
    checks.push({ name: s.rule, target: s.scope, status: s.matched ? 'pass' : 'skip', reason: s.reason });
  return checks;
}

/** The envelope of a policy error (usage, unreadable file, invalid policy). */
function errorEnvelope(subject: string, err: unknown): { result: Result; code: number } {
  const guard = isGuardError(err) ? err : undefined;
  const usage =
    err instanceof UsageError ||
    isGuardError(err, 'INVALID_INPUT', 'INVALID_POLICY', 'INVALID_CONFIG', 'FILE_TOO_LARGE');
  const result = errorResultOf({
    kind: 'PolicyResult',
    subject,
    error: {
      code: guard?.code ?? (err instanceof UsageError ? ErrorCodes.INVALID_INPUT : 'INTERNAL'),
      message: (err as Error).message,
      ...(guard?.field ? { field: guard.field } : {}),
    },
    errorKind: usage ? 'usage' : 'runtime',
    checks: isGuardError(err, ErrorCodes.INVALID_POLICY) ? areaChecks(err) : [],
  });
  return { result, code: result.exitCode };
}

/** Runs `acr-guard policy …`; returns the exit code. Every error is handled here (JSON on stdout under --output json). */
export async function policyCommand(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  let subject = 'policy';
  try {
    if (sub === undefined || sub === 'help' || sub === '--help' || sub === '-h') {
      io.out(POLICY_USAGE);
      return sub === undefined ? ExitCodes.USAGE : ExitCodes.OK;
    }
    if (sub !== 'check' && sub !== 'explain')
      throw new UsageError(
        `unknown policy subcommand ${JSON.stringify(sub)} (expected check or explain)\n${POLICY_USAGE}`,
      );
    const { values, positionals } = parseCommandArgs(rest, {
      output: { type: 'string' },
      at: { type: 'string' },
      'trust-policy': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help) {
      io.out(POLICY_USAGE);
      return ExitCodes.OK;
    }
    const format = outputFormat(values.output);
    const want = sub === 'check' ? 1 : 2;
    if (positionals.length !== want)
      throw new UsageError(
        `${sub}: expected ${sub === 'check' ? 'a policy file' : 'a policy file and an image reference'}, got ${plural(positionals.length, 'argument')}\n${POLICY_USAGE}`,
      );
    const file = positionals[0];
    subject = file;
    const now = parseAt(values.at);
    const ref = sub === 'explain' ? parseImageReference(positionals[1], { field: 'image' }) : undefined;
    if (sub === 'check' && values['trust-policy'] !== undefined)
      throw new UsageError(`--trust-policy goes with explain, not check\n${POLICY_USAGE}`);
    const { policy, error } = readPolicy(file);
    if (!policy) throw error;
    if (sub === 'check') {
      const rules = summarizePolicy(policy, now);
      const result = resultOf({
        kind: 'PolicyResult',
        subject: file,
        outcome: 'pass',
        decision: 'valid',
        summary: `${file} is a valid policy: ${plural(rules.gate.length, 'gate rule')}, ${plural(rules.retention.length, 'retention rule')}`,
        checks: areaChecks(),
        data: { file, hash: policy.hash, rules },
      });
      io.out(format === 'json' ? JSON.stringify(result, null, 2) : renderRulesSummary(file, rules, policy.hash));
      return result.exitCode;
    }
    const trustFile = values['trust-policy'];
    const trust = typeof trustFile === 'string' ? await loadTrustPolicyFile(trustFile, '--trust-policy') : undefined;
    const explanation = explainPolicy(policy, ref!, now, trust ? { trust } : {});
    const result = resultOf({
      kind: 'PolicyResult',
      subject: explanation.image,
      outcome: explanation.applies ? 'pass' : 'fail',
      decision: explanation.applies ? 'applies' : 'refused',
      summary: explanation.applies
        ? `${explanation.gate.rule?.path} "${explanation.gate.rule?.scope}" applies to ${explanation.image}`
        : `refused before gating: ${explanation.refusal?.whatHappens}`,
      checks: explanationChecks(explanation),
      data: { file, hash: policy.hash, explanation },
    });
    io.out(format === 'json' ? JSON.stringify(result, null, 2) : renderExplanation(explanation));
    return result.exitCode;
  } catch (err) {
    if (!(err instanceof UsageError) && !isGuardError(err)) throw err;
    const { result, code } = errorEnvelope(subject, err);
    if (wantsJson(rest)) io.out(JSON.stringify(result, null, 2));
    const tag = isGuardError(err) ? ` [${err.code}]` : '';
    io.err(`acr-guard policy ${sub}:${tag} ${(err as Error).message}`);
    return code;
  }
}
