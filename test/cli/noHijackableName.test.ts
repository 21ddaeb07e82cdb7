/**
 * No hijackable name: acr-guard is `private: true` and published nowhere, so nothing this project ships may tell
 * anyone to run it through `npx acr-guard` (or `npm exec`/`npm x` without `--no`, `pnpm dlx`, `yarn dlx`, `bunx`):
 * outside the checkout, that downloads and runs whatever anyone published under the name. The docs run the bin
 * from the checkout instead (`node bin/acr-guard.js`, docs/ci.md "Installing acr-guard in a pipeline").
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');

/** A package-runner invocation naming the package `acr-guard`: the runner, its flags, then the name. */
const RUNNER =
  /\b(npx|bunx|pnpm\s+dlx|yarn\s+dlx|npm\s+(?:exec|x))((?:\s+-{1,2}[\w-]+(?:=\S+)?)*)(?:\s+-p)?(?:\s+--)?\s+acr-guard(?![\w./-])/g;

/** Every way the text tells someone to fetch and run a package named acr-guard (`--no`/`--no-install` refuse to fetch). */
function hijackableRuns(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(RUNNER)) {
    const flags = m[2].split(/\s+/).filter(Boolean);
    const refusesDownload =
      /^(npx|npm\s+(exec|x))$/.test(m[1].replace(/\s+/g, ' ')) &&
      flags.some((f) => f === '--no' || f === '--no-install');
    if (!refusesDownload) found.push(m[0]);
  }
  return found;
}

/** Text files under `dir` (relative to the root) whose name passes `keep`, recursively. */
function files(dir: string, keep: (name: string) => boolean): string[] {
  const abs = join(ROOT, dir);
  let entries: string[];
  try {
    entries = readdirSync(abs);
  } catch {
    return [];
  }
  return entries.flatMap((name) => {
    const path = join(abs, name);
    if (statSync(path).isDirectory()) return files(relative(ROOT, path), keep);
    return keep(name) ? [relative(ROOT, path)] : [];
  });
}

describe('no hijackable name', () => {
  it('recognises the forms that fetch a package, and lets the checkout forms through', () => {
    for (const bad of [
      'npx acr-guard gate x',
      'run `npx acr-guard --help`',
      'npx -y acr-guard demo',
      'npx --yes acr-guard demo',
      'npx -p acr-guard acr-guard gate',
      'npm exec acr-guard -- gate',
      'npm exec -- acr-guard gate',
      'npm x acr-guard',
      'pnpm dlx acr-guard',
      'yarn dlx acr-guard',
      'bunx acr-guard',
    ])
      expect({ bad, found: hijackableRuns(bad).length }).toEqual({ bad, found: 1 });
    for (const fine of [
      'node bin/acr-guard.js gate x',
      'npm exec --no -- acr-guard gate x',
      'npx --no acr-guard gate',
      'npx --no-install acr-guard gate',
      'npx jest test/cli/noHijackableName.test.ts',
      'never through `npx`: acr-guard is not published',
      'npx acr-guard-other',
    ])
      expect({ fine, found: hijackableRuns(fine) }).toEqual({ fine, found: [] });
  });

  it('README.md, docs/, the azd hooks, scripts, CI and the CLI never tell anyone to npx acr-guard', () => {
    const text = (name: string) => /\.(md|ts|js|mjs|sh|ps1|ya?ml|json|bicep)$/.test(name) || !name.includes('.');
    const checked = [
      'README.md',
      'azure.yaml',
      ...files('docs', text),
      ...files('scripts', text),
      ...files('.ci', text),
      ...files('bin', text),
      ...files('infra', text),
      ...files('src', text),
    ];
    expect(checked).toEqual(expect.arrayContaining(['README.md', 'docs/ci.md', 'bin/acr-guard.js', 'src/cli/main.ts']));
    const offenders = checked.flatMap((file) =>
      hijackableRuns(readFileSync(join(ROOT, file), 'utf8')).map((run) => `${file}: ${run}`),
    );
    expect(offenders).toEqual([]);
  });

  it('README keeps its two commands, and says how to run the CLI from the checkout', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme).toMatch(/```sh\nnpm start {4}# [^\n]+\nnpm test {5}# [^\n]+\n```/);
    expect(readme).toContain('`node bin/acr-guard.js --help`');
    expect(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))).toMatchObject({
      private: true,
      bin: { 'acr-guard': 'bin/acr-guard.js' },
    });
  });
});
