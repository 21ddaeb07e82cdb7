/**
 * Which Log Analytics tables a deployment of infra/ really fills, derived from the Bicep's syntax tree (no
 * list kept by hand next to it): every diagnostic setting's log categories on the resource it is scoped to,
 * in resource-specific tables when it says `logAnalyticsDestinationType: 'Dedicated'` (else the shared
 * `AzureDiagnostics`), and every container group's own Log Analytics diagnostics (`ContainerInstanceLogs`:
 * `ContainerInstanceLog_CL` and `ContainerEvent_CL`). A table is optional when it exists only after its first
 * record (`_CL`) or comes from a module deployed on a condition.
 */
import { at, declarationBody, declarations, properties, stringLiteral, type BicepFile, type Node } from './bicep';

/**
 * Log categories → resource-specific table, per resource type, from Azure Monitor's "supported resource log
 * categories" pages (learn.microsoft.com/azure/azure-monitor/reference/supported-logs/...). Only the types and
 * categories the alert rules can read are listed; `allLogs` stands for every category listed here.
 */
export const CATEGORY_TABLES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  'microsoft.app/managedenvironments': {
    ContainerAppConsoleLogs: 'ContainerAppConsoleLogs',
    ContainerAppSystemLogs: 'ContainerAppSystemLogs',
  },
  'microsoft.containerregistry/registries': {
    ContainerRegistryLoginEvents: 'ContainerRegistryLoginEvents',
    ContainerRegistryRepositoryEvents: 'ContainerRegistryRepositoryEvents',
  },
};

/** The tables a container group's `diagnostics.logAnalytics` with `logType: 'ContainerInstanceLogs'` writes (ACI docs, "Log schema"). */
export const CONTAINER_GROUP_TABLES: readonly string[] = ['ContainerInstanceLog_CL', 'ContainerEvent_CL'];

/** One table the deployment fills. */
export interface WorkspaceTable {
  table: string;
  /** `infra/modules/x.bicep resourceName` that makes it. */
  from: string;
  /** True when it may not exist in a given workspace (custom-log table, or a conditional module). */
  optional: boolean;
}

function resourceType(decl: { node: Node }): string {
  return (stringLiteral(decl.node.namedChildren[1]) ?? '').split('@')[0].toLowerCase();
}

/** Files deployed only on a condition: `module x 'modules/y.bicep' = if (…) {…}` in main.bicep. */
function conditionalFiles(main: BicepFile): Set<string> {
  const out = new Set<string>();
  for (const d of declarations(main)) {
    if (d.kind !== 'module') continue;
    const path = stringLiteral(d.node.namedChildren[1]);
    const last = d.node.namedChildren[d.node.namedChildren.length - 1];
    if (path && last?.type === 'if_statement') out.add(`infra/${path}`);
  }
  return out;
}

/** Every table the Bicep under infra/ makes the platform write, by name. */
export function tablesFromInfra(files: Map<string, BicepFile>): Map<string, WorkspaceTable> {
  const main = files.get('infra/main.bicep');
  if (!main) throw new Error('infra/main.bicep is missing');
  const conditional = conditionalFiles(main);
  const out = new Map<string, WorkspaceTable>();
  const add = (table: string, from: string, optional: boolean): void => {
    const seen = out.get(table);
    // A table made unconditionally anywhere is not optional.
    if (!seen || (seen.optional && !optional)) out.set(table, { table, from, optional });
  };
  for (const file of files.values()) {
    const decls = declarations(file).filter((d) => d.kind === 'resource');
    for (const d of decls) {
      const type = resourceType(d);
      const body = declarationBody(file, 'resource', d.name);
      const from = `${file.path} ${d.name}`;
      const fileOptional = conditional.has(file.path) || body.parent?.type === 'if_statement';
      if (type === 'microsoft.insights/diagnosticsettings') {
        const scopeName = properties(body).get('scope')?.text;
        const target = decls.find((x) => x.name === scopeName);
        if (!target || !at(body, 'properties.workspaceId')) continue;
        const byCategory = CATEGORY_TABLES[resourceType(target)];
        if (!byCategory) continue;
        const dedicated = stringLiteral(at(body, 'properties.logAnalyticsDestinationType')) === 'Dedicated';
        const logs = at(body, 'properties.logs');
        for (const entry of logs?.descendantsOfType('object') ?? []) {
          if (at(entry, 'enabled')?.text !== 'true') continue;
          const category = stringLiteral(at(entry, 'category'));
          const group = stringLiteral(at(entry, 'categoryGroup'));
          const categories = category ? [category] : group === 'allLogs' ? Object.keys(byCategory) : [];
          for (const c of categories) {
            const table = dedicated ? byCategory[c] : 'AzureDiagnostics';
            if (table) add(table, from, fileOptional);
          }
        }
      } else if (type === 'microsoft.containerinstance/containergroups') {
        const la = at(body, 'properties.diagnostics.logAnalytics');
        if (
          !la ||
          stringLiteral(at(la, 'logType')) !== 'ContainerInstanceLogs' ||
          !at(la, 'workspaceId') ||
          !at(la, 'workspaceKey')
        )
          continue;
        for (const table of CONTAINER_GROUP_TABLES) add(table, from, true);
      }
    }
  }
  return out;
}

