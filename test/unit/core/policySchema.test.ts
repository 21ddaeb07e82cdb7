/**
 * schemas/policy.schema.json (what editors complete and check) is kept equal to the validator
 * (src/core/policy.ts, what the app enforces). Any drift fails here:
 *  1. the allowed keys of every section, read from the validator itself (its "unknown key" error lists them),
 *     equal the schema's `properties` there, and every object the schema describes is such a section;
 *  2. every policy in the repository (policy/, samples/, the policies written in test files, docs blocks
 *     marked ```yaml policy) is accepted by both or by neither;
 *  3. fast-check policies shaped like the schema, valid and broken, are accepted by the validator iff ajv
 *     accepts them.
 * A few checks only the validator can make (real calendar dates, duplicates after normalisation, regex syntax,
 * durations over 10 years, host and repository details) are listed in BEYOND_SCHEMA: the validator may reject
 * what the schema accepts only for those, never the other way round.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import Ajv from 'ajv';
import fc from 'fast-check';
import * as ts from 'typescript';
import { parseDocument } from 'yaml';
import { loadPolicy, MAX_POLICY_ALIASES } from '../../../src/core/policy';
import { isGuardError } from '../../../src/core/errors';

const ROOT = resolve(__dirname, '../../..');
const SCHEMA_FILE = join(ROOT, 'schemas/policy.schema.json');
const schema = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as Record<string, unknown>;
// strictRequired off: the retention rule's anyOf of required criteria names properties declared beside it.
const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false });
const validateSchema = ajv.compile(schema);

type Verdict = { ok: true } | { ok: false; message: string; field?: string };

function byValidator(text: string): Verdict {
  try {
    loadPolicy(text, 'policy');
    return { ok: true };
  } catch (err) {
    if (!isGuardError(err, 'INVALID_POLICY')) throw err;
    return { ok: false, message: err.message, field: err.field };
  }
}

function bySchema(value: unknown): Verdict {
  if (validateSchema(value)) return { ok: true };
  return { ok: false, message: ajv.errorsText(validateSchema.errors) };
}

/**
 * What only the validator checks (the schema cannot say it): the validator may reject a policy the schema
 * accepts only with one of these messages.
 */
const BEYOND_SCHEMA: RegExp[] = [
  /is not a real date/,
  /not already used/, // a gate scope repeated
  /each host once/, // the same host twice after normalisation (case, default port, docker.io spellings)
  /a host not under registries/,
  /at most 10 years/, // a duration over ten years
  /regular expression/, // tagPattern that does not compile
  /a registry host/, // IPv4 octets, port range, IPv6 syntax, host length
  /repository/, // promote.repository that does not give a valid repository
];

/** Parses YAML as the validator does; undefined when it is not clean YAML (only the validator judges that). */
function parseLikeValidator(text: string): unknown {
  if (/^%YAML/m.test(text)) return undefined; // YAML 1.1 dates become Date objects: not JSON, not for the schema
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0 || doc.warnings.length > 0) return undefined;
  try {
    return doc.toJS({ maxAliasCount: MAX_POLICY_ALIASES });
  } catch {
    return undefined;
  }
}

/** Both agree, or the validator rejects for a reason the schema cannot express. Returns a complaint or ''. */
function disagreement(text: string, value: unknown): string {
  const v = byValidator(text);
  const s = bySchema(value);
  if (v.ok === s.ok) return '';
  if (!v.ok && s.ok && BEYOND_SCHEMA.some((re) => re.test(v.message))) return '';
  return v.ok
    ? `the validator accepts it, the schema rejects it: ${s.ok ? '' : s.message}`
    : `the schema accepts it, the validator rejects it: ${v.message}`;
}

// ---------------------------------------------------------------------------------------------------------
// 1. Allowed keys, section by section.

