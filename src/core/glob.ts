/**
 * Repository globs for policy scopes: `*` matches within one path segment, `**` across segments, `?` one
 * character other than `/`; everything else is literal. Matching is a small dynamic program over the
 * pattern, not a generated RegExp, so a pattern can neither inject regex syntax nor backtrack
 * catastrophically (`*a*a*a*a*b` against a long name stays linear in pattern x name).
 *
 * `**` followed by `/` also matches zero segments: `**\/api` matches `api` and `team/api`. A trailing
 * `/**` needs at least one more segment: `contoso/**` matches `contoso/api` but not `contoso` itself.
 */
import { invalidInput } from './errors';

type Token =
  | { kind: 'char'; ch: string }
  | { kind: 'any' }
  | { kind: 'star' }
  | { kind: 'globstar' }
  | { kind: 'globstarSlash' };

const GLOB_FORM =
  'a repository glob of 1-255 chars: lower-case [a-z0-9._-] path segments separated by "/", with "*" (within a segment), "**" (across segments) and "?" (one char), e.g. contoso/* or team/**';

function tokenize(pattern: string): Token[] {
  const tokens: Token[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '*' && pattern[i + 1] === '*') {
      if (pattern[i + 2] === '/') {
        tokens.push({ kind: 'globstarSlash' });
        i += 2;
      } else {
        tokens.push({ kind: 'globstar' });
        i += 1;
      }
    } else if (ch === '*') tokens.push({ kind: 'star' });
    else if (ch === '?') tokens.push({ kind: 'any' });
    else tokens.push({ kind: 'char', ch });
  }
  return tokens;
}

/** True when `repository` matches `pattern` (see the module comment for the syntax). */
export function matchGlob(pattern: string, repository: string): boolean {
  if (typeof pattern !== 'string' || typeof repository !== 'string') return false;
  const tokens = tokenize(pattern);
  const n = repository.length;
  // prev[j]: the tokens so far match repository[0..j).
  let prev: boolean[] = new Array<boolean>(n + 1).fill(false);
  prev[0] = true;
  for (const token of tokens) {
    const next: boolean[] = new Array<boolean>(n + 1).fill(false);
    let anyBefore = false; // some prev[k] with k <= j is true (for ** forms)
    for (let j = 0; j <= n; j++) {
      const anyBeforeJ = anyBefore; // some prev[k] with k < j
      anyBefore = anyBefore || prev[j];
      const c = j > 0 ? repository[j - 1] : '';
      switch (token.kind) {
        case 'char':
          next[j] = j > 0 && prev[j - 1] && c === token.ch;
          break;
        case 'any':
          next[j] = j > 0 && prev[j - 1] && c !== '/';
          break;
        case 'star':
          next[j] = prev[j] || (j > 0 && next[j - 1] && c !== '/');
          break;
        case 'globstar':
          next[j] = anyBefore;
          break;
        case 'globstarSlash':
          // Empty, or anything that ends with "/" (prefix up to j-1 reachable, character j-1 is the slash).
          next[j] = prev[j] || (j > 0 && c === '/' && anyBeforeJ);
          break;
      }
    }
    prev = next;
  }
  return prev[n];
}

/**
 * Validates a repository glob: non-empty, at most 255 chars, only repository characters plus `*` and `?`,
 * no empty segment, no leading or trailing `/`, no `***`. Returns it unchanged; throws `INVALID_INPUT`.
 */
export function validateGlob(pattern: string, field: string): string {
  if (
    typeof pattern !== 'string' ||
    pattern.length === 0 ||
    pattern.length > 255 ||
    !/^[a-z0-9._\-/*?]+$/.test(pattern) ||
    pattern.includes('***') ||
    pattern.split('/').some((segment) => segment === '')
  ) {
    throw invalidInput(field, GLOB_FORM, pattern);
  }
  return pattern;
}
