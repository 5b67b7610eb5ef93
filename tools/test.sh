#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs every test.
#   1. fuzz targets for a bounded time (when clang is present)
#   2. the whole ctest suite under ASan+UBSan (build-asan/)
#   3. the whole ctest suite on the normal build (build/) -- its summary is
#      the closing line.
# Environment: FUZZ_SECONDS (default 20 per target, 0 to skip),
# SKIP_ASAN=1 to skip step 2, CTEST_ARGS for extra ctest arguments.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/deps.sh test

if [ -f tests/node/package.json ]; then
  (cd tests/node && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

jobs=$(nproc)
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
