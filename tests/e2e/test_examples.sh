# tier: slow (not in tools/test.sh --fast)
# Every example runs against the embedded emulator; the failover example's
# timeline and figures match the injected fault times (+-1 s).
. "$(dirname "$0")/lib.sh"
SRC=$(pwd)
EX="$SRC/examples"
cd "$TMP"

with_timeout 120 "$MLXBENCH" -I "$EX" "$EX/tier_sweep.lua" > tier.txt 2>&1
expect "tier_sweep runs" [ $? -eq 0 ]
expect "tier_sweep: 6 runs" [ "$(grep -c 'model=mlx-community' tier.txt)" -ge 6 ]

with_timeout 60 "$MLXBENCH" -I "$EX" "$EX/prompt_mix.lua" > mix.txt 2>&1
expect "prompt_mix runs" [ $? -eq 0 ]
expect "prompt_mix prints TTFT p99" contains mix.txt 'TTFT p99 [0-9.]+ ms'

# the team library through MLXBENCH_PATH instead of -I
MLXBENCH_PATH="$EX/?.lua;;" with_timeout 60 "$MLXBENCH" "$EX/prompt_mix.lua" > mix2.txt 2>&1
expect "teamlib via MLXBENCH_PATH" [ $? -eq 0 ]

with_timeout 60 "$MLXBENCH" "$EX/rate_sweep.lua" > rate.txt 2>&1
expect "rate_sweep runs" [ $? -eq 0 ]
expect "rate_sweep: 4 rates" [ "$(grep -cE '^ +(2|4|8|16) ' rate.txt)" -eq 4 ]

with_timeout 90 "$MLXBENCH" "$EX/slo_search.lua" > slo.txt 2>&1
expect "slo_search runs" [ $? -eq 0 ]
expect "slo_search finds a rate" contains slo.txt 'highest rate meeting the SLO: [0-9.]+ req/s'

with_timeout 60 "$MLXBENCH" "$EX/failover.lua" -o fo.json > fo.txt 2>&1
expect "failover runs" [ $? -eq 0 ]
expect "failover prints the timeline" contains fo.txt 'fault on: primary returns 503'
python3 - <<'PY' || { fails=$((fails+1)); echo "FAIL: failover figures" >&2; }
import json
r = json.load(open("fo.json"))["runs"][0]
f = r["failover"]
assert abs(f["fault_on_s"] - 5) <= 1, f
assert abs(f["fault_off_s"] - 15) <= 1, f
assert f["time_to_failover_s"] is not None and f["time_to_failover_s"] < 1, f
assert f["time_to_recover_s"] is not None and f["time_to_recover_s"] < 1.5, f
assert f["failed_over"] >= 5, f   # first attempts on the down primary (retried every 0.5 s)
assert f["fallback_penalty_s"] > 0, f
tl = r["timeline"]
served = {b["t"]: b["target"] for b in tl if b["target"]}
assert all(served[t] == "primary" for t in range(0, 4)), served
assert all(served[t] == "fallback" for t in range(6, 14)), served
assert all(served[t] == "primary" for t in range(16, 19)), served
assert r["requests"]["ok"] == r["requests"]["total"], r["requests"]
print("failover figures ok:", {k: round(v, 2) if isinstance(v, float) else v for k, v in f.items()})
PY
finish
