#!/usr/bin/env bash
# Configures and builds mlxbench into build/ (or $BUILD_DIR). Extra arguments
# go to cmake, e.g. tools/build.sh -DMLXBENCH_SANITIZE=ON.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${BUILD_DIR:-build}
mkdir -p "$dir"
if ! cmake -S . -B "$dir" -DMLXBENCH_WERROR=ON "$@" >"$dir/configure.log" 2>&1; then
  cat "$dir/configure.log" >&2
  exit 1
fi
cmake --build "$dir" -j "$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)" -- --no-print-directory -s
echo "built $dir/mlxbench" >&2
