#!/usr/bin/env node
'use strict';
// Thin launcher: the CLI is bundled into dist/ by `npm run build`. Before a build there is nothing to run:
// say so in one line (exit 2, a configuration error) instead of a module-not-found stack trace.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const main = join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
if (!existsSync(main)) {
  process.stderr.write(
    `acr-guard: the CLI is not built (${main} is missing); run \`npm run build\` in ${join(__dirname, '..')} first, then run this command again\n`,
  );
  process.exit(2);
}
require(main).run();
