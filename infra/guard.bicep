// Brownfield: acr-guard ALONE onto a platform that already exists (`cd infra/brownfield && azd up`, or
// `az deployment group create -g <group> -f infra/guard.bicep -p infra/guard.parameters.json`).
//
// Deploys, in the target resource group: acr-guard's identity, its Function App with its storage, a small
// VNet for the Function App and its Key Vault's private endpoint, Application Insights, the Key Vault for its
// secrets (the alert webhook URL), the data collection endpoint and rule with acr-guard's custom tables, and
// the workbook. On the existing resources named by their ids it only adds: acr-guard's roles on the registry
// (AcrPull, AcrQuarantineWriter, AcrDelete, Reader), the ImagePushed subscription on the registry's Event
// Grid system topic, the custom tables and two role assignments on the Log Analytics workspace (when given),
// and the in-use reader role on the Container Apps environment's resource group (when given). Nothing
// existing is modified or redeployed: every existing resource is an `existing` reference.
//
// The policy: unless `policyYaml` is given, infra/brownfield/default-policy.yaml with the registry's login
// server as registries[0], so pushes are gated from the first minute (docs/deployment.md, "Brownfield first").
// The greenfield platform (registry, network, Container Apps, demo app) stays in infra/main.bicep as the demo.
targetScope = 'resourceGroup'

@description('An ARM resource id: /subscriptions/<subscription id>/resourceGroups/<group>/providers/<namespace>/<type>/<name>.')
@minLength(60)
type resourceId = string

@description('An ARM resource id (/subscriptions/…/providers/<namespace>/<type>/<name>), or empty for none.')
type optionalResourceId = string

@description('Address space of acr-guard\'s own virtual network and its two subnets (must not overlap a network you will peer it with).')
type guardNetwork = {
  // Address space, a /16 (or smaller, holding the subnets).
  addressPrefix: string
  // Subnet prefixes: private endpoints (acr-guard's Key Vault), Function App integration (a /24 or larger),
  // and the two the shared network module also carves (Container Instances, Container Apps), unused here.
  // (checkov's Bicep parser does not read decorators inside a type, so these are comments.)
  subnetPrefixes: {
    privateEndpoints: string
    function: string
    aci: string
    containerApps: string
  }
}

@description('Required. Short environment name used in resource names, e.g. "prod" (azd sets it).')
@minLength(2)
@maxLength(12)
param environmentName string

@description('Optional. Azure region of acr-guard\'s resources; the data collection rule goes to the workspace\'s region when a workspace is given.')
param location string = resourceGroup().location

@description('Required. Resource id of the existing container registry acr-guard gates (Premium, with its quarantine policy enabled).')
param registryId resourceId

@description('Required. Resource id of the registry\'s existing Event Grid system topic (Microsoft.EventGrid/systemTopics, with a system-assigned identity for dead-lettering).')
param systemTopicId resourceId

@description('Optional. Resource id of an existing Container Apps environment whose resource group runs images from the registry: acr-guard gets the read-only in-use reader role there (purge in-use protection, runtime audit). Empty: in-use protection covers inUseAdditionalScopes only.')
param containerAppsEnvironmentId optionalResourceId = ''

@description('Optional. Resource id of an existing Log Analytics workspace for acr-guard\'s tables, logs and alert queries. Empty: a workspace is created in this resource group.')
param workspaceId optionalResourceId = ''

@description('Optional. Region of the existing workspace (the data collection endpoint and rule must be in it). Empty: `location`.')
param workspaceLocation string = ''

@description('Optional. Create the Event Grid subscription to onImagePushed. Event Grid checks that the function exists, so the first `azd up` provisions without it and the postdeploy hook provisions again with it (SUBSCRIBE_EVENTS=true).')
param subscribeEvents bool = false

@description('Optional. Policy YAML passed to acr-guard as ACR_GUARD_POLICY. Empty: infra/brownfield/default-policy.yaml with the registry\'s login server as registries[0].')
param policyYaml string = ''

@description('Optional. Client id of the Entra ID app registration of acr-guard\'s own HTTP API (app roles Rescan.Request and Verdicts.Read). Empty: App Service authentication stays off and the HTTP functions answer 401.')
param guardApiClientId string = ''

@description('Optional. Further scopes (subscriptions, resource groups or single resources) whose Container Apps, jobs and container groups run images from the registry. Grant acr-guard\'s identity read access there yourself: without it the purge stops (fail closed).')
param inUseAdditionalScopes array = []

