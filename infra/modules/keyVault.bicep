// The one Key Vault: RBAC authorization, purge protection, no public network access (private endpoint),
// diagnostics to the workspace, and the role assignments on it.
targetScope = 'resourceGroup'

@description('Required. Azure region.')
param location string

@description('Required. Suffix that makes resource names unique.')
param resourceToken string

@description('Required. Log Analytics workspace for the vault\'s audit logs.')
param workspaceId string

@description('Required. Subnet for the vault\'s private endpoint.')
param privateEndpointSubnetId string

@description('Required. Virtual network the privatelink.vaultcore.azure.net zone is linked to.')
param vnetId string

@description('Optional. Role assignments on the vault: objects with principalId and roleDefinitionId (a built-in role GUID).')
param roleAssignments array = []

@description('Optional. Tags applied to every resource.')
param tags object = {}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: 'kv-${resourceToken}'
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    // The ACI worker's secure values are read by the deployment (getSecret).
    enabledForTemplateDeployment: true
    publicNetworkAccess: 'Disabled'
    networkAcls: { defaultAction: 'Deny', bypass: 'AzureServices' }
  }
}

resource vaultRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for ra in roleAssignments: {
  scope: vault
  name: guid(vault.id, ra.principalId, ra.roleDefinitionId)
  properties: {
    principalId: ra.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', ra.roleDefinitionId)
  }
}]

module endpoint 'privateEndpoint.bicep' = {
  name: 'pe-vault'
  params: {
    location: location
    name: 'pe-${vault.name}'
    targetResourceId: vault.id
    groupId: 'vault'
    privateDnsZoneName: 'privatelink.vaultcore.azure.net'
    subnetId: privateEndpointSubnetId
    vnetId: vnetId
    tags: tags
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  scope: vault
  name: 'to-log-analytics'
  properties: {
    workspaceId: workspaceId
    logs: [ { categoryGroup: 'allLogs', enabled: true } ]
    metrics: [ { category: 'AllMetrics', enabled: true } ]
  }
}

@description('Required. Name of the vault.')
output vaultName string = vault.name
@description('Required. Resource id of the vault.')
output vaultId string = vault.id
@description('Required. URI of the vault, e.g. https://kv-x.vault.azure.net/.')
output vaultUri string = vault.properties.vaultUri
