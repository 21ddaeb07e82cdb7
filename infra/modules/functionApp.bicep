// acr-guard itself: Flex Consumption Function App (Node 22) with VNet integration, a user-assigned identity,
// identity-based storage (shared keys disabled), HTTPS only, TLS 1.2, FTP off, Application Insights over
// Entra ID, app settings without any secret, and diagnostics to the workspace.
targetScope = 'resourceGroup'

@description('Required. Azure region.')
param location string

@description('Required. Suffix that makes resource names unique.')
param resourceToken string

@description('Required. Resource id of the identity acr-guard runs as.')
param identityId string

@description('Required. Client id of that identity.')
param identityClientId string

@description('Required. Principal id of that identity (gets the storage data roles the Functions host needs).')
param identityPrincipalId string

@description('Required. Subnet delegated to the Function App (VNet integration; reaches the private registry and vault).')
param subnetId string

@description('Required. Log Analytics workspace for the Function App\'s logs.')
param workspaceId string

@description('Required. Application Insights connection string.')
param appInsightsConnectionString string

@description('Required. App settings for acr-guard itself (name/value objects); none may hold a secret.')
param appSettings array

@description('Optional. Zone redundancy; set false in a region without availability zones.')
param zoneRedundant bool = true

@description('Optional. Tags applied to every resource.')
param tags object = {}

@description('Optional. Client id of the Entra ID app registration of the acr-guard HTTP API (app roles Rescan.Request and Verdicts.Read). Set: App Service authentication requires a token for it on every call except the Event Grid webhook; empty: authentication stays off and the HTTP functions answer 401 (they require the principal it provides).')
param guardApiClientId string = ''

var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_43: the name is computed ('st' + uniqueString: 15 lower-case letters and digits, inside the 3-24 rule), which checkov cannot evaluate.
  // checkov:skip=CKV_AZURE_59: the public endpoint is closed by the firewall (default Deny) except for the Function App's subnet and trusted services; Event Grid's dead-letter delivery with its managed identity is such a trusted-service exception, which works only through the firewall, not with public access disabled.
  name: 'st${resourceToken}'
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_GZRS' }
  properties: {
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    defaultToOAuthAuthentication: true
    publicNetworkAccess: 'Enabled'
    // Only the Function App's subnet, and trusted services with a managed identity (Event Grid dead-letter).
    networkAcls: {
      defaultAction: 'Deny'
      bypass: 'AzureServices'
      virtualNetworkRules: [ { id: subnetId, action: 'Allow' } ]
    }
  }
  resource blobService 'blobServices' = {
    name: 'default'
    properties: { deleteRetentionPolicy: { enabled: true, days: 7 } }
    resource deployments 'containers' = { name: 'app-package' }
    resource deadLetters 'containers' = { name: 'eventgrid-deadletter' }
    // Signature trust material: notation's trustpolicy.json and truststore/ folder, uploaded as they are.
    resource trust 'containers' = { name: 'signature-trust' }
  }
  resource tableService 'tableServices' = {
    name: 'default'
    resource verdicts 'tables' = { name: 'AcrGuardVerdicts' }
  }
}

resource storageRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for roleId in [ roles.storageBlobDataOwner, roles.storageQueueDataContributor, roles.storageTableDataContributor ]: {
  scope: storage
  name: guid(storage.id, identityPrincipalId, roleId)
  properties: {
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
  }
}]

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: 'plan-acrguard-${resourceToken}'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { tier: 'FlexConsumption', name: 'FC1' }
  properties: { reserved: true, zoneRedundant: zoneRedundant }
}

