// A private endpoint for one resource, with its private DNS zone linked to the virtual network.
targetScope = 'resourceGroup'

@description('Required. Azure region.')
param location string

@description('Required. Name of the private endpoint.')
param name string

@description('Required. Resource id of the resource the endpoint connects to.')
param targetResourceId string

@description('Required. Sub-resource (group id) of the target, e.g. "registry" or "vault".')
param groupId string

@description('Required. Private DNS zone name, e.g. "privatelink.azurecr.io".')
param privateDnsZoneName string

@description('Required. Subnet that holds the endpoint.')
param subnetId string

@description('Required. Virtual network the DNS zone is linked to.')
param vnetId string

@description('Optional. Tags applied to every resource.')
param tags object = {}

resource zone 'Microsoft.Network/privateDnsZones@2020-06-01' = {
  name: privateDnsZoneName
  location: 'global'
  tags: tags
}

resource link 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2020-06-01' = {
  parent: zone
  name: 'link-${uniqueString(vnetId)}'
  location: 'global'
  tags: tags
  properties: {
    registrationEnabled: false
    virtualNetwork: { id: vnetId }
  }
}

resource endpoint 'Microsoft.Network/privateEndpoints@2024-01-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    subnet: { id: subnetId }
    privateLinkServiceConnections: [
      {
        name: name
        properties: {
          privateLinkServiceId: targetResourceId
          groupIds: [ groupId ]
        }
      }
    ]
  }
}

resource zoneGroup 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-01-01' = {
  parent: endpoint
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      { name: replace(privateDnsZoneName, '.', '-'), properties: { privateDnsZoneId: zone.id } }
    ]
  }
}

@description('Required. Resource id of the private endpoint.')
output endpointId string = endpoint.id
