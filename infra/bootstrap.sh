#!/usr/bin/env bash
# Install what the project needs on a fresh machine: uv, Java + Maven (for the Kafka broker),
# the Python workspace, and the deployment checkers built from the Go module proxy: the Compose
# Specification's own loader (compose-go, what Docker Compose V2 reads files with) and Helm.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v java >/dev/null 2>&1 || need_apt+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || need_apt+=(maven)
if ((${#need_apt[@]})); then
  echo "bootstrap: installing ${need_apt[*]} (apt)"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if ! command -v uv >/dev/null 2>&1; then
  echo "bootstrap: installing uv (pip)"
  python3 -m pip install --quiet --user uv 2>/dev/null || python3 -m pip install --quiet uv
fi

uv sync --all-packages --frozen --quiet

# Only `make test` needs the deployment checkers (`bash infra/bootstrap.sh tools`).
[ "${1:-}" = "tools" ] || exit 0

# The web app's browser tests: Debian's Chromium (Playwright drives it; its own browser download
# needs the internet) and axe-core from npm, injected into each page for the accessibility check.
need_browser=()
command -v chromium >/dev/null 2>&1 || need_browser+=(chromium)
command -v npm >/dev/null 2>&1 || need_browser+=(npm)
if ((${#need_browser[@]})); then
  echo "bootstrap: installing ${need_browser[*]} (apt, for the browser tests)"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_browser[@]}" >/dev/null
fi
axe_dir="${BELI_AXE_DIR:-$HOME/.cache/beli-ntt/axe}"
if [ ! -f "$axe_dir/node_modules/axe-core/axe.min.js" ]; then
  echo "bootstrap: installing axe-core (npm) into $axe_dir"
  mkdir -p "$axe_dir"
  npm install --silent --no-audit --no-fund --prefix "$axe_dir" axe-core@4.14.1 >/dev/null
fi

# Go toolchain for the deployment checkers (Debian's golang is too old for Helm; the machine image's
# /usr/local/go is used when present).
[ -d /usr/local/go/bin ] && export PATH="/usr/local/go/bin:$PATH"
tools="${BELI_TOOLS_DIR:-$HOME/.cache/beli-ntt/bin}"
mkdir -p "$tools"
build_tool() {  # name, module@version, binary the module builds
  [ -x "$tools/$1" ] && return 0
  if ! command -v go >/dev/null 2>&1; then
    echo "bootstrap: 'go' is missing: cannot build $1 (needed by tests/test_compose.py and tests/test_deploy.py)" >&2
    return 1
  fi
  echo "bootstrap: building $1 from the Go module proxy ($2)"
  local gobin; gobin=$(mktemp -d)
  GOBIN="$gobin" GOFLAGS=-mod=mod go install "$2" && mv "$gobin/$3" "$tools/$1"
  rm -rf "$gobin"
}
build_tool compose-spec github.com/compose-spec/compose-go/v2/cmd@v2.16.2 cmd
build_tool helm helm.sh/helm/v3/cmd/helm@v3.19.0 helm
