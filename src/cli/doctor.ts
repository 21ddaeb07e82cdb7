/**
 * `acr-guard doctor pull|identities|platform|snapshot`: diagnose a failed image pull and over-privileged
 * identities, and check the platform's controls, live (Resource Graph + ARM, read-only) or from a snapshot file.
 * Exit 0 every check passes (and there was at least one), 3 any fails or is unknown or nothing was checked, 2 usage
 * or configuration error (a malformed snapshot, one id named twice), 1 runtime error.
 */
import { isAcrHost } from '../core/acrHost';
import { Agent as HttpsAgent } from 'node:https';
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { loadConfig } from '../app/config';
import { ErrorCodes, GuardError, isGuardError } from '../core/errors';
import {
  allPassed,
  allWorkloads,
  buildSnapshot,
  findWorkload,
  diagnoseIdentities,
  diagnosePlatform,
  parseSnapshot,
  MAX_SNAPSHOT_BYTES,
  roadFromPolicy,
  type RoadOptions,
  type DoctorCheck,
  type DoctorReport,
  type Snapshot,
} from '../core/doctor';
import { FileAuditStore } from '../adapters/auditStore';
import { readBoundedFileSync } from '../adapters/boundedFile';
import { auditStoreFor } from '../app/compose';
import { AzureInventory, parseInventoryScope } from '../adapters/azureInventory';
import type { AuditStore } from '../adapters/ports';
import { createRegistryClient } from '../adapters/registry';
import { isLoopbackHost } from '../core/loopback';
import { registryPresence, runDoctorPull } from '../jobs/doctor';
import { ExitCodes, UsageError, outputFormat, parseCommandArgs, readPolicyFile } from './args';
import { didYouMean } from './suggest';
import { PLAIN, colorsOf, plural, type Terminal } from './term';
import { checkOfDoctor, countChecks, resultOf, type Result } from '../core/result';
import { loadPolicy } from '../core/policy';
import type { Policy } from '../core/policyTypes';

type Io = { out: (s: string) => void; err: (s: string) => void; term?: Terminal };

/** Settings, identity and (for loopback stand-ins) an extra CA. */
export interface DoctorContext {
  env: Record<string, string | undefined>;
  credential?: TokenCredential;
  ca?: string;
}

export const DOCTOR_USAGE = `usage: acr-guard doctor pull <container-app|container-group> (--snapshot <file> | --scope <id>) [--audit-dir <dir>]
                           [--reach-registry [--plain-http]] [--output json|table]
       acr-guard doctor identities (--snapshot <file> | --scope <id>) [--output json|table]
       acr-guard doctor platform (--snapshot <file> | --scope <id>) [--policy <file> --guard-principal-id <id>[,<id>]]
                                [--output json|table]
       acr-guard doctor snapshot --scope <id> > snapshot.json
  pull        why a workload (resource id or name) cannot pull: the gate's verdict of each image, the private endpoint,
              the privatelink.azurecr.io zone link and A records, the pull identity and its role on the registry
  identities  managed identities of Container Apps, container groups and Function Apps holding a privileged role (one
              that writes role assignments, role definitions, policy or any resource; custom roles judged by what
              they allow) at a subscription, management group or resource group
  platform    the registry, Defender, diagnostics, Container Apps and Key Vault controls the platform is meant to have,
              and the road to production: the deploy-time policy assigned, enforced and not exempted for every
              workload; with --policy, under promote: ABAC mode and no identity but acr-guard's writing the release prefix
  snapshot    write the resources doctor reads ({"resources": [...]}) so a person can diagnose anywhere
  --snapshot <file>  read ARM resource objects from a file instead of Azure
  --scope <id>       live: /subscriptions/<id>[/resourceGroups/<name>] (Resource Graph + ARM, read-only);
                     with --snapshot: only resources under this ARM id (identities, platform)
  --policy <file>    (platform) acr-guard's policy: which registries promote, and the release prefix
  --guard-principal-id <id>  (platform, with --policy) acr-guard's identity (object id; comma-separated for several)
  --audit-dir <dir>  the gate's verdicts (JSON-lines, as gate --audit-dir writes); default: the configured store
  --reach-registry   also ask the registry (of the snapshot only) whether each tag or digest exists
  --plain-http       with --reach-registry, talk http to a loopback registry (127.0.0.0/8, localhost, [::1] only)
  exit codes: 0 every check passes, 3 any check fails or is unknown (zero checks is unknown), 2 usage or configuration
              error (a malformed snapshot; one resource id named twice), 1 runtime error`;

