// acr-guard and the secured container platform it guards, in one deployment (`azd up`, or
// `az deployment sub create -f infra/main.bicep -p infra/main.parameters.json`).
//
// Subscription scope for two things only: the resource group and the Defender for Containers pricing.
// Everything else is in the resource group, built by the modules under ./modules, and every role
// assignment is scoped to the single resource it is about (no Owner, no Contributor, nothing at
// subscription scope). One exception, on purpose: in-use protection reads the container workloads of the
// whole resource group (a custom role with read actions only, modules/inUseReader.bicep; doctor reads the same way), so that an app
// deployed here later is protected from the purge without anyone remembering to list it.
targetScope = 'subscription'

@description('Required. Short environment name used in resource names, e.g. "prod" (azd sets it).')
@minLength(2)
@maxLength(12)
param environmentName string

@description('Required. Azure region of every regional resource.')
param location string

@description('Optional. Tags applied to every resource.')
param tags object = {}

@description('Optional. Zone redundancy for the registry, the Container Apps environment and the Function App plan; set false in a region without availability zones.')
param zoneRedundant bool = true

@description('Optional. Create the Event Grid subscription to onImagePushed. Event Grid checks that the function exists, so the first `azd up` provisions without it and the postdeploy hook provisions again with it (SUBSCRIBE_EVENTS=true).')
param subscribeEvents bool = false

@description('Optional. Policy YAML (the content of policy/acr-guard.yaml) passed to acr-guard as ACR_GUARD_POLICY; empty uses the packaged policy/acr-guard.yaml.')
param policyYaml string = ''

@description('Optional. Repositories the scope maps (production-pull-only, ci-push) cover.')
param repositories array = [ 'contoso/api', 'contoso/frontend', 'contoso/worker' ]

@description('Optional. "softDelete" (deleted manifests recoverable; acr-guard purges untagged ones, sparing images in use) or "retention" (ACR deletes untagged manifests itself). ACR allows only one of the two.')
@allowed([ 'softDelete', 'retention' ])
param registryDeletePolicy string = 'softDelete'

@description('Optional. E-mail address the failed-image-pull alert notifies.')
param alertEmail string = ''

@description('Optional. Client id of the Entra ID app registration that protects the demo API (callers without a token for it get 401). Empty: the demo API answers 401 to every request (authentication on, no identity provider) until it is set.')
param apiAuthClientId string = ''

@description('Optional. Client id of the Entra ID app registration of acr-guard\'s own HTTP API (rescan, verdicts), with the app roles Rescan.Request and Verdicts.Read. Empty: App Service authentication stays off on the Function App and its HTTP functions answer 401.')
param guardApiClientId string = ''

@description('Optional. Key Vault secret names the API reads as Key Vault references. They must exist in the vault before the API revision starts.')
param apiSecretNames array = []

@description('Optional. Deploy the batch worker on Container Instances. Its secret must exist in the vault first (workerSecretName), because the deployment reads it with getSecret.')
param deployWorker bool = false

@description('Optional. Image of the batch worker, a release pinned by digest: "<login server>/release/contoso/worker@sha256:<digest>" in promote mode, "<login server>/contoso/worker@sha256:<digest>" in quarantine mode (the deploy-time policy refuses tags).')
param workerImage string = ''

@description('Optional. Key Vault secret the worker receives as the secure environment variable WORKER_SECRET.')
param workerSecretName string = 'worker-secret'

@description('Optional. "Standard", or "Confidential" to run the worker on the confidential-container SKU.')
@allowed([ 'Standard', 'Confidential' ])
param workerSku string = 'Standard'

@description('Optional. Confidential computing enforcement policy (base64) for the Confidential SKU.')
param workerCcePolicy string = ''

@description('Optional. Lifetime of each new ACR token password acr-guard generates (duration such as 30d).')
param tokenPasswordValidity string = '30d'

@description('Optional. How long before the published token password expires acr-guard publishes the other slot (the overlap; at most half the validity).')
param tokenPasswordRenewBefore string = '7d'

@description('Optional. NCRONTAB schedule of the token rotation timer.')
param rotationSchedule string = '0 30 3 * * *'

@description('Optional. NCRONTAB schedule of the KQL alert timer (its shipped rules look back 10-15 minutes).')
param alertSchedule string = '0 */5 * * * *'

@description('Optional. Path (in the deployed package) of an alerts file that enables, disables or adds KQL alert rules; empty runs the shipped rules.')
param alertRulesFile string = ''

