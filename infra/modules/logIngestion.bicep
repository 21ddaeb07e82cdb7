// What acr-guard writes to Log Analytics, through the Logs Ingestion API: three custom tables with declared
// columns, the data collection endpoint acr-guard posts to, and the data collection rule that maps each input
// stream onto its table. acr-guard's identity gets Monitoring Metrics Publisher on this rule only (the role
// the Logs Ingestion API asks for), nothing on the workspace.
//
// Deployed in the workspace's resource group (custom tables are children of the workspace). The columns are
// declared once, in `streams`; src/core/logRows.ts writes exactly these columns and
// test/infra/workbook.test.ts checks the two (and the workbook's KQL) against each other.
targetScope = 'resourceGroup'

@description('Required. Azure region of the data collection endpoint and rule (the workspace\'s region).')
param location string

@description('Required. Suffix that makes resource names unique.')
param resourceToken string

@description('Required. Name of the Log Analytics workspace (in this resource group) that receives the tables.')
param workspaceName string

@description('Optional. Role assignments on the data collection rule: objects with principalId and roleDefinitionId (a built-in role GUID).')
param roleAssignments array = []

@description('Optional. Days the workspace keeps the rows of acr-guard\'s tables.')
@minValue(30)
@maxValue(730)
param retentionInDays int = 90

@description('Optional. Tags applied to every resource.')
param tags object = {}

// Table (without _CL) → columns. Types: the Logs Ingestion API's (string, int, long, real, boolean, datetime, dynamic).
var streams = {
  AcrGuardVerdicts: [
    { name: 'TimeGenerated', type: 'datetime', description: 'When the gate decided (verdict decidedAt).' }
    { name: 'Registry', type: 'string', description: 'Registry host.' }
    { name: 'Repository', type: 'string', description: 'Repository.' }
    { name: 'Digest', type: 'string', description: 'Manifest digest.' }
    { name: 'Tag', type: 'string', description: 'Tag the image was pushed with, when known (informational).' }
    { name: 'Decision', type: 'string', description: 'release or block.' }
    { name: 'Summary', type: 'string', description: 'One-line summary of the verdict.' }
    { name: 'Rule', type: 'string', description: 'The gate rule that applied.' }
    { name: 'PolicyHash', type: 'string', description: 'sha256 of the normalised policy.' }
    { name: 'FailedChecks', type: 'dynamic', description: 'Names of the checks that failed or were inconclusive.' }
    { name: 'BlockingFindings', type: 'dynamic', description: 'The listed blocking findings: id, severity, package, installedVersion, fixedVersion.' }
    { name: 'Critical', type: 'int', description: 'Non-excepted critical findings.' }
    { name: 'High', type: 'int', description: 'Non-excepted high findings.' }
    { name: 'Medium', type: 'int', description: 'Non-excepted medium findings.' }
    { name: 'Low', type: 'int', description: 'Non-excepted low findings.' }
    { name: 'SignatureStatus', type: 'string', description: 'Status of the signatures check (pass, fail, inconclusive, skipped), empty when not run.' }
  ]
  AcrGuardPurges: [
    { name: 'TimeGenerated', type: 'datetime', description: 'When the purge run finished.' }
    { name: 'Registry', type: 'string', description: 'Registry host.' }
    { name: 'Repository', type: 'string', description: 'Repository.' }
    { name: 'Trigger', type: 'string', description: 'timer, push, cli or manual.' }
    { name: 'DryRun', type: 'boolean', description: 'True when nothing was deleted on purpose.' }
    { name: 'RunStartedAt', type: 'datetime', description: 'When the purge run started (one run: one RunStartedAt per registry).' }
    { name: 'Rule', type: 'string', description: 'The retention rule that applied, empty when none matched.' }
    { name: 'Status', type: 'string', description: 'done, dry-run, partial, skipped or failed.' }
    { name: 'Deleted', type: 'int', description: 'Manifests deleted.' }
    { name: 'AlreadyGone', type: 'int', description: 'Manifests already deleted by someone else.' }
    { name: 'Failed', type: 'int', description: 'Deletes that failed.' }
    { name: 'NotAttempted', type: 'int', description: 'Deletes not attempted (stopped early).' }
    { name: 'BytesFreed', type: 'long', description: 'Bytes freed (deletes whose size was known).' }
    { name: 'KeptByReason', type: 'dynamic', description: 'Manifests kept, by reason.' }
    { name: 'ErrorCode', type: 'string', description: 'Why the repository was skipped or failed, empty otherwise.' }
  ]
  AcrGuardRuntime: [
    { name: 'TimeGenerated', type: 'datetime', description: 'When the runtime audit ran.' }
    { name: 'Image', type: 'string', description: 'Image reference as deployed.' }
    { name: 'Digest', type: 'string', description: 'Resolved digest, empty when unresolved.' }
    { name: 'Status', type: 'string', description: 'released, blocked, overdue, ... (runtime status).' }
    { name: 'Reason', type: 'string', description: 'Why the image has this status.' }
    { name: 'ByTag', type: 'boolean', description: 'Deployed by tag only (no digest).' }
    { name: 'Workloads', type: 'dynamic', description: 'Workloads running the image (ARM id and container).' }
    { name: 'GraceUntil', type: 'datetime', description: 'For blocked and overdue: end of the grace period.' }
    { name: 'PolicyHash', type: 'string', description: 'Policy hash the image was classified under.' }
  ]
}

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: workspaceName
}

resource tables 'Microsoft.OperationalInsights/workspaces/tables@2022-10-01' = [for s in items(streams): {
  parent: workspace
  name: '${s.key}_CL'
  properties: {
    plan: 'Analytics'
    retentionInDays: retentionInDays
    schema: { name: '${s.key}_CL', columns: s.value }
  }
}]

resource endpoint 'Microsoft.Insights/dataCollectionEndpoints@2023-03-11' = {
  name: 'dce-acrguard-${resourceToken}'
  location: location
  tags: tags
  properties: { networkAcls: { publicNetworkAccess: 'Enabled' } }
}

resource rule 'Microsoft.Insights/dataCollectionRules@2023-03-11' = {
  name: 'dcr-acrguard-${resourceToken}'
  location: location
  tags: tags
  properties: {
    dataCollectionEndpointId: endpoint.id
    // Input stream Custom-<table>_CL, columns without descriptions (a stream declaration has name and type only).
    streamDeclarations: toObject(items(streams), s => 'Custom-${s.key}_CL', s => { columns: map(s.value, c => { name: c.name, type: c.type }) })
    destinations: {
      logAnalytics: [ { name: 'workspace', workspaceResourceId: workspace.id } ]
    }
    dataFlows: [for s in items(streams): {
      streams: [ 'Custom-${s.key}_CL' ]
      destinations: [ 'workspace' ]
      transformKql: 'source'
      outputStream: 'Custom-${s.key}_CL'
    }]
  }
  dependsOn: [ tables ]
}

resource ruleRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for ra in roleAssignments: {
  scope: rule
  name: guid(rule.id, ra.principalId, ra.roleDefinitionId)
  properties: {
    principalId: ra.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', ra.roleDefinitionId)
  }
}]

@description('Required. Logs ingestion URL of the data collection endpoint (ACR_GUARD_LOG_INGESTION_ENDPOINT).')
output endpointUrl string = endpoint.properties.logsIngestion.endpoint
@description('Required. Immutable id of the data collection rule (ACR_GUARD_LOG_INGESTION_RULE_ID).')
output ruleImmutableId string = rule.properties.immutableId
@description('Required. Resource id of the data collection rule.')
output ruleId string = rule.id
