#!/usr/bin/env bash
# startup.sh: wall time of `mlxbench -e ''` (start the binary, create the
# engine and its Lua state with the embedded standard library, run nothing,
# exit), next to other interpreters' empty runs, in one run.
#
#   bench/startup.sh [N=100]
#
# No hyperfine here: each command runs N times (after 5 warm-up runs),
# rounds interleaved, each run timed with bash's $EPOCHREALTIME around the
# fork+exec+wait; printed: median, p90 and minimum in ms. `/bin/true` is the
# floor of fork+exec+wait itself. Target: mlxbench < 10 ms.
# Environment: MLXBENCH (default build/mlxbench).
set -euo pipefail
cd "$(dirname "$0")/.."
MLXBENCH=${MLXBENCH:-build/mlxbench}
N=${1:-100}
[ -x "$MLXBENCH" ] || { echo "build mlxbench first (tools/build.sh) or set MLXBENCH" >&2; exit 1; }

names=("/bin/true" "mlxbench -e ''" "mlxbench -e 'require \"mlxbench\"'")
cmds=("/bin/true" "$MLXBENCH -e ''" "$MLXBENCH -e 'require \"mlxbench\"'")
for peer in lua5.4 luajit; do
  if command -v "$peer" >/dev/null; then names+=("$peer -e ''"); cmds+=("$peer -e ''"); fi
done
# the system's python (a pyenv/virtualenv shim on PATH adds its own start-up)
PY=$(command -v /usr/bin/python3 || command -v python3 || true)
if [ -n "$PY" ]; then
  names+=("python3 -c ''" "python3 -S -c ''"); cmds+=("$PY -c ''" "$PY -S -c ''")
fi
if command -v node >/dev/null; then names+=("node -e ''"); cmds+=("node -e ''"); fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
for k in "${!cmds[@]}"; do
  for _ in 1 2 3 4 5; do eval "${cmds[$k]}" >/dev/null 2>&1; done
  : > "$TMP/$k"
done
for _ in $(seq 1 "$N"); do
  for k in "${!cmds[@]}"; do
    s=$EPOCHREALTIME
    eval "${cmds[$k]}" >/dev/null 2>&1
    e=$EPOCHREALTIME
    echo "$s $e" >> "$TMP/$k"
  done
done

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r); $N runs each"
printf '%-36s %10s %10s %10s\n' command "median ms" "p90 ms" "min ms"
for k in "${!cmds[@]}"; do
  awk '{printf "%.6f\n", ($2 - $1) * 1000}' "$TMP/$k" | sort -n > "$TMP/$k.ms"
  n=$(wc -l < "$TMP/$k.ms")
  med=$(awk -v n="$n" 'NR == int((n + 1) / 2) {print; exit}' "$TMP/$k.ms")
  p90=$(awk -v n="$n" 'NR == int(n * 0.9 + 0.999999) {print; exit}' "$TMP/$k.ms")
  mn=$(head -n1 "$TMP/$k.ms")
  printf '%-36s %10.2f %10.2f %10.2f\n' "${names[$k]}" "$med" "$p90" "$mn"
  [ "$k" -eq 1 ] && echo "$med" > "$TMP/mlx_med"
done
med=$(cat "$TMP/mlx_med")
awk -v m="$med" 'BEGIN { printf "mlxbench -e '"''"' median %.2f ms (target < 10 ms): %s\n", m, (m < 10 ? "met" : "NOT met") }'
