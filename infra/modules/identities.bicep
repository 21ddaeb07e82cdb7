// User-assigned identities: one per workload, so every role assignment names exactly one consumer.
targetScope = 'resourceGroup'

@description('Required. Azure region.')
param location string

@description('Required. Suffix that makes resource names unique.')
param resourceToken string

@description('Optional. Tags applied to every resource.')
param tags object = {}

resource guard 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-acrguard-${resourceToken}'
  location: location
  tags: tags
}

resource api 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-api-${resourceToken}'
  location: location
  tags: tags
}

resource worker 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-worker-${resourceToken}'
  location: location
  tags: tags
}

@description('Required. Resource id of the identity acr-guard runs as.')
output guardId string = guard.id
@description('Required. Principal (object) id of the acr-guard identity.')
output guardPrincipalId string = guard.properties.principalId
@description('Required. Client id of the acr-guard identity (AZURE_CLIENT_ID).')
output guardClientId string = guard.properties.clientId
@description('Required. Resource id of the API container app identity.')
output apiId string = api.id
@description('Required. Principal id of the API container app identity.')
output apiPrincipalId string = api.properties.principalId
@description('Required. Resource id of the batch worker identity.')
output workerId string = worker.id
@description('Required. Principal id of the batch worker identity.')
output workerPrincipalId string = worker.properties.principalId
