-- mlxbench.worker: the engine-thread side of a threaded run
-- (mlxbench.threads): each worker's fresh engine runs
-- require("mlxbench.worker").worker(payload) -- its share of the bench,
-- with the team's init/on_result/done hooks -- and hands back its part
-- encoded. Apart from mlxbench.threads so the run's driver (required by
-- bench) and the worker (which requires bench) form no require cycle.
local threads = require "mlxbench.threads"

local M = {}

local function load_init(spec)
  local mod
  if spec:match("%.lua$") or spec:find("/", 1, true) then
    local f, err = loadfile(spec)
    if not f then error("thread_init: " .. tostring(err), 0) end
    mod = f()
  else
    mod = require(spec)
  end
  if mod == nil or mod == true then return {} end
  if type(mod) ~= "table" then
    error("thread_init: " .. spec .. " must return a table of functions (init, on_result, done)", 0)
  end
  return mod
end

-- worker(payload) -> the encoded part; runs in each engine thread
function M.worker(payload)
  local spec = threads.decode(payload)
  package.path, package.cpath = spec.path, spec.cpath
  require("mlxbench.progress").set("none")
  local bench = require "mlxbench.bench"
  local o = spec.options
  local thread = { index = spec.thread.index, count = spec.thread.count }
  local hooks = spec.init and load_init(spec.init) or {}
  if hooks.init then hooks.init(thread, o) end
  if hooks.on_result then o.on_result = hooks.on_result end
  -- the run's own shard (if any) stays in o.shard; the thread's share of it
  -- is o._thread.shard
  o._thread = { index = thread.index, count = thread.count, shard = spec.shard,
                t_begin = spec.t_begin, t0 = spec.t0, offset = spec.offset }
  -- the main state's "abort": what is in flight ends now as `aborted`
  local th = require "mlxbench._thread"
  local sched = require "mlxbench._sched"
  local aborter = sched.spawn(function()
    while th.stop_level() < 2 do require("mlxbench.time").sleep(0.05) end
    local ok, http_c = pcall(require, "mlxbench._http")
    if ok and http_c.abort_all then http_c.abort_all("aborted: the run was interrupted") end
  end)
  local ok, part = pcall(bench.bench, o)
  aborter:cancel()
  if not ok then error(part, 0) end
  if hooks.done then part.data = hooks.done(thread) end
  return threads.encode(part, "thread " .. thread.index .. " result")
end

return M
