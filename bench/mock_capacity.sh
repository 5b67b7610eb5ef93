#!/usr/bin/env bash
# mock_capacity.sh: how many concurrent streams the emulated server sustains
# at 50 tok/s each with emission error (actual - scheduled write time, from
# the server's own ground truth) p99 under 2 ms, on one core.
#
#   bench/mock_capacity.sh [STREAMS...]        default: 500 1000 2000 3000 4000 5000 6000
#
# For each count: the mock runs pinned to CPU $MOCK_CPU (default 0), the epoll
# reader (bench/mock_capacity_client.c, compiled now) pinned to $CLIENT_CPU
# (default 1). The streams open over a ramp of $RAMP_S s, warm up $WARM_S s,
# then /mock/trace/reset starts a $MEASURE_S s window; at its end
# /mock/stats gives the emission-error histogram, the mock's CPU share is
# read from /proc, and the trace of the window is re-read to recompute the
# p99 from the raw (scheduled, actual) pairs as a cross-check.
# Environment: MLXBENCH (default build/mlxbench), RAMP_S=3 WARM_S=3 MEASURE_S=5.
set -euo pipefail
cd "$(dirname "$0")/.."
MLXBENCH=${MLXBENCH:-build/mlxbench}
MOCK_CPU=${MOCK_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
RAMP_S=${RAMP_S:-3}
WARM_S=${WARM_S:-3}
MEASURE_S=${MEASURE_S:-5}
counts=("$@")
[ ${#counts[@]} -eq 0 ] && counts=(500 1000 2000 3000 4000 5000 6000)

[ -x "$MLXBENCH" ] || { echo "build mlxbench first (tools/build.sh) or set MLXBENCH" >&2; exit 1; }
TMP=$(mktemp -d)
MOCK_PID=""
CLIENT_PID=""
cleanup() {
  [ -n "$CLIENT_PID" ] && kill "$CLIENT_PID" 2>/dev/null || true
  [ -n "$MOCK_PID" ] && kill -INT "$MOCK_PID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

cc -O2 -Wall -o "$TMP/client" bench/mock_capacity_client.c
total_s=$((RAMP_S + WARM_S + MEASURE_S + 5))
max_tokens=$((50 * (total_s + 5)))
cat > "$TMP/profile.json" <<EOF
{"builtin_models": false,
 "model_defaults": {"length": "max_tokens"},
 "models": {"cap": {"ttft_ms": 50, "prefill_tok_s": 0, "decode_tok_s": 50, "jitter": 0}},
 "trace": {"max_requests": 20000, "max_chunks": 8000000}}
EOF

echo "mock on CPU $MOCK_CPU, client on CPU $CLIENT_CPU; $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
printf '%8s %9s %9s %9s %9s %9s %9s %8s %8s %8s\n' streams tok/s p50_ms p99_ms p999_ms max_ms trace_p99 late2ms mock_cpu blocked
for n in "${counts[@]}"; do
  taskset -c "$MOCK_CPU" "$MLXBENCH" mock --port 0 --quiet --profile "$TMP/profile.json" > "$TMP/url" 2> "$TMP/mock.err" &
  MOCK_PID=$!
  url=""
  for _ in $(seq 1 100); do url=$(head -n1 "$TMP/url" 2>/dev/null); [ -n "$url" ] && break; sleep 0.05; done
  [ -n "$url" ] || { cat "$TMP/mock.err" >&2; exit 1; }
  port=${url##*:}
  taskset -c "$CLIENT_CPU" "$TMP/client" 127.0.0.1 "$port" "$n" cap "$max_tokens" "$RAMP_S" "$total_s" > "$TMP/client.out" &
  CLIENT_PID=$!
  sleep $((RAMP_S + WARM_S))
  curl -s -X POST "$url/mock/trace/reset" > /dev/null
  ticks0=$(awk '{print $14 + $15}' "/proc/$MOCK_PID/stat")
  sleep "$MEASURE_S"
  ticks1=$(awk '{print $14 + $15}' "/proc/$MOCK_PID/stat")
  curl -s "$url/mock/stats" > "$TMP/stats.json"
  curl -s "$url/mock/trace?limit=1000000" > "$TMP/trace.json"
  kill "$CLIENT_PID" 2>/dev/null || true
  wait "$CLIENT_PID" 2>/dev/null || true
  CLIENT_PID=""
  kill -INT "$MOCK_PID"
  wait "$MOCK_PID" 2>/dev/null || true
  MOCK_PID=""
  python3 - "$TMP/stats.json" "$TMP/trace.json" "$n" "$((ticks1 - ticks0))" "$(getconf CLK_TCK)" "$MEASURE_S" <<'PY'
import json, sys
stats = json.load(open(sys.argv[1]))
trace = json.load(open(sys.argv[2]))
n, ticks, hz, window = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
e = stats["emission_error_ms"]
errs = sorted((c[1] - c[0]) / 1e6 for r in trace["requests"] for c in r["chunks"])
p99 = errs[min(len(errs) - 1, int(0.99 * len(errs)))] if errs else float("nan")
tok_s = e["count"] / window
print("%8d %9.0f %9.3f %9.3f %9.3f %9.3f %9.3f %8d %7.0f%% %8d" % (
    n, tok_s, e["p50"], e["p99"], e["p999"], e["max"], p99, stats["late_over_2ms"],
    100.0 * ticks / hz / window, stats["blocked_by_backpressure"]))
if stats["active_streams"] != n:
    print("         (only %d of %d streams active at the end)" % (stats["active_streams"], n))
PY
done
