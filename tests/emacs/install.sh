#!/usr/bin/env bash
# Installs what the Emacs (eglot) tier needs, idempotently, on Debian 12 (bookworm):
#
#   * Emacs 28.2 + eglot 1.9: Debian's own `emacs-nox` and `elpa-eglot` (apt, system-wide), plus
#     `tmux` (the tier drives a terminal Emacs through it);
#   * Emacs 30 + its built-in eglot 1.17, from Debian's `<codename>-backports` suite: the same
#     Debian package name cannot be installed twice, so its .debs are fetched with `apt-get
#     download` (a private apt state under .cache/, the machine's apt configuration untouched)
#     and unpacked with `dpkg -x` into .cache/emacs-tier/emacs30/, with a launcher script
#     .cache/emacs-tier/bin/emacs30. Its shared-library dependencies come from the machine's own
#     suites (apt).
#
# The backports source is derived at install time from the machine's apt configuration: the
# entry that serves Debian's main archive for `<codename>` (deb822 .sources or one-line .list),
# with the suite changed to `<codename>-backports`. No host name is written in this repository.
# When backports has no Emacs >= 30, the Emacs 30 half is skipped (the tier says so).
#
# Usage: tests/emacs/install.sh   (prints the Emacs versions it made available)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="$REPO/.cache/emacs-tier"
T0=$SECONDS
log() { printf '[emacs-tier %3ds] %s\n' "$((SECONDS - T0))" "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
apt_updated=0
apt_install() {  # PACKAGE...
  if [ "$apt_updated" -eq 0 ]; then
    log "apt-get update"
    "${sudo[@]}" apt-get update -qq
    apt_updated=1
  fi
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "$@" >/dev/null
}

# ------------------------------------------------------------- Emacs 28 + elpa-eglot (apt)

system_packages() {  # EXTRA-PACKAGE... (Emacs 30's libraries), all in one apt-get install
  local missing=() dep
  for dep in "$@"; do dpkg -s "$dep" >/dev/null 2>&1 || missing+=("$dep"); done
  dpkg-query -W -f '${Version}' emacs-nox 2>/dev/null | grep -q '^1:28\.' || missing+=(emacs-nox)
  dpkg -s elpa-eglot >/dev/null 2>&1 || missing+=(elpa-eglot)
  command -v tmux >/dev/null || missing+=(tmux)
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
}

# ------------------------------------------------------------ Emacs 30 from backports (.cache)

# Print "URI SIGNED-BY" of the apt entry serving Debian's main archive for CODENAME.
debian_source() {  # CODENAME
  local codename=$1 file
  for file in /etc/apt/sources.list.d/*.sources; do
    [ -f "$file" ] || continue
    # deb822 stanzas: fields until a blank line
    awk -v want="$codename" '
      function flush() {
        if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " want " ") && \
            (" " comps " ") ~ / main / && uris != "" && !done) {
          split(uris, u, " "); print u[1], (signed == "" ? "-" : signed); done = 1
        }
        types = suites = comps = uris = signed = ""
      }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      { key = $1; sub(/:$/, "", key); $1 = ""; sub(/^ +/, "")
        if (key == "Types") types = $0; else if (key == "Suites") suites = $0
        else if (key == "Components") comps = $0; else if (key == "URIs") uris = $0
        else if (key == "Signed-By") signed = $0 }
      END { flush() }' "$file"
  done
  for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$file" ] || continue
    # one-line entries: deb [options] URI SUITE COMPONENT...
    awk -v want="$codename" '
      $1 == "deb" {
        i = 2; signed = "-"
        if ($2 ~ /^\[/) {
          while (i <= NF) { if ($i ~ /^signed-by=/) { signed = $i; sub(/^signed-by=/, "", signed)
                                                     sub(/\]$/, "", signed) }
                            if ($i ~ /\]$/) { i++; break } i++ }
        }
        if ($(i + 1) == want) for (j = i + 2; j <= NF; j++) if ($j == "main") { print $i, signed; exit }
      }' "$file"
  done
}

EMACS30_VERSION=""
EMACS30_DEPS=""
emacs30_fetch() {
  local launcher="$CACHE/bin/emacs30"
  if [ -x "$launcher" ] && "$launcher" --batch --eval '(kill-emacs (if (>= emacs-major-version 30) 0 1))' \
      2>/dev/null; then
    return
  fi
  local codename
  codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
  [ -n "$codename" ] || die "no VERSION_CODENAME in /etc/os-release"
  local source uri signed
  source="$(debian_source "$codename" | head -n 1)"
  [ -n "$source" ] || die "no apt entry serves Debian's main archive for $codename"
  read -r uri signed <<<"$source"
  local apt="$CACHE/apt" options=()
  rm -rf "$apt" "$CACHE/emacs30" "$CACHE/bin" "$CACHE/no-emacs30"
  mkdir -p "$apt/lists/partial" "$apt/archives/partial" "$apt/debs"
  if [ "$signed" = "-" ]; then
    echo "deb $uri $codename-backports main" >"$apt/sources.list"
  else
    echo "deb [signed-by=$signed] $uri $codename-backports main" >"$apt/sources.list"
  fi
  log "backports source (derived from the apt configuration): $(cat "$apt/sources.list")"
  options=(-o "Dir::Etc::SourceList=$apt/sources.list" -o "Dir::Etc::SourceParts=/nonexistent"
           -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt" -o "Dir::Cache::Archives=$apt/archives"
           -o "APT::Sandbox::User=root" -o "Debug::NoLocking=1")
  apt-get "${options[@]}" update -qq
  local version
  version="$(apt-cache "${options[@]}" show emacs-nox 2>/dev/null | sed -n 's/^Version: //p' |
             sort -V | tail -n 1)"
  case "$version" in
    1:3[0-9].*|1:[4-9][0-9].*) ;;
    *) log "no Emacs >= 30 in $codename-backports (found '${version:-none}'): Emacs 30 skipped"
       echo "Debian's $codename-backports has no Emacs >= 30 (found '${version:-none}')" \
         >"$CACHE/no-emacs30"
       return ;;
  esac
  log "apt-get download emacs-nox emacs-common emacs-bin-common $version"
  (cd "$apt/debs" && apt-get "${options[@]}" download -qq \
    "emacs-nox=$version" "emacs-common=$version" "emacs-bin-common=$version")
  # its libraries (libtree-sitter0, ...) come from the machine's own suites: system_packages
  EMACS30_DEPS="$(apt-cache "${options[@]}" show "emacs-nox=$version" | sed -n 's/^Depends: //p' |
    tr ',' '\n' | sed 's/|.*//; s/(.*//; s/ //g' | grep -v '^emacs-' | grep -v '^$' | sort -u)"
  EMACS30_VERSION=$version
}

emacs30_unpack() {
  [ -n "$EMACS30_VERSION" ] || return 0
  local codename apt="$CACHE/apt" launcher="$CACHE/bin/emacs30"
  codename="$(. /etc/os-release && echo "$VERSION_CODENAME")"
  local root="$CACHE/emacs30"
  mkdir -p "$root"
  for deb in "$apt/debs"/*.deb; do dpkg -x "$deb" "$root"; done
  local ver dump
  ver="$(cd "$root/usr/share/emacs" && ls -d [0-9]*.[0-9]* | sort -V | tail -n 1)"
  dump="$(ls "$root/usr/libexec/emacs/$ver"/*/*.pdmp | head -n 1)"
  if ldd "$root/usr/bin/emacs-nox" | grep 'not found'; then
    die "Emacs $ver misses shared libraries (above)"
  fi
  mkdir -p "$CACHE/bin"
  # The unpacked tree is not where the binary was built for: point Emacs at its own lisp,
  # data, exec dir and dump. --no-site-file: Debian's site-start (/etc/emacs) belongs to the
  # system Emacs 28 and would put elpa-eglot 1.9 in front of the built-in eglot.
  cat >"$launcher" <<EOF
#!/bin/sh
# Emacs $ver unpacked from Debian's $codename-backports by tests/emacs/install.sh
EMACSLOADPATH="$root/usr/share/emacs/$ver/lisp"
EMACSDATA="$root/usr/share/emacs/$ver/etc"
EMACSPATH="$(dirname "$dump")"
export EMACSLOADPATH EMACSDATA EMACSPATH
exec "$root/usr/bin/emacs-nox" --dump-file="$dump" --no-site-file "\$@"
EOF
  chmod +x "$launcher"
  "$launcher" --batch --eval '(kill-emacs (if (>= emacs-major-version 30) 0 1))' ||
    die "the unpacked Emacs $ver does not start"
  rm -rf "$apt/debs" "$apt/archives"
}

emacs30_fetch
# shellcheck disable=SC2086  # a list of package names
system_packages $EMACS30_DEPS
emacs30_unpack
log "emacs: $(emacs --version | head -n 1)"
[ -x "$CACHE/bin/emacs30" ] && log "emacs30: $("$CACHE/bin/emacs30" --version | head -n 1)"
log "done"
