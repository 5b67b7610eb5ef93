#!/usr/bin/env python3
# tier: slow (not in tools/test.sh --fast)
"""Every signal honoured (docs/RELIABILITY.md, "Interrupts"; issue 15 items
11 and 13): scripts written to never yield -- a busy main chunk, a busy
spawned task, a busy coroutine inside a task, a busy `on_result` callback
in a benchmark, the same in engine threads, a `pcall` loop that swallows
errors, a task that only ever yields with sleep(0) -- are each stopped by
the first SIGINT/SIGTERM/SIGHUP within the documented time, exit 130 and
say so in one line (no traceback); a benchmark whose callback was stuck
still writes its results, marked interrupted. SIGHUP is SIGTERM (a dropped
SSH session keeps what was measured) unless the process was started with
SIGHUP ignored (nohup). The third signal leaves at once whatever runs.

The benchmarks run against tests/e2e/hostile_server.py's `ok` stream (a
raw-socket server, not the emulator)."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mocklib import expect, finish, die_with_parent, matrix_row, MLXBENCH, ROOT  # noqa: E402

TMP = tempfile.TemporaryDirectory()
BUSY = 0.5        # MB_INTR_BUSY_NS: Lua that keeps the loop away this long is interrupted
SLACK = 2.5       # scheduling slack on a loaded 2-core machine


def clean(err, what):
    expect("%s: no traceback, no sanitizer report" % what,
           "stack traceback" not in err and "Sanitizer" not in err and "runtime error" not in err,
           err[-1200:])


def start(args, preexec=None, env=None):
    def pre():
        die_with_parent()
        if preexec:
            preexec()
    return subprocess.Popen([MLXBENCH] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=pre, env=env, cwd=TMP.name)


def stop_with(p, sigs, settle=0.8, gap=0.3, timeout=15):
    """Sends each signal in sigs (after `settle` s, then `gap` apart);
    returns (rc, out, err, seconds from the first signal to the exit)."""
    time.sleep(settle)
    t0 = time.monotonic()
    for k, s in enumerate(sigs):
        if k:
            time.sleep(gap)
        if p.poll() is None:
            p.send_signal(s)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        return None, out, err, None
    return p.returncode, out, err, time.monotonic() - t0


def script(name, text):
    path = os.path.join(TMP.name, name)
    with open(path, "w") as f:
        f.write(text)
    return path


CASES = [0]   # hostile cases run (RELIABILITY.md's matrix row)


def busy_cases():
    cases = [
        ("main chunk", ["-e", "while true do end"], signal.SIGINT),
        ("main chunk, SIGTERM", ["-e", "local x = 0 while true do x = x + 1 end"], signal.SIGTERM),
        ("main chunk, SIGHUP", ["-e", "while true do end"], signal.SIGHUP),
        ("spawned task", ["-e", "local mb = require 'mlxbench' mb.spawn(function() while true do end end) "
                                "mb.time.sleep(60)"], signal.SIGINT),
        ("coroutine.wrap in a task", ["-e", "coroutine.wrap(function() while true do end end)()"],
         signal.SIGINT),
        ("coroutine.resume in a task", ["-e", "local co = coroutine.create(function() "
                                        "while true do end end) coroutine.resume(co) while true do end"],
         signal.SIGINT),
        ("yields with sleep(0) only", ["-e", "local mb = require 'mlxbench' while true do mb.yield() end"],
         signal.SIGINT),
        ("string building loop", ["-e", "local t = {} while true do t[#t % 1000 + 1] = ('x'):rep(10) end"],
         signal.SIGTERM),
    ]
    CASES[0] += len(cases)
    for what, args, sig in cases:
        p = start(args)
        rc, out, err, took = stop_with(p, [sig])
        expect("%s: %s ends it" % (what, signal.Signals(sig).name), rc == 130,
               "rc=%s err=%s" % (rc, err[-600:]))
        if took is not None:
            expect("%s: within %.1f s" % (what, BUSY + SLACK), took < BUSY + SLACK, "%.2f s" % took)
        clean(err, what)
        if "yield" not in what:
            expect("%s: the message says what and where" % what,
                   "interrupted by %s while running Lua" % signal.Signals(sig).name in err, err[-600:])


def pcall_loop():
    # an error swallowed in a loop: the third signal leaves at once
    CASES[0] += 1
    p = start(["-e", "while true do pcall(function() while true do end end) end"])
    rc, out, err, took = stop_with(p, [signal.SIGINT, signal.SIGINT, signal.SIGINT], gap=0.2)
    expect("pcall loop: the third SIGINT exits 130", rc == 130, "rc=%s %s" % (rc, err[-400:]))
    if took is not None:
        expect("pcall loop: at once after the third", took < 0.4 + SLACK, "%.2f s" % took)


def bench_callbacks(port):
    url = "http://127.0.0.1:%d/ok" % port
    CASES[0] += 2   # a stuck callback; stuck callbacks in engine threads
    out = os.path.join(TMP.name, "cb.json")
    s = script("cb.lua", """