@description('Optional. acr-guard\'s own virtual network (Function App integration, Key Vault private endpoint). Peer it with the registry\'s network when the registry is private.')
param network guardNetwork = {
  addressPrefix: '10.41.0.0/16'
  subnetPrefixes: {
    privateEndpoints: '10.41.0.0/24'
    function: '10.41.1.0/24'
    aci: '10.41.2.0/24'
    containerApps: '10.41.4.0/23'
  }
}

@description('Optional. Zone redundancy of the Function App plan; set false in a region without availability zones.')
param zoneRedundant bool = true

@description('Optional. NCRONTAB schedule of acr-guard\'s nightly purge.')
param purgeSchedule string = '0 0 3 * * *'

@description('Optional. NCRONTAB schedule of acr-guard\'s runtime audit.')
param runtimeSchedule string = '0 0 * * * *'

@description('Optional. NCRONTAB schedule of the KQL alert timer.')
param alertSchedule string = '0 */5 * * * *'

@description('Optional. Key Vault secret holding the Teams/Slack webhook URL acr-guard alerts to. Store the secret before alerts are due.')
param alertWebhookSecretName string = 'alert-webhook-url'

@description('Optional. Webhook JSON: "messagecard", "adaptivecard" or "slack".')
@allowed([ 'messagecard', 'adaptivecard', 'slack' ])
param alertWebhookFormat string = 'messagecard'

@description('Optional. Event Grid custom topic endpoint acr-guard also sends alerts to. Empty sends to the webhook only.')
param alertEventGridEndpoint string = ''

@description('Optional. Event Grid custom topic endpoint each recorded verdict is published to as a CloudEvent (docs/verdict-events.md); grant acr-guard\'s identity EventGrid Data Sender there. Empty: no verdict events.')
param verdictEventGridEndpoint string = ''

@description('Optional. Tags applied to every resource acr-guard creates (existing resources are not touched).')
param tags object = {}

var resourceToken = toLower(uniqueString(resourceGroup().id, environmentName, location))
var allTags = union(tags, { 'azd-env-name': environmentName })

// Built-in role definition ids, by name (learn.microsoft.com/azure/role-based-access-control/built-in-roles).
var roles = {
  acrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d'
  acrDelete: 'c2f4ef07-c644-48eb-af81-4b1b4947fb11'
  acrQuarantineWriter: 'c8d4ff99-41c3-41a8-9f60-21dfdad59608'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  logAnalyticsReader: '73c42c96-874c-492b-b04d-ab87d138a893'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  reader: 'acdd72a7-3385-48ef-bd42-f606fba81ae7'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
}

// /subscriptions/<sub>/resourceGroups/<group>/providers/<ns>/<type>/<name>: [2] subscription, [4] group, last name.
var registryParts = split(registryId, '/')
var topicParts = split(systemTopicId, '/')
var environmentParts = split(containerAppsEnvironmentId, '/')

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = {
  scope: resourceGroup(registryParts[2], registryParts[4])
  name: last(registryParts)
}

resource systemTopic 'Microsoft.EventGrid/systemTopics@2024-06-01-preview' existing = {
  scope: resourceGroup(topicParts[2], topicParts[4])
  name: last(topicParts)
}

resource guardIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-acrguard-${resourceToken}'
  location: location
  tags: allTags
}

var guardPrincipalId = guardIdentity.properties.principalId

// ---- Monitoring: the given workspace, or a new one; Application Insights for acr-guard.

resource newWorkspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = if (empty(workspaceId)) {
  name: 'log-acrguard-${resourceToken}'
  location: location
  tags: allTags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 90
    features: { disableLocalAuth: true }
  }
}

var effectiveWorkspaceId = empty(workspaceId) ? newWorkspace.id : workspaceId
var workspaceParts = split(effectiveWorkspaceId, '/')

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  scope: resourceGroup(workspaceParts[2], workspaceParts[4])
  name: last(workspaceParts)
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-acrguard-${resourceToken}'
  location: location
  tags: allTags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: effectiveWorkspaceId
    DisableLocalAuth: true
  }
}

module metricsPublisher 'modules/appInsightsRole.bicep' = {
  name: 'acrGuardAppInsightsRole'
  params: {
    appInsightsName: appInsights.name
    principalId: guardPrincipalId
    roleDefinitionId: roles.monitoringMetricsPublisher
  }
}

// acr-guard's tables, data collection endpoint and rule, in the workspace's resource group; acr-guard may
// publish to the rule and read the workspace (its alert queries), nothing more there.
module logIngestion 'modules/logIngestion.bicep' = {
  scope: resourceGroup(workspaceParts[2], workspaceParts[4])
  name: 'acrGuardLogIngestion-${resourceToken}'
  params: {
    location: empty(workspaceLocation) ? location : workspaceLocation
    resourceToken: resourceToken
    workspaceName: last(workspaceParts)
    tags: allTags
    roleAssignments: [
      { principalId: guardPrincipalId, roleDefinitionId: roles.monitoringMetricsPublisher }
    ]
    workspaceRoleAssignments: [
      { principalId: guardPrincipalId, roleDefinitionId: roles.logAnalyticsReader }
    ]
  }
  dependsOn: [ newWorkspace ]
}

