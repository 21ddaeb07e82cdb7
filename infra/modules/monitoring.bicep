// One Log Analytics workspace for every diagnostic setting, Application Insights for acr-guard, and the
// failed-image-pull alert (scheduled query over the Container Apps system log and the container group events)
// with its action group.
targetScope = 'resourceGroup'

@description('Required. Azure region.')
param location string

@description('Required. Suffix that makes resource names unique.')
param resourceToken string

@description('Optional. E-mail address the failed-image-pull alert notifies; none when empty.')
param alertEmail string = ''

@description('Optional. Role assignments on the workspace: objects with principalId and roleDefinitionId (a built-in role GUID).')
param roleAssignments array = []

@description('Optional. Tags applied to every resource.')
param tags object = {}

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: 'log-${resourceToken}'
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 90
    features: { disableLocalAuth: true }
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-acrguard-${resourceToken}'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    DisableLocalAuth: true
  }
}

resource workspaceRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for ra in roleAssignments: {
  scope: workspace
  name: guid(workspace.id, ra.principalId, ra.roleDefinitionId)
  properties: {
    principalId: ra.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', ra.roleDefinitionId)
  }
}]

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: 'ag-platform-${resourceToken}'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'platform'
    enabled: true
    emailReceivers: empty(alertEmail) ? [] : [
      { name: 'platform-team', emailAddress: alertEmail, useCommonAlertSchema: true }
    ]
  }
}

// The shipped image-pull-failures rule of acr-guard (src/core/alerts/shipped.ts), exactly as acr-guard sends it
// (parameters as `let`s; test/infra/alertTables.test.ts keeps the two equal): the Container Apps system log
// (resource-specific table, as the environment's diagnostic setting writes it) and the worker's container
// group events. isfuzzy keeps the query valid while ContainerEvent_CL does not exist (no worker, or no event yet).
var failedPullQuery = '''
let aciPullFailureReasons = dynamic(["Failed", "BackOff"]);
let pullFailureReasons = dynamic(["ImagePullBackOff", "ErrImagePull", "ImagePullFailure"]);
union isfuzzy=true
    (ContainerAppSystemLogs | where Reason in (pullFailureReasons) | project TimeGenerated, App = ContainerAppName, Message = Log),
    (ContainerEvent_CL | where Reason_s in (aciPullFailureReasons) and Message contains "pull" | project TimeGenerated, App = ContainerGroup_s, Message)
| summarize Count = count(), Sample = take_any(Message), LastSeen = max(TimeGenerated) by App
'''

resource failedPullAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-failed-image-pull-${resourceToken}'
  location: location
  tags: tags
  properties: {
    displayName: 'Failed image pulls'
    description: 'A container app or container group failed to pull its image more than 3 times in 10 minutes (ImagePullBackOff / ErrImagePull, or a Failed/BackOff pull event): a quarantined, purged or unreachable image.'
    severity: 2
    enabled: true
    scopes: [ workspace.id ]
    // The rule's own terms: more than 3 failed pulls in 10 minutes for one app, evaluated every 5 minutes.
    evaluationFrequency: 'PT5M'
    windowSize: 'PT10M'
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: failedPullQuery
          // The query counts per app already: alert on the sum of its Count column, split by App.
          metricMeasureColumn: 'Count'
          timeAggregation: 'Total'
          operator: 'GreaterThan'
          threshold: 3
          dimensions: [
            { name: 'App', operator: 'Include', values: [ '*' ] }
          ]
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    actions: { actionGroups: [ actionGroup.id ] }
  }
}

@description('Required. Resource id of the Log Analytics workspace every diagnostic setting sends to.')
output workspaceId string = workspace.id
@description('Required. Workspace (customer) id that Log Analytics queries use.')
output workspaceCustomerId string = workspace.properties.customerId
@description('Required. Application Insights connection string (not a secret: ingestion needs Entra ID, local auth is off).')
output appInsightsConnectionString string = appInsights.properties.ConnectionString
@description('Required. Resource id of Application Insights.')
output appInsightsId string = appInsights.id
@description('Required. Resource id of the action group.')
output actionGroupId string = actionGroup.id
