#!/usr/bin/env python3
"""Cost and energy per token (issue 20, item 5), recomputed from the
results file's own token counts and power samples:

  $       = ((input - cached) * IN + cached * CACHED + output * OUT) / 1e6
  joules  = the power samples integrated over the run's window (a constant
            --watts: W x duration); J per output token, kWh, $ of energy

--price, --prices (JSON and CSV, a cached-input price, the '*' entry),
--power-cmd (a command printing watts, run on the loop; mW understood; a
failing command is a note, not a failed run), --watts, --kwh-price; a local
run and a "cloud" one side by side in compare; bad options in one line.
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

TMP = tempfile.TemporaryDirectory()


def run(*args, fmt="json"):
    p = subprocess.run([MLXBENCH, "run", *args, "--format", fmt, "--progress", "none"], capture_output=True,
                       text=True, timeout=120)
    if fmt != "json":
        return p.returncode, p.stdout, p.stderr
    try:
        return p.returncode, json.loads(p.stdout)["runs"][0], p.stderr
    except (ValueError, KeyError, IndexError):
        return p.returncode, None, p.stderr + p.stdout[-400:]


def close(a, b, rel=1e-9):
    return a is not None and b is not None and abs(a - b) <= rel * max(abs(a), abs(b), 1e-12)


def write(name, text):
    path = os.path.join(TMP.name, name)
    with open(path, "w") as f:
        f.write(text)
    return path


with Server("--flavor", "openai", "--prefix-cache", "on", "--natural", "30") as s:
    # --price on exact usage counts
    rc, r, err = run("-m", "gpt-4o-mini", "--url", s.url, "-n", "5", "--price", "0.15/0.60")
    tk = (r or {}).get("tokens", {})
    c = (r or {}).get("cost", {})
    want = (tk.get("input", 0) * 0.15 + tk.get("output", 0) * 0.60) / 1e6
    expect("--price: $ per run from the run's tokens", rc == 0 and close(c.get("usd"), want), (c, tk, err[-300:]))
    expect("--price: $ per 1M output tokens", close(c.get("usd_per_1m_output"), want / tk.get("output", 1) * 1e6), c)
    expect("--price: $ per request", close(c.get("usd_per_request"), want / 5), c)
    # --prices with a cached-input price: the same prompt every time, so a
    # prefix cache serves part of it from the second request on
    prices = write("prices.json", json.dumps({"gpt-4o-mini": {"input": 0.15, "output": 0.60, "cached_input": 0.075},
                                              "other": {"input": 9, "output": 9}}))
    long_prompt = " ".join("word%d" % i for i in range(80))
    rc, r, err = run("-m", "gpt-4o-mini", "--url", s.url, "-n", "4", "--prices", prices, "--prompt", long_prompt)
    tk = (r or {}).get("tokens", {})
    c = (r or {}).get("cost", {})
    cached = tk.get("cached", 0)
    want = ((tk.get("input", 0) - cached) * 0.15 + cached * 0.075 + tk.get("output", 0) * 0.60) / 1e6
    expect("--prices: cached prompt tokens counted (%d)" % cached, rc == 0 and cached >= 3 * 64, tk)
    expect("--prices: cached tokens at the cached price", close(c.get("usd"), want) and c.get("cached_tokens") == cached,
           (c, tk))
    per_req = sum(q.get("cached_tokens", 0) for q in (r or {}).get("per_request", []))
    expect("per request cached_tokens add up to the run's", per_req == cached, (per_req, cached))
    # CSV, a model found by its short name, the '*' fallback
    csv = write("prices.csv", "model,input,output,cached_input\n# comment\nother-model,1,2,0.5\n*,0.5,1.5,\n")
    rc, r, err = run("-m", "gpt-4o-mini", "--url", s.url, "-n", "2", "--prices", csv)
    c = (r or {}).get("cost", {})
    expect("CSV prices, the '*' entry", rc == 0 and c.get("price", {}).get("input") == 0.5 and
           c.get("price", {}).get("output") == 1.5, c)
    rc, r, err = run("-m", "gpt-4o-mini", "--url", s.url, "-n", "2", "--prices", write("p2.json", json.dumps(
        {"models": {"gpt-4o-mini": {"input": 1, "output": 2}}})))
    expect("JSON prices under \"models\"", rc == 0 and (r or {}).get("cost", {}).get("price", {}).get("output") == 2,
           (r or {}).get("cost"))

    # energy: a constant power, then a sampled one
    rc, r, err = run("-m", "gpt-4o-mini", "--url", s.url, "-n", "4", "--watts", "40", "--kwh-price", "0.30")
    e = (r or {}).get("energy", {})
    dur = (r or {}).get("duration_s", 0)
    out_tok = (r or {}).get("tokens", {}).get("output", 1)
    expect("--watts: joules = W x duration", rc == 0 and close(e.get("joules"), 40 * dur), (e, dur))
    expect("--watts: J per output token", close(e.get("j_per_output_token"), 40 * dur / out_tok), e)
    expect("--kwh-price: $ of energy", close(e.get("usd"), 40 * dur / 3.6e6 * 0.30), e)
    # a power that rises with every sample: 10, 20, 30 ... W
    counter = os.path.join(TMP.name, "n")
    cmd = "n=$(cat %s 2>/dev/null || echo 0); n=$((n+1)); echo $n > %s; echo \"$((n*10)) W\"" % (counter, counter)
    rc, r, err = run("-m", "gpt-4o-mini", "--url", s.url, "-n", "12", "-c", "1", "--power-cmd", cmd,
                     "--metrics-interval", "0.1")
    pw = (r or {}).get("power", {})
    e = (r or {}).get("energy", {})
    t, w = pw.get("t", []), pw.get("watts", [])
    expect("--power-cmd: sampled (%d samples, no failure)" % len(t), rc == 0 and len(t) >= 3 and not pw.get("failed") and
           w[:3] == [10, 20, 30], pw)
    # the integral over the window, recomputed here: trapezoids, the first
    # and last samples held to the window's edges
    a, b = r["window"]["start_s"], r["window"]["end_s"]
    j = 0.0
    if t[0] > a:
        j += w[0] * (min(t[0], b) - a)
    for i in range(1, len(t)):
        lo, hi = max(t[i - 1], a), min(t[i], b)
        if hi > lo:
            slope = (w[i] - w[i - 1]) / (t[i] - t[i - 1])
            j += ((w[i - 1] + slope * (lo - t[i - 1])) + (w[i - 1] + slope * (hi - t[i - 1]))) / 2 * (hi - lo)
    if t[-1] < b:
        j += w[-1] * (b - max(t[-1], a))
    expect("--power-cmd: joules are the samples integrated over the run (%.3f J)" % j, close(e.get("joules"), j, 1e-9),
           (e.get("joules"), j))
    expect("--power-cmd: avg watts = joules / duration", close(e.get("avg_watts"), j / r["duration_s"]), e)
    rc, r, err = run("-m", "gpt-4o-mini", "--url", s.url, "-n", "2", "--power-cmd", "echo 'Combined Power: 1500 mW'")
    expect("mW understood (1.5 W)", rc == 0 and (r or {}).get("power", {}).get("watts", [None])[0] == 1.5,
           (r or {}).get("power"))
    rc, out, err = run("-m", "gpt-4o-mini", "--url", s.url, "-n", "2", "--power-cmd", "exit 3", fmt="table")
    expect("a failing power command: the run goes on, a note says why", rc == 0 and "power command failed" in out and
           "exit status 3" in out, out[-600:])

    # local vs cloud, side by side
    local = os.path.join(TMP.name, "local.json")
    cloud = os.path.join(TMP.name, "cloud.json")
    subprocess.run([MLXBENCH, "run", "--mock", "-m", "small", "-n", "6", "--max-tokens", "16", "--watts", "30",
                    "--kwh-price", "0.25", "-o", local, "-q"], capture_output=True, timeout=60)
    subprocess.run([MLXBENCH, "run", "-m", "gpt-4o-mini", "--url", s.url, "-n", "6", "--price", "0.15/0.60",
                    "-o", cloud, "-q"], capture_output=True, timeout=60)
    p = subprocess.run([MLXBENCH, "compare", local, cloud], capture_output=True, text=True, timeout=60)
    expect("compare: $ per 1M out and J per out token, local and cloud side by side",
           p.returncode == 0 and "$ per 1M out" in p.stdout and "J per out token" in p.stdout, p.stdout[-900:])
    lj, cj = json.load(open(local))["runs"][0], json.load(open(cloud))["runs"][0]
    row = [l for l in p.stdout.splitlines() if l.startswith("$ per 1M out")]
    expect("compare: the local row is priced by its energy, the cloud one by its API price",
           row and ("$%.2f" % cj["cost"]["usd_per_1m_output"]) in row[0], (row, lj.get("energy"), cj.get("cost")))

# shards merged: joules add up, the price is applied to the merged tokens,
# the TTFT split's counts add up, each source keeps its own server metrics
shards = []
for i in (1, 2):
    f = os.path.join(TMP.name, "shard%d.json" % i)
    subprocess.run([MLXBENCH, "run", "--mock", "-m", "small", "-n", "8", "-c", "2", "--max-tokens", "16",
                    "--shard", "%d/2" % i, "--watts", "20", "--price", "1/2", "-o", f, "-q"], capture_output=True,
                   timeout=60)
    shards.append(json.load(open(f))["runs"][0])
merged = os.path.join(TMP.name, "merged.json")
p = subprocess.run([MLXBENCH, "merge", *[os.path.join(TMP.name, "shard%d.json" % i) for i in (1, 2)], "-o", merged,
                    "--format", "none"], capture_output=True, text=True, timeout=60)
m = json.load(open(merged))["runs"][0] if p.returncode == 0 else {}
expect("merge: shards of a watched, priced run merge (exit 0)", p.returncode == 0, p.stderr)
expect("merge: joules add up", close((m.get("energy") or {}).get("joules"), sum(r["energy"]["joules"] for r in shards)),
       m.get("energy"))
tk = m.get("tokens", {})
expect("merge: the price applied to the merged tokens", close((m.get("cost") or {}).get("usd"),
                                                             (tk.get("input", 0) * 1 + tk.get("output", 0) * 2) / 1e6),
       m.get("cost"))
expect("merge: the split's requests add up", (m.get("ttft_split") or {}).get("requests") ==
       sum(r["ttft_split"]["requests"] for r in shards), m.get("ttft_split"))
expect("merge: each source keeps its server metrics", all(s_.get("server_metrics") for s_ in m.get("sources", [])) and
       len(m.get("sources", [])) == 2, [list(s_) for s_ in m.get("sources", [])])

# bad options, before any request
for args, what in [(["--price", "1"], "--price"), (["--price", "a/b"], "--price"),
                   (["--prices", "/nonexistent.json"], "--prices"), (["--kwh-price", "0.2"], "--kwh-price"),
                   (["--watts", "-1"], "--watts"), (["--watts", "5", "--power-cmd", "echo 1"], "--watts"),
                   (["--prices", write("bad.json", '{"m": {"input": "x"}}')], "--prices")]:
    p = subprocess.run([MLXBENCH, "run", "--mock", "-m", "small", "-n", "1", *args], capture_output=True, text=True,
                       timeout=30)
    expect("bad %s: one line, exit 2" % " ".join(args), p.returncode == 2 and what in p.stderr and
           p.stderr.count("\n") <= 2, p.stderr)
finish()
