#!/usr/bin/env bash
# memory_streams.sh: client memory per concurrent stream, mlxbench next to
# the Python asyncio client, in one run.
#
#   bench/memory_streams.sh [--streams 1000,5000] [--tok-s 5] [--hold 3] [--clients mlxbench,python]
#
# For each stream count N and each client: a fresh emulator (`mlxbench
# mock`, separate process, CPU $MOCK_CPU) serves N slow streams (5 tok/s
# each, long enough to stay open); the client (`mlxbench run -c N -n N`, or
# bench/aiohttp_client.py) runs on CPU $CLIENT_CPU; once the emulator counts
# N open streams and HOLD more seconds have passed (buffers have grown), the
# client's VmRSS is read from /proc. Printed: RSS, RSS / N, and the slope
# between the smallest and largest N (the cost of one more stream, without
# the fixed cost of the process). Target: <= 64 KB per stream at 5,000.
# The open-files limit is raised to the hard limit (each stream is a socket
# in the client and one in the emulator).
# Environment: MLXBENCH (default build/mlxbench), PYTHON (default /usr/bin/python3).
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
[ "$(ulimit -n)" -ge 12000 ] || echo "warning: open files limit $(ulimit -n) may be too low for 5,000 streams" >&2
exec "$PY" bench/memory_streams.py --python "$PY" "$@"
