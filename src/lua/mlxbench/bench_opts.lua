-- mlxbench.bench_opts: the options of bench{} -- the names it knows,
-- their checks (clear errors at the caller's line), the results file's
-- config block that records them, and a run's default name.
local load = require "mlxbench.load"
local checks = require "mlxbench.checks"
local args = require "mlxbench.cli.args"
local traffic = require "mlxbench.traffic"

local M = {}

local is_open = load.is_open

-- every option bench{} takes (those starting with "_" are internal: the
-- engine threads' and `mlxbench run`'s own)
local KNOWN = {
  target = 1, model = 1, prompt = 1, prompts = 1, max_tokens = 1, stream = 1, requests = 1,
  ignore_eos = 1, min_tokens = 1, max_tokens_field = 1,
  duration = 1, warmup = 1, warmup_s = 1, concurrency = 1, seed = 1, slo = 1, on_result = 1,
  name = 1, timeout = 1, extra = 1, capture = 1, fallback = 1, keep_requests = 1, headers = 1,
  include_usage = 1, label = 1, connect_timeout = 1, rate = 1, arrival = 1, burstiness = 1,
  max_inflight = 1, stages = 1, thresholds = 1, lag_threshold = 1, timeline = 1,
  concurrency_start = 1, rate_start = 1, output_tokens = 1, shard = 1, threads = 1,
  thread_init = 1, _thread = 1, tokenizer = 1, synthetic = 1,
  -- the server's side and the run's cost (mlxbench.observe, mlxbench.cost)
  metrics_url = 1, metrics_interval = 1, metrics_keep = 1, server_pid = 1, power_cmd = 1,
  power_interval = 1, watts = 1, price = 1, prices = 1, kwh_price = 1, _on_warmup = 1,
  _defer_token_notice = 1,
  -- response limits and decoding, passed to every request (docs/RELIABILITY.md)
  max_body = 1, max_line = 1, accept_encoding = 1, cacert = 1, insecure = 1, max_request_bytes = 1,
}
for k in pairs(traffic.KNOWN) do KNOWN[k] = 1 end
M.KNOWN = KNOWN

-- check(o): errors (at the level of bench{}'s caller) for an unknown
-- option, with the nearest known name, or a value of the wrong kind
function M.check(o)
  if type(o) ~= "table" then error("mlxbench.bench: expected a table of options", 3) end
  local known = {}
  for k in pairs(KNOWN) do if not k:match("^_") then known[#known + 1] = k end end
  table.sort(known)
  for k in pairs(o) do
    if not KNOWN[k] then
      error("mlxbench.bench: unknown option '" .. tostring(k) .. "'"
        .. args.did_you_mean(tostring(k), known), 3)
    end
  end
  do
    local ok, err = traffic.check(o)
    if not ok then error("mlxbench.bench: " .. err, 3) end
  end
  -- integers: JSON numbers (5.0 from a file) are as good as Lua integers
  local function posint(k, zero)
    local v = o[k]
    if v ~= nil and not (type(v) == "number" and math.tointeger(v) and v >= (zero and 0 or 1)) then
      error("mlxbench.bench: " .. k .. " must be a " .. (zero and "non-negative" or "positive")
        .. " integer, got " .. tostring(v), 3)
    end
  end
  posint("requests")
  posint("sessions")
  posint("concurrency")
  posint("warmup", true)
  posint("max_tokens")
  posint("min_tokens", true)
  posint("max_inflight")
  posint("threads")
  if o.min_tokens and o.max_tokens and o.min_tokens > o.max_tokens then
    error("mlxbench.bench: min_tokens (" .. tostring(o.min_tokens) .. ") is above max_tokens ("
      .. tostring(o.max_tokens) .. ")", 3)
  end
  if o.max_tokens_field ~= nil and o.max_tokens_field ~= "max_tokens"
     and o.max_tokens_field ~= "max_completion_tokens" then
    error("mlxbench.bench: max_tokens_field must be \"max_tokens\" or \"max_completion_tokens\"", 3)
  end
  if o.extra ~= nil and type(o.extra) ~= "table" then
    error("mlxbench.bench: extra must be a table of request body fields", 3)
  end
  if o.thread_init ~= nil and type(o.thread_init) ~= "string" then
    error("mlxbench.bench: thread_init must be a module name or a .lua path", 3)
  end
  for _, k in ipairs{ "duration", "rate", "burstiness", "warmup_s", "timeout" } do
    if o[k] ~= nil and (type(o[k]) ~= "number" or o[k] < 0 or (k ~= "warmup_s" and o[k] == 0)) then
      error("mlxbench.bench: " .. k .. " must be a number > 0", 3)
    end
  end
  if o.arrival ~= nil and not ({ constant = 1, poisson = 1, gamma = 1 })[o.arrival] then
    error("mlxbench.bench: arrival must be constant, poisson or gamma", 3)
  end
  if o.stages ~= nil and type(o.stages) ~= "table" then error("mlxbench.bench: stages must be a list", 3) end
  if o.rate and o.concurrency then
    error("mlxbench.bench: give rate (open loop) or concurrency (closed loop), not both", 3)
  end
  if o.on_result ~= nil and type(o.on_result) ~= "function" then
    error("mlxbench.bench: on_result must be a function", 3)
  end
  if o.slo ~= nil then
    local ok, err = checks.check_slo(o.slo)
    if not ok then error("mlxbench.bench: " .. err, 3) end
  end
  if o.thresholds ~= nil then
    if type(o.thresholds) ~= "table" then
      error("mlxbench.bench: thresholds must be a table such as {[\"ttft_s.p95\"] = \"<0.5\"}", 3)
    end
    for k, v in pairs(o.thresholds) do
      local th, err = checks.parse_threshold(type(k) == "string" and k or tostring(v),
                                             type(k) == "string" and v or nil)
      if not th then error("mlxbench.bench: " .. err, 3) end
    end
  end
  if o.synthetic ~= nil then
    if type(o.synthetic) ~= "table" or o.synthetic.input == nil then
      error("mlxbench.bench: synthetic = {input = N | {mean, sd, min, max} | {min, max}, output = ..., "
        .. "prefix = N}", 3)
    end
    if o.prompt or o.prompts then error("mlxbench.bench: give synthetic or prompt(s), not both", 3) end
  end
  if o.shard ~= nil then
    local sh, err = load.shard(o.shard)
    if not sh then error("mlxbench.bench: " .. err, 3) end
    if not o.rate and not o.stages and (o.concurrency or 1) < sh.count then
      error(string.format("mlxbench.bench: shard %d/%d: concurrency %d is smaller than the number "
        .. "of shards, some would get no virtual user", sh.index, sh.count, o.concurrency or 1), 3)
    end
  end
end

-- header_names(h) -> the names of the extra request headers (never their
-- values: they may hold keys)
local function header_names(h)
  local out = {}
  for k, v in pairs(h) do
    out[#out + 1] = type(k) == "number" and tostring(v):match("^%s*([^:]+)") or tostring(k)
  end
  table.sort(out)
  return #out > 0 and out or nil
end

-- The config block of the results file: every option that shaped the run.
local function config_of(o)
  return {
    max_tokens = o.max_tokens, stream = o.stream, requests = o.requests, duration = o.duration,
    warmup = o.warmup or 0, warmup_s = o.warmup_s, concurrency = (not is_open(o)) and (o.concurrency or 1) or nil,
    rate = o.rate, arrival = is_open(o) and (o.arrival or "poisson") or nil,
    burstiness = o.burstiness, max_inflight = o.max_inflight, stages = o.stages, seed = o.seed,
    prompts = o._prompts.pick and (o._prompts.path or "source") or #o._prompts,
    synthetic = o.synthetic,
    prompt = type(o.prompt) == "string" and o.prompt:sub(1, 80) or nil,
    timeout = o.timeout, extra = o.extra, label = o.label,
    ignore_eos = o.ignore_eos or nil, min_tokens = o.min_tokens, max_tokens_field = o.max_tokens_field,
    include_usage = o.include_usage == false and false or nil, headers = o.headers and header_names(o.headers),
    max_body = o.max_body, max_line = o.max_line, accept_encoding = o.accept_encoding,
    insecure = o.insecure or nil, cacert = o.cacert, max_request_bytes = o.max_request_bytes,
    load = is_open(o) and "open" or "closed",
    -- (what watched the server is not the scenario: each shard scrapes its
    -- own; run.server_metrics.url, .server_process.pid, .power.command say it)
  }
end

-- config(o) -> the config block, with the traffic options' part
-- (mlxbench.traffic)
function M.config(o) return traffic.config(o, config_of(o)) end

-- default_name(o) -> a short run name: the load and, when not streamed,
-- "no-stream" ("c=4", "rate=2 no-stream"); the model and the backend have
-- their own columns
function M.default_name(o)
  local load_part = is_open(o) and ("rate=" .. (o.rate and string.format("%g", o.rate) or "ramp"))
    or (o.stages and "ramp" or ("c=" .. (o.concurrency or 1)))
  if o.replay then
    local sp = type(o.replay) == "table" and o.replay.speed
    load_part = "replay" .. (sp and sp ~= 1 and string.format(" x%g", sp) or "")
  end
  if o.conversations then load_part = load_part .. " chat" end
  return load_part .. (o.stream and "" or " no-stream")
end

return M
