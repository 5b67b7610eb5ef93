-- mlxbench.bench: one benchmark run -- a target, a model, prompts, a load
-- shape -- measured into one run of the results file.
--
--   local run = mlxbench.bench{ target = t, model = "m", prompt = "short",
--                               requests = 20, concurrency = 4, stream = true }
--   local run = mlxbench.bench{ target = t, model = "m", rate = 4, duration = 60,
--                               arrival = "poisson", slo = { ttft = 0.5 } }
local sched = require "mlxbench._sched"
local time = require "mlxbench.time"
local llm = require "mlxbench.llm"
local prompts = require "mlxbench.prompts"
local target_mod = require "mlxbench.target"
local collect = require "mlxbench.collect"
local interrupt = require "mlxbench.interrupt"
local limits = require "mlxbench.limits"
local load = require "mlxbench.load"
local timeline = require "mlxbench.timeline"
local stats = require "mlxbench.stats"
local progress = require "mlxbench.progress"
local threads = require "mlxbench.threads"
local report = require "mlxbench.report"
local monitor = require "mlxbench._monitor"
local thread_c = require "mlxbench._thread"
local checks = require "mlxbench.checks"
local tokens = require "mlxbench.tokens"
local traffic = require "mlxbench.traffic"
local send_mod = require "mlxbench.send"
local observe = require "mlxbench.observe"
local bench_opts = require "mlxbench.bench_opts"

local M = {}

-- Set by stop() (Ctrl-C): the run (or sweep) in progress stops issuing
-- requests and finishes what is in flight, so what was measured is written.
-- The next bench{} starts afresh; after Ctrl-C, sched.interrupted() keeps
-- later runs from starting.
local stopping = false
function M.stop() stopping = true end
function M.stopping() return stopping or sched.interrupted() > 0 or thread_c.stopped() end

