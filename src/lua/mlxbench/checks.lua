-- mlxbench.checks: pass/fail verdicts on a run -- thresholds over any number
-- in the run ("ttft_s.p95<0.5", "requests.failed==0") and SLO attainment.
local M = {}

local OPS = {
  ["<"] = function(a, b) return a < b end, ["<="] = function(a, b) return a <= b end,
  [">"] = function(a, b) return a > b end, [">="] = function(a, b) return a >= b end,
  ["=="] = function(a, b) return a == b end, ["!="] = function(a, b) return a ~= b end,
}

-- parse_threshold("ttft_s.p95<0.5") -> {path, op, value, text} | nil, message.
-- A path naming a metric (ttft_s.p95) reads run.metrics; other paths
-- (requests.failed, throughput.output_tok_s, summary.avg_tok_s) the run.
-- Values may carry ms or s.
function M.parse_threshold(s, value)
  if value ~= nil then s = s .. tostring(value) end
  local path, op, v = s:match("^%s*([%w_%.]+)%s*([<>=!]=?)%s*([^%s]+)%s*$")
  if not path or not OPS[op] then
    return nil, "threshold '" .. s .. "': want PATH OP VALUE, e.g. 'ttft_s.p95<0.5'"
  end
  local num = tonumber((v:gsub("ms$", ""):gsub("s$", "")))
  if not num then return nil, "threshold '" .. s .. "': '" .. v .. "' is not a number" end
  if v:match("ms$") then num = num / 1000 end
  return { path = path, op = op, value = num, text = s }
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

-- evaluate(run, slo, thresholds) -> {failures = {message...}, attainment=}
function M.evaluate(run, slo, thresholds)
  local out = { failures = {} }
  for _, th in ipairs(thresholds or {}) do
    local v = M.lookup(run, th.path)
    if v == nil then
      out.failures[#out.failures + 1] = string.format("%s: the run has no value for %s", th.text, th.path)
    elseif not OPS[th.op](v, th.value) then
      out.failures[#out.failures + 1] = string.format("%s: measured %.6g", th.text, v)
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
