import { ErrorCodes, isGuardError } from '../../../src/core/errors';
import { JsonReader, isJsonObject } from '../../../src/core/jsonReader';

function thrown(fn: () => unknown): { code: string; message: string; field?: string } {
  try {
    fn();
  } catch (err) {
    if (!isGuardError(err)) throw err;
    return { code: err.code, message: err.message, field: err.field };
  }
  throw new Error('expected a refusal');
}

describe('JsonReader', () => {
  const reader = new JsonReader();

  it('names the path, the expected form and what it got', () => {
    const body = { data: { target: { digest: 42, tag: ['x'] } } };
    const target = reader.requireObject(reader.requireObject(body, 'data', ''), 'target', 'data');
    expect(thrown(() => reader.requireString(target, 'digest', 'data.target'))).toEqual({
      code: ErrorCodes.INVALID_INPUT,
      message: 'data.target.digest: expected a non-empty string, got number 42',
      field: 'data.target.digest',
    });
    expect(thrown(() => reader.optionalString(target, 'tag', 'data.target')).message).toBe(
      'data.target.tag: expected a string, got an array of 1',
    );
    expect(thrown(() => reader.requireObject(body.data, 'request', 'data')).message).toBe(
      'data.request: expected an object, got nothing',
    );
  });

  it('joins keys and indexes, a key under the root starting a fresh path', () => {
    expect(reader.join('', 'events')).toBe('events');
    expect(reader.join('(body)', 'events')).toBe('events');
    expect(reader.join('events', 3)).toBe('events[3]');
    expect(reader.fail('', 'one event object').field).toBe('(body)');
  });

  it('reads absent and null optional fields as undefined, and refuses negative or fractional counts', () => {
    expect(reader.optionalString({ a: null }, 'a', '')).toBeUndefined();
    expect(reader.optionalCount({}, 'size', 't')).toBeUndefined();
    expect(reader.optionalCount({ size: 7 }, 'size', 't')).toBe(7);
    expect(thrown(() => reader.optionalCount({ size: -1 }, 'size', 't')).message).toBe(
      't.size: expected a non-negative integer, got number -1',
    );
    expect(thrown(() => reader.optionalCount({ size: 1.5 }, 'size', 't')).field).toBe('t.size');
  });

  it('speaks a caller-chosen code and source, and can leave the value out', () => {
    const policy = new JsonReader({ code: ErrorCodes.INVALID_POLICY, source: 'policy.yaml', root: '(document)' });
    expect(thrown(() => policy.requireObject({}, 'gate', '(document)'))).toEqual({
      code: ErrorCodes.INVALID_POLICY,
      message: 'policy.yaml: gate: expected an object, got nothing',
      field: 'gate',
    });
    expect(policy.fail('gate.x', 'no unknown keys', undefined, false).message).toBe(
      'policy.yaml: gate.x: expected no unknown keys',
    );
  });

  it('speaks one dialect for the trust policy too ("got", a colon after the source)', () => {
    const trust = new JsonReader({ code: ErrorCodes.INVALID_CONFIG, source: 'trust policy', root: '' });
    expect(thrown(() => trust.requireObject({ x: {} }, 'signatureVerification', 'trustPolicies[0]'))).toEqual({
      code: ErrorCodes.INVALID_CONFIG,
      message: 'trust policy: trustPolicies[0].signatureVerification: expected an object, got nothing',
      field: 'trustPolicies[0].signatureVerification',
    });
    expect(trust.fail('$', 'a JSON object', [1]).message).toBe(
      'trust policy: $: expected a JSON object, got an array of 1',
    );
  });

  it('shows a long string cut short, never whole', () => {
    const message = reader.fail('a', 'a short string', 'x'.repeat(5000)).message;
    expect(message.length).toBeLessThan(200);
  });

  it("writes a key that is not an identifier in brackets, and keeps JSONPath's root when asked", () => {
    expect(reader.join('rows[0].properties', 'security-severity')).toBe('rows[0].properties["security-severity"]');
    expect(reader.join('', 'bom-ref')).toBe('bom-ref');
    const report = new JsonReader({ code: ErrorCodes.MALFORMED, root: '$', rootInPaths: true });
    expect(report.join('$', 'runs')).toBe('$.runs');
    expect(report.join('', 'runs')).toBe('$.runs');
    expect(thrown(() => report.requireArray({ runs: 'x' }, 'runs', '$'))).toEqual({
      code: ErrorCodes.MALFORMED,
      message: '$.runs: expected an array, got "x"',
      field: '$.runs',
    });
  });

  it('reads elements of arrays by index, joining the path only when it refuses', () => {
    const results: unknown[] = [{ ruleId: 'CVE-1' }, 'not an object'];
    expect(reader.requireObject(results, 0, '$.runs[0].results')).toEqual({ ruleId: 'CVE-1' });
    expect(thrown(() => reader.requireObject(results, 1, '$.runs[0].results')).message).toBe(
      '$.runs[0].results[1]: expected an object, got "not an object"',
    );
    expect(thrown(() => reader.expectObject([], '$')).message).toBe('$: expected an object, got an array of 0');
    expect(reader.optionalArray({ a: null }, 'a', 'x')).toEqual([]);
    expect(reader.optionalObject({}, 'a', 'x')).toBeUndefined();
    expect(thrown(() => reader.optionalObject({ a: [] }, 'a', 'x')).field).toBe('x.a');
    expect(thrown(() => reader.optionalArray({ a: {} }, 'a', 'x')).message).toBe(
      'x.a: expected an array, got an object',
    );
    expect(reader.requireString({ name: '' }, 'name', 'd', true)).toBe('');
    expect(thrown(() => reader.requireString({ name: 7 }, 'name', 'd', true)).message).toBe(
      'd.name: expected a string, got number 7',
    );
  });

  it('shows where a path is, with its source, for refusals that are not about a form', () => {
    const snapshot = new JsonReader({ source: 's.json' });
    expect(snapshot.where('resources[1].id')).toBe('s.json: resources[1].id');
    expect(reader.where('')).toBe('(body)');
  });

  it('tells objects from arrays and null', () => {
    expect(isJsonObject({})).toBe(true);
    expect(isJsonObject([])).toBe(false);
    expect(isJsonObject(null)).toBe(false);
  });
});
