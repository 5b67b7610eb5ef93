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
import secrets
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mocklib import expect, finish, die_with_parent, matrix_row, MLXBENCH, ROOT  # noqa: E402
from httpenv import sanitized  # noqa: E402

MATRIX_KEY = "Zk" + secrets.token_hex(16)   # not sk-shaped: only the registry knows it

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
    "usage_contradicts": (3, 3, {}, None),
    "usage_over_max": (3, 3, {}, None),
    "usage_input_huge": (3, 3, {}, None),
    "usage_multi": (3, 3, {}, None),
    "error_flood": (3, 0, {"protocol": 3}, "max_body"),
    "echo_key_long": (3, 0, {"http_401": 3}, "[REDACTED]"),
    "ctrl_message": (3, 0, {"http_400": 3}, "red"),
    "redirect": (3, 0, {"http_302": 3}, "302"),
    "empty_200": (3, 0, {"protocol": 3}, "JSON"),
    "rate_limited": (3, 0, {"http_429": 3}, "Rate limit"),
    "html_401": (3, 0, {"http_401": 3}, "401 Authorization Required"),
    "model_404": (3, 0, {"http_404": 3}, "does not exist"),
    "stream_error_mid": (3, 0, {"stream": 3}, "model crashed"),
    "short_close": (3, 0, {"protocol": 3}, None),
    "chunk_huge": (3, 0, {"protocol": 3}, None),
    "head_300k": (3, 0, {"protocol": 3}, "exceeds"),
    "chunked_tiny": (3, 3, {}, None),
    "keepalive": (3, 3, {}, None),
    "sse_fields": (3, 3, {}, None),
    "sse_crlf": (3, 3, {}, None),
    "sse_cr": (3, 3, {}, None),
    "done_partial": (3, 3, {}, None),
    "big_event": (3, 3, {}, None),
    "events_5000": (3, 3, {}, None),
    "slow": (3, 3, {}, None),
    "gzip_bomb": (3, 0, {"protocol": 3}, "max_body"),
}

# tokens each successful request must count, and where from (beyond the
# 3-token streams): usage that contradicts the stream is not believed
TOKENS = {
    "usage_contradicts": (3, "events", True), "usage_over_max": (3, "events", True),
    "usage_input_huge": (3, "usage", True), "usage_multi": (6, "usage", False),
    "usage_negative": (3, "events", True), "usage_huge": (3, "events", True),
    "usage_string": (3, "events", True), "events_5000": (5000, "usage", False),
    "big_event": (1, "usage", False), "keepalive": (3, "usage", False),
    "sse_fields": (3, "usage", False), "chunked_tiny": (3, "usage", False),
}


def stats_count(run, metric):
    """Samples in a run's histogram (decoded by mlxbench itself)."""
    enc = run["histograms"][metric]
    p = subprocess.run([MLXBENCH, "-e", "local h = require('mlxbench.stats').decode(...) "
                        "io.write(h:count())", enc], capture_output=True, text=True)
    return int(p.stdout or -1)


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
            k = e.get("kind")
            if k == "http":
                k = "http_%d" % p["status"]
            got[k] = got.get(k, 0) + 1
            msg = e.get("message", "")
            expect("%s: message is clean text (no control characters)" % name,
                   not any(ord(ch) < 0x20 or ord(ch) == 0x7f for ch in msg), repr(msg))
            expect("%s: each failure has a message" % name, bool(e.get("message")), str(p))
            if needle:
                expect("%s: message mentions %r" % (name, needle),
                       needle.lower() in e.get("message", "").lower(), e.get("message", ""))
    expect("%s: per_request kinds match the counters" % name, got == kinds, str(got))
    if name in TOKENS:
        each, source, invalid = TOKENS[name]
        expect("%s: %d output tokens each" % (name, each), run["tokens"]["output"] == each * ok,
               str(run["tokens"]))
        expect("%s: tokens from %s" % (name, source),
               run["tokens"]["source"].get(source) == ok, str(run["tokens"]))
        expect("%s: usage_invalid %s" % (name, invalid),
               all(bool(p.get("usage_invalid")) == invalid for p in per), str(per[:1]))
    if name == "usage_input_huge":
        expect("usage_input_huge: input tokens estimated, not 99999999",
               all(p.get("input_tokens", 0) < 100 for p in per), str(per[:1]))
    if name == "events_5000":
        # 4,096 content times are kept, the rest folded into a sparse
        # histogram as they arrive: the run's ITL histogram still has every gap
        itl = stats_count(run, "itl_s")
        expect("events_5000: every ITL gap recorded (3 x 4999)", itl == 3 * 4999, str(itl))


