/**
 * The result envelope (src/core/result.ts): counts, exit codes, `fix` only on checks that did not pass, and every
 * envelope the builders produce is valid under schemas/result.v1.schema.json (ajv, JSON Schema 2020-12).
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import fc from 'fast-check';
import {
  CHECK_STATUSES,
  RESULT_KINDS,
  countChecks,
  errorResultOf,
  exitCodeOf,
  resultOf,
  type ResultCheck,
} from '../../../src/core/result';

const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false });
const validate = ajv.compile(
  JSON.parse(readFileSync(join(resolve(__dirname, '../../..'), 'schemas/result.v1.schema.json'), 'utf8')),
);

describe('result envelope', () => {
  it('exit codes: pass 0, fail 3, error 2 (usage) or 1 (runtime)', () => {
    expect([exitCodeOf('pass'), exitCodeOf('fail'), exitCodeOf('error', 'usage'), exitCodeOf('error')]).toEqual([
      0, 3, 2, 1,
    ]);
  });

  it('counts always carry all four statuses; a fix is dropped from a passing check', () => {
    const checks: ResultCheck[] = [
      { name: 'a', status: 'pass', reason: 'ok', fix: 'nothing to do' },
      { name: 'b', status: 'fail', reason: 'no', fix: 'do this' },
    ];
    expect(countChecks([])).toEqual({ pass: 0, fail: 0, skip: 0, inconclusive: 0 });
    const result = resultOf({ kind: 'GateResult', subject: 's', outcome: 'fail', summary: 'blocked', checks });
    expect(result.checks).toEqual([
      { name: 'a', status: 'pass', reason: 'ok' },
      { name: 'b', status: 'fail', reason: 'no', fix: 'do this' },
    ]);
    expect(result).toMatchObject({
      counts: { pass: 1, fail: 1, skip: 0, inconclusive: 0 },
      exitCode: 3,
      errors: [],
      data: {},
    });
    expect(validate(result)).toBe(true);
  });

  it('an error envelope: kind Error by default, errors[0] with code and field, valid under the schema', () => {
    const result = errorResultOf({
      subject: 'x',
      error: { code: 'INVALID_INPUT', message: '--output: expected "json" or "table"', field: '--output' },
      errorKind: 'usage',
    });
    expect(result).toMatchObject({ kind: 'Error', outcome: 'error', exitCode: 2, summary: result.errors[0].message });
    expect(validate(result)).toBe(true);
  });

  it('the schema refuses what the builders never produce: a fix on a pass, an exit code that contradicts the outcome', () => {
    const ok = resultOf({ kind: 'DoctorResult', subject: 's', outcome: 'pass', summary: 'fine' });
    expect(validate({ ...ok, exitCode: 3 })).toBe(false);
    expect(validate({ ...ok, checks: [{ name: 'a', status: 'pass', reason: 'r', fix: 'f' }] })).toBe(false);
    expect(validate({ ...ok, checks: [{ name: 'a', status: 'unknown', reason: 'r' }] })).toBe(false);
    expect(validate({ ...ok, kind: 'Error' })).toBe(false);
  });

  it('every envelope built from any kind, outcome and checks is valid (fast-check, seed 21)', () => {
    const check = fc.record(
      {
        name: fc.string({ minLength: 1, maxLength: 8 }),
        target: fc.string({ maxLength: 8 }),
        status: fc.constantFrom(...CHECK_STATUSES),
        reason: fc.string({ maxLength: 20 }),
        fix: fc.string({ minLength: 1, maxLength: 8 }),
      },
      { requiredKeys: ['name', 'status', 'reason'] },
    );
    fc.assert(
      fc.property(
        fc.constantFrom(...RESULT_KINDS.filter((k) => k !== 'Error' && k !== 'PolicyResult')),
        // pass and fail envelopes carry each kind's own data (schema'd per kind, covered by test/unit/result.test.ts
        // and the commands' tests); an error envelope is the same for every kind.
        fc.constantFrom('usage' as const, 'runtime' as const),
        fc.array(check, { maxLength: 5 }),
        (kind, errorKind, checks) => {
          const result = errorResultOf({
            kind,
            subject: 's',
            error: { code: 'UPSTREAM', message: 'm' },
            errorKind,
            checks,
          });
          if (!validate(result)) throw new Error(ajv.errorsText(validate.errors));
          expect(Object.values(result.counts).reduce((a, b) => a + b, 0)).toBe(checks.length);
        },
      ),
      { seed: 21, numRuns: 300 },
    );
  });
});
