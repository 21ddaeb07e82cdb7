/**
 * `withCause`: the error behind a failure recorded as data stays on it for the CLI's hints, and nowhere else
 * (JSON, object spreads, deep equality), so recorded outcomes and result envelopes are unchanged.
 */
import { causeOf, withCause } from '../../../src/core/errors';
import { hintsForFailures } from '../../../src/cli/hints';

describe('withCause / causeOf', () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });

  it('keeps the error on the object, invisible to JSON, spreads and toEqual', () => {
    const failure = withCause({ code: 'TRANSIENT', detail: 'listing failed' }, refused);
    expect(causeOf(failure)).toBe(refused);
    expect(JSON.stringify(failure)).toBe('{"code":"TRANSIENT","detail":"listing failed"}');
    expect(causeOf({ ...failure })).toBeUndefined();
    expect(failure).toEqual({ code: 'TRANSIENT', detail: 'listing failed' });
    expect(Object.keys(failure)).toEqual(['code', 'detail']);
  });

  it('an ordinary `cause` field is data, not a kept error', () => {
    expect(causeOf({ cause: refused })).toBeUndefined();
    expect(causeOf(undefined)).toBeUndefined();
    expect(causeOf('text')).toBeUndefined();
  });

  it('hintsForFailures: the hint of each kept error, once each; none for failures without one', () => {
    const a = withCause({ code: 'TRANSIENT' }, refused);
    const b = withCause({ code: 'TRANSIENT' }, refused);
    expect(hintsForFailures([a, undefined, { code: 'ERROR' }, b], [])).toEqual([
      'is the server running? nothing accepted the connection',
    ]);
    expect(hintsForFailures([withCause({}, new Error('boom'))], [])).toEqual([]);
  });
});
