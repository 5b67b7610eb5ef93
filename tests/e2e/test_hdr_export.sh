# `mlxbench report --format hdr`: a results file as an HdrHistogram interval
# log, read back with hdr-histogram-js (tests/node): every run's every
# histogram, with the counts and percentiles of the results file.
. "$(dirname "$0")/lib.sh"
SRC=$(pwd)
command -v node >/dev/null 2>&1 || { echo "SKIP: node is not installed (tools/deps.sh test)"; exit 77; }
[ -d "$SRC/tests/node/node_modules/hdr-histogram-js" ] ||
  { echo "SKIP: tests/node/node_modules is missing (cd tests/node && npm ci)"; exit 77; }
cd "$TMP"
"$MLXBENCH" run --mock -m small -n 24 -c 3 --max-tokens 24 --stream --name 'chat, small' -o a.json -q > /dev/null 2>&1
expect "first run" [ $? -eq 0 ]
"$MLXBENCH" run --mock -m medium -n 8 -c 2 --max-tokens 16 --name second -o b.json -q > /dev/null 2>&1
expect "second run" [ $? -eq 0 ]
"$MLXBENCH" merge a.json b.json -o both.json > /dev/null 2>&1 ||
  python3 -c "import json; a=json.load(open('a.json')); a['runs']+=json.load(open('b.json'))['runs']; json.dump(a, open('both.json','w'))"
"$MLXBENCH" report both.json --format hdr -o both.hlog
expect "report --format hdr exits 0" [ $? -eq 0 ]
expect "log header" contains both.hlog '^#\[Histogram log format version 1\.3\]$'
expect "legend line" contains both.hlog '^"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"$'
expect "tags have no comma or space" contains both.hlog '^Tag=chat_small:ttft_s,'
node "$SRC/tests/node/hdr_check.mjs" both.hlog both.json
expect "hdr-histogram-js reads the log back exactly" [ $? -eq 0 ]
"$MLXBENCH" report both.json --format hdr > stdout.hlog
expect "to stdout too" cmp -s both.hlog stdout.hlog
finish
