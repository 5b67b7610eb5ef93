#!/usr/bin/env python3
# tier: slow (not in tools/test.sh --fast)
"""`mlxbench suite` and the examples against servers with their own model
names (issue 14 items 2 and 15), played by tests/e2e/realserver.py:

- without --models, against a server that does not serve the seed's three
  mlx-community names, the suite stops before running, listing what the
  server serves and the flag to use;
- with --models a,b,c it runs the whole matrix on those names;
- the failover row uses two servers the user names (--fallback-url: the
  primary behind the fault proxy, which starts refusing connections), or is
  skipped with the reason; its notes say which backend served what;
- a row that got nothing through makes the suite exit 1, naming it;
- the examples honour --model / --models and exit 1 when nothing succeeded.
"""
import json
import os
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from mocklib import expect, finish, MLXBENCH   # noqa: E402
from realserver import Server                    # noqa: E402

TMP = tempfile.TemporaryDirectory()
EX = os.path.join(os.path.dirname(os.path.dirname(HERE)), "examples")
MODELS = "qwen2.5-0.5b-instruct,qwen2.5-7b-instruct,qwen2.5-32b-instruct"


def mlx(*args, timeout=300):
    p = subprocess.run([MLXBENCH, *args], capture_output=True, text=True, timeout=timeout, cwd=TMP.name)
    return p.returncode, p.stdout, p.stderr


def generations(srv):
    return [r for r in srv.log() if r["path"].endswith("/chat/completions")]


