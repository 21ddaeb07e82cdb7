/**
 * The driver builds every history event with the library's own classes and turns it into the host's JSON shape
 * without a text round trip (`jsonShaped`); it must give exactly what `JSON.parse(JSON.stringify(…))` gives.
 */
import fc from 'fast-check';
import { jsonShaped, makeEvent } from '../../src/local/durable/history';

const roundTrip = (value: unknown): unknown => JSON.parse(JSON.stringify(value)) as unknown;

describe('jsonShaped (history events without a JSON text round trip)', () => {
  it('equals the JSON round trip for any JSON-like value with dates, undefined and odd numbers', () => {
    const leaf = fc.oneof(
      fc.string(),
      fc.boolean(),
      fc.constant(null),
      fc.constant(undefined),
      fc.double(),
      fc.integer(),
      fc.date({ noInvalidDate: false }),
      fc.constant(Number.NaN),
      fc.constant(Infinity),
    );
    const value = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('node')), fc.dictionary(fc.string(), tie('node'))),
    })).node;
    fc.assert(
      fc.property(fc.dictionary(fc.string(), value), (obj) => {
        expect(jsonShaped(obj)).toEqual(roundTrip(obj));
      }),
      { seed: 22, numRuns: 500 },
    );
  });

  it('gives every event kind the driver makes the same shape as the round trip', () => {
    const at = new Date('2026-12-07T23:00:00.123Z');
    const cases: Array<[Parameters<typeof makeEvent>[0], Record<string, unknown>]> = [
      ['OrchestratorStartedEvent', {}],
      ['ExecutionStartedEvent', { name: 'imageGate', input: '{"a":1}' }],
      ['TaskScheduledEvent', { name: 'imageGate_resolveManifest', input: undefined }],
      ['TaskCompletedEvent', { taskScheduledId: 3, result: 'null' }],
      [
        'TaskFailedEvent',
        {
          taskScheduledId: 4,
          reason: 'r',
          details: 'd',
          failureDetails: { ErrorType: 'Error', ErrorMessage: 'm', StackTrace: undefined, IsNonRetriable: false },
        },
      ],
      ['TimerCreatedEvent', { fireAt: new Date('2026-12-08T00:00:00Z') }],
      ['TimerFiredEvent', { timerId: 5, fireAt: new Date('2026-12-08T00:00:00Z') }],
      ['SubOrchestrationInstanceCreatedEvent', { name: 'repositoryPurge', input: '{}', instanceId: 'x:1' }],
      ['OrchestratorCompletedEvent', {}],
    ];
    for (const [kind, fields] of cases) {
      const event = makeEvent(kind, 7, at, fields);
      expect(event.Timestamp).toBe(at.toISOString());
      expect(JSON.stringify(event)).toBe(JSON.stringify(roundTrip(event)));
    }
  });
});
