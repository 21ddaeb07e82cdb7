/**
 * Wildcard matching for ARM action patterns and ABAC `StringLike`: `*` any run of characters, `?` (optional) one
 * character, without regular expressions: the two-pointer algorithm is O(pattern × text) at worst, so a pattern
 * of many `*` (a custom role or a condition anyone with role-assignment rights wrote) cannot make doctor backtrack
 * for ever. Pure.
 */

/** Options of {@link globMatch}. */
export interface GlobOptions {
  ignoreCase?: boolean;
  /** `?` matches one character (ABAC `StringLike`); otherwise it is a literal `?`. */
  questionMark?: boolean;
}

/** True when `text` matches `pattern` as a whole. */
export function globMatch(pattern: string, text: string, options: GlobOptions = {}): boolean {
  const p = options.ignoreCase ? pattern.toLowerCase() : pattern;
  const t = options.ignoreCase ? text.toLowerCase() : text;
  let pi = 0;
  let ti = 0;
  let star = -1;
  let mark = 0;
  while (ti < t.length) {
    if (pi < p.length && p[pi] !== '*' && (p[pi] === t[ti] || (options.questionMark === true && p[pi] === '?'))) {
      pi++;
      ti++;
    } else if (pi < p.length && p[pi] === '*') {
      star = pi++;
      mark = ti;
    } else if (star >= 0) {
      pi = star + 1;
      ti = ++mark;
    } else return false;
  }
  while (pi < p.length && p[pi] === '*') pi++;
  return pi === p.length;
}
