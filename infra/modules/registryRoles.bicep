// Role assignments on an existing registry (brownfield: infra/guard.bicep), deployed in the registry's
// resource group. Each assignment is scoped to the registry itself, never to its group.
targetScope = 'resourceGroup'

@description('Required. Name of the existing registry in this resource group.')
param registryName string

@description('Required. Role assignments on the registry: objects with principalId and roleDefinitionId (a built-in role GUID).')
param roleAssignments array

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = {
  name: registryName
}

resource registryRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for ra in roleAssignments: {
  scope: registry
  name: guid(registry.id, ra.principalId, ra.roleDefinitionId)
  properties: {
    principalId: ra.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', ra.roleDefinitionId)
  }
}]

@description('Required. Login server of the registry (the policy\'s registries[0].host).')
output loginServer string = registry.properties.loginServer
