/**
 * Every shipped alert rule, rendered exactly as it is sent (parameters as `let` declarations), parses and
 * analyses cleanly with Microsoft's Kusto language service against the declared table schemas; the checker
 * itself catches unknown tables, unknown columns and syntax errors (so a green run means something).
 */
import { readFileSync } from 'node:fs';
import { renderQuery } from '../../../src/core/alerts/rule';
import { loadRuleSet } from '../../../src/core/alerts/ruleSet';
import { shippedRules } from '../../../src/core/alerts/shipped';
import { evaluateRule } from '../../../src/core/alerts/evaluate';
import { kqlDiagnostics, kqlErrors, LOG_TABLE_SCHEMAS } from '../../support/kql';

describe('shipped alert rules against the declared Log Analytics schemas', () => {
  const rules = shippedRules();

  it('ships the five rules the issue names', () => {
    expect(rules.map((r) => r.name)).toEqual([
      'console-errors',
      'image-pull-failures',
      'registry-login-failures',
      'registry-access-outside-allowlist',
      'pulled-not-released',
    ]);
  });

  it.each(rules.map((r) => [r.name, r] as const))(
    '%s parses and references only declared tables and columns',
    (_name, rule) => {
      expect(kqlDiagnostics(renderQuery(rule))).toEqual([]);
    },
  );

  it.each(rules.map((r) => [r.name, r] as const))('%s reads only declared tables', (_name, rule) => {
    const tables = Object.keys(LOG_TABLE_SCHEMAS).filter((t) => new RegExp(`\\b${t}\\b`).test(rule.query));
    expect(tables.length).toBeGreaterThan(0);
  });

  it('with user parameters (an allowlist holding quotes and backslashes) the rule still analyses cleanly', () => {
    const [rule] = loadRuleSet(
      'enable: [registry-access-outside-allowlist]\nparameters:\n  registry-access-outside-allowlist:\n    allowedIdentities: [\'ci"; ContainerRegistryLoginEvents | take 1 //\', "a\\\\b", pipeline]\n',
    ).filter((r) => r.name === 'registry-access-outside-allowlist');
    const text = renderQuery(rule);
    expect(kqlDiagnostics(text)).toEqual([]);
    // The hostile value is one string literal: the query still has exactly one pipeline of the rule.
    expect(text).toContain('"ci\\"; ContainerRegistryLoginEvents | take 1 //"');
  });

  it('the checker reports unknown tables, unknown columns and syntax errors', () => {
    expect(kqlErrors('ContainerRegistryLoginEvent | take 1').map((d) => d.code)).toEqual(['KS204']);
    expect(kqlErrors('ContainerRegistryLoginEvents | where Identiti == "x"').map((d) => d.code)).toEqual(['KS142']);
    expect(kqlErrors('ContainerAppSystemLogs | where').length).toBeGreaterThan(0);
    // The classic Container Apps tables are not declared: infra/ sends to the resource-specific ones.
    expect(kqlErrors('ContainerAppSystemLogs_CL | take 1').map((d) => d.code)).toEqual(['KS204']);
    expect(kqlErrors('ContainerAppSystemLogs | where Reason_s == "x"').map((d) => d.code)).toEqual(['KS142']);
  });

  it('the columns each rule alerts on and de-duplicates by are columns its query produces', () => {
    for (const rule of rules) {
      // An empty result with exactly the columns the query projects: evaluation must not miss any.
      const columns = [
        ...new Set([...rule.dedupKey, ...rule.columns, ...(rule.threshold.column ? [rule.threshold.column] : [])]),
      ];
      expect(() => evaluateRule(rule, { columns, rows: [] })).not.toThrow();
      for (const c of columns) expect(rule.query).toMatch(new RegExp(`\\b${c}\\b`));
    }
  });
});

describe('the example alerts file (samples/alerts.yaml)', () => {
  it('loads, and every enabled rule analyses cleanly against the declared schemas', () => {
    const rules = loadRuleSet(readFileSync(`${__dirname}/../../../samples/alerts.yaml`, 'utf8'), 'samples/alerts.yaml');
    const enabled = rules.filter((r) => r.enabled);
    expect(enabled.map((r) => r.name)).toContain('registry-deletes');
    for (const rule of enabled) expect([rule.name, kqlDiagnostics(renderQuery(rule))]).toEqual([rule.name, []]);
  });
});
