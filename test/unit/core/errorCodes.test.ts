/**
 * One `ErrorCode` union with every code acr-guard reports: each code is its own name, docs/cli.md lists exactly
 * these, no code literal in src/ is outside the union (Node's own `E…` codes, which acr-guard reads and never
 * reports, aside), and a code from outside is mapped to one of ours, never passed on.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ErrorCodes, GuardError, errorCodeOf, isErrorCode, toErrorCode } from '../../../src/core/errors';
import { purgeSummaryOfRecord, summarisePurge, emptyOutcome, type PurgeSummary } from '../../../src/core/purge/summary';
import { UsageError } from '../../../src/cli/args';
import { NonDeterminismError } from '../../../src/local/durable/replay';

const ROOT = resolve(__dirname, '../../..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Node's error codes (`ENOENT`, `ERR_PARSE_ARGS_UNKNOWN_OPTION`): read from Node's errors, never reported as ours. */
const NODE_CODE = /^(E[A-Z]+|ERR_[A-Z0-9_]+)$/;

/**
 * Where a string literal is used as a code: after `code` on the same statement (`code: 'X'`, `code === 'X'`,
 * `code = 'X'`, `code: a ?? 'X'`), in `isGuardError(e, 'X')` and `new GuardError('X'`. Typed positions are checked by
 * tsc already; this catches the untyped ones (`Error & { code?: string }`, a JSON body).
 */
const CODE_LITERALS = [
  /\bcode\b[^;\n]*?'([A-Z][A-Z0-9_]{3,})'/g,
  /\bisGuardError\([^,()]+((?:,\s*'[A-Z][A-Z0-9_]+')+)\)/g,
  /\bnew GuardError\(\s*'([A-Z][A-Z0-9_]+)'/g,
];

describe('error codes', () => {
  it('each code is its own name', () => {
    for (const [key, value] of Object.entries(ErrorCodes)) expect(value).toBe(key);
  });

  it('docs/cli.md lists exactly the codes of the union', () => {
    const doc = readFileSync(join(ROOT, 'docs/cli.md'), 'utf8');
    const start = doc.indexOf('## Error codes');
    expect(start).toBeGreaterThan(0);
    const section = doc.slice(start, doc.indexOf('\n## ', start + 1));
    const listed = [...section.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \|/gm)].map((m) => m[1]);
    expect([...listed].sort()).toEqual(Object.values(ErrorCodes).sort());
    expect(new Set(listed).size).toBe(listed.length);
  });

  it('no code literal in src/ is outside the union', () => {
    const outside: string[] = [];
    for (const file of sourceFiles(join(ROOT, 'src'))) {
      const text = readFileSync(file, 'utf8');
      for (const pattern of CODE_LITERALS)
        for (const m of text.matchAll(pattern))
          for (const code of m[1].match(/[A-Z][A-Z0-9_]+/g) ?? [])
            if (!isErrorCode(code) && !NODE_CODE.test(code)) outside.push(`${file.slice(ROOT.length + 1)}: ${code}`);
    }
    expect(outside).toEqual([]);
  });

  it('a code from outside maps to one of ours (a foreign one to the fallback), never passes through', () => {
    expect(toErrorCode('TRANSIENT')).toBe('TRANSIENT');
    expect(toErrorCode('ECONNRESET')).toBe('ERROR');
    expect(toErrorCode('PartialError', ErrorCodes.PARTIAL_RESULT)).toBe('PARTIAL_RESULT');
    expect(toErrorCode(undefined)).toBe('ERROR');
    expect(toErrorCode({ toString: () => 'TRANSIENT' })).toBe('ERROR');
    expect(errorCodeOf(new GuardError(ErrorCodes.NOT_FOUND, 'gone'))).toBe('NOT_FOUND');
    expect(errorCodeOf(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toBe('ERROR');
    expect(errorCodeOf(Object.assign(new Error('lost class'), { code: 'VERIFY_MISMATCH' }))).toBe('VERIFY_MISMATCH');
    expect(errorCodeOf(null, ErrorCodes.IN_USE_UNKNOWN)).toBe('IN_USE_UNKNOWN');
    expect(new NonDeterminismError('m', 'a', 'b').code).toBe(ErrorCodes.NON_DETERMINISTIC);
  });

  it("a usage error's code is the wrapped code only when it is one of ours", () => {
    expect(new UsageError('policy.yaml: bad [INVALID_POLICY]').code).toBe('INVALID_POLICY');
    expect(new UsageError('something odd [NOT_OURS]').code).toBe('USAGE');
    expect(new UsageError('--policy: expected a file [NOT_OURS]').code).toBe('INVALID_INPUT');
  });

  it('a purge summary recorded with a foreign code reads back with ERROR and the foreign code beside it', () => {
    const recorded = {
      ...summarisePurge({
        registry: 'contoso.azurecr.io',
        trigger: 'timer',
        dryRun: false,
        startedAt: '2026-11-30T03:00:00.000Z',
        finishedAt: '2026-11-30T03:10:00.000Z',
        outcomes: [emptyOutcome('team/api', 'retention[0] scope "team/*"', 'done')],
      }),
    };
    // As an earlier version wrote it: a Node code passed through as the code.
    const old = JSON.parse(
      JSON.stringify({
        ...recorded,
        errors: [{ repository: 'team/web', code: 'ENOENT', detail: 'no such file' }],
        outcomes: [
          ...recorded.outcomes,
          { ...emptyOutcome('team/web', '', 'skipped'), error: { code: 'ENOENT', detail: 'no such file' } },
        ],
      }),
    ) as PurgeSummary;
    const read = purgeSummaryOfRecord(old);
    expect(read.errors).toEqual([
      { repository: 'team/web', code: 'ERROR', foreignCode: 'ENOENT', detail: 'no such file' },
    ]);
    expect(read.outcomes[1].error).toEqual({ code: 'ERROR', foreignCode: 'ENOENT', detail: 'no such file' });
    // A record of our own codes reads back unchanged.
    expect(purgeSummaryOfRecord(recorded)).toEqual(recorded);
    // Outcomes coming back through history are mapped the same way when summed up.
    const summed = summarisePurge({ ...recorded, outcomes: old.outcomes });
    expect(summed.errors).toEqual([
      { repository: 'team/web', code: 'ERROR', foreignCode: 'ENOENT', detail: 'no such file' },
    ]);
  });
});
