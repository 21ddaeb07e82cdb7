// One role assignment on Application Insights (acr-guard publishes telemetry with Entra ID, local auth off).
targetScope = 'resourceGroup'

@description('Required. Name of the Application Insights component.')
param appInsightsName string

@description('Required. Principal that gets the role.')
param principalId string

@description('Required. Built-in role definition GUID.')
param roleDefinitionId string

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: appInsights
  name: guid(appInsights.id, principalId, roleDefinitionId)
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionId)
  }
}
