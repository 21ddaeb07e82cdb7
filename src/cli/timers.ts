/**
 * `acr-guard alerts list|run` and `acr-guard tokens rotate`: the timers' code, run from a shell with the same
 * app settings (environment variables) the Functions app reads. Endpoints are settings
 * (ACR_GUARD_LOG_ANALYTICS_ENDPOINT, ACR_GUARD_ARM_ENDPOINT, ACR_GUARD_KEY_VAULT_URL, sinks), so the same
 * commands run against loopback stand-ins.
 */
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { loadConfig, type AuditConfig } from '../app/config';
import { loadAlertsConfig, loadRotationConfig } from '../app/timerConfig';
import { ruleSummary } from '../core/alerts/rule';
import { ErrorCodes, isGuardError } from '../core/errors';
import { alertRunFor, doctorScopeFrom, rotationRunFor, rulesFor } from '../app/jobCompose';
import { runAlertRules } from '../jobs/alertRun';
import { rotateTokens } from '../jobs/tokenRotation';
import { ExitCodes, UsageError, outputFormat, parseCommandArgs } from './args';
import { didYouMean } from './suggest';
import { resultOf, type Result } from '../core/result';
import type { AlertRunReport } from '../jobs/alertRun';
import type { TokenOutcome } from '../jobs/tokenRotation';
import { printFailureHints } from './hints';
import { renderChecks } from './render';
import { PLAIN, plural, renderTable, statusWord, type Terminal } from './term';

/** Standard output and error; `term` says whether stdout takes colour and how wide it is (default: piped). */
type Io = { out: (s: string) => void; err: (s: string) => void; term?: Terminal };

/** Where the commands get settings, identity and (for loopback stand-ins) an extra CA. */
export interface TimerCommandContext {
  env: Record<string, string | undefined>;
  credential?: TokenCredential;
  ca?: string;
  nowMs?: number;
}

export const ALERTS_USAGE = `usage: acr-guard alerts list [--output json|table]
       acr-guard alerts run [--rule NAME] [--dry-run] [--output json|table]
  list   the enabled alert rules (shipped, changed by ACR_GUARD_ALERT_RULES_FILE): name, query, window, threshold, severity
  run    query Log Analytics (ACR_GUARD_LOG_ANALYTICS_WORKSPACE_ID), evaluate, alert once per incident;
         --rule runs one rule (even a disabled one); --dry-run sends nothing and records nothing
  exit codes: 0 every rule ran completely, 1 a rule failed or got partial results, 2 usage or configuration error`;

export const TOKENS_USAGE = `usage: acr-guard tokens rotate [--dry-run] [--output json|table]
  Rotates the ACR tokens in ACR_GUARD_ROTATION_TOKENS into ACR_GUARD_KEY_VAULT_URL; --dry-run prints what would rotate.
  exit codes: 0 every token rotated or kept, 1 a token failed (its published password is unchanged), 2 usage error`;

function defaultContext(): TimerCommandContext {
  return { env: process.env };
}

function credentialOf(ctx: TimerCommandContext): TokenCredential {
  return ctx.credential ?? new DefaultAzureCredential();
}

/** The audit settings when the environment has them (for the verdict lookup and Table state); else none. */
function auditOf(env: TimerCommandContext['env']): AuditConfig | undefined {
  try {
    return loadConfig(env).audit;
  } catch {
    return undefined;
  }
}

/** Configuration errors are usage errors (exit 2) naming the setting. */
async function asUsage<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isGuardError(err, 'INVALID_CONFIG', 'INVALID_POLICY', 'INVALID_INPUT')) throw new UsageError(err.message);
    throw err;
  }
}

