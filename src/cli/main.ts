/**
 * acr-guard command line: `gate` (one image), `serve` (what `npm start` runs), `demo` (one shot), `verify` (signatures of one image),
 * `deploy` (a released image, pinned by digest, to a Container App, job or container group), and the rest below.
 */
import { ErrorCodes, isGuardError, messageOf } from '../core/errors';
import { ExitCodes, UsageError, wantsJson } from './args';
import { gateCommand, isUsageError, ACR_GUARD_VERSION, GATE_USAGE } from './gate';
import { didYouMean } from './suggest';
import { errorHint } from './hints';
import { terminalOf, type Terminal } from './term';
import { errorResultOf, type ResultKind } from '../core/result';
import { demoCommand, DEMO_USAGE } from './demo';
import { alertsCommand, tokensCommand, ALERTS_USAGE, TOKENS_USAGE } from './timers';
import { verifyCommand, VERIFY_USAGE } from './verify';
import { policyCommand, POLICY_USAGE } from './policy';
import { serveCommand, SERVE_USAGE } from './serve';
import { purgeCommand, PURGE_USAGE } from './purge';
import { doctorCommand, DOCTOR_USAGE } from './doctor';
import { runtimeCommand, RUNTIME_USAGE } from './runtime';
import { deployCommand, DEPLOY_USAGE } from './deploy';
import { DefaultAzureCredential } from '@azure/identity';
import { inUseConfig } from '../app/config';
import { inUseLookupFor } from '../app/compose';
import type { InUseLookup } from '../adapters/ports';
import { runtimeInventoryFor } from '../adapters/runtimeInventory';

const USAGE = `usage: acr-guard <command> [options]    acr-guard <command> --help    acr-guard --version
commands:
  gate   gate one image against a policy (exit 0 released, 3 blocked, 2 usage, 1 runtime error)
  serve  run the whole app locally: loopback registry, HTTP API, page, gates that survive restarts (npm start)
  demo   start a loopback registry, push sample images, gate each, print the verdicts (one shot)
  alerts list or run the KQL alert rules (Log Analytics)
  tokens rotate ACR token passwords into Key Vault
  verify verify an image's signatures against a notation trust policy and trust store (exit 0 verified, 3 not)
  policy check a policy file, or explain which rule applies to an image and why (no network)
  purge  apply the retention rules: plan (and unless --dry-run delete) with a reason per manifest
  doctor diagnose a failed image pull, over-privileged identities and the platform's controls (live or from a snapshot)
  runtime check every running image against the gate (exit 0 all released or allowed-external, 3 otherwise)
  deploy deploy a released image pinned by digest to a Container App, job or container group (exit 0 deployed, 3 refused)

${GATE_USAGE}

${SERVE_USAGE}

${DEMO_USAGE}

${ALERTS_USAGE}

${TOKENS_USAGE}

${VERIFY_USAGE}

${POLICY_USAGE}

${PURGE_USAGE}

${DOCTOR_USAGE}

${RUNTIME_USAGE}

${DEPLOY_USAGE}`;

/** Each command's own usage text, for `acr-guard help <command>`. */
const COMMAND_USAGE: Record<string, string> = {
  gate: GATE_USAGE,
  serve: SERVE_USAGE,
  demo: DEMO_USAGE,
  alerts: ALERTS_USAGE,
  tokens: TOKENS_USAGE,
  verify: VERIFY_USAGE,
  purge: PURGE_USAGE,
  doctor: DOCTOR_USAGE,
  runtime: RUNTIME_USAGE,
  deploy: DEPLOY_USAGE,
};

/** The command names, in the order the usage lists them. */
export const COMMANDS = Object.keys(COMMAND_USAGE);

/** Standard output and error; `term` says whether stdout takes colour and how wide it is (piped: neither). */
const defaultIo: { out: (s: string) => void; err: (s: string) => void; term?: Terminal } = {
  out: (s: string) => console.log(s),
  err: (s: string) => console.error(s),
  get term() {
    return terminalOf(process.stdout);
  },
};

/** Progress on a terminal: one stderr line rewritten in place. */
function ttyProgress(s: string): void {
  process.stderr.write(`\r\x1b[2K${s.slice(0, (process.stderr.columns || 80) - 1)}`);
}

/** The ARM in-use lookup when `ACR_GUARD_INUSE_SCOPES` is set (signed in with `DefaultAzureCredential`). */
function inUseFromEnvironment(env: NodeJS.ProcessEnv): InUseLookup | undefined {
  const settings = inUseConfig(env);
  return settings ? inUseLookupFor({ inUse: settings }, new DefaultAzureCredential()) : undefined;
}

/** The result kind of each command's `--output json` (docs/cli.md). */
const KIND_OF_COMMAND: Record<string, ResultKind> = {
  gate: 'GateResult',
  verify: 'VerifyResult',
  deploy: 'DeployResult',
  purge: 'PurgeResult',
  doctor: 'DoctorResult',
  runtime: 'RuntimeResult',
  alerts: 'AlertsResult',
  tokens: 'TokensResult',
  demo: 'DemoResult',
  policy: 'PolicyResult',
};

