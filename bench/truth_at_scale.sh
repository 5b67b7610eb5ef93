#!/usr/bin/env bash
# truth_at_scale.sh: how close are a client's token stamps to when the
# server really sent the tokens, at 200 and 1,000 streams? mlxbench with the
# kernel's receive stamps, mlxbench with user-space stamps and a typical
# Python asyncio client, each against a server that logs its own sends.
#
#   bench/truth_at_scale.sh [--runs 3] [--tokens 50] [--interval-ms 20]
#                           [--setups sync200,sync1000,stag1000] [--rate 2000]
#                           [--clients kernel,user,python] [--rt N]
#
# The server is bench/ref_server.c (built as build/ref_server; a fresh one
# per client run, pinned to CPU $SERVER_CPU, default 0): every token leaves
# at an absolute deadline on a nanosecond timer, each its own send(2),
# stamped just before and after (CLOCK_MONOTONIC). Setups:
#   syncN   N streams started together (a closed loop of N), the server on
#           one grid of ticks as a batching server is: every INTERVAL about
#           N tokens leave in one burst
#   stagN   N streams arriving at --rate per second (open loop), each on its
#           own phase: tokens leave spread over the interval
# Clients, each pinned to CPU $CLIENT_CPU (default 1), all on the same load:
#   kernel  mlxbench (bench/client_overhead.lua: mlxbench.llm requests with
#           itl = true), stamps from the kernel (SO_TIMESTAMPNS)
#   user    the same with MLXBENCH_STAMPS=user: stamped after each read
#   python  bench/aiohttp_client.py (vLLM benchmark_serving's request loop)
# For each: the server's own emission jitter (|its gap - the interval|, the
# change of its lateness between a stream's consecutive tokens), the
# client's ITL error (|its gap - the interval|: what its figures show), the
# error against the truth (|client gap - server gap|) and the first token's
# delivery (client stamp - server send: TTFT is stamped the same way).
# Medians over --runs; the table is Markdown. Target: at sync1000, mlxbench's
# ITL error p99 within 1 ms of the server's jitter p99.
# Environment: MLXBENCH (default build/mlxbench), REF_SERVER (default
# build/ref_server), PYTHON (default /usr/bin/python3, with Debian's
# python3-aiohttp, installed if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
export MLXBENCH=${MLXBENCH:-build/mlxbench}
export REF_SERVER=${REF_SERVER:-build/ref_server}
PY=${PYTHON:-/usr/bin/python3}
[ -x "$MLXBENCH" ] || { echo "build mlxbench first (tools/build.sh) or set MLXBENCH" >&2; exit 1; }
[ -x "$REF_SERVER" ] || { echo "build the reference server first (tools/build.sh builds build/ref_server) or set REF_SERVER" >&2; exit 1; }
if ! "$PY" -c 'import aiohttp' 2>/dev/null; then
  echo "installing python3-aiohttp (Debian)" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y --no-install-recommends python3-aiohttp >/dev/null 2>&1 || {
    $SUDO apt-get update -qq && $SUDO apt-get install -y --no-install-recommends python3-aiohttp >/dev/null; }
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec "$PY" bench/truth_at_scale.py --python "$PY" "$@"
