/**
 * CLI argument handling shared by the commands: exit codes, usage errors, output selection.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { readBoundedTextSync } from '../adapters/boundedFile';
import type { SignatureTrust } from '../adapters/signatureVerifier';
import { loadSignatureTrust } from '../adapters/trustStoreFiles';
import { MAX_POLICY_BYTES } from '../core/policy';
import { didYouMean } from './suggest';
import { fieldOfMessage } from '../core/result';
import { ErrorCodes, isErrorCode, type ErrorCode } from '../core/errors';

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
 * code the message ends with (`… [INVALID_POLICY]`) when it wraps one of ours, else `INVALID_INPUT` with a field or
 * `USAGE`.
 */
export class UsageError extends Error {
  readonly field?: string;
  readonly code: ErrorCode;

  constructor(message: string, options: { field?: string; code?: ErrorCode } = {}) {
    super(message);
    this.name = 'UsageError';
    this.field = options.field ?? fieldOfMessage(message);
    const wrapped = /\[([A-Z][A-Z0-9_]+)\]\s*$/.exec(message.split('\n')[0])?.[1];
    this.code =
      options.code ?? (isErrorCode(wrapped) ? wrapped : this.field ? ErrorCodes.INVALID_INPUT : ErrorCodes.USAGE);
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
    const node = err as Error & { code?: string };
    throw new UsageError(argsErrorMessage(node, argv, options), {
      field: /'(--?[A-Za-z][\w-]*)/.exec(node.message)?.[1],
    });
  }
}

/** The option names a command takes, as typed: `--name` and `-x`. */
function optionSpellings(options: NonNullable<ParseArgsConfig['options']>): string[] {
  return Object.entries(options).flatMap(([name, o]) => [`--${name}`, ...(o.short ? [`-${o.short}`] : [])]);
}

/**
 * node's parseArgs errors, said for a person: an unknown option with the closest known one ("did you mean
 * --policy?") and the list otherwise; a missing value with the expected form. Keyed on the error codes.
 */
function argsErrorMessage(
  err: Error & { code?: string },
  argv: string[],
  options: NonNullable<ParseArgsConfig['options']>,
): string {
  const known = optionSpellings(options);
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    // The first option-looking argument (before `--`) that is not one of ours: parseArgs stops at that one.
    const end = argv.indexOf('--');
    const typed = (end < 0 ? argv : argv.slice(0, end))
      .filter((a) => a.startsWith('-') && a !== '-')
      .map((a) => (a.startsWith('--') ? a.split('=')[0] : a.slice(0, 2)))
      .find((a) => !known.includes(a));
    if (typed !== undefined) {
      const hint = didYouMean(
        typed,
        known.filter((k) => k.startsWith('--')),
      );
      const list = hint ? '' : ` (options: ${known.filter((k) => k.startsWith('--')).join(', ')})`;
      return `unknown option ${typed}${hint}${list}; --help lists them`;
    }
  }
  if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const name = Object.keys(options).find((n) => err.message.includes(`--${n}`));
    if (name !== undefined)
      return options[name].type === 'string'
        ? `--${name} expects a value: --${name} <value>`
        : `--${name} is a switch and takes no value`;
  }
  return err.message;
}

/** Reads `--output`: `table` (default) or `json`. */
export function outputFormat(value: string | boolean | undefined): 'table' | 'json' {
  if (value === undefined || value === 'table') return 'table';
  if (value === 'json') return 'json';
  throw new UsageError(`--output: expected "json" or "table", got ${JSON.stringify(value)}`);
}

/**
 * True when `argv` asks for JSON (`--output json` or `--output=json`), read before the command parses it: an error
 * raised while parsing (or anywhere after) is then printed as the JSON envelope on stdout too.
 */
export function wantsJson(argv: readonly string[]): boolean {
  return argv.some((a, i) => a === '--output=json' || (a === '--output' && argv[i + 1] === 'json'));
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
