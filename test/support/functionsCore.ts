/**
 * A stand-in for the Functions host's core module (`@azure/functions-core`, which only the host provides), so
 * that registrations made at import time are recorded instead of dropped in "test mode". Use it from a
 * `jest.mock('@azure/functions-core', () => require('./functionsCore').recordingFunctionsCore(), { virtual: true })`
 * and read what was registered with `registeredFunctions()`.
 */

/** What a registration carried that the tests look at. */
export interface RegisteredFunction {
  name: string;
  bindings: Record<string, { type: string; schedule?: string; route?: string; methods?: string[]; authLevel?: string }>;
  /** The handler as registered (an HTTP function's `(request, context)`). */
  handler?: (...args: unknown[]) => unknown;
}

/** The module object jest hands to the code under test. */
export function recordingFunctionsCore(): {
  registered: RegisteredFunction[];
  setProgrammingModel: () => void;
  registerFunction: (metadata: RegisteredFunction, handler?: RegisteredFunction['handler']) => { dispose: () => void };
} {
  // One list per test file, shared by every instance of the stand-in: `jest.isolateModules` loads a fresh one.
  const shared = globalThis as { __recordedFunctions?: RegisteredFunction[] };
  const registered = (shared.__recordedFunctions ??= []);
  return {
    registered,
    setProgrammingModel: () => undefined,
    registerFunction: (metadata, handler) => {
      registered.push({ ...metadata, ...(handler ? { handler } : {}) });
      return { dispose: () => undefined };
    },
  };
}

/** Every function registered so far in this test file. */
export function registeredFunctions(): RegisteredFunction[] {
  return (jest.requireMock('@azure/functions-core') as { registered: RegisteredFunction[] }).registered;
}
