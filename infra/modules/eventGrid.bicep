// The registry's Event Grid system topic and the ImagePushed subscription to acr-guard's onImagePushed
// function, with retry and dead-letter to storage through the topic's own identity (the storage account
// refuses shared keys and public traffic).
targetScope = 'resourceGroup'

@description('Required. Azure region.')
param location string

@description('Required. Suffix that makes resource names unique.')
param resourceToken string

@description('Required. Resource id of the registry whose events are delivered.')
param registryId string

@description('Required. Resource id of the Function App.')
param functionAppId string

@description('Required. Name of the Event Grid-triggered function (must exist in src/functions).')
param functionName string

@description('Required. Name of the storage account that holds dead-lettered events.')
param deadLetterStorageName string

@description('Optional. Blob container for dead-lettered events.')
param deadLetterContainer string = 'eventgrid-deadletter'

@description('Optional. Tags applied to every resource.')
param tags object = {}

var storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: deadLetterStorageName
  resource blobService 'blobServices' existing = {
    name: 'default'
    resource container 'containers' existing = { name: deadLetterContainer }
  }
}

resource systemTopic 'Microsoft.EventGrid/systemTopics@2024-06-01-preview' = {
  name: 'evgt-acr-${resourceToken}'
  location: location
  tags: tags
  identity: { type: 'SystemAssigned' }
  properties: {
    source: registryId
    topicType: 'Microsoft.ContainerRegistry.Registries'
  }
}

// The topic writes dead letters to the one container only.
resource deadLetterWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: storage::blobService::container
  name: guid(storage::blobService::container.id, systemTopic.id, storageBlobDataContributor)
  properties: {
    principalId: systemTopic.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributor)
  }
}

resource pushSubscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2024-06-01-preview' = {
  parent: systemTopic
  name: 'image-pushed-to-acr-guard'
  properties: {
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${functionAppId}/functions/${functionName}'
        maxEventsPerBatch: 1
      }
    }
    filter: { includedEventTypes: [ 'Microsoft.ContainerRegistry.ImagePushed' ] }
    eventDeliverySchema: 'CloudEventSchemaV1_0'
    retryPolicy: { maxDeliveryAttempts: 30, eventTimeToLiveInMinutes: 1440 }
    deadLetterWithResourceIdentity: {
      identity: { type: 'SystemAssigned' }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: { resourceId: storage.id, blobContainerName: deadLetterContainer }
      }
    }
  }
  dependsOn: [ deadLetterWriter ]
}

@description('Required. Resource id of the system topic.')
output systemTopicId string = systemTopic.id
