/**
 * Orchestration versions: host.json stamps new instances with the version the code calls current, and the gate
 * knows exactly which versions it can replay.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ORCHESTRATION_VERSION, gateShapeOf } from '../../src/orchestrations/versions';

describe('host.json durableTask versioning', () => {
  const host = JSON.parse(readFileSync(join(__dirname, '..', '..', 'host.json'), 'utf8')) as {
    extensions?: { durableTask?: { defaultVersion?: unknown; versionMatchStrategy?: unknown } };
  };

  it('stamps new instances with ORCHESTRATION_VERSION', () => {
    expect(host.extensions?.durableTask?.defaultVersion).toBe(ORCHESTRATION_VERSION);
  });

  it('never lets a worker take an instance newer than its own (CurrentOrOlder)', () => {
    expect(host.extensions?.durableTask?.versionMatchStrategy).toBe('CurrentOrOlder');
  });
});

describe('gateShapeOf', () => {
  it.each([
    ['no version', undefined],
    ['an empty version', ''],
    ['"1"', '1'],
  ])('replays %s as shape 1', (_label, version) => {
    expect(gateShapeOf(version)).toBe(1);
  });

  it('replays "2" as shape 2 and "3" as shape 3', () => {
    expect(gateShapeOf('2')).toBe(2);
    expect(gateShapeOf('3')).toBe(3);
  });

  it('knows the current version', () => {
    expect(() => gateShapeOf(ORCHESTRATION_VERSION)).not.toThrow();
  });

  it.each(['4', '3.0'])('throws on version "%s", naming it', (version) => {
    expect(() => gateShapeOf(version)).toThrow(`"${version}"`);
  });
});
