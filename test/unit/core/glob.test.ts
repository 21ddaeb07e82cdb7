import { matchGlob, validateGlob } from '../../../src/core/glob';
import { GuardError } from '../../../src/core/errors';

describe('matchGlob', () => {
  it.each<[string, string, boolean]>([
    ['contoso/*', 'contoso/api', true],
    ['contoso/*', 'contoso/edge/api', false],
    ['contoso/*', 'contoso', false],
    ['contoso/*', 'other/api', false],
    ['contoso/**', 'contoso/api', true],
    ['contoso/**', 'contoso/edge/api', true],
    ['contoso/**', 'contoso', false],
    ['**', 'anything/at/all', true],
    ['**', 'a', true],
    ['*', 'a', true],
    ['*', 'a/b', false],
    ['**/api', 'api', true],
    ['**/api', 'team/api', true],
    ['**/api', 'team/x/api', true],
    ['**/api', 'team/myapi', false],
    ['team/**/api', 'team/api', true],
    ['team/**/api', 'team/a/b/api', true],
    ['team/**/api', 'teamx/api', false],
    ['contoso/api', 'contoso/api', true],
    ['contoso/api', 'contoso/api2', false],
    ['contoso/api-?', 'contoso/api-1', true],
    ['contoso/api-?', 'contoso/api-12', false],
    ['contoso/a?b', 'contoso/a/b', false],
    ['contoso/*-svc', 'contoso/orders-svc', true],
    ['contoso/*-svc', 'contoso/orders-svc/x', false],
    ['*/*', 'a/b', true],
    ['*/*', 'a/b/c', false],
    // Regex metacharacters are literal.
    ['contoso/a.b', 'contoso/a.b', true],
    ['contoso/a.b', 'contoso/axb', false],
    ['contoso/(a|b)', 'contoso/a', false],
    ['contoso/[ab]', 'contoso/a', false],
    ['contoso/a+', 'contoso/aa', false],
    ['^contoso$', 'contoso', false],
    ['', 'contoso', false],
  ])('%s vs %s -> %s', (pattern, repository, expected) => {
    expect(matchGlob(pattern, repository)).toBe(expected);
  });

  it('stays fast on patterns that make backtracking regexes explode', () => {
    const pattern = `${'*a'.repeat(20)}b`;
    const repository = 'a'.repeat(255);
    const started = process.hrtime.bigint();
    expect(matchGlob(pattern, repository)).toBe(false);
    expect(matchGlob(`${'**a'.repeat(20)}b`, `${'a/'.repeat(120)}a`)).toBe(false);
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(500);
  });
});

describe('validateGlob', () => {
  it.each(['contoso/*', 'contoso/**', '**', 'team/api-?', 'a.b_c-d/e'])('accepts %s', (p) =>
    expect(validateGlob(p, 'scope')).toBe(p),
  );
  it.each([
    ['empty', ''],
    ['leading slash', '/contoso/*'],
    ['trailing slash', 'contoso/'],
    ['empty segment', 'contoso//*'],
    ['upper case', 'Contoso/*'],
    ['regex syntax', 'contoso/(a|b)'],
    ['brackets', 'contoso/[ab]'],
    ['triple star', 'contoso/***'],
    ['space', 'contoso/ *'],
    ['too long', 'a'.repeat(256)],
    ['not a string', 7],
  ])('rejects %s', (_w, p) => {
    try {
      validateGlob(p as string, 'gate[2].scope');
      throw new Error('expected an error');
    } catch (err) {
      expect(err).toBeInstanceOf(GuardError);
      expect((err as GuardError).field).toBe('gate[2].scope');
      expect((err as GuardError).message).toContain('a repository glob');
    }
  });
});
