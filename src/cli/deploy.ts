/**
 * `acr-guard deploy <image> --target <ARM id> --policy <file> [--container <name>] [--dry-run] [--output json]
 *  [--plain-http] [--audit-dir <dir> | --audit-table <url> | --attestation-key <pub.pem>] [--timeout <duration>]
 *  [--trust-policy <file> --trust-store <dir>]`
 *
 * The one command a pipeline runs instead of `az containerapp update`: deploys a digest only with a `release`
 * verdict under the current policy, pinned by digest (from the release repository in promote mode), to one
 * container of a Container App (new revision), a Container Apps job (template) or a container group, and waits
 * until it runs or fails. Exit 0 deployed (or, with --dry-run, would deploy), 3 refused (nothing changed),
 * 2 usage or configuration error, 1 runtime error — including a deploy that was sent and then failed or did not
 * run within --timeout (something did change: see the JSON's `rollout`).
 */
import { createPublicKey } from 'node:crypto';
import { DefaultAzureCredential } from '@azure/identity';
import { isAcrHost } from '../core/acrHost';
import { parseDuration, formatDuration } from '../core/duration';
import { ErrorCodes, GuardError, isGuardError } from '../core/errors';
import { parseInUseScope } from '../core/inUseScopes';
import { isLoopbackHost } from '../core/loopback';
import { loadPolicy } from '../core/policy';
import { parseImageReference } from '../core/reference';
import { MAX_KEY_FILE_BYTES } from '../adapters/attestationSigner';
import { DEFAULT_AUDIT_TABLE, FileAuditStore, MemoryAuditStore } from '../adapters/auditStore';
import { readBoundedTextSync } from '../adapters/boundedFile';
import { createSignatureVerifier } from '../adapters/signatureVerifier';
import { ArmWorkloadDeployer, type WorkloadDeployer, type WorkloadTarget } from '../adapters/workloadDeployer';
import type { AuditStore, ReleaseEvidenceSource } from '../adapters/ports';
import { auditStoreFor, composeGateServices } from '../app/compose';
import {
  auditStoreEvidence,
  carryOutDeployment,
  decideDeployment,
  DeployUsageError,
  type DeployOutcome,
  vsaEvidence,
  type Deployment,
} from '../jobs/deploy';
import { ExitCodes, UsageError, outputFormat, parseCommandArgs, readPolicyFile, signatureTrustOption } from './args';
import { resultOf, type Result, type ResultCheck } from '../core/result';
import { renderChecks } from './render';
import { PLAIN, colorsOf, type Terminal } from './term';

export const DEPLOY_USAGE = `usage: acr-guard deploy <registry>/<repository>(:<tag>|@<digest>) --policy <file>
                         (--target <ARM id> | --dry-run) [--container <name>] [--timeout <duration>]
                         [--audit-dir <dir> | --audit-table <url> | --attestation-key <pub.pem>] [--plain-http]
                         [--trust-policy <file> --trust-store <dir>]
                         [--output json|table]
  Deploys an image only if the gate released its digest under the current policy: pinned by digest (from
  the release repository in promote mode), to one container of a Container App (new revision), a Container
  Apps job (template) or a container group, then waits until it runs or fails (progress on stderr).
  --target <id>        /subscriptions/<s>/resourceGroups/<rg>/providers/Microsoft.App/containerApps/<name>,
                       …/Microsoft.App/jobs/<name> or …/Microsoft.ContainerInstance/containerGroups/<name>
  --container <name>   the container to update (required when the target has several)
  --dry-run            decide and print what would be deployed; no ARM request (--target optional)
  --timeout <d>        how long to wait for the revision / group to run (default 10m)
  --audit-dir <dir>    the verdicts \`acr-guard gate --audit-dir\` recorded there (without it none: refused)
  --audit-table <url>  or: the Functions app's verdict table (https://<account>.table.core.windows.net; table
                       AcrGuardVerdicts), read with DefaultAzureCredential ("Storage Table Data Reader")
  --attestation-key <pub.pem>  or: no verdict store, the registry alone: acr-guard's signed verdict (SLSA VSA)
                       on the digest (in the release repository in promote mode), signed by this public key,
                       PASSED, under the current policy's hash, verified within runtime.regateAfter. A VSA names
                       the digest, not the tag: by tag, whether the tag moved after its gate is not checked
  --trust-policy <f>, --trust-store <d>  verify signatures now where the policy requires them
  --plain-http         talk http to a loopback registry (127.0.0.0/8, localhost, [::1] only)
  exit codes: 0 deployed (or would deploy), 3 refused (nothing changed), 2 usage or configuration error,
              1 runtime error (also: sent, then failed or timed out)`;