/** `--policy` and `--guard-principal-id` of `doctor platform`: both or neither. */
function roadOption(values: {
  policy?: string | boolean;
  'guard-principal-id'?: string | boolean;
}): RoadOptions | undefined {
  const file = typeof values.policy === 'string' ? values.policy : undefined;
  const ids = typeof values['guard-principal-id'] === 'string' ? values['guard-principal-id'] : undefined;
  if (!file && !ids) return undefined;
  if (!file || !ids)
    throw new UsageError(
      "doctor platform: --policy and --guard-principal-id go together (which registries promote, and whose writes are acr-guard's)",
    );
  const list = ids.split(',').map((x) => x.trim());
  const bad = list.find((x) => !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(x));
  if (bad !== undefined)
    throw new UsageError(`--guard-principal-id: expected object ids (GUIDs), got ${JSON.stringify(bad.slice(0, 80))}`);
  let policy: Policy;
  try {
    policy = loadPolicy(readPolicyFile(file), file);
  } catch (err) {
    if (isGuardError(err)) throw new UsageError(`${err.message} [${err.code}]`);
    throw err;
  }
  return roadFromPolicy(policy, list, new Date());
}

function loadSnapshotFile(path: string): Snapshot {
  let bytes: Buffer;
  try {
    // At most MAX_SNAPSHOT_BYTES + 1 bytes are read, whatever the file is (a FIFO, /dev/zero): nothing is parsed past it.
    bytes = readBoundedFileSync(path, { maxBytes: MAX_SNAPSHOT_BYTES, field: '--snapshot', what: 'snapshot' });
  } catch (err) {
    if (isGuardError(err, ErrorCodes.FILE_TOO_LARGE)) {
      throw new UsageError(
        `--snapshot: ${path} is more than the ${MAX_SNAPSHOT_BYTES} bytes a snapshot may have; capture a narrower --scope [${ErrorCodes.SNAPSHOT_TOO_LARGE}]`,
      );
    }
    if (isGuardError(err)) throw new UsageError(err.message);
    throw err;
  }
  return parseSnapshot(bytes, path);
}

function inventoryOf(ctx: DoctorContext): AzureInventory {
  return new AzureInventory({
    credential: ctx.credential ?? new DefaultAzureCredential(),
    endpoint: ctx.env.ACR_GUARD_ARM_ENDPOINT?.trim() || undefined,
    httpsAgent: ctx.ca ? new HttpsAgent({ ca: ctx.ca, keepAlive: false }) : undefined,
  });
}

function auditOf(values: Record<string, string | boolean | undefined>, ctx: DoctorContext): AuditStore | undefined {
  if (typeof values['audit-dir'] === 'string') return new FileAuditStore(values['audit-dir']);
  try {
    return auditStoreFor(loadConfig(ctx.env).audit, ctx.credential ?? new DefaultAzureCredential());
  } catch {
    return undefined; // no store configured: the verdict checks say so (unknown)
  }
}

