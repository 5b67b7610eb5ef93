-- mlxbench.report.server: the tables of what the server's side showed --
-- its metrics and process (Server), the TTFT split from its own timings,
-- and the run's cost and energy -- in the column specs of
-- mlxbench.report ({header, getter, align[, "time", group]}), shown only
-- when some run has them. docs/REPORTS.md describes each column.
local M = {}

local function num(v) return type(v) == "number" and v == v and v > -math.huge and v < math.huge end
-- a table from a results file, or an empty one: a damaged file shows "-"
local function T(v) return type(v) == "table" and v or {} end

local function g(v, fmt)
  if not num(v) then return "-" end
  return string.format(fmt or "%.1f", v)
end

-- "1.8/4": a mapped gauge's mean and max
local function mean_max(r, key, fmt, scale)
  local m = T(T(T(r.server_metrics).mapped)[key])
  if not num(m.mean) or not num(m.max) then return "-" end
  scale = scale or 1
  return g(m.mean * scale, fmt) .. "/" .. g(m.max * scale, fmt)
end

local function mib(v)
  if not num(v) then return "-" end
  if v >= 2 ^ 30 then return string.format("%.2f GiB", v / 2 ^ 30) end
  return string.format("%.0f MiB", v / 2 ^ 20)
end

local function metric(r, m, q)
  local v = T(T(r.metrics)[m])[q]
  return num(v) and v or nil
end

