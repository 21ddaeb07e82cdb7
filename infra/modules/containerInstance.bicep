// The batch worker on Container Instances: in a delegated subnet with no public IP, image pull with its
// managed identity, secrets as secure values (read from Key Vault by the caller with getSecret), restarted
// on failure; the confidential SKU as an option. Its console output and events go to the workspace
// (ContainerInstanceLog_CL, ContainerEvent_CL), where acr-guard's console-errors and image-pull-failures rules
// read them.
targetScope = 'resourceGroup'

@description('Required. Azure region.')
param location string

@description('Required. Suffix that makes resource names unique.')
param resourceToken string

@description('Required. Subnet delegated to Container Instances.')
param subnetId string

@description('Required. Login server of the registry the worker image comes from.')
param registryLoginServer string

@description('Required. Resource id of the worker\'s user-assigned identity (AcrPull on the registry).')
param identityId string

@description('Required. Image of the worker, from the private registry.')
param image string

@description('Required. The worker\'s secret, exposed as the secure environment variable WORKER_SECRET; the caller passes it from Key Vault with getSecret.')
@secure()
param workerSecret string

@description('Optional. "Standard", or "Confidential" for the confidential-container SKU (then ccePolicy is required).')
@allowed([ 'Standard', 'Confidential' ])
param sku string = 'Standard'

@description('Optional. Base64 confidential computing enforcement policy (from "az confcom acipolicygen") for the Confidential SKU.')
param ccePolicy string = ''

@description('Required. Resource id of the Log Analytics workspace the container group sends its logs and events to.')
param workspaceId string

@description('Optional. Role assignments on the container group: objects with principalId and roleDefinitionId (a built-in role GUID).')
param roleAssignments array = []

@description('Optional. Tags applied to every resource.')
param tags object = {}

// Container groups have no diagnostic setting: their logs go to the workspace through the group's own
// diagnostics, which need the workspace key. It is read here with listKeys() at deployment and passed
// straight to the resource (the API marks it secret), never through a parameter or an output.
resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: last(split(workspaceId, '/'))
}

resource worker 'Microsoft.ContainerInstance/containerGroups@2023-05-01' = {
  name: 'ci-worker-${resourceToken}'
  location: location
  tags: tags
  identity: { type: 'UserAssigned', userAssignedIdentities: { '${identityId}': {} } }
  properties: {
    sku: sku
    confidentialComputeProperties: sku == 'Confidential' ? { ccePolicy: ccePolicy } : null
    osType: 'Linux'
    restartPolicy: 'OnFailure'
    subnetIds: [ { id: subnetId } ]
    imageRegistryCredentials: [ { server: registryLoginServer, identity: identityId } ]
    diagnostics: {
      logAnalytics: {
        // ContainerInstanceLogs: console output to ContainerInstanceLog_CL, events to ContainerEvent_CL.
        logType: 'ContainerInstanceLogs'
        workspaceId: workspace.properties.customerId
        workspaceKey: workspace.listKeys().primarySharedKey
        workspaceResourceId: workspace.id
      }
    }
    containers: [
      {
        name: 'worker'
        properties: {
          image: image
          resources: { requests: { cpu: 1, memoryInGB: 2 } }
          environmentVariables: [ { name: 'WORKER_SECRET', secureValue: workerSecret } ]
        }
      }
    ]
  }
}

resource workerRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for ra in roleAssignments: {
  scope: worker
  name: guid(worker.id, ra.principalId, ra.roleDefinitionId)
  properties: {
    principalId: ra.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', ra.roleDefinitionId)
  }
}]

@description('Required. Resource id of the worker container group.')
output workerId string = worker.id
