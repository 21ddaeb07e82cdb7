/**
 * The layers point one way (README "Architecture"): every relative import in src/ goes to the same layer or a
 * lower one, core stays free of the Azure SDKs and of I/O modules, and only the Azure host's composition module
 * registers functions with the host. Reads the source text; runs nothing.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const SRC = resolve(__dirname, '../../src');

/**
 * Rank of each folder: a module may import its own folder and any folder of a lower rank. `functions` and
 * `local` are sibling hosts (neither imports the other); the CLI may start the local service (`serve`, `demo`).
 */
const LAYERS: Record<string, { rank: number; also?: string[] }> = {
  core: { rank: 0 },
  adapters: { rank: 1 },
  jobs: { rank: 2 },
  orchestrations: { rank: 3 },
  app: { rank: 4 },
  functions: { rank: 5 },
  local: { rank: 5 },
  cli: { rank: 6, also: ['local'] },
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

function layerOf(file: string): string {
  const top = relative(SRC, file).split('/')[0];
  if (!(top in LAYERS))
    throw new Error(
      `${relative(SRC, file)} is in no layer: add its folder to LAYERS (and to the README's layer table)`,
    );
  return top;
}

/** Module specifiers of static imports, re-exports, dynamic imports and requires. */
function importsOf(text: string): string[] {
  const specs: string[] = [];
  const patterns = [
    /\bfrom\s+['"]([^'"]+)['"]/g,
    /\bimport\s+['"]([^'"]+)['"]/g,
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\brequire\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const re of patterns) for (const m of text.matchAll(re)) specs.push(m[1]);
  return specs;
}

function allowed(from: string, to: string): boolean {
  if (from === to || LAYERS[from].also?.includes(to)) return true;
  // A host is imported only where LAYERS says so (the CLI starting the local service).
  if (to === 'functions' || to === 'local') return false;
  return LAYERS[to].rank < LAYERS[from].rank;
}

const files = sourceFiles(SRC);

describe('layers', () => {
  it('every src folder is a known layer', () => {
    for (const file of files) expect(() => layerOf(file)).not.toThrow();
  });

  it('no import reaches up a layer or across to another host', () => {
    const violations: string[] = [];
    for (const file of files) {
      const from = layerOf(file);
      for (const spec of importsOf(readFileSync(file, 'utf8'))) {
        if (!spec.startsWith('.')) continue;
        const target = resolve(dirname(file), spec);
        const to = layerOf(target.endsWith('.ts') ? target : `${target}.ts`);
        if (!allowed(from, to)) violations.push(`${relative(SRC, file)} (${from}) imports ${spec} (${to})`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('core imports no Azure SDK, no Functions library and no I/O module', () => {
    const violations: string[] = [];
    for (const file of files.filter((f) => layerOf(f) === 'core')) {
      for (const spec of importsOf(readFileSync(file, 'utf8'))) {
        if (
          /^@azure\//.test(spec) ||
          spec === 'durable-functions' ||
          spec === 'undici' ||
          /^(node:)?(fs|fs\/promises|http|http2|https|net|child_process|dgram|dns|tls|os|zlib|stream|worker_threads|readline)$/.test(
            spec,
          )
        ) {
          violations.push(`${relative(SRC, file)} imports ${spec}`);
        }
      }
    }
    expect(violations).toEqual([]);
  });

  it('only src/functions/index.ts registers with the Functions host', () => {
    // Any app.<trigger>( (every trigger kind, present and future), df.app.*, or a renamed import of `app`.
    const registering = files.filter((f) =>
      /\bapp\.[a-zA-Z]+\(|\bdf\.app\.|\bapp\s+as\s+\w+/.test(readFileSync(f, 'utf8')),
    );
    expect(registering.map((f) => relative(SRC, f))).toEqual(['functions/index.ts']);
  });

  it('the checker itself refuses an upward import and a cross-host import', () => {
    expect(allowed('adapters', 'app')).toBe(false);
    expect(allowed('core', 'adapters')).toBe(false);
    expect(allowed('local', 'functions')).toBe(false);
    expect(allowed('functions', 'local')).toBe(false);
    expect(allowed('functions', 'cli')).toBe(false);
    expect(allowed('cli', 'local')).toBe(true);
    expect(allowed('cli', 'functions')).toBe(false);
    expect(allowed('app', 'orchestrations')).toBe(true);
    expect(allowed('jobs', 'adapters')).toBe(true);
  });
});
