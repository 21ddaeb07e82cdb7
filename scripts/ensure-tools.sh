#!/usr/bin/env bash
# Installs the real third-party parts the tests and `npm start` use, when they are missing:
#   - Debian's docker-registry (the OCI distribution registry 2.8) as the loopback registry.
# Azurite comes from npm (devDependencies). Idempotent and quiet when everything is present.
set -euo pipefail

need_apt=()
command -v docker-registry >/dev/null 2>&1 || [ -x /usr/bin/docker-registry ] || need_apt+=(docker-registry)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)

if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" != "0" ] && ! command -v sudo >/dev/null 2>&1; then
    echo "ensure-tools: missing ${need_apt[*]}; install them with apt-get (needs root)" >&2
    exit 1
  fi
  SUDO=""; [ "$(id -u)" = "0" ] || SUDO=sudo
  echo "ensure-tools: installing ${need_apt[*]} from Debian's packages" >&2
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
