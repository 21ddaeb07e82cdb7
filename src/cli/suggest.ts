/**
 * "Did you mean …": the closest known word to a misspelt one (options, commands, workload names).
 */

/**
 * Optimal-string-alignment (restricted Damerau-Levenshtein) distance: insertions, deletions, substitutions and
 * swaps of two neighbours each cost 1. Inputs here are short (option and resource names), so O(n·m) is fine.
 */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) =>
    Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[rows - 1][cols - 1];
}

/**
 * The candidate closest to `word` (case-insensitive), if close enough to be a likely typo: at most a third of the
 * longer word's length, and at least 1 edit (2 for words of 6 characters or more). Ties go to the first candidate.
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: { name: string; distance: number } | undefined;
  for (const name of candidates) {
    const distance = editDistance(w, name.toLowerCase());
    if (!best || distance < best.distance) best = { name, distance };
  }
  if (!best) return undefined;
  const limit = Math.max(word.length >= 6 ? 2 : 1, Math.floor(Math.max(word.length, best.name.length) / 3));
  return best.distance <= limit ? best.name : undefined;
}

/** `; did you mean X?` when a candidate is close, else the empty string. */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const near = closest(word, candidates);
  return near === undefined ? '' : `; did you mean ${near}?`;
}