// Host settings (identity-based storage, Application Insights over Entra ID) and the audit table this
// module owns; no key anywhere.
var hostSettings = [
  { name: 'ACR_GUARD_AUDIT_TABLE_ENDPOINT', value: storage.properties.primaryEndpoints.table }
  { name: 'ACR_GUARD_AUDIT_TABLE', value: storage::tableService::verdicts.name }
  { name: 'ACR_GUARD_TRUST_BLOB_URL', value: '${storage.properties.primaryEndpoints.blob}${storage::blobService::trust.name}' }
  { name: 'AzureWebJobsStorage__accountName', value: storage.name }
  { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
  { name: 'AzureWebJobsStorage__clientId', value: identityClientId }
  { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: appInsightsConnectionString }
  { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'ClientId=${identityClientId};Authorization=AAD' }
]

resource site 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222: Event Grid delivers ImagePushed to the AzureFunction endpoint over the public endpoint (it cannot reach a private one); the webhook needs the Event Grid extension's system key, and everything else acr-guard calls is private.
  // checkov:skip=CKV_AZURE_17: Event Grid does not present client certificates; requiring them would stop delivery. Callers are authenticated by the extension key (Event Grid) and Entra ID (management).
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales per function from zero with no fixed worker count; the plan is zone redundant and Event Grid retries for 24 h, so no always-on failover instance is needed.
  // checkov:skip=CKV_AZURE_213: Flex Consumption has no App Service health-check path; failures surface in Application Insights and as Event Grid dead-letters.
  name: 'func-acrguard-${resourceToken}'
  location: location
  tags: union(tags, { 'azd-service-name': 'acr-guard' })
  kind: 'functionapp,linux'
  identity: { type: 'UserAssigned', userAssignedIdentities: { '${identityId}': {} } }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    virtualNetworkSubnetId: subnetId
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}app-package'
          authentication: { type: 'UserAssignedIdentity', userAssignedIdentityResourceId: identityId }
        }
      }
      scaleAndConcurrency: { maximumInstanceCount: 40, instanceMemoryMB: 2048 }
      runtime: { name: 'node', version: '22' }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: concat(hostSettings, appSettings)
    }
  }
  dependsOn: [ storageRoles ]
}

// Basic-auth publishing off for FTP and SCM: deployments use Entra ID.
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2023-12-01' = {
  parent: site
  name: 'ftp'
  properties: { allow: false }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2023-12-01' = {
  parent: site
  name: 'scm'
  properties: { allow: false }
}

// App Service authentication ("Easy Auth") in front of the HTTP functions: it validates the caller's Entra ID
// token, strips any client-sent x-ms-client-principal and passes its own, whose roles the handlers check
// (src/functions/http.ts). Event Grid cannot present a token: its webhook stays key-protected only.
// checkov applies its site checks to every Microsoft.Web/sites/config resource; this one is authsettingsV2, and
// those checks run (and pass) on `site` itself.
resource easyAuth 'Microsoft.Web/sites/config@2024-04-01' = if (!empty(guardApiClientId)) {
  // checkov:skip=CKV_AZURE_13: this resource is the authentication settings; the check reads a site property.
  // checkov:skip=CKV_AZURE_63: site check (HTTP logging), checked on `site`.
  // checkov:skip=CKV_AZURE_65: site check (detailed error messages), checked on `site`.
  // checkov:skip=CKV_AZURE_66: site check (failed request tracing), checked on `site`.
  // checkov:skip=CKV_AZURE_80: site check (.NET version), checked on `site`.
  // checkov:skip=CKV_AZURE_88: site check (Azure Files storage), checked on `site`.
  // checkov:skip=CKV_AZURE_222: site check (public network access), decided on `site`.
  parent: site
  name: 'authsettingsV2'
  properties: {
    platform: { enabled: true }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'Return401'
      excludedPaths: [ '/runtime/webhooks/eventgrid' ]
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: guardApiClientId
          openIdIssuer: '${az.environment().authentication.loginEndpoint}${subscription().tenantId}/v2.0'
        }
        validation: { allowedAudiences: [ 'api://${guardApiClientId}' ] }
      }
    }
    login: { tokenStore: { enabled: false } }
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  scope: site
  name: 'to-log-analytics'
  properties: {
    workspaceId: workspaceId
    logs: [ { category: 'FunctionAppLogs', enabled: true } ]
    metrics: [ { category: 'AllMetrics', enabled: true } ]
  }
}

@description('Required. Resource id of the Function App.')
output siteId string = site.id
@description('Required. Name of the Function App.')
output siteName string = site.name
@description('Required. Resource id of the storage account (dead-letter destination).')
output storageId string = storage.id
@description('Required. Name of the storage account.')
output storageName string = storage.name
@description('Required. Table service URL of the audit table.')
output tableEndpoint string = storage.properties.primaryEndpoints.table
