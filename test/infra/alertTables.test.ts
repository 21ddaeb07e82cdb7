/**
 * The alert rules read what a deployment of infra/ really writes. The tables are derived from the Bicep
 * (test/support/logTables.ts: diagnostic settings' categories and destination type, the container group's own
 * Log Analytics diagnostics), and every shipped rule is analysed by Microsoft's Kusto language service
 * against those tables only, with the columns Azure Monitor documents for them (test/support/kql.ts). A rule
 * reading a table the platform does not write (the classic `ContainerAppSystemLogs_CL`, say) fails here, as
 * it would fail on every run in Azure. The Bicep's own failed-pull alert runs the shipped rule's query.
 */
import { renderQuery } from '../../src/core/alerts/rule';
import { shippedRules } from '../../src/core/alerts/shipped';
import { parseDuration } from '../../src/core/duration';
import { at, declarationBody, declarations, objectsWith, parseInfra, properties, resourceBody, stringLiteral, type BicepFile, type Node } from '../support/bicep';
import { kqlDiagnostics, LOG_TABLE_SCHEMAS } from '../support/kql';
import { tablesFromInfra, tablesNamed, type WorkspaceTable } from '../support/logTables';

let files: Map<string, BicepFile>;
let tables: Map<string, WorkspaceTable>;
beforeAll(async () => {
  files = await parseInfra();
  tables = tablesFromInfra(files);
});

function file(name: string): BicepFile {
  const f = files.get(name === 'main' ? 'infra/main.bicep' : `infra/modules/${name}.bicep`);
  if (!f) throw new Error(`missing ${name}`);
  return f;
}

/** The text of a `var NAME = '''…'''` (multi-line string) declaration. */
function multilineVar(f: BicepFile, name: string): string {
  const text = declarationBody(f, 'var', name).text;
  const m = /^'''\r?\n?([\s\S]*?)'''$/.exec(text);
  if (!m) throw new Error(`${f.path}: var ${name} is not a multi-line string`);
  return m[1];
}

describe('tables a deployment of infra/ writes', () => {
  it('are derived from the Bicep: resource-specific Container Apps and registry tables, the container group tables (optional)', () => {
    const view = Object.fromEntries([...tables.values()].map((t) => [t.table, t.optional ? 'optional' : 'always']));
    expect(view).toEqual({
      ContainerAppConsoleLogs: 'always',
      ContainerAppSystemLogs: 'always',
      ContainerRegistryLoginEvents: 'always',
      ContainerRegistryRepositoryEvents: 'always',
      ContainerInstanceLog_CL: 'optional',
      ContainerEvent_CL: 'optional',
    });
  });

  it('the test schema declares the documented columns of every derived table', () => {
    expect([...tables.keys()].filter((t) => !LOG_TABLE_SCHEMAS[t])).toEqual([]);
  });

  it('the derivation follows the Bicep: without Dedicated the environment writes AzureDiagnostics, not the resource-specific tables', () => {
    const changed = new Map(files);
    const env = file('containerApps');
    const text = env.text.replace("logAnalyticsDestinationType: 'Dedicated'", "logAnalyticsDestinationType: 'AzureDiagnostics'");
    expect(text).not.toBe(env.text);
    return import('../support/bicep').then(async ({ parseBicep }) => {
      changed.set(env.path, { ...env, text, root: await parseBicep(text) });
      const derived = tablesFromInfra(changed);
      expect(derived.has('ContainerAppSystemLogs')).toBe(false);
      expect(derived.has('AzureDiagnostics')).toBe(true);
    });
  });
});

describe('every shipped rule reads only tables infra/ makes the platform write', () => {
  const rules = shippedRules();

  it.each(rules.map((r) => [r.name, r] as const))('%s analyses cleanly against the derived tables only', (_name, rule) => {
    expect(kqlDiagnostics(renderQuery(rule), [...tables.keys()])).toEqual([]);
  });

  it.each(rules.map((r) => [r.name, r] as const))('%s reads an optional table only in a fuzzy union beside a table that always exists', (_name, rule) => {
    const named = tablesNamed(rule.query, tables.keys());
    const optional = named.filter((t) => tables.get(t)?.optional !== false);
    if (optional.length === 0) return;
    expect(rule.query).toMatch(/^union isfuzzy=true\b/);
    expect(named.filter((t) => tables.get(t)?.optional === false).length).toBeGreaterThan(0);
  });

  it('the check fails for a rule reading a table the platform does not write (the classic _CL Container Apps table)', () => {
    const codes = kqlDiagnostics('ContainerAppSystemLogs_CL | where Reason_s == "ErrImagePull" | count', [...tables.keys()]).map((d) => d.code);
    expect(codes).toContain('KS204');
    const fuzzy = kqlDiagnostics('union isfuzzy=true (ContainerAppSystemLogs | project TimeGenerated), (ContainerAppConsoleLogs_CL | project TimeGenerated)', [...tables.keys()]);
    expect(fuzzy.map((d) => d.code)).toEqual(['KS205']);
  });
});