@description('Optional. Key Vault secret holding the Teams/Slack webhook URL acr-guard alerts to (the URL embeds a secret, so it lives in the vault). Store the secret before alerts are due.')
param alertWebhookSecretName string = 'alert-webhook-url'

@description('Optional. Webhook JSON: "messagecard" (Teams connector card, also shown by Slack), "adaptivecard" (Teams Workflows) or "slack".')
@allowed([ 'messagecard', 'adaptivecard', 'slack' ])
param alertWebhookFormat string = 'messagecard'

@description('Optional. Event Grid custom topic endpoint (https://<topic>.<region>-1.eventgrid.azure.net/api/events) acr-guard also sends alerts to; grant its identity EventGrid Data Sender on that topic. Empty sends to the webhook only.')
param alertEventGridEndpoint string = ''

@description('Optional. Event Grid custom topic endpoint (CloudEvents 1.0 input schema) each recorded verdict is published to as com.acrguard.verdict.v1 (docs/verdict-events.md); grant acr-guard\'s identity EventGrid Data Sender on that topic. Empty publishes no verdict events.')
param verdictEventGridEndpoint string = ''

@description('Optional. NCRONTAB schedule of acr-guard\'s nightly purge.')
param purgeSchedule string = '0 0 3 * * *'

@description('Optional. NCRONTAB schedule of acr-guard\'s runtime audit (every running image checked against the gate; hourly).')
param runtimeSchedule string = '0 0 * * * *'

@description('Optional. How acr-guard applies verdicts on this registry, as its policy says (registries[].apply): "quarantine" (ACR quarantine, legacy registry permissions) or "promote" (released images are copied into the release repository; the registry runs in ABAC repository-permissions mode so that only acr-guard writes it).')
@allowed([ 'quarantine', 'promote' ])
param gateMode string = 'quarantine'

@description('Optional. First path segment of the release repositories in promote mode (the policy\'s `promote.repository: "release/{repository}"`).')
param releasePrefix string = 'release'

@description('Optional. Principal ids of the CI identities that push images. Promote: Container Registry Repository Writer everywhere except the release prefix. Quarantine: AcrPush (ACR quarantine keeps their pushes unpullable until the verdict).')
param ciPushPrincipalIds array = []

@description('Optional. Effect of the deploy-time policy that refuses images that did not come through the gate: Deny, Audit or Disabled.')
@allowed([ 'Deny', 'Audit', 'Disabled' ])
param deployPolicyEffect string = 'Deny'

@description('Optional. Registry hosts the deploy-time policy tolerates as they are (keep equal to the acr-guard policy\'s runtime.allowRegistries). mcr.microsoft.com is here for the API\'s placeholder image (mcr.microsoft.com/k8se/quickstart); remove it once the API runs a released image.')
param deployPolicyToleratedRegistries array = [ 'mcr.microsoft.com' ]

@description('Optional. Scopes (ARM ids) in the subscription the deploy-time policy leaves out.')
param deployPolicyNotScopes array = []

@description('Optional. Further scopes whose Container Apps, jobs and container groups run images from the registry (ARM ids of subscriptions, resource groups or single resources), beyond this deployment\'s resource group. Grant acr-guard\'s identity read access there yourself: without it the purge stops (fail closed).')
param inUseAdditionalScopes array = []

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))

// Built-in role definition ids, by name (learn.microsoft.com/azure/role-based-access-control/built-in-roles).
var roles = {
  acrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d'
  acrDelete: 'c2f4ef07-c644-48eb-af81-4b1b4947fb11'
  acrQuarantineWriter: 'c8d4ff99-41c3-41a8-9f60-21dfdad59608'
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  logAnalyticsReader: '73c42c96-874c-492b-b04d-ab87d138a893'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  reader: 'acdd72a7-3385-48ef-bd42-f606fba81ae7'
  acrPush: '8311e382-0749-4cb8-b61a-304f252e45ec'
  // ABAC repository-permissions mode (promote): AcrPull, AcrPush and AcrDelete are not honoured there.
  repositoryReader: 'b93aa761-3e63-49ed-ac28-beffa264f7ac'
  repositoryWriter: '2a1e307c-b015-4ebd-883e-5b7698a07328'
  repositoryContributor: '2efddaa5-3f1f-4df3-97df-af3f13818f4c'
  repositoryCatalogLister: 'bfdb9389-c9a5-478a-bb2f-ba9ca092c3c7'
}

var promote = gateMode == 'promote'
var releaseRepositoryPrefix = '${releasePrefix}/'

