// The virtual network: one subnet per tier, each with its own network security group.
targetScope = 'resourceGroup'

@description('Required. Azure region.')
param location string

@description('Required. Suffix that makes resource names unique.')
param resourceToken string

@description('Optional. Address space of the virtual network (a /16; the subnets below are carved from it).')
param addressPrefix string = '10.40.0.0/16'

@description('Optional. Subnet prefixes: private endpoints, Function App integration, Container Instances, Container Apps (a /23 or larger).')
param subnetPrefixes object = {
  privateEndpoints: '10.40.0.0/24'
  function: '10.40.1.0/24'
  aci: '10.40.2.0/24'
  containerApps: '10.40.4.0/23'
}

@description('Optional. Tags applied to every resource.')
param tags object = {}

// name, prefix, delegation ('' for none). Container Apps environments need a /23 or larger.
var subnets = [
  { name: 'snet-private-endpoints', prefix: subnetPrefixes.privateEndpoints, delegation: '' }
  { name: 'snet-function', prefix: subnetPrefixes.function, delegation: 'Microsoft.App/environments' }
  { name: 'snet-aci', prefix: subnetPrefixes.aci, delegation: 'Microsoft.ContainerInstance/containerGroups' }
  { name: 'snet-container-apps', prefix: subnetPrefixes.containerApps, delegation: 'Microsoft.App/environments' }
]

resource nsgs 'Microsoft.Network/networkSecurityGroups@2024-01-01' = [for s in subnets: {
  name: 'nsg-${s.name}-${resourceToken}'
  location: location
  tags: tags
  properties: {
    securityRules: [
      {
        name: 'deny-internet-inbound'
        properties: {
          priority: 4000
          direction: 'Inbound'
          access: 'Deny'
          protocol: '*'
          sourceAddressPrefix: 'Internet'
          sourcePortRange: '*'
          destinationAddressPrefix: '*'
          destinationPortRange: '*'
        }
      }
    ]
  }
}]

resource vnet 'Microsoft.Network/virtualNetworks@2024-01-01' = {
  name: 'vnet-${resourceToken}'
  location: location
  tags: tags
  properties: {
    addressSpace: { addressPrefixes: [ addressPrefix ] }
    subnets: [for (s, i) in subnets: {
      name: s.name
      properties: {
        addressPrefix: s.prefix
        networkSecurityGroup: { id: nsgs[i].id }
        privateEndpointNetworkPolicies: 'Enabled'
        serviceEndpoints: s.name == 'snet-function' ? [ { service: 'Microsoft.Storage' } ] : []
        delegations: empty(s.delegation) ? [] : [ { name: 'delegation', properties: { serviceName: s.delegation } } ]
      }
    }]
  }
}

@description('Required. Resource id of the virtual network.')
output vnetId string = vnet.id
@description('Required. Address space of the virtual network (the API ingress allows only this range).')
output addressPrefix string = addressPrefix
@description('Required. Subnet for private endpoints.')
output privateEndpointSubnetId string = vnet.properties.subnets[0].id
@description('Required. Subnet delegated to the Function App (VNet integration).')
output functionSubnetId string = vnet.properties.subnets[1].id
@description('Required. Subnet delegated to Container Instances.')
output aciSubnetId string = vnet.properties.subnets[2].id
@description('Required. Subnet of the Container Apps environment.')
output containerAppsSubnetId string = vnet.properties.subnets[3].id
