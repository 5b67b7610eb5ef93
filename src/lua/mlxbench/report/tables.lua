-- mlxbench.report.tables: the tables of the HTML report -- runs, latency
-- percentiles and each run's configuration -- escaped, numbers right-aligned.
local svg = require "mlxbench.report.svg"

local M = {}

local esc, fmt_time = svg.esc, svg.fmt_time

local function n_(v) return type(v) == "number" and v == v and v or nil end

-- int(v) -> "3" for a whole number (JSON numbers decode as floats), else tostring
local function int(v)
  if type(v) == "number" and v == math.floor(v) and math.abs(v) < 2 ^ 53 then
    return string.format("%d", math.floor(v))
  end
  return tostring(v == nil and "-" or v)
end
M.int = int

local function metric(r, m, q)
  local x = type(r.metrics) == "table" and r.metrics[m]
  return type(x) == "table" and n_(x[q]) or nil
end

local function short_model(m) return (tostring(m or "-"):gsub("^mlx%-community/", "")) end

local function ms(v) return v and fmt_time(v) or "-" end

local function errors_of(rq)
  local errs = {}
  for k, n in pairs(type(rq.errors) == "table" and rq.errors or {}) do errs[#errs + 1] = k .. "=" .. int(n) end
  table.sort(errs)
  return #errs > 0 and table.concat(errs, ", ") or "0"
end

-- The run tables: cols = {{header, fn(run) -> text, numeric}}; a skipped
-- run shows its reason across the numeric columns
local function html_table(runs, cols, class)
  local out = { '<div class="scroll"><table class="' .. class .. '"><thead><tr>' }
  local first_num
  for i, c in ipairs(cols) do
    out[#out + 1] = (c[3] and '<th class="num">' or "<th>") .. esc(c[1]) .. "</th>"
    if c[3] and not first_num then first_num = i end
  end
  out[#out + 1] = "</tr></thead><tbody>"
  for _, r in ipairs(runs) do
    out[#out + 1] = "<tr" .. svg.attrs{ ["data-run"] = r.name, class = r.skipped and "skipped" or nil } .. ">"
    for i, c in ipairs(cols) do
      if r.skipped and c[3] then
        if i == first_num then
          out[#out + 1] = '<td colspan="' .. (#cols - i + 1) .. '">skipped: ' .. esc(r.skipped) .. "</td>"
        end
      else
        out[#out + 1] = (c[3] and '<td class="num">' or "<td>") .. esc(c[2](r) or "-") .. "</td>"
      end
    end
    out[#out + 1] = "</tr>"
  end
  out[#out + 1] = "</tbody></table></div>"
  return table.concat(out)
end

local function th(r, k) return type(r.throughput) == "table" and n_(r.throughput[k]) or nil end
local function f1(v) return v and string.format("%.1f", v) or "-" end
local function rq(r) return type(r.requests) == "table" and r.requests or {} end
local function tk(r) return type(r.tokens) == "table" and r.tokens or {} end
-- no successful request: "-", not 0.0
local function none_ok(r) return (n_(rq(r).ok) or 0) == 0 end
-- "~" marks figures built from estimated token counts (report.ESTIMATE_NOTE)
local function est(r, text, input)
  if text == "-" or none_ok(r) then return text end
  if (input and tk(r).input_estimated == true) or (not input and tk(r).estimated == true) then
    return "~" .. text
  end
  return text
end
local function rate(r, v, fmt)
  if none_ok(r) or not v then return "-" end
  return string.format(fmt or "%.1f", v)
end

local RUN_COLS = {
  { "Run", function(r) return r.name end },
  { "Model", function(r) return short_model(r.model) end },
  { "Backend", function(r) return r.backend or "-" end },
  { "Load", function(r)
      local cfg = type(r.config) == "table" and r.config or {}
      return cfg.rate and ("rate " .. int(cfg.rate) .. "/s") or cfg.concurrency and ("c=" .. int(cfg.concurrency)) or "-"
    end },
  { "OK/Total", function(r)
      local rq = type(r.requests) == "table" and r.requests or {}
      return int(rq.ok or 0) .. "/" .. int(rq.total or 0)
    end, true },
  { "out tok/s", function(r) return est(r, rate(r, th(r, "output_tok_s"))) end, true },
  { "avg tok/s", function(r) return est(r, rate(r, type(r.summary) == "table" and n_(r.summary.avg_tok_s))) end, true },
  { "req/s", function(r) return rate(r, th(r, "requests_s"), "%.2f") end, true },
  { "goodput/s", function(r) return rate(r, th(r, "goodput_s"), "%.2f") end, true },
  { "In tok", function(r) return est(r, n_(tk(r).input) and int(tk(r).input) or "-", true) end, true },
  { "Out tok", function(r) return est(r, n_(tk(r).output) and int(tk(r).output) or "-") end, true },
  { "Early stops", function(r)
      if none_ok(r) then return "-" end
      return int(n_(rq(r).stopped_early) or 0) .. "/" .. int(rq(r).ok)
    end, true },
  { "Errors", function(r) return errors_of(rq(r)) end, true },
}

local LAT_COLS = { { "Run", function(r) return r.name end } }
for _, m in ipairs{ { "TTFT", "ttft_s", { "p50", "p95", "p99" } }, { "ITL", "itl_s", { "p50", "p95" } },
                    { "E2E", "e2e_s", { "p50", "p95", "p99" } }, { "TPOT", "tpot_s", { "p50" } },
                    -- open loop: what users saw from the intended send, and the send lag
                    { "Latency", "latency_s", { "p50", "p99" } }, { "Queue", "queue_s", { "p99" } } } do
  for _, q in ipairs(m[3]) do
    LAT_COLS[#LAT_COLS + 1] = { m[1] .. " " .. q, function(r)
      local text = ms(metric(r, m[2], q))
      return m[2] == "tpot_s" and est(r, text) or text
    end, true }
  end
end

-- the client's own figures: how it stamped, how late it read, how busy it was
local function cl(r) return type(r.client) == "table" and r.client or {} end
local CLIENT_COLS = {
  { "Run", function(r) return r.name end },
  { "Stamps", function(r)
      local c = cl(r)
      local k, u = n_(c.stamp_kernel_count), n_(c.stamp_user_count)
      if not k and not u then return "-" end
      return string.format("kernel %s / user %s", int(k or 0), int(u or 0))
    end },
  { "Read lag p50", function(r) return ms(n_(cl(r).read_lag_p50_s)) end, true },
  { "p99", function(r) return ms(n_(cl(r).read_lag_p99_s)) end, true },
  { "max", function(r) return ms(n_(cl(r).read_lag_max_s)) end, true },
  { "Loop lag p99", function(r) return ms(n_(cl(r).loop_lag_p99_s)) end, true },
  { "CPU", function(r)
      local s = n_(cl(r).cpu_share)
      return s and string.format("%.0f%%", s * 100) or "-"
    end, true },
}

local function flat(v, prefix, out)
  if type(v) == "table" then
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    if #keys == 0 then out[#out + 1] = { prefix, "{}" } end
    for _, k in ipairs(keys) do flat(v[k], prefix and (prefix .. "." .. tostring(k)) or tostring(k), out) end
  elseif type(v) == "number" then
    out[#out + 1] = { prefix, v == math.floor(v) and string.format("%d", math.floor(v)) or string.format("%.6g", v) }
  elseif type(v) == "string" or type(v) == "boolean" then
    out[#out + 1] = { prefix, tostring(v) }
  end
  return out
end

function M.config(runs)
  local out = { '<div class="scroll"><table class="config"><thead><tr><th>Run</th><th>Target</th>'
    .. "<th>Options</th></tr></thead><tbody>" }
  for _, r in ipairs(runs) do
    local t = type(r.target) == "table" and r.target or {}
    local target = string.format("%s (%s) %s", tostring(t.name or r.backend or "-"), tostring(t.api or "-"),
      tostring(t.url or ""))
    if type(r.fallback) == "table" then target = target .. " → fallback " .. tostring(r.fallback.name) end
    local kv = {}
    for _, p in ipairs(flat(r.config or {}, nil, {})) do
      kv[#kv + 1] = "<code>" .. esc(p[1]) .. "=" .. esc(p[2]) .. "</code>"
    end
    for _, p in ipairs(flat(r.sweep or {}, "sweep", {})) do kv[#kv + 1] = "<code>" .. esc(p[1]) .. "=" .. esc(p[2]) .. "</code>" end
    if r.started_at then kv[#kv + 1] = "<code>started_at=" .. esc(r.started_at) .. "</code>" end
    out[#out + 1] = string.format("<tr><td>%s<br><small>%s</small></td><td>%s</td><td>%s</td></tr>", esc(r.name),
      esc(r.model or "-"), esc(target), table.concat(kv, " "))
  end
  out[#out + 1] = "</tbody></table></div>"
  return table.concat(out)
end

M.html_table = html_table
function M.runs(runs) return html_table(runs, RUN_COLS, "runs") end
function M.latency(runs) return html_table(runs, LAT_COLS, "latency") end
function M.client(runs) return html_table(runs, CLIENT_COLS, "client") end

return M
