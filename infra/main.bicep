// acr-guard: the image gate's own resources. Deploys into one resource group:
// a Premium ACR with quarantine (admin user off, no public access), the Function App (Flex Consumption,
// Node 22) with a user-assigned identity, identity-based storage (no keys), the audit table, Application
// Insights on Log Analytics, the Event Grid system topic with an ImagePushed subscription (retry and
// dead-letter) and the least-privilege role assignments the code needs.
//
// Scope of this file today: what the image gate needs. The full secured platform (private endpoints and
// VNet, Container Apps, ACI, Key Vault, Defender pricing, token scope maps) is the infrastructure issue.
targetScope = 'resourceGroup'

@description('Required. Short environment name used in resource names, e.g. "prod".')
@minLength(2)
@maxLength(12)
param environmentName string

@description('Optional. Azure region; defaults to the resource group\'s.')
param location string = resourceGroup().location

@description('Optional. Tags applied to every resource.')
param tags object = {}

@description('Optional. Policy YAML (the content of policy/acr-guard.yaml) passed to the app as ACR_GUARD_POLICY.')
param policyYaml string = ''

var resourceToken = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))

// Built-in role definition ids, by name (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles).
var roles = {
  acrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d'
  acrQuarantineWriter: 'c8d4ff99-41c3-41a8-9f60-21dfdad59608'
  acrQuarantineReader: 'cdda3590-29a3-44f6-95f2-9f980659eb04'
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-acrguard-${resourceToken}'
  location: location
  tags: tags
}

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: 'log-acrguard-${resourceToken}'
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 90
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

resource registry 'Microsoft.ContainerRegistry/registries@2023-11-01-preview' = {
  name: 'acr${resourceToken}'
  location: location
  tags: tags
  sku: { name: 'Premium' }
  properties: {
    adminUserEnabled: false
    publicNetworkAccess: 'Disabled'
    networkRuleBypassOptions: 'AzureServices'
    anonymousPullEnabled: false
    dataEndpointEnabled: true
    zoneRedundancy: 'Enabled'
    policies: {
      quarantinePolicy: { status: 'enabled' }
      retentionPolicy: { status: 'enabled', days: 7 }
      softDeletePolicy: { status: 'enabled', retentionDays: 7 }
      exportPolicy: { status: 'disabled' }
      azureADAuthenticationAsArmPolicy: { status: 'enabled' }
    }
  }
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: 'st${resourceToken}'
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_ZRS' }
  properties: {
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    defaultToOAuthAuthentication: true
  }
  resource blobService 'blobServices' = {
    name: 'default'
    properties: { deleteRetentionPolicy: { enabled: true, days: 7 } }
    resource deployments 'containers' = { name: 'app-package' }
    resource deadLetters 'containers' = { name: 'eventgrid-deadletter' }
  }
  resource tableService 'tableServices' = {
    name: 'default'
    resource verdicts 'tables' = { name: 'AcrGuardVerdicts' }
  }
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: 'plan-acrguard-${resourceToken}'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { tier: 'FlexConsumption', name: 'FC1' }
  properties: { reserved: true }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: 'func-acrguard-${resourceToken}'
  location: location
  tags: union(tags, { 'azd-service-name': 'acr-guard' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identity.id}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}app-package'
          authentication: { type: 'UserAssignedIdentity', userAssignedIdentityResourceId: identity.id }
        }
      }
      scaleAndConcurrency: { maximumInstanceCount: 40, instanceMemoryMB: 2048 }
      runtime: { name: 'node', version: '22' }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: [
        // Identity-based connections: no connection strings, no keys.
        { name: 'AzureWebJobsStorage__accountName', value: storage.name }
        { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
        { name: 'AzureWebJobsStorage__clientId', value: identity.properties.clientId }
        { name: 'AZURE_CLIENT_ID', value: identity.properties.clientId }
        { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'ClientId=${identity.properties.clientId};Authorization=AAD' }
        { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: appInsights.properties.ConnectionString }
        { name: 'ACR_GUARD_AUDIT_TABLE_ENDPOINT', value: storage.properties.primaryEndpoints.table }
        { name: 'ACR_GUARD_AUDIT_TABLE', value: 'AcrGuardVerdicts' }
        { name: 'ACR_GUARD_DEFENDER_SUBSCRIPTIONS', value: subscription().subscriptionId }
        { name: 'ACR_GUARD_POLICY', value: policyYaml }
      ]
    }
  }
}

// Least privilege: every assignment is scoped to the one resource it is about.
resource storageBlobRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: storage
  name: guid(storage.id, identity.id, roles.storageBlobDataOwner)
  properties: { principalId: identity.properties.principalId, principalType: 'ServicePrincipal', roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner) }
}
resource storageQueueRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: storage
  name: guid(storage.id, identity.id, roles.storageQueueDataContributor)
  properties: { principalId: identity.properties.principalId, principalType: 'ServicePrincipal', roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor) }
}
resource storageTableRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: storage
  name: guid(storage.id, identity.id, roles.storageTableDataContributor)
  properties: { principalId: identity.properties.principalId, principalType: 'ServicePrincipal', roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor) }
}
resource acrPullRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: registry
  name: guid(registry.id, identity.id, roles.acrPull)
  properties: { principalId: identity.properties.principalId, principalType: 'ServicePrincipal', roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.acrPull) }
}
resource acrQuarantineReaderRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: registry
  name: guid(registry.id, identity.id, roles.acrQuarantineReader)
  properties: { principalId: identity.properties.principalId, principalType: 'ServicePrincipal', roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.acrQuarantineReader) }
}
resource acrQuarantineWriterRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: registry
  name: guid(registry.id, identity.id, roles.acrQuarantineWriter)
  properties: { principalId: identity.properties.principalId, principalType: 'ServicePrincipal', roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.acrQuarantineWriter) }
}
resource metricsRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: appInsights
  name: guid(appInsights.id, identity.id, roles.monitoringMetricsPublisher)
  properties: { principalId: identity.properties.principalId, principalType: 'ServicePrincipal', roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher) }
}

resource systemTopic 'Microsoft.EventGrid/systemTopics@2024-06-01-preview' = {
  name: 'evgt-acrguard-${resourceToken}'
  location: location
  tags: tags
  properties: {
    source: registry.id
    topicType: 'Microsoft.ContainerRegistry.Registries'
  }
}

resource pushSubscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2024-06-01-preview' = {
  parent: systemTopic
  name: 'image-pushed-to-acr-guard'
  properties: {
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${functionApp.id}/functions/onImagePushed'
        maxEventsPerBatch: 1
      }
    }
    filter: { includedEventTypes: [ 'Microsoft.ContainerRegistry.ImagePushed' ] }
    eventDeliverySchema: 'CloudEventSchemaV1_0'
    retryPolicy: { maxDeliveryAttempts: 30, eventTimeToLiveInMinutes: 1440 }
    deadLetterDestination: {
      endpointType: 'StorageBlob'
      properties: { resourceId: storage.id, blobContainerName: 'eventgrid-deadletter' }
    }
  }
}

@description('Required. Login server of the registry acr-guard gates.')
output registryLoginServer string = registry.properties.loginServer

@description('Required. Name of the Function App.')
output functionAppName string = functionApp.name

@description('Required. Client id of the identity acr-guard runs as.')
output identityClientId string = identity.properties.clientId
