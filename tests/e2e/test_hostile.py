#!/usr/bin/env python3
"""The bad-input matrix (docs/RELIABILITY.md): mlxbench against a hostile
server (tests/e2e/hostile_server.py), one case per run, each asserted to end
in the right error kind for every request, with no crash and no hang, the
run going on past each failure and the results file accounting for every
request (total = ok + failed, one per_request entry each with its kind).

Part 1 runs tests/e2e/hostile_matrix.lua (mlxbench.bench{} per case, one
results file). Part 2 runs the `mlxbench run` command on a few cases to
check its flags (--timeout, --max-line, --max-body) and exit codes.
MATRIX below is the table docs/RELIABILITY.md shows."""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mocklib import expect, finish, die_with_parent, MLXBENCH, ROOT  # noqa: E402

# case -> (requests, ok, {kind: n}, what the message must contain)
MATRIX = {
    "ok": (3, 3, {}, None),
    "refused": (3, 0, {"connect": 3}, "connect"),
    "dns": (3, 0, {"dns": 3}, "resolve"),
    "tls_mismatch": (3, 0, {"tls": 3}, "127.0.0.1"),
    "reset_head": (3, 0, {"reset": 3}, "reset"),
    "reset_body": (3, 0, {"reset": 3}, "reset"),
    "reset_stream": (3, 0, {"reset": 3}, "reset"),
    "stall": (3, 0, {"timeout": 3}, "timed out"),
    "drip": (3, 0, {"timeout": 3}, "timed out"),
    "html200": (3, 0, {"protocol": 3}, "HTML page"),
    "html200_body": (3, 0, {"protocol": 3}, "HTML page"),
    "noline": (3, 0, {"protocol": 3}, "max_line"),
    "endless": (3, 0, {"protocol": 3}, "max_body"),
    "bad_utf8": (3, 0, {"protocol": 3}, "JSON"),
    "bad_json": (3, 0, {"protocol": 3}, "JSON"),
    "deep_json": (3, 0, {"protocol": 3}, "JSON"),
    "deep_body": (3, 0, {"protocol": 3}, "JSON"),
    "usage_negative": (3, 3, {}, None),
    "usage_huge": (3, 3, {}, None),
    "usage_string": (3, 3, {}, None),
    "done_first": (3, 0, {"stream": 3}, "no output tokens"),
    "done_twice": (3, 3, {}, None),
    "gzip": (3, 0, {"protocol": 3}, "Content-Encoding: gzip"),
    "gzip_decoded": (3, 3, {}, None),
    "br": (3, 0, {"protocol": 3}, "Content-Encoding: br"),
    "br_decoded": (3, 3, {}, None),
    "gzip_corrupt": (3, 0, {"protocol": 3}, "unencoding"),
    "chunk_bad": (3, 0, {"protocol": 3}, "chunked"),
    "chunk_cut": (3, 0, {"protocol": 3}, "outstanding"),
    "headers_10k": (3, 0, {"protocol": 3}, "headers"),
    "mixed": (6, 2, {"reset": 2, "protocol": 2}, None),
}


def sanitizer_clean(text, what):
    expect("%s: no sanitizer report or Lua traceback" % what,
           "Sanitizer" not in text and "runtime error" not in text
           and "stack traceback" not in text, text[-1500:])


def check_run(run, want):
    name = run["name"]
    n, ok, kinds, needle = want
    q = run["requests"]
    expect("%s: %d requests recorded" % (name, n), q["total"] == n, str(q))
    expect("%s: total = ok + failed" % name, q["total"] == q["ok"] + q["failed"], str(q))
    expect("%s: %d ok" % (name, ok), q["ok"] == ok, str(q))
    expect("%s: error kinds %s" % (name, kinds), q["errors"] == kinds, str(q["errors"]))
    per = run["per_request"]
    expect("%s: one per_request entry per request" % name, len(per) == n, str(len(per)))
    got = {}
    for p in per:
        if not p["ok"]:
            e = p.get("error") or {}
            got[e.get("kind")] = got.get(e.get("kind"), 0) + 1
            expect("%s: each failure has a message" % name, bool(e.get("message")), str(p))
            if needle:
                expect("%s: message mentions %r" % (name, needle),
                       needle.lower() in e.get("message", "").lower(), e.get("message", ""))
    expect("%s: per_request kinds match the counters" % name, got == kinds, str(got))
    if name.startswith("usage_"):
        # insane usage counts are ignored: tokens come from the events
        expect("%s: tokens counted from events" % name,
               run["tokens"]["source"] == {"usage": 0, "events": 3}, str(run["tokens"]))
        expect("%s: 3 output tokens each" % name, run["tokens"]["output"] == 9,
               str(run["tokens"]))
        expect("%s: flagged usage_invalid" % name,
               all(p.get("usage_invalid") for p in per), str(per[:1]))


