-- mlxbench.load: the load shapes that drive a run.
--
-- closed loop: N virtual users, each sends its next request when the last
--   one ends (count- or time-bound, warm-up by count or seconds, stages that
--   ramp the user count);
-- open loop: requests leave on a precomputed schedule (constant, Poisson or
--   gamma arrivals, stages that ramp the rate), whatever the server does;
--   `max_inflight` bounds concurrency by delaying sends, never dropping them,
--   and every delay is recorded (queue_s, latency_s from the intended time).
local sched = require "mlxbench._sched"
local time = require "mlxbench.time"
local arrival = require "mlxbench.arrival"

local M = {}

-- Shards (`--shard i/n`, like k6's execution segments): n processes split a
-- run with no coordinator. Items -- requests, virtual users, the arrivals
-- of the open-loop schedule -- are numbered 1, 2, 3... exactly as a single
-- process numbers them, and shard i keeps every item k with
-- (k - 1) % n == i - 1. Interleaving gives the even split with the
-- remainder to the first shards, and the n shards' items are exactly the
-- single process's.

-- shard(v) -> {index = i, count = n} | nil, message. v: "i/n", {i, n} or
-- {index = i, count = n}, 1 <= i <= n.
function M.shard(v)
  if v == nil then return nil end
  local i, n
  if type(v) == "string" then
    i, n = v:match("^%s*(%d+)%s*/%s*(%d+)%s*$")
    i, n = math.tointeger(tonumber(i)), math.tointeger(tonumber(n))
  elseif type(v) == "table" then
    i, n = v.index or v[1], v.count or v[2]
    i, n = math.tointeger(i), math.tointeger(n)
  end
  if not i or not n or n < 1 or i < 1 or i > n then
    return nil, "shard must be I/N with 1 <= I <= N (e.g. \"2/3\" or {2, 3}), got " .. tostring(v)
  end
  return { index = i, count = n }
end

-- share(total, sh) -> how many of items 1..total shard sh keeps
function M.share(total, sh)
  if not sh then return total end
  return total // sh.count + ((sh.index <= total % sh.count) and 1 or 0)
end

-- mine(k, sh) -> whether item k (1-based) belongs to shard sh
function M.mine(k, sh)
  return not sh or (k - 1) % sh.count == sh.index - 1
end

-- global(j, sh) -> the number of shard sh's j-th item in the whole run
function M.global(j, sh)
  if not sh then return j end
  return sh.index + (j - 1) * sh.count
end

-- semaphore(n): acquire/release with parked tasks, FIFO.
function M.semaphore(n)
  local s = { avail = n, waiters = {} }
  function s.acquire()
    while s.avail <= 0 do
      s.waiters[#s.waiters + 1] = sched.current()
      sched.park()
    end
    s.avail = s.avail - 1
  end
  function s.release()
    s.avail = s.avail + 1
    local w = table.remove(s.waiters, 1)
    if w then sched.unpark(w) end
  end
  return s
end

-- A piecewise-linear profile from stages {{duration=, rate|concurrency=}}:
-- value(t) ramps from the previous stage's target to this one's.
local function profile(stages, key, start_value)
  local segs, t, v = {}, 0, start_value or 0
  for i, s in ipairs(stages) do
    local target = s[key]
    if type(s.duration) ~= "number" or s.duration <= 0 or type(target) ~= "number" or target < 0 then
      error(string.format("stages[%d]: need duration > 0 and %s >= 0", i, key), 0)
    end
    segs[#segs + 1] = { t0 = t, t1 = t + s.duration, v0 = v, v1 = target }
    t, v = t + s.duration, target
  end
  local p = { segs = segs, total = t }
  function p.value(x)
    for _, g in ipairs(segs) do
      if x < g.t1 then return g.v0 + (g.v1 - g.v0) * (x - g.t0) / (g.t1 - g.t0) end
    end
    return segs[#segs] and segs[#segs].v1 or 0
  end
  -- cumulative of value over [0, x]: the expected arrivals by time x
  function p.integral(x)
    local acc = 0
    for _, g in ipairs(segs) do
      local hi = math.min(x, g.t1)
      if hi <= g.t0 then break end
      local w = hi - g.t0
      local vhi = g.v0 + (g.v1 - g.v0) * w / (g.t1 - g.t0)
      acc = acc + (g.v0 + vhi) / 2 * w
    end
    return acc
  end
  -- inverse of integral: time at which `u` arrivals are expected
  function p.inverse(u)
    local acc = 0
    for _, g in ipairs(segs) do
      local d = g.t1 - g.t0
      local area = (g.v0 + g.v1) / 2 * d
      if acc + area >= u then
        local need = u - acc
        local a = (g.v1 - g.v0) / d / 2   -- need = v0*w + a*w^2
        local w
        if math.abs(a) < 1e-12 then
          w = g.v0 > 0 and need / g.v0 or d
        else
          w = (-g.v0 + math.sqrt(math.max(0, g.v0 * g.v0 + 4 * a * need))) / (2 * a)
        end
        return g.t0 + math.min(math.max(w, 0), d)
      end
      acc = acc + area
    end
    return nil
  end
  return p
end
M.profile = profile

-- schedule(o) -> list of send times (s from the run's start). With stages,
-- a unit-rate process is mapped through the inverse cumulative rate
-- (time rescaling), so ramps keep the arrival kind's character.
function M.schedule(o)
  local kind = o.arrival or "poisson"
  if o.stages then
    local p = profile(o.stages, "rate", o.rate_start or 0)
    local total = p.integral(p.total)
    if total <= 0 then return {} end
    local unit = arrival.schedule{ rate = 1, arrival = kind, burstiness = o.burstiness,
                                   seed = o.seed or 1, duration = total }
    local out = {}
    for _, u in ipairs(unit) do
      local t = p.inverse(u)
      if t then out[#out + 1] = t end
    end
    return out
  end
  return arrival.schedule{
    rate = o.rate, arrival = kind, burstiness = o.burstiness, seed = o.seed or 1,
    count = o.requests, duration = (not o.requests) and o.duration or nil,
  }
end

-- is_open(o) -> whether the options describe an open loop (a rate)
function M.is_open(o)
  return o.rate ~= nil or (o.stages ~= nil and o.stages[1] ~= nil and o.stages[1].rate ~= nil)
end

-- warmup(o, send, record, stopping) -> how many warm-up requests
-- were sent. The warm-up phase comes before the measured part and ends
-- before its first request leaves: `warmup` requests (or those started in
-- the first `warmup_s` seconds), sent as the run sends -- by the run's
-- users in a closed loop, on the run's arrival process in an open loop --
-- and every one of them finished (a server's cold start stays out of the
-- measured figures). Request numbers 1..warmup; record(r, "warmup").
function M.warmup(o, send, record, stopping)
  local n, secs = o.warmup or 0, o.warmup_s or 0
  if n == 0 and secs == 0 then return 0 end
  local sent, tasks = 0, {}
  local function one(i)
    sent = sent + 1
    record(send(i), "warmup")
  end
  local t_begin = time.now()
  if M.is_open(o) and not o.stages then
    local times = arrival.schedule{ rate = o.rate, arrival = o.arrival or "poisson",
      burstiness = o.burstiness, seed = (o.seed or 1) + 7919,
      count = n > 0 and n or nil, duration = n == 0 and secs or nil }
    local sem = M.semaphore(o.max_inflight or math.huge)
    for i, ti in ipairs(times) do
      local wait = t_begin + ti - time.now()
      while wait > 0 and not stopping() do
        time.sleep(wait > 0.25 and 0.2 or wait)
        wait = t_begin + ti - time.now()
      end
      if stopping() then break end
      sem.acquire()
      tasks[#tasks + 1] = sched.spawn(function()
        local ok, err = pcall(one, i)
        sem.release()
        if not ok then error(err, 0) end
      end)
    end
  else
    -- closed loop: the run's users (a ramp: its peak); an open-loop ramp
    -- warms up with one request at a time
    local users = M.is_open(o) and 1 or (o.concurrency or 1)
    if o.stages and not M.is_open(o) then
      for _, st in ipairs(o.stages) do users = math.max(users, math.ceil(st.concurrency or 1)) end
    end
    if n > 0 then users = math.min(users, n) end
    local next_i, deadline = 0, n == 0 and (t_begin + secs) or math.huge
    for k = 1, users do
      tasks[k] = sched.spawn(function()
        while not stopping() and time.now() < deadline do
          next_i = next_i + 1
          if n > 0 and next_i > n then return end
          one(next_i)
        end
      end)
    end
  end
  for _, t in ipairs(tasks) do sched.join(t) end
  return sent
end

-- open(o, send, record): runs the open-loop schedule. send(i) performs
-- request i and returns its result; record(r, phase) files it. Returns the
-- dispatcher's timer lag samples for the client-saturation check. Request
-- numbers follow the warm-up's (o.warmup + the arrival's number).
function M.open(o, send, record, stopping)
  local times = M.schedule(o)
  local sem = M.semaphore(o.max_inflight and math.max(1, M.share(o.max_inflight, o._shard))
                         or math.huge)
  local offset = o._offset or o.warmup or 0
  local t0 = o._t0 or (time.now() + 0.005)
  local lags, tasks = {}, {}
  local sh, kept = o._shard, 0
  for i, ti in ipairs(times) do
    if stopping() then break end
    if not M.mine(i, sh) then goto skip end
    kept = kept + 1
    local due = t0 + ti
    local wait = due - time.now()
    while wait > 0 do   -- in slices, so a stop is noticed during long gaps
      time.sleep(wait > 0.25 and 0.2 or wait)
      if stopping() then break end
      wait = due - time.now()
    end
    if stopping() then break end
    lags[#lags + 1] = math.max(0, time.now() - due)
    sem.acquire()
    tasks[#tasks + 1] = sched.spawn(function()
      local ok, r = pcall(send, offset + i)
      sem.release()
      if not ok then error(r, 0) end
      r.scheduled_s = due
      record(r, "measured")
    end)
    ::skip::
  end
  for _, t in ipairs(tasks) do sched.join(t) end
  return { t0 = t0, lags = lags, scheduled = sh and kept or #times, schedule_total = #times }
end

-- closed(o, send, record): N users (or a ramp of users with stages).
-- Requests ending after a duration-bound run's end are `cooldown`. The
-- warm-up (M.warmup) is over before this starts; request numbers follow it.
function M.closed(o, send, record, stopping)
  local stages = o.stages and profile(o.stages, "concurrency", o.concurrency_start or 0)
  local conc = o.concurrency or 1
  if stages then
    conc = 0
    for _, g in ipairs(stages.segs) do conc = math.max(conc, math.ceil(g.v0), math.ceil(g.v1)) end
  end
  -- a shard runs its share of the users (global user numbers sh.index,
  -- sh.index + n, ...) and of the measured requests; warm-up stays whole
  -- (each process warms its own connections, before its load)
  local sh = o._shard
  conc = M.share(conc, sh)
  local offset = o._offset or o.warmup or 0
  local n = o.requests and M.share(o.requests, sh) or math.maxinteger
  local t_begin = o._t_begin or time.now()   -- engine threads share the main state's
  local measure_start = t_begin
  local duration = o.duration or (stages and stages.total)
  local deadline = duration and (measure_start + duration) or math.huge
  local next_i = 0
  local function vu(k)
    while true do
      if stopping() then return end
      local now = time.now()
      if now >= deadline then return end
      if stages and M.global(k, sh) > math.floor(stages.value(now - t_begin) + 0.5) then
        time.sleep(0.05)   -- this user is not active at this point of the ramp
      else
        next_i = next_i + 1
        local i = next_i
        if i > n then return end
        local r = send(offset + M.global(i, sh))
        local phase = "measured"
        if duration and r.end_s and r.end_s > deadline then phase = "cooldown" end
        record(r, phase)
      end
    end
  end
  local tasks = {}
  for k = 1, conc do tasks[k] = sched.spawn(vu, k) end
  for k = 1, conc do sched.join(tasks[k]) end
  return { t0 = measure_start }
end

return M
