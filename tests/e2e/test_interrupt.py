#!/usr/bin/env python3
# tier: slow (not in tools/test.sh --fast)
"""Interrupts with real signals (docs/RELIABILITY.md, "Interrupts"):

  grace      SIGINT while 4 long streams are in flight, --grace 1: no new
             request starts, the 4 are aborted after 1 s (kind `aborted`,
             "grace period"), results written with "interrupted": true,
             exit 130
  finish     SIGINT with short requests in flight and the default grace:
             they finish normally (no abort), exit 130
  second     SIGINT, then SIGINT again during a 30 s grace: in-flight
             requests aborted at once ("second interrupt"), results written
  sigterm    SIGTERM behaves as SIGINT
  third      three SIGINTs: the process leaves at once (exit 130)
  script     a bench{} script with no interrupt hook of its own: bench
             installs one, the script writes its results, exit 130
  open_loop  --rate 0.05 (one send per 20 s): the dispatcher notices the
             stop at once instead of sleeping until the next send
  writes     -o into a missing folder, onto /dev/full (disk full), onto a
             directory: exit 2, one line naming the path, figures printed,
             no temp file left, /dev/full still a device
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mocklib import expect, finish, die_with_parent, MLXBENCH  # noqa: E402

TMP = tempfile.TemporaryDirectory()


def start(args, name):
    out = os.path.join(TMP.name, name + ".json")
    err = open(os.path.join(TMP.name, name + ".err"), "w+")
    p = subprocess.Popen([MLXBENCH] + args + ["-o", out] if args[0] == "run" else [MLXBENCH] + args,
                         stdout=subprocess.PIPE, stderr=err, preexec_fn=die_with_parent)
    return p, out, err


def wait(p, limit):
    t0 = time.monotonic()
    try:
        p.wait(limit)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        return None, time.monotonic() - t0
    return p.returncode, time.monotonic() - t0


def load(out):
    try:
        return json.load(open(out))
    except (OSError, ValueError):
        return None


def stderr_of(err):
    err.seek(0)
    return err.read()


def check_doc(name, doc, n_min, n_max):
    if not expect("%s: results written" % name, doc is not None):
        return None
    run = doc["runs"][0]
    q = run["requests"]
    expect("%s: marked interrupted" % name, run.get("interrupted") is True, str(run.keys()))
    expect("%s: total = ok + failed" % name, q["total"] == q["ok"] + q["failed"], str(q))
    expect("%s: %d..%d requests (no new ones after the signal)" % (name, n_min, n_max),
           n_min <= q["total"] <= n_max, str(q))
    expect("%s: one per_request entry each" % name, len(run["per_request"]) == q["total"])
    return run


LONG = ["run", "--mock", "-m", "large", "--max-tokens", "300", "-c", "4", "-n", "100",
        "--warmup", "0", "--progress", "none"]

# grace: 4 streams of ~33 s each in flight; aborted 1 s after the signal
p, out, err = start(LONG + ["--grace", "1"], "grace")
time.sleep(2.0)
t_sig = time.monotonic()
p.send_signal(signal.SIGINT)
rc, took = wait(p, 20)
expect("grace: exit 130", rc == 130, "rc=%s %s" % (rc, stderr_of(err)[-800:]))
expect("grace: ends ~1 s after the signal (grace), not at the streams' end",
       0.8 < time.monotonic() - t_sig < 6, "%.2f s" % (time.monotonic() - t_sig))
run = check_doc("grace", load(out), 4, 4)
if run:
    expect("grace: the 4 in flight were aborted", run["requests"]["errors"] == {"aborted": 4},
           str(run["requests"]))
    msgs = {(x.get("error") or {}).get("message") for x in run["per_request"]}
    expect("grace: abort says why", all(m and "grace period" in m for m in msgs), str(msgs))
expect("grace: stderr explains", "waiting up to 1 s" in stderr_of(err), stderr_of(err)[-500:])
expect("grace: figures still printed", b"Latency" in p.stdout.read())

# finish: short requests in flight complete inside the default grace
p, out, err = start(["run", "--mock", "-m", "small", "--max-tokens", "40", "-c", "2", "-n", "1000",
                     "--warmup", "0", "--progress", "none"], "finish")
time.sleep(1.5)
t_sig = time.monotonic()
p.send_signal(signal.SIGINT)
rc, took = wait(p, 20)
expect("finish: exit 130", rc == 130, "rc=%s %s" % (rc, stderr_of(err)[-800:]))
expect("finish: done within a second (requests finished, no 5 s wait)",
       time.monotonic() - t_sig < 2.5, "%.2f" % (time.monotonic() - t_sig))
run = check_doc("finish", load(out), 2, 200)
if run:
    expect("finish: nothing aborted, every request ok", run["requests"]["failed"] == 0,
           str(run["requests"]))

# second: a second SIGINT aborts at once even with a long grace
p, out, err = start(LONG + ["--grace", "30"], "second")
time.sleep(2.0)
p.send_signal(signal.SIGINT)
time.sleep(1.0)
t_sig = time.monotonic()
p.send_signal(signal.SIGINT)
rc, took = wait(p, 20)
expect("second: exit 130", rc == 130, "rc=%s %s" % (rc, stderr_of(err)[-800:]))
expect("second: ends at once after the second signal", time.monotonic() - t_sig < 3,
       "%.2f" % (time.monotonic() - t_sig))
run = check_doc("second", load(out), 4, 4)
if run:
    expect("second: in flight aborted", run["requests"]["errors"] == {"aborted": 4},
           str(run["requests"]))
    msgs = {(x.get("error") or {}).get("message") for x in run["per_request"]}
    expect("second: abort says why", all(m and "second interrupt" in m for m in msgs), str(msgs))

# threads: with --threads 2 the workers stop sending, honour the grace
# period, abort what is left, and hand back their part of the results
for name, second in (("threads_grace", False), ("threads_second", True)):
    p, out, err = start(LONG + ["--threads", "2", "--grace", "1" if not second else "30"], name)
    time.sleep(2.0)
    p.send_signal(signal.SIGINT)
    if second:
        time.sleep(0.5)
        p.send_signal(signal.SIGINT)
    t_sig = time.monotonic()
    rc, took = wait(p, 20)
    expect("%s: exit 130" % name, rc == 130, "rc=%s %s" % (rc, stderr_of(err)[-800:]))
    expect("%s: ends after the grace / at once, not at the streams' end" % name,
           time.monotonic() - t_sig < (4 if not second else 3), "%.2f s" % (time.monotonic() - t_sig))
    run = check_doc(name, load(out), 4, 4)
    if run:
        expect("%s: the 4 in flight (2 per thread) were aborted" % name,
               run["requests"]["errors"] == {"aborted": 4}, str(run["requests"]))
        expect("%s: both threads' requests are in the results" % name,
               sorted({x.get("thread") for x in run["per_request"]}) == [1, 2],
               str([x.get("thread") for x in run["per_request"]]))

# sigterm: as SIGINT
p, out, err = start(LONG + ["--grace", "0.5"], "sigterm")
time.sleep(2.0)
p.send_signal(signal.SIGTERM)
rc, took = wait(p, 20)
expect("sigterm: exit 130", rc == 130, "rc=%s %s" % (rc, stderr_of(err)[-800:]))
run = check_doc("sigterm", load(out), 4, 4)
if run:
    expect("sigterm: in flight aborted", run["requests"]["errors"] == {"aborted": 4},
           str(run["requests"]))

# third: leaves at once
p, out, err = start(LONG + ["--grace", "30"], "third")
time.sleep(2.0)
for _ in range(3):
    p.send_signal(signal.SIGINT)
    time.sleep(0.2)
rc, took = wait(p, 10)
expect("third: exit 130 at once", rc == 130 and took < 3, "rc=%s %.2f" % (rc, took))

# script: bench{} without a hook of its own; the script writes its results
script = os.path.join(TMP.name, "s.lua")
sout = os.path.join(TMP.name, "script.json")
with open(script, "w") as f:
    f.write("""