// ABAC conditions (version 2.0) on the repository name. Each one leaves the other actions of its role alone and
// restricts the named ones: write to the release prefix only, write anywhere but the release prefix, read the
// release prefix only. The trailing slash matters: 'release' alone would also match 'release-candidates/…'.
var repositoryName = '@Request[Microsoft.ContainerRegistry/registries/repositories:name]'
var writeActions = '!(ActionMatches{\'Microsoft.ContainerRegistry/registries/repositories/content/write\'}) AND !(ActionMatches{\'Microsoft.ContainerRegistry/registries/repositories/metadata/write\'})'
var readActions = '!(ActionMatches{\'Microsoft.ContainerRegistry/registries/repositories/content/read\'}) AND !(ActionMatches{\'Microsoft.ContainerRegistry/registries/repositories/metadata/read\'})'
var conditions = {
  writeReleaseOnly: '((${writeActions}) OR (${repositoryName} StringStartsWithIgnoreCase \'${releaseRepositoryPrefix}\'))'
  writeAllButRelease: '((${writeActions}) OR (${repositoryName} StringNotStartsWithIgnoreCase \'${releaseRepositoryPrefix}\'))'
  readReleaseOnly: '((${readActions}) OR (${repositoryName} StringStartsWithIgnoreCase \'${releaseRepositoryPrefix}\'))'
}

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: union(tags, { 'azd-env-name': environmentName })
}

// Microsoft Defender for Containers: registry image scanning and runtime protection.
resource defenderForContainers 'Microsoft.Security/pricings@2024-01-01' = {
  // checkov:skip=CKV_AZURE_87: this pricing is the Containers plan; checkov reads every Microsoft.Security/pricings resource as the Key Vault plan. Defender for Key Vault is a separate subscription-wide decision left to the owner.
  name: 'Containers'
  properties: { pricingTier: 'Standard' }
}

module identities 'modules/identities.bicep' = {
  scope: rg
  name: 'identities'
  params: { location: location, resourceToken: resourceToken, tags: tags }
}

var guardPrincipalId = identities.outputs.guardPrincipalId

module network 'modules/network.bicep' = {
  scope: rg
  name: 'network'
  params: { location: location, resourceToken: resourceToken, tags: tags }
}

module monitoring 'modules/monitoring.bicep' = {
  scope: rg
  name: 'monitoring'
  params: {
    location: location
    resourceToken: resourceToken
    alertEmail: alertEmail
    tags: tags
    roleAssignments: [
      { principalId: guardPrincipalId, roleDefinitionId: roles.logAnalyticsReader }
    ]
  }
}

// The registry's role assignments in quarantine mode (legacy registry permissions): ACR quarantine keeps every
// pushed digest unpullable until acr-guard sets it Passed, so pushers and workloads hold registry-wide roles.
var legacyPushRoles = [for id in ciPushPrincipalIds: { principalId: id, roleDefinitionId: roles.acrPush }]
var legacyRegistryRoles = concat([
  { principalId: guardPrincipalId, roleDefinitionId: roles.acrPull }
  { principalId: guardPrincipalId, roleDefinitionId: roles.acrQuarantineWriter }
  { principalId: guardPrincipalId, roleDefinitionId: roles.acrDelete }
  // Resource Graph returns the registry's Defender assessments only to readers of the registry.
  { principalId: guardPrincipalId, roleDefinitionId: roles.reader }
  { principalId: identities.outputs.apiPrincipalId, roleDefinitionId: roles.acrPull }
  { principalId: identities.outputs.workerPrincipalId, roleDefinitionId: roles.acrPull }
], legacyPushRoles)

// Promote mode (ABAC repository permissions): AcrPull/AcrPush/AcrDelete are not honoured, Owner/Contributor/Reader
// grant the control plane only. acr-guard reads and deletes everywhere (gate, purge) but writes the release
// prefix only; pushers write everywhere but the release prefix; workloads read the release prefix only.
var abacPushRoles = [for id in ciPushPrincipalIds: { principalId: id, roleDefinitionId: roles.repositoryWriter, condition: conditions.writeAllButRelease }]
var abacRegistryRoles = concat([
  { principalId: guardPrincipalId, roleDefinitionId: roles.repositoryContributor, condition: conditions.writeReleaseOnly }
  // The purge lists every repository; the catalog lister takes no condition (it reads no content).
  { principalId: guardPrincipalId, roleDefinitionId: roles.repositoryCatalogLister }
  { principalId: guardPrincipalId, roleDefinitionId: roles.reader }
  { principalId: identities.outputs.apiPrincipalId, roleDefinitionId: roles.repositoryReader, condition: conditions.readReleaseOnly }
  { principalId: identities.outputs.workerPrincipalId, roleDefinitionId: roles.repositoryReader, condition: conditions.readReleaseOnly }
], abacPushRoles)

