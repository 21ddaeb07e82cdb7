/**
 * KQL checked with Microsoft's Kusto language service (`@kusto/language-service-next`, the Bridge.NET build
 * of Kusto.Language) against declared schemas of the Log Analytics tables the alert rules read. Used by the
 * schema test and by the Log Analytics stand-in, which refuses (400, like the real service) a query that does
 * not analyse cleanly.
 *
 * Schemas: Container Apps' custom-log tables (`_CL`, `_s` string columns), Container Instances' custom log
 * table, and ACR's resource-log tables, with the columns the Azure Monitor tables reference lists.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
require('@kusto/language-service-next/bridge.min.js');
require('@kusto/language-service-next/Kusto.Language.Bridge.min.js');

const g = globalThis as any;
const Kusto = g.Kusto;
const SystemNs = g.System;

/** Declared schemas: table name -> KQL schema text. */
export const LOG_TABLE_SCHEMAS: Readonly<Record<string, string>> = {
  ContainerAppConsoleLogs_CL:
    '(TimeGenerated:datetime, ContainerAppName_s:string, ContainerName_s:string, ContainerImage_s:string, RevisionName_s:string, EnvironmentName_s:string, Stream_s:string, Log_s:string, _ResourceId:string)',
  ContainerAppSystemLogs_CL:
    '(TimeGenerated:datetime, ContainerAppName_s:string, RevisionName_s:string, EnvironmentName_s:string, Reason_s:string, Type_s:string, Log_s:string, Count_d:real, _ResourceId:string)',
  ContainerInstanceLog_CL: '(TimeGenerated:datetime, ContainerGroup_s:string, ContainerName_s:string, ContainerID_s:string, Message:string, Location_s:string, OSType_s:string, _ResourceId:string)',
  ContainerRegistryLoginEvents:
    '(TimeGenerated:datetime, OperationName:string, Identity:string, CallerIpAddress:string, LoginServer:string, ResultType:string, ResultDescription:string, UserAgent:string, DurationMs:real, CorrelationId:string, Region:string, _ResourceId:string)',
  ContainerRegistryRepositoryEvents:
    '(TimeGenerated:datetime, OperationName:string, Identity:string, CallerIpAddress:string, LoginServer:string, Repository:string, Tag:string, Digest:string, ArtifactType:string, MediaType:string, Size:long, ResultType:string, ResultDescription:string, UserAgent:string, DurationMs:real, CorrelationId:string, Region:string, _ResourceId:string)',
};

let globals: any;

function globalState(): any {
  if (globals) return globals;
  const S = Kusto.Language.Symbols;
  const tables = Object.entries(LOG_TABLE_SCHEMAS).map(([name, schema]) => new S.TableSymbol.$ctor7(name, schema, null));
  globals = Kusto.Language.GlobalState.Default.WithDatabase(new S.DatabaseSymbol.$ctor2('workspace', null, tables));
  return globals;
}

/** One diagnostic of the language service. */
export interface KqlDiagnostic {
  severity: string;
  code: string;
  message: string;
  start: number;
}

/** Parses and analyses `query` against the declared schemas; returns its errors and warnings. */
export function kqlDiagnostics(query: string): KqlDiagnostic[] {
  const code = Kusto.Language.KustoCode.ParseAndAnalyze(query, globalState());
  const list = code.GetDiagnostics();
  const n = SystemNs.Array.getCount(list, Kusto.Language.Diagnostic);
  const out: KqlDiagnostic[] = [];
  for (let i = 0; i < n; i++) {
    const d = SystemNs.Array.getItem(list, i, Kusto.Language.Diagnostic);
    out.push({ severity: String(d.Severity), code: String(d.Code), message: String(d.Message), start: Number(d.Start) });
  }
  return out;
}

/** The tables a query reads (names of table symbols referenced), for "only declared tables" assertions. */
export function kqlErrors(query: string): KqlDiagnostic[] {
  return kqlDiagnostics(query).filter((d) => d.severity === 'Error');
}
