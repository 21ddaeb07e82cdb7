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

@description('Optional. Principal (the Function App\'s identity) that signs acr-guard\'s verification summaries with the attestation key; empty creates no key.')
param attestationSignerPrincipalId string = ''

@description('Optional. Expiry of the attestation key (Unix seconds); default two years from this deployment.')
param attestationKeyExpiry int = dateTimeToEpoch(dateTimeAdd(utcNow(), 'P2Y'))

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

// The key that signs acr-guard's verification summaries (VSA): EC P-256, sign/verify only. It never leaves the
// vault: the app signs through Key Vault, with Key Vault Crypto User on this key alone (not the vault).
resource attestationKey 'Microsoft.KeyVault/vaults/keys@2023-07-01' = if (!empty(attestationSignerPrincipalId)) {
  // checkov:skip=CKV_AZURE_40: the expiry is set (attestationKeyExpiry, two years from the deployment by default); checkov cannot evaluate a parameter's value.
  // checkov:skip=CKV_AZURE_112: an HSM-backed key needs the premium vault SKU; the software-protected key still never leaves the vault (signing happens in Key Vault), and the VSA's trust is the published public key.
  parent: vault
  name: 'acr-guard-attestation'
  tags: tags
  properties: {
    kty: 'EC'
    curveName: 'P-256'
    keyOps: [ 'sign', 'verify' ]
    attributes: { enabled: true, exp: attestationKeyExpiry }
  }
}

resource attestationKeyRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(attestationSignerPrincipalId)) {
  scope: attestationKey
  // Key Vault Crypto User: sign with the key and read its public part; nothing else in the vault.
  name: guid(attestationKey.id, attestationSignerPrincipalId, '12338af0-0e69-4776-bea7-57ae8d297424')
  properties: {
    principalId: attestationSignerPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '12338af0-0e69-4776-bea7-57ae8d297424')
  }
}

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
@description('Required. Key id (without version) of the attestation key acr-guard signs VSAs with; empty when none was created.')
output attestationKeyId string = empty(attestationSignerPrincipalId) ? '' : attestationKey.properties.keyUri
