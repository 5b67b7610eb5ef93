#!/usr/bin/env python3
"""Server metrics on the run's timeline (issue 20, item 2).

1. Debian's prometheus-node-exporter, an exporter no one here wrote,
   started on loopback: `mlxbench run --mock --metrics-url .../metrics
   --metrics-keep node_cpu_seconds_total` keeps every one of its
   node_cpu_seconds_total series (the label sets a scrape of our own finds),
   as counters that never go down, between what we scraped before and after
   the run, at the interval asked; the HTML report draws them. Skipped (77)
   without the package (tools/deps.sh test installs it).
2. A test server speaking vLLM's metric names (realserver --metrics) with 2
   running slots, loaded with 4 streams: its /metrics is found without
   being named (the probe's silent part), running peaks at exactly 2, some
   requests wait, and the generation rate integrated over the scrapes is the
   tokens the server generated in that time, exactly.
3. The emulator's /metrics on `run --mock`; --no-metrics; a /metrics that
   fails (404) leaves the run intact and says so; bad options are one line.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mocklib import expect, finish, MLXBENCH   # noqa: E402
from realserver import Server                    # noqa: E402
from httpenv import free_port, wait_port, die_with_parent   # noqa: E402

TMP = tempfile.TemporaryDirectory()


def run_json(*args, timeout=180):
    p = subprocess.run([MLXBENCH, "run", *args, "--format", "json", "--progress", "none"], capture_output=True,
                       text=True, timeout=timeout)
    try:
        return p.returncode, json.loads(p.stdout)["runs"][0], p.stderr
    except (ValueError, KeyError, IndexError):
        return p.returncode, None, p.stderr + p.stdout[-500:]


def scrape(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read().decode()


def cpu_series(text):
    """{(cpu, mode): value} of node_cpu_seconds_total in a scrape"""
    out = {}
    for line in text.splitlines():
        if line.startswith("node_cpu_seconds_total{"):
            labels, value = line[len("node_cpu_seconds_total{"):].split("} ")
            kv = dict(x.split("=", 1) for x in labels.split(","))
            out[(kv["cpu"].strip('"'), kv["mode"].strip('"'))] = float(value)
    return out


# ------------------------------------------------------- 1. node_exporter
exporter = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
if not exporter:
    print("SKIP: prometheus-node-exporter is not installed (tools/deps.sh test installs it)")
    sys.exit(77)
port = free_port()
ne = subprocess.Popen([exporter, "--web.listen-address=127.0.0.1:%d" % port], stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL, preexec_fn=die_with_parent)
try:
    wait_port(port, ne, "node_exporter")
    murl = "http://127.0.0.1:%d/metrics" % port
    before = cpu_series(scrape(murl))
    html = os.path.join(TMP.name, "ne.html")
    rc, r, err = run_json("--mock", "-m", "small", "-n", "24", "-c", "2", "--max-tokens", "48",
                          "--metrics-url", murl, "--metrics-keep", "node_cpu_seconds_total",
                          "--metrics-interval", "0.25", "--html", html)
    after = cpu_series(scrape(murl))
    expect("node_exporter run: exit 0", rc == 0 and r is not None, err[-800:])
    sm = (r or {}).get("server_metrics") or {}
    series = [s for s in sm.get("series", []) if s["name"] == "node_cpu_seconds_total"]
    keys = {(s["labels"]["cpu"], s["labels"]["mode"]) for s in series}
    expect("every node_cpu_seconds_total series kept (%d)" % len(before), keys == set(before) and len(before) > 0,
           (sorted(keys)[:5], len(before)))
    expect("only what --metrics-keep matched", all(s["name"] == "node_cpu_seconds_total"
                                                   for s in sm.get("series", [])), {s["name"] for s in sm.get("series", [])})
    t = sm.get("t", [])
    expect("scrapes every 0.25 s over the run (%d)" % len(t), len(t) >= 4 and sm.get("failed") == 0 and
           sm.get("scrapes") == len(t), (len(t), sm.get("scrapes"), sm.get("failed"), sm.get("first_error")))
    gaps = sorted(b - a for a, b in zip(t, t[1:]))
    if gaps:
        med = gaps[len(gaps) // 2]
        expect("the interval is the one asked (median %.3f s)" % med, 0.2 <= med <= 0.35, gaps)
    expect("the first scrape is at the run's start", t and abs(t[0]) < 0.1, t[:2])
    ok_mono, ok_range = True, True
    for s in series:
        k = (s["labels"]["cpu"], s["labels"]["mode"])
        v = [x for x in s["values"] if x is not None]
        if any(b < a for a, b in zip(v, v[1:])):
            ok_mono = False
        if v and not (before[k] - 1e-9 <= v[0] and v[-1] <= after[k] + 1e-9):
            ok_range = False
    expect("counters never go down", ok_mono)
    expect("every value lies between our own scrapes before and after the run", ok_range)
    expect("no known vLLM/SGLang/TGI/llama.cpp names: nothing mapped", sm.get("mapped") is None, sm.get("mapped"))
    page = open(html).read() if os.path.exists(html) else ""
    expect("the HTML report draws the kept series under the throughput timeline",
           'data-chart="throughput-timeline"' in page and 'data-name="node_cpu_seconds_total"' in page and
           page.index('data-chart="throughput-timeline"') < page.index('data-name="node_cpu_seconds_total"'))
finally:
    ne.terminate()
    ne.wait(5)

# --------------------------------------------------- 2. vLLM's names
with Server("--flavor", "vllm", "--metrics", "--max-running", "2", "--natural", "40", "--itl", "0.01",
            "--ttft", "0.02") as s:
    rc, r, err = run_json("-m", "Qwen/Qwen2.5-7B-Instruct", "--url", s.url, "-c", "4", "-n", "16",
                          "--metrics-interval", "0.1")
    expect("vLLM-names run: exit 0", rc == 0 and r is not None, err[-800:])
    sm = (r or {}).get("server_metrics") or {}
    expect("its /metrics found without --metrics-url", sm.get("url") == s.url + "/metrics", sm.get("url"))
    mp = sm.get("mapped") or {}
    expect("mapped as vLLM", sm.get("server") == "vllm", sm.get("server"))
    expect("running peaks at exactly the 2 slots", (mp.get("running") or {}).get("max") == 2, mp.get("running"))
    expect("requests waited", 1 <= ((mp.get("waiting") or {}).get("max") or 0) <= 2, mp.get("waiting"))
    expect("KV usage mapped (gpu_cache_usage_perc)", "kv_usage" in mp, list(mp))
    # the generation counter's rate, integrated over the scrapes, is the
    # tokens generated between the first and the last scrape: the run's own
    t = sm.get("t", [])
    rates = (mp.get("generation_tok_s") or {}).get("values", [])
    total = sum((b - a) * v for a, b, v in zip(t, t[1:], rates[1:]) if v is not None)
    out_tok = (r or {}).get("tokens", {}).get("output")
    expect("the generation rate integrates to the run's %s output tokens (%.3f)" % (out_tok, total),
           out_tok is not None and abs(total - out_tok) < 1e-6 * max(1, out_tok), (total, out_tok))
    p = subprocess.run([MLXBENCH, "run", "-m", "Qwen/Qwen2.5-7B-Instruct", "--url", s.url, "-n", "4", "-c", "2",
                        "--progress", "none"], capture_output=True, text=True, timeout=120)
    expect("the table shows the Server section with running 2 at most",
           "Server (its /metrics" in p.stdout and "Running mean/max" in p.stdout, p.stdout[-1500:])
    rc, r, err = run_json("-m", "Qwen/Qwen2.5-7B-Instruct", "--url", s.url, "-n", "2", "--no-metrics")
    expect("--no-metrics: no scraping", rc == 0 and r and "server_metrics" not in r, r and list(r))

# ------------------------------------------ 3. emulator, failures, options
rc, r, err = run_json("--mock", "-m", "small", "-n", "8", "-c", "4", "--max-tokens", "32")
sm = (r or {}).get("server_metrics") or {}
expect("--mock: the emulator's /metrics on the timeline", rc == 0 and (sm.get("mapped") or {}).get("running")
       and sm["mapped"]["running"]["max"] <= 4 and sm["mapped"]["running"]["max"] >= 1, sm.get("mapped"))
with Server("--flavor", "ollama") as s:
    rc, r, err = run_json("-m", "llama3.2:3b", "--url", s.url, "-n", "3", "--metrics-url", s.url + "/metrics")
    sm = (r or {}).get("server_metrics") or {}
    expect("a /metrics that answers 404: the run is intact, every scrape counted as failed",
           rc == 0 and r["requests"]["ok"] == 3 and sm.get("failed") == sm.get("scrapes") and sm.get("scrapes", 0) >= 2
           and "404" in (sm.get("first_error") or ""), sm)
    p = subprocess.run([MLXBENCH, "run", "-m", "llama3.2:3b", "--url", s.url, "-n", "2", "--progress", "none",
                        "--metrics-url", s.url + "/metrics"], capture_output=True, text=True, timeout=60)
    expect("... and the notes say so", "scrapes of" in p.stdout and "failed" in p.stdout, p.stdout[-600:])
for args, what in [(["--metrics-keep", "node_("], "--metrics-keep"), (["--metrics-url", "ftp://x/metrics"],
                                                                       "--metrics-url"),
                   (["--metrics-interval", "0"], "--metrics-interval")]:
    p = subprocess.run([MLXBENCH, "run", "--mock", "-m", "small", "-n", "1", *args], capture_output=True,
                       text=True, timeout=30)
    expect("bad %s: one line, exit 2" % what, p.returncode == 2 and p.stderr.count("\n") <= 2 and
           what in p.stderr and "traceback" not in p.stderr, p.stderr)
finish()