/** Default `--timeout`. */
export const DEPLOY_DEFAULT_TIMEOUT_MS = 10 * 60_000;

/** What the command needs from outside (tests pass their own). */
export interface DeployIo {
  out: (s: string) => void;
  err: (s: string) => void;
  /** The ARM side; default the real SDKs against management.azure.com with `DefaultAzureCredential`. */
  deployer?: WorkloadDeployer;
  /** Where verdicts come from; default the audit store in `--audit-dir`. */
  evidence?: ReleaseEvidenceSource;
  /** Epoch ms "now"; default the clock. */
  now?: () => number;
  /** Colour and width of stdout (default: piped). */
  term?: Terminal;
}

/** Parses `--target` into a Container App, job or container group id. */
export function parseDeployTarget(text: string): WorkloadTarget {
  let scope;
  try {
    scope = parseInUseScope(text, '--target');
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (scope.kind === 'subscription' || scope.kind === 'resourceGroup')
    throw new UsageError(
      `--target: expected the ARM id of one Container App, Container Apps job or container group, got a ${scope.kind === 'subscription' ? 'subscription' : 'resource group'}`,
    );
  return scope;
}

/** The verdict store: `--audit-dir` (files), `--audit-table` (the app's Table; Azurite over loopback http), or none. */
function deployAuditStore(dir: string | boolean | undefined, table: string | boolean | undefined): AuditStore {
  if (typeof dir === 'string' && typeof table === 'string')
    throw new UsageError('--audit-dir and --audit-table: give one verdict store, not both');
  if (typeof dir === 'string') return new FileAuditStore(dir);
  if (typeof table !== 'string') return new MemoryAuditStore();
  let url: URL;
  try {
    url = new URL(table);
  } catch {
    throw new UsageError(
      `--audit-table: expected a Table service URL such as https://<account>.table.core.windows.net`,
    );
  }
  const azurite = url.protocol === 'http:' && isLoopbackHost(url.host);
  if ((url.protocol !== 'https:' && !azurite) || url.username || url.password || url.search || url.hash)
    throw new UsageError(
      '--audit-table: expected an https Table service URL without credentials, query or fragment (no SAS: the CLI signs in), or http to a loopback Azurite',
    );
  return auditStoreFor(
    {
      kind: 'table',
      endpoint: table.replace(/\/+$/, ''),
      tableName: DEFAULT_AUDIT_TABLE,
      devAccount: azurite,
      from: '--audit-table',
    },
    new DefaultAzureCredential(),
  );
}

/**
 * `--attestation-key`: the public key (PEM) the VSA must be signed with, read within bounds; exclusive with the
 * verdict stores (one source of release evidence). Undefined without the option.
 */
function deployAttestationKey(
  key: string | boolean | undefined,
  dir: string | boolean | undefined,
  table: string | boolean | undefined,
): string | undefined {
  if (key === undefined) return undefined;
  if (typeof key !== 'string') throw new UsageError(`--attestation-key <pub.pem> needs a file\n${DEPLOY_USAGE}`);
  if (dir !== undefined || table !== undefined)
    throw new UsageError(
      '--attestation-key and --audit-dir/--audit-table: give one source of release evidence (the signed verdict in the registry, or a verdict store), not both',
    );
  const pem = readBoundedTextSync(key, {
    maxBytes: MAX_KEY_FILE_BYTES,
    field: '--attestation-key',
    what: 'public key',
  });
  try {
    createPublicKey(pem);
  } catch {
    throw new UsageError(`--attestation-key: ${key} is not a PEM public key (BEGIN PUBLIC KEY)`);
  }
  if (/PRIVATE KEY/.test(pem))
    throw new UsageError(
      `--attestation-key: ${key} holds a private key; give the public key (openssl ec -in key.pem -pubout)`,
    );
  return pem;
}

/** Runs the `deploy` command; returns the exit code. */
export async function deployCommand(argv: string[], io: DeployIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, {
    policy: { type: 'string' },
    target: { type: 'string' },
    container: { type: 'string' },
    'dry-run': { type: 'boolean' },
    timeout: { type: 'string' },
    'audit-dir': { type: 'string' },
    'audit-table': { type: 'string' },
    'attestation-key': { type: 'string' },
    'plain-http': { type: 'boolean' },
    'trust-policy': { type: 'string' },
    'trust-store': { type: 'string' },
    output: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    io.out(DEPLOY_USAGE);
    return ExitCodes.OK;
  }
  if (positionals.length !== 1)
    throw new UsageError(`expected exactly one image reference, got ${positionals.length}\n${DEPLOY_USAGE}`);
  if (typeof values.policy !== 'string') throw new UsageError(`--policy <file> is required\n${DEPLOY_USAGE}`);
  const dryRun = values['dry-run'] === true;
  if (!dryRun && typeof values.target !== 'string')
    throw new UsageError(`--target <ARM id> is required (or --dry-run)\n${DEPLOY_USAGE}`);
  const target = typeof values.target === 'string' ? parseDeployTarget(values.target) : undefined;
  if (values.container !== undefined && !/^[a-z0-9][a-z0-9-]{0,62}$/i.test(String(values.container)))
    throw new UsageError(
      `--container: expected a container name (letters, digits, -), got ${JSON.stringify(values.container)}`,
    );
  const timeoutMs =
    typeof values.timeout === 'string' ? parseDuration(values.timeout, '--timeout') : DEPLOY_DEFAULT_TIMEOUT_MS;
  const format = outputFormat(values.output);
  const ref = parseImageReference(positionals[0], { field: 'image' });
  const policy = loadPolicy(readPolicyFile(values.policy), values.policy);
  const plainHttp = values['plain-http'] === true;
  if (plainHttp && !isLoopbackHost(ref.registry))
    throw new UsageError(
      `--plain-http is allowed only for loopback registries (127.0.0.0/8, localhost, [::1]), not ${ref.registry}`,
    );
  const attestationKey = deployAttestationKey(values['attestation-key'], values['audit-dir'], values['audit-table']);
  const audit = deployAuditStore(values['audit-dir'], values['audit-table']);
  const signatureTrust = await signatureTrustOption(values);
  const services = composeGateServices({
    policy: () => policy,
    credential: isAcrHost(ref.registry) ? new DefaultAzureCredential() : undefined,
    plainHttpHosts: plainHttp ? [ref.registry] : [],
    audit,
  });
  const nowMs = io.now?.() ?? Date.now();
  const verify = createSignatureVerifier({
    registry: services.registry,
    ...(signatureTrust ? { trust: signatureTrust } : {}),
    now: () => new Date(nowMs),
  });
  let decision: Deployment;
  try {
    decision = await decideDeployment({
      ref,
      policy,
      registry: services.registry,
      evidence:
        io.evidence ??
        (attestationKey !== undefined
          ? vsaEvidence({ registry: services.registry, publicKey: attestationKey, policy })
          : auditStoreEvidence(audit)),
      verify,
      nowMs,
    });
  } catch (err) {
    // An image that is not there cannot be deployed, named by tag or digest: refused (3), nothing changed.
    if (!isGuardError(err, ErrorCodes.NOT_FOUND)) throw err;
    const named = `${ref.registry}/${ref.repository}${ref.digest ? `@${ref.digest}` : `:${ref.tag}`}`;
    decision = {
      decision: 'refuse',
      refusal: 'not-found',
      image: named,
      digest: ref.digest ?? '',
      reason: `${named} is not in the registry (${err.message}); nothing was changed`,
    } as Deployment;
  }

  if (decision.decision === 'refuse' || dryRun) {
    print(io, format, decision, { dryRun, target });
    return decision.decision === 'deploy' ? ExitCodes.OK : ExitCodes.BLOCKED;
  }
  const deployer = io.deployer ?? new ArmWorkloadDeployer({ credential: new DefaultAzureCredential() });
  const started = Date.now();
  let outcome: DeployOutcome;
  try {
    outcome = await carryOutDeployment({
      deployer,
      target: target as WorkloadTarget,
      ...(typeof values.container === 'string' ? { container: values.container } : {}),
      image: decision.image,
      timeoutMs,
      onProgress: (line) => io.err(`acr-guard deploy: ${line}`),
    });
  } catch (err) {
    if (err instanceof DeployUsageError) throw new UsageError(err.message);
    if (isGuardError(err, ErrorCodes.NOT_FOUND))
      throw new GuardError(ErrorCodes.NOT_FOUND, `${(err as Error).message}; nothing was changed`);
    throw err;
  }
  print(io, format, decision, { dryRun, target, outcome, seconds: (Date.now() - started) / 1000 });
  if (outcome.rollout.status === 'running') return ExitCodes.OK;
  io.err(
    `acr-guard deploy: ${target?.id}: the new ${target?.kind === 'containerGroup' ? 'group' : 'revision'} failed (${outcome.rollout.detail}). ` +
      `The target now names ${decision.image}; it was ${outcome.previousImage}. Redeploy the previous image or fix the cause.`,
  );
  return ExitCodes.RUNTIME;
}

function print(
  io: DeployIo,
  format: 'json' | 'table',
  decision: Deployment,
  extra: { dryRun: boolean; target?: WorkloadTarget; outcome?: DeployOutcome; seconds?: number },
): void {
  if (format === 'json') {
    io.out(
      JSON.stringify(
        deployResult(decision, extra, {
          decision: decision.decision,
          image: decision.image,
          digest: decision.digest,
          verdict: decision.verdict ?? null,
          reason: decision.reason,
          ...(decision.refusal ? { refusal: decision.refusal } : {}),
          ...(decision.releaseRepository ? { releaseRepository: decision.releaseRepository } : {}),
          dryRun: extra.dryRun,
          ...(extra.target ? { target: extra.target.id } : {}),
          ...(extra.outcome
            ? {
                container: extra.outcome.container,
                previousImage: extra.outcome.previousImage,
                rollout: extra.outcome.rollout,
              }
            : {}),
        }),
        null,
        2,
      ),
    );
    return;
  }
  io.out(deployText(decision, extra, io.term ?? PLAIN));
}

/**
 * `deploy` for a person: the decision line (`REFUSED`, `WOULD DEPLOY`, `DEPLOYED` and the image by digest, which
 * scripts and docs/ci.md grep), the envelope's checks (release-evidence, and rollout once sent) as every command
 * prints checks, and once sent the container's previous image and how long the rollout took.
 */
export function deployText(
  decision: Deployment,
  extra: { dryRun: boolean; target?: WorkloadTarget; outcome?: DeployOutcome; seconds?: number },
  term: Terminal = PLAIN,
): string {
  const c = colorsOf(term);
  const word = (text: string, good: boolean): string => (good ? c.green(c.bold(text)) : c.red(c.bold(text)));
  const head =
    decision.decision === 'refuse'
      ? `${word('REFUSED', false)}  ${decision.image}`
      : extra.dryRun
        ? `${word('WOULD DEPLOY', true)}  ${decision.image}${extra.target ? ` to ${extra.target.id}` : ''}`
        : `${word('DEPLOYED', extra.outcome?.rollout.status === 'running')}  ${decision.image} to ${extra.target?.id}`;
  const lines = [head, renderChecks(deployResult(decision, extra, {}).checks, term)];
  if (extra.outcome)
    lines.push(
      `container ${extra.outcome.container}: was ${extra.outcome.previousImage}; rollout ${extra.outcome.rollout.status} ` +
        `after ${formatDuration(Math.round(extra.seconds ?? 0) * 1000)}`,
    );
  return lines.join('\n');
}

/**
 * The `deploy` envelope: `decision` deploy|refuse, a `release-evidence` check (and a `rollout` check once sent);
 * pass when deployed (or, dry, would deploy), fail when refused (3), error when sent and then failed (1).
 */
export function deployResult(
  decision: Deployment,
  extra: { dryRun: boolean; target?: WorkloadTarget; outcome?: DeployOutcome },
  data: Record<string, unknown>,
): Result {
  const checks: ResultCheck[] = [
    {
      name: 'release-evidence',
      target: decision.digest || undefined,
      status: decision.decision === 'deploy' ? 'pass' : 'fail',
      reason: decision.reason,
      ...(decision.refusal ? { details: { refusal: decision.refusal } } : {}),
    },
  ];
  const rollout = extra.outcome?.rollout;
  if (rollout && extra.outcome)
    checks.push({
      name: 'rollout',
      target: `${extra.target?.id ?? ''}#${extra.outcome.container}`,
      status: rollout.status === 'running' ? 'pass' : 'fail',
      reason: rollout.detail,
    });
  const failed = rollout !== undefined && rollout.status !== 'running';
  return resultOf({
    kind: 'DeployResult',
    subject: decision.image,
    outcome: decision.decision === 'refuse' ? 'fail' : failed ? 'error' : 'pass',
    decision: decision.decision,
    summary:
      decision.decision === 'refuse'
        ? `refused: ${decision.reason}`
        : failed
          ? `deployed ${decision.image}, then the rollout failed: ${rollout.detail}`
          : extra.dryRun
            ? `would deploy ${decision.image}${extra.target ? ` to ${extra.target.id}` : ''}`
            : `deployed ${decision.image} to ${extra.target?.id}`,
    checks,
    errors: failed
      ? [{ code: 'DEPLOY_FAILED', message: `${extra.target?.id}: ${rollout.detail}`, field: '--target' }]
      : [],
    errorKind: 'runtime',
    data,
  });
}
