#!/usr/bin/env python3
# tier: slow (not in tools/test.sh --fast)
"""`mlxbench run --mock` against the emulator's own ground truth.

The results file must agree with the trace the emulator keeps of what it
sent: token counts exact, TTFT within 2 ms of (first token written - request
arrival), with usage (token_source=usage) and without (token_source=events);
the report formats and exit codes hold.
"""
import json
import os
import subprocess
import sys
import tempfile

MLX = os.environ.get("MLXBENCH", "build/mlxbench")
TIMING = os.environ.get("MB_SANITIZED") != "1"   # ASan+UBSan: no ms tolerances
MODEL = "mlx-community/Llama-3.2-3B-Instruct-4bit"
fails = 0


def check(cond, what):
    global fails
    if not cond:
        fails += 1
        print("FAIL:", what, file=sys.stderr)


def run(*args, timeout=120):
    p = subprocess.run([MLX, *args], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def against_trace(results, trace, source, label):
    run_ = results["runs"][0]
    reqs = run_["per_request"]
    check(run_["requests"]["total"] == 5 and run_["requests"]["ok"] == 5, f"{label}: 5/5 ok")
    # the first trace record is the warm-up request; the rest are in order (c=1)
    recs = sorted(trace["requests"], key=lambda r: r["seq"])[1:]
    check(len(recs) == len(reqs) == 5, f"{label}: 5 measured requests in the trace ({len(recs)})")
    reqs = sorted(reqs, key=lambda r: r["start_s"])
    for q, t in zip(reqs, recs):
        check(q["output_tokens"] == t["output_tokens"],
              f"{label}: tokens {q['output_tokens']} == trace {t['output_tokens']}")
        check(q["token_source"] == source, f"{label}: token_source {q['token_source']} == {source}")
        truth = (t["first_token_ns"] - t["arrival_ns"]) / 1e9
        e2e_truth = (t["end_ns"] - t["arrival_ns"]) / 1e9
        if TIMING:   # wall-clock tolerances: the normal build only
            check(abs(q["ttft_s"] - truth) < 0.002,
                  f"{label}: ttft {q['ttft_s']:.6f} within 2 ms of the trace's {truth:.6f}")
            check(abs(q["e2e_s"] - e2e_truth) < 0.003,
                  f"{label}: e2e {q['e2e_s']:.6f} within 3 ms of the trace's {e2e_truth:.6f}")
        else:
            check(0 < q["ttft_s"] <= q["e2e_s"], f"{label}: 0 < ttft <= e2e")
        check(q["input_tokens"] == t["prompt_tokens"], f"{label}: input tokens match the emulator's rule")
    tok = sum(t["output_tokens"] for t in recs)
    check(run_["tokens"]["output"] == tok, f"{label}: run output tokens {run_['tokens']['output']} == {tok}")
    check(run_["tokens"]["source"].get(source) == 5, f"{label}: source counts")
    m = run_["metrics"]
    for k in ("ttft_s", "itl_s", "tpot_s", "e2e_s", "req_tok_s"):
        check(k in m and m[k]["count"] > 0, f"{label}: metric {k} present")
    check(m["itl_s"]["count"] == tok - 5, f"{label}: one ITL sample per gap ({m['itl_s']['count']})")


with tempfile.TemporaryDirectory() as d:
    out, trace = os.path.join(d, "out.json"), os.path.join(d, "trace.json")
    rc, so, se = run("run", "--mock", "-m", MODEL, "-n", "5", "--stream", "--max-tokens", "40",
                     "-o", out, "--mock-trace", trace)
    check(rc == 0, f"run exits 0 ({rc}): {se}")
    check("TTFT p50" in so and "avg tok/s" in so, "the table is printed")
    results, tr = json.load(open(out)), json.load(open(trace))
    check(results["schema"] == "mlxbench.results/1", "schema")
    against_trace(results, tr, "usage", "with usage")

    # usage off on the client side: the emulator sends none, events are counted
    rc, so, se = run("run", "--mock", "-m", MODEL, "-n", "5", "--max-tokens", "40", "--no-usage",
                     "-o", out, "--mock-trace", trace, "-q")
    check(rc == 0, f"--no-usage run exits 0 ({rc}): {se}")
    against_trace(json.load(open(out)), json.load(open(trace)), "events", "without usage")

    # the tiers differ, non-streaming works, formats and the report command
    rc, so, se = run("run", "--mock", "-m", "large", "-n", "2", "--no-stream", "--max-tokens", "20",
                     "-o", out, "--format", "json")
    doc = json.loads(so)
    check(rc == 0 and doc["runs"][0]["requests"]["ok"] == 2, "non-streamed run, JSON on stdout")
    check(doc["runs"][0]["per_request"][0]["output_tokens"] == 20, "non-streamed: usage tokens")
    rc, so, se = run("report", out, "--format", "md")
    check(rc == 0 and so.startswith("### Throughput") and "| ---: |" in so.replace(":---", ""), "report md")
    rc, so, se = run("report", out, "--format", "csv")
    check(rc == 0 and so.splitlines()[0].startswith("name,model,backend"), "report csv")
    rc, so, se = run("report", out, "--format", "csv-requests")
    check(rc == 0 and len(so.splitlines()) == 3, "per-request csv")

    # exit codes: threshold failure -> 1, every request failing -> 1, bad flag -> 2
    rc, so, se = run("run", "--mock", "-m", MODEL, "-n", "2", "--max-tokens", "10",
                     "--threshold", "ttft_s.p95<0.000001", "-q")
    check(rc == 1 and "FAILED: ttft_s.p95<0.000001" in se, f"threshold failure exits 1 ({rc})")
    rc, so, se = run("run", "-m", MODEL, "--url", "http://127.0.0.1:1", "-n", "2", "--warmup", "0", "-q")
    check(rc == 1 and "every request failed" in se, f"all failed exits 1 ({rc})")
    rc, so, se = run("run", "-m", MODEL, "--bogus")
    check(rc == 2 and "unknown option '--bogus'" in se, "bad flag exits 2")
    rc, so, se = run("run", "-n", "3")
    check(rc == 2 and "-m MODEL is required" in se, "missing model exits 2")
    rc, so, se = run("report", os.path.join(d, "nope.json"))
    check(rc == 2 and "cannot open" in se, "report of a missing file exits 2")

    # cloud targets without keys are skipped with a reason, never an error
    env = dict(os.environ)
    env.pop("OPENAI_API_KEY", None)
    p = subprocess.run([MLX, "run", "-m", "gpt-4o-mini", "--url", "https://api.openai.com", "-n", "1"],
                       capture_output=True, text=True, timeout=60, env=env)
    check(p.returncode == 0 and "OPENAI_API_KEY" in p.stderr, f"cloud row without key skipped ({p.returncode})")

print(f"{fails} failures")
sys.exit(1 if fails else 0)
