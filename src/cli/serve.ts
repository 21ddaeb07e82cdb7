/**
 * `acr-guard serve` (what `npm start` runs): the local service with a loopback registry wired to it, the
 * demo's sample images, the page and the HTTP API; runs until SIGINT/SIGTERM, then stops cleanly.
 */
import { messageOf } from '../core/errors';
import { resolve } from 'node:path';
import { rmSync } from 'node:fs';
import { DEFAULT_REGISTRY_PORT, DEFAULT_SERVICE_PORT, startLocalStack } from '../local/stack';
import { ExitCodes, UsageError, parseCommandArgs } from './args';
import { verdictWebhookUrl } from '../adapters/verdictEvents';

export const SERVE_USAGE = `usage: acr-guard serve [--port N] [--registry-port N] [--state-dir DIR] [--no-seed] [--fresh] [--auth off|easyauth]
                        [--verdict-webhook URL]
                        [--attestation-key <key.pem>]
  Runs the whole app on this machine without Azure: Debian's docker-registry on 127.0.0.1 (port 7072) whose
  push notifications start gates, the HTTP API (POST /api/rescan, GET /api/verdicts/...) and the page on
  http://127.0.0.1:7071/, the gate orchestrations (histories in the state directory, resumed after a restart)
  and the timers when their settings are present. Seeds the demo's sample images unless --no-seed.
  --state-dir  histories, verdicts and registry content (default .local/state); --fresh empties it first
  --auth       easyauth: callers must send x-ms-client-principal with an app role, as behind App Service
  --verdict-webhook  POST each recorded verdict there as a CloudEvent (com.acrguard.verdict.v1; https, or http
               to loopback; 3 attempts, 10 s each; a failed delivery is logged and never changes the verdict)
  --attestation-key  ECDSA P-256 private key (PEM) that signs the verdict (SLSA VSA) attached to each gated
               image; its public key is served at GET /api/attestation-key
  Stop with Ctrl-C.`;

function port(value: string | boolean | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (typeof value !== 'string' || !/^[0-9]{1,5}$/.test(value) || n > 65535)
    throw new UsageError(`--${name}: expected a port number 0-65535, got ${JSON.stringify(value)}`);
  return n;
}

/** Runs the service until a signal; resolves to the exit code. `signals` is for tests. */
export async function serveCommand(
  argv: string[],
  io: { out: (s: string) => void; err: (s: string) => void },
  signals: NodeJS.EventEmitter = process,
): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    port: { type: 'string' },
    'registry-port': { type: 'string' },
    'state-dir': { type: 'string' },
    'no-seed': { type: 'boolean' },
    fresh: { type: 'boolean' },
    auth: { type: 'string' },
    'verdict-webhook': { type: 'string' },
    'attestation-key': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    io.out(SERVE_USAGE);
    return ExitCodes.OK;
  }
  const auth = values.auth ?? 'off';
  if (auth !== 'off' && auth !== 'easyauth')
    throw new UsageError(`--auth: expected "off" or "easyauth", got ${JSON.stringify(auth)}`);
  const verdictWebhook = typeof values['verdict-webhook'] === 'string' ? values['verdict-webhook'] : undefined;
  if (verdictWebhook !== undefined) {
    try {
      verdictWebhookUrl(verdictWebhook);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  const stateDir = resolve(typeof values['state-dir'] === 'string' ? values['state-dir'] : '.local/state');
  if (values.fresh) rmSync(stateDir, { recursive: true, force: true });
  const stack = await startLocalStack({
    stateDir,
    port: port(values.port, 'port', DEFAULT_SERVICE_PORT),
    registryPort: port(values['registry-port'], 'registry-port', DEFAULT_REGISTRY_PORT),
    seed: values['no-seed'] !== true,
    auth,
    log: (line) => io.err(line),
    ...(verdictWebhook ? { verdictWebhook } : {}),
    ...(typeof values['attestation-key'] === 'string'
      ? { attestationKeyFile: resolve(values['attestation-key']) }
      : {}),
  });
  const { service, registry } = stack;
  io.out(`acr-guard local service is running (state in ${stateDir})`);
  io.out(`  page:      ${service.url}/`);
  io.out(
    `  API:       ${service.url}/api  (POST /api/rescan, GET /api/verdicts/<registry>/<repository>@<digest>, GET /api/images)`,
  );
  io.out(
    `  registry:  ${registry.url}  (push here, e.g. ${registry.host}/demo/app:1; its notifications start the gates)`,
  );
  if (service.resumed.length > 0) io.out(`  resumed:   ${service.resumed.length} gate(s) from the last run`);
  io.out('Press Ctrl-C to stop.');
  stack.seeded.then(
    () => io.err('samples seeded (their gates are running; watch the page)'),
    (err: unknown) => io.err(`seeding the samples failed: ${messageOf(err)}`),
  );
  const signal = await new Promise<string>((done) => {
    signals.once('SIGINT', () => done('SIGINT'));
    signals.once('SIGTERM', () => done('SIGTERM'));
  });
  io.err(`${signal}: stopping the registry and the service; running gates resume on the next start`);
  await stack.stop();
  // A gate still waiting for a timer or an activity would keep the process alive; its history is saved up to
  // its last step and it resumes on the next start, so the process need not wait for it.
  if (signals === process) setTimeout(() => process.exit(ExitCodes.OK), 200).unref();
  return ExitCodes.OK;
}
