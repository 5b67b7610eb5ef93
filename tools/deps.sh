#!/usr/bin/env bash
# Installs what mlxbench needs, only what is missing (idempotent, no
# network when everything is present): apt on Debian and Ubuntu, Homebrew on
# macOS (Brewfile, and tests/Brewfile for the tests).
# Usage: tools/deps.sh [build|test]
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-build}

if [ "$(uname -s)" = Darwin ]; then
  if ! command -v brew >/dev/null 2>&1; then
    echo "deps: Homebrew is needed on macOS: https://brew.sh (then run tools/deps.sh again)" >&2
    exit 1
  fi
  files=(Brewfile)
  [ "$what" = test ] && files+=(tests/Brewfile)
  for f in "${files[@]}"; do
    if ! brew bundle check --no-upgrade --file="$f" >/dev/null 2>&1; then
      echo "deps: brew bundle --file=$f" >&2
      HOMEBREW_NO_AUTO_UPDATE=1 brew bundle --no-upgrade --file="$f"
    fi
  done
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "deps: this script knows apt (Debian, Ubuntu) and Homebrew (macOS); elsewhere install" \
       "what Brewfile lists under your system's names (see docs/MACOS.md, 'Build')" >&2
  exit 1
fi

build_pkgs=(build-essential cmake pkg-config liblua5.4-dev lua-cjson-dev
            libcurl4-openssl-dev libuv1-dev libhttp-parser-dev zlib1g-dev
            libpcre2-dev libutf8proc-dev)
# libcjson-dev: the fuzzers' JSON oracle (fuzz/) and, with libjsmn-dev, a peer in bench/json_parse.sh
# node-llhttp: llhttp's C sources, for tools/test.sh's portable build (framing on llhttp)
# procps: ps(1), how the tests read another process's RSS (no /proc)
# prometheus-node-exporter: a real Prometheus exporter for e2e.server_metrics (started on loopback by the test)
test_pkgs=(nginx-light lua5.4 python3 python3-yaml clang libclang-rt-dev valgrind nodejs npm openssl curl wrk
           chromium man-db libcjson-dev libjsmn-dev node-llhttp procps prometheus-node-exporter)

want=("${build_pkgs[@]}")
[ "$what" = test ] && want+=("${test_pkgs[@]}")

missing=()
for p in "${want[@]}"; do
  # nodejs/npm may come from elsewhere than apt (e.g. preinstalled): accept the command.
  case $p in
    nodejs) command -v node >/dev/null 2>&1 && continue ;;
    npm) command -v npm >/dev/null 2>&1 && continue ;;
    python3) command -v python3 >/dev/null 2>&1 && continue ;;
    nginx-light) command -v nginx >/dev/null 2>&1 && continue ;;
    procps) command -v ps >/dev/null 2>&1 && continue ;;
  esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
  $SUDO apt-get update -qq
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
}
