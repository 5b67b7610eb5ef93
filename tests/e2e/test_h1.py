#!/usr/bin/env python3
"""The two HTTP transports side by side: every scenario below runs once over
mlxbench's own HTTP/1.1 client (src/client/h1/h1.c, the default for plain http://)
and once with MLXBENCH_HTTP=curl (everything on libcurl), against a raw-socket
server of this file that records the exact bytes of every request, per
connection, and answers by path with scripted bytes:

  /echo       200 "hello", Content-Length, keep-alive (HEAD: Content-Length 5,
              no body)
  /stale      the first /stale on a connection gets a keep-alive 200, the next
              one on that connection a close without any response (the
              keep-alive race): the client resends it on a new connection
  /continue   "100 Continue" (written alone), then the 200
  /continue_h a 100 carrying a header, and the 200, in one write
  /eof        HTTP/1.0, no Content-Length: the body ends when the server closes
  /chunkext   chunked with a chunk extension and a trailer
  /chunked_cl chunked and a Content-Length: chunked wins (libcurl's way)
  /cut        Content-Length 100, 10 bytes, FIN: kind "protocol"
  /sse        text/event-stream, chunked, events and chunk framing split over
              TCP writes
  /204, /304  no body (the 304 with a Content-Length), then reuse
  /multi      repeated headers, Set-Cookie twice, a folded line, padding
  /close      Connection: close (the next request opens a new connection)

Both runs must give the same observable results (status, ok, body, headers,
events, error kinds, reused, http_version, bytes), each equal to what is
expected, and the server must have received byte-identical requests on the
same connections, request by request (GET, a query string, POST with JSON,
PUT, custom, empty, Host and User-Agent headers, HEAD, the IPv6 literal
[::1], localhost, and the URL and header forms libcurl rewrites: host case,
numeric IPv4 forms, long IPv6 forms, a caller's Host moved first, blank
values). localhost is also run with ::1 listed first (a private /etc/hosts
in a mount namespace, when unshare(1) allows it): h1 must fall back to
127.0.0.1. A request only libcurl takes (a caller's Transfer-Encoding) runs
apart, and shows the default run really is on h1 (it cannot reuse h1's
connection).

The request heads are libcurl 7.88's (Debian 12's), byte for byte; a
newer libcurl (Homebrew's, macOS's) may write its heads otherwise. So the
comparison knows the version mlxbench loads (mlxbench._http.libcurl()):
on 7.88 both transports must send identical bytes, and those bytes must
also equal tests/fixtures/h1/curl-7.88-requests.json (so the file cannot
go stale); on any other version h1's bytes must still equal that file
exactly, while libcurl's may differ only by headers it adds: same request
line, same body, every header h1 sends sent by libcurl with the same value
(the differences are printed). MB_H1_WRITE_GOLDEN=PATH rewrites the file
from libcurl 7.88's bytes."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True   # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mocklib import expect, finish, die_with_parent, MLXBENCH  # noqa: E402

# ---- the server ---------------------------------------------------------

def chunked(*pieces):
    return b"".join(b"%x\r\n%s\r\n" % (len(x), x) for x in pieces) + b"0\r\n\r\n"


SSE_BODY = chunked(b"event: tick\nid: 1\ndata: hel", b"lo\n\n", b"data: line1\ndata: line2\n\n",
                   b": comment\n\n", b"retry: 250\ndata: x", b"yz\n\n")
SSE_CUTS = [3, 1, 20, 5, 2, 9, 1, 30, 4, 17, 2]   # TCP writes: sizes cycled over the body
SSE_EVENTS = [
    {"event": "tick", "data": "hello", "id": "1"},
    {"event": "message", "data": "line1\nline2", "id": "1"},
    {"event": "message", "data": "xyz", "id": "1", "retry": 250},
]


class Log:
    def __init__(self):
        self.lock = threading.Lock()
        self.reqs = []      # (connection number, raw request bytes)
        self.nconn = 0

    def conn_id(self):
        with self.lock:
            self.nconn += 1
            return self.nconn

    def add(self, cid, raw):
        with self.lock:
            self.reqs.append((cid, raw))

    def take(self):
        """The requests logged since the last call."""
        with self.lock:
            reqs, self.reqs = self.reqs, []
        return reqs


class Server:
    """Raw HTTP/1.1 on one listening socket, a thread per connection."""

    def __init__(self, log, family=socket.AF_INET, addr="127.0.0.1"):
        self.log = log
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((addr, 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def accept_loop(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        cid = self.log.conn_id()
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf, stale = b"", 0
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    d = c.recv(65536)
                    if not d:
                        return
                    buf += d
                head, buf = buf.split(b"\r\n\r\n", 1)
                lines = head.decode("latin-1").split("\r\n")
                method, target = lines[0].split(" ")[:2]
                clen, te = 0, False
                for ln in lines[1:]:
                    k, _, v = ln.partition(":")
                    if k.strip().lower() == "content-length":
                        clen = int(v.strip())
                    if k.strip().lower() == "transfer-encoding":
                        te = "chunked" in v.lower()
                if te:   # kept raw: the bytes are what is compared
                    while not (buf.startswith(b"0\r\n\r\n") or b"\r\n0\r\n\r\n" in buf):
                        d = c.recv(65536)
                        if not d:
                            return
                        buf += d
                    clen = buf.index(b"0\r\n\r\n") + 5 if buf.startswith(b"0\r\n\r\n") \
                        else buf.index(b"\r\n0\r\n\r\n") + 7
                while len(buf) < clen:
                    d = c.recv(65536)
                    if not d:
                        break
                    buf += d
                body, buf = buf[:clen], buf[clen:]
                self.log.add(cid, head + b"\r\n\r\n" + body)
                path = target.split("?")[0]
                if path == "/stale":
                    stale += 1
                    if stale > 1:
                        return      # closed without a byte of response
                if not self.respond(c, method, path, body):
                    c.shutdown(socket.SHUT_WR)
                    return
        except OSError:
            pass
        finally:
            c.close()

    @staticmethod
    def respond(c, method, path, body):
        """Writes the response; False when the connection must close."""
        def ok(b, extra=""):
            return ("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Method: %s\r\n"
                    "X-Body-Len: %d\r\n%sContent-Length: %d\r\n\r\n"
                    % (method, len(body), extra, len(b))).encode() \
                + (b"" if method == "HEAD" else b)
        if path.startswith("/echo") or path in ("/stale", "/"):
            c.sendall(ok(b"hello"))
        elif path == "/continue":
            c.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            time.sleep(0.02)
            c.sendall(ok(b"after-continue"))
        elif path == "/continue_h":
            c.sendall(b"HTTP/1.1 100 Continue\r\nX-Interim: yes\r\n\r\n" + ok(b"after-100"))
        elif path == "/eof":
            c.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\neof-body-")
            time.sleep(0.02)
            c.sendall(b"part2")
            return False
        elif path == "/chunkext":
            c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                      + (b"" if method == "HEAD" else b"5;x=1\r\nhello\r\n0\r\nX-T: 1\r\n\r\n"))
        elif path == "/chunked_cl":   # some proxies send both: chunked wins
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n"
                      b"5\r\nhello\r\n0\r\n\r\n")
        elif path == "/multi":
            c.sendall(b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nX-Multi: one\r\nset-cookie: b=2\r\n"
                      b"X-Multi:two\r\nX-Fold: first\r\n  second\r\nX-Pad:   v  \r\n"
                      b"Content-Length: 2\r\n\r\nok")
        elif path == "/close":
            c.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
            return False
        elif path == "/cut":
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
            return False
        elif path == "/sse":
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                      b"Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n")
            off, i = 0, 0
            while off < len(SSE_BODY):   # cuts fall in size lines, data and CRLFs
                n = SSE_CUTS[i % len(SSE_CUTS)]
                time.sleep(0.005)
                c.sendall(SSE_BODY[off:off + n])
                off, i = off + n, i + 1
        elif path == "/204":
            c.sendall(b"HTTP/1.1 204 No Content\r\nX-Empty: 1\r\n\r\n")
        elif path == "/304":
            c.sendall(b"HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nContent-Length: 5\r\n\r\n")
        else:
            c.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        return True


# ---- the client side ----------------------------------------------------

RUNNER = r"""
-- one request per line read from stdin (its index into the specs), one JSON
-- result line out: the test takes the server's log between the two
local http = require "mlxbench.http"
local cjson = require "cjson"
local f = assert(io.open(arg[1]))
local specs = cjson.decode(f:read("a"))
f:close()
for line in io.lines() do
  local s = specs[tonumber(line)]
  local r = http.request{ url = s.url, method = s.method, headers = s.headers,
                          body = s.body, stream = s.stream or nil, timeout = 5 }
  local ev = {}
  for j, e in ipairs(r.events or {}) do
    ev[j] = { event = e.event, data = e.data, id = e.id or "", retry = e.retry }
  end
  io.write(cjson.encode{ name = s.name, status = r.status, ok = r.ok, body = r.body or "",
                         headers = r.headers or {}, events = ev, truncated = r.truncated or false,
                         kind = r.error and r.error.kind or "",
                         message = r.error and r.error.message or "", reused = r.reused,
                         http_version = r.http_version or "", bytes = r.bytes }, "\n")
  io.flush()
