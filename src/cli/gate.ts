/**
 * `acr-guard gate <registry>/<repo>(:<tag>|@<digest>) --policy <file> [--plain-http] [--output json|table|sarif] [--dry-run]`
 *
 * Runs the same orchestration, decision and apply code as the Functions app, in-process.
 * Exit 0 released, 3 blocked, 2 usage or configuration error, 1 runtime error.
 */
import { DefaultAzureCredential } from '@azure/identity';
import { parseImageReference, formatImage } from '../core/reference';
import { loadPolicy } from '../core/policy';
import { isRegistryAllowed } from '../core/policyLookup';
import { parseDuration } from '../core/duration';
import { ErrorCodes, isGuardError } from '../core/errors';
import { isAcrHost } from '../core/acrHost';
import type { Policy } from '../core/policyTypes';
import type { ImageId } from '../core/types';
import { FileAuditStore, MemoryAuditStore } from '../adapters/auditStore';
import { composeGateServices } from '../app/compose';
import { runGateLocally } from '../local/orchestrationHost';
import type { GateOutcome, GateProgress } from '../orchestrations/imageGate';
import { ExitCodes, UsageError, outputFormat, parseCommandArgs, readPolicyFile, signatureTrustOption } from './args';
import { isLoopbackHost } from '../core/loopback';
import { renderVerdictTable } from './render';
import type { Terminal } from './term';
import { gateResult, notGatedResult } from './results';
import { noVerdictSarif, verdictSarif } from './sarif';

/** The tool version SARIF logs name (package.json `version`, kept in step by the release). */
export const ACR_GUARD_VERSION = '0.1.0';
import { pemFileSigner } from '../adapters/attestationSigner';
import { DEFAULT_VERIFIER_ID } from '../app/config';

export const GATE_USAGE = `usage: acr-guard gate <registry>/<repository>(:<tag>|@<digest>) --policy <file>
                       [--plain-http] [--output json|table|sarif] [--dry-run] [--audit-dir <dir>]
                       [--scan-deadline <duration>] [--trust-policy <file> --trust-store <dir>]
                       [--attestation-key <key.pem>]
  Gates one image: collects findings, verifies signatures, decides against the policy, applies the verdict.
  --plain-http         talk http to a loopback registry (127.0.0.0/8, localhost, [::1] only)
  --output sarif       a SARIF 2.1.0 log of the verdict's findings (GitHub code scanning, Azure DevOps)
  --dry-run            decide without applying (no quarantine change, no promotion)
  --audit-dir <dir>    append the verdict to JSON-lines files in <dir> (default: not recorded)
  --scan-deadline <d>  override the policy's wait for pending scan results (e.g. 0s, 5m)
  --trust-policy <f>, --trust-store <d>  notation trustpolicy.json and trust store for signature checks
                       (without them signatures are inconclusive)
  --attestation-key <f> ECDSA P-256 private key (PEM) that signs the verdict (SLSA VSA) attached to the image
  exit codes: 0 released, 3 blocked, 2 usage or configuration error, 1 runtime error`;

/**
 * Prints an image that was not gated (ignored, or its tag not in the registry) as the JSON envelope, a SARIF log
 * or a line on stderr (`textSuffix` after the reason); returns blocked: nothing was released.
 */
function printNotGated(
  io: { out: (s: string) => void; err: (s: string) => void },
  format: 'json' | 'sarif' | 'table',
  notGated: Parameters<typeof notGatedResult>[0],
  textSuffix = '',
): number {
  const { subject, status, reason } = notGated;
  if (format === 'json') io.out(JSON.stringify(notGatedResult(notGated), null, 2));
  else if (format === 'sarif')
    io.out(JSON.stringify(noVerdictSarif(subject, status, reason, ACR_GUARD_VERSION), null, 2));
  else io.err(`${subject}: ${status}: ${reason}${textSuffix}`);
  return ExitCodes.BLOCKED;
}

