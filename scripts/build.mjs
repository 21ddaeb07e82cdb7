// Bundles the Functions app, the CLI and the benchmark with esbuild (type checking is `npm run typecheck`).
import { build } from 'esbuild';
import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
// One bundle for the Functions host (src/functions/index.ts imports every registration, so the app has a
// single copy of @azure/functions and durable-functions), one for the CLI, one for the benchmark.
const entryPoints = ['src/functions/index.ts', 'src/cli/main.ts', 'bench/gateBench.ts', 'bench/verifyBench.ts', 'bench/purgeBench.ts', 'bench/runtimeBench.ts'];

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
  // ESM-only dependencies (@azure/storage-common's crc64) call createRequire(import.meta.url), which is empty
  // in a CommonJS bundle; give them the bundle's own file URL instead.
  define: { 'import.meta.url': '__acrGuardImportMetaUrl' },
  banner: { js: "var __acrGuardImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
});

// The local service's page is served as plain files (no build step): copied beside the bundle, where
// src/local/serve.ts looks for it (dist/src/local/page).
cpSync(join(root, 'src/local/page'), join(root, 'dist/src/local/page'), { recursive: true });
