// The ImagePushed subscription to acr-guard's onImagePushed function on an EXISTING Event Grid system topic
// (brownfield: infra/guard.bicep), deployed in the topic's resource group, with retry and dead-letter to
// acr-guard's storage through the topic's own system-assigned identity (the storage account refuses shared
// keys). The greenfield platform creates its topic and subscription in modules/eventGrid.bicep.
targetScope = 'resourceGroup'

@description('Required. Name of the existing system topic of the registry (in this resource group; it needs a system-assigned identity).')
param systemTopicName string

@description('Required. Resource id of the Function App.')
param functionAppId string

@description('Required. Name of the Event Grid-triggered function (must exist in src/functions).')
param functionName string

@description('Required. Resource id of the storage account that holds dead-lettered events (the topic\'s identity may write to its container).')
param deadLetterStorageId string

@description('Optional. Blob container for dead-lettered events.')
param deadLetterContainer string = 'eventgrid-deadletter'

resource systemTopic 'Microsoft.EventGrid/systemTopics@2024-06-01-preview' existing = {
  name: systemTopicName
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
        properties: { resourceId: deadLetterStorageId, blobContainerName: deadLetterContainer }
      }
    }
  }
}

@description('Required. Resource id of the event subscription.')
output subscriptionId string = pushSubscription.id
