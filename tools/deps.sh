#!/usr/bin/env bash
# Installs the Debian packages mlxbench needs, only those missing (idempotent,
# no network when everything is present). Usage: tools/deps.sh [build|test]
set -euo pipefail

build_pkgs=(build-essential cmake pkg-config liblua5.4-dev lua-cjson-dev
            libcurl4-openssl-dev libuv1-dev libhttp-parser-dev zlib1g-dev
            libpcre2-dev libutf8proc-dev)
# libcjson-dev: the fuzzers' JSON oracle (fuzz/) and, with libjsmn-dev, a peer in bench/json_parse.sh
test_pkgs=(nginx-light lua5.4 python3 python3-yaml clang libclang-rt-dev valgrind nodejs npm openssl curl wrk
           chromium man-db libcjson-dev libjsmn-dev)

want=("${build_pkgs[@]}")
[ "${1:-build}" = test ] && want+=("${test_pkgs[@]}")

missing=()
for p in "${want[@]}"; do
  # nodejs/npm may come from elsewhere than apt (e.g. preinstalled): accept the command.
  case $p in
    nodejs) command -v node >/dev/null 2>&1 && continue ;;
    npm) command -v npm >/dev/null 2>&1 && continue ;;
    python3) command -v python3 >/dev/null 2>&1 && continue ;;
    nginx-light) command -v nginx >/dev/null 2>&1 && continue ;;
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