with Server("--flavor", "vllm", "--models", MODELS, "--natural", "10,20", "--ttft", "0.01",
            "--itl", "0.002", "--tokens-per-chunk", "2") as s:
    # 1. no --models: stop before running, with the list and the flag
    rc, out, err = mlx("suite", "--url", s.url, "-o", "x.json")
    expect("no --models: exit 2", rc == 2, rc)
    expect("no --models: names what is missing", "does not serve mlx-community/Llama-3.2-3B-Instruct-4bit" in err, err)
    expect("no --models: lists the served models", "It serves: " + MODELS.replace(",", ", ") in err, err)
    expect("no --models: the flag to use", "--models SMALL,MEDIUM,LARGE, e.g. --models " + MODELS in err, err)
    expect("no --models: nothing was run", generations(s) == [] and not os.path.exists(os.path.join(TMP.name, "x.json")))
    expect("no --models: one short message, no traceback", len(err.splitlines()) <= 4 and "traceback" not in err, err)

    # 2. --models: the whole matrix on the server's names
    res = os.path.join(TMP.name, "suite.json")
    rc, out, err = mlx("suite", "--url", s.url, "--models", MODELS, "-n", "2", "--max-tokens", "16", "-o", res,
                       "--progress", "none")
    expect("--models: exit 0", rc == 0, err[-800:])
    d = json.load(open(res))
    runs = {r["name"]: r for r in d["runs"]}
    small, medium, large = MODELS.split(",")
    for tier, model in (("small", small), ("medium", medium), ("large", large)):
        for mode in ("stream", "no-stream"):
            r = runs.get("%s %s" % (tier, mode))
            expect("%s %s ran on %s" % (tier, mode, model), r and r["model"] == model and
                   r["requests"]["ok"] == r["requests"]["total"] == 2, r and (r["model"], r["requests"]))
    sent = {g["body"]["model"] for g in generations(s)}
    expect("the server got only its own names", sent == set(MODELS.split(",")), sent)
    for c in (1, 2, 4, 8):
        r = runs.get("small stream c=%d" % c)
        expect("sweep c=%d ok" % c, r and r["requests"]["ok"] == r["requests"]["total"] > 0)
    fo = runs.get("failover local->fallback")
    expect("no --fallback-url: the failover row is skipped with the reason",
           fo and "give --fallback-url URL" in fo.get("skipped", ""), fo and fo.get("skipped"))
    expect("the report says why it was skipped", "failover local->fallback: skipped (needs a second server" in
           out.replace("\n    ", " "), out[-1500:])
    # 50-token streams in chunks of 2 tokens with usage: exact counts
    expect("tokens from the server's usage", runs["small stream"]["tokens"]["token_source"] == "usage")

    # 3. a second server: the failover row, primary behind the fault proxy
    with Server("--flavor", "vllm", "--models", small, "--natural", "10", "--ttft", "0.01", "--itl", "0.002") as fb:
        n0 = len(generations(s))
        rc, out, err = mlx("suite", "--url", s.url, "--models", MODELS, "--fallback-url", fb.url, "-n", "3",
                           "--max-tokens", "16", "-o", res, "--progress", "none")
        expect("--fallback-url: exit 0", rc == 0, err[-800:])
        r = {x["name"]: x for x in json.load(open(res))["runs"]}.get("failover local->fallback")
        expect("failover row ran", r and not r.get("skipped") and r["requests"]["ok"] == r["requests"]["total"] == 6,
               r and r["requests"])
        if r:
            t = r["targets"]
            expect("both backends served", t["local"]["ok"] >= 2 and t["fallback"]["ok"] >= 1, t)
            expect("the fallback got the requests the primary could not take",
                   len(generations(fb)) == t["fallback"]["ok"], (len(generations(fb)), t))
            expect("the fault is marked", any("refuses connections" in m["label"] for m in r["marks"]), r["marks"])
            expect("the report says who served what", "failover local->fallback: fallback served %d" %
                   t["fallback"]["ok"] in out.replace("\n    ", " "), out[-1500:])

    # 4. a tier the server does not have: that row fails, the suite exits 1
    rc, out, err = mlx("suite", "--url", s.url, "--models", small + "," + medium + ",nosuch-70b", "-n", "2",
                       "--max-tokens", "8", "-o", res, "--progress", "none")
    expect("a dead row: exit 1", rc == 1, rc)
    expect("a dead row: named with the server's message", "large stream (http_404: NotFoundError: The model "
           "`nosuch-70b` does not exist.)" in err, err[-800:])
    expect("a dead row: the results are written all the same", os.path.exists(res))

    # 5. the examples honour --model and --models
    rc, out, err = mlx("-I", EX, os.path.join(EX, "rate_sweep.lua"), "--url", s.url, "--model", small, timeout=120)
    expect("rate_sweep --model: exit 0", rc == 0, err[-600:])
    expect("rate_sweep: 4 rates printed", sum(1 for l in out.splitlines() if l.split()[:1] in (["2"], ["4"], ["8"], ["16"]))
           == 4, out)
    rc, out, err = mlx("-I", EX, os.path.join(EX, "rate_sweep.lua"), "--url", s.url, "--model", "nosuch", timeout=120)
    expect("rate_sweep on a model the server lacks: exit 1, no traceback", rc == 1 and "traceback" not in err and
           "The model `nosuch` does not exist." in err, (rc, err[-600:]))
    rc, out, err = mlx("-I", EX, os.path.join(EX, "tier_sweep.lua"), "--url", s.url, "--models", MODELS, timeout=120)
    expect("tier_sweep --models: exit 0", rc == 0, err[-600:])
    rows = [l for l in out.splitlines() if " model=qwen2.5-" in l and "local" in l]
    expect("tier_sweep: 6 rows on the server's models", len(rows) >= 6, out)
    rc, out, err = mlx("-I", EX, os.path.join(EX, "tier_sweep.lua"), "--url", s.url, timeout=120)
    expect("tier_sweep without --models on another server: exit 1 (not 0 with no rows)", rc == 1 and
           "no request succeeded" in err, (rc, err[-600:]))
    rc, out, err = mlx("-I", EX, os.path.join(EX, "slo_search.lua"), "--url", s.url, "--model", small, timeout=120)
    expect("slo_search --model: exit 0", rc == 0 and "SLO" in out, err[-600:])
    rc, out, err = mlx("-I", EX, os.path.join(EX, "prompt_mix.lua"), "--url", s.url, "--model", small, timeout=120)
    expect("prompt_mix --model: exit 0", rc == 0 and "TTFT p99" in out, err[-600:])

# 6. a server that is not there: one line, exit 2
rc, out, err = mlx("suite", "--url", "http://127.0.0.1:9", "-o", "y.json")
expect("no server: exit 2 with the reason", rc == 2 and "cannot list the models of http://127.0.0.1:9" in err and
       "--models" in err, (rc, err))
finish()
