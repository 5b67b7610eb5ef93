-- 1,000 tasks, each one streamed request to sse_server.py at the same time:
-- all complete, every event stamped, peak RSS bounded.
local T = require "harness"
local mb = require "mlxbench"
local http = require "mlxbench.http"
local time = require "mlxbench.time"
local sys = require "mlxbench._sys"

local SSE = assert(os.getenv("HTTP_SSE"))
local TASKS = tonumber(os.getenv("HTTP_TASKS") or "1000")
local MAX_RSS_MB = tonumber(os.getenv("HTTP_MAX_RSS_MB") or "200")
local N, INTERVAL = 10, 0.05

-- peak RSS in KiB, from the platform layer (getrusage; no /proc)
local function vm_hwm_kb()
  return sys.max_rss() // 1024
end

T.test(("%d tasks x one streamed request"):format(TASKS), function()
  local t0 = time.now()
  local tasks = {}
  for i = 1, TASKS do
    tasks[i] = mb.spawn(function()
      local r = http.request{ url = ("%s/sse?n=%d&interval=%g&frag=0&te=%s"):format(
                                SSE, N, INTERVAL, i % 2 == 0 and "chunked" or "close"),
                              stream = true, timeout = 60 }
      -- keep only what the checks need, as a benchmark would
      local ts = {}
      for k, ev in ipairs(r.events or {}) do ts[k] = ev.t end
      return { ok = r.ok, err = r.error and r.error.message, n = r.events and #r.events,
               ts = ts, done = r.timings.done, reused = r.reused }
    end)
  end
  local rs = mb.wait(tasks)
  local wall = time.now() - t0
  local late = 0
  for i = 1, TASKS do
    local r = rs[i]
    T.eq(r.ok, true, "task " .. i .. ": " .. tostring(r.err))
    T.eq(r.n, N, "task " .. i .. " events")
    for k = 1, N do
      local t = r.ts[k]
      T.ok(type(t) == "number" and t > 0 and t <= r.done, "stamped")
      if k > 1 then T.ok(t >= r.ts[k - 1]) end
      late = math.max(late, t - k * INTERVAL)
    end
  end
  local hwm = vm_hwm_kb()
  print(("     %d streams in %.2f s, worst lateness vs schedule %.1f ms, VmHWM %.1f MB")
        :format(TASKS, wall, late * 1e3, hwm / 1024))
  T.ok(hwm < MAX_RSS_MB * 1024, ("peak RSS %.1f MB over %d MB"):format(hwm / 1024, MAX_RSS_MB))
end)

return T.run()
