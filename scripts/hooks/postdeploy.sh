#!/bin/sh
# azd postdeploy hook (posix): Event Grid accepts a subscription only to a function that exists, so the first
# `azd up` provisions without it; once the code is deployed, provision again with SUBSCRIBE_EVENTS=true.
# Runs once per environment; later deploys see SUBSCRIBE_EVENTS=true and do nothing.
set -eu
if [ "$(azd env get-value SUBSCRIBE_EVENTS 2>/dev/null || true)" != "true" ]; then
  echo "acr-guard: code deployed; provisioning again to subscribe onImagePushed to the registry's ImagePushed events"
  azd env set SUBSCRIBE_EVENTS true
  azd provision --no-prompt
fi