module workbook 'modules/workbook.bicep' = {
  name: 'acrGuardWorkbook'
  params: {
    location: location
    resourceToken: resourceToken
    workspaceId: effectiveWorkspaceId
    tags: allTags
  }
  dependsOn: [ newWorkspace ]
}

// ---- acr-guard's own network and Key Vault (private endpoint only).

module guardNetworkModule 'modules/network.bicep' = {
  name: 'acrGuardNetwork'
  params: {
    location: location
    resourceToken: resourceToken
    addressPrefix: network.addressPrefix
    subnetPrefixes: network.subnetPrefixes
    tags: allTags
  }
}

module keyVault 'modules/keyVault.bicep' = {
  name: 'acrGuardKeyVault'
  params: {
    location: location
    resourceToken: resourceToken
    workspaceId: effectiveWorkspaceId
    privateEndpointSubnetId: guardNetworkModule.outputs.privateEndpointSubnetId
    vnetId: guardNetworkModule.outputs.vnetId
    tags: allTags
    roleAssignments: [
      // acr-guard reads the alert webhook URL; it rotates no token here, so it writes no secret.
      { principalId: guardPrincipalId, roleDefinitionId: roles.keyVaultSecretsUser }
    ]
    // acr-guard signs its verification summaries (VSA) with the vault's attestation key (Crypto User on that key).
    attestationSignerPrincipalId: guardPrincipalId
  }
  dependsOn: [ newWorkspace ]
}

// ---- acr-guard's roles on the existing registry (on the registry itself, in its resource group).

module registryRoles 'modules/registryRoles.bicep' = {
  scope: resourceGroup(registryParts[2], registryParts[4])
  name: 'acrGuardRegistryRoles-${resourceToken}'
  params: {
    registryName: last(registryParts)
    roleAssignments: [
      { principalId: guardPrincipalId, roleDefinitionId: roles.acrPull }
      { principalId: guardPrincipalId, roleDefinitionId: roles.acrQuarantineWriter }
      { principalId: guardPrincipalId, roleDefinitionId: roles.acrDelete }
      // Resource Graph returns the registry's Defender assessments only to readers of the registry.
      { principalId: guardPrincipalId, roleDefinitionId: roles.reader }
    ]
  }
}

// ---- In-use protection: the Container Apps environment's resource group (read-only custom role), if given.

module inUseReader 'modules/inUseReader.bicep' = if (!empty(containerAppsEnvironmentId)) {
  scope: resourceGroup(environmentParts[2], environmentParts[4])
  name: 'acrGuardInUseReader-${resourceToken}'
  params: { resourceToken: resourceToken, principalIds: [ guardPrincipalId ] }
}

var inUseScopes = join(concat(empty(containerAppsEnvironmentId) ? [] : [ '/subscriptions/${environmentParts[2]}/resourceGroups/${environmentParts[4]}' ], inUseAdditionalScopes), ',')

// The first policy: the packaged template with the registry the deployment points at.
var defaultPolicy = replace(loadTextContent('brownfield/default-policy.yaml'), '__REGISTRY_LOGIN_SERVER__', registry.properties.loginServer)

