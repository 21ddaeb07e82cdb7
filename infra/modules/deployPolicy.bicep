// The road to production, enforced by Azure: custom Azure Policy definitions and their assignments that refuse
// any Container App, Container Apps job and container group whose containers or init containers run an image
// that did not come through the gate: it must be `<releasedImagePrefix><repository>@sha256:<digest>` (the
// release repository in promote mode, any repository of the guarded registry in quarantine mode, where ACR
// quarantine keeps unreleased digests unpullable), or come from a tolerated registry.
//
// Subscription scope: policy definitions live at a subscription (or management group), so this module is
// deployed from main.bicep at the subscription it targets, and the assignments cover that whole subscription
// (minus `notScopes`), not only the platform's resource group: a workload deployed elsewhere in the
// subscription must not be a way around the gate.
//
// The rules are the JSON in ./policies/released-images.json, loaded as they are: test/infra/deployPolicy.test.ts
// evaluates those same bytes against resource bodies. Bicep escapes the rules' leading `[` (`[[`) when it emits
// the ARM template, so ARM passes the policy expressions to Azure Policy instead of evaluating them itself.
targetScope = 'subscription'

@description('Required. Lower-case "<login server>/<release prefix>/" (promote) or "<login server>/" (quarantine).')
param releasedImagePrefix string

@description('Optional. Registry hosts whose images are tolerated as they are (the acr-guard policy\'s runtime.allowRegistries).')
param toleratedRegistries array = []

@description('Optional. Deny (refuse the deployment), Audit (report it) or Disabled.')
@allowed([ 'Deny', 'Audit', 'Disabled' ])
param effect string = 'Deny'

@description('Optional. Scopes (ARM ids) inside the subscription the assignments leave out.')
param notScopes array = []

@description('Required. Suffix that makes resource names unique.')
param resourceToken string

var policy = loadJsonContent('policies/released-images.json')

var kinds = [
  { key: 'containerApps', displayName: 'Container Apps' }
  { key: 'jobs', displayName: 'Container Apps jobs' }
  { key: 'containerGroups', displayName: 'container groups' }
]

resource definitions 'Microsoft.Authorization/policyDefinitions@2023-04-01' = [for kind in kinds: {
  name: 'acr-guard-released-images-${kind.key}-${resourceToken}'
  properties: {
    displayName: 'acr-guard: ${kind.displayName} run released images only'
    description: 'Refuses ${kind.displayName} whose containers or init containers use an image that is not a gated release pinned by digest, or from a tolerated registry.'
    policyType: 'Custom'
    mode: 'Indexed'
    metadata: { category: 'Container Apps', source: 'acr-guard' }
    parameters: policy.parameters
    policyRule: policy.rules[kind.key]
  }
}]

resource assignments 'Microsoft.Authorization/policyAssignments@2024-04-01' = [for (kind, i) in kinds: {
  name: take('acr-guard-${kind.key}-${resourceToken}', 64)
  properties: {
    displayName: 'acr-guard: ${kind.displayName} run released images only'
    policyDefinitionId: definitions[i].id
    enforcementMode: 'Default'
    notScopes: notScopes
    parameters: {
      effect: { value: effect }
      releasedImagePrefix: { value: releasedImagePrefix }
      toleratedRegistries: { value: toleratedRegistries }
    }
    nonComplianceMessages: [
      { message: 'acr-guard: deploy only released images pinned by digest (${releasedImagePrefix}<repository>@sha256:<digest>), e.g. with `acr-guard deploy`; tolerated registries: ${join(toleratedRegistries, ', ')}.' }
    ]
  }
}]

@description('Required. Resource ids of the policy assignments (one per workload type).')
output assignmentIds array = [for (kind, i) in kinds: assignments[i].id]
