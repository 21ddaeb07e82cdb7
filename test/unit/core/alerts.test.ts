/**
 * Alert rules as data: validation with field paths, parameter rendering, threshold evaluation per incident,
 * incident ids and de-duplication windows. Pure; time is passed in.
 */
import { isGuardError } from '../../../src/core/errors';
import { kqlString, renderQuery, validateRule } from '../../../src/core/alerts/rule';
import { loadRuleSet } from '../../../src/core/alerts/ruleSet';
import {
  evaluateRule,
  incidentAlert,
  incidentId,
  operationalAlert,
  shouldAlert,
} from '../../../src/core/alerts/evaluate';

const BASE = {
  name: 'my-rule',
  query: 'T | summarize Count = count() by App',
  window: '10m',
  severity: 'high',
  threshold: { column: 'Count', above: 3 },
  dedupKey: ['App'],
  columns: ['App', 'Count'],
};

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (isGuardError(err)) return err.field;
    throw err;
  }
  return undefined;
}

describe('rule validation', () => {
  it('accepts a full rule and fills defaults (enabled, suppressFor = window)', () => {
    const rule = validateRule(BASE, 'rules[0]');
    expect(rule).toMatchObject({
      name: 'my-rule',
      enabled: true,
      windowMs: 600_000,
      suppressForMs: 600_000,
      severity: 'high',
    });
    expect(Object.isFrozen(rule)).toBe(true);
  });

  it.each([
    [{ ...BASE, name: 'Bad Name' }, 'rules[0].name'],
    [{ ...BASE, window: '30s' }, 'rules[0].window'],
    [{ ...BASE, window: 'ten minutes' }, 'rules[0].window'],
    [{ ...BASE, severity: 'urgent' }, 'rules[0].severity'],
    [{ ...BASE, threshold: { above: -1 } }, 'rules[0].threshold.above'],
    [{ ...BASE, threshold: { above: 1, col: 'x' } }, 'rules[0].threshold.col'],
    [{ ...BASE, dedupKey: ['App', 'bad column'] }, 'rules[0].dedupKey[1]'],
    [{ ...BASE, parameters: { list: ['ok', 'bad\u0000'] } }, 'rules[0].parameters.list[1]'],
    [{ ...BASE, parameters: { list: { nested: true } } }, 'rules[0].parameters.list'],
    [{ ...BASE, extra: 1 }, 'rules[0].extra'],
    [
      { ...BASE, unreleasedImagesOnly: { registryColumn: 'R', repositoryColumn: 'P' } },
      'rules[0].unreleasedImagesOnly.digestColumn',
    ],
  ])('names the bad key: %j', (raw, field) => {
    expect(fieldOf(() => validateRule(raw, 'rules[0]'))).toBe(field);
  });

  it('words a bad key as the core JSON reader does (path, expected form, what it got)', () => {
    expect(() => validateRule({ ...BASE, threshold: { above: -1 } }, 'rules[0]')).toThrow(
      'rules[0].threshold.above: expected a number >= 0, got number -1',
    );
    expect(() => validateRule({ ...BASE, 'odd-key': 1 }, 'rules[0]')).toThrow(
      /^rules\[0\]\["odd-key"\]: expected one of/,
    );
  });

  it('renders parameters as sorted let declarations with escaped literals', () => {
    const text = renderQuery({ query: 'T', parameters: { b: ['x"y', 'a\\b\nc'], a: 3, c: 'plain', d: 1.5 } });
    expect(text).toBe('let a = 3;\nlet b = dynamic(["x\\"y", "a\\\\b\\nc"]);\nlet c = "plain";\nlet d = real(1.5);\nT');
    expect(kqlString('')).toBe('""');
  });
});

