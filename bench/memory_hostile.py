#!/usr/bin/env python3
"""Client memory per hostile stream (docs/RELIABILITY.md, "Resources").

    bench/memory_hostile.py [--streams 50] [--max-body 67108864] [--repeat 3]
                            [MLXBENCH [BASELINE_MLXBENCH ...]]

tests/e2e/hostile_server.py serves each client N streams at once, in turn:
`ok` (a normal 3-token stream: the floor) and `endless` (valid content
events as fast as the socket takes them, until the client's max_body ends
the request). For each binary given (default build/mlxbench) the peak RSS
of the client process (getrusage) is measured after each case; printed:
the medians over --repeat runs, and (flood - floor) / N, the cost of one
flooding stream. Give the binary of another commit as a second argument to
see both in one run."""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

SCRIPT = """
local mb = require "mlxbench"
local url, n, max_body = ...
local run = mb.bench{ target = { url = url }, model = "m", requests = tonumber(n),
  concurrency = tonumber(n), max_tokens = 8, max_body = tonumber(max_body), timeout = 120,
  keep_requests = false }
io.write(string.format("%d %d %d\\n", require("mlxbench._sys").max_rss(), run.requests.ok,
  run.requests.failed))
"""


def measure(binary, url, n, max_body, script):
    p = subprocess.run([binary, script, url, str(n), str(max_body)], capture_output=True,
                       text=True, timeout=600)
    if p.returncode != 0:
        raise SystemExit("%s failed: %s" % (binary, p.stderr[-800:]))
    rss, ok, failed = (int(x) for x in p.stdout.split())
    return rss, ok, failed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--streams", type=int, default=50)
    ap.add_argument("--max-body", type=int, default=64 << 20)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("binaries", nargs="*")
    a = ap.parse_args()
    binaries = a.binaries or [os.environ.get("MLXBENCH", os.path.join(ROOT, "build", "mlxbench"))]
    srv = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests/e2e/hostile_server.py")],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    port = int(srv.stdout.readline().split()[1])
    tmp = tempfile.TemporaryDirectory()
    script = os.path.join(tmp.name, "mem.lua")
    with open(script, "w") as f:
        f.write(SCRIPT)
    try:
        print("%d streams at once, max_body %d MiB, medians of %d runs" % (
            a.streams, a.max_body >> 20, a.repeat))
        print("%-40s %12s %12s %16s" % ("binary", "floor MB", "flood MB", "per flood KB"))
        for b in binaries:
            floor, flood = [], []
            for _ in range(a.repeat):
                rss, ok, _ = measure(b, "http://127.0.0.1:%d/ok" % port, a.streams, a.max_body, script)
                assert ok == a.streams, "the normal streams must succeed"
                floor.append(rss)
                rss, _, failed = measure(b, "http://127.0.0.1:%d/endless" % port, a.streams,
                                         a.max_body, script)
                assert failed == a.streams, "every flood must end at max_body"
                flood.append(rss)
            f0, f1 = statistics.median(floor), statistics.median(flood)
            print("%-40s %12.1f %12.1f %16.0f" % (b[-40:], f0 / 1e6, f1 / 1e6,
                                                  (f1 - f0) / a.streams / 1024))
    finally:
        srv.stdin.close()
        srv.terminate()
        srv.wait(5)


if __name__ == "__main__":
    main()