/** The registry lookup `--reach-registry` asks for (plain http only to loopback hosts). */
function presenceOf(
  values: Record<string, string | boolean | undefined>,
  ctx: DoctorContext,
): ReturnType<typeof registryPresence> | undefined {
  if (values['plain-http'] === true && values['reach-registry'] !== true)
    throw new UsageError('--plain-http goes with --reach-registry');
  if (values['reach-registry'] !== true) return undefined;
  const plainHttp = values['plain-http'] === true;
  return registryPresence((host) => {
    if (plainHttp && !isLoopbackHost(host))
      throw new GuardError(
        ErrorCodes.INVALID_INPUT,
        `--plain-http is allowed only for loopback registries (127.0.0.0/8, localhost, [::1]), not ${host}`,
      );
    return createRegistryClient({
      host,
      plainHttp,
      credential: isAcrHost(host) ? (ctx.credential ?? new DefaultAzureCredential()) : undefined,
      userAgent: 'acr-guard/0.1',
    });
  });
}

/** A table grouped by check: the check id, then one line per target with its status, evidence and fix. */
export function renderDoctorTable(report: DoctorReport, term: Terminal = PLAIN): string {
  const c = colorsOf(term);
  const paint = (status: string, text: string) =>
    status === 'pass' ? c.green(text) : status === 'fail' ? c.red(c.bold(text)) : c.yellow(text);
  const groups = new Map<string, DoctorCheck[]>();
  for (const c of report.checks) groups.set(c.id, [...(groups.get(c.id) ?? []), c]);
  const lines: string[] = [];
  for (const [id, checks] of groups) {
    lines.push(c.bold(id));
    for (const k of checks) {
      lines.push(`  ${paint(k.status, k.status.toUpperCase().padEnd(8))}${k.target}`);
      lines.push(`          ${k.evidence}`);
      if (k.fix) lines.push(`          ${c.cyan('fix:')} ${k.fix}`);
    }
  }
  const count = (s: string) => report.checks.filter((x) => x.status === s).length;
  lines.push(
    `${plural(report.checks.length, 'check')}: ${count('pass')} pass, ${count('fail')} fail, ${count('unknown')} unknown`,
  );
  return lines.join('\n');
}

/** How many workload names a "no such workload" error lists before "and N more". */
const MAX_LISTED_WORKLOADS = 20;

/**
 * A `doctor pull` workload that names nothing in the snapshot is a typo, not a finding: a usage error (exit 2)
 * listing the workloads found and the closest name. An ambiguous name (two workloads) stays the check's to report.
 */
function checkWorkloadNamed(snapshot: Snapshot, workload: string, from: string): void {
  if (findWorkload(snapshot, workload).candidates.length > 0) return;
  const pullable = allWorkloads(snapshot).filter((w) => w.kind !== 'functionApp');
  const names = [...new Set(pullable.map((w) => w.resource.name))].sort();
  const hint = workload.startsWith('/')
    ? didYouMean(
        workload,
        pullable.map((w) => w.resource.id),
      )
    : didYouMean(workload, names);
  const listed =
    names.length === 0
      ? 'none'
      : names.slice(0, MAX_LISTED_WORKLOADS).join(', ') +
        (names.length > MAX_LISTED_WORKLOADS ? ` and ${names.length - MAX_LISTED_WORKLOADS} more` : '');
  throw new UsageError(
    `doctor pull: no Container App or container group ${JSON.stringify(workload)} in ${from}${hint}\n` +
      `workloads found: ${listed}; pass one of them by name or resource id`,
  );
}