local mb = require "mlxbench"
local n = 0
local run = mb.bench{ target = { url = %r }, model = "m", requests = 400, concurrency = 2,
  max_tokens = 8, on_result = function(r) n = n + 1 if n == 3 then while true do end end end }
local doc = mb.results.new()
mb.results.add(doc, run)
mb.results.write(doc, %r)
print("written", run.requests.total, run.requests.ok)
""" % (url, out))
    p = start([s])
    rc, o, err, took = stop_with(p, [signal.SIGINT], settle=1.0)
    expect("stuck on_result: exit 130", rc == 130, "rc=%s %s" % (rc, err[-800:]))
    clean(err, "stuck on_result")
    expect("stuck on_result: the task named", "a task was interrupted by SIGINT" in err
           and "cb.lua:5" in err, err[-600:])
    expect("stuck on_result: results written", os.path.exists(out) and "written" in o, o + err[-400:])
    if os.path.exists(out):
        run = json.load(open(out))["runs"][0]
        q = run["requests"]
        expect("stuck on_result: marked interrupted, requests accounted",
               run.get("interrupted") is True and q["total"] == q["ok"] + q["failed"]
               and q["ok"] >= 3, str(q))

    # engine threads: a callback stuck in each worker
    init = script("ti.lua", "local n = 0\nreturn { on_result = function(r) n = n + 1 "
                            "if n == 2 then while true do end end end }\n")
    out2 = os.path.join(TMP.name, "thr.json")
    s = script("thr.lua", """
local mb = require "mlxbench"
local run = mb.bench{ target = { url = %r }, model = "m", requests = 400, concurrency = 4,
  max_tokens = 8, threads = 2, thread_init = %r }
local doc = mb.results.new()
mb.results.add(doc, run)
mb.results.write(doc, %r)
""" % (url, init, out2))
    p = start([s])
    rc, o, err, took = stop_with(p, [signal.SIGTERM], settle=1.2)
    expect("engine threads, stuck callbacks: exit 130", rc == 130, "rc=%s %s" % (rc, err[-800:]))
    clean(err, "engine threads")
    expect("engine threads: each stuck worker interrupted", err.count("ti.lua:2") == 2, err[-800:])
    if took is not None:
        expect("engine threads: ended within %.1f s" % (BUSY + SLACK), took < BUSY + SLACK,
               "%.2f s" % took)
    if expect("engine threads: results written", os.path.exists(out2), err[-400:]):
        run = json.load(open(out2))["runs"][0]
        expect("engine threads: merged and marked interrupted", run.get("interrupted") is True
               and run["requests"]["ok"] >= 4, str(run["requests"]))


def hangup(port):
    # a dropped SSH session: SIGHUP mid-run keeps what was measured
    CASES[0] += 2   # SIGHUP; SIGHUP ignored at start
    out = os.path.join(TMP.name, "hup.json")
    args = ["run", "-m", "m", "--url", "http://127.0.0.1:%d/slow" % port, "-n", "200", "-c", "2",
            "--warmup", "0", "--max-tokens", "8", "--grace", "1", "-o", out, "--progress", "none"]
    p = start(args)
    rc, o, err, took = stop_with(p, [signal.SIGHUP], settle=1.5)
    expect("SIGHUP: exit 130 like SIGTERM", rc == 130, "rc=%s %s" % (rc, err[-600:]))
    expect("SIGHUP: named on stderr", "SIGHUP received" in err, err[-400:])
    if expect("SIGHUP: results written", os.path.exists(out), err[-400:]):
        run = json.load(open(out))["runs"][0]
        expect("SIGHUP: results marked interrupted", run.get("interrupted") is True, str(run.keys()))
        expect("SIGHUP: some requests measured", run["requests"]["ok"] > 0, str(run["requests"]))
    # started under nohup (SIGHUP ignored): it keeps running
    p = start(["-e", "require('mlxbench').time.sleep(2.5) print('survived')"],
              preexec=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    rc, o, err, took = stop_with(p, [signal.SIGHUP], settle=0.5)
    expect("SIGHUP ignored at start (nohup): the run goes on", rc == 0 and "survived" in o,
           "rc=%s %s" % (rc, err[-300:]))


def main():
    srv = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests/e2e/hostile_server.py")],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, preexec_fn=die_with_parent)
    port = int(srv.stdout.readline().split()[1])
    try:
        busy_cases()
        pcall_loop()
        bench_callbacks(port)
        hangup(port)
        matrix_row("signals,", CASES[0])
    finally:
        srv.stdin.close()
        srv.terminate()
        srv.wait(5)
    finish()


if __name__ == "__main__":
    main()