CLI_CASES = [0]   # command-line cases run (RELIABILITY.md's matrix row)


def cli(args, timeout=60):
    p = subprocess.run([MLXBENCH] + args, capture_output=True, text=True, timeout=timeout)
    sanitizer_clean(p.stderr, " ".join(args[:3]))
    return p


def tls_cases(tmp, tlsport, cert):
    """A local server with a certificate the system does not trust (issue
    15 item 5): refused by default, accepted with --cacert FILE (its own
    CA), or with --insecure -- warned and recorded."""
    ip_cert, ip_key = os.path.join(tmp, "ip-cert.pem"), os.path.join(tmp, "ip-key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ip_key,
                    "-out", ip_cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    srv = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests/e2e/hostile_server.py"),
                            "--tls-cert", ip_cert, "--tls-key", ip_key],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, preexec_fn=die_with_parent)
    srv.stdout.readline()
    ipport = int(srv.stdout.readline().split()[1])
    common = ["-m", "m", "-n", "2", "--warmup", "0", "--max-tokens", "8", "--progress", "none"]
    try:
        url = "https://127.0.0.1:%d/ok" % ipport
        res = os.path.join(tmp, "tls.json")
        CLI_CASES[0] += 5   # no flag, --cacert, --cacert wrong name, --insecure, missing file
        p = cli(["run", "--url", url, "-o", res] + common)
        r = json.load(open(res))["runs"][0]
        expect("self-signed, no flag: tls x2, exit 1", p.returncode == 1
               and r["requests"]["errors"] == {"tls": 2}, "rc=%d %s" % (p.returncode, r["requests"]))
        p = cli(["run", "--url", url, "--cacert", ip_cert, "-o", res] + common)
        r = json.load(open(res))["runs"][0]
        expect("--cacert its certificate: 2 ok, recorded", p.returncode == 0 and r["requests"]["ok"] == 2
               and r["config"].get("cacert") == ip_cert and "insecure" not in r["config"],
               "rc=%d %s %s" % (p.returncode, r["requests"], r["config"]))
        expect("--cacert: no warning", "verification is off" not in p.stderr, p.stderr[-300:])
        url2 = "https://127.0.0.1:%d/ok" % tlsport   # a certificate for another name
        p = cli(["run", "--url", url2, "--cacert", cert, "-o", res] + common)
        r = json.load(open(res))["runs"][0]
        expect("--cacert, wrong host name: still tls", r["requests"]["errors"] == {"tls": 2}, str(r["requests"]))
        p = cli(["run", "--url", url2, "--insecure", "-o", res] + common)
        r = json.load(open(res))["runs"][0]
        expect("--insecure: 2 ok", p.returncode == 0 and r["requests"]["ok"] == 2, str(r["requests"]))
        expect("--insecure: one warning line", p.stderr.count("TLS certificate verification is off") == 1,
               p.stderr[-400:])
        expect("--insecure: recorded in the results' config", r["config"].get("insecure") is True,
               str(r["config"]))
        p = cli(["run", "--url", url2, "--cacert", os.path.join(tmp, "missing.pem")] + common)
        expect("--cacert missing file: exit 2, one line", p.returncode == 2
               and "--cacert: cannot read" in p.stderr, p.stderr[-300:])
    finally:
        srv.stdin.close()
        srv.terminate()
        srv.wait(5)


