/**
 * The workbook and the tables it reads: acr-guard's custom tables are derived from the Bicep that creates them
 * (modules/logIngestion.bicep's `streams`: table names and declared columns), the workbook is the JSON file
 * the Bicep loads with loadTextContent (the same bytes), and every KQL query in it is analysed by Microsoft's
 * Kusto language service against those tables only. A renamed column in the Bicep breaks this test.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ROOT, at, declarationBody, parseBicep, parseInfra, properties, resourceBody, stringLiteral, type BicepFile, type Node } from '../support/bicep';
import { STANDARD, kqlDiagnostics } from '../support/kql';
import { LOG_INGESTION_MODULE, customTablesFromInfra, kqlSchemaOf } from '../support/logTables';

let files: Map<string, BicepFile>;
beforeAll(async () => {
  files = await parseInfra();
});

const WORKBOOK_MODULE = 'infra/modules/workbook.bicep';

function file(path: string): BicepFile {
  const f = files.get(path);
  if (!f) throw new Error(`missing ${path}`);
  return f;
}

/** KQL schemas of the custom tables, derived from the Bicep. */
function schemas(from = files): Record<string, string> {
  return Object.fromEntries([...customTablesFromInfra(from)].map(([t, cols]) => [t, kqlSchemaOf(cols, STANDARD)]));
}

/** The workbook file the Bicep loads: the path in `loadTextContent('…')`, relative to the module. */
function workbookPath(): string {
  const value = at(resourceBody(file(WORKBOOK_MODULE), 'workbook'), 'properties.serializedData') as Node;
  const m = /^loadTextContent\('([^']+)'\)$/.exec(value.text);
  if (!m) throw new Error(`serializedData is not loadTextContent('<file>'): ${value.text}`);
  return join(ROOT, dirname(WORKBOOK_MODULE), m[1]);
}

interface WorkbookItem {
  type: number;
  name: string;
  content: { query?: string; title?: string; queryType?: number; resourceType?: string; visualization?: string; timeContextFromParameter?: string };
}

function workbook(): { version: string; items: WorkbookItem[] } {
  return JSON.parse(readFileSync(workbookPath(), 'utf8')) as { version: string; items: WorkbookItem[] };
}

const queries = (): WorkbookItem[] => workbook().items.filter((i) => i.type === 3);

