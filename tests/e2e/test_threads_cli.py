#!/usr/bin/env python3
"""`mlxbench run --threads N` and `mlxbench calibrate` from the command line.

--threads 2 against an emulator in a separate process sends the same
requests and tokens as --threads 1 (count-bound run), every per-request
entry is tagged with its thread, the merged histograms' counts equal the
per-request figures, and run.client carries the client's CPU and loop lag.
`mlxbench calibrate --quick --format json` reports every figure.
"""
import json
import os
import subprocess
import sys
import tempfile

MLX = os.environ.get("MLXBENCH", "build/mlxbench")
fails = 0


def check(cond, what):
    global fails
    if not cond:
        fails += 1
        print("FAIL:", what, file=sys.stderr)


def run(*args, timeout=180):
    p = subprocess.run([MLX, *args], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def hist_count(enc):
    """Count of an encoded histogram, decoded by mlxbench itself."""
    rc, so, se = run("-e", "print(require('mlxbench.stats').decode(...):count())", enc)
    return int(so) if rc == 0 else -1


with tempfile.TemporaryDirectory() as d:
    prof = os.path.join(d, "p.json")
    with open(prof, "w") as f:
        json.dump({"builtin_models": False, "any_model": True, "default_model": "t",
                   "models": {"t": {"ttft_ms": 2, "prefill_tok_s": 0, "decode_tok_s": 3000,
                                    "jitter": 0}}}, f)
    mock = subprocess.Popen([MLX, "mock", "--port", "0", "--quiet", "--profile", prof],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = mock.stdout.readline().strip()
        check(url.startswith("http://127.0.0.1:"), f"mock URL ({url})")
        runs = {}
        for n in (1, 2):
            out = os.path.join(d, f"t{n}.json")
            rc, so, se = run("run", "--url", url, "-m", "t", "-n", "41", "-c", "6",
                             "--max-tokens", "15", "--warmup", "0", "--threads", str(n),
                             "--prompt", "synthetic:30", "-q", "-o", out)
            check(rc == 0, f"--threads {n} exits 0 ({rc}): {se}")
            runs[n] = json.load(open(out))["runs"][0]
        one, two = runs[1], runs[2]
        for k in ("total", "ok", "failed"):
            check(one["requests"][k] == two["requests"][k],
                  f"requests.{k}: {one['requests'][k]} == {two['requests'][k]}")
        check(two["requests"]["ok"] == 41, "41 requests ok")
        check(one["tokens"] == two["tokens"], f"tokens {one['tokens']} == {two['tokens']}")
        check(two["tokens"]["output"] == 41 * 15, "41 x 15 tokens")
        for m in ("ttft_s", "itl_s", "e2e_s", "tpot_s"):
            if m == "tpot_s":
                # TPOT needs the last token later than the first: a request
                # whose stream arrived in one read (a loaded machine) has none
                for r in (one, two):
                    have = sum(1 for q in r["per_request"] if q.get("tpot_s") is not None)
                    check(r["metrics"][m]["count"] == have and have >= 35, f"{m} count {have}")
            else:
                check(one["metrics"][m]["count"] == two["metrics"][m]["count"], f"{m} count")
            check(hist_count(two["histograms"][m]) == two["metrics"][m]["count"],
                  f"{m}: the encoded histogram holds every sample")
        check(two["metrics"]["itl_s"]["count"] == 41 * 14, "ITL: one sample per gap")
        tags = [q.get("thread") for q in two["per_request"]]
        check(sorted(set(tags)) == [1, 2], f"per-request entries tagged 1 and 2 ({set(tags)})")
        check(tags.count(1) == 21 and tags.count(2) == 20, "interleaved split 21 + 20")
        check(sorted(q["i"] for q in two["per_request"]) == list(range(1, 42)), "requests 1..41 once each")
        c = two["client"]
        check(c["threads"] == 2 and c["cpu_s"] > 0 and 0 <= c["cpu_share"] < 1.5,
              f"run.client CPU figures ({c})")
        check(c.get("loop_lag_p99_s", -1) >= 0 and c.get("loop_lag_count", 0) > 0, "run.client loop lag")
        check(one["client"]["threads"] == 1, "one thread")
        rc, so, se = run("run", "--url", url, "-m", "t", "-n", "4", "--threads", "0")
        check(rc == 2 and "--threads" in se, f"--threads 0 refused ({rc}: {se.strip()})")
        rc, so, se = run("run", "--url", url, "-m", "t", "-n", "4", "-c", "2", "--threads", "2", "-v")
        check(rc == 2 and "--verbose" in se, f"--verbose needs one thread ({rc})")
    finally:
        mock.terminate()
        mock.wait(timeout=10)

    # calibrate: every figure, as JSON and as a table
    out = os.path.join(d, "cal.json")
    rc, so, se = run("calibrate", "--quick", "--format", "json", "-o", out)
    check(rc == 0, f"calibrate exits 0 ({rc}): {se}")
    doc = json.loads(so)
    check(doc == json.load(open(out)), "-o writes what is printed")
    check(doc["schema"] == "mlxbench.calibrate/1", "schema")
    check(0 < doc["clock"]["read_ns"] < 5000 and doc["clock"]["lua_now_ns"] > 0, f"clock {doc['clock']}")
    tl = doc["loop"]["timer_lag"]
    check(tl["count"] > 50 and 0 <= tl["p50_s"] <= tl["p99_s"] <= tl["max_s"], f"timer lag {tl}")
    check(len(doc["resolution"]) == 2, "two resolution rows")
    for r in doc["resolution"]:
        check(r["requests"] >= 1, f"resolution requests {r}")
        for k in ("ttft_error", "itl_error"):
            e = r.get(k)
            check(e and 0 <= e["p50_s"] <= e["p99_s"] < 0.5, f"{k} {e}")
    ev = doc["events"]
    check(ev["events"] > 10000 and ev["events_s"] > 10000 and ev["failed"] == 0, f"events/s {ev}")
    check(0 < ev["cpu_share"] <= 1.05 and ev["events_per_cpu_s"] > 10000,
          f"one thread's CPU share and events per CPU-second ({ev['cpu_share']}, {ev['events_per_cpu_s']})")
    rc, so, se = run("calibrate", "--quick")
    check(rc == 0 and "TTFT" in so and "events/s" in so and "one clock read" in so, "table output")
    rc, so, se = run("calibrate", "--format", "xml")
    check(rc == 2 and "--format" in se, "bad format exits 2")

print(f"{fails} failures")
sys.exit(1 if fails else 0)
