-- mlxbench.checks: pass/fail verdicts on a run -- thresholds over any number
-- in the run ("ttft_s.p95<0.5", "requests.failed==0") and SLO attainment.
-- Both are validated before the first request: a typo ("tfft", "ttfts.p95")
-- is an error with a suggestion, never a check that silently passes.
local args = require "mlxbench.cli.args"

local M = {}

local OPS = {
  ["<"] = function(a, b) return a < b end, ["<="] = function(a, b) return a <= b end,
  [">"] = function(a, b) return a > b end, [">="] = function(a, b) return a >= b end,
  ["=="] = function(a, b) return a == b end, ["!="] = function(a, b) return a ~= b end,
}

-- SLO bounds (seconds) and the share of requests that must meet them.
M.SLO_KEYS = { "ttft", "tpot", "e2e", "latency", "attainment" }

-- check_slo(t) -> t | nil, message: every key known, every bound a number
-- of seconds > 0, attainment in (0, 1].
function M.check_slo(t)
  if type(t) ~= "table" then return nil, "slo must be a table such as {ttft = 0.5}" end
  for k, v in pairs(t) do
    local known = false
    for _, n in ipairs(M.SLO_KEYS) do known = known or n == k end
    if not known then
      return nil, string.format("slo: unknown key '%s'%s; the keys are ttft, tpot, e2e, latency "
        .. "(seconds) and attainment (0..1)", tostring(k), args.did_you_mean(tostring(k), M.SLO_KEYS))
    end
    if type(v) ~= "number" or v ~= v or v <= 0 or v == math.huge then
      return nil, string.format("slo: %s must be a number > 0, got %s", k, tostring(v))
    end
    if k == "attainment" and v > 1 then
      return nil, string.format("slo: attainment is a share of requests in (0, 1], got %s", tostring(v))
    elseif k ~= "attainment" and v > 86400 then
      return nil, string.format("slo: %s is in seconds (at most 86400), got %s", k, tostring(v))
    end
  end
  return t
end

-- The numbers a threshold can name: METRIC.STAT for the histogram metrics
-- (run.metrics), and these paths of the run itself.
M.METRICS = { "ttft_s", "ttfb_s", "itl_s", "tpot_s", "e2e_s", "req_tok_s", "decode_tok_s",
              "queue_s", "latency_s" }
M.STATS = { "count", "mean", "stddev", "min", "max", "p50", "p90", "p95", "p99", "p999" }
M.PATHS = {
  "requests.total", "requests.ok", "requests.failed", "requests.warmup", "requests.slo_met",
  "requests.stopped_early", "tokens.input", "tokens.output", "tokens.mean_output",
  "throughput.output_tok_s", "throughput.total_tok_s", "throughput.requests_s",
  "throughput.goodput_s", "summary.avg_tok_s", "summary.min_tok_s", "summary.max_tok_s",
  "summary.p50_tok_s", "summary.p95_tok_s", "summary.total_tokens", "duration_s",
  "client.cpu_share", "client.loop_lag_p99_s", "client.send_lag_p99_s",
}

local TIME_METRICS = { ttft_s = 1, ttfb_s = 1, itl_s = 1, tpot_s = 1, e2e_s = 1, queue_s = 1,
                       latency_s = 1 }
local TIME_PATHS = { duration_s = 1, ["client.loop_lag_p99_s"] = 1, ["client.send_lag_p99_s"] = 1 }

