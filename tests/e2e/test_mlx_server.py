#!/usr/bin/env python3
"""mlxbench against a server that behaves like mlx_lm.server (the Mac's MLX
server; tests/e2e/realserver.py --flavor mlx): its model name, json.dumps
spacing, "role" in every delta, several tokens per chunk, a thinking
model's reasoning in delta.reasoning, usage only with
stream_options.include_usage -- and batching turned off for a request that
sends `seed`. So mlxbench must send no `seed` unless asked: --seed seeds
mlxbench's own prompts and emulator, never the server's sampling; a seed
for the server is asked for with --extra-body, and then sent.

Checked against what the server logged it received and sent (bodies,
chunk times on CLOCK_MONOTONIC, the clock mlxbench stamps with)."""
import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mocklib import expect, finish, MLXBENCH   # noqa: E402
from realserver import Server                    # noqa: E402

MODEL = "mlx-community/Qwen2.5-7B-Instruct-4bit"


def run(url, *args):
    p = subprocess.run([MLXBENCH, "run", "-m", MODEL, "--url", url, "--format", "json",
                        "--progress", "none", *args], capture_output=True, text=True, timeout=120)
    try:
        return p.returncode, json.loads(p.stdout)["runs"][0], p.stderr
    except (ValueError, KeyError, IndexError):
        return p.returncode, None, p.stderr + p.stdout


def gen(log):
    return sorted([r for r in log if r["path"].endswith("/chat/completions")],
                  key=lambda r: r["t_arrival"])


# 1. --seed is mlxbench's own: no request carries a seed; every one is batched
with Server("--flavor", "mlx", "--tokens-per-chunk", "3", "--natural", "24,36",
            "--ttft", "0.03", "--itl", "0.01", "--reasoning", "6") as s:
    rc, r, err = run(s.url, "-c", "4", "-n", "8", "--seed", "7", "--stream")
    expect("run exits 0", rc == 0 and r is not None, err[-800:])
    g = gen(s.log())
    expect("8 measured requests and the warm-up reached the server", len(g) >= 9, str(len(g)))
    expect("no request sends seed (mlx_lm.server turns batching off for one that does)",
           all("seed" not in x["body"] for x in g), [sorted(x["body"]) for x in g][:2])
    expect("... so every request was batched", all(x.get("batched") for x in g))
    expect("every streamed request asks for usage (stream_options.include_usage)",
           all((x["body"].get("stream_options") or {}).get("include_usage") is True for x in g))
    expect("the server's model name, as given", all(x["body"].get("model") == MODEL for x in g))
    if r:
        measured = g[-8:]
        served = sum(x["completion_tokens"] for x in measured)
        expect("output tokens: reasoning + content, as the server counted them (%d)" % served,
               r["tokens"]["output"] == served, json.dumps(r["tokens"]))
        # the first output is reasoning, 2 chunks (20 ms) before the first content
        first_any = [x["chunks"][0][0] - x["t_arrival"] for x in measured]
        ttft = r["metrics"]["ttft_s"]["p50"]
        expect("TTFT is the first reasoning chunk (p50 %.1f ms; server sent it after %.1f ms)"
               % (ttft * 1e3, sorted(first_any)[len(first_any) // 2] * 1e3),
               ttft < 0.03 + 0.018, "p50 %.4f" % ttft)

# 2. a seed asked for is sent, and the server serves those requests alone
with Server("--flavor", "mlx", "--tokens-per-chunk", "3", "--natural", "30",
            "--ttft", "0.02", "--itl", "0.01") as s:
    rc, r, err = run(s.url, "-c", "4", "-n", "8", "--extra-body", '{"seed": 3}', "--stream")
    expect("run with --extra-body seed exits 0", rc == 0 and r is not None, err[-800:])
    g = gen(s.log())
    expect("every request sends the seed asked for",
           len(g) >= 9 and all(x["body"].get("seed") == 3 for x in g), [x["body"].get("seed") for x in g])
    expect("... and the server did not batch them", not any(x.get("batched") for x in g))
    # served one at a time: no two responses overlap on the server
    spans = sorted((x["t_headers"], x["t_end"]) for x in g)
    overlap = any(b[0] < a[1] - 1e-3 for a, b in zip(spans, spans[1:]))
    expect("seeded requests were served one after another (batching off)", not overlap, str(spans[:3]))
finish()
