#!/usr/bin/env bash
# json_parse.sh: MB/s of mlxbench's JSON reader (src/core/json.c: the
# tokenizer the LLM extractor uses per streamed chunk, and the cursor the
# emulator reads request bodies with) next to cJSON and jsmn (Debian's
# libcjson-dev and libjsmn-dev), on SSE chunks from the wire fixtures and
# on generated request bodies; one core, median of ROUNDS rounds.
#
#   bench/json_parse.sh [SECONDS=0.5] [ROUNDS=5]      (per round, input and parser)
#
# Environment: FIXTURES (default tests/fixtures/wire), CC (default cc), CPU
# (pin to this CPU, default 1). Needs libcjson-dev and libjsmn-dev
# (tools/deps.sh test).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-0.5}
ROUNDS=${2:-5}
FIX=${FIXTURES:-tests/fixtures/wire}
CC=${CC:-cc}
CPU=${CPU:-1}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
[ -f /usr/include/jsmn.h ] || { echo "json_parse.sh: needs libjsmn-dev (tools/deps.sh test)" >&2; exit 1; }
$CC -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Wall -Wextra -Wno-unused-parameter \
  -Iinclude $(pkg-config --cflags libcjson) -o "$TMP/json_parse" bench/json_parse.c \
  src/core/json.c src/core/utf8.c src/core/buf.c src/core/errors.c $(pkg-config --libs libcjson) -lm
pin=()
command -v taskset >/dev/null && pin=(taskset -c "$CPU")
echo "machine: $(nproc) CPUs, $(uname -sr); pinned to CPU $CPU; load average $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo ?)"
echo "cJSON $(pkg-config --modversion libcjson), jsmn $(dpkg-query -W -f='${Version}' libjsmn-dev 2>/dev/null || echo '?')"
"${pin[@]}" "$TMP/json_parse" "$SECS" "$ROUNDS" "$FIX"
