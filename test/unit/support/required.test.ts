/**
 * describeRequiring: a block whose tool or vectors are missing skips with one line outside CI and fails under
 * CI=true. Proven by running a fixture block in a jest of its own, with and without CI.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describeRequiring, inCi } from '../../support/required';

const ROOT = join(__dirname, '../../..');
const FIXTURE = 'test/fixtures/required/missing.fixture.ts';

async function jestOnFixture(ci: string | undefined): Promise<{ code: number; out: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.CI;
  if (ci !== undefined) env.CI = ci;
  const args = [
    join(ROOT, 'node_modules/jest/bin/jest.js'),
    '--ci',
    '--reporters=default',
    '--testMatch',
    '**/*.fixture.ts',
    '--runTestsByPath',
    FIXTURE,
  ];
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, args, { cwd: ROOT, env });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

describe('describeRequiring', () => {
  it('is plain describe when everything is present', () => {
    expect(describeRequiring({ present: true, what: 'x', how: 'y' })).toBe(describe);
  });

  it('reads CI as CI services set it', () => {
    expect([undefined, '', 'false', '0'].map((CI) => inCi({ CI }))).toEqual([false, false, false, false]);
    expect(['true', '1', 'yes'].map((CI) => inCi({ CI }))).toEqual([true, true, true]);
  });

  it('skips a block with a missing requirement outside CI, saying what is missing', async () => {
    const { code, out } = await jestOnFixture(undefined);
    expect(code).toBe(0);
    expect(out).toMatch(/skipped: a tool that is not installed is missing \(nothing installs it\)/);
    expect(out).toMatch(/1 skipped/);
  }, 60_000);

  it('fails the same block under CI=true, naming what is missing', async () => {
    const { code, out } = await jestOnFixture('true');
    expect(code).toBe(1);
    expect(out).toMatch(/CI=true but a tool that is not installed is missing \(nothing installs it\)/);
    expect(out).toMatch(/1 failed/);
  }, 60_000);
});
