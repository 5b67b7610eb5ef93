"""mlxbench.http against nginx (HTTP/1.1, h2c, HTTP/2 + TLS) and the SSE
test server: requests, reuse, TLS verification, error kinds, limits,
on_event, cancellation. The cases are in http_basic.lua."""
import sys

sys.dont_write_bytecode = True   # keep __pycache__ out of the source tree
from httpenv import HttpEnv

with HttpEnv() as env:
    rc, _ = env.run_lua("tests/e2e/http_basic.lua", timeout=120)
sys.exit(rc)