module registry 'modules/registry.bicep' = {
  scope: rg
  name: 'registry'
  params: {
    location: location
    resourceToken: resourceToken
    workspaceId: monitoring.outputs.workspaceId
    privateEndpointSubnetId: network.outputs.privateEndpointSubnetId
    vnetId: network.outputs.vnetId
    repositories: repositories
    deletePolicy: registryDeletePolicy
    zoneRedundant: zoneRedundant
    tags: tags
    roleAssignmentMode: promote ? 'AbacRepositoryPermissions' : 'LegacyRegistryPermissions'
    quarantine: !promote
    pullRepositoryPrefix: promote ? releaseRepositoryPrefix : ''
    roleAssignments: promote ? abacRegistryRoles : legacyRegistryRoles
    tokenCredentialPrincipalIds: [ guardPrincipalId ]
  }
}

module keyVault 'modules/keyVault.bicep' = {
  scope: rg
  name: 'keyVault'
  params: {
    location: location
    resourceToken: resourceToken
    workspaceId: monitoring.outputs.workspaceId
    privateEndpointSubnetId: network.outputs.privateEndpointSubnetId
    vnetId: network.outputs.vnetId
    tags: tags
    roleAssignments: [
      // acr-guard writes rotated token passwords.
      { principalId: guardPrincipalId, roleDefinitionId: roles.keyVaultSecretsOfficer }
      // The API resolves its Key Vault references.
      { principalId: identities.outputs.apiPrincipalId, roleDefinitionId: roles.keyVaultSecretsUser }
    ]
    // acr-guard signs its verification summaries (VSA) with the vault's attestation key (Crypto User on that key).
    attestationSignerPrincipalId: guardPrincipalId
  }
}

