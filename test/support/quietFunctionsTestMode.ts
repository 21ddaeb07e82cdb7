/**
 * Outside the Functions host, @azure/functions warns once that it switched to test mode and once per function
 * registration it skips. Tests load the trigger modules for their handlers, so those lines (two per trigger
 * module, in every suite) are expected and would bury real warnings; the CLI launcher drops the same two.
 */
const warn = console.warn.bind(console);
console.warn = (...args: unknown[]): void => {
  if (typeof args[0] === 'string' && /^WARNING: (Failed to detect the Azure Functions runtime|Skipping call to register)/.test(args[0])) return;
  warn(...args);
};