/** Runs `doctor`; returns the exit code. */
export async function doctorCommand(
  argv: string[],
  io: Io,
  ctx: DoctorContext = { env: process.env },
): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parseCommandArgs(rest, {
    snapshot: { type: 'string' },
    scope: { type: 'string' },
    'audit-dir': { type: 'string' },
    'reach-registry': { type: 'boolean' },
    'plain-http': { type: 'boolean' },
    output: { type: 'string' },
    policy: { type: 'string' },
    'guard-principal-id': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (sub === undefined || sub === 'help' || sub === '--help' || sub === '-h' || values.help) {
    io.out(DOCTOR_USAGE);
    return sub === undefined ? ExitCodes.USAGE : ExitCodes.OK;
  }
  if (!['pull', 'identities', 'platform', 'snapshot'].includes(sub))
    throw new UsageError(
      `unknown doctor command ${JSON.stringify(sub)}${didYouMean(sub, ['pull', 'identities', 'platform', 'snapshot'])}\n${DOCTOR_USAGE}`,
    );
  const format = outputFormat(values.output);
  const scope = typeof values.scope === 'string' ? values.scope : undefined;
  const file = typeof values.snapshot === 'string' ? values.snapshot : undefined;
  if (sub === 'pull' && positionals.length !== 1)
    throw new UsageError(
      `doctor pull: expected one workload (a Container App or container group, by resource id or name), got ${positionals.length}\n${DOCTOR_USAGE}`,
    );
  if (sub !== 'pull' && positionals.length > 0)
    throw new UsageError(`doctor ${sub}: unexpected argument ${JSON.stringify(positionals[0])}`);
  if (sub === 'snapshot' && file) throw new UsageError('doctor snapshot: reads Azure (--scope), not a --snapshot file');
  if (!file && !scope)
    throw new UsageError(
      `doctor ${sub}: give --snapshot <file> or --scope /subscriptions/<id>[/resourceGroups/<name>]`,
    );

  let snapshot: Snapshot;
  try {
    if (file) snapshot = loadSnapshotFile(file);
    else {
      parseInventoryScope(scope as string);
      const doc = await inventoryOf(ctx).snapshot(scope as string);
      // Validated (duplicate ids included) before it is written: `doctor snapshot` never writes a file doctor refuses.
      snapshot = buildSnapshot(doc.resources);
      if (sub === 'snapshot') {
        io.out(JSON.stringify(doc, null, 1));
        return ExitCodes.OK;
      }
    }
  } catch (err) {
    if (
      isGuardError(
        err,
        'INVALID_INPUT',
        'SNAPSHOT_TOO_LARGE',
        'SNAPSHOT_TOO_DEEP',
        'SNAPSHOT_TOO_MANY_VALUES',
        'SNAPSHOT_TOO_MANY_RESOURCES',
        'SNAPSHOT_DUPLICATE_ID',
      )
    )
      throw new UsageError(`${err.message} [${err.code}]`);
    throw err;
  }
  // With a snapshot file, --scope narrows what identities and platform look at; live, it already did.
  const narrow = file ? scope : undefined;
  let report: DoctorReport;
  if (sub === 'pull') {
    checkWorkloadNamed(snapshot, positionals[0], file ?? (scope as string));
    report = await runDoctorPull(snapshot, positionals[0], {
      audit: auditOf(values, ctx),
      presence: presenceOf(values, ctx),
    });
  } else if (sub === 'identities') report = diagnoseIdentities({ snapshot, scope: narrow });
  else if (sub === 'platform') report = diagnosePlatform({ snapshot, scope: narrow, road: roadOption(values) });
  else throw new GuardError(ErrorCodes.INVALID_INPUT, 'unreachable');
  const subject = sub === 'pull' ? positionals[0] : (scope ?? file ?? '');
  io.out(
    format === 'json'
      ? JSON.stringify(doctorResult(sub, subject, report), null, 2)
      : renderDoctorTable(report, io.term),
  );
  return allPassed(report) ? ExitCodes.OK : ExitCodes.BLOCKED;
}

/**
 * The `doctor` envelope: its checks as result checks (`id` → name, `evidence` → reason, `unknown` → inconclusive,
 * `fix` only when not passing); pass only when every check passes and there is at least one (else fail, 3).
 */
export function doctorResult(sub: string, subject: string, report: DoctorReport): Result {
  const checks = report.checks.map(checkOfDoctor);
  const pass = allPassed(report);
  const counts = countChecks(checks);
  return resultOf({
    kind: 'DoctorResult',
    subject,
    outcome: pass ? 'pass' : 'fail',
    summary:
      checks.length === 0
        ? 'nothing was checked (zero checks is inconclusive)'
        : `${plural(checks.length, 'check')}: ${counts.pass} pass, ${counts.fail} fail, ${counts.inconclusive} inconclusive`,
    checks,
    data: { command: sub },
  });
}
