#!/usr/bin/env python3
"""Receive stamps against the reference server's own send log.

bench/ref_server.c (built as MB_REF_SERVER) streams every token at an
absolute deadline and logs the monotonic time just before and after each
send. On the HTTP/1.1 transport on Linux, mlxbench stamps what it reads with
the kernel's receive stamp, which on loopback falls inside that send: every
content event's stamp (TTFT and ITL come from them) must sit within 0.3 ms
of its token's send, also while a busy task makes the client read 4 ms late
-- the read lag then shows in the results and the report's notes, and the
user-space stamps of the same run (MLXBENCH_STAMPS=user) are late by it.
Fallbacks: MLXBENCH_HTTP=curl (libcurl), MLXBENCH_STAMPS=user and the
portable platform build stamp in user space, say so per request
(stamp_source "user") and report no read lag.
"""
import json
import os
import subprocess
import sys
import tempfile

MLX = os.environ.get("MLXBENCH", "build/mlxbench")
REF = os.environ.get("MB_REF_SERVER", "build/ref_server")
HERE = os.path.dirname(os.path.abspath(__file__))
TOKENS, STREAMS, INTERVAL_MS = 12, 6, 20
TOL = 0.0003   # a kernel stamp within 0.3 ms of its send (calibration, scheduling)
fails = 0


def check(cond, what):
    global fails
    if not cond:
        fails += 1
        print("FAIL:", what, file=sys.stderr)


