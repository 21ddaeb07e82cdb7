# azd postdeploy hook (Windows, pwsh): Event Grid accepts a subscription only to a function that exists, so the
# first `azd up` provisions without it; once the code is deployed, provision again with SUBSCRIBE_EVENTS=true.
# Runs once per environment; later deploys see SUBSCRIBE_EVENTS=true and do nothing.
$ErrorActionPreference = 'Stop'
$subscribe = (azd env get-value SUBSCRIBE_EVENTS 2>$null)
if ($LASTEXITCODE -ne 0) { $subscribe = '' }
if ("$subscribe".Trim() -ne 'true') {
  Write-Host "acr-guard: code deployed; provisioning again to subscribe onImagePushed to the registry's ImagePushed events"
  azd env set SUBSCRIBE_EVENTS true
  if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
  azd provision --no-prompt
  if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
}
