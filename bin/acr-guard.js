#!/usr/bin/env node
'use strict';
// Thin launcher: the CLI is bundled into dist/ by `npm run build`.
// Outside the Functions host, @azure/functions prints a warning per function registration at load time; the
// CLI and the local service call the handlers directly, so those lines say nothing useful here.
const warn = console.warn;
console.warn = (...args) => {
  if (typeof args[0] === 'string' && /^WARNING: (Failed to detect the Azure Functions runtime|Skipping call to register)/.test(args[0])) return;
  warn(...args);
};
require('../dist/src/cli/main.js').run();
