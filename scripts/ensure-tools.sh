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

# Signature interop tools (issue 3): notation, cosign and oras, pinned, built into .tools/bin (git-ignored).
# `go mod download` + `go build` inside the pinned module (what `go install mod@version` does) because
# `go install` also asks the proxy for the module's version list, which the proxy refuses for notation.
# Skipped quietly when Go is absent (the interop tests then skip with one line).
GO_TOOLS_BIN="$(cd "$(dirname "$0")/.." && pwd)/.tools/bin"
go_tools=(
  "notation|github.com/notaryproject/notation/cmd/notation@v1.3.2"
  "cosign|github.com/sigstore/cosign/v2/cmd/cosign@v2.5.0"
  "oras|oras.land/oras/cmd/oras@v1.2.3"
)
if command -v go >/dev/null 2>&1; then
  for entry in "${go_tools[@]}"; do
    name="${entry%%|*}"; module="${entry#*|}"; version="${module##*@}"
    stamp="$GO_TOOLS_BIN/.$name.version"
    if [ -x "$GO_TOOLS_BIN/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then continue; fi
    echo "ensure-tools: go install $module" >&2
    mkdir -p "$GO_TOOLS_BIN"
    pkg="${module%@*}"; modpath="${pkg%/cmd/*}"
    dir="$(go mod download -json "$modpath@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
    (cd "$dir" && GOFLAGS=-mod=readonly go build -trimpath -o "$GO_TOOLS_BIN/$name" "./${pkg#"$modpath"/}")
    echo "$version" > "$stamp"
  done
fi
