/**
 * KQL checked with Microsoft's Kusto language service (`@kusto/language-service-next`, the Bridge.NET build
 * of Kusto.Language) against declared schemas of the Log Analytics tables the alert rules read. Used by the
 * schema test and by the Log Analytics stand-in, which refuses (400, like the real service) a query that does
 * not analyse cleanly.
 *
 * Schemas: the tables infra/ makes the platform write, with the columns Azure Monitor's table reference
 * (learn.microsoft.com/azure/azure-monitor/reference/tables/<table>) lists for the resource-specific tables
 * (Container Apps' `ContainerAppConsoleLogs`/`ContainerAppSystemLogs`, ACR's `ContainerRegistry*`), and the
 * "Log schema" section of the Container Instances Log Analytics article for the container group's
 * `ContainerInstanceLog_CL`/`ContainerEvent_CL`. The classic `ContainerApp*_CL` tables (`_s` columns) are not
 * declared: infra/ does not write them, so a rule reading them fails here as it would in Azure.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
require('@kusto/language-service-next/bridge.min.js');
require('@kusto/language-service-next/Kusto.Language.Bridge.min.js');

const g = globalThis as any;
const Kusto = g.Kusto;
const SystemNs = g.System;

/** Columns every Azure Monitor table carries (standard columns), as KQL schema text. */
export const STANDARD =
  'TenantId:string, SourceSystem:string, Type:string, _ResourceId:string, _SubscriptionId:string, _BilledSize:real, _IsBillable:string';
/** Columns of a custom-log (`_CL`) table written through the workspace key (Data Collector API). */
const CUSTOM_LOG =
  'Computer:string, RawData:string, ResourceGroup:string, SubscriptionId:string, Type:string, _ResourceId:string, _SubscriptionId:string';

/** Declared schemas: table name -> KQL schema text. */
export const LOG_TABLE_SCHEMAS: Readonly<Record<string, string>> = {
  ContainerAppConsoleLogs: `(TimeGenerated:datetime, ContainerAppName:string, ContainerGroupId:string, ContainerGroupName:string, ContainerId:string, ContainerImage:string, ContainerName:string, EnvironmentName:string, JobName:string, Location:string, Log:string, OperationName:string, RevisionName:string, Stream:string, ${STANDARD})`,
  ContainerAppSystemLogs: `(TimeGenerated:datetime, ComponentName:string, ComponentType:string, ContainerAppName:string, ContainerName:string, Count:int, EnvironmentName:string, EventSource:string, JobName:string, Location:string, Log:string, OperationName:string, Reason:string, ReplicaName:string, RevisionName:string, ${STANDARD})`,
  ContainerInstanceLog_CL: `(TimeGenerated:datetime, ContainerGroup_s:string, ContainerID_s:string, ContainerImage_s:string, Location_s:string, Message:string, OSType_s:string, Source_s:string, ${CUSTOM_LOG})`,
  ContainerEvent_CL: `(TimeGenerated:datetime, ContainerGroupInstanceId_g:string, ContainerGroup_s:string, ContainerName_s:string, Count_d:real, FirstTimestamp_t:datetime, Location_s:string, Message:string, OSType_s:string, Reason_s:string, ${CUSTOM_LOG})`,
  ContainerRegistryLoginEvents: `(TimeGenerated:datetime, CallerIpAddress:string, Category:string, CorrelationId:string, DurationMs:string, Identity:string, JwtId:string, LoginServer:string, OperationName:string, Region:string, ResultDescription:string, ResultType:string, UserAgent:string, ${STANDARD})`,
  ContainerRegistryRepositoryEvents: `(TimeGenerated:datetime, ArtifactType:string, CallerIpAddress:string, Category:string, CorrelationId:string, Digest:string, DurationMs:string, Identity:string, LoginServer:string, MediaType:string, OperationName:string, Region:string, Repository:string, ResultDescription:string, ResultType:string, Size:int, Tag:string, UserAgent:string, UserTenantId:string, ${STANDARD})`,
};

const states = new Map<string, any>();

/**
 * The language service's global state with a workspace holding `names` (declared schemas only, or those of
 * `extra`: schemas a test derives, such as acr-guard's custom tables from the Bicep).
 */
function globalState(
  names: readonly string[] = Object.keys(LOG_TABLE_SCHEMAS),
  extra: Readonly<Record<string, string>> = {},
): any {
  const key = JSON.stringify([[...names].sort(), Object.entries(extra).sort()]);
  let state = states.get(key);
  if (state) return state;
  const S = Kusto.Language.Symbols;
  const tables = names.map((name) => {
    const schema = extra[name] ?? LOG_TABLE_SCHEMAS[name];
    if (!schema) throw new Error(`no declared schema for table ${name}`);
    return new S.TableSymbol.$ctor7(name, schema, null);
  });
  state = Kusto.Language.GlobalState.Default.WithDatabase(new S.DatabaseSymbol.$ctor2('workspace', null, tables));
  states.set(key, state);
  return state;
}

/** One diagnostic of the language service. */
export interface KqlDiagnostic {
  severity: string;
  code: string;
  message: string;
  start: number;
}

/**
 * Parses and analyses `query` against the declared schemas (or only those of `tables`, e.g. the tables a
 * deployment really has; `extra` adds derived schemas by table name); returns its errors and warnings. An unknown table is an error (KS204), or a
 * warning (KS205) inside `union isfuzzy=true`.
 */
export function kqlDiagnostics(
  query: string,
  tables?: readonly string[],
  extra?: Readonly<Record<string, string>>,
): KqlDiagnostic[] {
  const code = Kusto.Language.KustoCode.ParseAndAnalyze(query, globalState(tables, extra));
  const list = code.GetDiagnostics();
  const n = SystemNs.Array.getCount(list, Kusto.Language.Diagnostic);
  const out: KqlDiagnostic[] = [];
  for (let i = 0; i < n; i++) {
    const d = SystemNs.Array.getItem(list, i, Kusto.Language.Diagnostic);
    out.push({
      severity: String(d.Severity),
      code: String(d.Code),
      message: String(d.Message),
      start: Number(d.Start),
    });
  }
  return out;
}

/** The tables a query reads (names of table symbols referenced), for "only declared tables" assertions. */
export function kqlErrors(query: string): KqlDiagnostic[] {
  return kqlDiagnostics(query).filter((d) => d.severity === 'Error');
}