-- Timeline marks (fault on/off...) any task can drop during a run.
local marks = {}
function M.mark(label) marks[#marks + 1] = { t = time.now(), label = tostring(label) } end

-- as_target(t) -> a target (or group): nil or a name, an options table, or
-- one made already
local function as_target(t)
  if t == nil or type(t) == "string" then return target_mod.new(t or {}) end
  local mt = getmetatable(t)
  if mt == target_mod.mt or mt == target_mod.group_mt then return t end
  return target_mod.new(t)
end

local is_open = load.is_open

-- progress_total(o) -> the requests the status line counts to: a replay's
-- records, the requests asked for; none for conversations (a session's
-- turns are not known ahead)
local function progress_total(o)
  if o._sessions then return nil end
  return o._times and #o._times or o.requests
end

-- client_part(o, nthreads, cpu_s, load_wall, lag_h, rx, c) -> run.client;
-- rx = {h = read-lag histogram, clock = what _monitor.read_lag said}, c the
-- collector (its requests counted by stamp source)
local function client_part(o, nthreads, cpu_s, load_wall, lag_h, rx, c)
  local client = {
    threads = nthreads, cpu_s = cpu_s, wall_s = load_wall,
    cpu_share = load_wall > 0 and cpu_s / (load_wall * nthreads) or 0,
    lag_threshold_s = o.lag_threshold,
  }
  if lag_h:count() > 0 then
    client.loop_lag_p50_s, client.loop_lag_p99_s = lag_h:percentile(50), lag_h:percentile(99)
    client.loop_lag_max_s, client.loop_lag_count = lag_h:max(), lag_h:count()
  end
  -- receive stamps: the kernel's or user space's, and the client's read lag
  local kernel = (c.stamps.kernel or 0) > 0
  client.rx_stamps = kernel and rx.clock.kind or "none"
  client.stamp_kernel_count, client.stamp_user_count = c.stamps.kernel or 0, c.stamps.user or 0
  if rx.h:count() > 0 then
    client.read_lag_p50_s, client.read_lag_p99_s = rx.h:percentile(50), rx.h:percentile(99)
    client.read_lag_max_s, client.read_lag_count = rx.h:max(), rx.h:count()
  end
  if kernel then
    client.clock_drift_max_s = rx.clock.drift_max_s
    if (rx.clock.steps or 0) > 0 then client.clock_steps_count = rx.clock.steps end
  end
  return client
end

-- bench{...} -> run (the results-file table, plus :summary())
function M.bench(o)
  bench_opts.check(o)
  stopping = false
  local opts = o
  o = setmetatable({}, { __index = opts })
  local t = as_target(o.target)
  local fallback = o.fallback and as_target(o.fallback)
  o.stream = o.stream ~= false
  if o.max_request_bytes then limits.MAX_REQUEST_BYTES = o.max_request_bytes end   -- prompt files too
  for _, k in ipairs{ "requests", "concurrency", "warmup", "max_tokens", "min_tokens", "max_inflight",
                      "threads", "sessions" } do
    if o[k] ~= nil then o[k] = math.tointeger(o[k]) end
  end
  if o.sessions then o.requests = o.sessions end   -- a conversation run counts sessions
  local models = assert(traffic.models(o.model))
  -- the model's tokenizer, for exact counts and prompt lengths (a model
  -- mix: each model's own, found when first used, unless one is given)
  local tspec = o.tokenizer
  if tspec == nil then tspec = t.tokenizer end
  local rok, tok, tinfo = pcall(tokens.resolve, tspec, models[1])
  if not rok then error("mlxbench.bench: " .. tostring(tok), 2) end
  o._tok = tok
  local toks = { [models[1]] = tok or false }
  o._tok_for = function(m)
    if toks[m] == nil then
      if tspec ~= nil and tspec ~= "auto" then
        toks[m] = tok or false
      else
        local ok2, t2 = pcall(tokens.resolve, "auto", m)
        toks[m] = ok2 and t2 or false
      end
    end
    return toks[m] or nil
  end
  local tok_for = o._tok_for
  do
    local ok, err = pcall(traffic.setup, o, tok_for)
    if not ok then error(err, 0) end
  end
  if o._replay or o._sessions then
    o._prompts = o._replay or o._sessions
  elseif o.synthetic then
    -- a random workload: lengths drawn per request (plain data, so engine
    -- threads can build the same source)
    local s = o.synthetic
    o._prompts = prompts.synthetic_spec{ input = s.input, output = s.output, prefix = s.prefix,
                                         seed = o.seed or 1, tokenizer = tok }
  else
    o._prompts = prompts.resolve(o.prompts or o.prompt or "short", { tokenizer = tok })
  end
  o._pick = o._pick or prompts.picker(o._prompts, o.seed)
  -- in an engine thread, its share of the run (of the run's shard, if any)
  o._shard = o._thread and o._thread.shard or load.shard(o.shard)
  local name = o.name or bench_opts.default_name(o)
  local fields = {
    name = name, backend = t.backend, target = t:public(), model = table.concat(models, ","),
    models = #models > 1 and models or nil, config = bench_opts.config(o), tokenizer = tinfo,
  }
  -- without a tokenizer: said on stderr up front where progress is shown,
  -- and in the report's notes (run.warnings) when some count of the run
  -- was in fact estimated (usage makes them exact)
  local tok_warning = not tok and tokens.warning(tinfo, models[1]) or nil
  -- (mlxbench run defers it to its first warm-up answer, which tells
  -- whether the server's usage makes the counts exact anyway)
  if tok_warning and not o._thread and progress.notices() and not tinfo.none:match("^disabled")
     and not o._defer_token_notice then
    io.stderr:write("mlxbench: ", tok_warning, "\n")
  end
  if fallback then fields.fallback = fallback:public() end
  local ths = {}
  for k, v in pairs(o.thresholds or {}) do
    ths[#ths + 1] = assert(checks.parse_threshold(type(k) == "string" and k or tostring(v),
                                                  type(k) == "string" and v or nil))
  end
  table.sort(ths, function(a, b) return a.text < b.text end)

  if t:needs_key() and not t:has_key() then
    fields.skipped = string.format("no API key: set %s to include this row", t.key_env or "the key")
    return setmetatable(collect.new{ name = name, slo = o.slo }:finish(fields), M.run_mt)
  end
  local group = target_mod.group(t, fallback)

  local c = collect.new{ name = name, slo = o.slo, keep_requests = o.keep_requests }
  local cool = collect.new{ name = name .. " (cool-down)", keep_requests = false }
  c.w.multi = #models > 1
  local warm_count = 0
  local inflight = 0
  local record
  function record(r, phase)
    if r.session_summary then   -- its turns were recorded as they ended
      if phase ~= "warmup" and not o._warming then c:add_session(r.session_summary) end
      return
    end
    if phase == "warmup" then
      warm_count = warm_count + 1
      if o._on_warmup then o._on_warmup(r, warm_count) end
      return
    end
    if phase == "cooldown" then
      cool:add(r)
    else
      c:add(r)
    end
    if o.on_result then o.on_result(r) end
    if o._thread then thread_c.publish(c.total, inflight, c.failed, c.tok_out) end
  end
  -- a conversation's turn, recorded when it ends: in the warm-up, after
  -- the end of a duration-bound run (cool-down), or measured
  o._stopping = M.stopping
  o._record_turn = function(r)
    local phase = "measured"
    if o._warming then
      phase = "warmup"
    elseif o._deadline and r.end_s and r.end_s > o._deadline then
      phase = "cooldown"
    end
    record(r, phase)
  end
  local function send(i, due)
    inflight = inflight + 1
    local ok, r = pcall(send_mod.one, o, group, i, due)
    inflight = inflight - 1
    if not ok then error(r, 0) end
    return r
  end
  -- engine threads: the workers' counters, for the status line
  local live
  local prog = progress.start{
    name = name, total = progress_total(o) and load.share(progress_total(o), o._shard), duration = o.duration or (o.stages and load.profile(o.stages, is_open(o) and "rate" or "concurrency").total),
    done = function() return live and live.done() or c.total end,
    inflight = function() return live and live.inflight() or inflight end,
    errors = function() return live and live.failed() or c.failed end,
    -- tokens received so far: those of finished requests and of requests
    -- still in flight (their stream events)
    tokens = function() return live and live.tokens() or (c.tok_out + llm.live_events()) end,
    ttft_p50 = function() local h = c.h.ttft_s return h:count() > 0 and h:percentile(50) or nil end,
  }

  -- whatever way this function leaves (an error in a task, a limit), no
  -- ticker outlives it
  local ticker, obs
  local guard <close> = setmetatable({}, { __close = function()
    prog.cancel()
    if ticker then ticker:cancel() end
    if obs then observe.cancel(obs) end
  end })
  -- descriptors for every user, checked up front (mlxbench.limits)
  limits.check_bench(o, group)
  -- Ctrl-C during the run: stop, grace period, results (mlxbench.interrupt)
  local restore_interrupt = interrupt.guard(M.stop)
  local mark0 = #marks + 1
  local tc = o._thread
  -- the warm-up phase, over before the measured part starts: in the main
  -- state (engine threads get none: the process is warm by then)
  if not tc then
    if (o.warmup or 0) > 0 or (o.warmup_s or 0) > 0 then
      prog.warmup((o.warmup or 0) > 0 and o.warmup or nil, o.warmup_s, function() return warm_count end)
      o._warming = true
      load.warmup(o, send, record, M.stopping)
      o._warming = nil
    end
    prog.measure()
  end
  -- t0: the run's zero for per-request times and marks -- the first
  -- scheduled send (open loop) or the start of the measured part (closed)
  local info
  -- the client's own cost: CPU time of the thread(s) running the load and
  -- the lateness of a periodic timer on their loops (mlxbench._monitor)
  local nthreads = tc and 1 or threads.split(o, o.threads or 1, o._shard)
  -- the server's side, sampled while the measured part runs
  obs = not tc and observe.start(o) or nil
  local cpu_s, wall_begin = monitor.thread_cpu(), time.now()
  local lag_h = stats.histogram{}
  local probe = nthreads == 1 and monitor.loop_lag(lag_h) or nil
  -- the read lag from here on (the first call makes this engine's client
  -- and calibrates the clock its kernel stamps are converted with)
  local rx = { h = stats.histogram{} }
  rx.clock = monitor.read_lag(rx.h)
  rx.h:reset()
  local thread_data
  -- a worker publishes its live token count for the main state's status line
  ticker = tc and sched.spawn(function()
    while true do
      time.sleep(0.25)
      thread_c.publish(c.total, inflight, c.failed, c.tok_out + llm.live_events())
    end
  end)
  if M.stopping() then
    info = { t0 = time.now() }
    c.t0 = info.t0
  elseif nthreads > 1 then
    local common = { t_begin = time.now(), offset = o.warmup or 0 }
    if is_open(o) then
      common.t0 = time.now() + 0.05   -- the workers' engines start meanwhile
      c.t0 = common.t0
    else
      c.t0 = common.t_begin
    end
    -- the workers measure only (the warm-up is done), and load the
    -- tokenizer file found here (or none), not a search of their own
    local wopts = {}
    for k, v in pairs(opts) do wopts[k] = v end
    wopts.warmup, wopts.warmup_s, wopts._on_warmup, wopts._defer_token_notice = 0, nil, nil, true
    wopts.tokenizer = tinfo.path or "none"
    local parts = threads.drive(wopts, o, nthreads, common, M.stopping,
                                function(handles) live = threads.live(handles) end)
    info, cpu_s, thread_data = threads.absorb(parts, c, cool, lag_h, rx)
  elseif is_open(o) then
    o._t0 = tc and tc.t0 or (time.now() + 0.005)
    o._offset = tc and tc.offset or o.warmup or 0
    c.t0 = o._t0
    info = load.open(o, send, record, M.stopping)
  else
    o._t_begin = tc and tc.t_begin or time.now()
    o._offset = tc and tc.offset or o.warmup or 0
    c.t0 = o._t_begin
    info = load.closed(o, send, record, M.stopping)
  end
  if ticker then ticker:cancel() end
  if probe then probe:stop() end
  if nthreads == 1 then rx.clock = monitor.read_lag(rx.h) end
  if nthreads == 1 then cpu_s = monitor.thread_cpu() - cpu_s end
  local load_wall = time.now() - wall_begin
  if tc then
    -- an engine thread hands its part to the main state (mlxbench.threads)
    prog.finish()
    return { c = c:dump(), cool = cool:dump(), warmup = 0, lags = info.lags,
             scheduled = info.scheduled, schedule_total = info.schedule_total,
             cpu_s = cpu_s, wall_s = load_wall, loop_lag = lag_h:count() > 0 and lag_h:encode() or nil,
             read_lag = rx.h:count() > 0 and rx.h:encode() or nil, clock = rx.clock }
  end
  -- open loop: throughput over the schedule's window -- from its zero to
  -- the last end, at least its length -- not from the first arrival
  if is_open(o) and c.first_start and c.last_end then
    local sched_len = o.duration or (o.stages and load.profile(o.stages, "rate").total)
      or (o._times and o._times[#o._times]) or 0
    c.window = { start = c.t0, finish = math.max(c.last_end, c.t0 + sched_len) }
  end
  -- the wall-clock time of the run's zero, so runs of several processes or
  -- machines line up (mlxbench merge)
  local wall0 = time.wall() - (time.now() - c.t0)
  prog.finish()
  restore_interrupt()
  if M.stopping() then fields.interrupted = true end
  local run = c:finish(fields)
  if tok_warning and (run.tokens.estimated or run.tokens.input_estimated) then
    run.warnings = run.warnings or {}
    table.insert(run.warnings, 1, tok_warning)
  end
  run.requests.warmup = warm_count
  run.started_unix = wall0
  run.started_at = os.date("!%Y-%m-%dT%H:%M:%S", math.floor(wall0))
    .. string.format(".%03dZ", math.floor((wall0 % 1) * 1000))
  local ws, we = c:span()
  if ws and we then
    run.window = { start_s = ws - c.t0, end_s = we - c.t0 }
  end
  if obs then
    observe.finish(obs, run, c.t0, o)
    obs = nil
  end
  if o._shard then
    local sh = o._shard
    run.shard = { index = sh.index, count = sh.count }
    if is_open(o) then
      run.shard.scheduled, run.shard.schedule_total = info.scheduled, info.schedule_total
    else
      run.shard.requests = o.requests and load.share(o.requests, sh)
      run.shard.concurrency = not o.stages and load.share(o.concurrency or 1, sh) or nil
    end
  end
  if cool.total > 0 then
    run.cooldown = { requests = cool.total, ok = cool.ok, failed = cool.failed,
                     output_tokens = cool.tok_out,
                     note = "in flight when the run ended: finished, not in the run's metrics" }
  end
  local client = client_part(o, nthreads, cpu_s, load_wall, lag_h, rx, c)
  run.client = client
  if client.clock_steps_count then
    run.warnings = run.warnings or {}
    run.warnings[#run.warnings + 1] = string.format("the wall clock was set during the run (%d "
      .. "step%s over 1 ms, the largest %.1f ms): kernel receive stamps read across it were off by "
      .. "that much until the next check (every 100 ms)", client.clock_steps_count,
      client.clock_steps_count == 1 and "" or "s", client.clock_drift_max_s * 1000)
  end
  if thread_data then run.thread_data = thread_data end
  local saturated = report.client_saturation(client, o.lag_threshold)
  if saturated then
    client.saturated = true
    run.warnings = run.warnings or {}
    run.warnings[#run.warnings + 1] = saturated
  end
  if info.lags and #info.lags > 0 then
    local h = stats.histogram{}
    for _, l in ipairs(info.lags) do h:record(l) end
    local p99 = h:percentile(99)
    client.send_lag_p99_s, client.send_lag_max_s, client.scheduled = p99, h:max(), info.scheduled
    local limit = o.lag_threshold or 0.010
    if p99 > limit then
      run.warnings = run.warnings or {}
      run.warnings[#run.warnings + 1] = string.format(
        "the client fell behind its schedule (send lag p99 %.1f ms > %.1f ms): latency figures "
        .. "include the client's own delay", p99 * 1000, limit * 1000)
    end
  end
  -- the served-by counts and the timeline, when more than one target served
  -- or the caller asked for a timeline
  local rmarks = {}
  for k = mark0, #marks do
    rmarks[#rmarks + 1] = { t_s = marks[k].t - c.t0, label = marks[k].label }
  end
  if #group.members > 1 or o.timeline or #rmarks > 0 then
    run.targets = timeline.per_target(run.per_request)
    run.timeline = timeline.build(run.per_request, rmarks)
    run.marks = rmarks
    if #rmarks > 0 then run.failover = timeline.failover_metrics(run.per_request, rmarks, group) end
  end
  -- thresholds given in bench{}: the verdict rides with the run
  if #ths > 0 or o.slo then
    local verdict = checks.evaluate(run, o.slo, ths)
    run.checks = { pass = #verdict.failures == 0, failures = verdict.failures, attainment = verdict.attainment }
  end
  return setmetatable(run, M.run_mt)
end

M.run_mt = { __index = {} }
-- run:summary() -> the seed-compatible summary table
function M.run_mt.__index:summary() return self.summary end

-- sweep{base options..., over = {key = {values...}}} or over = "key",
-- values = {...} -> list of runs, one per value (or per combination).
function M.sweep(o)
  if type(o) ~= "table" then error("mlxbench.sweep: expected a table of options", 2) end
  local axes = {}
  if o.over and type(o.over) == "table" then
    for k, vals in pairs(o.over) do axes[#axes + 1] = { key = k, values = vals } end
    table.sort(axes, function(a, b) return a.key < b.key end)
  elseif type(o.over) == "string" and type(o.values) == "table" then
    axes[1] = { key = o.over, values = o.values }
  else
    error("mlxbench.sweep: give over = {option = {values}} or over = 'option', values = {...}", 2)
  end
  local runs = {}
  local function rec(ax, base)
    if ax > #axes then
      local opts = {}
      for k, v in pairs(o) do
        if k ~= "over" and k ~= "values" and k ~= "name" then opts[k] = v end
      end
      local label = {}
      for _, a in ipairs(axes) do
        opts[a.key] = base[a.key]
        label[#label + 1] = a.key .. "=" .. tostring(base[a.key])
      end
      opts.name = (o.name and (o.name .. " ") or "") .. table.concat(label, " ")
      local run = M.bench(opts)
      run.sweep = {}
      for _, a in ipairs(axes) do run.sweep[a.key] = base[a.key] end
      runs[#runs + 1] = run
      return
    end
    for _, v in ipairs(axes[ax].values) do
      base[axes[ax].key] = v
      if M.stopping() then return end
      rec(ax + 1, base)
    end
  end
  rec(1, {})
  return runs
end

-- search{bench options..., rate = {lo, hi}, steps = 6, slo = {...},
--        attainment = 0.95} -> {best = rate|nil, runs = {...}}
-- Bisection for the highest open-loop rate whose SLO attainment holds.
function M.search(o)
  if type(o) ~= "table" or type(o.rate) ~= "table" or #o.rate ~= 2 then
    error("mlxbench.search: give rate = {low, high} and the bench options", 2)
  end
  if type(o.slo) ~= "table" then error("mlxbench.search: slo = {...} is required", 2) end
  local lo, hi = o.rate[1], o.rate[2]
  if not (type(lo) == "number" and type(hi) == "number" and lo > 0 and hi > lo) then
    error("mlxbench.search: rate must be {low, high} with 0 < low < high", 2)
  end
  local steps = o.steps or 6
  local want = o.attainment or o.slo.attainment or 0.95
  local runs, best = {}, nil
  local function try(rate)
    local opts = {}
    for k, v in pairs(o) do
      if k ~= "rate" and k ~= "steps" and k ~= "attainment" and k ~= "name" then opts[k] = v end
    end
    opts.rate = rate
    opts.name = string.format("%s rate=%.3g", o.name or "search", rate)
    local run = M.bench(opts)
    run.sweep = { rate = rate }
    runs[#runs + 1] = run
    local total = run.requests.total
    local att = total > 0 and (run.requests.slo_met or 0) / total or 0
    run.search = { attainment = att, pass = att + 1e-9 >= want }
    return run.search.pass
  end
  if not try(lo) then return { best = nil, runs = runs, attainment = want } end
  best = lo
  for _ = 1, steps do
    if M.stopping() then break end
    local mid = (lo + hi) / 2
    if try(mid) then
      best, lo = mid, mid
    else
      hi = mid
    end
  end
  return { best = best, runs = runs, attainment = want }
end

return M
