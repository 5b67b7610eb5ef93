#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs every test.
#   1. fuzz targets for a bounded time (when clang is present)
#   2. the whole ctest suite under ASan+UBSan (build-asan/)
#   3. the whole ctest suite on the normal build (build/) -- its summary is
#      the closing line.
# tools/test.sh --fast is the inner loop: the normal build and every test
# not labelled `slow` (unit tests and the quick end-to-end tests), no fuzz,
# no sanitizers; about a minute. Extra arguments after --fast go to ctest
# (e.g. tools/test.sh --fast -R sse).
# Environment: FUZZ_SECONDS (default 20 per target, 0 to skip),
# SKIP_ASAN=1 to skip step 2, CTEST_ARGS for extra ctest arguments.
set -euo pipefail
cd "$(dirname "$0")/.."

fast=0
if [ "${1:-}" = --fast ]; then
  fast=1
  shift
fi

tools/deps.sh test

if [ -f tests/node/package.json ] && [ ! tests/node/node_modules/.package-lock.json -nt tests/node/package-lock.json ]; then
  (cd tests/node && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

jobs=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)

if [ "$fast" = 1 ]; then
  echo "== fast tests (build/, not labelled slow)"
  BUILD_DIR=build tools/build.sh
  exec ctest --test-dir build --output-on-failure -j "$jobs" -LE slow ${CTEST_ARGS:-} "$@"
fi

fuzz_s=${FUZZ_SECONDS:-20}
if [ "$fuzz_s" -gt 0 ] && command -v clang >/dev/null 2>&1; then
  echo "== fuzz (${fuzz_s}s per target)"
  CC=clang BUILD_DIR=build-fuzz tools/build.sh -DMLXBENCH_FUZZ=ON
  fuzz/run.sh "$fuzz_s" build-fuzz
fi

if [ "${SKIP_ASAN:-0}" != 1 ]; then
  echo "== tests under ASan+UBSan (build-asan/)"
  BUILD_DIR=build-asan tools/build.sh -DMLXBENCH_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j "$jobs" ${CTEST_ARGS:-}
fi

echo "== tests (build/)"
BUILD_DIR=build tools/build.sh
ctest --test-dir build --output-on-failure -j "$jobs" ${CTEST_ARGS:-}
