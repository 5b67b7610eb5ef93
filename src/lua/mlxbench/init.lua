-- mlxbench: the high-level module. Tasks, and (as they land) targets,
-- benchmarks, sweeps, prompts, reports and the emulated server.
local sched = require "mlxbench._sched"

local M = {}

M.version = require("mlxbench._sys").version   -- from CMake
M.time = require "mlxbench.time"
M.stats = require "mlxbench.stats"
M.sse = require "mlxbench.sse"

-- Submodules load on first use: mlxbench.http, .llm, .mock, .prompts,
-- .report, .results, .json (so a script that only sleeps loads no HTTP).
local lazy = { http = 1, llm = 1, mock = 1, proxy = 1, dataset = 1, prompts = 1, report = 1, results = 1, json = 1 }
setmetatable(M, { __index = function(t, k)
  if lazy[k] then
    local mod = require("mlxbench." .. k)
    rawset(t, k, mod)
    return mod
  end
end })

--- target{name, url, api, api_key | api_key_env, headers} -> target
function M.target(opts) return require("mlxbench.target").new(opts) end
--- bench{...} -> run (see docs/LUA_API.md)
function M.bench(opts) return require("mlxbench.bench").bench(opts) end
--- sweep{..., over = {option = {values}}} -> list of runs
function M.sweep(opts) return require("mlxbench.bench").sweep(opts) end
--- search{..., rate = {lo, hi}, slo = {...}} -> {best, runs}
function M.search(opts) return require("mlxbench.bench").search(opts) end
--- mark(label): a timeline mark ("fault on", "fault off") for runs in progress
function M.mark(label) return require("mlxbench.bench").mark(label) end

--- spawn(fn, ...) -> task: runs fn(...) as a new task (virtual user).
M.spawn = sched.spawn

--- wait(task) -> the task's results (its error is raised here).
--- wait(t1, t2, ...) or wait{t1, t2, ...} -> waits for all; returns a list
--- of each task's first result (the first error is raised after all ended).
function M.wait(...)
  local n = select("#", ...)
  local first = ...
  if n == 1 and type(first) ~= "table" then
    return sched.join(first)
  end
  local tasks = (n == 1) and first or { ... }
  local out, err = {}, nil
  for i = 1, #tasks do
    local ok, v = pcall(sched.join, tasks[i])
    if ok then
      out[i] = v
    elseif err == nil then
      err = v
    end
  end
  if err ~= nil then error(err, 0) end
  return out
end

--- current() -> the running task or nil.
M.current = sched.current

--- yield(): let every other ready task run once.
function M.yield() return M.time.sleep(0) end

--- on_interrupt(fn): run fn as a task on the first Ctrl-C (instead of
--- stopping at once); a second Ctrl-C stops immediately.
M.on_interrupt = sched.on_interrupt
M.interrupted = sched.interrupted

return M
