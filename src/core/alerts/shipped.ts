/**
 * The alert rules acr-guard ships. Each is plain data validated by the same code as users' rules; the KQL is
 * checked against declared table schemas in test/unit/core/alertsKql.test.ts.
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
    query: `union
    (ContainerAppConsoleLogs_CL | project TimeGenerated, Source = "containerapp", App = ContainerAppName_s, Message = Log_s),
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
    description: 'ImagePullBackOff or ErrImagePull more than 3 times in 10 minutes for one Container App.',
    window: '10m',
    severity: 'high',
    parameters: { pullFailureReasons: ['ImagePullBackOff', 'ErrImagePull'] },
    query: `ContainerAppSystemLogs_CL
| where Reason_s in (pullFailureReasons)
| summarize Count = count(), Sample = take_any(Log_s), LastSeen = max(TimeGenerated) by App = ContainerAppName_s`,
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
    description: 'Pulls or pushes by identities outside the allowlist (enable it and set parameters.allowedIdentities in the alerts file).',
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
    description: 'An image was pulled by digest that the gate never released (rows whose image has a release verdict in the audit store are dropped).',
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