describe('rule set from the alerts file', () => {
  it('without a file: the shipped rules, the allowlist rule off', () => {
    const rules = loadRuleSet(undefined);
    expect(rules.filter((r) => r.enabled).map((r) => r.name)).toEqual([
      'console-errors',
      'image-pull-failures',
      'registry-login-failures',
      'pulled-not-released',
    ]);
  });

  it('enables, disables, overrides parameters and adds user rules', () => {
    const rules = loadRuleSet(`enable: [registry-access-outside-allowlist]
disable: [console-errors]
parameters:
  registry-access-outside-allowlist: { allowedIdentities: [ci, deploy] }
rules:
  - { name: custom-one, query: "ContainerRegistryLoginEvents | summarize Count = count() by Identity", window: 5m, severity: low, dedupKey: [Identity], columns: [Identity, Count] }
`);
    const byName = new Map(rules.map((r) => [r.name, r]));
    expect(byName.get('console-errors')!.enabled).toBe(false);
    expect(byName.get('registry-access-outside-allowlist')!.enabled).toBe(true);
    expect(byName.get('registry-access-outside-allowlist')!.parameters.allowedIdentities).toEqual(['ci', 'deploy']);
    expect(byName.get('custom-one')!.threshold).toEqual({ above: 0 });
  });

  it.each([
    ['enable: [nope]', 'enable[0]'],
    ['parameters: { console-errors: { unknownParam: 1 } }', 'parameters["console-errors"].unknownParam'],
    ['parameters: { console-errors: { errorTerms: [ok, 5] } }', 'parameters["console-errors"].errorTerms[1]'],
    ['rules: [{ name: console-errors, query: T, window: 5m, severity: low }]', 'rules[0].name'],
    [
      'rules: [{ name: x1y, query: T, window: 5m, severity: low, threshold: { above: "3" } }]',
      'rules[0].threshold.above',
    ],
    ['other: 1', 'other'],
  ])('%s -> error at %s', (text, field) => {
    expect(fieldOf(() => loadRuleSet(text))).toBe(field);
  });
});

describe('threshold evaluation and incidents', () => {
  const rule = validateRule(BASE, 'r');
  const table = {
    columns: ['App', 'Count'],
    rows: [
      ['api', 4],
      ['web', 3],
      ['api', 1],
      ['jobs', '10'],
    ],
  };

  it('fires per de-duplication key when the summed column is strictly above the threshold', () => {
    const incidents = evaluateRule(rule, table);
    expect(incidents.map((i) => [i.key.App, i.metric, i.rows])).toEqual([
      ['api', 5, 2],
      ['jobs', 10, 1],
    ]);
    expect(incidents[0].id).toBe(incidentId('my-rule', ['api']));
    expect(incidents[0].fields).toEqual({ App: 'api', Count: 4 });
  });

  it('without a threshold column the metric is the row count; without a key the rule is one incident', () => {
    const r = validateRule({ ...BASE, threshold: { above: 2 }, dedupKey: [], columns: [] }, 'r');
    expect(evaluateRule(r, table).map((i) => i.metric)).toEqual([4]);
    expect(evaluateRule(r, { columns: ['App', 'Count'], rows: [['a', 1]] })).toEqual([]);
  });

  it('a result missing a column the rule needs is an error, never "no incident"', () => {
    expect(() => evaluateRule(rule, { columns: ['App'], rows: [] })).toThrow(/no column Count/);
  });

  it('incident ids are stable and distinct per rule and key', () => {
    expect(incidentId('a', ['x'])).toBe(incidentId('a', ['x']));
    expect(incidentId('a', ['x', 'y'])).not.toBe(incidentId('a', ['x,y']));
    expect(incidentId('a', ['x'])).not.toBe(incidentId('b', ['x']));
  });

  it('de-duplication: alert when never alerted or after the suppression window, not within it', () => {
    const t0 = Date.parse('2026-11-22T10:00:00Z');
    expect(shouldAlert(undefined, t0, 3_600_000)).toBe(true);
    expect(shouldAlert({ lastAlertedAt: t0, alerts: 1 }, t0 + 3_599_999, 3_600_000)).toBe(false);
    expect(shouldAlert({ lastAlertedAt: t0, alerts: 1 }, t0 + 3_600_000, 3_600_000)).toBe(true);
  });

  it('alerts carry the rule, severity, columns and a title naming the key', () => {
    const [incident] = evaluateRule(rule, table);
    const alert = incidentAlert(rule, incident, Date.parse('2026-11-22T10:00:00Z'));
    expect(alert).toMatchObject({
      kind: 'incident',
      rule: 'my-rule',
      severity: 'high',
      raisedAt: '2026-11-22T10:00:00.000Z',
      fields: { App: 'api', Count: 4, metric: 5 },
    });
    expect(alert.title).toBe('my-rule: 5 > 3 in 10m (App=api)');
    const op = operationalAlert({ subject: 'my-rule', code: 'TRANSIENT', title: 't', nowMs: 0 });
    expect(op.incidentId).toBe(
      operationalAlert({ subject: 'my-rule', code: 'TRANSIENT', title: 'other', nowMs: 5 }).incidentId,
    );
  });
});