/** Each section the validator checks keys in: how to reach it with a minimal policy, and its schema node. */
const SECTIONS: Array<{ field: string; pointer: string; wrap: (o: object) => unknown }> = [
  { field: '(document)', pointer: '#', wrap: (o) => o },
  {
    field: 'registries[0]',
    pointer: '#/definitions/registry',
    wrap: (o) => ({ version: 1, registries: [o], gate: [] }),
  },
  {
    field: 'gate[0]',
    pointer: '#/definitions/gateRule',
    wrap: (o) => ({ version: 1, registries: ['a.io'], gate: [o] }),
  },
  {
    field: 'gate[0].vulnerabilities',
    pointer: '#/definitions/vulnerabilities',
    wrap: (o) => ({ version: 1, registries: ['a.io'], gate: [{ scope: 'a', vulnerabilities: o }] }),
  },
  {
    field: 'gate[0].vulnerabilities.exceptions[0]',
    pointer: '#/definitions/exception',
    wrap: (o) => ({ version: 1, registries: ['a.io'], gate: [{ scope: 'a', vulnerabilities: { exceptions: [o] } }] }),
  },
  {
    field: 'gate[0].signatures',
    pointer: '#/definitions/signatures',
    wrap: (o) => ({ version: 1, registries: ['a.io'], gate: [{ scope: 'a', signatures: o }] }),
  },
  {
    field: 'gate[0].promote',
    pointer: '#/definitions/promote',
    wrap: (o) => ({ version: 1, registries: ['a.io'], gate: [{ scope: 'a', promote: o }] }),
  },
  {
    field: 'retention[0]',
    pointer: '#/definitions/retentionRule',
    wrap: (o) => ({ version: 1, registries: ['a.io'], gate: [], retention: [o] }),
  },
  {
    field: 'runtime',
    pointer: '#/definitions/runtime',
    wrap: (o) => ({ version: 1, registries: ['a.io'], gate: [], runtime: o }),
  },
  {
    field: 'runtime.grace',
    pointer: '#/definitions/runtime/properties/grace',
    wrap: (o) => ({ version: 1, registries: ['a.io'], gate: [], runtime: { grace: o } }),
  },
];

/** The validator's allowed keys at `section`, read from its own "unknown key" error. */
function allowedKeysOf(section: (typeof SECTIONS)[number]): string[] {
  const probe = 'zzProbeKey';
  const verdict = byValidator(JSON.stringify(section.wrap({ [probe]: 1 })));
  const expectedField = section.field === '(document)' ? probe : `${section.field}.${probe}`;
  if (verdict.ok || verdict.field !== expectedField)
    throw new Error(
      `probe of ${section.field} did not reach its key check: ${verdict.ok ? 'accepted' : verdict.message}`,
    );
  const match = /allowed here: ([^)]*)\); check the spelling/.exec(verdict.message);
  if (!match) throw new Error(`no allowed-key list in: ${verdict.message}`);
  return match[1].split(', ').sort();
}