module guard 'modules/functionApp.bicep' = {
  name: 'acrGuard'
  params: {
    location: location
    resourceToken: resourceToken
    identityId: guardIdentity.id
    identityClientId: guardIdentity.properties.clientId
    identityPrincipalId: guardPrincipalId
    subnetId: guardNetworkModule.outputs.functionSubnetId
    workspaceId: effectiveWorkspaceId
    appInsightsConnectionString: appInsights.properties.ConnectionString
    zoneRedundant: zoneRedundant
    tags: allTags
    guardApiClientId: guardApiClientId
    // acr-guard's own settings (src/app/config.ts). None holds a secret.
    appSettings: [
      { name: 'AZURE_CLIENT_ID', value: guardIdentity.properties.clientId }
      { name: 'ACR_GUARD_POLICY', value: empty(policyYaml) ? defaultPolicy : policyYaml }
      { name: 'ACR_GUARD_DEFENDER_SUBSCRIPTIONS', value: registryParts[2] }
      { name: 'ACR_GUARD_DRY_RUN', value: 'false' }
      { name: 'ACR_GUARD_PURGE_SCHEDULE', value: purgeSchedule }
      { name: 'ACR_GUARD_RUNTIME_SCHEDULE', value: runtimeSchedule }
      { name: 'ACR_GUARD_INUSE_SCOPES', value: inUseScopes }
      { name: 'ACR_GUARD_LOG_ANALYTICS_WORKSPACE_ID', value: workspace.properties.customerId }
      { name: 'ACR_GUARD_KEY_VAULT_URL', value: keyVault.outputs.vaultUri }
      { name: 'ACR_GUARD_ATTESTATION_KEY_ID', value: keyVault.outputs.attestationKeyId }
      // Token rotation is off: acr-guard manages no token of an existing registry (list token ids here and
      // grant the token credential role to turn it on; docs/deployment.md).
      { name: 'ACR_GUARD_ROTATION_TOKENS', value: '' }
      { name: 'ACR_GUARD_ROTATION_VALIDITY', value: '30d' }
      { name: 'ACR_GUARD_ROTATION_RENEW_BEFORE', value: '7d' }
      { name: 'ACR_GUARD_ROTATION_SCHEDULE', value: '0 30 3 * * *' }
      { name: 'ACR_GUARD_ARM_ENDPOINT', value: environment().resourceManager }
      { name: 'ACR_GUARD_LOG_ANALYTICS_ENDPOINT', value: 'https://api.loganalytics.io/v1' }
      { name: 'ACR_GUARD_ALERT_SCHEDULE', value: alertSchedule }
      { name: 'ACR_GUARD_ALERT_RULES_FILE', value: '' }
      { name: 'ACR_GUARD_ALERT_CONCURRENCY', value: '4' }
      { name: 'ACR_GUARD_ALERT_STATE_TABLE', value: 'AcrGuardAlertState' }
      { name: 'ACR_GUARD_ALERT_WEBHOOK_SECRET', value: alertWebhookSecretName }
      { name: 'ACR_GUARD_ALERT_WEBHOOK_FORMAT', value: alertWebhookFormat }
      { name: 'ACR_GUARD_ALERT_EVENTGRID_ENDPOINT', value: alertEventGridEndpoint }
      { name: 'ACR_GUARD_VERDICT_EVENTGRID_ENDPOINT', value: verdictEventGridEndpoint }
      { name: 'ACR_GUARD_LOG_INGESTION_ENDPOINT', value: logIngestion.outputs.endpointUrl }
      { name: 'ACR_GUARD_LOG_INGESTION_RULE_ID', value: logIngestion.outputs.ruleImmutableId }
    ]
  }
}

// ---- Event Grid: the existing system topic delivers ImagePushed to onImagePushed, dead-letters to acr-guard's
// storage through the topic's own identity (Storage Blob Data Contributor on the one container).

resource deadLetterStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: 'st${resourceToken}'
  resource blobService 'blobServices' existing = {
    name: 'default'
    resource container 'containers' existing = { name: 'eventgrid-deadletter' }
  }
}

resource deadLetterWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (subscribeEvents) {
  scope: deadLetterStorage::blobService::container
  name: guid(deadLetterStorage.id, 'eventgrid-deadletter', systemTopicId, roles.storageBlobDataContributor)
  properties: {
    principalId: systemTopic.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
  }
  dependsOn: [ guard ]
}

module events 'modules/eventSubscription.bicep' = if (subscribeEvents) {
  scope: resourceGroup(topicParts[2], topicParts[4])
  name: 'acrGuardEventSubscription-${resourceToken}'
  params: {
    systemTopicName: last(topicParts)
    functionAppId: guard.outputs.siteId
    functionName: 'onImagePushed'
    deadLetterStorageId: guard.outputs.storageId
  }
  dependsOn: [ deadLetterWriter ]
}

@description('Required. Name of the resource group acr-guard is deployed in.')
output AZURE_RESOURCE_GROUP string = resourceGroup().name
@description('Required. Login server of the registry acr-guard gates (registries[0].host of the default policy).')
output AZURE_CONTAINER_REGISTRY_ENDPOINT string = registry.properties.loginServer
@description('Required. Name of the acr-guard Function App.')
output ACR_GUARD_FUNCTION_APP_NAME string = guard.outputs.siteName
@description('Required. Client id of the identity acr-guard runs as.')
output ACR_GUARD_IDENTITY_CLIENT_ID string = guardIdentity.properties.clientId
@description('Required. Name of acr-guard\'s Key Vault (store the alert webhook URL secret here).')
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.vaultName
@description('Required. Resource id of the acr-guard workbook.')
output ACR_GUARD_WORKBOOK_ID string = workbook.outputs.workbookId
