/**
 * The alert rules acr-guard ships. Each is plain data validated by the same code as users' rules; the KQL is
 * checked against declared table schemas in test/unit/core/alertsKql.test.ts.
 *
 * The tables are the ones infra/ makes the platform write (docs/alerts-tables.md; test/infra/alertTables.test.ts
 * derives them from the Bicep): the Container Apps environment's diagnostic setting sends to the
 * resource-specific tables `ContainerAppConsoleLogs` / `ContainerAppSystemLogs` (columns `Log`,
 * `ContainerAppName`, `Reason`; not the `_CL` tables of the classic `log-analytics` destination), the registry's
 * to `ContainerRegistryLoginEvents` / `ContainerRegistryRepositoryEvents`, and the worker's container group
 * writes `ContainerInstanceLog_CL` / `ContainerEvent_CL` through its own Log Analytics diagnostics. The
 * container group is optional (`deployWorker`) and a `_CL` table exists only after its first record, so
 * those tables are read inside `union isfuzzy=true` next to a table that always exists: a missing one
 * leaves the rule working instead of failing every run.
 */
import type { AlertRule } from './rule';
import { validateRule } from './rule';

/** Raw definitions (as a user would write them in the alerts file). */
export const SHIPPED_RULE_DEFINITIONS: readonly Record<string, unknown>[] = [
  {
    name: 'console-errors',
    description: 'Container Apps and Container Instances console output containing error, unauthorized or denied.',
    window: '10m',
    severity: 'medium',
    parameters: { errorTerms: ['error', 'unauthorized', 'denied'] },
    query: `union isfuzzy=true
    (ContainerAppConsoleLogs | project TimeGenerated, Source = "containerapp", App = ContainerAppName, Message = Log),
    (ContainerInstanceLog_CL | project TimeGenerated, Source = "containerinstance", App = ContainerGroup_s, Message)
| where Message has_any (errorTerms)
| summarize Count = count(), Sample = take_any(Message), LastSeen = max(TimeGenerated) by Source, App`,
    threshold: { column: 'Count', above: 0 },
    dedupKey: ['Source', 'App'],
    suppressFor: '1h',
    columns: ['Source', 'App', 'Count', 'Sample', 'LastSeen'],
  },
  {
    name: 'image-pull-failures',
    description:
      "Image pulls failing (ImagePullBackOff, ErrImagePull; a container group's Failed/BackOff pull events) more than 3 times in 10 minutes for one Container App or container group.",
    window: '10m',
    severity: 'high',
    parameters: {
      pullFailureReasons: ['ImagePullBackOff', 'ErrImagePull', 'ImagePullFailure'],
      aciPullFailureReasons: ['Failed', 'BackOff'],
    },
    // The Bicep's failed-pull alert (infra/modules/monitoring.bicep) runs this same query, rendered; a test keeps them equal.
    query: `union isfuzzy=true
    (ContainerAppSystemLogs | where Reason in (pullFailureReasons) | project TimeGenerated, App = ContainerAppName, Message = Log),
    (ContainerEvent_CL | where Reason_s in (aciPullFailureReasons) and Message contains "pull" | project TimeGenerated, App = ContainerGroup_s, Message)
| summarize Count = count(), Sample = take_any(Message), LastSeen = max(TimeGenerated) by App`,
    threshold: { column: 'Count', above: 3 },
    dedupKey: ['App'],
    suppressFor: '1h',
    columns: ['App', 'Count', 'Sample', 'LastSeen'],
  },
  {
    name: 'registry-login-failures',
    description: 'Failed registry logins (401/403) by identity and caller address.',
    window: '15m',
    severity: 'high',
    parameters: { failedResults: ['401', '403'] },
    query: `ContainerRegistryLoginEvents
| where ResultType in (failedResults)
| summarize Count = count(), LastResult = take_any(ResultDescription), LastSeen = max(TimeGenerated) by LoginServer, Identity, CallerIpAddress`,
    threshold: { column: 'Count', above: 0 },
    dedupKey: ['LoginServer', 'Identity', 'CallerIpAddress'],
    suppressFor: '1h',
    columns: ['LoginServer', 'Identity', 'CallerIpAddress', 'Count', 'LastResult', 'LastSeen'],
  },
  {
    name: 'registry-access-outside-allowlist',
    description:
      'Pulls or pushes by identities outside the allowlist (enable it and set parameters.allowedIdentities in the alerts file).',
    enabled: false,
    window: '15m',
    severity: 'high',
    parameters: { allowedIdentities: [], operations: ['Pull', 'Push'] },
    query: `ContainerRegistryRepositoryEvents
| where OperationName in (operations) and not(Identity in (allowedIdentities))
| summarize Count = count(), Repositories = make_set(Repository, 10), LastSeen = max(TimeGenerated) by LoginServer, Identity, OperationName, CallerIpAddress`,
    threshold: { column: 'Count', above: 0 },
    dedupKey: ['LoginServer', 'Identity', 'OperationName'],
    suppressFor: '6h',
    columns: ['LoginServer', 'Identity', 'OperationName', 'CallerIpAddress', 'Count', 'Repositories', 'LastSeen'],
  },
  {
    name: 'pulled-not-released',
    description:
      'An image was pulled by digest that the gate never released (rows whose image has a release verdict in the audit store are dropped).',
    window: '1h',
    severity: 'critical',
    parameters: { pullOperation: 'Pull' },
    query: `ContainerRegistryRepositoryEvents
| where OperationName == pullOperation and isnotempty(Digest)
| summarize Count = count(), Identities = make_set(Identity, 10), FirstSeen = min(TimeGenerated) by LoginServer, Repository, Digest`,
    threshold: { column: 'Count', above: 0 },
    dedupKey: ['LoginServer', 'Repository', 'Digest'],
    suppressFor: '24h',
    columns: ['LoginServer', 'Repository', 'Digest', 'Count', 'Identities', 'FirstSeen'],
    unreleasedImagesOnly: { registryColumn: 'LoginServer', repositoryColumn: 'Repository', digestColumn: 'Digest' },
  },
];

/** The shipped rules, validated. */
export function shippedRules(): AlertRule[] {
  return SHIPPED_RULE_DEFINITIONS.map((raw, i) => validateRule(raw, `shipped[${i}]`));
}
