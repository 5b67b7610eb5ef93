#!/usr/bin/env python3
"""Regression tests for the emulator's request path, from the crash
reproducers fuzz/fuzz_mock_http found (fuzz/corpus/mock_http/regress-*).
Each case sends raw bytes over a fresh connection and checks the answer;
after every case the mock must still serve /health. Under the ASan build
(tools/test.sh runs ctest there too) a memory error fails the run: the
mock's stderr is checked for sanitizer reports when it stops.

  regress-url-unterminated   the parser fails right after the URL: the bad
                             request's path was read past its end (heap
                             overflow in on_bad_request -> strstr)
  regress-pipelined-after-close  a request that closes the connection (HTTP
                             without a version, "Connection: close") with a
                             generation request pipelined behind it: the
                             second was dispatched on a closing connection,
                             its response could not start, and the stream's
                             memory was used after free when the connection
                             closed
  huge-url / huge-header     a head over the 64 KiB limit: lengths counted
                             bytes that were never stored
"""
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mocklib import Mock, expect, finish  # noqa: E402

ROOT = os.environ.get("MB_SRC") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def raw(m, data, timeout=5.0):
    """Sends data, half-closes, returns everything the server sent."""
    s = socket.create_connection((m.host, m.port), timeout=timeout)
    try:
        s.sendall(data)
    except OSError:
        pass
    try:
        s.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    out = b""
    end = time.monotonic() + timeout
    try:
        while time.monotonic() < end:
            b = s.recv(65536)
            if not b:
                break
            out += b
    except OSError:
        pass
    s.close()
    return out


def healthy(m, what):
    out = raw(m, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    expect("still serving after %s" % what, out.startswith(b"HTTP/1.1 200"), repr(out[:80]))


def status_of(out):
    try:
        return int(out.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None


CHAT = json.dumps({"model": "f", "messages": [{"role": "user", "content": "hi"}],
                   "max_tokens": 3, "stream": True}).encode()
PROFILE = {"builtin_models": False, "any_model": True, "default_model": "f",
           "models": {"f": {"ttft_ms": 0, "prefill_tok_s": 0, "decode_tok_s": 10000}}}

with Mock(profile=PROFILE) as m:
    regress = os.path.join(ROOT, "fuzz", "corpus", "mock_http")
    for name in sorted(os.listdir(regress)):
        if name.startswith("regress-"):
            raw(m, open(os.path.join(regress, name), "rb").read())
            healthy(m, name)

    out = raw(m, b"GET / HTTP/1.1tH\r\nso: x\r\nConnection: close\r\n\r\n")
    expect("a bad request line is a 400", status_of(out) == 400, repr(out[:120]))
    expect("the 400 closes the connection", b"Connection: close" in out, repr(out[:300]))
    healthy(m, "bad request line")

    req = (b"POST /mock/fa/x.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}" +
           b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
           % len(CHAT) + CHAT)
    out = raw(m, req)
    expect("one answer to a request that closes the connection", out.count(b"HTTP/1.") <= 1,
           repr(out[:300]))
    healthy(m, "pipelined request behind a closing one")

    req = (b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" +
           b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
           % len(CHAT) + CHAT)
    out = raw(m, req)
    expect("Connection: close ends the connection after its response",
           out.count(b"HTTP/1.1 ") == 1 and b"chat.completion" not in out, repr(out[:300]))
    healthy(m, "request after Connection: close")

    out = raw(m, b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    expect("a URL over the head limit is a 413", status_of(out) == 413, repr(out[:120]))
    healthy(m, "huge URL")

    out = raw(m, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"v" * 70000 + b"\r\n\r\n")
    expect("a header over the head limit is a 413", status_of(out) == 413, repr(out[:120]))
    healthy(m, "huge header")

    hdrs = b"".join(b"X-%d: v\r\n" % i for i in range(300))
    out = raw(m, b"GET / HTTP/1.1\r\nHost: x\r\n" + hdrs + b"\r\n")
    expect("300 headers are a 413", status_of(out) == 413, repr(out[:120]))
    healthy(m, "300 headers")

    out = raw(m, b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked"
                 b"\r\n\r\nzz\r\nabc\r\n0\r\n\r\n")
    expect("a bad chunk size is a 400", status_of(out) == 400, repr(out[:120]))
    healthy(m, "bad chunked body")

finish()
