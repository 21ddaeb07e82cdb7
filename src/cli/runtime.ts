/**
 * `acr-guard runtime --policy <file> [--deployed <file>] [--audit-dir <dir>] [--plain-http] [--regate]
 *                    [--output json|table]`
 *
 * Runtime assurance from the command line: classifies every running image (from `--deployed`, or from Azure
 * with `ACR_GUARD_INUSE_SCOPES` like the purge's in-use lookup) against the verdicts the gate recorded in
 * `--audit-dir`. With `--regate`, digests whose verdict is stale or from another policy version are gated
 * again (trigger `runtime`: recorded, never applied) before the report. Exit 0 when every image is `released`
 * or `allowed-external`, 3 when any other status appears, 2 usage or configuration error, 1 runtime error.
 */
import { isAcrHost } from '../core/acrHost';
import { DefaultAzureCredential } from '@azure/identity';
import { loadPolicy } from '../core/policy';
import { formatImage } from '../core/reference';
import { humanDuration } from '../core/duration';
import { PLAIN, colorsOf, plural, type Terminal } from './term';
import {
  RUNTIME_OK_STATUSES,
  RUNTIME_STATUSES,
  runtimeJson,
  type RuntimeEntry,
  type RuntimeReport,
} from '../core/runtime/classify';
import { FileAuditStore, MemoryAuditStore } from '../adapters/auditStore';
import type { DeployedImage, InUseLookup } from '../adapters/ports';
import { composeGateServices } from '../app/compose';
import { isLoopbackHost } from '../core/loopback';
import { runGateLocally } from '../local/orchestrationHost';
import { assessRuntime, runtimeReportOf } from '../jobs/runtimeAssessment';
import { ExitCodes, UsageError, outputFormat, parseCommandArgs, readPolicyFile, signatureTrustOption } from './args';
import { readDeployed } from './purge';
import { runtimeResultOf } from '../core/result';

export const RUNTIME_USAGE = `usage: acr-guard runtime --policy <file> [--deployed <file>] [--audit-dir <dir>] [--plain-http]
                          [--regate [--trust-policy <file> --trust-store <dir>]] [--output json|table]
  Checks every running image against the gate: released, blocked (with its grace), overdue, never-gated,
  outside-allowlist, allowed-external or unresolved; and whether it is deployed by tag (pin by digest).
  --deployed <file>  JSON list [{"image": "<reference>", "source": "<workload>"}] (the purge's format); without it,
                     ACR_GUARD_INUSE_SCOPES names the Container Apps / Container Instances scopes to ask Azure
  --audit-dir <dir>  read the verdicts \`acr-guard gate --audit-dir\` recorded there; keep the grace clocks and
                     the report there too (without it: no verdicts, so allowlisted images are never-gated)
  --regate           gate again the digests whose verdict is older than runtime.regateAfter or from another
                     policy version (recorded into --audit-dir, never applied to the registry)
  --trust-policy <f>, --trust-store <d>  notation trustpolicy.json and trust store for the re-gates' signature
                     checks (without them a rule that requires signatures blocks as inconclusive)
  --plain-http       talk http to the policy's loopback registries (127.0.0.0/8, localhost, [::1] only)
  exit codes: 0 every image released or allowed-external, 3 any other status, 2 usage or configuration error,
              1 runtime error`;

/** What the command needs from outside (tests pass their own). */
export interface RuntimeIo {
  out: (s: string) => void;
  err: (s: string) => void;
  /** Deployed-image lookup (Container Apps / ACI) when configured; `--deployed` takes precedence. */
  inUse?: InUseLookup;
  /** Epoch ms "now"; default the clock. */
  now?: () => number;
  /** Colour of stdout (default: plain, as piped). */
  term?: Terminal;
}

