#!/usr/bin/env bash
# run.sh [SECONDS] BUILD_DIR: runs every fuzz target for SECONDS (default
# $FUZZ_SECONDS, else 20) against a temporary copy of its seed corpus (the
# committed corpus is never grown; its regress-* files are past crashes,
# replayed first). Exits non-zero if any target crashes, leaks, times out
# on one input (10 s) or fails an invariant; reproducer paths go to stderr.
# Targets and what they cover: docs/RELIABILITY.md, "Fuzzing".
set -u
if [ $# -eq 1 ]; then
  set -- "${FUZZ_SECONDS:-20}" "$1"
fi
if [ $# -ne 2 ]; then
  echo "usage: $0 [SECONDS] BUILD_DIR" >&2
  exit 2
fi
secs=$1
build=$(cd "$2" && pwd) || exit 2
here=$(cd "$(dirname "$0")" && pwd)
artifacts="$build/fuzz-artifacts"
mkdir -p "$artifacts"
work=$(mktemp -d "${TMPDIR:-/tmp}/mlxbench-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

status=0
for pair in fuzz_sse:sse fuzz_hist_decode:hist fuzz_llm:llm fuzz_json:json fuzz_prom:prom \
            fuzz_mock_profile:mock_profile fuzz_mock_http:mock_http \
            fuzz_h1_response:h1_response fuzz_tok_load:tok_load fuzz_tok_encode:tok_encode; do
  target=${pair%%:*}
  corpus=${pair#*:}
  bin="$build/$target"
  if [ ! -x "$bin" ]; then
    echo "$0: $bin not built (configure with -DMLXBENCH_FUZZ=ON, CC=clang)" >&2
    status=1
    continue
  fi
  mkdir -p "$work/$corpus"
  cp "$here/corpus/$corpus"/* "$work/$corpus"/ 2>/dev/null || true
  echo "== $target: ${secs}s" >&2
  "$bin" -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
         -print_final_stats=1 -artifact_prefix="$artifacts/$target-" "$work/$corpus" \
         >"$work/$target.log" 2>&1
  rc=$?
  grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|Done )' \
       "$work/$target.log" >&2
  if [ $rc -ne 0 ]; then
    status=1
    tail -n 40 "$work/$target.log" >&2
    for f in $(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$work/$target.log"); do
      echo "$target: crash reproducer: $f" >&2
    done
  fi
done
exit $status
