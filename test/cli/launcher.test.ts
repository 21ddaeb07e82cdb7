/**
 * bin/acr-guard.js before a build: a checkout without dist/ gets one line saying to run `npm run build`
 * (exit 2), never a module-not-found stack trace. Run from a copy of the launcher in a fresh directory.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

describe('bin/acr-guard.js', () => {
  it('without dist/ says to run npm run build, exit 2, no stack trace', () => {
    const dir = mkdtempSync(join(tmpdir(), 'acr-guard-bin-'));
    try {
      mkdirSync(join(dir, 'bin'));
      copyFileSync(join(__dirname, '../../bin/acr-guard.js'), join(dir, 'bin', 'acr-guard.js'));
      const run = spawnSync(process.execPath, [join(dir, 'bin', 'acr-guard.js'), 'gate', '--help'], {
        encoding: 'utf8',
        timeout: 20_000,
      });
      expect(run.status).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toContain('run `npm run build`');
      expect(run.stderr).toContain(join(dir, 'dist', 'src', 'cli', 'main.js'));
      expect(run.stderr).not.toMatch(/\n\s+at |MODULE_NOT_FOUND/);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