/**
 * The tables a query names: identifiers that are known tables (of `known`) or custom-log tables (`…_CL`).
 * The KQL analysis is the strict check; this list is for the rules about optional tables.
 */
export function tablesNamed(query: string, known: Iterable<string>): string[] {
  const names = new Set<string>();
  for (const t of known) if (new RegExp(`\\b${t}\\b`).test(query)) names.add(t);
  for (const m of query.matchAll(/\b([A-Za-z][A-Za-z0-9_]*_CL)\b/g)) names.add(m[1]);
  return [...names].sort();
}

/** One column of a custom table as the Bicep declares it. */
export interface DeclaredColumn {
  name: string;
  type: string;
}

/** The module that declares acr-guard's own tables (Logs Ingestion API). */
export const LOG_INGESTION_MODULE = 'infra/modules/logIngestion.bicep';

/**
 * acr-guard's custom tables, read from the `streams` variable of modules/logIngestion.bicep (table name
 * without `_CL` → columns), checked to be what the module really makes: the tables are named `<key>_CL` and
 * every data flow sends `Custom-<key>_CL` to `Custom-<key>_CL`. Keyed by the full table name (`…_CL`).
 */
export function customTablesFromInfra(files: Map<string, BicepFile>): Map<string, DeclaredColumn[]> {
  const file = files.get(LOG_INGESTION_MODULE);
  if (!file) throw new Error(`${LOG_INGESTION_MODULE} is missing`);
  const tables = declarationBody(file, 'resource', 'tables');
  if (stringLiteral(at(tables, 'name')) !== undefined || at(tables, 'name')?.text !== "'${s.key}_CL'")
    throw new Error(`${file.path}: tables are no longer named '\${s.key}_CL'`);
  if (at(tables, 'properties.schema.columns')?.text !== 's.value')
    throw new Error(`${file.path}: the tables' columns are no longer the streams' columns`);
  const out = new Map<string, DeclaredColumn[]>();
  for (const [key, value] of properties(declarationBody(file, 'var', 'streams'))) {
    const columns = value.namedChildren
      .filter((n) => n.type === 'object')
      .map((o) => {
        const props = properties(o);
        const name = stringLiteral(props.get('name'));
        const type = stringLiteral(props.get('type'));
        if (!name || !type) throw new Error(`${file.path}: streams.${key}: a column without a literal name and type`);
        return { name, type };
      });
    out.set(`${key}_CL`, columns);
  }
  return out;
}

/** KQL types of the Logs Ingestion column types. */
const KQL_TYPE: Readonly<Record<string, string>> = {
  string: 'string',
  int: 'int',
  long: 'long',
  real: 'real',
  boolean: 'bool',
  datetime: 'datetime',
  dynamic: 'dynamic',
  guid: 'guid',
};

/** A custom table's KQL schema text: its declared columns and the standard columns of every table. */
export function kqlSchemaOf(columns: readonly DeclaredColumn[], standard: string): string {
  const own = columns.map((c) => {
    const t = KQL_TYPE[c.type];
    if (!t) throw new Error(`column ${c.name}: unknown type ${c.type}`);
    return `${c.name}:${t}`;
  });
  return `(${own.join(', ')}, ${standard})`;
}
