// The acr-guard workbook (Azure Monitor → Workbooks): verdicts over time, top blocking CVEs, images overdue in
// production, purge deletions, over the tables modules/logIngestion.bicep creates. The workbook's content is
// infra/workbooks/acr-guard.workbook.json, loaded as it is (test/infra/workbook.test.ts analyses the KQL of the
// same bytes against the tables' declared columns).
targetScope = 'resourceGroup'

@description('Required. Azure region of the workbook resource.')
param location string

@description('Required. Suffix that makes the workbook\'s name (a GUID) unique per deployment.')
param resourceToken string

@description('Required. Resource id of the Log Analytics workspace the workbook queries.')
param workspaceId string

@description('Optional. Display name in the portal.')
param displayName string = 'acr-guard'

@description('Optional. Tags applied to every resource.')
param tags object = {}

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(resourceGroup().id, 'acr-guard-workbook', resourceToken)
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: displayName
    category: 'workbook'
    sourceId: workspaceId
    version: 'Notebook/1.0'
    serializedData: loadTextContent('../workbooks/acr-guard.workbook.json')
  }
}

@description('Required. Resource id of the workbook.')
output workbookId string = workbook.id
