#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs every test.
#   1. fuzz targets for a bounded time (when clang has libFuzzer; Apple's
#      clang has none: skipped, said so)
#   2. the whole ctest suite under ASan+UBSan (build-asan/); leaks are
#      checked where LeakSanitizer exists (Linux)
#   3. the portable build (build-posix/: -DMLXBENCH_PLATFORM=posix, no
#      timerfd, no /proc, a millisecond uv_timer; HTTP/1 framing on llhttp
#      where the others use http_parser): every test not labelled `slow`
#   4. the whole ctest suite on the normal build (build/) -- its summary is
#      the closing line.
# tools/test.sh --fast is the inner loop: the normal build and every test
# not labelled `slow` (unit tests and the quick end-to-end tests), no fuzz,
# no sanitizers; under two minutes on 2 cores. Extra arguments after --fast go to ctest
# (e.g. tools/test.sh --fast -R sse).
# Environment: FUZZ_SECONDS (default 20 per target, 0 to skip),
# SKIP_ASAN=1 to skip step 2, SKIP_POSIX=1 to skip step 3, CTEST_ARGS for
# extra ctest arguments, CTEST_JOBS for ctest's -j (default 2 per core).
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

# Most tests spend their time waiting on a server's schedule, not on the
# CPU: ctest runs two per core. Those that hold wall-clock tolerances say
# "run: serial" and run alone (tests/tests.cmake). CTEST_JOBS overrides.
jobs=${CTEST_JOBS:-$((2 * $(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)))}
step() { echo "== $1 ($(date +%H:%M:%S))"; }

if [ "$fast" = 1 ]; then
  step "fast tests (build/, not labelled slow)"
  BUILD_DIR=build tools/build.sh
  exec ctest --test-dir build --output-on-failure -j "$jobs" -LE slow ${CTEST_ARGS:-} "$@"
fi

# libFuzzer: clang's -fsanitize=fuzzer links a program (Apple's clang has
# no libFuzzer runtime: the fuzz step is skipped there, and says so).
has_libfuzzer() {
  command -v clang >/dev/null 2>&1 || return 1
  local d
  d=$(mktemp -d "${TMPDIR:-/tmp}/mb-fuzzprobe.XXXXXX")
  printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' > "$d/p.c"
  clang -fsanitize=fuzzer "$d/p.c" -o "$d/p" >/dev/null 2>&1
  local rc=$?
  rm -rf "$d"
  return $rc
}

fuzz_s=${FUZZ_SECONDS:-20}
if [ "$fuzz_s" -gt 0 ]; then
  if has_libfuzzer; then
    step "fuzz (${fuzz_s}s per target)"
    CC=clang BUILD_DIR=build-fuzz tools/build.sh -DMLXBENCH_FUZZ=ON
    fuzz/run.sh "$fuzz_s" build-fuzz
  else
    echo "== fuzz: SKIPPED -- no clang with libFuzzer here (Apple's clang has none; llvm's does)"
  fi
fi

if [ "${SKIP_ASAN:-0}" != 1 ]; then
  step "tests under ASan+UBSan (build-asan/)"
  BUILD_DIR=build-asan tools/build.sh -DMLXBENCH_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
  # LeakSanitizer exists on Linux only: asking for it elsewhere (macOS)
  # makes ASan refuse to start
  leaks=0
  [ "$(uname -s)" = Linux ] && leaks=1
  ASAN_OPTIONS=detect_leaks=$leaks:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j "$jobs" ${CTEST_ARGS:-}
fi

if [ "${SKIP_POSIX:-0}" != 1 ]; then
  step "portable build (build-posix/: platform posix, framing on llhttp), tests not labelled slow"
  BUILD_DIR=build-posix tools/build.sh -DMLXBENCH_PLATFORM=posix -DMLXBENCH_HTTP_PARSER=llhttp
  ctest --test-dir build-posix --output-on-failure -j "$jobs" -LE slow ${CTEST_ARGS:-}
fi

step "tests (build/)"
BUILD_DIR=build tools/build.sh
ctest --test-dir build --output-on-failure -j "$jobs" ${CTEST_ARGS:-}
