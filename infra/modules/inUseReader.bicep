// In-use protection reads which images the resource group's container workloads run, and doctor (the
// diagnosis the failed-image-pull alert carries) reads how they pull: a custom role with read actions only
// (no built-in is that narrow: Reader reads everything, "ContainerApp Reader" also manages deployments and
// alert rules), assigned on this resource group so that every Container App, Container Apps job and container
// group deployed here later is covered too, not only the ones this template knows of.
targetScope = 'resourceGroup'

@description('Required. Suffix that makes resource names unique.')
param resourceToken string

@description('Required. Principal ids (service principals) that list the workloads\' images: acr-guard\'s identity.')
param principalIds array

resource inUseReaderRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(resourceGroup().id, 'acr-guard-inuse-reader')
  properties: {
    roleName: 'acr-guard in-use reader (${resourceToken})'
    description: 'Read Container Apps (and their revisions), Container Apps jobs and container groups: the images they run; and, for doctor, how they pull them (registry, private endpoint, private DNS links and A records, virtual networks, identities and role assignments, diagnostic settings). Read only.'
    type: 'CustomRole'
    assignableScopes: [ resourceGroup().id ]
    permissions: [
      {
        // In-use protection (the first four), then doctor: what a failed pull depends on, and the controls it checks.
        actions: [
          'Microsoft.App/containerApps/read'
          'Microsoft.App/containerApps/revisions/read'
          'Microsoft.App/jobs/read'
          'Microsoft.ContainerInstance/containerGroups/read'
          'Microsoft.App/managedEnvironments/read'
          'Microsoft.ContainerRegistry/registries/read'
          'Microsoft.Network/privateEndpoints/read'
          'Microsoft.Network/privateDnsZones/read'
          'Microsoft.Network/privateDnsZones/virtualNetworkLinks/read'
          'Microsoft.Network/privateDnsZones/A/read'
          'Microsoft.Network/virtualNetworks/read'
          'Microsoft.Network/dnsResolvers/read'
          'Microsoft.Network/dnsResolvers/inboundEndpoints/read'
          'Microsoft.Network/dnsForwardingRulesets/read'
          'Microsoft.Network/dnsForwardingRulesets/forwardingRules/read'
          'Microsoft.Network/dnsForwardingRulesets/virtualNetworkLinks/read'
          'Microsoft.ManagedIdentity/userAssignedIdentities/read'
          'Microsoft.Web/sites/read'
          'Microsoft.KeyVault/vaults/read'
          'Microsoft.Insights/diagnosticSettings/read'
          'Microsoft.Authorization/roleAssignments/read'
          'Microsoft.Authorization/roleDefinitions/read'
        ]
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
  }
}

// The one assignment at resource-group scope (see the header): deployed at this module's target scope, the
// resource group (never the subscription).
resource inUseReaderAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for principalId in principalIds: {
  name: guid(resourceGroup().id, principalId, inUseReaderRole.id)
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: inUseReaderRole.id
  }
}]

@description('Required. Resource id of the in-use reader role definition.')
output roleDefinitionId string = inUseReaderRole.id
