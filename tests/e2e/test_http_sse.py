# run: serial (wall-clock tolerances: tests/tests.cmake)
"""Streamed responses: SSE content byte-exact under random TCP
fragmentation, arrival stamps within a few ms of the schedule and of the
server's send times. The cases are in http_sse.lua."""
import sys

sys.dont_write_bytecode = True   # keep __pycache__ out of the source tree
from httpenv import HttpEnv, sanitized

extra = {}
if sanitized():   # ASan/UBSan slow everything down: wider time windows
    extra = {"HTTP_SCHED_TOL": "0.020", "HTTP_SEND_TOL": "0.010"}
with HttpEnv(nginx=False) as env:
    rc, _ = env.run_lua("tests/e2e/http_sse.lua", timeout=120, extra_env=extra)
sys.exit(rc)