module containerApps 'modules/containerApps.bicep' = {
  scope: rg
  name: 'containerApps'
  params: {
    location: location
    resourceToken: resourceToken
    subnetId: network.outputs.containerAppsSubnetId
    vnetAddressPrefix: network.outputs.addressPrefix
    workspaceId: monitoring.outputs.workspaceId
    registryLoginServer: registry.outputs.loginServer
    identityId: identities.outputs.apiId
    keyVaultUri: keyVault.outputs.vaultUri
    keyVaultSecretNames: apiSecretNames
    authClientId: apiAuthClientId
    zoneRedundant: zoneRedundant
    tags: tags
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = if (deployWorker) {
  scope: rg
  name: 'kv-${resourceToken}'
}

module worker 'modules/containerInstance.bicep' = if (deployWorker) {
  scope: rg
  name: 'worker'
  params: {
    location: location
    resourceToken: resourceToken
    subnetId: network.outputs.aciSubnetId
    registryLoginServer: registry.outputs.loginServer
    workspaceId: monitoring.outputs.workspaceId
    identityId: identities.outputs.workerId
    image: workerImage
    workerSecret: vault.getSecret(workerSecretName)
    sku: workerSku
    ccePolicy: workerCcePolicy
    tags: tags
  }
  dependsOn: [ keyVault ]
}

// The road to production: Azure Policy refuses, across the subscription, any Container App, job or container
// group whose image is not a release of this registry pinned by digest (or from a tolerated registry).
module deployPolicy 'modules/deployPolicy.bicep' = {
  name: 'deployPolicy'
  params: {
    resourceToken: resourceToken
    releasedImagePrefix: toLower(promote ? '${registry.outputs.loginServer}/${releaseRepositoryPrefix}' : '${registry.outputs.loginServer}/')
    toleratedRegistries: deployPolicyToleratedRegistries
    effect: deployPolicyEffect
    notScopes: deployPolicyNotScopes
  }
}

// Where in-use protection looks: every Container App, job and container group of the resource group (the
// API app, the worker, and whatever is deployed here later), plus the scopes the owner adds.
module inUseReader 'modules/inUseReader.bicep' = {
  scope: rg
  name: 'inUseReader'
  params: { resourceToken: resourceToken, principalIds: [ guardPrincipalId ] }
}

var inUseScopes = join(concat([ rg.id ], inUseAdditionalScopes), ',')

module guard 'modules/functionApp.bicep' = {
  scope: rg
  name: 'acrGuard'
  params: {
    location: location
    resourceToken: resourceToken
    identityId: identities.outputs.guardId
    identityClientId: identities.outputs.guardClientId
    identityPrincipalId: guardPrincipalId
    subnetId: network.outputs.functionSubnetId
    workspaceId: monitoring.outputs.workspaceId
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    zoneRedundant: zoneRedundant
    tags: tags
    guardApiClientId: guardApiClientId
    // acr-guard's own settings (src/config.ts). None holds a secret: every service is reached with the
    // managed identity, and token passwords go to Key Vault, never here.
    appSettings: [
      { name: 'AZURE_CLIENT_ID', value: identities.outputs.guardClientId }
      { name: 'ACR_GUARD_POLICY', value: policyYaml }
      { name: 'ACR_GUARD_DEFENDER_SUBSCRIPTIONS', value: subscription().subscriptionId }
      { name: 'ACR_GUARD_DRY_RUN', value: 'false' }
      { name: 'ACR_GUARD_PURGE_SCHEDULE', value: purgeSchedule }
      { name: 'ACR_GUARD_RUNTIME_SCHEDULE', value: runtimeSchedule }
      { name: 'ACR_GUARD_INUSE_SCOPES', value: inUseScopes }
      { name: 'ACR_GUARD_LOG_ANALYTICS_WORKSPACE_ID', value: monitoring.outputs.workspaceCustomerId }
      { name: 'ACR_GUARD_KEY_VAULT_URL', value: keyVault.outputs.vaultUri }
      { name: 'ACR_GUARD_ATTESTATION_KEY_ID', value: keyVault.outputs.attestationKeyId }
      { name: 'ACR_GUARD_ROTATION_TOKENS', value: join(registry.outputs.tokenIds, ',') }
      { name: 'ACR_GUARD_ROTATION_VALIDITY', value: tokenPasswordValidity }
      { name: 'ACR_GUARD_ROTATION_RENEW_BEFORE', value: tokenPasswordRenewBefore }
      { name: 'ACR_GUARD_ROTATION_SCHEDULE', value: rotationSchedule }
      { name: 'ACR_GUARD_ARM_ENDPOINT', value: environment().resourceManager }
      { name: 'ACR_GUARD_LOG_ANALYTICS_ENDPOINT', value: 'https://api.loganalytics.io/v1' }
      { name: 'ACR_GUARD_ALERT_SCHEDULE', value: alertSchedule }
      { name: 'ACR_GUARD_ALERT_RULES_FILE', value: alertRulesFile }
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

// What acr-guard writes to Log Analytics (verdicts, purges, runtime statuses: Logs Ingestion API) and the
// workbook over it. acr-guard may publish to the data collection rule only.
module logIngestion 'modules/logIngestion.bicep' = {
  scope: rg
  name: 'logIngestion'
  params: {
    location: location
    resourceToken: resourceToken
    workspaceName: last(split(monitoring.outputs.workspaceId, '/'))
    tags: tags
    roleAssignments: [
      { principalId: guardPrincipalId, roleDefinitionId: roles.monitoringMetricsPublisher }
    ]
  }
}

module workbook 'modules/workbook.bicep' = {
  scope: rg
  name: 'workbook'
  params: {
    location: location
    resourceToken: resourceToken
    workspaceId: monitoring.outputs.workspaceId
    tags: tags
  }
}

module metricsPublisher 'modules/appInsightsRole.bicep' = {
  scope: rg
  name: 'appInsightsRole'
  params: {
    appInsightsName: last(split(monitoring.outputs.appInsightsId, '/'))
    principalId: guardPrincipalId
    roleDefinitionId: roles.monitoringMetricsPublisher
  }
}

module events 'modules/eventGrid.bicep' = if (subscribeEvents) {
  scope: rg
  name: 'eventGrid'
  params: {
    location: location
    resourceToken: resourceToken
    registryId: registry.outputs.registryId
    functionAppId: guard.outputs.siteId
    functionName: 'onImagePushed'
    deadLetterStorageName: guard.outputs.storageName
    tags: tags
  }
}

@description('Required. Name of the resource group.')
output AZURE_RESOURCE_GROUP string = rg.name
@description('Required. Login server of the registry acr-guard gates.')
output AZURE_CONTAINER_REGISTRY_ENDPOINT string = registry.outputs.loginServer
@description('Required. Name of the acr-guard Function App.')
output ACR_GUARD_FUNCTION_APP_NAME string = guard.outputs.siteName
@description('Required. Client id of the identity acr-guard runs as.')
output ACR_GUARD_IDENTITY_CLIENT_ID string = identities.outputs.guardClientId
@description('Required. Name of the Key Vault.')
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.vaultName
@description('Required. Internal FQDN of the API container app.')
output API_FQDN string = containerApps.outputs.apiFqdn