def main():
    tmp = tempfile.TemporaryDirectory()
    cert, key = os.path.join(tmp.name, "cert.pem"), os.path.join(tmp.name, "key.pem")
    # a certificate for another name: verification must fail on the host name
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=mismatch.example",
                    "-addext", "subjectAltName=DNS:mismatch.example"],
                   check=True, capture_output=True)
    srv = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests/e2e/hostile_server.py"),
                            "--tls-cert", cert, "--tls-key", key],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           preexec_fn=die_with_parent)
    port = int(srv.stdout.readline().split()[1])
    tlsport = int(srv.stdout.readline().split()[1])
    try:
        out = os.path.join(tmp.name, "matrix.json")
        t0 = time.monotonic()
        p = subprocess.run([MLXBENCH, os.path.join(ROOT, "tests/e2e/hostile_matrix.lua"),
                            str(port), str(tlsport), cert, out],
                           capture_output=True, text=True, timeout=120)
        took = time.monotonic() - t0
        expect("the matrix script ends normally", p.returncode == 0,
               "rc=%d %s" % (p.returncode, p.stderr[-2000:]))
        sanitizer_clean(p.stderr, "matrix")
        expect("no hang: the whole matrix in under 60 s", took < 60, "%.1f s" % took)
        doc = json.load(open(out))
        runs = {r["name"]: r for r in doc["runs"]}
        expect("every case has a run", set(runs) == set(MATRIX), str(sorted(runs)))
        for name, want in MATRIX.items():
            if name in runs:
                check_run(runs[name], want)
        # bounded: a stall or a drip ends at the timeout, not later
        for name, limit in (("stall", 1.5), ("drip", 2.5)):
            if name in runs:
                expect("%s ends at its timeout" % name,
                       limit - 0.1 < runs[name]["case_s"] < limit + 3, str(runs[name]["case_s"]))
        print("case             requests  ok  errors")
        for name in MATRIX:
            r = runs.get(name)
            if r:
                q = r["requests"]
                print("%-16s %8d %3d  %s" % (name, q["total"], q["ok"], json.dumps(q["errors"])))

        # part 2: the command line's flags and exit codes
        base = "http://127.0.0.1:%d/" % port
        cli = [
            ("noline", ["--max-line", "4096"], {"protocol": 2}, "max_line (4096 bytes)"),
            ("endless", ["--max-body", "262144"], {"protocol": 2}, "max_body (262144 bytes)"),
            ("stall", ["--timeout", "1"], {"timeout": 2}, "timed out"),
            ("headers_10k", [], {"protocol": 2}, "headers"),
        ]
        for case, flags, kinds, needle in cli:
            res = os.path.join(tmp.name, "cli-%s.json" % case)
            p = subprocess.run([MLXBENCH, "run", "-m", "m", "--url", base + case, "-n", "2",
                                "--warmup", "0", "--max-tokens", "8", "-q", "-o", res] + flags,
                               capture_output=True, text=True, timeout=60)
            expect("run %s: every request failed -> exit 1" % case, p.returncode == 1,
                   "rc=%d %s" % (p.returncode, p.stderr[-800:]))
            sanitizer_clean(p.stderr, "run " + case)
            r = json.load(open(res))["runs"][0]
            expect("run %s: kinds %s" % (case, kinds), r["requests"]["errors"] == kinds,
                   str(r["requests"]))
            msgs = [(x.get("error") or {}).get("message", "") for x in r["per_request"]]
            expect("run %s: message has %r" % (case, needle), all(needle in m for m in msgs),
                   str(msgs))
            expect("run %s: config records the limit" % case,
                   not flags or r["config"].get(flags[0][2:].replace("-", "_")) is not None
                   or flags[0] == "--timeout", str(r["config"]))
    finally:
        srv.stdin.close()
        srv.terminate()
        srv.wait(5)
    finish()


if __name__ == "__main__":
    main()
