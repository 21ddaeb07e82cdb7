/**
 * The bounded reader of operator files, on real files: `/dev/zero`, an endless FIFO, a huge sparse file, and
 * each command and setting that reads an operator file (policy, trust policy, trust store, alert rules,
 * `--deployed`) pointed at them. Each stops at the limit + 1 byte with `FILE_TOO_LARGE` naming the file.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_OPERATOR_FILE_BYTES, readBoundedFile, readBoundedFileSync } from '../../../src/adapters/boundedFile';
import { loadSignatureTrust } from '../../../src/adapters/trustStoreFiles';
import { readPolicyText, type AppConfig } from '../../../src/app/config';
import { MAX_POLICY_BYTES } from '../../../src/core/policy';
import { rulesFor } from '../../../src/app/jobCompose';
import { runCli } from '../../support/cli';

const opts = { maxBytes: 1024, field: '--policy', what: 'policy file' };

describe('bounded operator-file reader', () => {
  let dir: string;
  let fifo: string;
  let writer: ChildProcess | undefined;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'acr-guard-bounded-'));
    fifo = join(dir, 'endless.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
  });
  afterEach(() => {
    if (writer?.pid) writer.kill('SIGKILL');
    writer = undefined;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Starts `yes` writing into the FIFO forever (until the reader closes it or the test kills it). */
  function feedFifo(): void {
    writer = spawn('sh', ['-c', `exec yes acr-guard > '${fifo}'`], { stdio: 'ignore' });
    writer.on('error', () => undefined);
  }

  it('reads a file within the limit, exactly up to the limit', async () => {
    const file = join(dir, 'exact');
    writeFileSync(file, 'x'.repeat(1024));
    expect(readBoundedFileSync(file, opts)).toHaveLength(1024);
    expect(await readBoundedFile(file, opts)).toHaveLength(1024);
    writeFileSync(file, 'x'.repeat(1025));
    expect(() => readBoundedFileSync(file, opts)).toThrow(
      expect.objectContaining({ code: 'FILE_TOO_LARGE', field: '--policy' }),
    );
  });

  it('stops /dev/zero, an endless FIFO and a 64 GiB sparse file at the limit + 1 byte', async () => {
    const sparse = join(dir, 'huge');
    writeFileSync(sparse, '');
    truncateSync(sparse, 64 * 1024 ** 3);
    for (const path of ['/dev/zero', sparse]) {
      const started = Date.now();
      expect(() => readBoundedFileSync(path, opts)).toThrow(
        expect.objectContaining({
          code: 'FILE_TOO_LARGE',
          message: expect.stringContaining(`${path} is larger than 1024 bytes`),
        }),
      );
      await expect(readBoundedFile(path, opts)).rejects.toMatchObject({ code: 'FILE_TOO_LARGE' });
      expect(Date.now() - started).toBeLessThan(1000);
    }
    feedFifo();
    expect(() => readBoundedFileSync(fifo, opts)).toThrow(expect.objectContaining({ code: 'FILE_TOO_LARGE' }));
    writer?.kill('SIGKILL');
    feedFifo();
    await expect(readBoundedFile(fifo, opts)).rejects.toMatchObject({ code: 'FILE_TOO_LARGE' });
  });

  it('a missing file or a directory is INVALID_CONFIG naming the option', () => {
    expect(() => readBoundedFileSync(join(dir, 'nope'), opts)).toThrow(
      expect.objectContaining({
        code: 'INVALID_CONFIG',
        field: '--policy',
        message: expect.stringContaining('ENOENT'),
      }),
    );
    expect(() => readBoundedFileSync(dir, opts)).toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIG', message: expect.stringContaining('EISDIR') }),
    );
  });

  it('acr-guard gate --policy /dev/zero and purge --policy/--deployed /dev/zero: exit 2 naming the file and the limit, at once', async () => {
    const before = process.memoryUsage().rss;
    const started = Date.now();
    const gate = await runCli(['gate', '127.0.0.1:5000/app:v1', '--policy', '/dev/zero', '--plain-http']);
    expect(gate.code).toBe(2);
    expect(gate.err).toContain(`--policy: the policy file /dev/zero is larger than ${MAX_POLICY_BYTES} bytes`);
    const purge = await runCli(['purge', '--registry', '127.0.0.1:5000', '--policy', '/dev/zero', '--plain-http']);
    expect(purge.code).toBe(2);
    expect(purge.err).toContain('FILE_TOO_LARGE');
    feedFifo();
    const fromFifo = await runCli(['gate', '127.0.0.1:5000/app:v1', '--policy', fifo, '--plain-http']);
    expect(fromFifo.code).toBe(2);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 1024 * 1024);
  });

  it('ACR_GUARD_POLICY_FILE, ACR_GUARD_ALERT_RULES_FILE and the trust policy / trust store files go through it too', async () => {
    const config = { policy: { kind: 'file', path: '/dev/zero' } } as unknown as AppConfig;
    const { readBoundedTextSync } = await import('../../../src/adapters/boundedFile');
    expect(() =>
      readPolicyText(config, (p) =>
        readBoundedTextSync(p, { maxBytes: MAX_POLICY_BYTES, field: 'ACR_GUARD_POLICY_FILE', what: 'policy file' }),
      ),
    ).toThrow(expect.objectContaining({ code: 'FILE_TOO_LARGE', field: 'ACR_GUARD_POLICY_FILE' }));
    expect(() => rulesFor({ rulesFile: '/dev/zero' })).toThrow(
      expect.objectContaining({ code: 'FILE_TOO_LARGE', field: 'ACR_GUARD_ALERT_RULES_FILE' }),
    );
    const store = join(dir, 'store');
    mkdirSync(join(store, 'x509', 'ca', 'acme'), { recursive: true });
    await expect(
      loadSignatureTrust('/dev/zero', store, { policy: '--trust-policy', store: '--trust-store' }),
    ).rejects.toMatchObject({ code: 'FILE_TOO_LARGE', field: '--trust-policy' });
    const trustPolicy = join(dir, 'trustpolicy.json');
    writeFileSync(
      trustPolicy,
      JSON.stringify({
        version: '1.0',
        trustPolicies: [
          {
            name: 'p',
            registryScopes: ['*'],
            signatureVerification: { level: 'strict' },
            trustStores: ['ca:acme'],
            trustedIdentities: ['*'],
          },
        ],
      }),
    );
    const cert = join(store, 'x509', 'ca', 'acme', 'huge.pem');
    writeFileSync(cert, '');
    truncateSync(cert, 8 * MAX_OPERATOR_FILE_BYTES);
    await expect(
      loadSignatureTrust(trustPolicy, store, { policy: '--trust-policy', store: '--trust-store' }),
    ).rejects.toMatchObject({ code: 'FILE_TOO_LARGE', field: '--trust-store' });
  });
});
