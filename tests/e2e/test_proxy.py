# tier: slow (not in tools/test.sh --fast)
"""mlxbench.proxy end to end. The Lua cases (tests/e2e/proxy.lua) put the
proxy between mlxbench.http and nginx / sse_server.py: byte-exact
pass-through, stream timing, latency, jitter, bandwidth, reset_after_bytes,
runtime switches, stats. Then raw sockets against a proxy served by
tests/e2e/proxy_serve.lua check what libcurl cannot show: half-close
propagation both ways, backpressure (a client that does not read does not
make the proxy buffer the response), and that a proxy left running does not
keep a script alive."""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True   # keep __pycache__ out of the source tree
from httpenv import HttpEnv, MLXBENCH, ROOT, die_with_parent, sanitized  # noqa: E402
from mocklib import ps_rss  # noqa: E402

HUGE = 64 << 20
failures = []


def check(cond, what):
    print("%s %s" % ("ok  " if cond else "FAIL", what), flush=True)
    if not cond:
        failures.append(what)


def rss_kib(pid):
    """The proxy process's RSS from outside (ps: no /proc, as on macOS)."""
    return ps_rss(pid) // 1024


def serve(env, upstream, faults=None):
    """Starts proxy_serve.lua; returns (process, (host, port))."""
    args = [MLXBENCH, os.path.join(ROOT, "tests", "e2e", "proxy_serve.lua"), upstream]
    if faults:
        args.append(json.dumps(faults))
    p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         preexec_fn=die_with_parent)
    line = p.stdout.readline().decode()
    if not line.startswith("URL http://"):
        p.kill()
        raise RuntimeError("proxy_serve.lua did not start: %r" % line)
    host, port = line.split("//", 1)[1].strip().rsplit(":", 1)
    return p, (host, int(port))


def stop(p):
    """SIGTERM -> the script prints its stats and stops; returns (rc, stats)."""
    p.send_signal(signal.SIGTERM)
    out = p.stdout.read().decode()
    rc = p.wait(timeout=10)
    p.stdout.close()
    stats = {}
    for line in out.splitlines():
        if line.startswith("STATS "):
            stats = json.loads(line[6:])
    return rc, stats


def recv_all(s, limit=None):
    chunks, n = [], 0
    while True:
        b = s.recv(1 << 16)
        if not b:
            return b"".join(chunks)
        chunks.append(b)
        n += len(b)
        if limit and n >= limit:
            return b"".join(chunks)


def half_close_client_first(addr):
    """Client sends a request and shuts down its write side: the upstream
    sees EOF after the request (sse_server answers, then ends the
    connection), and the client reads the whole answer, then EOF."""
    s = socket.create_connection(addr, timeout=10)
    body = b"half-closed body"
    s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    s.shutdown(socket.SHUT_WR)
    data = recv_all(s)
    s.close()
    check(data.startswith(b"HTTP/1.1 200") and data.endswith(b"\r\n\r\n" + body),
          "half-close (client first): full response, then EOF (%d bytes)" % len(data))


def half_close_upstream_first(addr):
    """The upstream ends a Connection: close stream: the client gets EOF
    while its own write side is still open, and can still write."""
    s = socket.create_connection(addr, timeout=10)
    s.sendall(b"GET /sse?n=3&interval=0.01&te=close&frag=0 HTTP/1.1\r\nHost: x\r\n\r\n")
    data = recv_all(s)
    check(data.count(b"data: second line") == 3 and b"Connection: close" in data,
          "half-close (upstream first): 3 events, then EOF")
    try:
        s.sendall(b"after EOF")   # our write side is still open
        wrote = True
    except OSError:
        wrote = False
    check(wrote, "half-close (upstream first): client write side still open")
    s.close()


def backpressure(addr, pid, nginx_hostport):
    """A client that does not read: the proxy stops reading nginx instead
    of buffering 64 MiB; once the client reads, everything arrives."""
    s = socket.create_connection(addr, timeout=30)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    time.sleep(0.1)
    r0 = rss_kib(pid)
    s.sendall(b"GET /huge.bin HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % nginx_hostport.encode())
    time.sleep(1.0)
    r1 = rss_kib(pid)
    grew = (r1 - r0) / 1024.0
    print("  # backpressure: proxy RSS grew %.1f MiB while the client did not read for 1 s" % grew)
    limit = 16 if sanitized() else 8   # ASan's allocator and shadow memory add a few MiB
    check(grew < limit, "backpressure: RSS growth %.1f MiB < %d MiB (a %d MiB response; "
          "without backpressure ~60)" % (grew, limit, HUGE >> 20))
    data = recv_all(s)
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    check(head.startswith(b"HTTP/1.1 200") and len(body) == HUGE,
          "backpressure: then the whole body arrives (%d bytes)" % len(body))


def exits_with_running_proxy():
    t0 = time.monotonic()
    p = subprocess.run([MLXBENCH, "-e", 'local p = require("mlxbench.proxy").start{'
                        'upstream = "127.0.0.1:9"} io.write(p.url, "\\n")'],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, timeout=20,
                       preexec_fn=die_with_parent)
    dt = time.monotonic() - t0
    check(p.returncode == 0 and p.stdout.startswith(b"http://127.0.0.1:") and dt < 5,
          "a running proxy does not keep a script alive (rc %d, %.2f s)" % (p.returncode, dt))


def main():
    figures = tempfile.NamedTemporaryFile(prefix="mb-proxy-", suffix=".txt", delete=False)
    figures.close()
    with HttpEnv() as env:
        www = os.path.join(env.tmp, "www")
        with open(os.path.join(www, "blob.bin"), "wb") as f:
            f.write(os.urandom(4 << 20))
        with open(os.path.join(www, "huge.bin"), "wb") as f:
            block = os.urandom(1 << 20)
            for _ in range(HUGE >> 20):
                f.write(block)
        extra = {"PROXY_BLOB": os.path.join(www, "blob.bin"), "PROXY_FIGURES": figures.name}
        if sanitized():   # ASan/UBSan slow everything down: wider time windows
            extra["PROXY_TIME_TOL"] = "0.015"
        rc, _ = env.run_lua("tests/e2e/proxy.lua", timeout=300, extra_env=extra)
        check(rc == 0, "tests/e2e/proxy.lua (exit code %d)" % rc)

        p, addr = serve(env, env.vars["HTTP_SSE"])
        try:
            half_close_client_first(addr)
            half_close_upstream_first(addr)
        finally:
            rc, stats = stop(p)
        check(rc in (0, 130), "proxy_serve.lua exit code %d" % rc)
        check(stats.get("accepted") == 2 and stats.get("active") == 0,
              "both connections closed cleanly: %s" % stats)

        nginx = env.vars["HTTP_NGINX"].split("//", 1)[1]
        p, addr = serve(env, env.vars["HTTP_NGINX"])
        try:
            backpressure(addr, p.pid, nginx)
        finally:
            rc, stats = stop(p)
        check(stats.get("bytes_down", 0) > HUGE, "stats: bytes_down %s" % stats.get("bytes_down"))
        exits_with_running_proxy()
    with open(figures.name) as f:
        print("measured:\n" + f.read())
    os.unlink(figures.name)
    if failures:
        print("%d check(s) failed" % len(failures))
        sys.exit(1)


main()
