#!/usr/bin/env bash
# client_overhead.sh: what the client itself costs at 1,000 concurrent
# streams, mlxbench next to a typical Python asyncio client, in one run.
#
#   bench/client_overhead.sh [--streams 1000] [--tokens 300] [--tok-s 50] [--runs 3]
#                            [--clients run,script,python]
#
# The emulator (`mlxbench mock`, a separate process, pinned to CPU $MOCK_CPU,
# default 0) serves STREAMS streams of TOKENS tokens at TOK_S tokens/s each,
# all started at once. Each client in turn, pinned to CPU $CLIENT_CPU
# (default 1), runs the same load:
#   - mlxbench run      `mlxbench run -c STREAMS -n STREAMS` (the CLI, results file)
#   - mlxbench script   bench/client_overhead.lua: STREAMS mlxbench.llm tasks
#                       keeping every ITL gap (for the error against the trace)
#   - Python aiohttp    bench/aiohttp_client.py, written like vLLM's
#                       benchmark_serving request function
# and is measured by: CPU-seconds (user + system, getrusage of the child)
# per 1M streamed tokens (tokens counted by the emulator), and for the two
# that keep per-token times, the error against the emulator's ground truth
# (GET /mock/trace, matched by x-mock-request-id): TTFT error, ITL error
# (client gap - server gap between the same two chunks) and delivery delay
# (client arrival - server write, same CLOCK_MONOTONIC). Rounds alternate
# the clients; the table gives medians. Targets: >= 10x less CPU per token
# than Python, ITL error p99 < 1 ms.
# Environment: MLXBENCH (default build/mlxbench), PYTHON (default
# /usr/bin/python3: Debian's, with python3-aiohttp, installed if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
export MLXBENCH=${MLXBENCH:-build/mlxbench}
PY=${PYTHON:-/usr/bin/python3}
[ -x "$MLXBENCH" ] || { echo "build mlxbench first (tools/build.sh) or set MLXBENCH" >&2; exit 1; }
if ! "$PY" -c 'import aiohttp' 2>/dev/null; then
  echo "installing python3-aiohttp (Debian)" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y --no-install-recommends python3-aiohttp >/dev/null 2>&1 || {
    $SUDO apt-get update -qq && $SUDO apt-get install -y --no-install-recommends python3-aiohttp >/dev/null; }
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec "$PY" bench/client_overhead.py --python "$PY" "$@"
