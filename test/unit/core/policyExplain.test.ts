/**
 * explainPolicy agrees with the look-ups the gate and the purge use: the rule it says applies is
 * `findGateRule`'s, every scope it lists before it does not match, and `applies` is exactly "registry allowed
 * and a rule matched" (fast-check, fixed seed). Exceptions expire at the end of their UTC day.
 */
import fc from 'fast-check';
import { explainPolicy, explainScope } from '../../../src/core/policyExplain';
import { loadPolicy } from '../../../src/core/policy';
import { findGateRule, findRetentionRule, isRegistryAllowed } from '../../../src/core/policyLookup';
import { matchGlob } from '../../../src/core/glob';

const SCOPES = ['contoso/edge/**', 'contoso/*', 'mirror/**', '**/api', 'team/a?c', 'exact/name'];
const REPOS = [
  'contoso/api',
  'contoso/edge/web',
  'contoso',
  'mirror/x/y',
  'team/abc',
  'team/a/c',
  'api',
  'x/api',
  'exact/name',
  'other',
];

function policyWith(scopes: string[]): ReturnType<typeof loadPolicy> {
  const gate = scopes
    .map(
      (s) =>
        `  - scope: "${s}"\n    vulnerabilities:\n      exceptions: [{ id: CVE-1, expires: 2027-01-31, reason: r }]\n`,
    )
    .join('');
  const retention = scopes.map((s) => `  - { scope: "${s}", keep: 1 }\n`).join('');
  return loadPolicy(
    `version: 1\nregistries: [a.io, 127.0.0.1:5000]\ngate:\n${gate || ' []\n'}retention:\n${retention || ' []\n'}`,
  );
}

describe('explainPolicy', () => {
  it('agrees with findGateRule / findRetentionRule / isRegistryAllowed on every generated case (seed 21)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.constantFrom(...SCOPES), { maxLength: SCOPES.length }),
        fc.constantFrom(...REPOS),
        fc.constantFrom('a.io', 'A.IO:443', '127.0.0.1:5000', 'b.io'),
        (scopes, repository, registry) => {
          const policy = policyWith(scopes);
          const e = explainPolicy(
            policy,
            { registry: registry.toLowerCase().replace(':443', ''), repository, tag: 't' },
            new Date(0),
          );
          expect(e.gate.rule?.index).toBe(findGateRule(policy, repository)?.index);
          expect(e.retention.rule?.path).toBe(
            findRetentionRule(policy, repository)
              ? `retention[${findRetentionRule(policy, repository)?.index}]`
              : undefined,
          );
          const before = e.gate.rule ? e.gate.considered.slice(0, -1) : e.gate.considered;
          for (const s of before)
            expect([s.scope, matchGlob(s.scope, repository), s.matched]).toEqual([s.scope, false, false]);
          expect(e.applies).toBe(isRegistryAllowed(policy, registry) && e.gate.rule !== undefined);
          expect(e.refusal === undefined).toBe(e.applies);
        },
      ),
      { seed: 21, numRuns: 400 },
    );
  });

  it('an exception is in force through the end of its expiry day (UTC), expired from the next midnight', () => {
    const policy = policyWith(['contoso/*']);
    const at = (iso: string): boolean[] =>
      explainPolicy(
        policy,
        { registry: 'a.io', repository: 'contoso/api', tag: '1' },
        new Date(iso),
      ).gate.vulnerabilities!.exceptions.map((x) => x.expired);
    expect(at('2027-01-31T23:59:59.999Z')).toEqual([false]);
    expect(at('2027-02-01T00:00:00.000Z')).toEqual([true]);
  });

  it('says why a scope does not match', () => {
    expect(explainScope('contoso/**', 'contoso').reason).toBe(
      'a trailing "/**" needs at least one more path segment after contoso',
    );
    expect(explainScope('exact/name', 'exact/other').reason).toBe('"exact/name" names only exact/name');
    expect(explainScope('team/a?c', 'team/a/c').reason).toBe(
      '"?" matches within one path segment: "team/a?c" has 2 segments, team/a/c 3',
    );
    expect(explainScope('contoso/*', 'contoso/a/b')).toEqual({
      matched: false,
      reason: '"*" matches within one path segment: "contoso/*" has 2 segments, contoso/a/b 3',
    });
  });
});