def input_cases(tmp, base):
    """Unbounded inputs are refused before anything large is built (issue 15
    items 8, 9): each is exit 2 with one line, no traceback, within seconds."""
    zero = os.path.join(tmp, "zero.jsonl")
    os.symlink("/dev/zero", zero)
    long_line = os.path.join(tmp, "long.jsonl")
    with open(long_line, "w") as fh:
        fh.write('{"prompt": "' + "x" * (17 << 20))   # 17 MiB, no newline, never closed
    cases = [
        ("synthetic:100000000", ["--prompt", "synthetic:100000000"], "(1..10000000)"),
        ("synthetic:99999999999", ["--prompt", "synthetic:99999999999"], "(1..10000000)"),
        ("synthetic:1e30 digits", ["--prompt", "synthetic:" + "9" * 30], "(1..10000000)"),
        ("synthetic:5000000 (20 MB)", ["--prompt", "synthetic:5000000"], "about 19 MiB, over the request limit"),
        ("@/dev/zero", ["--prompt", "@/dev/zero"], "it is a device"),
        ("@zero.jsonl (a link to /dev/zero)", ["--prompt", "@" + zero], "one line"),
        ("a 17 MiB JSONL line", ["--prompt", "@" + long_line], "one line"),
        ("--max-request-bytes 2048, a 4 KB prompt", ["--prompt", "synthetic:1000", "--max-request-bytes",
                                                     "2048"], "over the request limit of 0 MiB (2048 bytes)"),
    ]
    CLI_CASES[0] += len(cases) + 1   # and the script below
    for what, flags, needle in cases:
        t0 = time.monotonic()
        p = cli(["run", "-m", "m", "--url", base + "ok", "-n", "1", "--warmup", "0", "-q"] + flags)
        took = time.monotonic() - t0
        expect("%s: exit 2" % what, p.returncode == 2, "rc=%d %s" % (p.returncode, p.stderr[-400:]))
        expect("%s: one clear line" % what, needle in p.stderr and p.stderr.count("\n") <= 2,
               p.stderr[-400:])
        expect("%s: refused at once" % what, took < 10, "%.1f s" % took)
    # a script that builds a huge string itself: refused before lua-cjson
    # (a misuse in the user's script: its traceback is expected)
    p = subprocess.run([MLXBENCH, "-e", "local r = require('mlxbench.llm').request{ target = { url = %r }, "
                        "model = 'm', prompt = ('x'):rep(3000000), max_request_bytes = 1000000 }"
                        % (base + "ok")], capture_output=True, text=True, timeout=60)
    expect("llm.request with a 3 MB prompt over max_request_bytes: a clear error", p.returncode == 2
           and "llm.request: the request body is about 3 MiB" in p.stderr, p.stderr[-400:])


def flood_memory(base):
    """A flooding stream costs about what a normal one does (issue 15 item
    15): 20 streams of valid events until max_body (32 MiB each) against 20
    normal ones, peak RSS compared. Not under ASan (its quarantine keeps
    freed memory)."""
    CLI_CASES[0] += 1
    if sanitized():
        print("flood memory: skipped under the sanitizer build (ASan quarantine)")
        return
    script = ("local mb = require 'mlxbench' local url = ... "
              "local run = mb.bench{ target = { url = url }, model = 'm', requests = 20, concurrency = 20, "
              "max_tokens = 8, max_body = 32 * 1024 * 1024, keep_requests = false } "
              "io.write(require('mlxbench._sys').max_rss(), ' ', run.requests.ok, ' ', run.requests.failed)")
    rss = {}
    for case in ("ok", "endless"):
        p = cli(["-e", script, base + case], timeout=300)
        v = p.stdout.split()
        rss[case] = int(v[0]) if len(v) == 3 else None
        expect("flood memory, %s: the run ends" % case, len(v) == 3, p.stdout + p.stderr[-300:])
    if rss["ok"] and rss["endless"]:
        per = (rss["endless"] - rss["ok"]) / 20
        print("flood memory: peak RSS %.1f MB normal, %.1f MB flooding: %.0f KB per flooding stream"
              % (rss["ok"] / 1e6, rss["endless"] / 1e6, per / 1024))
        expect("a flooding stream costs under 256 KB more than a normal one", per < 256 * 1024,
               "%.0f KB" % (per / 1024))


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
                           capture_output=True, text=True, timeout=180,
                           env=dict(os.environ, MATRIX_KEY=MATRIX_KEY))
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
        # the key a server echoed across the message's cut: no piece of it
        # (8 characters or more) anywhere in the results or the output
        blob = open(out).read() + p.stdout + p.stderr
        pieces = [MATRIX_KEY[i:i + 8] for i in range(len(MATRIX_KEY) - 7)]
        expect("echo_key_long: no piece of the key anywhere", not any(x in blob for x in pieces),
               str([x for x in pieces if x in blob][:3]))
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
            CLI_CASES[0] += 1
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
        tls_cases(tmp.name, tlsport, cert)
        input_cases(tmp.name, base)
        flood_memory(base)
        matrix_row("servers:", len(MATRIX))
        matrix_row("the command line:", CLI_CASES[0])
    finally:
        srv.stdin.close()
        srv.terminate()
        srv.wait(5)
    finish()


if __name__ == "__main__":
    main()