-- all known paths, for suggestions
local function all_paths()
  local out = {}
  for _, m in ipairs(M.METRICS) do
    for _, s in ipairs(M.STATS) do out[#out + 1] = m .. "." .. s end
  end
  for _, p in ipairs(M.PATHS) do out[#out + 1] = p end
  return out
end

-- known_path(p) -> true | nil, message with a suggestion
local function known_path(p)
  local m, s = p:match("^([%w_]+)%.([%w_]+)$")
  for _, x in ipairs(M.METRICS) do
    if m == x then
      for _, y in ipairs(M.STATS) do if s == y then return true end end
      return nil, string.format("'%s' has no statistic '%s' (one of %s)", m, tostring(s),
        table.concat(M.STATS, ", "))
    end
  end
  for _, x in ipairs(M.PATHS) do if p == x then return true end end
  if p:match("^requests%.errors%.[%w_]+$") then return true end
  return nil, string.format("unknown path '%s'%s; metric paths are METRIC.STAT (METRIC one of %s)",
    p, args.did_you_mean(p, all_paths()), table.concat(M.METRICS, ", "))
end

-- parse_threshold("ttft_s.p95<0.5") -> {path, op, value, unit, text} | nil,
-- message. A path naming a metric (ttft_s.p95) reads run.metrics; other
-- paths (requests.failed, throughput.output_tok_s, summary.avg_tok_s) the
-- run. Values may carry ms or s; the measured value is printed in the
-- limit's unit.
function M.parse_threshold(s, value)
  if value ~= nil then s = s .. tostring(value) end
  local path, op, v = s:match("^%s*([%w_%.]+)%s*([<>=!]=?)%s*([^%s]+)%s*$")
  if not path or not OPS[op] then
    return nil, "threshold '" .. s .. "': want PATH OP VALUE, e.g. 'ttft_s.p95<0.5' or 'ttft_s.p95<500ms'"
  end
  local ok, perr = known_path(path)
  if not ok then return nil, "threshold '" .. s .. "': " .. perr end
  local unit = v:match("ms$") and "ms" or v:match("[%d.]s$") and "s" or nil
  local num = tonumber((v:gsub("ms$", ""):gsub("s$", "")))
  if not num or num ~= num then return nil, "threshold '" .. s .. "': '" .. v .. "' is not a number" end
  local metric = path:match("^([%w_]+)%.")
  local is_time = (TIME_METRICS[metric] ~= nil and path ~= metric .. ".count") or TIME_PATHS[path] ~= nil
  if unit and not is_time then
    return nil, "threshold '" .. s .. "': " .. path .. " is not a time, it takes no unit"
  end
  if unit == "ms" then num = num / 1000 end
  return { path = path, op = op, value = num, unit = unit, text = s, time = is_time }
end

-- lookup(run, "ttft_s.p95") -> number | nil
function M.lookup(run, path)
  local cur = run
  local first = path:match("^([^%.]+)")
  if run.metrics and run.metrics[first] ~= nil or (first and first:match("_s$") and not run[first]) then
    cur = run.metrics or {}
  end
  for part in path:gmatch("[^%.]+") do
    if type(cur) ~= "table" then return nil end
    cur = cur[part]
  end
  return type(cur) == "number" and cur or nil
end

-- in_unit(v, th) -> the measured value as the limit was written: "48.5 ms"
local function in_unit(v, th)
  if th.unit == "ms" then return string.format("%.4g ms", v * 1000) end
  if th.unit == "s" or th.time then return string.format("%.4g s", v) end
  return string.format("%.6g", v)
end
M.in_unit = in_unit

-- evaluate(run, slo, thresholds) -> {failures = {message...}, attainment=}
function M.evaluate(run, slo, thresholds)
  local out = { failures = {} }
  for _, th in ipairs(thresholds or {}) do
    local v = M.lookup(run, th.path)
    if v == nil then
      out.failures[#out.failures + 1] = string.format("%s: the run has no value for %s%s", th.text,
        th.path, (run.requests and run.requests.ok == 0) and " (no request succeeded)" or "")
    elseif not OPS[th.op](v, th.value) then
      out.failures[#out.failures + 1] = string.format("%s: measured %s", th.text, in_unit(v, th))
    end
  end
  if slo and run.requests and run.requests.total > 0 then
    local att = (run.requests.slo_met or 0) / run.requests.total
    out.attainment = att
    local want = slo.attainment or 1.0
    if att + 1e-9 < want then
      out.failures[#out.failures + 1] = string.format(
        "SLO met by %.1f%% of requests (need %.1f%%)", att * 100, want * 100)
    end
  end
  return out
end

return M
