"""1,000 tasks each doing one streamed request to the SSE test server at
once: every request completes with every event stamped, and the mlxbench
process peaks under 200 MB RSS (checked in Lua from VmHWM and here from
getrusage). The cases are in http_scale.lua."""
import sys

sys.dont_write_bytecode = True   # keep __pycache__ out of the source tree
from httpenv import HttpEnv, sanitized

limit_mb = 200
if sanitized():   # ASan's shadow memory and quarantine are not ours
    limit_mb = 1000
with HttpEnv(nginx=False) as env:
    rc, peak_kb = env.run_lua("tests/e2e/http_scale.lua", timeout=180,
                              extra_env={"HTTP_MAX_RSS_MB": str(limit_mb)})
print("peak RSS of the children: %.1f MB (limit %d MB)" % (peak_kb / 1024, limit_mb))
if rc == 0 and peak_kb > limit_mb * 1024:
    print("FAIL: peak RSS over the limit")
    rc = 1
sys.exit(rc)
