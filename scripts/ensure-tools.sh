#!/usr/bin/env bash
# Installs the real third-party parts the tests and `npm start` use, when they are missing:
#   - Debian's docker-registry (the OCI distribution registry 2.8) as the loopback registry.
#   - checkov (PyPI, pinned) in .tools/venv, for the infra checks.
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

# checkov (PyPI, pinned) in a project-local venv: `checkov -d infra --framework bicep` (test/infra/checkov.test.ts).
CHECKOV_VERSION=3.3.30
VENV="$(cd "$(dirname "$0")/.." && pwd)/.tools/venv"
# The stamp is written after a successful install (asking checkov for its version takes seconds).
if [ ! -x "$VENV/bin/checkov" ] || [ ! -f "$VENV/.checkov-$CHECKOV_VERSION" ]; then
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" = "0" ] || SUDO=sudo
    echo "ensure-tools: installing python3-venv from Debian's packages" >&2
    $SUDO apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
  fi
  echo "ensure-tools: installing checkov $CHECKOV_VERSION into .tools/venv" >&2
  [ -x "$VENV/bin/pip" ] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "checkov==$CHECKOV_VERSION" >/dev/null
  rm -f "$VENV"/.checkov-* && touch "$VENV/.checkov-$CHECKOV_VERSION"
fi
