// Bundles the Functions app, the CLI and the benchmarks with esbuild (type checking is `npm run typecheck`).
import { build } from 'esbuild';
import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
// Where the bundles go: dist/ (package.json `main`, bin/acr-guard.js), or elsewhere for the bundle's own test.
const dist = process.env.ACR_GUARD_BUILD_DIR ?? join(root, 'dist');

// Packages acr-guard's own code loads where it first uses them (a lazy `require` inside the adapter or
// function). In the Functions bundle each group becomes a file of its own under dist/src/functions/sdk/, read
// only when first required: a cold start parses what registration needs, not every SDK
// (`npm run bench:coldstart`). Packages that share module state stay in one group: @peculiar/asn1-x509 and
// asn1-cms register their schemas in asn1-schema's storage, so the three (and asn1js) need one copy.
const LAZY_GROUPS = {
  'azure-identity': ['@azure/identity'],
  'azure-data-tables': ['@azure/data-tables'],
  'azure-storage-blob': ['@azure/storage-blob'],
  'azure-arm-appcontainers': ['@azure/arm-appcontainers'],
  'azure-arm-containerinstance': ['@azure/arm-containerinstance'],
  'azure-arm-containerregistry': ['@azure/arm-containerregistry'],
  'azure-arm-resourcegraph': ['@azure/arm-resourcegraph'],
  'azure-keyvault-secrets': ['@azure/keyvault-secrets'],
  'azure-keyvault-keys': ['@azure/keyvault-keys'],
  'azure-monitor-query-logs': ['@azure/monitor-query-logs'],
  'azure-monitor-ingestion': ['@azure/monitor-ingestion'],
  'signature-libs': ['@peculiar/asn1-schema', '@peculiar/asn1-x509', '@peculiar/asn1-cms', 'asn1js', 'cbor'],
  // durable-functions requires axios at load but uses it only when a DurableClient is built (`axios.default.create`
  // in its constructor): a proxy stands in for it until then (see `lazyDependencies`).
  axios: ['axios'],
};
/** Packages that other packages require at load but use later: `importer` must match for the proxy to apply. */
const LAZY_DEPENDENCIES = [{ name: 'axios', importer: /node_modules\/durable-functions\// }];
const groupOf = new Map(Object.entries(LAZY_GROUPS).flatMap(([group, names]) => names.map((name) => [name, group])));

const common = {
  absWorkingDir: root,
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
};

/**
 * In the Functions bundle, a lazy package required by acr-guard's own code (not by another package) becomes
 * `require('./sdk/<group>.js')['<package>']`, left to run time; the group file is built beside it.
 */
const lazyGroups = {
  name: 'lazy-groups',
  setup(b) {
    b.onResolve({ filter: /^[@a-z]/ }, (args) => {
      const group = groupOf.get(args.path);
      if (!group || /node_modules/.test(args.importer)) return undefined;
      return { path: args.path, namespace: 'lazy-group', pluginData: { group } };
    });
    b.onResolve({ filter: /^\.\/sdk\//, namespace: 'lazy-group' }, (args) => ({ path: args.path, external: true }));
    b.onLoad({ filter: /.*/, namespace: 'lazy-group' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(`./sdk/${args.pluginData.group}.js`)})[${JSON.stringify(args.path)}];`,
      loader: 'js',
    }));
  },
};

/**
 * A package another package requires at load time becomes a proxy that requires the real one (from its group
 * file) on first use: property reads, calls and `new` go through. `__esModule` is answered without loading, and
 * `default` is the proxy itself (axios's CommonJS build exports itself as its own `default`).
 */
const lazyDependencies = {
  name: 'lazy-dependencies',
  setup(b) {
    b.onResolve({ filter: /^[@a-z]/ }, (args) => {
      const lazy = LAZY_DEPENDENCIES.find((d) => d.name === args.path && d.importer.test(args.importer));
      return lazy
        ? { path: args.path, namespace: 'lazy-dependency', pluginData: { group: groupOf.get(args.path) } }
        : undefined;
    });
    b.onResolve({ filter: /^\.\/sdk\//, namespace: 'lazy-dependency' }, (args) => ({
      path: args.path,
      external: true,
    }));
    b.onLoad({ filter: /.*/, namespace: 'lazy-dependency' }, (args) => ({
      contents: `let real;
const load = () => (real ??= require(${JSON.stringify(`./sdk/${args.pluginData.group}.js`)})[${JSON.stringify(args.path)}]);
const proxy = new Proxy(function () {}, {
  get: (_, key) => (key === '__esModule' ? undefined : key === 'default' ? proxy : Reflect.get(load(), key)),
  has: (_, key) => Reflect.has(load(), key),
  apply: (_, self, args) => Reflect.apply(load(), self, args),
  construct: (_, args) => Reflect.construct(load(), args),
});
module.exports = proxy;`,
      loader: 'js',
    }));
  },
};

/** The entry of one group's file: each package behind a getter, so it is evaluated only when first asked for. */
function groupEntry(names) {
  return names
    .map(
      (name) =>
        `Object.defineProperty(exports, ${JSON.stringify(name)}, { enumerable: true, get: () => require(${JSON.stringify(name)}) });`,
    )
    .join('\n');
}

rmSync(dist, { recursive: true, force: true });
await Promise.all([
  // The Functions host's bundle (src/functions/index.ts imports every registration, so the app has a single
  // copy of @azure/functions and durable-functions), and beside it one bundle per lazy SDK.
  build({
    ...common,
    entryPoints: ['src/functions/index.ts'],
    outbase: '.',
    outdir: dist,
    entryNames: '[dir]/[name]',
    plugins: [lazyGroups, lazyDependencies],
  }),
  ...Object.entries(LAZY_GROUPS).map(([group, names]) =>
    build({
      ...common,
      stdin: { contents: groupEntry(names), resolveDir: root, sourcefile: `sdk/${group}.js` },
      outfile: join(dist, `src/functions/sdk/${group}.js`),
    }),
  ),
  // The CLI and the benchmarks: one file each (their SDKs are still evaluated only where first used).
  build({
    ...common,
    entryPoints: [
      'src/cli/main.ts',
      'bench/gateBench.ts',
      'bench/verifyBench.ts',
      'bench/purgeBench.ts',
      'bench/runtimeBench.ts',
      'bench/hostileReportBench.ts',
      'bench/proofBench.ts',
    ],
    outbase: '.',
    outdir: dist,
    entryNames: '[dir]/[name]',
  }),
]);

// The verdicts page is served as plain files (no build step) by both hosts: copied beside the bundles, where
// src/app/page.ts looks for it (dist/src/app/page, next to dist/src/functions and dist/src/cli; .funcignore ships it).
cpSync(join(root, 'src/app/page'), join(dist, 'src/app/page'), { recursive: true });