/** `acr-guard alerts ...` */
export async function alertsCommand(
  argv: string[],
  io: Io,
  ctx: TimerCommandContext = defaultContext(),
): Promise<number> {
  const [sub, ...rest] = argv;
  const { values } = parseCommandArgs(rest, {
    output: { type: 'string' },
    rule: { type: 'string' },
    'dry-run': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  // `alerts --help` and `alerts -h` (the help flag where the subcommand goes) are help too, exit 0.
  if (values.help || sub === undefined || sub === 'help' || sub === '--help' || sub === '-h') {
    io.out(ALERTS_USAGE);
    return sub === undefined ? ExitCodes.USAGE : ExitCodes.OK;
  }
  const format = outputFormat(values.output);
  if (sub === 'list') {
    if (values.rule !== undefined || values['dry-run'])
      throw new UsageError(`alerts list takes only --output\n${ALERTS_USAGE}`);
    const rules = await asUsage(() => rulesFor({ rulesFile: ctx.env.ACR_GUARD_ALERT_RULES_FILE?.trim() || undefined }));
    const enabled = rules.filter((r) => r.enabled).map(ruleSummary);
    if (format === 'json')
      io.out(
        JSON.stringify(
          resultOf({
            kind: 'AlertsResult',
            subject: ctx.env.ACR_GUARD_ALERT_RULES_FILE?.trim() || 'shipped alert rules',
            outcome: 'pass',
            summary: plural(enabled.length, 'enabled alert rule'),
            data: { rules: enabled },
          }),
          null,
          2,
        ),
      );
    else io.out(alertsListText(enabled, io.term ?? PLAIN));
    return ExitCodes.OK;
  }
  if (sub !== 'run')
    throw new UsageError(
      `unknown alerts subcommand ${JSON.stringify(sub)}${didYouMean(sub, ['list', 'run'])}\n${ALERTS_USAGE}`,
    );
  const dryRun = values['dry-run'] === true;
  const rule = typeof values.rule === 'string' ? values.rule : undefined;
  const run = await asUsage(() => {
    const config = loadAlertsConfig(ctx.env, { requireSinks: !dryRun });
    return alertRunFor(
      config,
      auditOf(ctx.env),
      { credential: credentialOf(ctx), ca: ctx.ca, log: (l) => io.err(l) },
      { dryRun, rule, doctor: doctorScopeFrom(ctx.env) },
    );
  });
  const report = await runAlertRules({ ...run, nowMs: ctx.nowMs ?? Date.now() });
  const result = alertsRunResult(ctx, report);
  if (format === 'json') io.out(JSON.stringify(result, null, 2));
  else {
    io.out(alertsRunText(result, report, io.term ?? PLAIN));
    printFailureHints(io, report.rules, rest);
  }
  return report.rules.every((r) => r.status === 'ok' && r.failed === 0) ? ExitCodes.OK : ExitCodes.RUNTIME;
}

/** `acr-guard tokens rotate [--dry-run]` */
export async function tokensCommand(
  argv: string[],
  io: Io,
  ctx: TimerCommandContext = defaultContext(),
): Promise<number> {
  const [sub, ...rest] = argv;
  const { values } = parseCommandArgs(rest, {
    output: { type: 'string' },
    'dry-run': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  // `tokens --help` and `tokens -h` (the help flag where the subcommand goes) are help too, exit 0.
  if (values.help || sub === undefined || sub === 'help' || sub === '--help' || sub === '-h') {
    io.out(TOKENS_USAGE);
    return sub === undefined ? ExitCodes.USAGE : ExitCodes.OK;
  }
  if (sub !== 'rotate')
    throw new UsageError(
      `unknown tokens subcommand ${JSON.stringify(sub)}${didYouMean(sub, ['rotate'])}\n${TOKENS_USAGE}`,
    );
  const format = outputFormat(values.output);
  const dryRun = values['dry-run'] === true;
  const run = await asUsage(() => {
    const config = loadRotationConfig(ctx.env, { requireSinks: !dryRun });
    return rotationRun(config, ctx, io, dryRun);
  });
  const outcomes = await rotateTokens({ ...run, nowMs: ctx.nowMs ?? Date.now() });
  const result = tokensResult(ctx, dryRun, outcomes);
  if (format === 'json') io.out(JSON.stringify(result, null, 2));
  else {
    io.out(tokensText(result, outcomes, io.term ?? PLAIN));
    printFailureHints(
      io,
      outcomes.map((o) => o.error),
      rest,
    );
  }
  return outcomes.some((o) => o.result === 'failed') ? ExitCodes.RUNTIME : ExitCodes.OK;
}

/** `alerts list` for a person: one row per enabled rule (RULE, SEVERITY, WINDOW, THRESHOLD), then the count. */
export function alertsListText(rules: ReadonlyArray<ReturnType<typeof ruleSummary>>, term: Terminal = PLAIN): string {
  const rows = rules.map((r) => [
    r.name,
    r.severity,
    r.window,
    `> ${r.threshold.above}${r.threshold.column ? ` (${r.threshold.column})` : ' rows'}`,
  ]);
  return [
    ...(rows.length > 0 ? [renderTable(['RULE', 'SEVERITY', 'WINDOW', 'THRESHOLD'], rows, term)] : []),
    `${plural(rules.length, 'enabled alert rule')}`,
  ].join('\n');
}

/**
 * `alerts run` for a person: the envelope's checks (one per rule: PASS when it ran completely, INCONCLUSIVE
 * otherwise), the alerts sent (or, dry, that would be), then the envelope's summary.
 */
export function alertsRunText(result: Result, report: AlertRunReport, term: Terminal = PLAIN): string {
  const parts: string[] = [];
  if (result.checks.length > 0) parts.push(renderChecks(result.checks, term), '');
  const alerts = report.rules.flatMap((r) => r.alerts.map((a) => [r.rule, a.kind, a.severity, a.title]));
  if (alerts.length > 0) {
    const head = ['RULE', report.dryRun ? 'WOULD ALERT' : 'ALERTED', 'SEVERITY', 'TITLE'];
    parts.push(renderTable(head, alerts, term, { shrinkFirst: [3] }), '');
  }
  parts.push(result.summary);
  return parts.join('\n');
}

/**
 * `tokens rotate` for a person: one row per token with its envelope status word (PASS, FAIL, SKIP), the secret,
 * what happened and the plan (slot and expiry) or the failed step, then the plan's flags and the envelope's summary.
 */
export function tokensText(result: Result, outcomes: readonly TokenOutcome[], term: Terminal = PLAIN): string {
  const rows = outcomes.map((o, i) => {
    const p = o.plan;
    const plan = p ? `${p.action}${p.slot ? ` ${p.slot} until ${p.expiry}` : ''}: ${p.reason}` : '';
    const failed = o.error ? `failed at ${o.error.step}: ${o.error.message}` : '';
    return [
      statusWord(result.checks[i]?.status ?? 'fail', term),
      o.secretName ?? o.tokenId,
      o.result,
      [failed, plan].filter(Boolean).join('; '),
    ];
  });
  const parts: string[] = [];
  if (rows.length > 0)
    parts.push(renderTable(['STATUS', 'SECRET', 'RESULT', 'PLAN'], rows, term, { shrinkFirst: [3] }), '');
  const flags = outcomes.flatMap((o) =>
    (o.plan?.flags ?? []).map((f) => [o.secretName ?? o.tokenId, f.code, f.detail]),
  );
  if (flags.length > 0) parts.push(renderTable(['SECRET', 'FLAG', 'DETAIL'], flags, term, { shrinkFirst: [2] }), '');
  parts.push(result.summary);
  return parts.join('\n');
}

function rotationRun(config: ReturnType<typeof loadRotationConfig>, ctx: TimerCommandContext, io: Io, dryRun: boolean) {
  return rotationRunFor(
    config,
    auditOf(ctx.env),
    { credential: credentialOf(ctx), ca: ctx.ca, log: (l) => io.err(l) },
    { dryRun },
  );
}

/**
 * The `alerts run` envelope: one check per rule (ran completely: pass; partial or failed: inconclusive, since its
 * incidents are not known); error (1) when any rule did not run completely or an alert could not be sent.
 */
export function alertsRunResult(ctx: TimerCommandContext, report: AlertRunReport): Result {
  const bad = report.rules.filter((r) => r.status !== 'ok' || r.failed > 0);
  return resultOf({
    kind: 'AlertsResult',
    subject: ctx.env.ACR_GUARD_LOG_ANALYTICS_WORKSPACE_ID?.trim() || 'log analytics',
    outcome: bad.length === 0 ? 'pass' : 'error',
    summary:
      `${plural(report.rules.length, 'rule')} run, ` +
      `${report.rules.reduce((n, r) => n + r.incidents, 0)} incident(s)` +
      (bad.length ? `; ${bad.length} did not run completely or could not alert` : ''),
    checks: report.rules.map((r) => ({
      name: r.rule,
      status: r.status === 'ok' && r.failed === 0 ? ('pass' as const) : ('inconclusive' as const),
      reason:
        `${r.status}: ${r.incidents} incident(s), ${report.dryRun ? 'would alert' : 'alerted'} ` +
        `${report.dryRun ? r.alerts.length : r.alerted}, suppressed ${r.suppressed}` +
        (r.failed ? `, ${r.failed} not sent` : '') +
        (r.detail ? `; ${r.detail}` : ''),
    })),
    errors: bad.map((r) => ({
      code: 'UPSTREAM',
      message: `${r.rule}: ${r.detail ?? (r.failed ? `${r.failed} alert(s) could not be sent` : r.status)}`,
      field: r.rule,
    })),
    errorKind: 'runtime',
    data: { ...report },
  });
}

/** The `tokens rotate` envelope: one check per token (failed fails); error (1) when any token failed. */
export function tokensResult(ctx: TimerCommandContext, dryRun: boolean, outcomes: readonly TokenOutcome[]): Result {
  const failed = outcomes.filter((o) => o.result === 'failed');
  return resultOf({
    kind: 'TokensResult',
    subject: ctx.env.ACR_GUARD_KEY_VAULT_URL?.trim() || 'key vault',
    outcome: failed.length === 0 ? 'pass' : 'error',
    summary: `${plural(outcomes.length, 'token')}: ${
      ['rotated', 'kept', 'skipped', 'planned', 'failed']
        .map((r) => [r, outcomes.filter((o) => o.result === r).length] as const)
        .filter(([, n]) => n > 0)
        .map(([r, n]) => `${n} ${r}`)
        .join(', ') || 'none'
    }${dryRun ? ' (dry run)' : ''}`,
    checks: outcomes.map((o) => ({
      name: 'rotation',
      target: o.secretName ?? o.tokenId,
      status:
        o.result === 'failed' ? ('fail' as const) : o.result === 'skipped' ? ('skip' as const) : ('pass' as const),
      reason: o.error
        ? `failed at ${o.error.step}: ${o.error.message}`
        : o.plan
          ? `${o.result}: ${o.plan.action}: ${o.plan.reason}`
          : o.result,
    })),
    errors: failed.map((o) => ({
      code: o.error?.code ?? ErrorCodes.ERROR,
      message: `${o.secretName ?? o.tokenId}: ${o.error?.message ?? 'failed'}`,
      field: o.tokenId,
    })),
    errorKind: 'runtime',
    data: { dryRun, tokens: outcomes },
  });
}
