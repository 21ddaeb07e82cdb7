// Preloaded (`node -r`) by bench/coldStartBench.mjs and test/functions/bundle.test.ts: stands in for
// `@azure/functions-core`, which only the Functions host provides, so the bundle registers its functions as
// it would in the host (instead of @azure/functions' "test mode"), and prints their names on exit when
// ACR_GUARD_PRINT_REGISTRATIONS is set. The handlers are kept in globalThis.acrGuardHandlers (by function name).
const Module = require('node:module');

const registered = [];
const handlers = new Map();
globalThis.acrGuardHandlers = handlers;
const core = {
  setProgrammingModel() {},
  registerFunction(metadata, handler) {
    registered.push(metadata.name);
    handlers.set(metadata.name, handler);
    return { dispose() {} };
  },
};
const load = Module._load;
Module._load = function (request, ...rest) {
  return request === '@azure/functions-core' ? core : load.call(this, request, ...rest);
};
if (process.env.ACR_GUARD_PRINT_REGISTRATIONS)
  process.on('exit', () => process.stdout.write(JSON.stringify(registered)));
