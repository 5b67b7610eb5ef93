# tier: slow (not in tools/test.sh --fast)
# run: serial (wall-clock tolerances: tests/tests.cmake)
# mlxbench compare on real runs of the emulator: a model emulated at under a
# third of the decode speed is flagged and, with --max-regression, fails (exit 1); two runs
# of the same profile with different seeds flag nothing and pass (exit 0).
. "$(dirname "$0")/lib.sh"
SRC=$(pwd)
cd "$TMP"
run() { "$MLXBENCH" "$SRC/tests/e2e/compare_run.lua" "$@" 2>>runs.err; }
run fast1.json 200 1 && run fast2.json 200 2 && run slow.json 60 3 && run few.json 200 4 6
expect "the emulated runs were written" [ -s fast1.json -a -s fast2.json -a -s slow.json -a -s few.json ]

# 1. the same profile, another seed: nothing beyond noise, exit 0
"$MLXBENCH" compare fast1.json fast2.json --max-regression 5% > same.txt 2> same.err
rc=$?
cat same.txt
expect "same profile: exit 0 (got $rc)" [ $rc -eq 0 ]
expect "same profile: no WORSE row" bash -c "! grep -q WORSE same.txt"
expect "same profile: summary says 0 worse" contains same.txt '0 worse, 0 better beyond noise'
"$MLXBENCH" compare fast1.json fast2.json --format json > same.json
expect "same profile: no metric flagged (JSON)" python3 - <<'PY'
import json
d = json.load(open("same.json"))
rows = d["runs"][0]["metrics"]
flagged = [(m["metric"], m["verdict"], m["rel"]) for m in rows if m["flagged"]]
assert d["ok"] and not flagged, flagged
# the key metrics are all there and measured
keys = {m["metric"] for m in rows}
assert {"output_tok_s", "ttft_s.p50", "itl_s.p95", "e2e_s.p50", "tpot_s.p50", "error_rate",
        "goodput_s"} <= keys, keys
assert all(m["base"] is not None and m["new"] is not None for m in rows), rows
PY

# 2. half the decode speed: flagged, and exit 1 with a limit
"$MLXBENCH" compare fast1.json slow.json --max-regression 5% > slow.txt 2> slow.err
rc=$?
cat slow.txt
expect "slower: exit 1 with --max-regression (got $rc)" [ $rc -eq 1 ]
expect "slower: output tok/s flagged" contains slow.txt '^output tok/s .* WORSE -- FAIL \(limit 5%\)'
expect "slower: ITL p50 flagged" contains slow.txt '^ITL p50 .* WORSE'
expect "slower: the regression is named" contains slow.txt '^REGRESSION: bench-model c=4: output tok/s'
"$MLXBENCH" compare fast1.json slow.json --format json > slow.json.out
rc=$?
expect "slower without a limit: flagged but exit 0 (got $rc)" [ $rc -eq 0 ]
expect "slower: deltas agree with the files (JSON)" python3 - <<'PY'
import json
b = json.load(open("fast1.json"))["runs"][0]
n = json.load(open("slow.json"))["runs"][0]
d = json.load(open("slow.json.out"))
rows = {m["metric"]: m for m in d["runs"][0]["metrics"]}
t = rows["output_tok_s"]
assert t["verdict"] == "worse" and t["better"] == "higher", t
assert t["base"] == b["throughput"]["output_tok_s"] and t["new"] == n["throughput"]["output_tok_s"]
assert abs(t["rel"] - (t["new"] - t["base"]) / t["base"]) < 1e-12
assert -0.75 < t["rel"] < -0.5, t["rel"]          # 60 instead of 200 tok/s, same TTFT
i = rows["itl_s.p50"]
assert i["verdict"] == "worse" and 1.9 < i["rel"] < 2.8, i     # 5 ms -> 16.7 ms
assert i["base_ci"][0] <= i["base"] <= i["base_ci"][1]
assert i["base_ci"][1] < i["new_ci"][0]           # the intervals are apart
assert rows["ttft_s.p50"]["verdict"] != "worse", rows["ttft_s.p50"]   # TTFT did not change
assert not d["failures"]                          # no limit given
PY
"$MLXBENCH" compare slow.json fast1.json --max-regression 5% > faster.txt
rc=$?
expect "faster: exit 0 (got $rc)" [ $rc -eq 0 ]
expect "faster: output tok/s better" contains faster.txt '^output tok/s .* better'

# 3. per-metric limits
"$MLXBENCH" compare fast1.json slow.json --metric itl_s.p50=400% > lim.txt
rc=$?
expect "ITL p50 +233% within a 400% limit: exit 0 (got $rc)" [ $rc -eq 0 ]
"$MLXBENCH" compare fast1.json slow.json --metric output_tok_s=10% --metric ttfb_s.p90 > lim2.txt
rc=$?
expect "output tok/s limit 10%: exit 1 (got $rc)" [ $rc -eq 1 ]
expect "an extra metric is shown" contains lim2.txt '^ttfb_s.p90 '

# 4. too few samples
"$MLXBENCH" compare few.json slow.json --max-regression 5% > few.txt
expect "6 requests cannot place TTFT p95" contains few.txt '^TTFT p95 .* too few samples \(n=6/40\)'

# 5. Markdown for a pull request
"$MLXBENCH" compare fast1.json slow.json --format md > pr.md
expect "Markdown heading" contains pr.md '^### mlxbench compare'
expect "Markdown table" contains pr.md '^\| metric \| base \| new \| delta \| rel \| verdict \|'
expect "Markdown flags in bold" contains pr.md '^\| \*\*output tok/s\*\* \|'

# 6. misuse
"$MLXBENCH" compare fast1.json > /dev/null 2> u1.err
expect "one file: exit 2" [ $? -eq 2 ]
"$MLXBENCH" compare fast1.json missing.json > /dev/null 2> u2.err
expect "missing file: exit 2" [ $? -eq 2 ]
expect "missing file: says so" contains u2.err 'cannot open missing.json'
"$MLXBENCH" compare fast1.json slow.json --metric ttft.p95=5% > /dev/null 2> u3.err
expect "unknown metric: exit 2" [ $? -eq 2 ]
expect "unknown metric: names the valid ones" contains u3.err "unknown metric 'ttft.p95'.*ttft_s.p95"
"$MLXBENCH" compare fast1.json slow.json --max-regression lots > /dev/null 2> u4.err
expect "bad percentage: exit 2" [ $? -eq 2 ]
finish
