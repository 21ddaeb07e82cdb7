// The Container Apps environment (own subnet, internal only, logs to the workspace) and the API app:
// internal ingress allowed from the virtual network only, 2-10 replicas, image pull with its managed
// identity (AcrPull), secrets as Key Vault references, and Entra ID authentication answering 401.
targetScope = 'resourceGroup'

@description('Required. Azure region.')
param location string

@description('Required. Suffix that makes resource names unique.')
param resourceToken string

@description('Required. Subnet of the environment.')
param subnetId string

@description('Required. Address space of the virtual network: the only source the API ingress allows.')
param vnetAddressPrefix string

@description('Required. Log Analytics workspace for the environment\'s logs.')
param workspaceId string

@description('Required. Login server of the registry the API image comes from.')
param registryLoginServer string

@description('Required. Resource id of the API app\'s user-assigned identity (AcrPull, Key Vault Secrets User).')
param identityId string

@description('Optional. Image of the API app (a placeholder until the API\'s own pipeline deploys it from the registry).')
param image string = 'mcr.microsoft.com/k8se/quickstart:latest'

@description('Required. Key Vault URI the secret references point into.')
param keyVaultUri string

@description('Optional. Key Vault secret names the API reads, exposed as environment variables (name upper-cased, dashes to underscores). The secrets must exist before the revision starts.')
param keyVaultSecretNames array = []

@description('Optional. Client id of the Entra ID app registration that callers get tokens for. Empty: authentication stays on with no identity provider, so every request gets 401 until it is set.')
param authClientId string = ''

@description('Optional. Zone redundancy; set false in a region without availability zones.')
param zoneRedundant bool = true

@description('Optional. Role assignments on the API app: objects with principalId and roleDefinitionId (a built-in role GUID).')
param roleAssignments array = []

@description('Optional. Tags applied to every resource.')
param tags object = {}

resource environment 'Microsoft.App/managedEnvironments@2024-03-01' = {
  name: 'cae-${resourceToken}'
  location: location
  tags: tags
  properties: {
    vnetConfiguration: { infrastructureSubnetId: subnetId, internal: true }
    appLogsConfiguration: { destination: 'azure-monitor' }
    zoneRedundant: zoneRedundant
    workloadProfiles: [ { name: 'Consumption', workloadProfileType: 'Consumption' } ]
  }
}

resource environmentDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  scope: environment
  name: 'to-log-analytics'
  properties: {
    workspaceId: workspaceId
    // Resource-specific tables (ContainerAppSystemLogs, ContainerAppConsoleLogs): the failed-pull alert reads them.
    logAnalyticsDestinationType: 'Dedicated'
    logs: [ { categoryGroup: 'allLogs', enabled: true } ]
    metrics: [ { category: 'AllMetrics', enabled: true } ]
  }
}

var secrets = [for s in keyVaultSecretNames: {
  name: s
  keyVaultUrl: '${keyVaultUri}secrets/${s}'
  identity: identityId
}]
var secretEnv = [for s in keyVaultSecretNames: {
  name: toUpper(replace(s, '-', '_'))
  secretRef: s
}]

resource api 'Microsoft.App/containerApps@2024-03-01' = {
  name: 'ca-api-${resourceToken}'
  location: location
  tags: tags
  identity: { type: 'UserAssigned', userAssignedIdentities: { '${identityId}': {} } }
  properties: {
    environmentId: environment.id
    workloadProfileName: 'Consumption'
    configuration: {
      activeRevisionsMode: 'Single'
      ingress: {
        external: false
        targetPort: 80
        transport: 'auto'
        allowInsecure: false
        ipSecurityRestrictions: [
          { name: 'vnet-only', description: 'Callers inside the virtual network only.', action: 'Allow', ipAddressRange: vnetAddressPrefix }
        ]
      }
      registries: [ { server: registryLoginServer, identity: identityId } ]
      secrets: secrets
    }
    template: {
      containers: [
        {
          name: 'api'
          image: image
          resources: { cpu: json('0.5'), memory: '1Gi' }
          env: secretEnv
        }
      ]
      scale: { minReplicas: 2, maxReplicas: 10 }
    }
  }
}

// Built-in authentication: every unauthenticated request gets 401 (an API has no login page).
resource auth 'Microsoft.App/containerApps/authConfigs@2024-03-01' = {
  parent: api
  name: 'current'
  properties: {
    platform: { enabled: true }
    globalValidation: { unauthenticatedClientAction: 'Return401' }
    identityProviders: empty(authClientId) ? {} : {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: authClientId
          openIdIssuer: '${az.environment().authentication.loginEndpoint}${subscription().tenantId}/v2.0'
        }
        validation: { allowedAudiences: [ 'api://${authClientId}' ] }
      }
    }
  }
}

resource apiRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for ra in roleAssignments: {
  scope: api
  name: guid(api.id, ra.principalId, ra.roleDefinitionId)
  properties: {
    principalId: ra.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', ra.roleDefinitionId)
  }
}]

@description('Required. Resource id of the API container app.')
output apiId string = api.id
@description('Required. Internal FQDN of the API.')
output apiFqdn string = api.properties.configuration.ingress.fqdn
@description('Required. Resource id of the Container Apps environment.')
output environmentId string = environment.id
