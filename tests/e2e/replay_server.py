#!/usr/bin/env python3
"""Replays wire fixtures over real HTTP, fragmented at random byte positions.

    python3 replay_server.py [--lifetime S]   -> prints "PORT PID" on stdout

Any request whose path is /FIXTURE[/...] (e.g. POST /openai_chat_stream_usage.sse/v1/chat/completions)
is answered with that fixture's bytes: 200, text/event-stream (application/json
for .json, application/x-ndjson for .ndjson), Connection: close, the body
written in random fragments of 1..64 bytes with TCP_NODELAY and 0-2 ms pauses
so they arrive in separate reads. `?status=N` answers with status N instead;
`?delay_ms=N` waits N ms between events (blank-line boundaries) so arrival
times are known. Stops after --lifetime seconds (default 120).
"""
import os
import random
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse, parse_qs

FIXTURES = os.environ.get("MB_FIXTURES") or os.path.join(os.path.dirname(__file__), "..", "fixtures", "wire")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def _serve(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        u = urlparse(self.path)
        q = parse_qs(u.query)
        name = u.path.strip("/").split("/")[0]
        path = os.path.join(FIXTURES, name)
        if not name or not os.path.isfile(path):
            body = b'{"error":{"message":"no such fixture","type":"not_found"}}'
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        data = open(path, "rb").read()
        status = int(q.get("status", ["200"])[0])
        delay = int(q.get("delay_ms", ["0"])[0]) / 1000.0
        ctype = "text/event-stream"
        if name.endswith(".json"):
            ctype = "application/json"
        elif name.endswith(".ndjson"):
            ctype = "application/x-ndjson"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.flush()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        rnd = random.Random(hash(self.path) & 0xffff)
        if delay:
            parts = data.split(b"\n\n")
            for i, p in enumerate(parts):
                chunk = p + (b"\n\n" if i < len(parts) - 1 else b"")
                if chunk:
                    self.wfile.write(chunk)
                    self.wfile.flush()
                time.sleep(delay)
        else:
            i = 0
            while i < len(data):
                k = rnd.randint(1, 64)
                self.wfile.write(data[i:i + k])
                self.wfile.flush()
                i += k
                time.sleep(rnd.random() * 0.002)
        self.close_connection = True

    do_GET = _serve
    do_POST = _serve


def main():
    lifetime = 120.0
    if "--lifetime" in sys.argv:
        lifetime = float(sys.argv[sys.argv.index("--lifetime") + 1])
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    print(srv.server_address[1], os.getpid(), flush=True)
    threading.Timer(lifetime, srv.shutdown).start()
    srv.serve_forever()


if __name__ == "__main__":
    main()
