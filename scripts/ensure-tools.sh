#!/usr/bin/env bash
# Installs the real third-party parts the tests and `npm start` use, when they are missing:
#   - Debian's docker-registry (the OCI distribution registry 2.8) as the loopback registry.
#   - checkov (PyPI, pinned) in .tools/venv, for the infra checks.
#   - the npm dependencies themselves (`npm ci`), when node_modules is missing or does not match package-lock.json.
# Azurite comes from npm (devDependencies). Idempotent and quiet when everything is present.
# `bash scripts/ensure-tools.sh start` installs only what `npm start` needs (npm dependencies, docker-registry,
# openssl); without an argument, everything the tests need too. Runs before node_modules exists (it is
# `npm test`'s pretest and `npm start`'s prestart), so it uses bash and node built-ins only.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
MODE="${1:-test}"

# npm dependencies: `npm ci` when node_modules is missing, or when what npm recorded as installed
# (node_modules/.package-lock.json, written by every install) differs from package-lock.json: a version
# that changed, a package that is missing (platform-specific optional ones aside) or one the lock dropped.
# Compared by content, not by mtime: a checkout or a new worktree gives the lock a new mtime, not new content.
deps_stale() {
  [ -f "$ROOT/node_modules/.package-lock.json" ] || { echo "node_modules is missing"; return 0; }
  node - "$ROOT" <<'EOF'
const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const root = process.argv[2];
const read = (p) => JSON.parse(readFileSync(join(root, p), 'utf8')).packages ?? {};
const locked = read('package-lock.json');
const installed = read('node_modules/.package-lock.json');
for (const [path, entry] of Object.entries(locked)) {
  if (path === '' || entry.link) continue;
  const have = installed[path];
  if (have === undefined ? !entry.optional : have.version !== entry.version) {
    console.log(`${path} ${have?.version ?? 'missing'}, package-lock.json wants ${entry.version}`);
    process.exit(0);
  }
}
const extra = Object.keys(installed).find((path) => !(path in locked));
if (extra) { console.log(`${extra} is installed but no longer in package-lock.json`); process.exit(0); }
process.exit(1);
EOF
}
if reason="$(deps_stale)"; then
  if [ -L "$ROOT/node_modules" ]; then
    # A shared install (a worktree pointing at another checkout's node_modules): never reinstall through it.
    echo "ensure-tools: node_modules is a symlink to a shared install and is out of date ($reason); run npm ci where it points" >&2
  else
    echo "ensure-tools: npm ci ($reason)" >&2
    (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi

need_apt=()
command -v docker-registry >/dev/null 2>&1 || [ -x /usr/bin/docker-registry ] || need_apt+=(docker-registry)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
# Debian's chromium for the local service's browser test (test/local/page.test.ts, driven by playwright-core).
# Optional outside CI: without root or sudo it is skipped with one line, and that test skips too.
if [ "$MODE" != "start" ] && ! [ -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = "0" ] || sudo -n true >/dev/null 2>&1; then need_apt+=(chromium); else echo "ensure-tools: chromium not installed (no root); the browser test will skip" >&2; fi
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

# The rest serves the tests only.
[ "$MODE" = "start" ] && exit 0

# checkov (PyPI, pinned) in a project-local venv: `checkov -d infra --framework bicep` (test/infra/checkov.test.ts).
CHECKOV_VERSION=3.3.30
VENV="$ROOT/.tools/venv"
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
GO_TOOLS_BIN="$ROOT/.tools/bin"
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
    # A Go too old for the module, or no module proxy: outside CI the interop tests then skip with one line;
    # under CI a missing tool is an error anyway, so say which and stop here.
    if dir="$(go mod download -json "$modpath@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')" && [ -n "$dir" ] &&
      (cd "$dir" && GOFLAGS=-mod=readonly go build -trimpath -o "$GO_TOOLS_BIN/$name" "./${pkg#"$modpath"/}"); then
      echo "$version" > "$stamp"
    elif [ -n "${CI:-}" ] && [ "${CI}" != "false" ] && [ "${CI}" != "0" ]; then
      echo "ensure-tools: could not build $name ($module) with $(go version); the interop tests need it under CI" >&2
      exit 1
    else
      echo "ensure-tools: could not build $name ($module); the tests that need it will skip" >&2
    fi
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
    go mod download "$module" || {
      if [ -n "${CI:-}" ] && [ "${CI}" != "false" ] && [ "${CI}" != "0" ]; then exit 1; fi
      echo "ensure-tools: could not download $module; the golden-file tests will skip" >&2
    }
  done
fi
