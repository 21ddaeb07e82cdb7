/**
 * Runs Debian's `docker-registry` (the open-source distribution registry 2.8) on loopback for tests,
 * `npm start` and the benchmark. Filesystem storage in a directory of ours, deletes enabled, optional
 * notification endpoints.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCodes, GuardError } from '../core/errors';

/** A running loopback registry. */
export interface RunningRegistry {
  /** `127.0.0.1:<port>` */
  host: string;
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Where the registry stores its content (removed by `stop()` when startRegistry made it). */
  dataDir: string;
  /** The registry process's id (benchmarks read its CPU time). */
  pid: number | undefined;
  /** SIGTERM, then SIGKILL after {@link REGISTRY_STOP_GRACE_MS}; resolves when the process has exited. */
  stop(): Promise<void>;
}

/** How long `stop()` waits after SIGTERM before SIGKILL. */
export const REGISTRY_STOP_GRACE_MS = 3000;
/** How long `startRegistry` waits for `/v2/` to answer. */
export const REGISTRY_START_TIMEOUT_MS = 10_000;

/** Options for {@link startRegistry}. */
export interface StartRegistryOptions {
  /** Storage directory (kept after stop); default a fresh temp directory (removed on stop). */
  dataDir?: string;
  /** Port on 127.0.0.1; default a free one. */
  port?: number;
  /** Registry notification endpoints (the registry POSTs push/pull/delete events there). */
  notifications?: Array<{ url: string; token?: string }>;
  /** How the operator picks another port, for the "port in use" error (default "choose another port"). */
  portHint?: string;
  /** `storage.delete.enabled` (default true). */
  deleteEnabled?: boolean;
}

/** Finds a free loopback port by listening on port 0 and closing. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Refuses a port something already listens on (INVALID_CONFIG, field `port`), by binding it and letting go.
 * Without this, a registry started on a taken port fails to bind, while `/v2/` there answers 200 from whatever
 * listens (another instance's registry): the caller would push to and gate someone else's registry.
 */
export async function assertPortFree(port: number, how = 'choose another port'): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE' || err.code === 'EACCES'
          ? new GuardError(
              ErrorCodes.INVALID_CONFIG,
              `registry port ${port} on 127.0.0.1 is ${err.code === 'EACCES' ? 'not allowed to this user' : 'in use (another acr-guard serve, registry or program listens there)'}; nothing was started: stop what listens there or ${how}`,
              { field: 'port' },
            )
          : err,
      ),
    );
    server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
  });
}

function registryBinary(): string {
  const bin = process.env.DOCKER_REGISTRY_BIN ?? '/usr/bin/docker-registry';
  if (!existsSync(bin)) {
    throw new GuardError(
      ErrorCodes.INVALID_CONFIG,
      `docker-registry not found at ${bin}; run scripts/ensure-tools.sh (installs Debian's docker-registry) or set DOCKER_REGISTRY_BIN`,
      { field: 'DOCKER_REGISTRY_BIN' },
    );
  }
  return bin;
}

function configYaml(options: {
  port: number;
  dataDir: string;
  deleteEnabled: boolean;
  notifications: Array<{ url: string; token?: string }>;
}): string {
  const lines = [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${JSON.stringify(options.dataDir)}`,
    '  delete:',
    `    enabled: ${options.deleteEnabled}`,
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    `  addr: 127.0.0.1:${options.port}`,
    '  headers:',
    '    X-Content-Type-Options: [nosniff]',
  ];
  if (options.notifications.length > 0) {
    lines.push('notifications:', '  events:', '    includereferences: true', '  endpoints:');
    options.notifications.forEach((n, i) => {
      lines.push(
        `    - name: endpoint${i}`,
        `      url: ${JSON.stringify(n.url)}`,
        '      timeout: 2s',
        '      threshold: 5',
        '      backoff: 1s',
      );
      if (n.token) lines.push('      headers:', `        Authorization: [${JSON.stringify(`Bearer ${n.token}`)}]`);
    });
  }
  return `${lines.join('\n')}\n`;
}

async function waitUntilUp(url: string, child: ChildProcess, stderr: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new GuardError(
        ErrorCodes.UPSTREAM,
        `docker-registry exited with ${child.exitCode}: ${stderr().slice(-500)}`,
      );
    try {
      const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new GuardError(
    ErrorCodes.UPSTREAM,
    `docker-registry did not answer at ${url}/v2/ within ${timeoutMs} ms: ${stderr().slice(-500)}`,
  );
}

/** Starts a registry on 127.0.0.1 and waits until `/v2/` answers. */
export async function startRegistry(options: StartRegistryOptions = {}): Promise<RunningRegistry> {
  const bin = registryBinary();
  // The config (and, unless given, the storage) live in a directory of ours, removed on stop.
  const workDir = mkdtempSync(join(tmpdir(), 'acr-guard-registry-'));
  const dataDir = options.dataDir ?? join(workDir, 'data');
  mkdirSync(dataDir, { recursive: true });
  // A given port must be free: never take another registry answering there for ours.
  if (options.port !== undefined) {
    try {
      await assertPortFree(options.port, options.portHint);
    } catch (err) {
      rmSync(workDir, { recursive: true, force: true });
      throw err;
    }
  }
  const port = options.port ?? (await freePort());
  const configPath = join(workDir, 'config.yml');
  writeFileSync(
    configPath,
    configYaml({
      port,
      dataDir,
      deleteEnabled: options.deleteEnabled ?? true,
      notifications: options.notifications ?? [],
    }),
  );
  const child = spawn(bin, ['serve', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  // Never leave a registry behind when the test process (or the local service) exits without stop().
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  const cleanup = (): void => {
    process.removeListener('exit', killOnExit);
    rmSync(workDir, { recursive: true, force: true });
  };
  let errText = '';
  child.on('error', (err) => {
    errText += `\n${err.message}`;
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    errText = (errText + chunk.toString()).slice(-4000);
  });
  const host = `127.0.0.1:${port}`;
  const url = `http://${host}`;
  try {
    await waitUntilUp(url, child, () => errText, REGISTRY_START_TIMEOUT_MS);
  } catch (err) {
    child.kill('SIGKILL');
    cleanup();
    throw err;
  }
  return {
    host,
    url,
    dataDir,
    pid: child.pid,
    stop: () =>
      new Promise<void>((resolve) => {
        const done = (): void => {
          cleanup();
          resolve();
        };
        if (child.exitCode !== null || child.signalCode !== null) return done();
        const timer = setTimeout(() => child.kill('SIGKILL'), REGISTRY_STOP_GRACE_MS);
        child.once('exit', () => {
          clearTimeout(timer);
          done();
        });
        child.kill('SIGTERM');
      }),
  };
}
