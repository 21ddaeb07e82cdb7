/**
 * .funcignore (gitignore rules) ships what the Functions app runs: the bundle under dist/src/functions and the
 * page's static files under dist/src/app/page, and leaves the sources and tests out. An unanchored `src` used to
 * match dist/src too. Read with `ignore`, the gitignore matcher eslint already brings in (a dev-only dependency).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ignore from 'ignore';

describe('.funcignore', () => {
  const rules = ignore().add(readFileSync(join(__dirname, '../../.funcignore'), 'utf8'));

  it('ships the bundle, the lazy SDK files and the page', () => {
    for (const path of [
      'host.json',
      'package.json',
      'dist/src/functions/index.js',
      'dist/src/functions/sdk/azure-identity.js',
      'dist/src/app/page/index.html',
      'dist/src/app/page/app.js',
      'dist/src/app/page/style.css',
    ])
      expect({ path, ignored: rules.ignores(path) }).toEqual({ path, ignored: false });
  });

  it('leaves out the sources, tests and tools', () => {
    for (const path of [
      'src/functions/index.ts',
      'src/app/page/app.js',
      'test/functions/page.test.ts',
      'node_modules/x/y.js',
      '.tools/bin/oras',
    ])
      expect({ path, ignored: rules.ignores(path) }).toEqual({ path, ignored: true });
  });
});
