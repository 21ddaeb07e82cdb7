/**
 * CLI argument handling shared by the commands: exit codes, usage errors, output selection.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { readBoundedTextSync } from '../adapters/boundedFile';
import type { SignatureTrust } from '../adapters/signatureVerifier';
import { loadSignatureTrust } from '../adapters/trustStoreFiles';
import { MAX_POLICY_BYTES } from '../core/policy';
import { fieldOfMessage } from '../core/result';

/** Documented exit codes. */
export const ExitCodes = {
  /** Pass: released / verified / deployed / plan carried out (docs/cli.md has the one table). */
  OK: 0,
  /** Runtime error (registry unreachable, unexpected failure). */
  RUNTIME: 1,
  /** Usage or configuration error (bad argument, bad policy, registry not allowed). */
  USAGE: 2,
  /** Fail: blocked, refused, not verified, a doctor check failed or inconclusive, runtime not all released, purge held. */
  BLOCKED: 3,
} as const;

/**
 * Raised for usage and configuration errors; `main` prints the message and exits with 2. `field` is the option or
 * path that was wrong (from the message's leading `--flag:` or `path:` when not given); `code` is the GuardError
 * code the message ends with (`… [INVALID_POLICY]`) when it wraps one, else `INVALID_INPUT` with a field or `USAGE`.
 */
export class UsageError extends Error {
  readonly field?: string;
  readonly code: string;

  constructor(message: string, options: { field?: string; code?: string } = {}) {
    super(message);
    this.name = 'UsageError';
    this.field = options.field ?? fieldOfMessage(message);
    const wrapped = /\[([A-Z][A-Z0-9_]+)\]\s*$/.exec(message.split('\n')[0]);
    this.code = options.code ?? wrapped?.[1] ?? (this.field ? 'INVALID_INPUT' : 'USAGE');
  }
}

/** Parses `argv` strictly (unknown options are usage errors that name the option). */
export function parseCommandArgs<T extends NonNullable<ParseArgsConfig['options']>>(
  argv: string[],
  options: T,
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    return { values: parsed.values as Record<string, string | boolean | undefined>, positionals: parsed.positionals };
  } catch (err) {
    const message = (err as Error).message;
    throw new UsageError(message, { field: /'(--?[A-Za-z][\w-]*)/.exec(message)?.[1] });
  }
}

/** Reads `--output`: `table` (default) or `json`. */
export function outputFormat(value: string | boolean | undefined): 'table' | 'json' {
  if (value === undefined || value === 'table') return 'table';
  if (value === 'json') return 'json';
  throw new UsageError(`--output: expected "json" or "table", got ${JSON.stringify(value)}`);
}

/** Reads `--policy` through the bounded reader: at most {@link MAX_POLICY_BYTES} are read, before parsing. */
export function readPolicyFile(path: string): string {
  return readBoundedTextSync(path, { maxBytes: MAX_POLICY_BYTES, field: '--policy', what: 'policy file' });
}

/** The options `--trust-policy <file> --trust-store <dir>` (both or neither), loaded; undefined when absent. */
export async function signatureTrustOption(values: {
  'trust-policy'?: string | boolean;
  'trust-store'?: string | boolean;
}): Promise<SignatureTrust | undefined> {
  const trustPolicy = values['trust-policy'];
  const trustStore = values['trust-store'];
  if ((typeof trustPolicy === 'string') !== (typeof trustStore === 'string'))
    throw new UsageError('--trust-policy and --trust-store go together');
  return typeof trustPolicy === 'string' && typeof trustStore === 'string'
    ? loadSignatureTrust(trustPolicy, trustStore, { policy: '--trust-policy', store: '--trust-store' })
    : undefined;
}
