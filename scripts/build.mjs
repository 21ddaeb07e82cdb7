// Bundles the Functions app, the CLI and the benchmark with esbuild (type checking is `npm run typecheck`).
import { build } from 'esbuild';
import { readdirSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const list = (dir) => (existsSync(join(root, dir)) ? readdirSync(join(root, dir)).filter((f) => f.endsWith('.ts')).map((f) => join(dir, f)) : []);
const entryPoints = [
  ...list('src/functions'),
  ...list('src/cli'),
  ...list('bench'),
].filter((f) => !f.endsWith('.d.ts'));

rmSync(join(root, 'dist'), { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints,
  outbase: '.',
  outdir: 'dist',
  entryNames: '[dir]/[name]',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  logLevel: 'warning',
  // The Functions host provides its own copies of these at run time; bundling them would break registration.
  external: ['@azure/functions-core'],
});
