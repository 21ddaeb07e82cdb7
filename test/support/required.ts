/**
 * Tests that need something from outside the repository (an installed tool, the shared test vectors): outside
 * CI they skip with one line when it is missing; under `CI=true` they run and fail, naming what is missing
 * and how to get it, because a CI run that quietly skipped them would prove nothing.
 */

/** True under CI: `CI` set to anything but empty, `false` or `0` (as CI services set it; `.ci/run` sets `true`). */
export function inCi(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.CI !== undefined && env.CI !== '' && env.CI !== 'false' && env.CI !== '0';
}

/** What a test block needs, and how to get it when it is missing. */
export interface Requirement {
  /** Whether it is present. */
  present: boolean;
  /** What it is, for the messages: e.g. `notation, cosign and oras in .tools/bin`. */
  what: string;
  /** How to get it: e.g. `scripts/ensure-tools.sh builds them when Go is installed`. */
  how: string;
}

/**
 * `describe` when every requirement is present; otherwise `describe.skip` after one line outside CI, and in
 * CI a `describe` whose `beforeAll` throws (every test of the block fails with the reason).
 */
export function describeRequiring(...requirements: Requirement[]): jest.Describe {
  const missing = requirements.filter((r) => !r.present);
  if (missing.length === 0) return describe;
  const reason = missing.map((r) => `${r.what} is missing (${r.how})`).join('; ');
  if (!inCi()) {
    console.log(`skipped: ${reason}`);
    return describe.skip;
  }
  const failing = (name: string | number | jest.FunctionLike, fn: jest.EmptyFunction): void =>
    describe(name, () => {
      beforeAll(() => {
        throw new Error(`CI=true but ${reason}`);
      });
      fn();
    });
  return Object.assign(failing, {
    each: describe.each,
    only: describe.only,
    skip: describe.skip,
  }) as unknown as jest.Describe;
}
