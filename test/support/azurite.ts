/**
 * Runs Azurite (the npm devDependency) on loopback for tests: in memory, silent, without telemetry, and
 * stopped cleanly. Each service listens on port 0 and the harness reads the port Azurite reports, so there is
 * no window in which another process could take a port picked in advance.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { NamedKeyCredential } from '@azure/data-tables';
import { AZURITE_DEV_ACCOUNT, azuriteDevCredential } from '../../src/adapters/auditStore';

/** Azurite's well-known development account name (public; documented by Microsoft). */
export const AZURITE_ACCOUNT = AZURITE_DEV_ACCOUNT.name;
/** Azurite's well-known development account key (public; documented by Microsoft; not a secret). */
export const AZURITE_KEY = AZURITE_DEV_ACCOUNT.key;

/** A running Azurite. URLs are account URLs (`http://127.0.0.1:<port>/devstoreaccount1`). */
export interface RunningAzurite {
  tableUrl: string;
  blobUrl: string;
  queueUrl: string;
  accountName: string;
  accountKey: string;
  /** A credential for the dev account (Table SDK). */
  credential: NamedKeyCredential;
  /** Stops Azurite (SIGTERM, then SIGKILL after 3 s) and removes its temporary workspace. */
  stop(): Promise<void>;
}

const BIN = join(__dirname, '../../node_modules/.bin/azurite');
const START_TIMEOUT_MS = 20_000;

let helpText: Promise<string> | undefined;

/** `azurite --help`, once per process, to pass only the options this version knows. */
function azuriteHelp(): Promise<string> {
  helpText ??= promisify(execFile)(BIN, ['--help'], { timeout: 15_000 }).then(
    (r) => `${r.stdout}${r.stderr}`,
    () => '',
  );
  return helpText;
}

/** Starts Azurite (blob, queue and table) on 127.0.0.1 and resolves once all three answer HTTP. */
export async function startAzurite(): Promise<RunningAzurite> {
  const help = await azuriteHelp();
  const args = [
    '--blobHost',
    '127.0.0.1',
    '--blobPort',
    '0',
    '--queueHost',
    '127.0.0.1',
    '--queuePort',
    '0',
    '--tableHost',
    '127.0.0.1',
    '--tablePort',
    '0',
    '--silent',
  ];
  let location: string | undefined;
  if (help.includes('--inMemoryPersistence')) {
    args.push('--inMemoryPersistence');
    if (help.includes('--extentMemoryLimit')) args.push('--extentMemoryLimit', '256');
  } else {
    location = await mkdtemp(join(tmpdir(), 'acr-guard-azurite-'));
    args.push('--location', location);
  }
  if (help.includes('--disableTelemetry')) args.push('--disableTelemetry');
  if (help.includes('--skipApiVersionCheck')) args.push('--skipApiVersionCheck');

  const child = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const ports: Partial<Record<'Blob' | 'Queue' | 'Table', number>> = {};
  const onData = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8000);
    // Azurite logs "Azurite <Service> service is successfully listening at http://127.0.0.1:<port>" even with --silent.
    for (const m of output.matchAll(
      /Azurite (Blob|Queue|Table) service is successfully listening at http:\/\/127\.0\.0\.1:(\d+)/g,
    )) {
      ports[m[1] as 'Blob' | 'Queue' | 'Table'] = Number(m[2]);
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);

  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    if (location) await rm(location, { recursive: true, force: true });
  };

  const deadline = Date.now() + START_TIMEOUT_MS;
  try {
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`azurite exited (${child.exitCode ?? child.signalCode}) before listening: ${output}`);
      if (ports.Blob && ports.Queue && ports.Table && (await allAnswer([ports.Blob, ports.Queue, ports.Table]))) break;
      if (Date.now() > deadline)
        throw new Error(`azurite did not answer within ${START_TIMEOUT_MS / 1000} s: ${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const url = (port: number) => `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  return {
    tableUrl: url(ports.Table),
    blobUrl: url(ports.Blob),
    queueUrl: url(ports.Queue),
    accountName: AZURITE_ACCOUNT,
    accountKey: AZURITE_KEY,
    credential: azuriteDevCredential(),
    stop,
  };
}

/** True when every port answers an HTTP request (any status: an unauthenticated 4xx means it is up). */
async function allAnswer(ports: number[]): Promise<boolean> {
  try {
    await Promise.all(
      ports.map(async (port) => {
        const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1000) });
        await res.arrayBuffer();
      }),
    );
    return true;
  } catch {
    return false;
  }
}

/**
 * Jest helper: starts Azurite in `beforeAll` and stops it in `afterAll` of the enclosing block. Call the
 * returned function inside tests (or test factories) to get the running instance.
 */
export function useAzurite(): () => RunningAzurite {
  let running: RunningAzurite | undefined;
  beforeAll(async () => {
    running = await startAzurite();
  }, START_TIMEOUT_MS + 10_000);
  afterAll(async () => {
    await running?.stop();
  });
  return () => {
    if (!running) throw new Error('Azurite is not running: call the accessor inside a test, after beforeAll');
    return running;
  };
}
