#!/usr/bin/env bash
# Installs the real third-party parts the tests and `npm start` use, when they are missing:
#   - Debian's docker-registry (the OCI distribution registry 2.8) as the loopback registry.
#   - checkov (PyPI, pinned) in .tools/venv, for the infra checks.
# Azurite comes from npm (devDependencies). Idempotent and quiet when everything is present.
set -euo pipefail

need_apt=()
command -v docker-registry >/dev/null 2>&1 || [ -x /usr/bin/docker-registry ] || need_apt+=(docker-registry)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
# Debian's chromium for the local service's browser test (test/local/page.test.ts, driven by playwright-core).
# Optional outside CI: without root or sudo it is skipped with one line, and that test skips too.
if ! [ -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = "0" ] || command -v sudo >/dev/null 2>&1; then need_apt+=(chromium); else echo "ensure-tools: chromium not installed (no root); the browser test will skip" >&2; fi
fi

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

# Real scanner outputs for the report parser's tests (issue 11): the Go modules of Trivy and Grype carry the
# golden files their own tests compare against (Trivy `integration/testdata/*.golden`, Grype
# `grype/presenter/*/test-fixtures/snapshot/*.golden`). Downloaded into the Go module cache (no build); the
# tests read them there in place (test/unit/core/reportsGolden.test.ts). Pinned; keep in step with that test.
report_modules=(
  "github.com/aquasecurity/trivy@v0.67.2"
  "github.com/anchore/grype@v0.100.0"
)
if command -v go >/dev/null 2>&1; then
  modcache="$(go env GOMODCACHE)"
  for module in "${report_modules[@]}"; do
    [ -d "$modcache/$module" ] && continue
    echo "ensure-tools: go mod download $module (scanner golden files for the report tests)" >&2
    go mod download "$module"
  done
fi
