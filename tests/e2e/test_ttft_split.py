#!/usr/bin/env python3
# run: serial (wall-clock tolerances: tests/tests.cmake)
"""Client vs server timing (issue 20, item 4): a test server that reports
the timings it actually spent (realserver.py: --timings groq puts the queue
and prompt times in x_groq.usage, --timings llamacpp llama.cpp's prompt_ms;
--max-running 1 makes requests queue) against mlxbench's split of each
request's TTFT into server queue, server prefill and the rest.

Both sides stamp CLOCK_MONOTONIC (Python's time.monotonic, mlxbench's
start_s), so the server's log says what each part truly was:

  queue   = admitted - arrived        prefill = first chunk written - admitted
  rest    = (arrived - client start) + (first token read - first chunk written)

and the split must give the same numbers within 1 ms, and add up to the
measured TTFT within 1 ms. Then `mlxbench run` reports the split per run
with the client's floor beside it, and compare can gate on it.
"""
import json
import os
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mocklib import expect, finish, MLXBENCH   # noqa: E402
from realserver import Server                    # noqa: E402

SANITIZED = os.environ.get("MB_SANITIZED") == "1"   # no wall-clock tolerance there

TMP = tempfile.TemporaryDirectory()
SCRIPT = os.path.join(TMP.name, "split.lua")
with open(SCRIPT, "w") as f:
    f.write("""
local mb = require "mlxbench"
local json = require "mlxbench.json"
local url, model, n, c = arg[1], arg[2], tonumber(arg[3]), tonumber(arg[4])
local out, tasks = {}, {}
for k = 1, c do
  tasks[k] = mb.spawn(function()
    for i = k, n, c do
      local r = mb.llm.request{ target = { url = url }, model = model, stream = true, max_tokens = 12,
        prompt = "request " .. i, headers = { ["X-Test-Id"] = tostring(i) } }
      out[i] = { id = i, ok = r.ok, start_s = r.start_s, ttft_s = r.ttft_s, server = r.server,
                 split = r.ttft_split }
    end
  end)
end
mb.wait(tasks)
print(json.encode(out))
""")


def lua(url, model, n, c):
    p = subprocess.run([MLXBENCH, SCRIPT, url, model, str(n), str(c)], capture_output=True, text=True, timeout=120)
    expect("the Lua client ran", p.returncode == 0, p.stderr[-500:])
    return json.loads(p.stdout) if p.returncode == 0 else []


def check_against_log(name, res, log, with_queue):
    by_id = {int(r["headers"]["x-test-id"]): r for r in log if "x-test-id" in r.get("headers", {})}
    worst = {"queue": 0, "prefill": 0, "rest": 0, "sum": 0}
    count, queued, rests = 0, 0, []
    for q in res:
        rec = by_id.get(q["id"])
        sp = q.get("split")
        if not (q["ok"] and rec and sp):
            continue
        count += 1
        first_sent = rec["chunks"][0][0]
        true_queue = rec["t_admit"] - rec["t_arrival"]
        true_prefill = first_sent - rec["t_admit"]
        true_rest = (rec["t_arrival"] - q["start_s"]) + (q["start_s"] + q["ttft_s"] - first_sent)
        if not with_queue:
            # a server that reports no queue time (llama.cpp) leaves its
            # time between arrival and admission in the rest: the split can
            # only subtract what the server said
            true_rest += true_queue
        if with_queue:
            worst["queue"] = max(worst["queue"], abs(sp["server_queue_s"] - true_queue))
            queued += true_queue > 0.02
        worst["prefill"] = max(worst["prefill"], abs(sp["server_prefill_s"] - true_prefill))
        worst["rest"] = max(worst["rest"], abs(sp["ttft_rest_s"] - true_rest))
        parts = sp.get("server_queue_s", 0) + sp["server_prefill_s"] + sp["ttft_rest_s"]
        worst["sum"] = max(worst["sum"], abs(parts - q["ttft_s"]))
        rests.append(sp["ttft_rest_s"])
    expect("%s: every request split (%d of %d)" % (name, count, len(res)), count == len(res) and count > 0)
    for k in ("prefill", "rest", "sum") + (("queue",) if with_queue else ()):
        expect("%s: %s matches what the server spent within 1 ms (worst %.3f ms)" % (name, k, worst[k] * 1e3),
               worst[k] < 1e-3 or (SANITIZED and k != "sum"), worst)
    if with_queue:
        expect("%s: requests really queued (%d)" % (name, queued), queued >= 2, queued)
    expect("%s: the rest (network + client) on loopback is small and not negative (max %.2f ms)"
           % (name, max(rests or [0]) * 1e3), rests and min(rests) >= 0 and max(rests) < 0.02, rests)


