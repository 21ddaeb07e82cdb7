/**
 * The docs' pointers into the code cannot rot: every `src/…` path named in docs/*.md and README.md exists, and
 * each constant a row of docs/limits.md names ("`MAX_X` (`src/…`)") appears in one of the files that row names,
 * so a constant that moved takes its row's path with it.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');
const DOCS = [
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
  'README.md',
];

/** A `src/…` path that is not part of a longer one (`dist/src/…` is the build's output, not the source). */
const SRC_PATH = /(?<![\w./-])src\/[\w./-]*[\w/]/g;

/** The `src/…` paths one text names. */
function srcPaths(text: string): string[] {
  return [...text.matchAll(SRC_PATH)].map((m) => m[0]);
}

describe('docs name only source paths that exist', () => {
  it('every src/… path in docs/*.md and README.md exists', () => {
    const named: string[] = [];
    const missing: string[] = [];
    for (const doc of DOCS) {
      for (const path of srcPaths(readFileSync(join(ROOT, doc), 'utf8'))) {
        named.push(path);
        if (!existsSync(join(ROOT, path))) missing.push(`${doc}: ${path}`);
      }
    }
    expect(missing).toEqual([]);
    // The pattern still finds the paths (docs/limits.md alone names dozens).
    expect(new Set(named).size).toBeGreaterThan(50);
  });

  it("every constant a docs/limits.md row names appears in one of that row's src/… files", () => {
    const misplaced: string[] = [];
    let rows = 0;
    for (const line of readFileSync(join(ROOT, 'docs/limits.md'), 'utf8').split('\n')) {
      // Rows are `| what | limit | where (`NAME` (`src/…`)) | when exceeded |`; the third cell says where.
      const where = line.startsWith('|') ? line.split('|')[3] : undefined;
      const files = where ? srcPaths(where) : [];
      if (!where || files.length === 0) continue;
      rows++;
      const sources = files.map((f) => readFileSync(join(ROOT, f), 'utf8'));
      for (const [, name] of where.matchAll(/`([A-Za-z_]\w*(?:\.\w+)*)`/g)) {
        if (!/[A-Z.]/.test(name)) continue; // a plain word (`size`) is a field of the input, not code
        const head = name.split('.')[0];
        const word = new RegExp(`\\b${head.replace(/\$/g, '\\$')}\\b`);
        if (!sources.some((text) => word.test(text))) misplaced.push(`${name} is in none of ${files.join(', ')}`);
      }
    }
    expect(misplaced).toEqual([]);
    expect(rows).toBeGreaterThan(40);
  });
});
