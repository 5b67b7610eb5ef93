#!/usr/bin/env python3
"""Where output goes, and when it cannot (docs/RELIABILITY.md, "Writing
results"; issue 15 items 7, 12, 14, 19):

  closed descriptors  started with stdin, stdout or stderr closed (`<&-`,
                      `>&-`, `2>&-`), `run` and `mock` work and exit
                      normally instead of aborting in libuv (they get
                      /dev/null)
  lost output         stdout on a full disk (/dev/full): `run`, `report`,
                      `--help` and a script exit 2 with one line on stderr
  fifos               `-o FIFO` with no reader fails at once (exit 2, one
                      line), never hangs deaf to signals; with a reader the
                      reader gets the JSON
  symlinks            `-o LINK` writes the link's target and keeps the link;
                      a dangling link creates its target; a loop or a
                      target in a missing folder is one line, exit 2

Runs go against tests/e2e/hostile_server.py's `ok` stream."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mocklib import expect, finish, die_with_parent, matrix_row, MLXBENCH, ROOT  # noqa: E402

TMP = tempfile.TemporaryDirectory()
CASES = [0]   # hostile cases run (RELIABILITY.md's matrix row)


def f(name):
    return os.path.join(TMP.name, name)


def sh(cmd, timeout=60):
    """Runs a shell command line (for <&- and >&-); returns rc, stdout,
    stderr -- rc None if it hung (then its whole process group is killed)."""
    p = subprocess.Popen(["bash", "-c", cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, cwd=TMP.name, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        return -1, out, err + "\n(hung: killed after %d s)" % timeout
    return p.returncode, out, err


def clean(err, what):
    expect("%s: no abort, traceback or sanitizer report" % what,
           "Assertion" not in err and "stack traceback" not in err and "Sanitizer" not in err
           and "runtime error" not in err, err[-800:])


def closed_descriptors(run):
    for redir, what in (("<&-", "stdin"), (">&-", "stdout"), ("2>&-", "stderr"),
                        ("<&- >&- 2>&-", "all three")):
        CASES[0] += 1
        out = f("closed-%s.json" % what.replace(" ", "_"))
        rc, so, se = sh("%s -o %s %s" % (run, out, redir))
        expect("run with %s closed: exit 0" % what, rc == 0, "rc=%d %s" % (rc, se[-500:]))
        clean(se, "run with %s closed" % what)
        expect("run with %s closed: results written" % what, os.path.exists(out))
    # the emulator, stopped by SIGINT with stdout closed
    CASES[0] += 1
    p = subprocess.Popen(["bash", "-c", "exec %s mock --port 0 >&-" % MLXBENCH],
                         stderr=subprocess.PIPE, text=True, preexec_fn=die_with_parent)
    time.sleep(0.7)
    p.send_signal(signal.SIGINT)
    try:
        err = p.communicate(timeout=10)[1]
    except subprocess.TimeoutExpired:
        p.kill()
        err = p.communicate()[1]
    expect("mock with stdout closed: stops with 130", p.returncode == 130,
           "rc=%s %s" % (p.returncode, err[-500:]))
    clean(err, "mock with stdout closed")


def lost_output(run, results):
    for cmd, what in (("%s > /dev/full" % run, "run"),
                      ("%s report %s > /dev/full" % (MLXBENCH, results), "report"),
                      ("%s report %s --format md > /dev/full" % (MLXBENCH, results), "report md"),
                      ("%s --help > /dev/full" % MLXBENCH, "--help"),
                      ("%s -e 'print((\"x\"):rep(100000))' > /dev/full" % MLXBENCH, "a script")):
        CASES[0] += 1
        rc, so, se = sh(cmd)
        expect("%s > /dev/full: exit 2" % what, rc == 2, "rc=%d %s" % (rc, se[-400:]))
        expect("%s > /dev/full: says the output was lost" % what,
               "error writing to standard output: No space left on device" in se, se[-400:])
    CASES[0] += 1
    rc, so, se = sh("%s report %s/missing.json 2>/dev/full" % (MLXBENCH, TMP.name))
    expect("an error with stderr on /dev/full: still exit 2", rc == 2, "rc=%d" % rc)
    # the same commands to a working stdout: 0
    rc, so, se = sh("%s report %s > /dev/null" % (MLXBENCH, results))
    expect("report > /dev/null: exit 0", rc == 0, se[-300:])


def fifos(run, results):
    fifo = f("out.fifo")
    os.mkfifo(fifo)
    CASES[0] += 3   # run -o, report -o without a reader; run -o with one
    t0 = time.monotonic()
    rc, so, se = sh("%s -o %s" % (run, fifo), timeout=30)
    took = time.monotonic() - t0
    expect("-o fifo without a reader: exit 2", rc == 2, "rc=%d %s" % (rc, se[-400:]))
    expect("-o fifo without a reader: says so", "fifo with no reader" in se, se[-400:])
    expect("-o fifo without a reader: no hang", took < 20, "%.1f s" % took)
    expect("-o fifo: the figures are printed all the same", "OK/Total" in so, so[-300:])
    rc, so, se = sh("%s report %s --format md -o %s" % (MLXBENCH, results, fifo), timeout=30)
    expect("report -o fifo without a reader: exit 2", rc == 2 and "fifo with no reader" in se,
           "rc=%d %s" % (rc, se[-300:]))
    # with a reader: it gets the whole document
    got = {}

    def reader():
        with open(fifo, "rb") as fh:
            got["data"] = fh.read()
    th = threading.Thread(target=reader, daemon=True)
    th.start()
    time.sleep(0.2)
    rc, so, se = sh("%s -o %s" % (run, fifo), timeout=30)
    th.join(10)
    expect("-o fifo with a reader: exit 0", rc == 0, "rc=%d %s" % (rc, se[-300:]))
    try:
        doc = json.loads(got.get("data", b"").decode())
        expect("-o fifo with a reader: the reader got the results", doc["runs"][0]["requests"]["ok"] == 1)
    except (ValueError, KeyError) as e:
        expect("-o fifo with a reader: the reader got JSON", False, str(e))
    expect("the fifo is still a fifo", os.path.exists(fifo) and not os.path.isfile(fifo))


def symlinks(run):
    CASES[0] += 4   # a link, a dangling link, a link into a missing folder, a loop
    real = f("real.json")
    link = f("link.json")
    with open(real, "w") as fh:
        fh.write("old\n")
    os.chmod(real, 0o640)
    os.symlink("real.json", link)
    rc, so, se = sh("%s -o link.json" % run)
    expect("-o symlink: exit 0", rc == 0, se[-300:])
    expect("-o symlink: the link is still a link to the same file",
           os.path.islink(link) and os.readlink(link) == "real.json")
    expect("-o symlink: its target got the results", json.load(open(real))["runs"][0]["requests"]["ok"] == 1)
    expect("-o symlink: the target keeps its permissions", (os.stat(real).st_mode & 0o777) == 0o640,
           oct(os.stat(real).st_mode))
    os.makedirs(f("sub"))
    os.symlink("sub/new.json", f("dangling.json"))
    rc, so, se = sh("%s -o dangling.json" % run)
    expect("-o dangling symlink: its target is created", rc == 0 and os.path.islink(f("dangling.json"))
           and os.path.isfile(f("sub/new.json")), "rc=%d %s" % (rc, se[-300:]))
    os.symlink("nowhere/x.json", f("bad.json"))
    rc, so, se = sh("%s -o bad.json" % run)
    expect("-o link into a missing folder: one line, exit 2", rc == 2
           and "cannot write bad.json: the link's target nowhere/x.json: No such file or directory"
           in se, "rc=%d %s" % (rc, se[-300:]))
    os.symlink("loop2.json", f("loop1.json"))
    os.symlink("loop1.json", f("loop2.json"))
    rc, so, se = sh("%s -o loop1.json" % run)
    expect("-o symlink loop: one line, exit 2", rc == 2 and "cannot write loop1.json" in se
           and "symbolic links" in se, "rc=%d %s" % (rc, se[-300:]))
    left = [n for n in os.listdir(TMP.name) if n.endswith(".tmp")]
    expect("no temp files left behind", not left, str(left))


def main():
    srv = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests/e2e/hostile_server.py")],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, preexec_fn=die_with_parent)
    port = int(srv.stdout.readline().split()[1])
    run = "%s run -m m --url http://127.0.0.1:%d/ok -n 1 --warmup 0 --max-tokens 8 --progress none" % (
        MLXBENCH, port)
    try:
        results = f("base.json")
        rc, so, se = sh("%s -o %s" % (run, results))
        expect("a plain run works", rc == 0, se[-300:])
        closed_descriptors(run)
        lost_output(run, results)
        fifos(run, results)
        symlinks(run)
        matrix_row("outputs and descriptors:", CASES[0])
    finally:
        srv.stdin.close()
        srv.terminate()
        srv.wait(5)
    finish()


if __name__ == "__main__":
    main()