describe("the Bicep's failed-image-pull alert is the shipped image-pull-failures rule", () => {
  const rule = shippedRules().find((r) => r.name === 'image-pull-failures');

  it('runs the same query, rendered as acr-guard sends it (same tables, same reasons)', () => {
    expect(rule).toBeDefined();
    expect(multilineVar(file('monitoring'), 'failedPullQuery').trim()).toBe(renderQuery(rule!).trim());
    expect(kqlDiagnostics(multilineVar(file('monitoring'), 'failedPullQuery'), [...tables.keys()])).toEqual([]);
  });

  it('more than 3 in 10 minutes per app, severity 2, evaluated every 5 minutes', () => {
    const alert = resourceBody(file('monitoring'), 'failedPullAlert');
    const [criterion] = objectsWith(at(alert, 'properties.criteria') as Node, 'query');
    expect({
      severity: at(alert, 'properties.severity')?.text,
      every: stringLiteral(at(alert, 'properties.evaluationFrequency')),
      window: stringLiteral(at(alert, 'properties.windowSize')),
      query: at(criterion, 'query')?.text,
      measure: stringLiteral(at(criterion, 'metricMeasureColumn')),
      aggregation: stringLiteral(at(criterion, 'timeAggregation')),
      operator: stringLiteral(at(criterion, 'operator')),
      threshold: at(criterion, 'threshold')?.text,
      dimensions: objectsWith(at(criterion, 'dimensions') as Node, 'name').map((o) => stringLiteral(at(o, 'name'))),
    }).toEqual({
      severity: '2',
      every: 'PT5M',
      window: 'PT10M',
      query: 'failedPullQuery',
      measure: rule!.threshold.column,
      aggregation: 'Total',
      operator: 'GreaterThan',
      threshold: String(rule!.threshold.above),
      dimensions: [...rule!.dedupKey],
    });
    // The shipped rule says the same: 10 minutes, more than 3.
    expect(parseDuration(rule!.window, 'window')).toBe(10 * 60_000);
    expect(rule!.threshold.above).toBe(3);
  });
});

describe("the worker's container group sends its logs and events to the workspace", () => {
  it('diagnostics.logAnalytics with logType ContainerInstanceLogs, the workspace id, and the key read with listKeys() in place', () => {
    const ci = file('containerInstance');
    const la = at(resourceBody(ci, 'worker'), 'properties.diagnostics.logAnalytics') as Node;
    expect(la).toBeDefined();
    expect(Object.fromEntries([...properties(la)].map(([k, v]) => [k, v.text]))).toEqual({
      logType: "'ContainerInstanceLogs'",
      workspaceId: 'workspace.properties.customerId',
      workspaceKey: 'workspace.listKeys().primarySharedKey',
      workspaceResourceId: 'workspace.id',
    });
    // `workspace` is the existing workspace named by the module's workspaceId parameter.
    const ws = declarations(ci).find((d) => d.kind === 'resource' && d.name === 'workspace');
    expect(ws?.node.text).toMatch(/^resource workspace 'Microsoft\.OperationalInsights\/workspaces@[\d-]+' existing = \{\s*name: last\(split\(workspaceId, '\/'\)\)\s*\}$/);
    // main passes the one workspace.
    const params = properties(at(declarationBody(file('main'), 'module', 'worker'), 'params') as Node);
    expect(params.get('workspaceId')?.text).toBe('monitoring.outputs.workspaceId');
  });

  it('no parameter or output anywhere holds a workspace key', () => {
    for (const f of files.values()) {
      for (const d of declarations(f).filter((x) => x.kind === 'param' || x.kind === 'output')) {
        expect({ file: f.path, name: d.name, text: /sharedKey|listKeys|workspaceKey/i.test(d.node.text) ? d.node.text : '' }).toEqual({ file: f.path, name: d.name, text: '' });
      }
    }
    // One listKeys() call in infra/: the container group's workspaceKey.
    const uses = [...files.values()].flatMap((f) => (f.text.match(/\w\.listKeys\(/g) ?? []).map(() => f.path));
    expect(uses).toEqual(['infra/modules/containerInstance.bicep']);
  });
});
