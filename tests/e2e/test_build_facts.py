"""Facts that live in one place on the C side (tier: slow -- a 10 s wait):

  * the version comes from CMakeLists.txt only: `--version` prints exactly
    "mlxbench <project VERSION> (Lua 5.4)" -- no build date, so two builds
    of one commit print the same -- and mlxbench._sys.version is the same
    string;
  * the request defaults come from include/mlxbench/defaults.h: Lua sees
    them in mlxbench._sys.defaults (600 s request, 10 s connect), and
    http.request without a connect_timeout gives up connecting after 10 s
    (it was 30 s, while mlxbench.llm used 10 s) against a listener whose
    accept queue is full (the kernel drops the SYNs: connect hangs)."""
import os
import re
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True
from mocklib import MLXBENCH, ROOT, expect, finish

with open(os.path.join(ROOT, "CMakeLists.txt")) as f:
    version = re.search(r"project\(mlxbench VERSION ([0-9.]+)", f.read()).group(1)

out = subprocess.run([MLXBENCH, "--version"], capture_output=True, text=True)
expect("--version exits 0", out.returncode == 0, out.stderr)
expect("--version is 'mlxbench %s (Lua 5.4)' and nothing else" % version,
       out.stdout == "mlxbench %s (Lua 5.4)\n" % version, repr(out.stdout))
expect("--version carries no build date", not re.search(
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 0-9]\d \d{4}|20\d\d-\d\d", out.stdout),
    out.stdout)

lua = ("local s = require 'mlxbench._sys'; "
       "io.write(s.version, ' ', s.defaults.timeout, ' ', s.defaults.connect_timeout)")
out = subprocess.run([MLXBENCH, "-e", lua], capture_output=True, text=True)
expect("_sys.version and _sys.defaults", out.stdout == "%s 600 10" % version,
       out.stdout + out.stderr)

# A listener that accepts nothing, its queue filled: a new connect hangs.
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(0)
port = srv.getsockname()[1]
fill = []
for _ in range(3):
    c = socket.socket()
    c.setblocking(False)
    try:
        c.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    fill.append(c)
time.sleep(0.2)
probe = socket.socket()
probe.settimeout(1.5)
try:
    probe.connect(("127.0.0.1", port))
    hangs = False
except OSError:
    hangs = True
probe.close()
expect("a connect to the full listener hangs (the test's premise)", hangs)

script = """
local http = require 'mlxbench.http'
local time = require 'mlxbench.time'
local t0 = time.now()
local r = http.request{ url = 'http://127.0.0.1:%d/' }
io.write(string.format('%%s %%.2f', r.error and r.error.kind or 'ok', time.now() - t0))
""" % port
t0 = time.time()
out = subprocess.run([MLXBENCH, "-e", script], capture_output=True, text=True, timeout=60)
kind, _, secs = out.stdout.partition(" ")
try:
    secs = float(secs)
except ValueError:
    secs = -1
expect("http.request's default connect timeout is 10 s (kind timeout after 10 +- 1.5 s)",
       kind == "timeout" and 9.9 <= secs <= 11.5, out.stdout + out.stderr)
print("http.request on a hanging connect: %s after %.2f s" % (kind, secs))
for c in fill:
    c.close()
srv.close()
finish()
