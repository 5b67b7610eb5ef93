"""httpenv: loopback servers for the HTTP engine's end-to-end tests.

    with HttpEnv() as env:
        env.run_lua("tests/e2e/http_basic.lua")   # exit code 0 or raises

Starts, in a temporary folder, nginx (non-daemon, master_process off, its
own config, pid and logs) on three ports -- plain HTTP/1.1, h2c (prior
knowledge) and HTTP/2 over TLS with a self-signed certificate made by
openssl now -- plus tests/e2e/sse_server.py, a socket that listens but never
accepts (timeouts), and a port nobody listens on (refused). Everything is
stopped and removed on exit. The Lua scripts read the ports from the
environment (HTTP_*, see `vars`)."""
import ctypes
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.environ.get("MB_SRC") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
MLXBENCH = os.environ.get("MLXBENCH") or os.path.join(ROOT, "build", "mlxbench")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, proc, what, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("%s exited early (code %s)" % (what, proc.returncode))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("%s did not listen on port %d" % (what, port))


def die_with_parent():
    """preexec_fn: the child gets SIGTERM when this process dies, however it
    dies (a test killed by ctest's timeout must not leave servers behind)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 65536) if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def sanitized():
    """True when MB_BUILD is an ASan/UBSan build (memory figures differ)."""
    cache = os.path.join(os.environ.get("MB_BUILD", ""), "CMakeCache.txt")
    try:
        with open(cache) as f:
            return "MLXBENCH_SANITIZE:BOOL=ON" in f.read()
    except OSError:
        return False


NGINX_CONF = """
daemon off;
master_process off;
worker_processes 1;
error_log {tmp}/error.log warn;
pid {tmp}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  default_type text/plain;
  server {{
    listen 127.0.0.1:{http};
    listen 127.0.0.1:{h2c} http2;
    root {tmp}/www;
    location = /hello {{ return 200 "hello\\n"; }}
    location = /status500 {{ return 500 "boom"; }}
    location = /headers {{ return 200 "foo=$http_x_foo ua=$http_user_agent"; }}
    location = /multi {{
      add_header Set-Cookie "a=1";
      add_header Set-Cookie "b=2";
      add_header X-Multi one;
      add_header X-Multi two;
      return 200 "multi";
    }}
    # POST echo: the proxy reads the body, hands it on in a header
    location = /echo {{
      client_body_buffer_size 64k;
      client_body_in_single_buffer on;
      proxy_pass http://127.0.0.1:{http}/echo_inner;
      proxy_set_header X-Echo-Body $request_body;
      proxy_set_header X-Echo-Method $request_method;
    }}
    location = /echo_inner {{ return 200 "$http_x_echo_method $http_x_echo_body"; }}
  }}
  server {{
    listen 127.0.0.1:{tls} ssl http2;
    ssl_certificate {tmp}/cert.pem;
    ssl_certificate_key {tmp}/key.pem;
    location = /hello {{ return 200 "hello tls\\n"; }}
  }}
}}
"""


def make_cert(tmp, name):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", os.path.join(tmp, name + "key.pem"),
                    "-out", os.path.join(tmp, name + "cert.pem")],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class HttpEnv:
    def __init__(self, nginx=True, sse=True):
        self.want_nginx, self.want_sse = nginx, sse
        self.procs = []
        self.vars = {}
        self.tmp = None
        self.blackhole = None

    def __enter__(self):
        raise_nofile()
        # SIGTERM/SIGINT unwind through __exit__, which stops the servers
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: sys.exit(130))
        self.tmp = tempfile.mkdtemp(prefix="mb-http-")
        try:
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _start(self):
        tmp = self.tmp
        v = self.vars
        if self.want_nginx:
            # found on PATH, wherever the system installs it (Debian's
            # /usr/sbin, Homebrew's bin): without it the test cannot run
            nginx = shutil.which("nginx")
            if not nginx:
                print("SKIP: nginx is not on PATH (tools/deps.sh test installs it)")
                sys.exit(77)   # __enter__ cleans up on the way out
            os.makedirs(os.path.join(tmp, "www"))
            with open(os.path.join(tmp, "www", "small.txt"), "w") as f:
                f.write("x" * 100)
            make_cert(tmp, "")
            make_cert(tmp, "other")
            ports = {"http": free_port(), "h2c": free_port(), "tls": free_port()}
            conf = os.path.join(tmp, "nginx.conf")
            with open(conf, "w") as f:
                f.write(NGINX_CONF.format(tmp=tmp, **ports))
            p = subprocess.Popen([nginx, "-p", tmp, "-c", conf, "-e", os.path.join(tmp, "error.log")],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, preexec_fn=die_with_parent)
            self.procs.append(p)
            for k in ports:
                wait_port(ports[k], p, "nginx")
            v["HTTP_NGINX"] = "http://127.0.0.1:%d" % ports["http"]
            v["HTTP_H2C"] = "http://127.0.0.1:%d" % ports["h2c"]
            v["HTTP_TLS"] = "https://127.0.0.1:%d" % ports["tls"]
            v["HTTP_TLS_HOST"] = "https://localhost:%d" % ports["tls"]
            v["HTTP_CACERT"] = os.path.join(tmp, "cert.pem")
            v["HTTP_WRONG_CACERT"] = os.path.join(tmp, "othercert.pem")
        if self.want_sse:
            p = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests", "e2e", "sse_server.py"),
                                  "--watch-stdin"],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 preexec_fn=die_with_parent)
            self.procs.append(p)
            line = p.stdout.readline().decode()
            if not line.startswith("PORT "):
                raise RuntimeError("sse_server.py did not start: %r" % line)
            v["HTTP_SSE"] = "http://127.0.0.1:%d" % int(line.split()[1])
        # a port that refuses, and one that accepts into the backlog only
        v["HTTP_REFUSED"] = "http://127.0.0.1:%d" % free_port()
        self.blackhole = socket.socket()
        self.blackhole.bind(("127.0.0.1", 0))
        self.blackhole.listen(8)
        v["HTTP_BLACKHOLE"] = "http://127.0.0.1:%d" % self.blackhole.getsockname()[1]

    def __exit__(self, *exc):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            for f in (p.stdin, p.stdout):
                if f:
                    f.close()
        if self.blackhole:
            self.blackhole.close()
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return False

    def run_lua(self, script, timeout=120, extra_env=None, args=()):
        """Runs SCRIPT with the engine; returns (exit code, peak RSS in KiB)."""
        env = dict(os.environ)
        env.update(self.vars)
        env.update(extra_env or {})
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        p = subprocess.run([MLXBENCH, "-I", os.path.join(ROOT, "tests", "lua"),
                            os.path.join(ROOT, script)] + list(args),
                           env=env, timeout=timeout, stdin=subprocess.DEVNULL,
                           preexec_fn=die_with_parent)
        after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        return p.returncode, max(before, after)
