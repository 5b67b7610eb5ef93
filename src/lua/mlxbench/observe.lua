-- mlxbench.observe: what happens on the server's side while a run goes --
-- its Prometheus metrics (mlxbench.scrape), its process (CPU, memory,
-- threads: --server-pid) and the machine's power (--power-cmd, --watts) --
-- sampled on the run's own event loop and put on the run's timeline, then
-- the run's cost and energy (mlxbench.cost).
--
--   local obs = observe.start(o)          -- bench{} options, before measuring
--   ... the measured part ...
--   observe.finish(obs, run, t0)          -- run.server_metrics, .server_process,
--                                         -- .power, .energy, .cost
--
-- Samplers are tasks that sleep between samples: they cost the loop a few
-- microseconds each, and a command (powermetrics, nvidia-smi) runs in its
-- own process (mlxbench._cmd), never blocking the loop.
local sched = require "mlxbench._sched"
local time = require "mlxbench.time"
local sys = require "mlxbench._sys"
local json = require "mlxbench.json"
local scrape = require "mlxbench.scrape"
local cost = require "mlxbench.cost"
local target_mod = require "mlxbench.target"

local M = {}

M.DEFAULT_INTERVAL = 0.5

local LOOPBACK = { localhost = true, ["127.0.0.1"] = true, ["::1"] = true, ["0.0.0.0"] = true }

-- port_of(url) -> the URL's TCP port (explicit, or 80/443 by scheme)
local function port_of(url)
  local rest = url:match("^%a[%w+.-]*://([^/?#]*)") or ""
  rest = rest:gsub("^.*@", "")
  local p = rest:match("%]:(%d+)$") or rest:match("^[^:]*:(%d+)$")
  if p then return tonumber(p) end
  return url:match("^https://") and 443 or 80
end
M.port_of = port_of

-- what a build whose platform layer cannot read other processes says
local UNSUPPORTED = "this build's platform layer (" .. tostring(sys.platform) .. ") cannot read another "
  .. "process's figures; a build for Linux or macOS can (or watch the server's --metrics-url)"

-- resolve_pid(spec, url) -> pid | nil, message: a number as is (it must
-- exist), or "auto": the local process listening on the target's loopback
-- port (found through the platform layer).
function M.resolve_pid(spec, url)
  if spec == nil then return nil end
  if spec ~= "auto" then
    local pid = math.tointeger(tonumber(spec))
    if not pid or pid <= 0 then
      return nil, "--server-pid: want a process id or auto, got '" .. tostring(spec) .. "'"
    end
    local p, why = sys.proc(pid)
    if not p then
      return nil, string.format("--server-pid %d: %s", pid, why == "gone" and "no such process"
        or why == "unsupported" and UNSUPPORTED or "the system will not tell this process's figures (another user's? run as that user)")
    end
    return pid
  end
  local host = target_mod.host(url or target_mod.DEFAULT_URL)
  if not LOOPBACK[host] and not host:match("^127%.") then
    return nil, "--server-pid auto finds the server listening on a loopback port; " .. host
      .. " is not this machine: give the server's process id"
  end
  local port = port_of(url)
  local pid, why = sys.listening_pid(port)
  if not pid then
    return nil, string.format("--server-pid auto: %s", why == "none"
      and ("nothing listens on port " .. port .. " of this machine")
      or why == "unsupported" and UNSUPPORTED
      or ("a process listens on port " .. port .. " but the system will not say which "
          .. "(another user's: run as that user or give its process id)"))
  end
  return pid
end

-- The server process: CPU seconds, RSS and threads every interval.
local function proc_sampler(pid, interval)
  local s = { pid = pid, t = {}, cpu = {}, rss = {}, threads = {}, stopping = false }
  local p0 = sys.proc(pid)
  s.name = p0 and p0.name or nil
  s.task = sched.spawn(function()
    while true do
      local p, why = sys.proc(pid)
      if not p then
        s.ended = why
        return
      end
      local k = #s.t + 1
      s.t[k], s.cpu[k], s.rss[k], s.threads[k] = time.now(), p.cpu_s, p.rss, p.threads
      if s.stopping then return end
      local next_at = s.t[k] + interval
      while not s.stopping and time.now() < next_at do time.sleep(math.min(0.05, next_at - time.now())) end
    end
  end)
  return s
end

