#!/usr/bin/env python3
# tier: slow (not in tools/test.sh --fast)
"""Clients that hold the emulator's connections without asking (issue 15
item 17; docs/MOCK.md "Timeouts", docs/RELIABILITY.md's matrix): raw
sockets against `mlxbench mock`.

  slow head        a request head that never ends: 408, closed at the
                   request timeout
  slowloris        a header byte every 0.3 s: closed at the request timeout
                   all the same (a deadline, not an inactivity timer)
  slow body        a head with Content-Length 100, 10 bytes of body: 408
  silent           connects, sends nothing: closed at the idle timeout
  kept alive       a complete request, then nothing: closed at the idle
                   timeout after its response
  long stream      a response longer than both timeouts is never cut
  descriptor limit under `ulimit -n 256`, 400 slow heads: new clients are
                   still served (the stalest waiting connection makes room)

Timeouts here come from the profile (request_timeout_s 1, idle_timeout_s 2)."""
import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mocklib import expect, finish, matrix_row, Mock, MLXBENCH  # noqa: E402

PROFILE = {"request_timeout_s": 1, "idle_timeout_s": 2, "any_model": True,
           "default_model": "slow",
           "models": {"slow": {"ttft_ms": 20, "prefill_tok_s": 0, "decode_tok_s": 2, "jitter": 0}}}
SLACK = 1.5   # the sweep runs every 250 ms; a loaded 2-core machine adds some
CASES = [0]


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    return s


def read_until_close(s, limit=10):
    """Everything the server sends until it closes; (bytes, seconds)."""
    t0 = time.monotonic()
    s.settimeout(limit)
    data = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
    except (socket.timeout, ConnectionResetError):
        pass
    return data, time.monotonic() - t0


def timeouts(m):
    port = m.port
    # slow head: half a request, then silence
    CASES[0] += 1
    s = connect(port)
    s.sendall(b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    data, took = read_until_close(s)
    expect("slow head: 408", data.startswith(b"HTTP/1.1 408"), data[:80])
    expect("slow head: closed at the request timeout", 0.8 < took < 1 + SLACK, "%.2f s" % took)
    s.close()
    # slowloris: keeps sending, a header line at a time; the 408 comes at
    # the request timeout all the same (what is sent after it is discarded)
    CASES[0] += 1
    s = connect(port)
    t0 = time.monotonic()
    answered = None
    try:
        s.sendall(b"GET /v1/models HTTP/1.1\r\n")
        for i in range(40):
            s.sendall(b"X-Drip-%d: y\r\n" % i)
            s.settimeout(0.3)
            try:
                got = s.recv(4096)
            except socket.timeout:
                continue
            answered = (time.monotonic() - t0, got)
            break
    except OSError as e:
        answered = (time.monotonic() - t0, repr(e).encode())
    expect("slowloris: 408 at the request timeout, though it kept sending",
           answered is not None and answered[1].startswith(b"HTTP/1.1 408") and answered[0] < 1 + SLACK,
           str(answered))
    s.close()
    # slow body
    CASES[0] += 1
    s = connect(port)
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: 100\r\n\r\n{\"model\":")
    data, took = read_until_close(s)
    expect("slow body: 408 at the request timeout", data.startswith(b"HTTP/1.1 408")
           and took < 1 + SLACK, "%r %.2f s" % (data[:40], took))
    s.close()
    # silent: nothing at all
    CASES[0] += 1
    s = connect(port)
    data, took = read_until_close(s)
    expect("silent connection: closed at the idle timeout, without a word",
           data == b"" and 1.8 < took < 2 + SLACK, "%r %.2f s" % (data[:40], took))
    s.close()
    # kept alive after a response
    CASES[0] += 1
    s = connect(port)
    s.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n")
    t0 = time.monotonic()
    data, took = read_until_close(s)
    expect("kept alive: the response, then closed at the idle timeout",
           data.startswith(b"HTTP/1.1 200") and 1.8 < took < 2 + SLACK, "%r %.2f s" % (data[:40], took))
    s.close()
    # a long response is never cut: 6 tokens at 2 tok/s (3 s) > both timeouts
    CASES[0] += 1
    s = connect(port)
    body = json.dumps({"model": "slow", "messages": [{"role": "user", "content": "hi"}],
                       "max_tokens": 7, "stream": True, "ignore_eos": True}).encode()
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    data, took = read_until_close(s, 20)
    expect("a 3 s stream outlives both timeouts, complete", b"data: [DONE]" in data and took > 2.5,
           "%.2f s %r" % (took, data[-120:]))
    s.close()


def descriptor_limit():
    """Under ulimit -n 256, 400 slow heads (default timeouts: 10 s) and new
    clients: every new client is served."""
    CASES[0] += 1
    p = subprocess.Popen(["bash", "-c", "ulimit -n 256 && exec %s mock --port 0 --quiet" % MLXBENCH],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = p.stdout.readline().strip()
        port = int(url.rsplit(":", 1)[1])
        held = []
        for i in range(400):
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                s.sendall(b"GET /v1/models HTTP/1.1\r\n")   # and never the rest
                held.append(s)
            except OSError:
                pass
            if i % 50 == 0:
                time.sleep(0.05)
        time.sleep(0.5)
        served = 0
        for _ in range(20):
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                s.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                data, _ = read_until_close(s, 5)
                served += data.startswith(b"HTTP/1.1 200")
                s.close()
            except OSError:
                pass
        expect("at the descriptor limit (400 slow heads, ulimit 256): 20/20 new clients served",
               served == 20, "%d/20" % served)
        for s in held:
            s.close()
    finally:
        p.terminate()
        try:
            err = p.communicate(timeout=10)[1]
        except subprocess.TimeoutExpired:
            p.kill()
            err = p.communicate()[1]
        expect("descriptor limit: no crash or sanitizer report", "Sanitizer" not in err
               and "Assertion" not in err, err[-800:])


def main():
    with Mock(profile=PROFILE) as m:
        timeouts(m)
    descriptor_limit()
    matrix_row("clients of the emulator:", CASES[0])
    finish()


if __name__ == "__main__":
    main()
