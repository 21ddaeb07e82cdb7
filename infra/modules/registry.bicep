// The Premium registry: no admin user, no public access (private endpoint + privatelink.azurecr.io),
// quarantine on, export off, zone redundant, soft delete or untagged retention, scope maps and tokens for
// CI/CD push and production pull, diagnostics to the workspace, and the role assignments on it.
targetScope = 'resourceGroup'

@description('Required. Azure region.')
param location string

@description('Required. Suffix that makes resource names unique.')
param resourceToken string

@description('Required. Log Analytics workspace for the registry\'s logs.')
param workspaceId string

@description('Required. Subnet for the registry\'s private endpoint.')
param privateEndpointSubnetId string

@description('Required. Virtual network the privatelink.azurecr.io zone is linked to.')
param vnetId string

@description('Optional. Repositories the production-pull-only and ci-push scope maps cover.')
param repositories array = [ 'contoso/api', 'contoso/frontend', 'contoso/worker' ]

@description('Optional. How deleted manifests are kept: "softDelete" (recoverable for deleteRetentionDays; acr-guard\'s purge removes untagged manifests with in-use protection) or "retention" (ACR deletes untagged manifests after deleteRetentionDays). ACR does not allow both at once.')
@allowed([ 'softDelete', 'retention' ])
param deletePolicy string = 'softDelete'

@description('Optional. Days for the soft-delete or untagged-retention policy.')
@minValue(1)
@maxValue(90)
param deleteRetentionDays int = 7

@description('Optional. Zone redundancy; set false in a region without availability zones.')
param zoneRedundant bool = true

@description('Optional. "LegacyRegistryPermissions" (AcrPull/AcrPush/AcrDelete) or "AbacRepositoryPermissions" (Container Registry Repository roles with conditions on the repository name; AcrPull/AcrPush/AcrDelete are not honoured).')
@allowed([ 'LegacyRegistryPermissions', 'AbacRepositoryPermissions' ])
param roleAssignmentMode string = 'LegacyRegistryPermissions'

@description('Optional. ACR quarantine: pushed digests are unpullable until acr-guard passes them (quarantine mode). Off in promote mode, where the release repository, ABAC and the deploy-time policy take its place.')
param quarantine bool = true

@description('Optional. Prefix of the repositories the production-pull-only scope map reads ("release/" in promote mode).')
param pullRepositoryPrefix string = ''

@description('Optional. Role assignments on the registry: objects with principalId, roleDefinitionId (a role GUID) and, in ABAC mode, an optional condition (version 2.0).')
param roleAssignments array = []

@description('Optional. Principal ids that may generate token credentials (the narrow custom role on this registry).')
param tokenCredentialPrincipalIds array = []

@description('Optional. Tags applied to every resource.')
param tags object = {}

var contentRead = [for r in repositories: 'repositories/${pullRepositoryPrefix}${r}/content/read']
var metadataRead = [for r in repositories: 'repositories/${pullRepositoryPrefix}${r}/metadata/read']
var pushRead = [for r in repositories: 'repositories/${r}/content/read']
var pushMetadataRead = [for r in repositories: 'repositories/${r}/metadata/read']
var contentWrite = [for r in repositories: 'repositories/${r}/content/write']

// 2025-05-01-preview: the first API version with roleAssignmentMode that still has the preview policies (quarantine, soft delete).
resource registry 'Microsoft.ContainerRegistry/registries@2025-05-01-preview' = {
  // checkov:skip=CKV_AZURE_166: quarantine is on in quarantine mode (the default); promote mode turns it off on purpose: workloads can pull only the release repository (ABAC), which only acr-guard writes, and the deploy-time policy refuses every other image.
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
    roleAssignmentMode: roleAssignmentMode
    zoneRedundancy: zoneRedundant ? 'Enabled' : 'Disabled'
    policies: {
      quarantinePolicy: { status: quarantine ? 'enabled' : 'disabled' }
      retentionPolicy: { status: deletePolicy == 'retention' ? 'enabled' : 'disabled', days: deleteRetentionDays }
      softDeletePolicy: { status: deletePolicy == 'softDelete' ? 'enabled' : 'disabled', retentionDays: deleteRetentionDays }
      exportPolicy: { status: 'disabled' }
      azureADAuthenticationAsArmPolicy: { status: 'enabled' }
    }
  }
}