function resolvePointer(pointer: string): Record<string, unknown> {
  let node: unknown = schema;
  for (const part of pointer.replace(/^#\/?/, '').split('/').filter(Boolean))
    node = (node as Record<string, unknown>)[part];
  return node as Record<string, unknown>;
}

/** Every node of the schema that declares `properties`, by JSON pointer. */
function objectNodes(node: unknown, pointer = '#'): string[] {
  if (node === null || typeof node !== 'object') return [];
  const out: string[] = [];
  const record = node as Record<string, unknown>;
  if (!Array.isArray(node) && record.properties && typeof record.properties === 'object') out.push(pointer);
  for (const [key, child] of Object.entries(record)) out.push(...objectNodes(child, `${pointer}/${key}`));
  return out;
}

describe('policy schema = validator: allowed keys', () => {
  it.each(SECTIONS.map((s) => [s.field, s]))('%s: the same keys in the validator and the schema', (_f, section) => {
    const node = resolvePointer(section.pointer);
    expect(node.additionalProperties).toBe(false);
    expect(Object.keys(node.properties as object).sort()).toEqual(allowedKeysOf(section));
  });

  it('every object the schema describes is a section the validator checks (no section left unprobed)', () => {
    expect(objectNodes(schema).sort()).toEqual(SECTIONS.map((s) => s.pointer).sort());
  });
});

// ---------------------------------------------------------------------------------------------------------
// 2. Every policy in the repository.

function filesUnder(dir: string, keep: (name: string) => boolean): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries.flatMap((name) => {
    const path = join(dir, name);
    if (name === 'node_modules' || name.startsWith('.')) return [];
    return statSync(path).isDirectory() ? filesUnder(path, keep) : keep(name) ? [path] : [];
  });
}

const isYaml = (name: string): boolean => /\.ya?ml$/.test(name);
/** A YAML file is a policy when it is a mapping with `version` and `gate` or `registries`. */
function looksLikePolicy(text: string): boolean {
  return /^version:/m.test(text) && /^(gate|registries):/m.test(text);
}

const policyFiles = [...filesUnder(join(ROOT, 'policy'), isYaml), ...filesUnder(join(ROOT, 'samples'), isYaml)].filter(
  (file) => looksLikePolicy(readFileSync(file, 'utf8')),
);

/** Code blocks of docs/*.md and README.md: `{ info, text, where }`. */
function markdownBlocks(): Array<{ info: string; text: string; where: string }> {
  const files = [...filesUnder(join(ROOT, 'docs'), (n) => n.endsWith('.md')), join(ROOT, 'README.md')];
  return files.flatMap((file) => {
    const lines = readFileSync(file, 'utf8').split('\n');
    const blocks: Array<{ info: string; text: string; where: string }> = [];
    for (let i = 0; i < lines.length; i++) {
      const open = /^```(\S.*)?$/.exec(lines[i]);
      if (!open) continue;
      const start = i;
      const body: string[] = [];
      for (i++; i < lines.length && !lines[i].startsWith('```'); i++) body.push(lines[i]);
      blocks.push({
        info: (open[1] ?? '').trim(),
        text: `${body.join('\n')}\n`,
        where: `${relative(ROOT, file)}:${start + 1}`,
      });
    }
    return blocks;
  });
}

/** String literals in the test files that are whole policies (no `${}` in them: those are filled at run time). */
function testLiteralPolicies(): Array<{ text: string; where: string }> {
  const out: Array<{ text: string; where: string }> = [];
  for (const file of filesUnder(join(ROOT, 'test'), (n) => n.endsWith('.ts'))) {
    const source = readFileSync(file, 'utf8');
    if (!source.includes('version: 1')) continue;
    const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
    const visit = (node: ts.Node): void => {
      if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) {
        const text = node.text;
        if (/^\s*version: 1\b/.test(text) && /\n(gate|registries):/.test(text)) {
          const { line } = sf.getLineAndCharacterOfPosition(node.getStart(sf));
          out.push({ text, where: `${relative(ROOT, file)}:${line + 1}` });
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  return out;
}

describe('policy schema = validator: the policies in the repository', () => {
  it('policy/ and samples/ policies: accepted by both or neither, and each names the schema in its modeline', () => {
    expect(policyFiles.length).toBeGreaterThan(0);
    for (const file of policyFiles) {
      const text = readFileSync(file, 'utf8');
      const value = parseLikeValidator(text);
      expect([relative(ROOT, file), value === undefined ? 'not clean YAML' : disagreement(text, value)]).toEqual([
        relative(ROOT, file),
        '',
      ]);
      const modeline = /^# yaml-language-server: \$schema=(\S+)$/m.exec(text);
      expect([relative(ROOT, file), modeline?.[1] && resolve(dirname(file), modeline[1])]).toEqual([
        relative(ROOT, file),
        SCHEMA_FILE,
      ]);
    }
  });

  it('docs: every whole policy in a ```yaml block is marked ```yaml policy, and each such block agrees', () => {
    const blocks = markdownBlocks();
    const unmarked = blocks.filter((b) => b.info === 'yaml' && /^version: 1\b/m.test(b.text)).map((b) => b.where);
    expect(unmarked).toEqual([]);
    const marked = blocks.filter((b) => b.info === 'yaml policy');
    expect(marked.length).toBeGreaterThan(0);
    const complaints = marked
      .map((b) => {
        const value = parseLikeValidator(b.text);
        if (value === undefined) return `${b.where}: not clean YAML`;
        const d = disagreement(b.text, value);
        return d && `${b.where}: ${d}`;
      })
      .filter(Boolean);
    expect(complaints).toEqual([]);
    // A docs policy is an example to copy: it must be valid, not just agreed on.
    expect(marked.map((b) => [b.where, byValidator(b.text).ok])).toEqual(marked.map((b) => [b.where, true]));
  });

  it('the policies written in test files (valid and invalid ones) are judged alike', () => {
    const literals = testLiteralPolicies();
    expect(literals.length).toBeGreaterThan(10);
    const complaints = literals
      .map(({ text, where }) => {
        const value = parseLikeValidator(text);
        if (value === undefined) return '';
        const d = disagreement(text, value);
        return d && `${where}: ${d}`;
      })
      .filter(Boolean);
    expect(complaints).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------------
// 3. Generated policies.

/** Mostly valid, sometimes broken: `bad` is drawn about one time in `1 + weight`. */
function maybe<T>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<unknown>, weight = 30): fc.Arbitrary<unknown> {
  return fc.oneof({ weight, arbitrary: good }, { weight: 1, arbitrary: bad });
}

const wrongType = fc.constantFrom<unknown>(null, 7, 'text', true, [], {});
const unit = fc.constantFrom('w', 'd', 'h', 'm', 's', 'ms');
const goodDuration = fc
  .subarray(['w', 'd', 'h', 'm', 's', 'ms'], { minLength: 1 })
  .chain((units) => fc.tuple(...units.map((u) => fc.integer({ min: 0, max: 40 }).map((n) => `${n}${u}`))))
  .map((parts) => parts.join(''));
const badDuration = fc.oneof(
  fc.constantFrom('', '1.5h', '-1h', 'h', '1x', '1h1d', '2d2d', ' 1h', '1 h', '10years', '1s1m'),
  fc.tuple(fc.integer({ min: 0, max: 9 }), unit).map(([n, u]) => `${u}${n}`),
  wrongType,
);
const duration = maybe(goodDuration, badDuration);
const positiveDuration = maybe(goodDuration, fc.oneof(badDuration, fc.constantFrom('0s', '0d0h', '0ms')));

const goodGlobs = ['a', 'contoso/*', 'contoso/edge/**', '**', 'team/a?c', 'mirror/**/base', 'x.y_z-1/*'];
const badGlobs = ['Contoso/*', '/a', 'a//b', 'a/', '***', 'a b', '', 'a/***/b', 'a\\b'];
const scopes = fc.uniqueArray(fc.constantFrom(...goodGlobs), { maxLength: 4 });
const goodHosts = [
  'a.io',
  'contoso.azurecr.io',
  '127.0.0.1:5000',
  'localhost:5001',
  '[::1]:5000',
  'Registry.Example.COM',
];
const badHosts = ['http://a.io', 'a_b.io', 'a.io/path', '-a.io', '', 'a..io', 'a.io:', 'user@a.io'];
const externalHosts = ['mcr.microsoft.com', 'ghcr.io', 'quay.io:8443'];
const severities = ['critical', 'high', 'medium', 'low', 'negligible', 'unknown'];

/** null, and one time in `1 + weight` a value of `arbitrary`. */
function rarely<T>(arbitrary: fc.Arbitrary<T>, weight: number): fc.Arbitrary<T | null> {
  return fc.oneof({ weight, arbitrary: fc.constant(null) }, { weight: 1, arbitrary });
}

/** A record whose optional keys appear at random, with now and then a misspelt key added or a required one dropped. */
function section(
  fields: Record<string, fc.Arbitrary<unknown>>,
  required: string[] = [],
): fc.Arbitrary<Record<string, unknown>> {
  const base = fc.record(fields, { requiredKeys: required as never[] });
  return fc
    .tuple(
      base,
      rarely(fc.constantFrom('onlyFixabel', 'Scope', 'tolerateTagz', 'extra'), 25),
      rarely(fc.constantFrom(...(required.length ? required : ['none'])), 40),
    )
    .map(([record, extra, drop]) => {
      const out: Record<string, unknown> = { ...record };
      if (extra !== null) out[extra] = 1;
      if (drop !== null) delete out[drop];
      return out;
    });
}

const exception = section(
  {
    id: maybe(
      fc.constantFrom('CVE-2024-1234', 'GHSA-abcd-efgh-ijkl', 'DLA-1234-1'),
      fc.constantFrom('', '-x', 'a b', 5),
    ),
    expires: maybe(
      fc.constantFrom('2027-01-31', '2030-12-01', '2000-02-29'),
      fc.constantFrom('2027-1-31', '27-01-31', '2027-13-01', '1999-12-31', '2027-01-32', 20270131),
    ),
    reason: maybe(fc.constantFrom('not reachable', 'accepted by SR-1'), fc.constantFrom('', '   ', 3, null)),
    packages: maybe(
      fc.array(fc.constantFrom('zlib1g', 'openssl'), { minLength: 1, maxLength: 3 }),
      fc.constantFrom([], [''], ['  '], [1]),
    ),
  },
  ['id', 'expires', 'reason'],
);

const vulnerabilities = section({
  block: maybe(
    fc.uniqueArray(fc.constantFrom(...severities)),
    fc.constantFrom(['critical', 'critical'], ['severe'], 'critical', [1]),
  ),
  onlyFixable: maybe(fc.boolean(), wrongType),
  maxReportAge: positiveDuration,
  exceptions: maybe(fc.array(exception, { maxLength: 2 }), wrongType),
  sources: maybe(
    fc.uniqueArray(fc.constantFrom('defender', 'reports'), { minLength: 1 }),
    fc.constantFrom([], ['defender', 'defender'], ['trivy'], 'reports'),
  ),
  require: maybe(fc.constantFrom('any', 'all'), fc.constantFrom('some', 'ALL', 1)),
  scanDeadline: duration,
  pollInterval: positiveDuration,
  ratingSources: maybe(
    fc.uniqueArray(fc.constantFrom('debian', 'nvd', 'ghsa', 'red.hat_1'), { minLength: 1 }),
    fc.constantFrom([], ['NVD'], ['nvd', 'nvd'], ['-x'], 'nvd'),
  ),
  reportsSignedBy: maybe(fc.constantFrom('scanner-reports', 'a', 'x.y_z'), fc.constantFrom('', '-a', 'a b', 'a/b', 1)),
});

const gateRule = (scope: string): fc.Arbitrary<unknown> =>
  section(
    {
      scope: maybe(fc.constant(scope), fc.constantFrom(...badGlobs)),
      vulnerabilities: maybe(vulnerabilities, wrongType, 20),
      signatures: maybe(
        section({
          required: maybe(fc.boolean(), wrongType),
          trustPolicy: maybe(fc.constantFrom('contoso-images', 'a.b'), fc.constantFrom('', 'a b', '-x', 2)),
        }),
        wrongType,
        20,
      ),
      promote: maybe(
        section(
          {
            repository: maybe(
              fc.constantFrom('release/{repository}', '{repository}-ok', 'r/{repository}/x'),
              fc.constantFrom('release/x', '', 3),
            ),
          },
          ['repository'],
        ),
        wrongType,
        20,
      ),
    },
    ['scope'],
  );

const retentionRule = (scope: string): fc.Arbitrary<unknown> =>
  section(
    {
      scope: maybe(fc.constant(scope), fc.constantFrom(...badGlobs)),
      keep: maybe(fc.integer({ min: 0, max: 100_000 }), fc.constantFrom(-1, 1.5, 100_001, '3', null)),
      olderThan: positiveDuration,
      untagged: maybe(fc.boolean(), wrongType),
      tagPattern: maybe(fc.constantFrom('^(dev|pr)-', 'x', '.*'), fc.constantFrom('', 'a'.repeat(201), 7)),
      protectInUse: maybe(fc.boolean(), wrongType),
      includeLocked: maybe(fc.boolean(), wrongType),
      maxDeletes: maybe(
        fc.oneof(
          fc.integer({ min: 0, max: 100_000 }),
          fc.constantFrom('25%', '100%', ' 7% ', '007%', '40', '100000', '000040'),
        ),
        fc.constantFrom('0%', '101%', '1.5%', -1, 1.5, 100_001, '100001', 'all', '25 %', '', '%'),
      ),
    },
    ['scope'],
  );

const runtime = section({
  grace: maybe(section(Object.fromEntries([...severities, 'other'].map((k) => [k, duration]))), wrongType, 20),
  regateAfter: positiveDuration,
  tolerateTags: maybe(fc.boolean(), wrongType),
  allowRegistries: maybe(
    fc.uniqueArray(fc.constantFrom(...externalHosts)),
    fc.constantFrom(['http://x.io'], 'ghcr.io', [1]),
  ),
});

const registries = maybe(
  fc.uniqueArray(fc.constantFrom(...goodHosts), { minLength: 1, maxLength: 3 }).chain((hosts) =>
    fc.tuple(
      ...hosts.map((host) =>
        fc.oneof(
          { weight: 6, arbitrary: fc.constant<unknown>(host) },
          {
            weight: 6,
            arbitrary: section(
              {
                host: maybe(fc.constant(host), fc.constantFrom(...badHosts, 5)),
                apply: maybe(fc.constantFrom('quarantine', 'promote', 'none'), fc.constantFrom('Promote', 'copy')),
              },
              ['host'],
            ),
          },
          { weight: 1, arbitrary: fc.constantFrom<unknown>(...badHosts) },
        ),
      ),
    ),
  ),
  fc.oneof(fc.constant([]), wrongType),
);

const policyArbitrary = section(
  {
    version: maybe(fc.constant(1), fc.constantFrom(2, '1', 0)),
    registries,
    gate: maybe(
      scopes.chain((list) => fc.tuple(...list.map(gateRule))),
      wrongType,
    ),
    retention: maybe(
      scopes.chain((list) => fc.tuple(...list.map(retentionRule))),
      wrongType,
    ),
    runtime: maybe(runtime, wrongType, 20),
  },
  ['version', 'registries', 'gate'],
);

describe('policy schema = validator: generated policies', () => {
  it('a generated policy is accepted by the validator iff the schema accepts it (fixed seed, 1500 runs)', () => {
    let accepted = 0;
    fc.assert(
      fc.property(policyArbitrary, (policy) => {
        const text = JSON.stringify(policy);
        const v = byValidator(text);
        const s = bySchema(JSON.parse(text));
        if (v.ok) accepted += 1;
        if (v.ok !== s.ok)
          throw new Error(
            `validator ${v.ok ? 'accepts' : `rejects (${v.message})`}, schema ${s.ok ? 'accepts' : `rejects (${s.message})`}`,
          );
      }),
      { seed: 21, numRuns: 1500 },
    );
    // Both directions are exercised: a fair share of the generated policies is valid.
    expect(accepted).toBeGreaterThan(100);
  });
});
