/**
 * `acr-guard verify <registry>/<repo>(:<tag>|@<digest>) --trust-policy <file> --trust-store <dir>
 *  [--policy-name <name>] [--plain-http] [--output json|table]`
 *
 * Verifies an image's signatures in-process with the gate's verifier, using notation's trust policy and
 * trust store formats. Exit 0 verified, 3 not verified, 2 usage or configuration error, 1 runtime error.
 */
import { DefaultAzureCredential } from '@azure/identity';
import { formatImage, parseImageReference } from '../core/reference';
import { isAcrHost } from '../core/acrHost';
import type { ImageId, SignatureResult } from '../core/types';
import { createRegistryClient } from '../adapters/registry';
import { createSignatureVerifier } from '../adapters/signatureVerifier';
import { loadSignatureTrust } from '../adapters/trustStoreFiles';
import { isLoopbackHost } from '../core/loopback';
import { createPublicKey } from 'node:crypto';
import { MAX_KEY_FILE_BYTES } from '../adapters/attestationSigner';
import { readBoundedTextSync } from '../adapters/boundedFile';
import { checkVsaInRegistry } from '../adapters/vsaSource';
import { loadPolicy } from '../core/policy';
import { ExitCodes, UsageError, outputFormat, parseCommandArgs, readPolicyFile } from './args';
import { verifyResult, vsaVerifyResult } from './results';

export const VERIFY_USAGE = `usage: acr-guard verify <registry>/<repository>(:<tag>|@<digest>) --trust-policy <file> --trust-store <dir>
                         [--policy-name <name>] [--plain-http] [--output json|table]
       acr-guard verify <registry>/<repository>(:<tag>|@<digest>) --attestation-key <pub.pem> [--policy <file>]
                         [--verifier-id <uri>] [--plain-http] [--output json|table]
  Verifies the image's Notary Project and cosign signatures in-process against a notation trust policy
  (trustpolicy.json) and trust store directory (x509/ca/<name>/..., cosign/<name>/*.pub).
  With --attestation-key: checks acr-guard's signed verdict (SLSA VSA) attached to the image instead, from
  the registry alone: signed by that public key, naming this digest, verificationResult PASSED, and (with
  --policy) the hash of that policy file, i.e. decided under the current policy.
  --policy-name <name> use this trust policy instead of the one whose registryScopes match the image
  --plain-http         talk http to a loopback registry (127.0.0.0/8, localhost, [::1] only)
  exit codes: 0 verified, 3 not verified, 2 usage or configuration error, 1 runtime error`;

/** Runs the `verify` command; returns the exit code. */
export async function verifyCommand(
  argv: string[],
  io: { out: (s: string) => void; err: (s: string) => void },
  now?: () => Date,
): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, {
    'trust-policy': { type: 'string' },
    'trust-store': { type: 'string' },
    'policy-name': { type: 'string' },
    'plain-http': { type: 'boolean' },
    'attestation-key': { type: 'string' },
    policy: { type: 'string' },
    'verifier-id': { type: 'string' },
    output: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    io.out(VERIFY_USAGE);
    return ExitCodes.OK;
  }
  if (positionals.length !== 1)
    throw new UsageError(`expected exactly one image reference, got ${positionals.length}\n${VERIFY_USAGE}`);
  if (values['attestation-key'] !== undefined) return verifyAttestation(values, positionals[0], io);
  if (values.policy !== undefined || values['verifier-id'] !== undefined)
    throw new UsageError(`--policy and --verifier-id go with --attestation-key\n${VERIFY_USAGE}`);
  if (typeof values['trust-policy'] !== 'string')
    throw new UsageError(`--trust-policy <file> is required\n${VERIFY_USAGE}`);
  if (typeof values['trust-store'] !== 'string')
    throw new UsageError(`--trust-store <dir> is required\n${VERIFY_USAGE}`);
  const format = outputFormat(values.output);
  const ref = parseImageReference(positionals[0], { field: 'image' });
  const plainHttp = values['plain-http'] === true;
  if (plainHttp && !isLoopbackHost(ref.registry))
    throw new UsageError(
      `--plain-http is allowed only for loopback registries (127.0.0.0/8, localhost, [::1]), not ${ref.registry}`,
    );
  const trust = await loadSignatureTrust(values['trust-policy'], values['trust-store'], {
    policy: '--trust-policy',
    store: '--trust-store',
  });
  const client = createRegistryClient({
    host: ref.registry,
    plainHttp,
    credential: isAcrHost(ref.registry) ? new DefaultAzureCredential() : undefined,
    userAgent: 'acr-guard/0.1',
  });
  // Act on digests, never tags: a tag is resolved once, here.
  const manifest = await client.getManifest(ref.repository, ref.digest ?? (ref.tag as string));
  const image: ImageId = { registry: ref.registry, repository: ref.repository, digest: manifest.digest };
  const verify = createSignatureVerifier({ registry: () => client, trust, now });
  const policyName = typeof values['policy-name'] === 'string' ? values['policy-name'] : undefined;
  const result = await verify({ image, manifest, trustPolicy: policyName });
  if (format === 'json') io.out(JSON.stringify(verifyResult(image, result), null, 2));
  else io.out(renderSignatureResult(image, result));
  return result.status === 'verified' ? ExitCodes.OK : ExitCodes.BLOCKED;
}

