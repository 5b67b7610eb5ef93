#!/usr/bin/env bash
# threads_scale.sh: do engine threads carry more streamed events per second?
#
#   bench/threads_scale.sh [SECONDS=5] [CONCURRENCY=32] [RUNS=5]
#
# The emulator runs in a separate process (`mlxbench mock --port 0`) with a
# fast model: 200,000 tok/s per stream, one token per SSE event, 256 events
# per write (events_per_write; EVENTS_PER_WRITE=N to change), so the
# emulator's per-event cost is small and the client is what saturates. The same closed-loop load (CONCURRENCY
# streams of 4,000 tokens, SECONDS each) runs with --threads 1 and
# --threads 2, alternating, RUNS times each. Printed per run: content events
# per second (= output tokens/s: one token per event), the client's CPU
# share of its threads, events per CPU-second of the client (its cost per
# event: flat when threads scale without contention) and its event-loop
# lag p99, and how many CPUs the whole machine kept busy (/proc/stat: the
# client, the emulator, the kernel's loopback work and anything else
# running); then the medians, the
# ratio 2 threads / 1 thread (median of the per-run ratios: the two runs of
# a pair are back to back, so they share the machine's other load) and the
# emulator's CPU share over the whole bench. Environment: MLXBENCH (default build/mlxbench).
set -euo pipefail
cd "$(dirname "$0")/.."
MLXBENCH=${MLXBENCH:-build/mlxbench}
SECS=${1:-5}
CONC=${2:-32}
RUNS=${3:-5}
[ -x "$MLXBENCH" ] || { echo "build mlxbench first (tools/build.sh) or set MLXBENCH" >&2; exit 1; }
TMP=$(mktemp -d)
MOCK_PID=""
cleanup() {
  [ -n "$MOCK_PID" ] && kill -INT "$MOCK_PID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

cat > "$TMP/profile.json" <<'EOF'
{"_note": "bench/threads_scale.sh: a fast stream, cheap for the emulator",
 "builtin_models": false, "any_model": true, "default_model": "fast",
 "models": {"fast": {"ttft_ms": 0, "prefill_tok_s": 0, "decode_tok_s": 200000,
                     "jitter": 0, "events_per_write": EPW, "length": "max_tokens"}},
 "trace": {"max_requests": 100, "max_chunks": 10000}}
EOF
sed -i "s/EPW/${EVENTS_PER_WRITE:-256}/" "$TMP/profile.json"
"$MLXBENCH" mock --port 0 --quiet --profile "$TMP/profile.json" > "$TMP/url" 2> "$TMP/mock.err" &
MOCK_PID=$!
url=""
for _ in $(seq 1 100); do url=$(head -n1 "$TMP/url" 2>/dev/null || true); [ -n "$url" ] && break; sleep 0.05; done
[ -n "$url" ] || { cat "$TMP/mock.err" >&2; exit 1; }
mock_cpu0=$(awk '{print $14 + $15}' "/proc/$MOCK_PID/stat")
t_begin=$(date +%s.%N)

echo "mlxbench $("$MLXBENCH" --version | cut -d' ' -f2); $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "emulator: separate process, 200k tok/s per stream, 1 token per event, ${EVENTS_PER_WRITE:-256} events per write"
echo "load: -c $CONC, ${SECS}s per run, 4000-token streams, $RUNS runs per thread count"
printf '%4s %7s %12s %10s %13s %12s %12s\n' run threads events/s client_cpu ev/cpu-second loop_lag_p99 machine_busy
for run in $(seq 1 "$RUNS"); do
  for th in 1 2; do
    out="$TMP/r$run-$th.json"
    stat0=$(head -n1 /proc/stat)
    "$MLXBENCH" run --url "$url" -m fast --prompt short --max-tokens 4000 -c "$CONC" \
      --duration "$SECS" --warmup 0 --threads "$th" --quiet -o "$out"
    stat1=$(head -n1 /proc/stat)
    python3 - "$out" "$run" "$th" "$stat0" "$stat1" >> "$TMP/rows" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["runs"][0]
c = r["client"]
a = [int(x) for x in sys.argv[4].split()[1:]]
b = [int(x) for x in sys.argv[5].split()[1:]]
d = [y - x for x, y in zip(a, b)]
busy = (sum(d) - d[3] - d[4]) / sum(d) if sum(d) else 0   # not idle, not iowait
print(sys.argv[2], sys.argv[3], r["throughput"]["output_tok_s"], c["cpu_share"], c.get("loop_lag_p99_s", 0),
      r["tokens"]["output"] / c["cpu_s"] if c["cpu_s"] > 0 else 0, busy)
PY
    tail -n1 "$TMP/rows" | awk -v n="$(nproc)" '{printf "%4d %7d %12.0f %9.0f%% %13.0f %9.1f ms %7.2f of %d\n", $1, $2, $3, $4 * 100, $6, $5 * 1000, $7 * n, n}'
  done
done
mock_cpu1=$(awk '{print $14 + $15}' "/proc/$MOCK_PID/stat")
t_end=$(date +%s.%N)
python3 - "$TMP/rows" "$mock_cpu0" "$mock_cpu1" "$t_begin" "$t_end" "$(getconf CLK_TCK)" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
ev = {1: [], 2: []}
cpu = {1: [], 2: []}
per = {1: [], 2: []}
mach = {1: [], 2: []}
for run, th, e, c, lag, pc, busy in rows:
    mach[int(th)].append(float(busy))
    ev[int(th)].append(float(e))
    cpu[int(th)].append(float(c))
    per[int(th)].append(float(pc))
m1, m2 = statistics.median(ev[1]), statistics.median(ev[2])
ratios = sorted(b / a for a, b in zip(ev[1], ev[2]))
print()
import os
ncpu = os.cpu_count() or 1
print("%-10s %12s %12s %10s %13s %13s" % ("threads", "events/s", "range", "client CPU", "ev/cpu-second",
                                          "machine busy"))
for th in (1, 2):
    print("%-10d %12.0f %5.0fk-%4.0fk %9.0f%% %13.0f %8.2f of %d" % (th, statistics.median(ev[th]),
          min(ev[th]) / 1e3, max(ev[th]) / 1e3, statistics.median(cpu[th]) * 100,
          statistics.median(per[th]), statistics.median(mach[th]) * ncpu, ncpu))
mock = (float(sys.argv[3]) - float(sys.argv[2])) / int(sys.argv[6])
wall = float(sys.argv[5]) - float(sys.argv[4])
print("ratio 2/1 threads: %.2fx (median of the per-run ratios; %.2fx-%.2fx), %.2fx of the medians"
      % (statistics.median(ratios), ratios[0], ratios[-1], m2 / m1))
print("emulator CPU over the bench: %.0f%% of one core" % (100 * mock / wall))
# Client CPUs used (threads x share) and what the machine had left for the
# client: the ratio the client could reach at most is that CPU ratio; the
# events per client CPU-second, 2 vs 1, say whether threads cost each other.
used = {th: statistics.median(cpu[th]) * th for th in (1, 2)}
print("client CPUs used: %.2f with 1 thread, %.2f with 2 (%.2fx); events per client CPU-second "
      "2 vs 1 threads: %.2f (1.00 = the threads share nothing)"
      % (used[1], used[2], used[2] / used[1], statistics.median(per[2]) / statistics.median(per[1])))
PY
