/**
 * Counted nouns for people: "1 blocking finding", "2 blocking findings", "0 checks".
 */

/** `n` and the noun, plural unless `n` is 1; `many` when the plural is not the noun plus "s". */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
