#!/usr/bin/env python3
"""The server process on the timeline (issue 20, item 3): `--server-pid
auto` finds the process listening on the target's loopback port (a test
server in its own process, realserver.py, made to hold memory and burn CPU
while it generates) and samples its CPU %, RSS and threads; the figures
match what that process says of itself (its CPU seconds, its peak RSS; its
RSS from ps(1)) before and after the run; peak RSS is in the table. `--server-pid PID` takes it by number; a process that does
not exist, a port nothing listens on and a remote host are one-line errors.
"""
import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mocklib import expect, finish, ps_rss, MLXBENCH, fails_so_far   # noqa: E402
from realserver import Server                    # noqa: E402

def truth(server):
    """what the test server says of itself: CPU seconds (all threads),
    threads, peak RSS -- and its RSS now, from ps(1)"""
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    c.request("GET", "/_proc")
    d = json.loads(c.getresponse().read())
    c.close()
    return d["cpu_s"], ps_rss(server.proc.pid), d["threads"], d["peak_rss"]


def run(*args):
    p = subprocess.run([MLXBENCH, "run", *args, "--progress", "none"], capture_output=True, text=True, timeout=180)
    return p


PLATFORM = subprocess.run([MLXBENCH, "-e", "io.write(require('mlxbench._sys').platform)"],
                          capture_output=True, text=True).stdout
if PLATFORM == "posix":
    # the portable layer cannot read another process: a one-line error, then a skip
    with Server("--flavor", "vllm", "--natural", "4") as s:
        for spec in ("auto", str(s.proc.pid)):
            p = run("-m", "Qwen/Qwen2.5-7B-Instruct", "--url", s.url, "-n", "1", "--server-pid", spec)
            err = p.stderr.strip()
            expect("posix build, --server-pid %s: one line saying the platform cannot" % spec,
                   p.returncode != 0 and "platform layer (posix) cannot read another process" in err
                   and len(err.splitlines()) == 1, (p.returncode, err))
    if fails_so_far():
        finish()
    print("SKIP: this build's platform layer (posix) cannot sample another process (its error checked)")
    sys.exit(77)

with Server("--flavor", "vllm", "--natural", "60", "--itl", "0.004", "--ttft", "0.01") as s:
    pid = s.proc.pid
    cpu0, rss0, thr0, _ = truth(s)
    p = run("-m", "Qwen/Qwen2.5-7B-Instruct", "--url", s.url, "-c", "4", "-n", "24", "--server-pid", "auto",
            "--metrics-interval", "0.1", "--format", "json")
    cpu1, rss1, thr1, peak1 = truth(s)
    expect("--server-pid auto: exit 0", p.returncode == 0, p.stderr[-600:])
    r = json.loads(p.stdout)["runs"][0] if p.returncode == 0 else {}
    sp = r.get("server_process") or {}
    expect("auto found the test server's pid %d" % pid, sp.get("pid") == pid, sp.get("pid"))
    expect("its name", sp.get("name", "").startswith("python"), sp.get("name"))
    n = sp.get("samples", 0)
    expect("sampled every 0.1 s over the run (%d samples)" % n, n >= 5 and len(sp.get("t", [])) == n and
           len(sp.get("cpu_pct", [])) == n and len(sp.get("rss_bytes", [])) == n, sp)
    # the CPU it used between the first and last sample lies within what
    # it says it used over the whole run (the system counts in ticks: 10 ms)
    used = sp.get("cpu_s")
    expect("CPU seconds sampled (%s) within the server's own %.2f s over the run" % (used, cpu1 - cpu0),
           used is not None and 0 < used <= cpu1 - cpu0 + 0.02, (used, cpu1 - cpu0))
    pcts = [x for x in sp.get("cpu_pct", []) if x is not None]
    expect("CPU %% per sample: a Python server streaming 4 answers uses some (max %.0f%%)" % max(pcts or [0]),
           pcts and max(pcts) > 0 and all(0 <= x <= 100 * os.cpu_count() + 50 for x in pcts), pcts)
    rss = [x for x in sp.get("rss_bytes", []) if x is not None]
    expect("RSS samples between ps's before and after (+- 16 MiB), under the server's own peak", rss and
           min(rss) >= min(rss0, rss1) - (16 << 20) and max(rss) <= max(rss0, rss1) + (16 << 20) and
           max(rss) <= peak1 + (1 << 20), (min(rss or [0]), max(rss or [0]), rss0, rss1, peak1))
    expect("peak RSS is the largest sample", sp.get("peak_rss_bytes") == max(rss or [0]), sp.get("peak_rss_bytes"))
    thr = [x for x in sp.get("threads", []) if x is not None]
    expect("threads: the server's handler threads show (%s)" % (max(thr or [0]),), thr and max(thr) >= 2, thr)
    # the table and the HTML
    p = run("-m", "Qwen/Qwen2.5-7B-Instruct", "--url", s.url, "-n", "4", "--server-pid", str(pid), "--html",
            os.path.join(os.environ.get("TMPDIR", "/tmp"), "pid_%d.html" % os.getpid()))
    expect("--server-pid PID: the table has Peak RSS", p.returncode == 0 and "Peak RSS" in p.stdout and "MiB" in p.stdout,
           p.stdout[-800:] + p.stderr[-300:])
    page = open(os.path.join(os.environ.get("TMPDIR", "/tmp"), "pid_%d.html" % os.getpid())).read()
    expect("the HTML timeline draws its CPU and RSS", 'data-chart="server-cpu"' in page and
           'data-chart="server-rss"' in page and ('data-pid="%d"' % pid) in page)
    os.unlink(os.path.join(os.environ.get("TMPDIR", "/tmp"), "pid_%d.html" % os.getpid()))

# errors: one line, exit 2, before any request
for args, what in [(["--url", "http://127.0.0.1:9", "--server-pid", "auto"], "nothing listens on port 9"),
                   (["--mock", "--server-pid", "999999999"], "no such process"),
                   (["--mock", "--server-pid", "x"], "want a process id or auto"),
                   (["--url", "http://example.invalid:8000", "--server-pid", "auto"], "is not this machine")]:
    p = run("-m", "small", "-n", "1", *args)
    expect("%s: one line, exit 2" % what, p.returncode == 2 and what in p.stderr and p.stderr.count("\n") <= 2,
           p.stderr)
# --mock: the emulator is this process
p = run("--mock", "-m", "small", "-n", "4", "--server-pid", "auto", "--format", "json")
r = json.loads(p.stdout)["runs"][0] if p.returncode == 0 else {}
expect("--mock --server-pid auto samples mlxbench itself (the emulator runs in it)",
       (r.get("server_process") or {}).get("name") == "mlxbench", r.get("server_process"))
finish()
