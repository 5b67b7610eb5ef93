-- mlxbench.interrupt: what Ctrl-C (SIGINT) and SIGTERM do to a benchmark.
--
--   1st  the run stops scheduling requests; those in flight get a grace
--        period (`grace`, default 5 s, `--grace`) to finish, then any still
--        running are aborted (error kind `aborted`); the script writes the
--        results measured so far, marked "interrupted": true; exit 130.
--   2nd  requests in flight are aborted at once (the engine does it); the
--        results are still written.
--   3rd  the process leaves at once (exit 130).
--
--   mb.on_interrupt(require("mlxbench.interrupt").handler(bench.stop))
local sched = require "mlxbench._sched"
local time = require "mlxbench.time"
local http_c = require "mlxbench._http"

local M = {}

M.DEFAULT_GRACE = 5
local grace = M.DEFAULT_GRACE

-- set_grace(s): the grace period in seconds (>= 0) for in-flight requests.
function M.set_grace(s)
  if type(s) ~= "number" or s < 0 or s ~= s or s == math.huge then
    error("interrupt.set_grace: grace must be a number of seconds >= 0", 2)
  end
  grace = s
end

function M.grace() return grace end

-- inflight() -> HTTP requests started and not yet finished (every module)
function M.inflight() return http_c.active() end

-- handler(stop) -> a function for on_interrupt: calls stop() (the load stops
-- issuing requests), waits up to the grace period for what is in flight,
-- then aborts what is left. It returns as soon as nothing is in flight.
function M.handler(stop)
  return function()
    if stop then stop() end
    local n = http_c.active()
    if n == 0 then return end
    local deadline = time.now() + grace
    io.stderr:write(string.format("mlxbench: waiting up to %g s for %d request(s) in flight\n",
      grace, n))
    while http_c.active() > 0 and time.now() < deadline and sched.interrupted() < 2 do
      time.sleep(math.min(0.05, math.max(0, deadline - time.now())))
    end
    if sched.interrupted() < 2 and http_c.active() > 0 then
      local k = http_c.abort_all(string.format(
        "interrupted: still in flight after the %g s grace period", grace))
      if k > 0 then
        io.stderr:write(string.format("mlxbench: grace period over: %d request(s) aborted\n", k))
      end
    end
  end
end

-- guard(stop) -> restore: installs handler(stop) unless the script has its
-- own interrupt hook; call restore() when the run is over.
function M.guard(stop)
  local prev = sched.on_interrupt(M.handler(stop))
  if prev then
    sched.on_interrupt(prev)
    return function() end
  end
  return function() sched.on_interrupt(nil) end
end

return M
