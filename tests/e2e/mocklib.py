"""mocklib: helpers for the emulated server's end-to-end tests.

    with Mock(profile={...}, args=["--api-key", "k"]) as m:
        st, hdrs, body = m.request("GET", "/v1/models")
        events = m.stream("/v1/chat/completions", {...})

Starts `$MLXBENCH mock --port 0`, reads the URL from the first stdout line,
and stops it with SIGINT on exit (checking it stopped cleanly). Clients are
plain sockets/http.client so the tests see the exact bytes."""
import ctypes
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.environ.get("MB_SRC") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
MLXBENCH = os.environ.get("MLXBENCH") or os.path.join(ROOT, "build", "mlxbench")

checks = 0
fails = 0


def expect(what, cond, detail=""):
    """Records one verdict; failures print and make finish() exit 1."""
    global checks, fails
    checks += 1
    if not cond:
        fails += 1
        print("FAIL: %s %s" % (what, detail), file=sys.stderr)
    return cond


def fails_so_far():
    """How many checks failed until now (a test that stops early to skip)."""
    return fails


def finish():
    print("%d checks, %d failed" % (checks, fails))
    sys.exit(1 if fails else 0)


def die_with_parent():
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Mock:
    def __init__(self, profile=None, args=(), env=None):
        self.tmp = tempfile.TemporaryDirectory()
        cmd = [MLXBENCH, "mock", "--port", "0", "--quiet"] + list(args)
        if profile is not None:
            path = os.path.join(self.tmp.name, "profile.json")
            with open(path, "w") as f:
                json.dump(profile, f)
            cmd += ["--profile", path]
        self.stderr_path = os.path.join(self.tmp.name, "stderr")
        self.err = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.err,
                                     preexec_fn=die_with_parent, env=env)
        line = self.proc.stdout.readline().decode().strip()
        if not line.startswith("http://"):
            self.proc.wait(5)
            raise RuntimeError("mock did not start: %r %s" % (line, open(self.stderr_path).read()))
        self.url = line
        self.host, port = line[len("http://"):].rsplit(":", 1)
        self.port = int(port)
        self.rc = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        rc = self.stop()
        err = self.stderr()
        expect("mock stopped cleanly by SIGINT (exit 130)", rc == 130, "rc=%s" % rc)
        expect("no sanitizer report", "Sanitizer" not in err and "runtime error" not in err, err[-2000:])

    def stop(self):
        if self.rc is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.rc = self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.rc = self.proc.wait()
            self.err.close()
        return self.rc

    def stderr(self):
        with open(self.stderr_path) as f:
            return f.read()

    def conn(self, timeout=30):
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, conn=None):
        """-> (status, {lowercase header: value}, body bytes)"""
        c = conn or self.conn()
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        hd = {k.lower(): v for k, v in r.getheaders()}
        if conn is None:
            c.close()
        return r.status, hd, data

    def json(self, method, path, body=None, headers=None):
        st, _, data = self.request(method, path, body, headers)
        return st, json.loads(data) if data else None

    def stream(self, path, body, headers=None, timeout=30):
        """Streams an SSE response -> (status, headers, events, raw text);
        events are (event name or None, data string, monotonic arrival)."""
        c = self.conn(timeout)
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        c.request("POST", path, body=json.dumps(body), headers=h)
        r = c.getresponse()
        hd = {k.lower(): v for k, v in r.getheaders()}
        events, raw, ev, data = [], [], None, []
        try:
            while True:
                line = r.readline()
                if not line:
                    break
                t = time.monotonic()
                s = line.decode()
                raw.append(s)
                s = s.rstrip("\n")
                if s == "":
                    if data:
                        events.append((ev, "\n".join(data), t))
                    ev, data = None, []
                elif s.startswith("event: "):
                    ev = s[7:]
                elif s.startswith("data: "):
                    data.append(s[6:])
        except (http.client.IncompleteRead, ConnectionError) as e:
            raw.append("<<%s>>" % type(e).__name__)
        c.close()
        return r.status, hd, events, "".join(raw)

    def trace(self, client_id=None, since=0, limit=1000):
        q = "/mock/trace?since=%d&limit=%d" % (since, limit)
        if client_id:
            q += "&id=" + client_id
        st, doc = self.json("GET", q)
        return doc

    def trace_done(self, client_id, timeout=10):
        """The finished trace record of a request (waits for it)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            recs = self.trace(client_id)["requests"]
            if recs and recs[-1]["done"]:
                return recs[-1]
            time.sleep(0.02)
        raise RuntimeError("no finished trace record for %s" % client_id)

    def faults(self, **fields):
        st, doc = self.json("POST", "/mock/faults", fields)
        if st != 200:
            raise RuntimeError("faults %r -> %d %r" % (fields, st, doc))
        return doc

    def stats(self):
        return self.json("GET", "/mock/stats")[1]


def ps_rss(pid):
    """Resident set size of another process in bytes, from ps(1) (POSIX:
    the same on Linux and macOS; no /proc), or 0 when it has gone. A
    process can tell its own through mlxbench._sys; the emulator tells its
    in /mock/stats ("process")."""
    try:
        out = subprocess.run(["ps", "-o", "rss=", "-p", str(pid)], capture_output=True,
                             text=True, timeout=10).stdout.strip()
        return int(out) * 1024 if out else 0
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return 0


def chat(model, content="Say something.", max_tokens=None, stream=False, usage=None, **extra):
    b = {"model": model, "messages": [{"role": "user", "content": content}]}
    if max_tokens is not None:
        b["max_tokens"] = max_tokens
    if stream:
        b["stream"] = True
    if usage is not None:
        b["stream_options"] = {"include_usage": usage}
    b.update(extra)
    return b


def raw_http(port, data, read_timeout=3.0, host="127.0.0.1"):
    """Sends raw bytes, returns everything read until close or timeout."""
    s = socket.create_connection((host, port), timeout=read_timeout)
    s.sendall(data)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except socket.timeout:
        pass
    except ConnectionResetError:
        out += b"<<RESET>>"
    s.close()
    return out


def matrix_row(label, n):
    """docs/RELIABILITY.md's hostile-input matrix says this class has n
    cases, all held: the table is checked against the tests that run it."""
    path = os.path.join(ROOT, "docs", "RELIABILITY.md")
    row = None
    with open(path) as f:
        for line in f:
            if line.startswith("| " + label):
                row = [c.strip() for c in line.strip().strip("|").split("|")]
                break
    expect("RELIABILITY.md's matrix has a row '%s'" % label, row is not None)
    if row:
        expect("RELIABILITY.md's matrix row '%s': %d cases, %d held" % (label, n, n),
               row[1] == str(n) and row[2] == str(n), "row says %s / %s" % (row[1], row[2]))
