-- mlxbench.report.server: the tables of what the server's side showed --
-- its metrics and process (Server), the TTFT split from its own timings,
-- and the run's cost and energy -- in the column specs of
-- mlxbench.report ({header, getter, align[, "time", group]}), shown only
-- when some run has them. docs/REPORTS.md describes each column.
local M = {}

local function num(v) return type(v) == "number" and v == v and v > -math.huge and v < math.huge end

local function g(v, fmt)
  if not num(v) then return "-" end
  return string.format(fmt or "%.1f", v)
end

-- "1.8/4": a mapped gauge's mean and max
local function mean_max(r, key, fmt, scale)
  local m = r.server_metrics and r.server_metrics.mapped and r.server_metrics.mapped[key]
  if not m or not num(m.mean) then return "-" end
  scale = scale or 1
  return g(m.mean * scale, fmt) .. "/" .. g(m.max * scale, fmt)
end

local function mib(v)
  if not num(v) then return "-" end
  if v >= 2 ^ 30 then return string.format("%.2f GiB", v / 2 ^ 30) end
  return string.format("%.0f MiB", v / 2 ^ 20)
end

local function metric(r, m, q)
  local x = r.metrics and r.metrics[m]
  return x and x[q] or nil
end

M.SERVER = {
  { "Run", function(r) return r.name end, "l" },
  { "Running mean/max", function(r) return mean_max(r, "running") end, "r" },
  { "Waiting", function(r) return mean_max(r, "waiting") end, "r" },
  { "KV use %", function(r)
      local m = r.server_metrics and r.server_metrics.mapped and r.server_metrics.mapped.kv_usage
      return mean_max(r, "kv_usage", (m and num(m.max) and m.max < 0.1) and "%.2f" or "%.0f", 100)
    end, "r" },
  { "Gen tok/s", function(r) return mean_max(r, "generation_tok_s", "%.0f") end, "r" },
  { "CPU % mean", function(r) return g(r.server_process and r.server_process.cpu_pct_mean, "%.0f") end, "r" },
  { "Peak RSS", function(r) return mib(r.server_process and r.server_process.peak_rss_bytes) end, "r" },
  { "Threads", function(r)
      local p = r.server_process
      local t = p and p.threads
      local last = type(t) == "table" and t[#t]
      return num(last) and string.format("%d", math.floor(last)) or "-"
    end, "r" },
  { "Scrapes", function(r)
      local s = r.server_metrics
      if not s then return "-" end
      return string.format("%d%s", s.scrapes or 0, (s.failed or 0) > 0 and string.format(" (%d failed)", s.failed) or "")
    end, "r" },
}

M.SPLIT = {
  { "Run", function(r) return r.name end, "l" },
  { "Reqs", function(r) return string.format("%d", math.floor(r.ttft_split.requests or 0)) end, "r" },
  { "From", function(r)
      local names = {}
      for k in pairs(r.ttft_split.source or {}) do names[#names + 1] = k end
      table.sort(names)
      return #names > 0 and table.concat(names, ", ") or "-"
    end, "l" },
  { "TTFT p50", function(r) return metric(r, "ttft_s", "p50") end, "r", "time", "split" },
  { "Queue", function(r) return metric(r, "server_queue_s", "p50") end, "r", "time", "split" },
  { "Prefill", function(r) return metric(r, "server_prefill_s", "p50") end, "r", "time", "split" },
  { "Rest p50", function(r) return metric(r, "ttft_rest_s", "p50") end, "r", "time", "rest" },
  { "p95", function(r) return metric(r, "ttft_rest_s", "p95") end, "r", "time", "rest" },
  { "Floor p50", function(r)
      local f = r.ttft_split.client_floor
      return f and f.p50_s or nil
    end, "r", "time", "floor" },
  { "p99", function(r)
      local f = r.ttft_split.client_floor
      return f and f.p99_s or nil
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
      local p = r.cost and r.cost.price
      return p and string.format("%s/%s", usd(p.input), usd(p.output)) or "-"
    end, "r" },
  { "$ per run", function(r) return usd(r.cost and r.cost.usd) end, "r" },
  { "$ per 1M out", function(r) return usd(r.cost and r.cost.usd_per_1m_output) end, "r" },
  { "Avg W", function(r) return g(r.energy and r.energy.avg_watts) end, "r" },
  { "J per out tok", function(r) return g(r.energy and r.energy.j_per_output_token, "%.3g") end, "r" },
  { "kWh $ per 1M out", function(r) return usd(r.energy and r.energy.usd_per_1m_output) end, "r" },
}

-- sections(runs) -> {title, columns} for the runs that have them
function M.sections(runs)
  local has = { server = false, split = false, cost = false }
  for _, r in ipairs(runs) do
    if not r.skipped then
      local mapped = r.server_metrics and r.server_metrics.mapped
      if (mapped and next(mapped)) or r.server_process then has.server = true end
      if r.ttft_split then has.split = true end
      if r.cost or r.energy then has.cost = true end
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
    local ok = not r.skipped and ((only == "server" and (r.server_metrics or r.server_process))
      or (only == "split" and r.ttft_split) or (only == "cost" and (r.cost or r.energy)))
    if ok then out[#out + 1] = r end
  end
  return out
end

-- notes(r) -> lines about the server side of one run
function M.notes(r)
  local out = {}
  local s = r.server_metrics
  if s then
    if (s.failed or 0) > 0 then
      out[#out + 1] = string.format("  %s: %d of %d scrapes of %s failed (%s)", r.name, s.failed, s.scrapes,
        tostring(s.url), tostring(s.first_error))
    elseif s.first_error then
      out[#out + 1] = string.format("  %s: %s: %s", r.name, tostring(s.url), tostring(s.first_error))
    end
    if (s.scrapes or 0) > 0 and not s.mapped and #(s.series or {}) == 0 then
      out[#out + 1] = string.format("  %s: %s has none of the metrics mlxbench knows (vLLM, SGLang, TGI, "
        .. "llama.cpp); --metrics-keep REGEX keeps others", r.name, tostring(s.url))
    end
    if s.dropped_series then
      out[#out + 1] = string.format("  %s: --metrics-keep matched more than the %d series kept", r.name,
        #(s.series or {}))
    end
  end
  local p = r.server_process
  if p and p.ended then out[#out + 1] = string.format("  %s: server pid %s: %s", r.name, tostring(p.pid), p.ended) end
  local sp = r.ttft_split
  if sp and sp.negative_rest then
    out[#out + 1] = string.format("  %s: on %d request(s) the server reported more time than the client measured "
      .. "(its clock or its definition differs): their rest is negative, left out of the rest's percentiles",
      r.name, sp.negative_rest)
  end
  local pw = r.power
  if pw and (pw.failed or 0) > 0 then
    out[#out + 1] = string.format("  %s: the power command failed %d time(s): %s", r.name, pw.failed,
      tostring(pw.first_error))
  end
  if r.cost and r.cost.estimated then
    out[#out + 1] = string.format("  %s: the cost is built on estimated token counts (~)", r.name)
  end
  return out
end

return M