class Server:
    """ref_server on a free port, its log read when it stops."""

    def __init__(self, tmp, align="grid"):
        self.log = os.path.join(tmp, "ref.log")
        self.p = subprocess.Popen([REF, "--interval-ms", str(INTERVAL_MS), "--ttft-ms", "30",
                                   "--tokens", str(TOKENS), "--align", align, "--log", self.log],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.url = self.p.stdout.readline().strip()
        if not self.url.startswith("http://"):
            sys.exit("ref_server did not start: " + self.p.stderr.read())

    def stop(self):
        self.p.terminate()
        self.summary = self.p.communicate(timeout=30)[1]
        sends = {}   # id -> [(before, after) per token, seconds]
        with open(self.log) as f:
            for line in f:
                w = line.split()
                if w[0] == "E":
                    sends.setdefault(w[1], []).append((int(w[4]) * 1e-9, int(w[5]) * 1e-9))
        return sends


def client(mode, url, out, spin=0, env=None):
    e = dict(os.environ)
    e.pop("MLXBENCH_STAMPS", None)
    e.update(env or {})
    p = subprocess.run([MLX, os.path.join(HERE, "stamps.lua"), mode, url, str(STREAMS),
                        str(TOKENS), out, str(spin)], capture_output=True, text=True, env=e,
                       timeout=120)
    check(p.returncode == 0, f"stamps.lua {mode} exit {p.returncode}: {p.stderr[-800:]}")
    with open(out) as f:
        return json.load(f)


def offsets(recv, sends):
    """Per content event: its stamp minus its own token's send (before), and
    whether it lies in the send window of that token or a later one (a read
    of several packets carries the last one's stamp)."""
    off, in_window = [], []
    for k, t in enumerate(recv):
        off.append(t - sends[k][0])
        in_window.append(any(b - TOL <= t <= a + TOL for b, a in sends[k:]))
    return off, in_window


def llm_run(tmp, label, spin=0, env=None):
    s = Server(tmp)
    try:
        doc = client("llm", s.url, os.path.join(tmp, label + ".json"), spin, env)
    finally:
        sends = s.stop()
    check("0 send failures" in s.summary, f"{label}: the server sent everything ({s.summary.strip()})")
    reqs = doc["requests"]
    check(len(reqs) == STREAMS and all(r["ok"] for r in reqs), f"{label}: {STREAMS} requests ok")
    offs, windows = [], []
    for r in reqs:
        check(len(r["recv"]) == TOKENS == len(sends.get(r["id"], [])),
              f"{label} {r['id']}: {TOKENS} content events and sends")
        if len(r["recv"]) == len(sends.get(r["id"], [])):
            o, w = offsets(r["recv"], sends[r["id"]])
            offs += o
            windows += w
            check(all(b >= a for a, b in zip(r["recv"], r["recv"][1:])), f"{label}: stamps monotonic")
    h = doc["http"]
    hoff, hwin = offsets([e["t"] for e in h["events"]], sends.get("http-1", []))
    return doc, reqs, h, offs + hoff, windows + hwin


def main():
    platform = subprocess.run([MLX, "-e", "print(require('mlxbench._sys').platform)"],
                              capture_output=True, text=True).stdout.strip()
    kernel = platform == "linux"   # macOS: SO_TIMESTAMP where the system gives it; posix: none
    with tempfile.TemporaryDirectory() as tmp:
        # 1. the kernel's stamps (user-space ones in the portable build)
        doc, reqs, h, offs, windows = llm_run(tmp, "default")
        want = "kernel" if kernel else "user"
        if platform != "darwin":
            check(all(r["stamp_source"] == want for r in reqs), f"llm stamp_source {want}: "
                  f"{[r['stamp_source'] for r in reqs]}")
            check(h["stamp_source"] == want, f"http stamp_source {want}: {h['stamp_source']}")
        if kernel:
            check(all(windows), f"every kernel stamp within {TOL * 1e3} ms of a send of its "
                  f"token or a later one ({windows.count(False)} not)")
            check(all(o >= -TOL for o in offs), f"no stamp before its token left (min "
                  f"{min(offs) * 1e3:.3f} ms)")
            check(all(e.get("read_lag") is not None and e["read_lag"] >= 0 for e in h["events"]),
                  "http events carry read_lag >= 0 (the user stamp is never earlier)")
            rl = doc["read_lag"]
            check(rl["count"] >= STREAMS * TOKENS, f"read lag sampled per event ({rl['count']})")
        else:
            check(all(e.get("read_lag") is None for e in h["events"]), "no read_lag without kernel stamps")
            check(doc["read_lag"]["count"] == 0, "no read-lag samples without kernel stamps")

        if kernel:
            # 2. the client reads 4 ms late: kernel stamps stay on the sends,
            # the read lag says how late it read
            doc, reqs, h, offs, windows = llm_run(tmp, "busy", spin=4)
            near = sum(1 for o in offs if abs(o) <= TOL) / max(1, len(offs))
            check(all(windows), f"busy client: every stamp within {TOL * 1e3} ms of a send "
                  f"({windows.count(False)} not)")
            check(near >= 0.95, f"busy client: {near:.1%} of stamps on their own token's send")
            rl = doc["read_lag"]
            check(rl["p99"] > 0.001 and rl["max"] < 0.050,
                  f"busy client: read lag p99 {rl['p99'] * 1e3:.2f} ms > 1 ms")
            # 3. the same with user-space stamps: late by the read lag
            doc, reqs, h, offs, windows = llm_run(tmp, "busy-user", spin=4,
                                                  env={"MLXBENCH_STAMPS": "user"})
            check(all(r["stamp_source"] == "user" for r in reqs), "MLXBENCH_STAMPS=user: user")
            check(max(offs) > 0.001, f"user stamps of a busy client are late (max "
                  f"{max(offs) * 1e3:.2f} ms)")
            check(doc["read_lag"]["count"] == 0, "MLXBENCH_STAMPS=user: no read lag")
            # 4. a run: the results and the report's note
            s = Server(tmp)
            try:
                b = client("bench", s.url, os.path.join(tmp, "bench.json"), spin=4)
            finally:
                s.stop()
            cl = b["client"]
            check(cl.get("rx_stamps") == "SO_TIMESTAMPNS", f"rx_stamps {cl.get('rx_stamps')}")
            check(cl.get("stamp_kernel_count") == STREAMS and cl.get("stamp_user_count") == 0,
                  f"stamp counts {cl.get('stamp_kernel_count')}/{cl.get('stamp_user_count')}")
            check((cl.get("read_lag_p99_s") or 0) > 0.001 and cl.get("read_lag_count", 0) > 0
                  and cl["read_lag_p50_s"] <= cl["read_lag_p99_s"] <= cl["read_lag_max_s"],
                  f"run.client read lag: {cl.get('read_lag_p50_s')} {cl.get('read_lag_p99_s')} "
                  f"{cl.get('read_lag_max_s')}")
            check(0 <= cl.get("clock_drift_max_s", -1) < 0.0001, f"clock drift {cl.get('clock_drift_max_s')}")
            check(any("read lag p99" in n for n in b["notes"]), f"a read-lag note: {b['notes']}")
            check(all(q.get("stamp_source") == "kernel" for q in b["per_request"]),
                  "per_request stamp_source kernel")

        # 5. libcurl: user-space stamps, said per request, no read lag
        s = Server(tmp)
        try:
            c = client("llm", s.url, os.path.join(tmp, "curl.json"), env={"MLXBENCH_HTTP": "curl"})
            b = client("bench", s.url, os.path.join(tmp, "curl-bench.json"),
                       env={"MLXBENCH_HTTP": "curl"})
        finally:
            s.stop()
        check(all(r["stamp_source"] == "user" for r in c["requests"]), "libcurl: llm stamp_source user")
        check(c["http"]["stamp_source"] == "user", "libcurl: http stamp_source user")
        check(c["read_lag"]["count"] == 0, "libcurl: no read lag")
        cl = b["client"]
        check(cl.get("rx_stamps") == "none" and cl.get("stamp_user_count") == STREAMS
              and "read_lag_p99_s" not in cl, f"libcurl run.client: {cl}")
        check(all(q.get("stamp_source") == "user" for q in b["per_request"]),
              "libcurl: per_request stamp_source user")
        check(not any("read lag" in n for n in b["notes"]), "libcurl: no read-lag note")
    print("fails:", fails)
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
