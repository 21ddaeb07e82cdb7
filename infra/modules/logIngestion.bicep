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

@description('Optional. Role assignments on the workspace itself (brownfield: acr-guard\'s Log Analytics Reader for its alert queries, when the workspace is not created with it): objects with principalId and roleDefinitionId.')
param workspaceRoleAssignments array = []

@description('Optional. Days the workspace keeps the rows of acr-guard\'s tables.')
@minValue(30)
@maxValue(730)
param retentionInDays int = 90

@description('Optional. Tags applied to every resource.')
param tags object = {}

// Table (without _CL) → columns. Types: the Logs Ingestion API's (string, int, long, real, boolean, datetime, dynamic).
var streams = {
  AcrGuardVerdicts: [
    { name: 'TimeGenerated', type: 'datetime' } // When the gate decided (verdict decidedAt).
    { name: 'Registry', type: 'string' } // Registry host.
    { name: 'Repository', type: 'string' } // Repository.
    { name: 'Digest', type: 'string' } // Manifest digest.
    { name: 'Tag', type: 'string' } // Tag the image was pushed with, when known (informational).
    { name: 'Decision', type: 'string' } // release or block.
    { name: 'Summary', type: 'string' } // One-line summary of the verdict.
    { name: 'Rule', type: 'string' } // The gate rule that applied.
    { name: 'PolicyHash', type: 'string' } // sha256 of the normalised policy.
    { name: 'FailedChecks', type: 'dynamic' } // Names of the checks that failed or were inconclusive.
    { name: 'BlockingFindings', type: 'dynamic' } // The listed blocking findings: id, severity, package, installedVersion, fixedVersion.
    { name: 'Critical', type: 'int' } // Non-excepted critical findings.
    { name: 'High', type: 'int' } // Non-excepted high findings.
    { name: 'Medium', type: 'int' } // Non-excepted medium findings.
    { name: 'Low', type: 'int' } // Non-excepted low findings.
    { name: 'SignatureStatus', type: 'string' } // Status of the signatures check (pass, fail, inconclusive, skipped), empty when not run.
  ]
  AcrGuardPurges: [
    { name: 'TimeGenerated', type: 'datetime' } // When the purge run finished.
    { name: 'Registry', type: 'string' } // Registry host.
    { name: 'Repository', type: 'string' } // Repository.
    { name: 'Trigger', type: 'string' } // timer, push, cli or manual.
    { name: 'DryRun', type: 'boolean' } // True when nothing was deleted on purpose.
    { name: 'RunStartedAt', type: 'datetime' } // When the purge run started (one run: one RunStartedAt per registry).
    { name: 'Rule', type: 'string' } // The retention rule that applied, empty when none matched.
    { name: 'Status', type: 'string' } // done, dry-run, partial, skipped or failed.
    { name: 'Deleted', type: 'int' } // Manifests deleted.
    { name: 'AlreadyGone', type: 'int' } // Manifests already deleted by someone else.
    { name: 'Failed', type: 'int' } // Deletes that failed.
    { name: 'NotAttempted', type: 'int' } // Deletes not attempted (stopped early).
    { name: 'BytesFreed', type: 'long' } // Bytes freed (deletes whose size was known).
    { name: 'KeptByReason', type: 'dynamic' } // Manifests kept, by reason.
    { name: 'ErrorCode', type: 'string' } // Why the repository was skipped or failed, empty otherwise.
  ]
  AcrGuardRuntime: [
    { name: 'TimeGenerated', type: 'datetime' } // When the runtime audit ran.
    { name: 'Image', type: 'string' } // Image reference as deployed.
    { name: 'Digest', type: 'string' } // Resolved digest, empty when unresolved.
    { name: 'Status', type: 'string' } // released, blocked, overdue, ... (runtime status).
    { name: 'Reason', type: 'string' } // Why the image has this status.
    { name: 'ByTag', type: 'boolean' } // Deployed by tag only (no digest).
    { name: 'Workloads', type: 'dynamic' } // Workloads running the image (ARM id and container).
    { name: 'GraceUntil', type: 'datetime' } // For blocked and overdue: end of the grace period.
    { name: 'PolicyHash', type: 'string' } // Policy hash the image was classified under.
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
    // Input stream Custom-<table>_CL with the table's columns. Spelled out (no toObject lambda): checkov's
    // Bicep parser cannot read lambdas. test/infra/workbook.test.ts checks it covers every table of `streams`.
    streamDeclarations: {
      'Custom-AcrGuardVerdicts_CL': { columns: streams.AcrGuardVerdicts }
      'Custom-AcrGuardPurges_CL': { columns: streams.AcrGuardPurges }
      'Custom-AcrGuardRuntime_CL': { columns: streams.AcrGuardRuntime }
    }
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

resource workspaceRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for ra in workspaceRoleAssignments: {
  scope: workspace
  name: guid(workspace.id, ra.principalId, ra.roleDefinitionId)
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