/** Runs the `runtime` command; returns the exit code. */
export async function runtimeCommand(argv: string[], io: RuntimeIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, {
    policy: { type: 'string' },
    deployed: { type: 'string' },
    'audit-dir': { type: 'string' },
    'plain-http': { type: 'boolean' },
    regate: { type: 'boolean' },
    'trust-policy': { type: 'string' },
    'trust-store': { type: 'string' },
    output: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    io.out(RUNTIME_USAGE);
    return ExitCodes.OK;
  }
  if (positionals.length > 0)
    throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}\n${RUNTIME_USAGE}`);
  if (typeof values.policy !== 'string') throw new UsageError(`--policy <file> is required\n${RUNTIME_USAGE}`);
  const format = outputFormat(values.output);
  const policy = loadPolicy(readPolicyFile(values.policy), values.policy);
  const auditDir = typeof values['audit-dir'] === 'string' ? values['audit-dir'] : undefined;
  const regate = values.regate === true;
  if (regate && !auditDir)
    throw new UsageError('--regate needs --audit-dir <dir>: the new verdicts are recorded there');
  const plainHttpHosts =
    values['plain-http'] === true ? policy.registries.map((r) => r.host).filter(isLoopbackHost) : [];
  if (values['plain-http'] === true && plainHttpHosts.length === 0)
    throw new UsageError(
      '--plain-http is allowed only for loopback registries (127.0.0.0/8, localhost, [::1]), and the policy lists none',
    );
  let containers: DeployedImage[];
  let inventory: string;
  if (typeof values.deployed === 'string') {
    containers = readDeployed(values.deployed);
    inventory = `--deployed ${values.deployed}`;
  } else if (io.inUse) {
    containers = await io.inUse.listDeployedImages();
    inventory = 'azure (ACR_GUARD_INUSE_SCOPES)';
  } else {
    throw new UsageError(
      'no inventory: pass --deployed <file>, or set ACR_GUARD_INUSE_SCOPES to the Container Apps / Container Instances scopes to ask Azure',
    );
  }

  const audit = auditDir ? new FileAuditStore(auditDir) : new MemoryAuditStore();
  const credential = policy.registries.some((r) => isAcrHost(r.host)) ? new DefaultAzureCredential() : undefined;
  const signatureTrust = await signatureTrustOption(values);
  const services = composeGateServices({ policy: () => policy, credential, plainHttpHosts, audit, signatureTrust });
  const state = await audit.readRuntimeState();
  const nowMs = io.now?.() ?? Date.now();
  // The grace state as it was before this run, for both passes: the second classifies on the new verdicts only.
  const assess = (resolutions?: Awaited<ReturnType<typeof assessRuntime>>['resolutions']) =>
    assessRuntime({
      containers,
      policy,
      registry: services.registry,
      audit,
      graceState: state.graceState,
      ...(state.graceSeen ? { graceSeen: state.graceSeen } : {}),
      nowMs,
      ...(resolutions ? { resolutions } : {}),
      ...(auditDir ? {} : { verdictStore: false }),
    });
  let assessed = await assess();
  const regated: RuntimeReport['regated'] = [];
  if (regate && assessed.classification.due.length > 0) {
    for (const due of assessed.classification.due) {
      const outcome = await runGateLocally({
        image: due.image,
        ...(due.tag ? { tag: due.tag } : {}),
        trigger: 'runtime',
        services,
        timers: 'real',
      });
      regated.push({
        image: formatImage(due.image),
        why: due.why,
        outcome: outcome.verdict ? outcome.verdict.decision : `${outcome.status}: ${outcome.reason ?? ''}`,
      });
    }
    // Classify again on the new verdicts, with the same tag answers and the grace state as it was.
    assessed = await assess(assessed.resolutions);
  }
  const { classification } = assessed;
  // --regate gates again only digests with an old verdict; never-gated ones are named, not passed over silently.
  const notRegated = regate ? classification.entries.filter((e) => e.status === 'never-gated') : [];
  if (auditDir) {
    await audit.writeRuntimeState({
      graceState: classification.graceState,
      graceSeen: classification.graceSeen,
      lastAlerted: state.lastAlerted,
    });
    await audit.recordRuntimeReport(runtimeReportOf({ classification, policy, nowMs, inventory, regated }));
  }
  if (format === 'json')
    io.out(
      JSON.stringify(
        runtimeResultOf(inventory, runtimeJson(classification.entries, classification.summary), regated),
        null,
        2,
      ),
    );
  else {
    io.out(runtimeTable(classification.entries, classification.summary, regated, nowMs, io.term));
    if (regate) io.out(regateSummary(regated.length, notRegated.length));
    if (!auditDir)
      io.err(
        'note: no --audit-dir was given, so no verdict was read and allowlisted images are "unresolved": pass ' +
          '--audit-dir <dir> (where `acr-guard gate --audit-dir` recorded the verdicts) to check them against the gate',
      );
  }
  return classification.entries.every((e) => RUNTIME_OK_STATUSES.includes(e.status)) ? ExitCodes.OK : ExitCodes.BLOCKED;
}

/**
 * What `--regate` did: how many digests it gated again, and how many never-gated ones it left (they have no
 * verdict to renew: they reached a workload around the gate, and gating them is `acr-guard gate`'s, on purpose).
 */
export function regateSummary(regated: number, neverGated: number): string {
  const did = `re-gated ${plural(regated, 'digest')} (stale or made under another policy version)`;
  return neverGated === 0
    ? did
    : `${did}; skipped ${plural(neverGated, 'never-gated digest')}: --regate renews existing verdicts only; gate ` +
        `${neverGated === 1 ? 'it' : 'them'} with \`acr-guard gate <image> --audit-dir <dir>\` and find out how ` +
        `${neverGated === 1 ? 'it' : 'they'} got deployed around the gate`;
}

/** The table: one block per image (status, reference, reason, grace left, workloads), then the counts. */
export function runtimeTable(
  entries: readonly RuntimeEntry[],
  summary: Record<string, number>,
  regated: RuntimeReport['regated'],
  nowMs: number,
  term: Terminal = PLAIN,
): string {
  const c = colorsOf(term);
  const paint = (status: RuntimeEntry['status'], text: string) =>
    RUNTIME_OK_STATUSES.includes(status)
      ? c.green(text)
      : status === 'blocked' || status === 'unresolved' || status === 'by-tag'
        ? c.yellow(text)
        : c.red(c.bold(text));
  const lines: string[] = [];
  for (const r of regated) lines.push(`re-gated ${r.image} (${r.why}): ${r.outcome}`);
  for (const e of entries) {
    const grace = e.graceUntil
      ? e.status === 'overdue'
        ? `  [grace ended ${e.graceUntil}]`
        : `  [grace left ${humanDuration(Date.parse(e.graceUntil) - nowMs)}]`
      : '';
    lines.push(
      `${paint(e.status, e.status.padEnd(17))} ${e.image}${e.byTag ? '  (deployed by tag: pin by digest)' : ''}${grace}`,
    );
    lines.push(`${' '.repeat(18)}${e.reason}`);
    for (const w of e.workloads.slice(0, 10)) lines.push(`${' '.repeat(18)}- ${w}`);
    if (e.workloads.length > 10) lines.push(`${' '.repeat(18)}- … ${e.workloads.length - 10} more`);
  }
  lines.push(
    RUNTIME_STATUSES.filter((s) => summary[s] > 0)
      .map((s) => `${summary[s]} ${s}`)
      .join(', ') || 'nothing runs in the inventory',
  );
  return lines.join('\n');
}