-- server_process: per sample the CPU % since the previous one (100 = one
-- core), RSS and threads; peak RSS and mean CPU over the run.
local function proc_finish(s, t0)
  s.stopping = true
  sched.join(s.task)
  local n = #s.t
  local out = { pid = s.pid, name = s.name ~= "" and s.name or nil, samples = n,
                ended = s.ended and (s.ended == "gone" and "the process ended during the run"
                  or "the system stopped telling this process's figures") or nil,
                t = json.array(), cpu_pct = json.array(), rss_bytes = json.array(),
                threads = json.array() }
  local peak, cpu_sum, cpu_n = nil, 0, 0
  for i = 1, n do
    out.t[i] = s.t[i] - t0
    local pct = json.null
    if i > 1 and s.t[i] > s.t[i - 1] and s.cpu[i] >= s.cpu[i - 1] then
      pct = (s.cpu[i] - s.cpu[i - 1]) / (s.t[i] - s.t[i - 1]) * 100
      cpu_sum, cpu_n = cpu_sum + pct, cpu_n + 1
    end
    out.cpu_pct[i] = pct
    out.rss_bytes[i] = s.rss[i] or json.null
    out.threads[i] = s.threads[i] or json.null
    if s.rss[i] and (not peak or s.rss[i] > peak) then peak = s.rss[i] end
  end
  out.peak_rss_bytes = peak
  out.cpu_pct_mean = cpu_n > 0 and cpu_sum / cpu_n or nil
  if n >= 2 and s.t[n] > s.t[1] then
    out.cpu_s = s.cpu[n] - s.cpu[1]
    out.cpu_pct_overall = out.cpu_s / (s.t[n] - s.t[1]) * 100
  end
  return out
end

-- The machine's power: a command that prints watts, every interval.
local function power_sampler(command, interval)
  local cmd = require "mlxbench._cmd"
  local s = { command = command, t = {}, w = {}, stopping = false, failed = 0 }
  s.task = sched.spawn(function()
    while true do
      local t_start = time.now()
      local r = cmd.run(command, { timeout = math.max(5, interval * 10) })
      local w = cost.read_watts(r.stdout)
      if r.status == 0 and w then
        local k = #s.t + 1
        s.t[k], s.w[k] = (t_start + time.now()) / 2, w   -- the middle of the sampling
      else
        s.failed = s.failed + 1
        s.first_error = s.first_error or (r.timed_out and "timed out" or
          (r.status ~= 0 and ("exit status " .. r.status .. ": " .. (r.stderr or ""):sub(1, 160))
           or ("no number of watts in its output: '" .. (r.stdout or ""):sub(1, 80) .. "'")))
      end
      if s.stopping then return end
      local next_at = t_start + interval
      while not s.stopping and time.now() < next_at do time.sleep(math.min(0.05, next_at - time.now())) end
    end
  end)
  return s
end

local function power_finish(s, t0)
  s.stopping = true
  sched.join(s.task)
  local out = { command = s.command, samples = #s.t, failed = s.failed > 0 and s.failed or nil,
                first_error = s.first_error, t = json.array(), watts = json.array() }
  for i = 1, #s.t do
    out.t[i], out.watts[i] = s.t[i] - t0, s.w[i]
  end
  return out
end

-- start(o [, target]) -> the samplers of a run, from bench{} options:
-- metrics_url, metrics_interval, metrics_keep, server_pid, power_cmd,
-- sample_interval. Nothing is started when none is given.
function M.start(o)
  local obs = {}
  local iv = o.metrics_interval or M.DEFAULT_INTERVAL
  if o.metrics_url then
    obs.scrape = scrape.start{ url = o.metrics_url, interval = iv, keep = o.metrics_keep }
  end
  if o.server_pid then
    obs.proc = proc_sampler(o.server_pid, iv)
  end
  if o.power_cmd then
    obs.power = power_sampler(o.power_cmd, math.max(iv, o.power_interval or 1.0))
  end
  return obs
end

-- cancel(obs): stops every sampler now (the run failed on its way).
function M.cancel(obs)
  for _, k in ipairs{ "scrape", "proc", "power" } do
    local s = obs[k]
    if s and s.task and not s.task:done() then s.task:cancel() end
  end
end

-- finish(obs, run, t0, o): stops the samplers, puts what they saw on the
-- run (times relative to t0) and the run's cost and energy.
function M.finish(obs, run, t0, o)
  if obs.scrape then run.server_metrics = obs.scrape:finish(t0) end
  if obs.proc then run.server_process = proc_finish(obs.proc, t0) end
  if obs.power then run.power = power_finish(obs.power, t0) end
  cost.apply(run, o)
end

return M