local mb = require "mlxbench"
local results = require "mlxbench.results"
local srv = mb.mock.start{ port = 0 }
local run = mb.bench{ target = { url = srv.url }, model = "mlx-community/Llama-3.3-70B-Instruct-4bit",
                      max_tokens = 300, concurrency = 2, requests = 50 }
srv:stop()
local doc = results.new()
results.add(doc, run)
results.write(doc, %s)
print("written", run.requests.total, run.interrupted)
""" % json.dumps(sout))
p = subprocess.Popen([MLXBENCH, script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                     preexec_fn=die_with_parent)
time.sleep(2.0)
p.send_signal(signal.SIGINT)
rc, took = wait(p, 20)
so = p.stdout.read().decode()
expect("script: exit 130", rc == 130, "rc=%s %s" % (rc, p.stderr.read().decode()[-800:]))
expect("script: the script went on and wrote its results", "written\t2\ttrue" in so, so)
check_doc("script", load(sout), 2, 2)

# open loop, a send every 20 s: stops at once
p, out, err = start(["run", "--mock", "-m", "small", "--max-tokens", "8", "--rate", "0.05",
                     "--arrival", "constant", "-n", "5", "--progress", "none"], "open_loop")
time.sleep(1.5)
t_sig = time.monotonic()
p.send_signal(signal.SIGINT)
rc, took = wait(p, 20)
expect("open_loop: exit 130 within 1 s", rc == 130 and time.monotonic() - t_sig < 1.5,
       "rc=%s %.2f" % (rc, time.monotonic() - t_sig))
check_doc("open_loop", load(out), 0, 1)

# suite: --grace applies; the rows not yet started are not run; what was
# measured is written, exit 130
sout = os.path.join(TMP.name, "suite.json")
serr = open(os.path.join(TMP.name, "suite.err"), "w+")
p = subprocess.Popen([MLXBENCH, "suite", "--mock", "--max-tokens", "3000", "--ignore-eos", "-n", "2", "--grace", "1",
                      "--progress", "none", "-o", sout], stdout=subprocess.PIPE, stderr=serr,
                     preexec_fn=die_with_parent)
time.sleep(2.5)
t_sig = time.monotonic()
p.send_signal(signal.SIGINT)
rc, took = wait(p, 20)
expect("suite: exit 130, ~1 s after the signal (--grace 1)",
       rc == 130 and 0.8 < time.monotonic() - t_sig < 6,
       "rc=%s %.2f s %s" % (rc, time.monotonic() - t_sig, stderr_of(serr)[-500:]))
doc = load(sout)
if expect("suite: results written", doc is not None):
    expect("suite: only the row in flight, marked interrupted",
           len(doc["runs"]) == 1 and doc["runs"][0].get("interrupted") is True,
           str([(r["name"], r.get("interrupted")) for r in doc["runs"]]))
expect("suite: says the remaining rows are not run", "remaining rows are not run" in stderr_of(serr))

# writes that fail: a clear error naming the path, the figures still printed
for target, why in (("/nonexistent/dir/x.json", "No such file or directory"),
                    ("/dev/full", "No space left on device"), (TMP.name, "is a directory")):
    p = subprocess.run([MLXBENCH, "run", "--mock", "-m", "small", "-n", "2", "--warmup", "0",
                        "--max-tokens", "8", "--progress", "none", "-o", target],
                       capture_output=True, text=True, timeout=60)
    expect("write to %s: exit 2" % target, p.returncode == 2, "rc=%d" % p.returncode)
    expect("write to %s: one line naming the path and why" % target,
           ("cannot write %s: " % target) in p.stderr and why in p.stderr, p.stderr[-500:])
    expect("write to %s: the figures are printed anyway" % target,
           "Latency" in p.stdout and "2/2" in p.stdout, p.stdout[-500:])
expect("/dev/full is still a device (never renamed over)",
       os.path.exists("/dev/full") and not os.path.isfile("/dev/full"))
leftovers = [n for n in os.listdir(TMP.name) if n.endswith(".tmp")]
expect("no temp files left behind", not leftovers, str(leftovers))

finish()