end
"""

TMP = tempfile.mkdtemp(prefix="mb-h1-")
RUNNER_PATH = os.path.join(TMP, "runner.lua")
with open(RUNNER_PATH, "w") as f:
    f.write(RUNNER)

BASE_ENV = {k: v for k, v in os.environ.items()
            if k.lower() not in ("http_proxy", "all_proxy", "no_proxy", "mlxbench_http",
                                 "mlxbench_curl_verbose")}


def run(specs, curl, wrap=()):
    """Runs the specs in one mlxbench process, one at a time -> ({name:
    result}, {name: [(connection, request bytes), ...]}), connections
    numbered by first use over the whole run."""
    path = os.path.join(TMP, "specs.json")
    with open(path, "w") as f:
        json.dump(specs, f)
    env = dict(BASE_ENV)
    if curl:
        env["MLXBENCH_HTTP"] = "curl"
    what = "curl" if curl else "h1"
    errf = open(os.path.join(TMP, "stderr"), "w+")
    LOG.take()
    p = subprocess.Popen(list(wrap) + [MLXBENCH, RUNNER_PATH, path], env=env,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errf,
                         preexec_fn=die_with_parent)
    res, logs, ids = {}, {}, {}
    timer = threading.Timer(60, p.kill)
    timer.start()
    try:
        for i, s in enumerate(specs):
            p.stdin.write(b"%d\n" % (i + 1))
            p.stdin.flush()
            line = p.stdout.readline()
            if not line:
                break
            try:
                res[s["name"]] = json.loads(line)
            except ValueError:
                expect("%s: %s: a JSON result line" % (what, s["name"]), False, repr(line))
                break
            logs[s["name"]] = [(ids.setdefault(c, len(ids) + 1), raw) for c, raw in LOG.take()]
        p.stdin.close()
        rc = p.wait()
    finally:
        timer.cancel()
    errf.seek(0)
    err = errf.read()
    errf.close()
    expect("%s: mlxbench exits 0" % what, rc == 0, "rc=%s %s" % (rc, err[-2000:]))
    expect("%s: no sanitizer report" % what, "Sanitizer" not in err and "runtime error" not in err,
           err[-2000:])
    expect("%s: one result per request" % what, len(res) == len(specs),
           "%d of %d" % (len(res), len(specs)))
    return res, logs


OBSERVABLE = ("status", "ok", "body", "headers", "events", "truncated", "kind", "reused",
              "http_version", "bytes")


def both(specs, wrap=()):
    """Both transports; checks the observable results and what the server
    received (bytes, connection) are the same. -> (h1 results, h1 logs)."""
    h1, h1_log = run(specs, False, wrap)
    cu, cu_log = run(specs, True, wrap)
    for s in specs:
        n = s["name"]
        a, b = h1.get(n, {}), cu.get(n, {})
        for k in OBSERVABLE:
            expect("%s: %s same on both transports" % (n, k), a.get(k) == b.get(k),
                   "h1=%r curl=%r" % (a.get(k), b.get(k)))
        x, y = h1_log.get(n, []), cu_log.get(n, [])
        same_request(n, [raw for _, raw in x], [raw for _, raw in y])
        expect("%s: on the same connections" % n, [c for c, _ in x] == [c for c, _ in y],
               "h1 %r, curl %r" % ([c for c, _ in x], [c for c, _ in y]))
    return h1, h1_log


def ipv6_loopback():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


def libcurl_version():
    out = subprocess.run([MLXBENCH, "-e", 'local v = require("mlxbench._http").libcurl() '
                          'io.write(v and v.version or "")'], capture_output=True, text=True)
    return out.stdout.strip()


CURL = libcurl_version()
CURL_REF = CURL.startswith("7.88.")   # the libcurl h1's heads were written against
GOLDEN_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "h1",
                           "curl-7.88-requests.json")
with open(GOLDEN_PATH) as f:
    GOLDEN = json.load(f)
GOLDEN_NEW = {}
print("libcurl %s: %s" % (CURL or "?", "byte-identical heads required" if CURL_REF else
                          "h1 against libcurl 7.88's recorded heads; this libcurl may add headers"))


def generic(raw):
    """A request's bytes with this run's ports and version as placeholders."""
    s = raw.decode("latin-1")
    srv6 = globals().get("SRV6")   # the IPv6 server of section 2, once it exists
    for port, name in ((srv6.port if srv6 else None, "{P6}"), (P, "{P}")):
        if port:
            s = s.replace(":%d" % port, ":" + name)
    return s.replace("mlxbench/" + VERSION, "mlxbench/{V}")


def parse_head(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    return lines[0], sorted(lines[1:]), body


def same_request(name, x, y):
    """The requests of one spec on both transports (lists of raw bytes)."""
    if CURL_REF:
        expect("%s: same requests received from both transports" % name, x == y,
               "\n  h1:   %r\n  curl: %r" % (x, y))
        if os.environ.get("MB_H1_WRITE_GOLDEN"):
            GOLDEN_NEW[name] = [generic(r) for r in y]
        elif name in GOLDEN:
            expect("%s: libcurl 7.88 sends what the fixture recorded" % name,
                   [generic(r) for r in y] == GOLDEN[name],
                   "\n  curl:    %r\n  fixture: %r" % ([generic(r) for r in y], GOLDEN[name]))
        return
    # another libcurl: h1 still sends 7.88's bytes exactly ...
    expect("%s: h1 sends the heads libcurl 7.88 sends (fixture)" % name,
           name not in GOLDEN or [generic(r) for r in x] == GOLDEN[name],
           "\n  h1:      %r\n  fixture: %r" % ([generic(r) for r in x], GOLDEN.get(name)))
    # ... and this libcurl differs from it only by headers it adds
    expect("%s: as many requests on both transports" % name, len(x) == len(y), "%r %r" % (x, y))
    for a, b in zip(x, y):
        la, ha, ba = parse_head(a)
        lb, hb, bb = parse_head(b)
        expect("%s: same request line" % name, la == lb, "%r %r" % (la, lb))
        expect("%s: same body" % name, ba == bb, "%r %r" % (ba, bb))
        missing = [h for h in ha if h not in hb]
        expect("%s: every header h1 sends, libcurl %s sends too" % (name, CURL), not missing,
               "missing from libcurl's: %r (libcurl's: %r)" % (missing, hb))
        extra = [h for h in hb if h not in ha]
        if extra:
            print("note: %s: libcurl %s adds %r" % (name, CURL, extra))


T0 = time.monotonic()
LOG = Log()
SRV = Server(LOG)
P = SRV.port
U = "http://127.0.0.1:%d" % P
VERSION = subprocess.run([MLXBENCH, "--version"], capture_output=True).stdout.decode().split()[1]

# ---- 1. behaviour: scripted responses -----------------------------------

S = [
    {"name": "echo1", "url": U + "/echo"},
    {"name": "echo2", "url": U + "/echo"},
    {"name": "head", "method": "HEAD", "url": U + "/echo"},
    {"name": "after_head", "url": U + "/echo"},
    {"name": "stale1", "url": U + "/stale"},
    {"name": "stale2", "url": U + "/stale"},
    {"name": "after_stale", "url": U + "/echo"},
    {"name": "continue", "url": U + "/continue"},
    {"name": "continue_post", "url": U + "/continue", "method": "POST", "body": '{"a":1}',
     "headers": ["Content-Type: application/json"]},
    {"name": "continue_h", "url": U + "/continue_h"},
    {"name": "after_continue", "url": U + "/echo"},
    {"name": "chunkext", "url": U + "/chunkext"},
    {"name": "after_chunkext", "url": U + "/echo"},
    {"name": "head_chunked", "method": "HEAD", "url": U + "/chunkext"},
    {"name": "chunked_cl", "url": U + "/chunked_cl"},
    {"name": "after_chunked_cl", "url": U + "/echo"},
    {"name": "multi", "url": U + "/multi"},
    {"name": "close", "url": U + "/close"},
    {"name": "after_close", "url": U + "/echo"},
    {"name": "s204", "url": U + "/204"},
    {"name": "after_204", "url": U + "/echo"},
    {"name": "s304", "url": U + "/304"},
    {"name": "after_304", "url": U + "/echo"},
    {"name": "sse", "url": U + "/sse", "stream": True},
    {"name": "after_sse", "url": U + "/echo"},
    {"name": "eof", "url": U + "/eof"},
    {"name": "after_eof", "url": U + "/echo"},
    {"name": "cut", "url": U + "/cut"},
    {"name": "after_cut", "url": U + "/echo"},
]
R, _ = both(S)


def want(name, **kv):
    r = R.get(name, {})
    for k, v in kv.items():
        expect("%s: %s == %r" % (name, k, v), r.get(k) == v,
               "got %r (%s)" % (r.get(k), r.get("message")))


def hdr(name, h):
    return R.get(name, {}).get("headers", {}).get(h)


want("echo1", status=200, ok=True, body="hello", reused=False, http_version="1.1", kind="")
want("echo2", status=200, body="hello", reused=True)
expect("echo: content-length header", hdr("echo1", "content-length") == "5")
want("head", status=200, ok=True, body="", reused=True, bytes=0)
expect("head: Content-Length 5 kept", hdr("head", "content-length") == "5")
want("after_head", status=200, body="hello", reused=True)
want("stale1", status=200, ok=True, body="hello", reused=True)
want("stale2", status=200, ok=True, body="hello", reused=False, kind="")
want("after_stale", status=200, reused=True)
for n in ("continue", "continue_post", "continue_h"):
    want(n, status=200, ok=True, reused=True, kind="")
want("continue", body="after-continue")
want("continue_post", body="after-continue")
want("continue_h", body="after-100")
expect("continue: no header of the 100 in the response", hdr("continue_h", "x-interim") is None,
       repr(R.get("continue_h", {}).get("headers")))
expect("continue: the 200's headers", hdr("continue_h", "x-method") == "GET")
want("after_continue", status=200, reused=True)
want("chunkext", status=200, ok=True, body="hello", reused=True, kind="")
expect("chunkext: the trailer among the headers (libcurl's way)", hdr("chunkext", "x-t") == "1")
want("after_chunkext", status=200, reused=True)
want("head_chunked", status=200, ok=True, body="", reused=True)
want("chunked_cl", status=200, ok=True, body="hello", reused=True, kind="")
want("after_chunked_cl", status=200, reused=True)
want("multi", status=200, ok=True, body="ok", reused=True)
expect("multi: repeated headers joined, set-cookie a list, a folded line, trimmed values",
       R.get("multi", {}).get("headers", {}) == {
           "set-cookie": ["a=1", "b=2"], "x-multi": "one, two", "x-fold": "first second",
           "x-pad": "v", "content-length": "2"}, repr(R.get("multi", {}).get("headers")))
want("close", status=200, ok=True, body="ok", reused=True)
want("after_close", status=200, reused=False)
want("s204", status=204, ok=True, body="", reused=True)
expect("204: its header", hdr("s204", "x-empty") == "1")
want("after_204", status=200, body="hello", reused=True)
want("s304", status=304, ok=False, kind="http", body="", reused=True)
expect("304: its headers", hdr("s304", "etag") == '"v1"' and hdr("s304", "content-length") == "5")
want("after_304", status=200, body="hello", reused=True)
want("sse", status=200, ok=True, events=SSE_EVENTS, truncated=False, reused=True,
     bytes=len(b"event: tick\nid: 1\ndata: hello\n\ndata: line1\ndata: line2\n\n: comment\n\n"
                b"retry: 250\ndata: xyz\n\n"))
expect("sse: content-type", hdr("sse", "content-type") == "text/event-stream")
want("after_sse", status=200, reused=True)
want("eof", status=200, ok=True, body="eof-body-part2", http_version="1.0", reused=True)
want("after_eof", status=200, reused=False)
want("cut", status=200, ok=False, kind="protocol", reused=True)
want("after_cut", status=200, body="hello", reused=False)

# ---- 2. byte-exact requests ---------------------------------------------

HAVE6 = ipv6_loopback()
if HAVE6:
    SRV6 = Server(LOG, socket.AF_INET6, "::1")
    while SRV6.port == P:   # localhost:P on ::1 must be refused (section 3)
        SRV6 = Server(LOG, socket.AF_INET6, "::1")
else:
    print("no IPv6 on loopback: the [::1] cases are skipped")

Q = [
    {"name": "get", "url": U + "/echo"},
    {"name": "query", "url": U + "/echo?a=1&b=two%20x&c"},
    {"name": "post_json", "method": "POST", "url": U + "/echo", "body": '{"model":"m","n":1}',
     "headers": ["Content-Type: application/json"]},
    {"name": "put", "method": "PUT", "url": U + "/echo", "body": "put-body"},
    {"name": "custom", "url": U + "/echo", "headers": ["X-Custom: hello world"]},
    {"name": "accept_empty", "url": U + "/echo", "headers": ["Accept:"]},
    {"name": "host", "url": U + "/echo", "headers": ["Host: example.test:1234"]},
    {"name": "ua", "url": U + "/echo", "headers": ["User-Agent: custom-agent/1.0"]},
    {"name": "head_q", "method": "HEAD", "url": U + "/echo"},
    {"name": "localhost", "url": "http://localhost:%d/echo" % P},
    # beyond the list: the places where a hand-written request head could drift
    {"name": "no_path", "url": U},
    {"name": "query_no_path", "url": U + "?q=1"},
    {"name": "fragment", "url": U + "/echo?x=1#frag"},
    {"name": "post_empty", "method": "POST", "url": U + "/echo"},
    {"name": "delete", "method": "DELETE", "url": U + "/echo"},
    {"name": "patch_body", "method": "PATCH", "url": U + "/echo", "body": "p"},
    {"name": "many", "url": U + "/echo",
     "headers": ["X-A: 1", "Host: h.test", "X-B:   padded  ", "Accept: text/plain", "X-A: 2"]},
    {"name": "ua_empty", "url": U + "/echo", "headers": ["User-Agent:"]},
    {"name": "ctype_form", "method": "POST", "url": U + "/echo", "body": "a=1",
     "headers": ["content-type: text/plain"]},
    {"name": "upper_host", "url": "http://LocalHost:%d/echo" % P},
    {"name": "upper_host_reuse", "url": "http://localhost:%d/echo" % P},
    {"name": "host_blank", "url": U + "/echo", "headers": ["Host:"]},
    {"name": "host_lower", "url": U + "/echo", "headers": ["X-A: 1", "host: h.test"]},
    {"name": "host_twice", "url": U + "/echo", "headers": ["Host: a.test", "Host: b.test"]},
    {"name": "blank_vt", "url": U + "/echo", "headers": ["X-V:\x0b", "X-W: \x0c "]},
    {"name": "ipv4_short", "url": "http://127.1:%d/echo" % P},
    {"name": "ipv4_int", "url": "http://2130706433:%d/echo" % P},
    {"name": "ipv4_octal", "url": "http://0177.0.0.01:%d/echo" % P},
    {"name": "ipv4_mapped", "url": "http://[::FFFF:127.0.0.1]:%d/echo" % P},
    {"name": "ipv4_mapped_lower", "url": "http://[::ffff:127.0.0.1]:%d/echo" % P},
    {"name": "ipv4_mapped_hex", "url": "http://[::ffff:7f00:1]:%d/echo" % P},
    {"name": "odd_path", "url": U + "/echo/a|b^c`d{e}f\"g<h>i[j]k'l!m$n*o;p=q@r~s"},
    {"name": "port_zero", "url": "http://127.0.0.1:0%d/echo" % P},
    {"name": "empty_query", "url": U + "/echo?"},
    {"name": "conn_close_hdr", "url": U + "/echo", "headers": ["Connection: close"]},
    {"name": "after_conn_close_hdr", "url": U + "/echo"},
]
if HAVE6:
    Q.append({"name": "ipv6", "url": "http://[::1]:%d/echo" % SRV6.port})
    Q.append({"name": "ipv6_head", "method": "HEAD", "url": "http://[::1]:%d/echo" % SRV6.port})
    Q.append({"name": "ipv6_long", "url": "http://[0:0:0:0:0:0:0:1]:%d/echo" % SRV6.port})
    Q.append({"name": "ipv6_mixed", "url": "http://[0:0::0:1]:%d/echo" % SRV6.port})
R2, LOG2 = both(Q)
# libcurl-only requests (a caller's Transfer-Encoding) take libcurl's own
# connections even with h1 on: apart, so that the pools do not differ
TE = [{"name": "te_chunked", "method": "POST", "url": U + "/echo", "body": "abc",
       "headers": ["Transfer-Encoding: chunked"]}]
RTE, LOGTE = both(TE)
R2.update(RTE)
LOG2.update(LOGTE)
# ... which also shows the default run really is on h1: after a request on
# an h1 connection the libcurl-only one finds no connection to reuse
PRE = [{"name": "warm", "url": U + "/echo"}] + TE
for curl, reused in ((False, False), (True, True)):
    r, _ = run(PRE, curl)
    expect("%s: the premise: a libcurl-only request %s the connection of a plain one"
           % ("curl" if curl else "h1", "reuses" if reused else "does not reuse"),
           r.get("te_chunked", {}).get("reused") is reused and r.get("warm", {}).get("ok") is True,
           repr(r.get("te_chunked")))
for s in Q:
    r = R2.get(s["name"], {})
    expect("%s: 200" % s["name"], r.get("status") == 200,
           "%r %r" % (r.get("status"), r.get("message")))

BY = {n: (v[0][1] if len(v) == 1 else None) for n, v in LOG2.items()}   # one request each
HP = "127.0.0.1:%d" % P
DEF = "User-Agent: mlxbench/%s\r\nAccept: */*\r\n" % VERSION
EXACT = {
    "get": "GET /echo HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (HP, DEF),
    "query": "GET /echo?a=1&b=two%%20x&c HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (HP, DEF),
    "post_json": "POST /echo HTTP/1.1\r\nHost: %s\r\n%sContent-Type: application/json\r\n"
                 "Content-Length: 19\r\n\r\n{\"model\":\"m\",\"n\":1}" % (HP, DEF),
    "accept_empty": "GET /echo HTTP/1.1\r\nHost: %s\r\nUser-Agent: mlxbench/%s\r\n\r\n"
                    % (HP, VERSION),
    "no_path": "GET / HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (HP, DEF),
    "query_no_path": "GET /?q=1 HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (HP, DEF),
    "head_q": "HEAD /echo HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (HP, DEF),
}
for name, raw in EXACT.items():
    expect("%s: the exact request" % name, BY.get(name) == raw.encode(),
           "\n  got:  %r\n  want: %r" % (BY.get(name), raw.encode()))
expect("host: the override sent, once", BY.get("host", b"").count(b"Host:") == 1
       and b"Host: example.test:1234\r\n" in BY.get("host", b""), repr(BY.get("host")))
expect("ua: the custom one only", BY.get("ua", b"").count(b"User-Agent:") == 1
       and b"User-Agent: custom-agent/1.0\r\n" in BY.get("ua", b""), repr(BY.get("ua")))
expect("custom: sent", b"\r\nX-Custom: hello world\r\n" in BY.get("custom", b""))
expect("put: body and length", BY.get("put", b"").startswith(b"PUT /echo HTTP/1.1\r\n")
       and BY.get("put", b"").endswith(b"Content-Length: 8\r\nContent-Type: "
                                        b"application/x-www-form-urlencoded\r\n\r\nput-body"),
       repr(BY.get("put")))
expect("localhost: Host header", b"\r\nHost: localhost:%d\r\n" % P in BY.get("localhost", b""))
for name, host in (("upper_host", "LocalHost:%d" % P), ("ipv4_short", HP), ("ipv4_int", HP),
                   ("ipv4_octal", HP), ("port_zero", HP), ("host_blank", ""),
                   ("host_lower", "h.test"), ("host_twice", "a.test"),
                   ("ipv4_mapped", "[::FFFF:127.0.0.1]:%d" % P),
                   ("ipv4_mapped_hex", "[::ffff:7f00:1]:%d" % P)):
    raw = BY.get(name) or b""
    expect("%s: Host: %s, first and once" % (name, host), raw.count(b"\r\nHost:") == 1
           and raw.split(b"\r\n")[1].decode() == "Host: " + host, repr(raw))
expect("te_chunked: the body sent chunked",
       BY.get("te_chunked", b"").endswith(b"\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
       repr(BY.get("te_chunked")))
for name in ("upper_host_reuse", "ipv4_short", "ipv4_mapped_lower", "port_zero",
             "after_conn_close_hdr"):
    expect("%s: reused" % name, R2.get(name, {}).get("reused") is True)
if HAVE6:
    for name in ("ipv6_long", "ipv6_mixed"):
        expect("%s: Host: [::1] (libcurl's shorter form)" % name,
               b"\r\nHost: [::1]:%d\r\n" % SRV6.port in (BY.get(name) or b""), repr(BY.get(name)))
    expect("ipv6: Host header", b"\r\nHost: [::1]:%d\r\n" % SRV6.port in BY.get("ipv6", b""),
           repr(BY.get("ipv6")))
    expect("ipv6: next request reused", R2.get("ipv6_head", {}).get("reused") is True)

# ---- 3. localhost with ::1 listed first ---------------------------------

HOSTS = os.path.join(TMP, "hosts")
with open(HOSTS, "w") as f:
    f.write("::1 localhost\n127.0.0.1 localhost\n")
WRAP = ["unshare", "-rm", "sh", "-c", 'mount --bind "$0" /etc/hosts && exec "$@"', HOSTS]
probe = None
if shutil.which("unshare"):
    try:
        probe = subprocess.run(WRAP + ["getent", "ahosts", "localhost"], capture_output=True,
                               timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        probe = None
if probe and probe.returncode == 0 and probe.stdout.decode().startswith("::1"):
    L = [{"name": "lh6first", "url": "http://localhost:%d/echo" % P},
         {"name": "lh6first_again", "url": "http://localhost:%d/echo?again" % P}]
    R3, LOG3 = both(L, WRAP)
    r, r2 = R3.get("lh6first", {}), R3.get("lh6first_again", {})
    expect("localhost (::1 first): falls back to 127.0.0.1", r.get("status") == 200
           and r.get("ok") is True and r.get("reused") is False, repr(r))
    expect("localhost (::1 first): next request reused", r2.get("reused") is True, repr(r2))
    print("localhost with ::1 listed first: checked on both transports")
    expect("localhost (::1 first): one connection",
           [c for n in ("lh6first", "lh6first_again") for c, _ in LOG3.get(n, [])] == [1, 1],
           repr(LOG3))
else:
    print("cannot list ::1 first for localhost here (unshare/mount): plain localhost only")

if os.environ.get("MB_H1_WRITE_GOLDEN"):
    expect("the fixture is written from libcurl 7.88 only", CURL_REF, CURL)
    with open(os.environ["MB_H1_WRITE_GOLDEN"], "w") as f:
        json.dump(GOLDEN_NEW, f, indent=1, sort_keys=True)
        f.write("\n")
    print("wrote %d requests' heads to %s" % (len(GOLDEN_NEW), os.environ["MB_H1_WRITE_GOLDEN"]))
else:
    expect("the fixture covers the requests compared", len(GOLDEN) >= 60, str(len(GOLDEN)))
shutil.rmtree(TMP, ignore_errors=True)
print("runtime %.1f s" % (time.monotonic() - T0))
finish()