// Scope maps: production pulls read only; CI/CD pushes and reads, never deletes.
resource pullScope 'Microsoft.ContainerRegistry/registries/scopeMaps@2023-11-01-preview' = {
  parent: registry
  name: 'production-pull-only'
  properties: {
    description: 'Production pull: read content and metadata of the released repositories.'
    actions: concat(contentRead, metadataRead)
  }
}

resource pushScope 'Microsoft.ContainerRegistry/registries/scopeMaps@2023-11-01-preview' = {
  parent: registry
  name: 'ci-push'
  properties: {
    description: 'CI/CD push: write and read content, read metadata; no delete.'
    actions: concat(pushRead, contentWrite, pushMetadataRead)
  }
}

// Tokens carry no password here: acr-guard's rotation generates them into Key Vault.
resource pullToken 'Microsoft.ContainerRegistry/registries/tokens@2023-11-01-preview' = {
  parent: registry
  name: 'production-pull'
  properties: { scopeMapId: pullScope.id, status: 'enabled' }
}

resource pushToken 'Microsoft.ContainerRegistry/registries/tokens@2023-11-01-preview' = {
  parent: registry
  name: 'ci-push'
  properties: { scopeMapId: pushScope.id, status: 'enabled' }
}

// Token credential generation only: no built-in role is that narrow (the ACR configuration roles also
// manage the admin user, network rules and scope maps).
resource tokenCredentialRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(resourceGroup().id, 'acr-token-credential-generator')
  properties: {
    roleName: 'ACR token credential generator (${resourceToken})'
    description: 'Read registry tokens and generate their passwords; nothing else.'
    type: 'CustomRole'
    assignableScopes: [ resourceGroup().id ]
    permissions: [
      {
        actions: [
          'Microsoft.ContainerRegistry/registries/read'
          'Microsoft.ContainerRegistry/registries/tokens/read'
          'Microsoft.ContainerRegistry/registries/generateCredentials/action'
        ]
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
  }
}

resource registryRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for ra in roleAssignments: {
  scope: registry
  name: guid(registry.id, ra.principalId, ra.roleDefinitionId)
  properties: {
    principalId: ra.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', ra.roleDefinitionId)
    condition: contains(ra, 'condition') ? ra.condition : null
    conditionVersion: contains(ra, 'condition') ? '2.0' : null
  }
}]

resource tokenCredentialAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for principalId in tokenCredentialPrincipalIds: {
  scope: registry
  name: guid(registry.id, principalId, tokenCredentialRole.id)
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: tokenCredentialRole.id
  }
}]

module endpoint 'privateEndpoint.bicep' = {
  name: 'pe-registry'
  params: {
    location: location
    name: 'pe-${registry.name}'
    targetResourceId: registry.id
    groupId: 'registry'
    privateDnsZoneName: 'privatelink.azurecr.io'
    subnetId: privateEndpointSubnetId
    vnetId: vnetId
    tags: tags
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  scope: registry
  name: 'to-log-analytics'
  properties: {
    workspaceId: workspaceId
    // Resource-specific tables (ContainerRegistryLoginEvents, ContainerRegistryRepositoryEvents): acr-guard's
    // registry alert rules read them.
    logAnalyticsDestinationType: 'Dedicated'
    logs: [ { categoryGroup: 'allLogs', enabled: true } ]
    metrics: [ { category: 'AllMetrics', enabled: true } ]
  }
}

@description('Required. Resource id of the registry.')
output registryId string = registry.id
@description('Required. Name of the registry.')
output registryName string = registry.name
@description('Required. Login server of the registry.')
output loginServer string = registry.properties.loginServer
@description('Required. Names of the scope-map tokens acr-guard rotates.')
output tokenNames array = [ pullToken.name, pushToken.name ]
@description('Required. Resource ids of the scope-map tokens acr-guard rotates (ACR_GUARD_ROTATION_TOKENS).')
output tokenIds array = [ pullToken.id, pushToken.id ]
