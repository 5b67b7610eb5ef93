-- Streamed responses from sse_server.py: every event byte-exact whatever the
-- TCP fragmentation, and stamped where it arrived (checked against the
-- schedule and against the server's own send times, same monotonic clock).
local T = require "harness"
local mb = require "mlxbench"
local http = require "mlxbench.http"
local time = require "mlxbench.time"
local cjson = require "cjson"

local SSE = assert(os.getenv("HTTP_SSE"))
local N, INTERVAL = 20, 0.02
local SCHED_TOL = tonumber(os.getenv("HTTP_SCHED_TOL") or "0.050")   -- vs the schedule: the python server's own punctuality under load
local SEND_TOL = tonumber(os.getenv("HTTP_SEND_TOL") or "0.005")     -- vs the server's send

-- Mirrors event_bytes(i) in sse_server.py.
local function expected(i)
  return {
    event = (i % 2 == 1) and "tick" or "message",
    id = tostring(i),
    data = ("ev%d-%s%s\nsecond line %d"):format(i, ("é漢🙂"):rep(i % 4), ("x"):rep(i * 7 % 50), i),
  }
end

local tags = 0
local function stream(te, seed, opts)
  tags = tags + 1
  local tag = ("t%d_%d_%d"):format(seed, tags, time.now_ns())
  local o = { url = ("%s/sse?n=%d&interval=%g&frag=1&te=%s&seed=%d&tag=%s"):format(SSE, N, INTERVAL, te, seed, tag),
              stream = true, timeout = 10 }
  for k, v in pairs(opts or {}) do o[k] = v end
  local t_call = time.now()
  local r = http.request(o)
  local log = http.request{ url = SSE .. "/log?tag=" .. tag }
  return r, t_call, cjson.decode(log.body)
end

local function check(r, t_call, sent, sched_tol, send_tol)
  T.eq(r.ok, true, r.error and r.error.message)
  T.eq(#r.events, N, "event count")
  T.eq(#sent, N, "server log")
  T.ok(r.start >= t_call and r.start - t_call < 0.05, "start is stamped by the call itself")
  local worst_sched, worst_send = 0, 0
  for i = 1, N do
    local ev, want = r.events[i], expected(i - 1)
    T.eq(ev.event, want.event, "event " .. i)
    T.eq(ev.id, want.id, "id " .. i)
    T.eq(ev.data, want.data, "data " .. i)
    T.ok(ev.t > 0 and ev.t <= r.timings.done, "t within the request")
    if i > 1 then T.ok(ev.t >= r.events[i - 1].t, "monotonic") end
    local ds = math.abs(ev.t - i * INTERVAL)
    local arrival = r.start + ev.t   -- the start stamp itself, not t_call before it
    T.ok(arrival >= sent[i] - 0.0002, ("event %d stamped before it was sent (%.6f < %.6f)"):format(i, arrival, sent[i]))
    worst_sched = math.max(worst_sched, ds)
    worst_send = math.max(worst_send, arrival - sent[i])
  end
  T.ok(worst_sched < sched_tol, ("worst distance to schedule %.2f ms"):format(worst_sched * 1e3))
  T.ok(worst_send < send_tol, ("worst send->stamp delay %.2f ms"):format(worst_send * 1e3))
  return worst_sched, worst_send
end

for _, te in ipairs({ "chunked", "close" }) do
  for seed = 1, 3 do
    T.test(("fragmented %s stream, seed %d: content exact, stamps on time"):format(te, seed), function()
      local r, t0, sent = stream(te, seed)
      local a, b = check(r, t0, sent, SCHED_TOL, SEND_TOL)
      print(("     schedule %.2f ms, send->stamp %.2f ms"):format(a * 1e3, b * 1e3))
    end)
  end
end

T.test("on_event sees the same stamps as the stored events", function()
  local seen = {}
  local r, t0, sent = stream("chunked", 11, { on_event = function(ev) seen[#seen + 1] = ev.t end })
  check(r, t0, sent, SCHED_TOL, SEND_TOL)
  for i = 1, N do T.eq(seen[i], r.events[i].t) end
end)

T.test("20 concurrent fragmented streams keep their stamps", function()
  local tasks = {}
  for k = 1, 20 do
    tasks[k] = mb.spawn(function()
      local r, t0, sent = stream(k % 2 == 0 and "chunked" or "close", 100 + k)
      return { check(r, t0, sent, SCHED_TOL * 3, SEND_TOL * 3) }
    end)
  end
  local worst = 0
  for _, w in ipairs(mb.wait(tasks)) do worst = math.max(worst, w[2]) end
  print(("     worst send->stamp delay %.2f ms"):format(worst * 1e3))
end)

return T.run()
