/**
 * The whole app on one machine (`acr-guard serve`, `npm start`): a loopback docker-registry whose push
 * notifications go to the local service, the service itself (see `serve.ts`), and the demo's sample images.
 * Embedded defaults only: the demo policy for the loopback registry, state under `.local/state`.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadPolicy } from '../core/policy';
import { isGuardError, messageOf } from '../core/errors';
import { createRegistryClient } from '../adapters/registry';
import { DEMO_SAMPLES, demoDeployedLookup, demoPolicyYaml, seedSample } from './demo';
import { assertPortFree, freePort, startRegistry, type RunningRegistry } from './registryServer';
import { startService, type LocalService, type ServeOptions } from './serve';
import type { HttpAuthMode } from '../app/http';

/** Default port of the local service (the Functions host's local default). */
export const DEFAULT_SERVICE_PORT = 7071;
/** How `serve` picks another registry port. */
const REGISTRY_PORT_HINT = 'pass another --registry-port (e.g. --registry-port 7082)';
/** Default port of the loopback registry. */
export const DEFAULT_REGISTRY_PORT = 7072;

/** Options of {@link startLocalStack}. */
export interface LocalStackOptions {
  stateDir: string;
  /** Service port (0: a free one). */
  port?: number;
  /**
   * Registry port (0: a free one). Keep it fixed across restarts: the policy allowlists `127.0.0.1:<port>`
   * and verdicts and histories name that host.
   */
  registryPort?: number;
  /** Push the demo's sample images (those whose tag is not there yet). Default true. */
  seed?: boolean;
  auth?: HttpAuthMode;
  timers?: 'real' | 'virtual';
  env?: Record<string, string | undefined>;
  log?: (line: string) => void;
  /** Where each recorded verdict is POSTed as a CloudEvent (`acr-guard serve --verdict-webhook`). */
  verdictWebhook?: string;
  /** PEM key that signs the VSAs (see ServeOptions.attestationKeyFile). */
  attestationKeyFile?: string;
  /** The policy YAML for the registry's host (default: the demo policy); tests gate with their own rules. */
  policyYaml?: (registryHost: string) => string;
  /** Trust policy and store for signature checks (default: none, so signatures are inconclusive). */
  signatureTrust?: ServeOptions['signatureTrust'];
}

/** A running stack. */
export interface LocalStack {
  service: LocalService;
  registry: RunningRegistry;
  /** The bearer token the registry sends with its notifications (fresh per start; never printed). */
  notificationToken: string;
  /** Resolves when seeding finished (at once with `seed: false`). */
  seeded: Promise<void>;
  /** Stops the registry and the service (in that order: no notification is left half-delivered). */
  stop(): Promise<void>;
}

/** Starts registry + service (+ seeding in the background). */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const log = options.log ?? (() => undefined);
  const registryPort =
    options.registryPort === 0 || options.registryPort === undefined ? await freePort() : options.registryPort;
  // Checked before the service starts, as the service port is: a taken registry port is refused (exit 2), never
  // silently shared with whatever answers /v2/ there.
  if (options.registryPort) await assertPortFree(registryPort, REGISTRY_PORT_HINT);
  const registryHost = `127.0.0.1:${registryPort}`;
  const policy = options.policyYaml
    ? loadPolicy(options.policyYaml(registryHost), 'policy given to startLocalStack')
    : loadPolicy(demoPolicyYaml(registryHost), 'embedded demo policy');
  mkdirSync(options.stateDir, { recursive: true });
  // A fresh token per start: only this registry's notifications are accepted.
  const notificationToken = randomBytes(24).toString('base64url');
  const service = await startService({
    policy,
    stateDir: options.stateDir,
    port: options.port ?? DEFAULT_SERVICE_PORT,
    plainHttpHosts: [registryHost],
    auth: options.auth,
    ...(options.verdictWebhook ? { verdictWebhook: options.verdictWebhook } : {}),
    notificationToken,
    timers: options.timers,
    env: options.env,
    log,
    runtimeInventory: demoDeployedLookup(registryHost),
    ...(options.attestationKeyFile ? { attestationKeyFile: options.attestationKeyFile } : {}),
    ...(options.signatureTrust ? { signatureTrust: options.signatureTrust } : {}),
  });
  let registry: RunningRegistry;
  try {
    registry = await startRegistry({
      port: registryPort,
      portHint: REGISTRY_PORT_HINT,
      dataDir: join(options.stateDir, 'registry'),
      notifications: [{ url: service.notificationsUrl, token: notificationToken }],
    });
  } catch (err) {
    await service.stop();
    throw err;
  }
  const seeded =
    options.seed === false
      ? Promise.resolve()
      : seedSamples(registryHost, log).then(() => auditWhenGated(service, log));
  return {
    service,
    registry,
    notificationToken,
    seeded,
    stop: async () => {
      await registry.stop();
      await service.stop();
    },
  };
}

/** Pushes each demo sample whose tag is not in the registry yet; the notifications start their gates. */
async function seedSamples(registryHost: string, log: (line: string) => void): Promise<void> {
  const client = createRegistryClient({ host: registryHost, plainHttp: true });
  const now = new Date();
  for (const sample of DEMO_SAMPLES) {
    try {
      await client.resolveTag(sample.repository, sample.tag);
      continue;
    } catch (err) {
      if (!isGuardError(err, 'NOT_FOUND')) throw err;
    }
    const digest = await seedSample(client, sample, now);
    log(`seeded ${sample.repository}:${sample.tag}@${digest.slice(0, 19)}… (${sample.story})`);
  }
}

/** Most time the first runtime audit waits for the seeded images' gates. */
export const RUNTIME_SEED_WAIT_MS = 60_000;

/** After seeding: waits (bounded) for the gates to finish, then runs the runtime audit once for the page. */
async function auditWhenGated(service: LocalService, log: (line: string) => void): Promise<void> {
  const until = Date.now() + RUNTIME_SEED_WAIT_MS;
  // A gate starts when the registry's notification arrives, a moment after the push.
  await new Promise((resolve) => setTimeout(resolve, 500));
  while (Date.now() < until && service.orchestrationHost.list().some((i) => i.runtimeStatus === 'Running'))
    await new Promise((resolve) => setTimeout(resolve, 250));
  await service.runRuntimeReconcile()?.catch((err: unknown) => log(`runtimeReconcile failed: ${messageOf(err)}`));
}