M.SERVER = {
  { "Run", function(r) return r.name end, "l" },
  { "Running mean/max", function(r) return mean_max(r, "running") end, "r" },
  { "Waiting", function(r) return mean_max(r, "waiting") end, "r" },
  { "KV use %", function(r)
      local m = T(T(T(r.server_metrics).mapped).kv_usage)
      return mean_max(r, "kv_usage", (num(m.max) and m.max < 0.1) and "%.2f" or "%.0f", 100)
    end, "r" },
  { "Gen tok/s", function(r) return mean_max(r, "generation_tok_s", "%.0f") end, "r" },
  { "CPU % mean", function(r) return g(T(r.server_process).cpu_pct_mean, "%.0f") end, "r" },
  { "Peak RSS", function(r) return mib(T(r.server_process).peak_rss_bytes) end, "r" },
  { "Threads", function(r)
      local t = T(T(r.server_process).threads)
      local last = t[#t]
      return num(last) and string.format("%.0f", last) or "-"
    end, "r" },
  { "Scrapes", function(r)
      local s = T(r.server_metrics)
      if not num(s.scrapes) then return "-" end
      return string.format("%.0f%s", s.scrapes, num(s.failed) and s.failed > 0 and string.format(" (%.0f failed)", s.failed)
        or "")
    end, "r" },
}

M.SPLIT = {
  { "Run", function(r) return r.name end, "l" },
  { "Reqs", function(r) return g(T(r.ttft_split).requests, "%.0f") end, "r" },
  { "From", function(r)
      local names = {}
      for k in pairs(T(T(r.ttft_split).source)) do names[#names + 1] = tostring(k) end
      table.sort(names)
      return #names > 0 and table.concat(names, ", ") or "-"
    end, "l" },
  { "TTFT p50", function(r) return metric(r, "ttft_s", "p50") end, "r", "time", "split" },
  { "Queue", function(r) return metric(r, "server_queue_s", "p50") end, "r", "time", "split" },
  { "Prefill", function(r) return metric(r, "server_prefill_s", "p50") end, "r", "time", "split" },
  { "Rest p50", function(r) return metric(r, "ttft_rest_s", "p50") end, "r", "time", "rest" },
  { "p95", function(r) return metric(r, "ttft_rest_s", "p95") end, "r", "time", "rest" },
  { "Floor p50", function(r)
      local v = T(T(r.ttft_split).client_floor).p50_s
      return num(v) and v or nil
    end, "r", "time", "floor" },
  { "p99", function(r)
      local v = T(T(r.ttft_split).client_floor).p99_s
      return num(v) and v or nil
    end, "r", "time", "floor" },
}

local function usd(v)
  if not num(v) then return "-" end
  if v >= 100 then return string.format("$%.0f", v) end
  if v >= 0.01 then return string.format("$%.2f", v) end
  if v == 0 then return "$0" end
  return string.format("$%.2g", v)
end
M.usd = usd

M.COST = {
  { "Run", function(r) return r.name end, "l" },
  { "Price in/out", function(r)
      local p = T(r.cost).price
      return type(p) == "table" and string.format("%s/%s", usd(p.input), usd(p.output)) or "-"
    end, "r" },
  { "$ per run", function(r) return usd(T(r.cost).usd) end, "r" },
  { "$ per 1M out", function(r) return usd(T(r.cost).usd_per_1m_output) end, "r" },
  { "Avg W", function(r) return g(T(r.energy).avg_watts) end, "r" },
  { "J per out tok", function(r) return g(T(r.energy).j_per_output_token, "%.3g") end, "r" },
  { "kWh $ per 1M out", function(r) return usd(T(r.energy).usd_per_1m_output) end, "r" },
}

-- sections(runs) -> {title, columns} for the runs that have them
function M.sections(runs)
  local has = { server = false, split = false, cost = false }
  for _, r in ipairs(runs) do
    if not r.skipped then
      if next(T(T(r.server_metrics).mapped)) or type(r.server_process) == "table" then has.server = true end
      if type(r.ttft_split) == "table" then has.split = true end
      if type(r.cost) == "table" or type(r.energy) == "table" then has.cost = true end
    end
  end
  local out = {}
  if has.server then out[#out + 1] = { "Server (its /metrics and process during the run)", M.SERVER, only = "server" } end
  if has.split then
    out[#out + 1] = { "TTFT split (the server's own timings: queue + prefill + rest = TTFT)", M.SPLIT, only = "split" }
  end
  if has.cost then out[#out + 1] = { "Cost and energy", M.COST, only = "cost" } end
  return out
end

-- which runs a section shows: those that have its data
function M.runs_for(only, runs)
  local out = {}
  for _, r in ipairs(runs) do
    local ok = not r.skipped and ((only == "server" and (type(r.server_metrics) == "table"
        or type(r.server_process) == "table")) or (only == "split" and type(r.ttft_split) == "table")
      or (only == "cost" and (type(r.cost) == "table" or type(r.energy) == "table")))
    if ok then out[#out + 1] = r end
  end
  return out
end

-- notes(r) -> lines about the server side of one run
function M.notes(r)
  local out = {}
  local s = T(r.server_metrics)
  if next(s) then
    if num(s.failed) and s.failed > 0 then
      out[#out + 1] = string.format("  %s: %s of %s scrapes of %s failed (%s)", r.name, g(s.failed, "%.0f"),
        g(s.scrapes, "%.0f"), tostring(s.url), tostring(s.first_error))
    elseif s.first_error then
      out[#out + 1] = string.format("  %s: %s: %s", r.name, tostring(s.url), tostring(s.first_error))
    end
    if num(s.scrapes) and s.scrapes > 0 and not next(T(s.mapped)) and #T(s.series) == 0 then
      out[#out + 1] = string.format("  %s: %s has none of the metrics mlxbench knows (vLLM, SGLang, TGI, "
        .. "llama.cpp); --metrics-keep REGEX keeps others", r.name, tostring(s.url))
    end
    if s.dropped_series then
      out[#out + 1] = string.format("  %s: --metrics-keep matched more than the %d series kept", r.name,
        #T(s.series))
    end
  end
  local p = T(r.server_process)
  if p.ended then
    out[#out + 1] = string.format("  %s: server pid %s: %s", r.name, tostring(p.pid), tostring(p.ended))
  end
  local sp = T(r.ttft_split)
  if num(sp.negative_rest) then
    out[#out + 1] = string.format("  %s: on %s request(s) the server reported more time than the client measured "
      .. "(its clock or its definition differs): their rest is negative, left out of the rest's percentiles",
      r.name, g(sp.negative_rest, "%.0f"))
  end
  local pw = T(r.power)
  if num(pw.failed) and pw.failed > 0 then
    out[#out + 1] = string.format("  %s: the power command failed %s time(s): %s", r.name, g(pw.failed, "%.0f"),
      tostring(pw.first_error))
  end
  if T(r.cost).estimated == true then
    out[#out + 1] = string.format("  %s: the cost is built on estimated token counts (~)", r.name)
  end
  return out
end

return M
