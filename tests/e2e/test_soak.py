#!/usr/bin/env python3
# tier: slow (not in tools/test.sh --fast)
"""Soak (docs/RELIABILITY.md, "Resource limits"): 500 virtual users for 40 s
against the emulator (its own process) with 5 % of requests faulted --
errors, disconnects, stream errors, malformed chunks -- asserting that the
client's RSS and open descriptors are flat after warm-up (and the
emulator's too), and that every request is accounted for.

Under the sanitizer build (ASan keeps freed memory in quarantine) the run is
shorter and RSS is not asserted; descriptors still are. Each process tells
its own figures through the platform layer: the client samples itself
(mlxbench._sys), the emulator answers /mock/stats ("process"). A build whose
platform layer cannot tell a process its RSS (-DMLXBENCH_PLATFORM=posix)
says null: the RSS is then read from outside with ps(1) (no /proc: the
test runs on macOS as on Linux)."""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mocklib import Mock, expect, finish, ps_rss, MLXBENCH, ROOT  # noqa: E402
from httpenv import sanitized  # noqa: E402

SAN = sanitized()
SECS = 20 if SAN else 40
USERS = 500
WARM = 8 if SAN else 10

PROFILE = {
    "builtin_models": False, "any_model": True, "default_model": "soak",
    "models": {"soak": {"ttft_ms": 100, "prefill_tok_s": 0, "decode_tok_s": 20, "jitter": 0.1}},
    "faults": {"error_rates": {"503": 0.02}, "disconnect_rate": 0.01, "disconnect_after": 3,
               "stream_error_rate": 0.01, "stream_error_after": 4,
               "malformed_rate": 0.01, "malformed_after": 2},
    "trace": {"max_requests": 2000, "max_chunks": 100000},
}


def flat(name, values, times, tol_abs, tol_rel):
    """after warm-up: the last third's peak is within tolerance of the
    middle third's (a leak grows with time; a flat line does not)."""
    after = [v for v, t in zip(values, times) if t >= WARM]
    if not expect("%s: enough samples after warm-up" % name, len(after) >= 6, str(len(after))):
        return
    k = len(after) // 3
    mid, last = after[k:2 * k], after[2 * k:]
    limit = max(mid) * (1 + tol_rel) + tol_abs
    expect("%s flat after warm-up (last third max %d <= %d)" % (name, max(last), limit),
           max(last) <= limit, "mid %s last %s" % (mid, last))


tmp = tempfile.TemporaryDirectory()
out = os.path.join(tmp.name, "soak.json")
with Mock(profile=PROFILE) as m:
    p = subprocess.Popen([MLXBENCH, os.path.join(ROOT, "tests/e2e/soak.lua"), m.url, str(SECS),
                          str(USERS), out], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    mock_rss, mock_fds, mock_t, client_rss = [], [], [], []
    t0 = time.monotonic()
    while p.poll() is None and time.monotonic() - t0 < SECS + 60:
        client_rss.append(ps_rss(p.pid))
        proc = m.stats()["process"]
        mock_rss.append(proc["rss_bytes"] if proc["rss_bytes"] is not None else ps_rss(m.proc.pid))
        mock_fds.append(proc["open_fds"])
        mock_t.append(time.monotonic() - t0)
        time.sleep(1)
    try:
        so, se = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        so, se = p.communicate()
    expect("soak run ends normally", p.returncode == 0, "rc=%s %s" % (p.returncode, se[-1500:]))
    expect("no sanitizer report", b"Sanitizer" not in se and b"runtime error" not in se, se[-1500:])
    stats = m.request("GET", "/mock/stats")[2] if hasattr(m, "request") else None

doc = json.load(open(out))
q = doc["requests"]
print(so.decode().strip())
expect("every request accounted for (total = ok + failed)", q["total"] == q["ok"] + q["failed"],
       str(q))
expect("a real load: over 3000 requests", q["total"] > 3000, str(q))
fault_share = q["failed"] / max(1, q["total"])
expect("faults show up as failures (2..12 %)", 0.02 <= fault_share <= 0.12, "%.3f %s" % (fault_share, q))
expect("no failure kind outside the faults injected",
       set(q["errors"]) <= {"http_503", "reset", "protocol", "stream"}, str(q["errors"]))
s = doc["samples"]
times = [x["t"] for x in s]
fds = [x["fds"] for x in s]
rss = [x.get("rss") for x in s]
if None in rss:   # the platform layer cannot tell: the outside view (same clock as the mock's)
    print("client rss: not reported by this build (%s); read from outside" % "posix platform")
    rss, times = client_rss, mock_t
print("client fds  min %d max %d; rss MB %s" % (min(fds), max(fds),
      [round(r / 1e6, 1) for r in rss]))
print("mock   fds  min %d max %d; rss MB %s" % (min(mock_fds), max(mock_fds),
      [round(r / 1e6, 1) for r in mock_rss]))
expect("client holds about one descriptor per user", max(fds) <= USERS + 64, str(max(fds)))
flat("client fds", fds, times, 24, 0)
flat("mock fds", mock_fds, mock_t, 24, 0)
if not SAN:
    flat("client rss", rss, times, 4 << 20, 0.05)
    flat("mock rss", mock_rss, mock_t, 4 << 20, 0.05)
finish()