describe("acr-guard's tables, from the Bicep", () => {
  it('three custom tables with TimeGenerated first; the data collection rule declares the same streams and sends each to its table', () => {
    const tables = customTablesFromInfra(files);
    expect([...tables.keys()].sort()).toEqual(['AcrGuardPurges_CL', 'AcrGuardRuntime_CL', 'AcrGuardVerdicts_CL']);
    for (const cols of tables.values()) expect(cols[0]).toEqual({ name: 'TimeGenerated', type: 'datetime' });
    const rule = resourceBody(file(LOG_INGESTION_MODULE), 'rule');
    // Every table's input stream declares exactly the table's columns, and no other stream is declared.
    const declaredStreams = properties(at(rule, 'properties.streamDeclarations') as Node);
    expect([...declaredStreams.keys()].sort()).toEqual([...tables.keys()].map((t) => `Custom-${t}`).sort());
    for (const [stream, value] of declaredStreams) expect({ stream, columns: at(value, 'columns')?.text }).toEqual({ stream, columns: `streams.${stream.replace(/^Custom-|_CL$/g, '')}` });
    const flow = at(rule, 'properties.dataFlows') as Node;
    expect(flow.text).toMatch(/^\[for s in items\(streams\): \{/);
    expect(flow.text).toContain("streams: [ 'Custom-${s.key}_CL' ]");
    expect(flow.text).toContain("outputStream: 'Custom-${s.key}_CL'");
    expect(flow.text).toContain("transformKql: 'source'");
    expect(at(rule, 'properties.dataCollectionEndpointId')?.text).toBe('endpoint.id');
  });

  it('acr-guard gets Monitoring Metrics Publisher on the rule and nothing else from this module; main wires the outputs into the settings', () => {
    const assignments = resourceBody(file(LOG_INGESTION_MODULE), 'ruleRoles');
    expect(properties(assignments).get('scope')?.text).toBe('rule');
    const main = file('infra/main.bicep');
    const params = properties(at(declarationBody(main, 'module', 'logIngestion'), 'params') as Node);
    expect(params.get('roleAssignments')?.text.replace(/\s+/g, ' ')).toBe('[ { principalId: guardPrincipalId, roleDefinitionId: roles.monitoringMetricsPublisher } ]');
    expect(main.text).toContain("{ name: 'ACR_GUARD_LOG_INGESTION_ENDPOINT', value: logIngestion.outputs.endpointUrl }");
    expect(main.text).toContain("{ name: 'ACR_GUARD_LOG_INGESTION_RULE_ID', value: logIngestion.outputs.ruleImmutableId }");
  });
});

describe('the workbook', () => {
  it('is the file the Bicep loads, a Notebook/1.0 workbook on the workspace, deployed by main with the one workspace', () => {
    expect(workbookPath()).toBe(join(ROOT, 'infra', 'workbooks', 'acr-guard.workbook.json'));
    expect(workbook().version).toBe('Notebook/1.0');
    const wb = resourceBody(file(WORKBOOK_MODULE), 'workbook');
    expect(stringLiteral(at(wb, 'kind'))).toBe('shared');
    expect(at(wb, 'properties.sourceId')?.text).toBe('workspaceId');
    const params = properties(at(declarationBody(file('infra/main.bicep'), 'module', 'workbook'), 'params') as Node);
    expect(params.get('workspaceId')?.text).toBe('monitoring.outputs.workspaceId');
  });

  it('has the four panels the issue asks for, each a Logs query on the workspace over the time range parameter', () => {
    const names = queries().map((q) => q.name);
    expect(names).toEqual(expect.arrayContaining(['verdicts-over-time', 'top-blocking-cves', 'overdue-in-production', 'purge-deletions', 'held-purge-plans']));
    for (const q of queries()) {
      expect({ name: q.name, queryType: q.content.queryType, resourceType: q.content.resourceType, time: q.content.timeContextFromParameter }).toEqual({
        name: q.name,
        queryType: 0,
        resourceType: 'microsoft.operationalinsights/workspaces',
        time: 'TimeRange',
      });
    }
    const parameters = workbook().items.find((i) => i.type === 9) as unknown as { content: { parameters: Array<{ name: string; type: number }> } };
    expect(parameters.content.parameters.map((p) => [p.name, p.type])).toEqual([['TimeRange', 4]]);
  });

  it.each(['verdicts-over-time', 'top-blocking-cves', 'overdue-in-production', 'runtime-statuses', 'purge-deletions', 'held-purge-plans', 'purge-by-repository'])(
    '%s analyses cleanly against the tables the Bicep creates (only those)',
    (name) => {
      const q = queries().find((i) => i.name === name);
      expect(q?.content.query).toBeDefined();
      const s = schemas();
      expect(kqlDiagnostics(q!.content.query!, Object.keys(s), s)).toEqual([]);
    },
  );

  it('every query reads only acr-guard tables', () => {
    for (const q of queries()) {
      const tables = [...new Set(q.content.query!.match(/\b[A-Za-z]+_CL\b/g) ?? [])];
      expect(tables.every((t) => Object.keys(schemas()).includes(t))).toBe(true);
    }
  });

  it('the check fails when the Bicep renames a column the workbook reads (BlockingFindings → Findings)', async () => {
    const module = file(LOG_INGESTION_MODULE);
    const text = module.text.replace("{ name: 'BlockingFindings', type: 'dynamic'", "{ name: 'Findings', type: 'dynamic'");
    expect(text).not.toBe(module.text);
    const changed = new Map(files);
    changed.set(module.path, { ...module, text, root: await parseBicep(text) });
    const s = schemas(changed);
    const q = queries().find((i) => i.name === 'top-blocking-cves')!.content.query!;
    const diagnostics = kqlDiagnostics(q, Object.keys(s), s);
    expect(diagnostics.length).toBeGreaterThan(0);
    expect(diagnostics.map((d) => d.message).join('\n')).toMatch(/BlockingFindings/);
  });
});