/** Runs the `gate` command; returns the exit code. */
export async function gateCommand(
  argv: string[],
  io: { out: (s: string) => void; err: (s: string) => void; term?: Terminal },
): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, {
    policy: { type: 'string' },
    'plain-http': { type: 'boolean' },
    output: { type: 'string' },
    'dry-run': { type: 'boolean' },
    'audit-dir': { type: 'string' },
    'scan-deadline': { type: 'string' },
    'trust-policy': { type: 'string' },
    'trust-store': { type: 'string' },
    'attestation-key': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    io.out(GATE_USAGE);
    return ExitCodes.OK;
  }
  if (positionals.length !== 1)
    throw new UsageError(`expected exactly one image reference, got ${positionals.length}\n${GATE_USAGE}`);
  if (typeof values.policy !== 'string') throw new UsageError(`--policy <file> is required\n${GATE_USAGE}`);
  // `sarif` is the gate's own: the other commands print no findings.
  if (values.output !== undefined && !['json', 'table', 'sarif'].includes(String(values.output)))
    throw new UsageError(`--output: expected "json", "table" or "sarif", got ${JSON.stringify(values.output)}`);
  const format = values.output === 'sarif' ? 'sarif' : outputFormat(values.output);
  const ref = parseImageReference(positionals[0], { field: 'image' });
  let policy: Policy = loadPolicy(readPolicyFile(values.policy), values.policy);
  if (typeof values['scan-deadline'] === 'string')
    policy = withScanDeadline(policy, parseDuration(values['scan-deadline'], '--scan-deadline'));
  if (!isRegistryAllowed(policy, ref.registry)) {
    throw new UsageError(
      `registry ${ref.registry} is not in the policy's registries allowlist (${values.policy}); no request was made`,
    );
  }
  const plainHttp = values['plain-http'] === true;
  if (plainHttp && !isLoopbackHost(ref.registry)) {
    throw new UsageError(
      `--plain-http is allowed only for loopback registries (127.0.0.0/8, localhost, [::1]), not ${ref.registry}`,
    );
  }
  const credential = isAcrHost(ref.registry) ? new DefaultAzureCredential() : undefined;
  const audit =
    typeof values['audit-dir'] === 'string' ? new FileAuditStore(values['audit-dir']) : new MemoryAuditStore();
  const signatureTrust = await signatureTrustOption(values);
  const services = composeGateServices({
    policy: () => policy,
    credential,
    plainHttpHosts: plainHttp ? [ref.registry] : [],
    audit,
    signatureTrust,
    ...(typeof values['attestation-key'] === 'string'
      ? {
          attestation: {
            signer: pemFileSigner(values['attestation-key'], '--attestation-key'),
            verifierId: DEFAULT_VERIFIER_ID,
            policyUri: `file:${values.policy}`,
          },
        }
      : {}),
  });
  // Act on digests, never tags: a tag is resolved once, here, and the gate works on the digest.
  let digest: string;
  try {
    digest = ref.digest ?? (await services.registry(ref.registry).resolveTag(ref.repository, ref.tag as string));
  } catch (err) {
    // A tag that is not there cannot be gated, like a digest that is not there: blocked (3), not a runtime error.
    if (!isGuardError(err, 'NOT_FOUND')) throw err;
    const named = `${ref.registry}/${ref.repository}:${ref.tag}`;
    const reason = `tag ${ref.tag} is not in ${ref.registry}/${ref.repository} (${err.message})`;
    return printNotGated(
      io,
      format,
      {
        subject: named,
        status: 'not-found',
        reason,
        checks: [{ name: 'manifest', status: 'fail', reason }],
        errors: [{ code: ErrorCodes.IMAGE_NOT_FOUND, message: `${named}: ${reason}`, field: 'image' }],
      },
      '; nothing was released',
    );
  }
  const image: ImageId = { registry: ref.registry, repository: ref.repository, digest };
  const deadlineFrom =
    typeof values['scan-deadline'] === 'string'
      ? `--scan-deadline ${values['scan-deadline']}`
      : `the policy's scanDeadline (${values.policy})`;
  const outcome: GateOutcome = await runGateLocally({
    image,
    tag: ref.tag,
    trigger: 'cli',
    dryRun: values['dry-run'] === true,
    services,
    timers: 'real',
    // Waiting for scans can take the whole scan deadline (30 minutes by default): say so on every poll, as
    // plain lines on stderr (readable on a terminal and in CI logs alike; stdout stays the verdict).
    onProgress: (p) => {
      if (p.step === 'waiting-for-scan') io.err(waitingLine(image, p, deadlineFrom));
    },
  });

  // An ignored image (e.g. a signature artifact) was not released: not a pass.
  if (outcome.status !== 'decided')
    return printNotGated(io, format, { subject: formatImage(image), status: outcome.status, reason: outcome.reason });
  if (format === 'json') io.out(JSON.stringify(gateResult(outcome.verdict, outcome.apply), null, 2));
  else if (format === 'sarif') io.out(JSON.stringify(verdictSarif(outcome.verdict, ACR_GUARD_VERSION), null, 2));
  else
    io.out(renderVerdictTable([{ verdict: outcome.verdict, apply: outcome.apply }], { details: true, term: io.term }));
  return outcome.verdict.decision === 'release' ? ExitCodes.OK : ExitCodes.BLOCKED;
}

/** One stderr line per poll while the gate waits for scan results: what, until when, and how to shorten it. */
export function waitingLine(
  image: ImageId,
  p: Extract<GateProgress, { step: 'waiting-for-scan' }>,
  deadlineFrom: string,
): string {
  const pending = p.waitingFor
    .map((w) => `${w.source} for ${w.digest}${w.platform ? ` (${w.platform})` : ''}`)
    .join(', ');
  return (
    `acr-guard gate: waiting for scan results of ${formatImage(image)}: pending ${pending}; next check ${p.until}; ` +
    `deadline ${p.deadline} (${deadlineFrom}), after which pending sources block the image. ` +
    'Shorten the wait with --scan-deadline <duration> (e.g. --scan-deadline 0s to decide now).'
  );
}

/** A copy of the policy with every gate rule's scan deadline replaced (the CLI's `--scan-deadline`). */
function withScanDeadline(policy: Policy, deadlineMs: number): Policy {
  return {
    ...policy,
    gate: policy.gate.map((rule) => ({
      ...rule,
      vulnerabilities: { ...rule.vulnerabilities, scanDeadlineMs: deadlineMs },
    })),
  };
}

/** True for errors that are the caller's to fix (exit 2). */
export function isUsageError(err: unknown): boolean {
  return (
    err instanceof UsageError ||
    isGuardError(err, 'INVALID_INPUT', 'INVALID_POLICY', 'INVALID_CONFIG', 'REGISTRY_NOT_ALLOWED', 'FILE_TOO_LARGE')
  );
}
