/**
 * Readable on a terminal (issue 21): the real CLI, bundled as `npm run build` bundles it, runs `demo` under a
 * pseudo-terminal (util-linux `script`) at 80 and 160 columns: ANSI colour is there and no line is wider than the
 * terminal; the shared "signatures not verified" explanation is printed once, as a note. Piped, or with NO_COLOR,
 * there is no ANSI code at all.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { describeRequiring } from '../support/required';

const SCRIPT = '/usr/bin/script';
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

/** Runs a shell command line; resolves to its stdout (stderr ignored). */
function sh(command: string, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', command], { env, stdio: ['ignore', 'pipe', 'ignore'] });
    // Decoded once at the end: a chunk can end inside a multi-byte character (the table borders are).
    const chunks: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => chunks.push(b));
    child.on('error', reject);
    child.on('close', (code) => {
      const out = Buffer.concat(chunks).toString('utf8');
      if (code === 0) resolve(out);
      else reject(new Error(`${command}: exit ${code}\n${out}`));
    });
  });
}

describeRequiring({
  present: existsSync(SCRIPT),
  what: 'util-linux script (/usr/bin/script)',
  how: 'apt-get install bsdutils',
})('acr-guard demo on a terminal and piped', () => {
  let dir: string;
  let cli: string;
  const outputs: Record<string, string> = {};
  const base: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, TERM: 'xterm-256color' };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'acr-guard-term-'));
    cli = join(dir, 'main.js');
    await build({
      absWorkingDir: join(__dirname, '..', '..'),
      entryPoints: ['src/cli/main.ts'],
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      outfile: cli,
      logLevel: 'error',
      external: ['@azure/functions-core'],
      define: { 'import.meta.url': '__acrGuardImportMetaUrl' },
      banner: { js: "var __acrGuardImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
    });
    const pty = (cols: number) =>
      `${SCRIPT} -qec "stty cols ${cols} rows 50; ${process.execPath} ${cli} demo 2>/dev/null" /dev/null`;
    const [w80, w160, noColor, piped] = await Promise.all([
      sh(pty(80), base),
      sh(pty(160), base),
      sh(pty(120), { ...base, NO_COLOR: '1' }),
      sh(`${process.execPath} ${cli} demo 2>/dev/null`, base),
    ]);
    Object.assign(outputs, { w80, w160, noColor, piped });
  }, 180_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const lines = (text: string) => text.replace(/\r/g, '').replace(ANSI, '').split('\n');

  it.each([
    ['w80', 80],
    ['w160', 160],
  ])('%s: coloured, and no line wider than the terminal', (key, cols) => {
    const out = outputs[key];
    expect(out).toMatch(ANSI);
    const widest = Math.max(...lines(out).map((l) => l.length));
    expect(widest).toBeLessThanOrEqual(cols);
    expect(widest).toBeGreaterThan(cols - 20); // fitted to the width, not just short
    expect(lines(out).join('\n')).toMatch(/IMAGE +│ DECISION/);
    expect(lines(out).join('\n')).toMatch(/7 images gated: 2 released, 5 blocked\./);
  });

  it('the "signatures were not verified" explanation is printed once, as a note, with -v for the rest', () => {
    for (const out of [outputs.w160, outputs.piped]) {
      const text = lines(out).join(' ').replace(/[│ ]+/g, ' ');
      expect(text.match(/signatures were not verified/g)).toHaveLength(1);
      expect(text).toMatch(/see note 1/);
      expect(text).toMatch(/-v prints each note under every image/);
    }
  });

  it('APPLIED says what happened, not the mode; plurals agree', () => {
    const text = lines(outputs.piped).join('\n');
    expect(text).toMatch(/FAIL +vulnerabilities: 1 blocking finding \(/);
    expect(text).not.toMatch(/\b1 (blocking findings|other findings|checks|images)\b/);
    expect(text).toMatch(/demo\/clean:1\.0 +RELEASE +promoted to release\/demo\/clean/);
    expect(text).toMatch(/demo\/vulnerable:1\.0 +BLOCK +not promoted/);
    expect(text).not.toMatch(/ promote +(released|blocked):/);
  });

  it('piped and NO_COLOR: no ANSI codes; piped rows are not padded to a fixed width', () => {
    expect(outputs.piped).not.toMatch(ANSI);
    expect(outputs.noColor).not.toMatch(ANSI);
    expect(outputs.noColor).toMatch(/│ DECISION/); // still a fitted table, only without colour
    for (const l of lines(outputs.piped)) expect(l).toBe(l.trimEnd());
  });
});