# Groq-style: queue_time and prompt_time in x_groq.usage on the last chunk
with Server("--flavor", "openai", "--timings", "groq", "--max-running", "1", "--ttft", "0.05", "--itl", "0.004",
            "--natural", "12") as s:
    res = lua(s.url, "gpt-4o-mini", 6, 3)
    for q in res[:1]:
        expect("groq: the server's report is read (source time_info)", (q.get("server") or {}).get("source") ==
               "time_info", q.get("server"))
    check_against_log("groq", res, s.log(), True)

# llama.cpp-style: prompt_ms in `timings` on the finish chunk (no queue)
with Server("--flavor", "llamacpp", "--timings", "llamacpp", "--ttft", "0.04", "--itl", "0.004",
            "--natural", "12") as s:
    res = lua(s.url, "any.gguf", 4, 1)
    for q in res[:1]:
        expect("llama.cpp: source llama.cpp, no queue part", (q.get("server") or {}).get("source") == "llama.cpp" and
               "server_queue_s" not in (q.get("split") or {}), q)
    check_against_log("llama.cpp", res, s.log(), False)

# mlxbench run: the split per run, the floor beside it, a gate on it
with Server("--flavor", "openai", "--timings", "groq", "--max-running", "1", "--ttft", "0.03", "--itl", "0.004",
            "--natural", "10") as s:
    out = os.path.join(TMP.name, "a.json")
    p = subprocess.run([MLXBENCH, "run", "-m", "gpt-4o-mini", "--url", s.url, "-c", "2", "-n", "10", "-o", out,
                        "--progress", "none"], capture_output=True, text=True, timeout=120)
    expect("run: exit 0", p.returncode == 0, p.stderr[-500:])
    expect("run: the TTFT split table, with the client floor", "TTFT split" in p.stdout and "Floor p50" in p.stdout,
           p.stdout[-1500:])
    r = json.load(open(out))["runs"][0] if p.returncode == 0 else {}
    m = r.get("metrics", {})
    ts = r.get("ttft_split", {})
    expect("run: split metrics with their histograms", all(k in m and k in r.get("histograms", {})
                                                          for k in ("server_queue_s", "server_prefill_s",
                                                                    "ttft_rest_s")), list(m))
    expect("run: 10 requests split, timings from time_info", ts.get("requests") == 10 and
           ts.get("source") == {"time_info": 10}, ts)
    floor = ts.get("client_floor") or {}
    expect("run: the client floor measured beside it", floor.get("source") == "measured" and
           0 <= floor.get("p50_s", -1) < 0.005, floor)
    for q in r.get("per_request", []):
        sp = q.get("ttft_split") or {}
        if abs(sp.get("server_queue_s", 0) + sp.get("server_prefill_s", 0) + sp.get("ttft_rest_s", 1) -
               q["ttft_s"]) > 1e-3:
            expect("run: per request, queue + prefill + rest = TTFT within 1 ms", False, q)
            break
    else:
        expect("run: per request, queue + prefill + rest = TTFT within 1 ms", True)
    queued = [q for q in r.get("per_request", []) if (q.get("ttft_split") or {}).get("server_queue_s", 0) > 0.005]
    expect("run: queueing shows (%d of 10 requests waited > 5 ms for the one slot, with 2 users)" % len(queued),
           len(queued) >= 3 and m.get("server_queue_s", {}).get("max", 0) > 0.005, m.get("server_queue_s"))
    cal = os.path.join(TMP.name, "cal.json")
    subprocess.run([MLXBENCH, "calibrate", "--quick", "-o", cal], capture_output=True, timeout=120)
    p = subprocess.run([MLXBENCH, "run", "-m", "gpt-4o-mini", "--url", s.url, "-n", "3", "--calibration", cal,
                        "--format", "json", "--progress", "none"], capture_output=True, text=True, timeout=120)
    r2 = json.loads(p.stdout)["runs"][0] if p.returncode == 0 else {}
    expect("--calibration FILE: its TTFT floor beside the split", (r2.get("ttft_split", {}).get("client_floor") or {})
           .get("source") == cal, r2.get("ttft_split"))
    p = subprocess.run([MLXBENCH, "compare", out, out, "--metric", "ttft_rest_s.p50=10%"], capture_output=True,
                       text=True, timeout=60)
    expect("compare gates on the split (ttft_rest_s.p50)", p.returncode == 0 and "ttft_rest_s.p50" in p.stdout,
           p.stdout[-600:] + p.stderr)

# no timings reported: no split, no table
with Server("--flavor", "vllm") as s:
    p = subprocess.run([MLXBENCH, "run", "-m", "Qwen/Qwen2.5-7B-Instruct", "--url", s.url, "-n", "3", "--format",
                        "json", "--progress", "none"], capture_output=True, text=True, timeout=60)
    r = json.loads(p.stdout)["runs"][0] if p.returncode == 0 else {}
    expect("no server timings: no split", p.returncode == 0 and "ttft_split" not in r and
           "server_prefill_s" not in r.get("metrics", {}), list(r))
finish()
