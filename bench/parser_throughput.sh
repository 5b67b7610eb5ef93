#!/usr/bin/env bash
# parser_throughput.sh: SSE parser + LLM extractor events/s on one core, on
# the wire fixtures, next to the way a Python client parses the same bytes.
#
#   bench/parser_throughput.sh [SECONDS=1]      (seconds per fixture and mode)
#
# mlxbench: bench/parser_throughput.c compiled here with src/core (the exact
# code the engine runs in the libcurl write callback), fed the whole body at
# once and one event per feed. Peer: the loop of vLLM's benchmark_serving
# (split the body into lines, strip, drop "data: ", json.loads, read
# choices[0].delta.content / Anthropic delta.text), on the same fixtures,
# also one core. Target: >= 2M events/s for mlxbench.
# Environment: FIXTURES (default tests/fixtures/wire), CC (default cc),
# PYTHON (default /usr/bin/python3), CPU (pin to this CPU, default 1), RT (run
# both with real-time priority RT, `chrt -f`, so other work on a shared
# machine does not preempt them; default 0 = off).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-1}
FIX=${FIXTURES:-tests/fixtures/wire}
CC=${CC:-cc}
PY=${PYTHON:-/usr/bin/python3}
CPU=${CPU:-1}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

$CC -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Wall -Wextra -Wshadow -Wno-unused-parameter -Werror -Iinclude \
  -o "$TMP/parser_throughput" bench/parser_throughput.c src/core/*.c -lm
pin=()
[ "${RT:-0}" -gt 0 ] && pin=(chrt -f "$RT")
command -v taskset >/dev/null && pin+=(taskset -c "$CPU")

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r); pinned to CPU $CPU${RT:+, real-time priority $RT}; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "== mlxbench: src/core SSE parser + extractor (C, -O2)"
"${pin[@]}" "$TMP/parser_throughput" "$SECS" "$FIX" | tee "$TMP/c.txt"
echo
echo "== peer: Python per-line parse as in vLLM benchmark_serving ($($PY --version 2>&1))"
"${pin[@]}" "$PY" - "$SECS" "$FIX" <<'PY' | tee "$TMP/py.txt"
import json, sys, time
secs, fix = float(sys.argv[1]), sys.argv[2]
files = ["openai_chat_stream_usage.sse", "openai_chat_stream_tool_calls.sse",
         "nim_vllm_chat_stream_role_null.sse", "anthropic_messages_stream.sse",
         "anthropic_messages_stream_tool_use.sse", "anthropic_docs_stream_thinking.sse"]

def one(body):
    """One response body, chunk by chunk as aiohttp's StreamReader yields lines."""
    events, text = 0, ""
    for chunk_bytes in body.split(b"\n"):
        chunk_bytes = chunk_bytes.strip()
        if not chunk_bytes:
            continue
        chunk = chunk_bytes.decode("utf-8")
        if not chunk.startswith("data:"):
            continue                       # event: lines (Anthropic)
        chunk = chunk.removeprefix("data:").strip()
        if chunk == "[DONE]":
            continue
        events += 1
        data = json.loads(chunk)
        if choices := data.get("choices"):
            text += choices[0].get("delta", {}).get("content") or ""
        elif (d := data.get("delta")) and d.get("type") == "text_delta":
            text += d.get("text", "")
    return events

tot_ev = tot_t = 0.0
print("%-42s %-10s %8s %10s %14s %12s" % ("fixture", "feed", "events", "requests", "events/s", "ns/event"))
for f in files:
    body = open(f"{fix}/{f}", "rb").read()
    for _ in range(100):
        one(body)
    ev = reqs = 0
    t0 = time.perf_counter()
    while True:
        for _ in range(50):
            ev += one(body)
            reqs += 1
        t1 = time.perf_counter()
        if t1 - t0 >= secs:
            break
    dt = t1 - t0
    print("%-42s %-10s %8d %10d %14.0f %12.1f" % (f, "lines", ev // reqs, reqs, ev / dt, dt * 1e9 / ev))
    tot_ev += ev
    tot_t += dt
print("%-42s %-10s %8s %10s %14.0f %12.1f" % ("ALL (event-weighted)", "lines", "", "", tot_ev / tot_t, tot_t * 1e9 / tot_ev))
PY
echo
c_whole=$(awk '/^ALL/ && $3=="whole" {print $4}' "$TMP/c.txt")
c_ev=$(awk '/^ALL/ && $3=="per-event" {print $4}' "$TMP/c.txt")
c_oa=$(awk '/^OPENAI/ && $3=="per-event" {print $4}' "$TMP/c.txt")
py=$(awk '/^ALL/ {print $4}' "$TMP/py.txt")
awk -v a="$c_whole" -v b="$c_ev" -v o="$c_oa" -v p="$py" 'BEGIN {
  printf "summary (events/s, one core): mlxbench whole %.2fM, per-event feeds %.2fM (OpenAI fixtures %.2fM); Python %.2fM; ratio %.1fx; target >= 2M (OpenAI, per-event): %s\n",
    a/1e6, b/1e6, o/1e6, p/1e6, b/p, (o >= 2e6 ? "met" : "NOT met") }'
