#!/usr/bin/env python3
"""sse_server.py: a small HTTP/1.1 test server (python3 standard library only)
that emits Server-Sent Events at known times, fragments its TCP writes at
random byte positions, and misbehaves on request.

    python3 tests/e2e/sse_server.py [--host 127.0.0.1] [--port 0]

Prints "PORT <n>" on stdout once listening; stops on SIGTERM/SIGINT, and with
--watch-stdin when stdin closes (so a test that dies does not leave it behind).

Endpoints (query parameters in brackets, defaults after '='):
  GET /sse[?n=10&interval=0.02&frag=1&te=chunked|close&seed=1&tag=]
      n events; event i (0-based) is complete on the wire at t0+(i+1)*interval,
      t0 = when the request head was read. frag=1 cuts each event's wire bytes
      (chunk framing included) at 1-4 random positions and writes the pieces
      ~1 ms apart, TCP_NODELAY, the last piece on schedule. With tag=X the
      monotonic send time (CLOCK_MONOTONIC seconds, the clock mlxbench uses)
      of each event's last piece (taken just before writing it) is kept for GET /log?tag=X (a JSON list).
      Event i is event_bytes(i) below; tests rebuild the expected content.
  GET /sse_trunc   a 2xx stream that ends in the middle of an event
  GET /longline[?bytes=N]  one SSE line of N bytes
  GET /big[?bytes=N]       a body of N bytes
  GET /status/<code>       that status, body "status <code>"
  GET /close_mid   Content-Length 1000, 100 bytes sent, then a clean close
  GET /reset_mid   Content-Length 1000, 100 bytes sent, then a TCP reset
  GET /chunk_bad   malformed chunked encoding
  GET /hang        reads the request, never answers
  POST /echo       echoes the body
"""
import argparse
import asyncio
import json
import random
import signal
import socket
import struct
import sys
import time
from urllib.parse import parse_qs, urlsplit

LOGS = {}


def event_bytes(i):
    """Wire form of event i; mirrored by tests (see expected_event in Lua)."""
    nl = "\r\n" if i % 5 == 4 else "\n"
    lines = []
    if i % 3 == 0:
        lines.append(": comment %d" % i)
    if i % 2 == 1:
        lines.append("event: tick")
    lines.append("id: %d" % i)
    lines.append("data: ev%d-%s%s" % (i, "é漢🙂" * (i % 4), "x" * (i * 7 % 50)))
    lines.append("data: second line %d" % i)
    return (nl.join(lines) + nl + nl).encode()


def frame(data, chunked):
    if not chunked:
        return data
    return b"%x\r\n" % len(data) + data + b"\r\n"


def cut(data, rng, tail):
    """Splits data at 1..4 random byte positions (never empty pieces); the
    last `tail` bytes stay in the last piece, so the bytes that complete the
    event (its blank line, then any chunk trailer) go out on schedule."""
    span = len(data) - tail
    if span < 2:
        return [data]
    k = rng.randint(1, min(4, span - 1))
    points = sorted(rng.sample(range(1, span), k))
    out, prev = [], 0
    for p in points + [len(data)]:
        out.append(data[prev:p])
        prev = p
    return out


async def sleep_until(t):
    d = t - time.monotonic()
    if d > 0:
        await asyncio.sleep(d)


async def send_sse(w, q, t0):
    n = int(q.get("n", ["10"])[0])
    interval = float(q.get("interval", ["0.02"])[0])
    frag = q.get("frag", ["1"])[0] == "1"
    chunked = q.get("te", ["chunked"])[0] == "chunked"
    rng = random.Random(int(q.get("seed", ["1"])[0]))
    tag = q.get("tag", [None])[0]
    log = LOGS.setdefault(tag, []) if tag else None
    head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
    head += "Transfer-Encoding: chunked\r\n" if chunked else "Connection: close\r\n"
    w.write((head + "\r\n").encode())
    await w.drain()
    for i in range(n):
        wire = frame(event_bytes(i), chunked)
        pieces = cut(wire, rng, 4 + (2 if chunked else 0)) if frag else [wire]
        due = t0 + (i + 1) * interval
        await sleep_until(due - 0.0015 * (len(pieces) - 1))
        for j, p in enumerate(pieces):
            if j == len(pieces) - 1:
                await sleep_until(due)
                if log is not None:
                    log.append(time.monotonic())
            w.write(p)
            await w.drain()
            if j < len(pieces) - 1:
                await asyncio.sleep(0.001)
    if chunked:
        w.write(b"0\r\n\r\n")
        await w.drain()
    return chunked


async def read_request(r):
    head = await r.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    hdrs = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
    body = b""
    if "content-length" in hdrs:
        body = await r.readexactly(int(hdrs["content-length"]))
    return method, target, hdrs, body


def reply(w, status, body, ctype="text/plain", extra=""):
    w.write(("HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %d\r\n%s\r\n"
             % (status, ctype, len(body), extra)).encode() + body)


async def handle(r, w):
    sock = w.get_extra_info("socket")
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        while True:
            try:
                method, target, hdrs, body = await read_request(r)
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            t0 = time.monotonic()
            u = urlsplit(target)
            q = parse_qs(u.query)
            path = u.path
            if path == "/sse":
                if not await send_sse(w, q, t0):
                    return
            elif path == "/log":
                reply(w, 200, json.dumps(LOGS.get(q["tag"][0], [])).encode(), "application/json")
            elif path == "/echo":
                reply(w, 200, body, hdrs.get("content-type", "application/octet-stream"),
                      "X-Method: %s\r\n" % method)
            elif path.startswith("/status/"):
                code = int(path.split("/")[2])
                reply(w, code, b"status %d" % code)
            elif path == "/big":
                reply(w, 200, b"b" * int(q.get("bytes", ["1000000"])[0]))
            elif path == "/longline":
                n = int(q.get("bytes", ["2000000"])[0])
                w.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n")
                w.write(b"data: " + b"l" * n + b"\n\n")
                await w.drain()
                return
            elif path == "/sse_trunc":
                w.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
                        b"data: one\n\ndata: partial")
                await w.drain()
                return
            elif path in ("/close_mid", "/reset_mid"):
                w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"m" * 100)
                await w.drain()
                await asyncio.sleep(0.05)
                if path == "/reset_mid":
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            elif path == "/chunk_bad":
                w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n")
                await w.drain()
                await asyncio.sleep(0.05)
                return
            elif path == "/hang":
                await asyncio.sleep(3600)
                return
            else:
                reply(w, 404, b"not found")
            await w.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        w.close()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--watch-stdin", action="store_true")
    a = ap.parse_args()
    srv = await asyncio.start_server(handle, a.host, a.port, backlog=4096, limit=1 << 20)
    print("PORT %d" % srv.sockets[0].getsockname()[1], flush=True)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, stop.set)
    if a.watch_stdin:
        loop.add_reader(sys.stdin.fileno(),
                        lambda: stop.set() if not sys.stdin.buffer.read1(4096) else None)
    await stop.wait()
    srv.close()


if __name__ == "__main__":
    asyncio.run(main())
