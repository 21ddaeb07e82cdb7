/** The result envelope's pure parts: counts, exit codes, check mappings, the field a usage message names. */
import {
  checkOfDoctor,
  checkOfVerdict,
  countChecks,
  errorResultOf,
  exitCodeOf,
  fieldOfMessage,
  resultOf,
} from '../../src/core/result';
import { expectValidResult } from '../support/resultSchema';

describe('result envelope (core)', () => {
  it('maps outcomes to the one exit-code table', () => {
    expect(exitCodeOf('pass')).toBe(0);
    expect(exitCodeOf('fail')).toBe(3);
    expect(exitCodeOf('error', 'runtime')).toBe(1);
    expect(exitCodeOf('error', 'usage')).toBe(2);
    expect(exitCodeOf('pending')).toBe(3);
  });

  it('counts every status, all four keys even when zero', () => {
    expect(countChecks([])).toEqual({ pass: 0, fail: 0, skip: 0, inconclusive: 0 });
    expect(
      countChecks([{ status: 'pass' }, { status: 'fail' }, { status: 'pass' }, { status: 'inconclusive' }]),
    ).toEqual({ pass: 2, fail: 1, skip: 0, inconclusive: 1 });
  });

  it('maps doctor checks: id → name, evidence → reason, unknown → inconclusive, fix only when not passing', () => {
    expect(checkOfDoctor({ id: 'pull.x', target: 't', status: 'pass', evidence: 'ok', fix: '' })).toEqual({
      name: 'pull.x',
      target: 't',
      status: 'pass',
      reason: 'ok',
    });
    expect(checkOfDoctor({ id: 'pull.y', target: 't', status: 'unknown', evidence: 'e', fix: 'az x' })).toEqual({
      name: 'pull.y',
      target: 't',
      status: 'inconclusive',
      reason: 'e',
      fix: 'az x',
    });
    expect(
      checkOfVerdict({ name: 'scan:reports', source: 'reports', status: 'fail', reason: 'r', manifest: 'sha256:a' }),
    ).toEqual({
      name: 'scan:reports',
      target: 'sha256:a',
      status: 'fail',
      reason: 'r',
    });
  });

  it('drops a fix from a passing check and builds valid envelopes', () => {
    const r = resultOf({
      kind: 'DoctorResult',
      subject: 's',
      outcome: 'pass',
      summary: 'x',
      checks: [{ name: 'a', status: 'pass', reason: 'r', fix: 'az y' }],
    });
    expect(r.checks[0]).not.toHaveProperty('fix');
    expectValidResult(r);
    const e = errorResultOf({ subject: 's', error: { code: 'USAGE', message: 'm' }, errorKind: 'usage' });
    expect(e).toMatchObject({ kind: 'Error', outcome: 'error', exitCode: 2 });
    expectValidResult(e);
    // A pass with errors, or an error without one, is not a valid result.
    expect(() => expectValidResult({ ...r, errors: [{ code: 'X', message: 'm' }] })).toThrow(/errors/);
    expect(() => expectValidResult({ ...e, errors: [] })).toThrow(/errors/);
    expect(() => expectValidResult({ ...r, exitCode: 3 })).toThrow(/exitCode/);
  });

  it.each([
    ['--scan-deadline: expected a duration', '--scan-deadline'],
    ['--policy <file> is required\nusage: …', '--policy'],
    ['--trust-policy and --trust-store go together', '--trust-policy'],
    ['--plain-http goes with --reach-registry', '--plain-http'],
    ['gate[0].vulnerabilites: expected no unknown keys', 'gate[0].vulnerabilites'],
    ['image: expected <registry>/<repository>', 'image'],
    ['expected exactly one image reference, got 0', undefined],
    ["registry x is not in the policy's registries allowlist", undefined],
    ['no inventory: pass --deployed <file>', undefined],
  ])('the field of %j is %j', (message, field) => {
    expect(fieldOfMessage(message)).toBe(field);
  });
});
