-- mlxbench.threads: engine threads for one benchmark run (wrk's model).
--
--   mlxbench.bench{ ..., threads = 4, thread_init = "my_hooks" }
--
-- The main state checks the options, runs the scenario's setup and, after
-- the run, its reporting. For the load itself it starts N OS threads, each
-- with a fresh engine (libuv loop, curl multi handle, lua_State) that runs
-- its share of the run -- thread k of N takes the items (virtual users,
-- measured requests, arrivals of the open-loop schedule) numbered k, k+N,
-- k+2N... exactly as `--shard k/N` would, so the threads' items are exactly
-- a single thread's -- and hands back what it measured: counters, encoded
-- histograms (decoded and merged exactly in the main state), per-request
-- entries (tagged with `thread`), send lags, its CPU time and loop lag.
--
-- Nothing but plain data crosses: the options are serialised (targets as
-- their specs, prompts, numbers, strings); a function cannot cross, so
-- per-thread code lives in a module each worker loads itself
-- (`thread_init`), like wrk's setup/init/done:
--
--   -- my_hooks.lua, found on the script's module path
--   local M = {}
--   function M.init(thread, opts) end   -- in each worker, before its load;
--                                       -- thread = {index = k, count = N};
--                                       -- may change opts (prompts = ...)
--   function M.on_result(r) end         -- each finished request, in the worker
--   function M.done(thread) return {...} end  -- plain data -> run.thread_data[k]
--   return M
local M = {}

local BOOT = "mlxbench.worker"   -- what each engine thread runs

-- ------------------------------------------------------------ serialising

local function ser(v, out, path, stack)
  local t = type(v)
  if t == "nil" or t == "boolean" then
    out[#out + 1] = tostring(v)
  elseif t == "number" or t == "string" then
    out[#out + 1] = string.format("%q", v)   -- exact: integers stay integers, floats in hex
  elseif t == "table" then
    if stack[v] then error(path .. ": a table that contains itself cannot cross to an engine thread", 0) end
    local mt = getmetatable(v)
    local json = require "mlxbench.json"
    if mt ~= nil and mt ~= json.array_mt then
      error(path .. ": an object with a metatable cannot cross to an engine thread "
        .. "(give plain data, or build it in a thread_init module)", 0)
    end
    stack[v] = true
    out[#out + 1] = mt == json.array_mt and "A{" or "{"
    local n = #v
    for i = 1, n do
      ser(v[i], out, path .. "[" .. i .. "]", stack)
      out[#out + 1] = ","
    end
    for k, x in pairs(v) do
      local tk = type(k)
      if not (math.type(k) == "integer" and k >= 1 and k <= n) then
        if tk ~= "string" and tk ~= "number" and tk ~= "boolean" then
          error(path .. ": a " .. tk .. " key cannot cross to an engine thread", 0)
        end
        out[#out + 1] = "["
        ser(k, out, path, stack)
        out[#out + 1] = "]="
        ser(x, out, path .. "." .. tostring(k), stack)
        out[#out + 1] = ","
      end
    end
    out[#out + 1] = "}"
    stack[v] = nil
  else
    error(path .. ": a " .. t .. " cannot cross to an engine thread (only plain data does: "
      .. "put per-thread code in a thread_init module)", 0)
  end
end

-- encode(v [, what]) -> a Lua expression that rebuilds plain data exactly
function M.encode(v, what)
  local out = {}
  ser(v, out, what or "value", {})
  return table.concat(out)
end

-- decode(s) -> the value (json arrays keep their marker)
function M.decode(s)
  local json = require "mlxbench.json"
  local f, err = load("return " .. s, "=[engine thread data]", "t", { A = json.array })
  if not f then error("engine thread: cannot read its data: " .. tostring(err), 0) end
  return f()
end

-- ------------------------------------------------------------ options

local function target_spec(t, path)
  local target_mod = require "mlxbench.target"
  if t == nil or type(t) == "string" then return t end
  local mt = getmetatable(t)
  if mt == target_mod.mt then
    -- the key travels in memory only; it is never in a results field
    return { name = t.name, url = t.url, api = t.api, headers = t.headers, backend = t.backend,
             api_key = t:secret(), timeout = t.timeout, model_override = t.model,
             allow_http_key = t.allow_http_key, secret_headers = t.secret_headers }
  elseif mt == target_mod.group_mt then
    local g = { policy = t.policy, retry_after = t.retry_after, name = t.name }
    for i, m in ipairs(t.members) do g[i] = target_spec(m, path .. "[" .. i .. "]") end
    return g
  elseif type(t) == "table" and mt == nil then
    local g = {}
    for k, v in pairs(t) do
      if type(v) == "table" and getmetatable(v) then
        g[k] = target_spec(v, path .. "." .. tostring(k))
      else
        g[k] = v
      end
    end
    return g
  end
  error("mlxbench.bench: " .. path .. " cannot cross to an engine thread", 0)
end

-- The options a worker gets: everything that is plain data; targets as
-- their specs. Functions raise a clear error here, in the main state.
local SKIP = { threads = true, thread_init = true, on_result = true }
function M.options(opts)
  local o = {}
  for k, v in pairs(opts) do
    if SKIP[k] then
      if k == "on_result" then
        error("mlxbench.bench: on_result is a function and cannot run in engine threads "
          .. "(threads = " .. tostring(opts.threads) .. "): define it in the thread_init module "
          .. "(see docs/SCALING.md), or use threads = 1", 0)
      end
    elseif k == "target" or k == "fallback" then
      o[k] = target_spec(v, k)
    elseif type(k) == "string" and k:sub(1, 1) == "_" then
      -- internal fields of a run in progress stay behind
    else
      o[k] = v
    end
  end
  -- fail here, with the option's name, rather than in a worker
  M.encode(o, "mlxbench.bench option")
  return o
end

-- split(n, sh) -> the thread count actually used: every thread must get at
-- least one virtual user of a closed loop (a thread with none would idle)
function M.split(o, n, sh)
  local load = require "mlxbench.load"
  if load.is_open(o) then return n end
  local conc = o.concurrency or 1
  if o.stages then
    for _, s in ipairs(o.stages) do
      if type(s.concurrency) == "number" then conc = math.max(conc, math.ceil(s.concurrency)) end
    end
  end
  local mine = sh and load.share(conc, sh) or conc
  return math.max(1, math.min(n, mine))
end

-- effective shard of thread k of n inside process shard sh (or none):
-- shard i/m then thread k/n is shard i + (k-1)*m of m*n
local function thread_shard(k, n, sh)
  local i, m = sh and sh.index or 1, sh and sh.count or 1
  return { index = i + (k - 1) * m, count = m * n }
end
M.thread_shard = thread_shard

-- ------------------------------------------------------------ main side

-- drive(opts, o, n, common, stopping, on_start) -> list of the workers'
-- parts, in thread order. common = {t_begin, t0}: the run's clock, shared
-- by every thread (one monotonic clock per process); on_start(handles) is
-- called once they run. Raises the first worker's error.
function M.drive(opts, o, n, common, stopping, on_start)
  local th = require "mlxbench._thread"
  local sched = require "mlxbench._sched"
  local time = require "mlxbench.time"
  local base = M.options(opts)
  local handles = {}
  for k = 1, n do
    local payload = M.encode({
      options = base, thread = { index = k, count = n }, shard = thread_shard(k, n, o._shard),
      init = opts.thread_init, path = package.path, cpath = package.cpath,
      t_begin = common.t_begin, t0 = common.t0, offset = common.offset,
    })
    handles[k] = th.start(BOOT, payload)
  end
  if on_start then on_start(handles) end
  local parts, err = {}, nil
  local function stop_all(how)
    for _, h in ipairs(handles) do h:stop(how) end
  end
  local joiners = {}
  for k, h in ipairs(handles) do
    joiners[k] = sched.spawn(function()
      local ok, res = h:join()
      if ok then
        parts[k] = M.decode(res)
      elseif not err then
        err = "engine thread " .. k .. "/" .. n .. ": " .. tostring(res)
        stop_all("hard")
      end
    end)
  end
  -- Ctrl-C / bench.stop() in the main state: the workers stop sending and
  -- finish what is in flight; after an interrupt, what is still in flight
  -- when the grace period ends (mlxbench.interrupt, when present) or at a
  -- second interrupt is aborted, and the workers still hand back their part
  local watcher = sched.spawn(function()
    while not stopping() do time.sleep(0.05) end
    stop_all("soft")
    if sched.interrupted() == 0 then return end
    local ok, intr = pcall(require, "mlxbench.interrupt")
    local deadline = time.now() + (ok and type(intr) == "table" and intr.grace and intr.grace() or 5)
    while time.now() < deadline and sched.interrupted() < 2 do time.sleep(0.05) end
    stop_all("abort")
  end)
  for _, j in ipairs(joiners) do sched.join(j) end
  watcher:cancel()
  if err then error(err, 0) end
  return parts
end

-- absorb(parts, c, cool, lag_h, rx) -> info, cpu_s, thread_data: the workers'
-- parts added into the main state's collectors (exact histogram merge),
-- their send lags concatenated, CPU seconds summed, loop-lag histograms
-- merged into lag_h, read-lag histograms into rx.h and their clocks into
-- rx.clock (the worst drift, steps summed).
function M.absorb(parts, c, cool, lag_h, rx)
  local stats = require "mlxbench.stats"
  local info = { lags = {}, scheduled = 0, warmup = 0 }
  local cpu, data, any = 0, {}, false
  for k, p in ipairs(parts) do
    c:absorb(p.c, k)
    cool:absorb(p.cool, k)
    info.warmup = info.warmup + (p.warmup or 0)
    for _, l in ipairs(p.lags or {}) do info.lags[#info.lags + 1] = l end
    info.scheduled = info.scheduled + (p.scheduled or 0)
    info.schedule_total = info.schedule_total or p.schedule_total
    cpu = cpu + (p.cpu_s or 0)
    if p.loop_lag then lag_h:merge(stats.decode(p.loop_lag)) end
    if p.read_lag then rx.h:merge(stats.decode(p.read_lag)) end
    if p.clock then
      local k = rx.clock
      k.kind, k.kernel = p.clock.kind, p.clock.kernel
      k.drift_max_s = math.max(k.drift_max_s or 0, p.clock.drift_max_s or 0)
      k.steps = (k.steps or 0) + (p.clock.steps or 0)
    end
    if p.data ~= nil then data[k], any = p.data, true end
  end
  c:sort_requests()
  return info, cpu, any and data or nil
end

-- live(handles) -> progress getters summing the workers' published counters
function M.live(handles)
  local function sum(i)
    return function()
      local s = 0
      for _, h in ipairs(handles) do s = s + select(i, h:counters()) end
      return s
    end
  end
  return { done = sum(1), inflight = sum(2), failed = sum(3), tokens = sum(4) }
end

return M