/** `verify --attestation-key`: the VSA check, from the registry alone (exit 0 PASSED and current, 3 otherwise). */
async function verifyAttestation(
  values: Record<string, string | boolean | undefined>,
  reference: string,
  io: { out: (s: string) => void; err: (s: string) => void },
): Promise<number> {
  if (typeof values['attestation-key'] !== 'string')
    throw new UsageError(`--attestation-key <pub.pem> needs a file\n${VERIFY_USAGE}`);
  if (values['trust-policy'] !== undefined || values['trust-store'] !== undefined)
    throw new UsageError(`--attestation-key replaces --trust-policy/--trust-store; give one or the other`);
  const format = outputFormat(values.output);
  const ref = parseImageReference(reference, { field: 'image' });
  const plainHttp = values['plain-http'] === true;
  if (plainHttp && !isLoopbackHost(ref.registry))
    throw new UsageError(
      `--plain-http is allowed only for loopback registries (127.0.0.0/8, localhost, [::1]), not ${ref.registry}`,
    );
  const publicKey = readBoundedTextSync(values['attestation-key'], {
    maxBytes: MAX_KEY_FILE_BYTES,
    field: '--attestation-key',
    what: 'public key',
  });
  try {
    createPublicKey(publicKey);
  } catch {
    throw new UsageError(`--attestation-key: ${values['attestation-key']} is not a PEM public key (BEGIN PUBLIC KEY)`);
  }
  const policyHash =
    typeof values.policy === 'string' ? loadPolicy(readPolicyFile(values.policy), values.policy).hash : undefined;
  const client = createRegistryClient({
    host: ref.registry,
    plainHttp,
    credential: isAcrHost(ref.registry) ? new DefaultAzureCredential() : undefined,
    userAgent: 'acr-guard/0.1',
  });
  const digest = ref.digest ?? (await client.resolveTag(ref.repository, ref.tag as string));
  const image: ImageId = { registry: ref.registry, repository: ref.repository, digest };
  const result = await checkVsaInRegistry(client, ref.repository, {
    digest,
    publicKey,
    ...(policyHash ? { policyHash } : {}),
    ...(typeof values['verifier-id'] === 'string' ? { verifierId: values['verifier-id'] } : {}),
  });
  if (format === 'json') io.out(JSON.stringify(vsaVerifyResult(image, result), null, 2));
  else
    io.out(
      result.ok
        ? `${formatImage(image)}: VSA verified: ${result.statement.predicate.verificationResult} by ${result.statement.predicate.verifier.id} at ${result.statement.predicate.timeVerified} (policy ${result.statement.predicate.policy.digest.sha256.slice(0, 12)}…)`
        : `${formatImage(image)}: VSA not verified: ${result.reason}`,
    );
  return result.ok ? ExitCodes.OK : ExitCodes.BLOCKED;
}

/** Human-readable result: the overall line, then each signature's checks. */
export function renderSignatureResult(image: ImageId, result: SignatureResult): string {
  const lines = [`${formatImage(image)}: signatures ${result.status}: ${result.reason}`];
  for (const sig of result.signatures) {
    lines.push(`  ${sig.kind ?? 'signature'} ${sig.digest}: ${sig.outcome ?? ''}`);
    for (const c of sig.checks) lines.push(`    ${c.status.padEnd(12)} ${c.name.padEnd(18)} ${c.reason}`);
  }
  return lines.join('\n');
}