/** The first line(s) of an error message without the usage text some of them carry. */
function shortMessageOf(err: unknown): string {
  const text = messageOf(err);
  const cut = text.indexOf('\nusage:');
  return (cut >= 0 ? text.slice(0, cut) : text).trim() || 'error';
}

/** Prints an error as the `--output json` envelope on stdout (the human line still goes to stderr). */
function printErrorResult(
  io: { out: (s: string) => void },
  command: string | undefined,
  err: unknown,
  errorKind: 'usage' | 'runtime',
): void {
  const field = err instanceof UsageError || isGuardError(err) ? err.field : undefined;
  const code =
    err instanceof UsageError || isGuardError(err)
      ? err.code
      : errorKind === 'usage'
        ? ErrorCodes.USAGE
        : ErrorCodes.ERROR;
  const result = errorResultOf({
    kind: (command && KIND_OF_COMMAND[command]) || 'Error',
    subject: `acr-guard${command ? ` ${command}` : ''}`,
    error: { code, message: shortMessageOf(err), ...(field ? { field } : {}) },
    errorKind,
    ...(errorKind === 'runtime' ? { summary: `${shortMessageOf(err).split('\n')[0]}; nothing was released` } : {}),
  });
  io.out(JSON.stringify(result, null, 2));
}

/** Runs the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: string[], io = defaultIo): Promise<number> {
  const [command, ...rest] = argv;
  const json = wantsJson(rest);
  try {
    switch (command) {
      case 'gate':
        return await gateCommand(rest, io);
      case 'serve':
        return await serveCommand(rest, io);
      case 'demo':
        return await demoCommand(rest, io);
      case 'alerts':
        return await alertsCommand(rest, io);
      case 'tokens':
        return await tokensCommand(rest, io);
      case 'verify':
        return await verifyCommand(rest, io);
      case 'policy':
        return await policyCommand(rest, io);
      case 'purge': {
        // With ACR_GUARD_INUSE_SCOPES set (as in Azure), the deployed images come from ARM; otherwise --deployed.
        const inUse = inUseFromEnvironment(process.env);
        return await purgeCommand(rest, {
          ...io,
          ...(inUse ? { inUse } : {}),
          ...(process.stderr.isTTY && io.err === defaultIo.err ? { progress: ttyProgress } : {}),
        });
      }
      case 'doctor':
        return await doctorCommand(rest, io);
      case 'runtime': {
        // Without --deployed, the running containers come from Resource Graph over the purge's in-use scopes.
        const settings = inUseConfig(process.env);
        const inUse = settings ? runtimeInventoryFor({ inUse: settings }, new DefaultAzureCredential()) : undefined;
        return await runtimeCommand(rest, { ...io, ...(inUse ? { inUse } : {}) });
      }
      case 'deploy':
        return await deployCommand(rest, io);
      case '--version':
      case '-V':
      case 'version':
        io.out(`acr-guard ${ACR_GUARD_VERSION}`);
        return ExitCodes.OK;
      case 'help':
        // `acr-guard help <command>` is `acr-guard <command> --help`.
        if (rest.length > 0 && COMMAND_USAGE[rest[0]]) {
          io.out(COMMAND_USAGE[rest[0]]);
          return ExitCodes.OK;
        }
        io.out(USAGE);
        return ExitCodes.OK;
      case undefined:
      case '--help':
      case '-h':
        io.out(USAGE);
        return command === undefined ? ExitCodes.USAGE : ExitCodes.OK;
      default: {
        // Only the command list and the hint: the full usage of every command would bury the one line that matters.
        const hint = didYouMean(command, COMMANDS);
        if (json)
          printErrorResult(io, undefined, new UsageError(`unknown command ${JSON.stringify(command)}${hint}`), 'usage');
        io.err(
          `acr-guard: unknown command ${JSON.stringify(command)}${hint}\ncommands: ${COMMANDS.join(', ')}; acr-guard --help describes them, acr-guard <command> --help one`,
        );
        return ExitCodes.USAGE;
      }
    }
  } catch (err) {
    if (isUsageError(err)) {
      // An oversized operator file is named by its code too, so scripts can tell it from a typo.
      const tag = isGuardError(err, 'FILE_TOO_LARGE') ? ` [${err.code}]` : '';
      if (json) printErrorResult(io, command, err, 'usage');
      io.err(`acr-guard ${command}:${tag} ${(err as Error).message}`);
      return ExitCodes.USAGE;
    }
    const code = isGuardError(err) ? ` [${err.code}]` : '';
    const hint = errorHint(err, rest);
    if (json) printErrorResult(io, command, err, 'runtime');
    io.err(
      `acr-guard ${command}: error${code}: ${(err as Error).message}${hint ? `\nhint: ${hint}` : ''}\nNothing was released.`,
    );
    return ExitCodes.RUNTIME;
  }
}

/** Runs `main` on `process.argv` and sets the process exit code. */
export function run(): void {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      console.error(err);
      process.exitCode = ExitCodes.RUNTIME;
    },
  );
}

if (require.main === module) run();
