-- mlxbench.report.timeline: the HTML report's timeline of a run -- output
-- tokens per second as the run went, and under it, on the same time axis,
-- what the server's side showed: its requests running and waiting, its
-- KV-cache usage, its process's CPU and memory, the machine's power, and
-- the raw series --metrics-keep kept (docs/REPORTS.md, "Timeline"). Also
-- the TTFT split chart and the server / cost tables of the Runs section.
local svg = require "mlxbench.report.svg"
local tables = require "mlxbench.report.tables"
local server = require "mlxbench.report.server"

local M = {}

M.MAX_RAW_CHARTS = 8
M.MAX_LINES = 10

local function n_(v) return type(v) == "number" and v == v and v > -math.huge and v < math.huge and v or nil end
-- a table from a results file, or an empty one (a damaged file draws less,
-- never fails)
local function T(v) return type(v) == "table" and v or {} end
-- a time on the run's axis: finite, and within a week
local function t_(v) v = n_(v) return v and v >= -1 and v < 604800 and v or nil end

local function fmt_s(v) return svg.fmt_tick(v) .. " s" end

-- tok_s_bins(run, width) -> {{t, tok_s}}: each successful request's tokens
-- spread evenly over its decode span (first token to end), in bins of
-- `width` seconds since the run's zero
function M.tok_s_bins(r, width)
  local bins, last = {}, -1
  local reqs, span = {}, 0
  for _, q in ipairs(T(r.per_request)) do
    q = T(q)
    local s, e2e, ttft, n = t_(q.start_s), t_(q.e2e_s), t_(q.ttft_s), n_(q.output_tokens)
    if q.ok == true and s and s >= 0 and e2e and e2e >= 0 and n and n > 0 then
      reqs[#reqs + 1] = { s, e2e, ttft, n }
      span = math.max(span, s + e2e)
    end
  end
  width = math.max(width, span / 2000)   -- at most ~2000 bins
  for _, q in ipairs(reqs) do
    local s, e2e, ttft, n = q[1], q[2], q[3], q[4]
    local a, b = s + (ttft or e2e), s + e2e
    if b <= a then
      local k = math.floor(b / width)
      bins[k] = (bins[k] or 0) + n
      last = math.max(last, k)
    else
      local rate = n / (b - a)
      for k = math.floor(a / width), math.floor(b / width) do
        local lo, hi = math.max(a, k * width), math.min(b, (k + 1) * width)
        if hi > lo then
          bins[k] = (bins[k] or 0) + rate * (hi - lo)
          last = math.max(last, k)
        end
      end
    end
  end
  local out = {}
  for k = 0, last do out[#out + 1] = { (k + 0.5) * width, (bins[k] or 0) / width } end
  return out
end

local function has_timeline(r)
  return not r.skipped and (type(r.server_metrics) == "table" or type(r.server_process) == "table"
    or type(r.power) == "table")
end
M.has_timeline = has_timeline

-- line_chart(o) -> svg: o = {kind, title, xhi, ylabel, yfmt, series =
-- {{label, pts = {{t, v}}, attrs}}, attrs}; one path and its points per series
local function line_chart(o)
  local ymax = 0
  local n = 0
  for _, s in ipairs(o.series) do
    for _, p in ipairs(s.pts) do
      ymax = math.max(ymax, p[2])
      n = n + 1
    end
  end
  if n == 0 then return nil end
  local _, yhi, yt = svg.linear_domain(0, ymax > 0 and ymax * 1.08 or 1, 4)
  local _, xhi, xt = svg.linear_domain(0, o.xhi, 8)
  local a = { ["data-n"] = #o.series }
  for k, v in pairs(o.attrs or {}) do a[k] = v end
  local c = svg.chart{ kind = o.kind, h = o.h or 170, margin = { l = 64, t = 10, b = 36 },
    x = { lo = 0, hi = xhi, ticks = xt, fmt = fmt_s, label = "time since the run started" },
    y = { lo = 0, hi = yhi, ticks = yt, fmt = o.yfmt, label = o.ylabel },
    label = o.title, attrs = a }
  local items = {}
  for i, s in ipairs(o.series) do
    local cls = "series c" .. ((i - 1) % 10)
    local ga = { ["data-series"] = s.label, ["data-n"] = #s.pts }
    for k, v in pairs(s.attrs or {}) do ga[k] = v end
    c:add('<g class="' .. cls .. '"' .. svg.attrs(ga) .. ">")
    if #s.pts > 1 then c:add('<path class="line" d="' .. c:line_d(s.pts) .. '"></path>') end
    for _, p in ipairs(s.pts) do
      c:circle(p[1], p[2], 2, { ["data-t"] = p[1], ["data-v"] = p[2] },
        string.format("%s at %s s: %s", s.label, svg.fmt_num(p[1], 3), o.yfmt and o.yfmt(p[2]) or svg.fmt_num(p[2], 4)))
    end
    c:add("</g>")
    items[#items + 1] = string.format('<li class="%s"><span class="sw"></span>%s</li>', cls, svg.esc(s.label))
  end
  return c:render() .. (#o.series > 1 and ('<ul class="legend">' .. table.concat(items) .. "</ul>") or "")
end

-- points of a sampled list against its times (nulls skipped)
local function pts(t, v, scale)
  local out = {}
  t, v = T(t), T(v)
  for i = 1, math.min(#t, #v) do
    local x, y = t_(t[i]), n_(v[i])
    if x and y then out[#out + 1] = { x, y * (scale or 1) } end
  end
  return out
end

local function pct(v) return string.format((v ~= 0 and math.abs(v) < 10) and "%.2g%%" or "%.0f%%", v) end
local function bytes(v)
  if v >= 2 ^ 30 then return string.format("%.1f GiB", v / 2 ^ 30) end
  return string.format("%.0f MiB", v / 2 ^ 20)
end

-- label_text({k = v}) -> "k=v,k2=v2" (sorted)
local function label_text(labels)
  local ks = {}
  for k, v in pairs(type(labels) == "table" and labels or {}) do ks[#ks + 1] = k .. "=" .. tostring(v) end
  table.sort(ks)
  return table.concat(ks, ",")
end

-- charts(run) -> HTML: the throughput timeline, then the server's charts
function M.charts(r)
  local sm, sp, pw = type(r.server_metrics) == "table" and r.server_metrics or nil,
    type(r.server_process) == "table" and r.server_process or nil, type(r.power) == "table" and r.power or nil
  local xhi = math.max(t_(r.duration_s) or 0, 1)
  for _, t in ipairs{ sm and sm.t, sp and sp.t, pw and pw.t } do
    for _, x in ipairs(T(t)) do if t_(x) then xhi = math.max(xhi, x) end end
  end
  local width = math.max(sm and n_(sm.interval_s) or 0.5, 0.01)
  local bins = M.tok_s_bins(r, width)
  -- the axis covers the last bin (requests may end past the run's duration
  -- counted from its first start)
  if #bins > 0 then xhi = math.max(xhi, bins[#bins][1] + (bins[#bins][1] - (bins[#bins - 1] or { 0 })[1]) / 2) end
  local out = {}
  local tp = line_chart{ kind = "throughput-timeline", title = "Output tokens per second: " .. r.name, xhi = xhi,
    ylabel = "tok/s", series = { { label = "output tok/s", pts = bins } },
    attrs = { ["data-run"] = r.name, ["data-bin"] = width } }
  out[#out + 1] = tp or '<p class="empty">No successful request to draw.</p>'
  local mp = {}
  for k, v in pairs(T(sm and sm.mapped)) do
    if type(v) == "table" then mp[k] = v end
  end
  if mp.running or mp.waiting then
    local series = {}
    if mp.running then series[#series + 1] = { label = "running", pts = pts(sm.t, mp.running.values) } end
    if mp.waiting then series[#series + 1] = { label = "waiting", pts = pts(sm.t, mp.waiting.values) } end
    out[#out + 1] = line_chart{ kind = "server-requests", title = "Server requests running and waiting: " .. r.name,
      xhi = xhi, ylabel = "requests", series = series, attrs = { ["data-run"] = r.name } }
  end
  if mp.kv_usage then
    out[#out + 1] = line_chart{ kind = "server-kv", title = "Server KV-cache usage: " .. r.name, xhi = xhi,
      ylabel = "KV-cache used", yfmt = pct, series = { { label = "KV usage %", pts = pts(sm.t, mp.kv_usage.values, 100) } },
      attrs = { ["data-run"] = r.name } }
  end
  if mp.generation_tok_s or mp.prompt_tok_s then
    local series = {}
    if mp.generation_tok_s then
      series[#series + 1] = { label = "generated tok/s", pts = pts(sm.t, mp.generation_tok_s.values) }
    end
    if mp.prompt_tok_s then series[#series + 1] = { label = "prompt tok/s", pts = pts(sm.t, mp.prompt_tok_s.values) } end
    out[#out + 1] = line_chart{ kind = "server-tokens", title = "Server tokens per second (its counters): " .. r.name,
      xhi = xhi, ylabel = "tok/s", series = series, attrs = { ["data-run"] = r.name } }
  end
  if sp then
    out[#out + 1] = line_chart{ kind = "server-cpu", title = "Server process CPU: " .. r.name, xhi = xhi,
      ylabel = "CPU % (100 = a core)", yfmt = pct, series = { { label = "CPU %", pts = pts(sp.t, sp.cpu_pct) } },
      attrs = { ["data-run"] = r.name, ["data-pid"] = n_(sp.pid) } }
    out[#out + 1] = line_chart{ kind = "server-rss", title = "Server process memory (RSS): " .. r.name, xhi = xhi,
      ylabel = "RSS", yfmt = bytes, series = { { label = "RSS", pts = pts(sp.t, sp.rss_bytes) } },
      attrs = { ["data-run"] = r.name, ["data-peak"] = n_(sp.peak_rss_bytes) } }
  end
  if pw then
    out[#out + 1] = line_chart{ kind = "power", title = "Power: " .. r.name, xhi = xhi, ylabel = "watts",
      series = { { label = "W", pts = pts(pw.t, pw.watts) } }, attrs = { ["data-run"] = r.name } }
  end
  -- raw series kept with --metrics-keep, grouped by name
  local by, order = {}, {}
  for _, s in ipairs(T(sm and sm.series)) do
    s = T(s)
    local name = type(s.name) == "string" and s.name or "?"
    s.name = name
    if not by[s.name] then by[s.name] = {} order[#order + 1] = s.name end
    local list = by[s.name]
    if #list < M.MAX_LINES then
      list[#list + 1] = { label = label_text(s.labels) ~= "" and label_text(s.labels) or s.name,
                          pts = pts(sm.t, s.values) }
    end
  end
  for i, name in ipairs(order) do
    if i > M.MAX_RAW_CHARTS then break end
    local ch = line_chart{ kind = "server-series", title = name .. ": " .. r.name, xhi = xhi, ylabel = name,
      series = by[name], attrs = { ["data-run"] = r.name, ["data-name"] = name } }
    if ch then out[#out + 1] = ch end
  end
  return table.concat(out)
end

-- split_chart(runs) -> the TTFT split as stacked bars (p50s), or nil
function M.split_chart(runs)
  local rows = {}
  for _, r in ipairs(runs) do
    if not r.skipped and type(r.ttft_split) == "table" and type(r.metrics) == "table"
       and type(r.metrics.ttft_s) == "table" then rows[#rows + 1] = r end
  end
  if #rows == 0 then return nil end
  local function p50(r, m) return t_(T(r.metrics[m]).p50) or 0 end
  local max = 0
  for _, r in ipairs(rows) do max = math.max(max, p50(r, "ttft_s")) end
  local _, hi, ticks = svg.linear_domain(0, max > 0 and max or 1e-3, 6)
  local band = 26
  local c = svg.chart{ kind = "ttft-split", h = 14 + 46 + band * #rows, margin = { l = 250, t = 14, b = 46 },
    x = { lo = 0, hi = hi, ticks = ticks, fmt = svg.fmt_time, label = "TTFT p50: server queue, prefill, rest" },
    y = { none = true }, label = "TTFT split by run", attrs = { ["data-n"] = #rows } }
  for i, r in ipairs(rows) do
    local y = 14 + (i - 1) * band
    c:text(244, y + 16, r.name, "lbl", "end")
    local x = 0
    for k, part in ipairs{ { "server_queue_s", "queue" }, { "server_prefill_s", "prefill" }, { "ttft_rest_s", "rest" } } do
      local v = p50(r, part[1])
      if v > 0 then
        c:add('<g class="series c' .. (k - 1) .. '">')
        c:rect_px(c.sx(x), y + 3, c.sx(x + v) - c.sx(x), 16, { class = "bar", ["data-run"] = r.name,
          ["data-part"] = part[2], ["data-value"] = v }, string.format("%s: %s p50 %s", r.name, part[2], svg.fmt_time(v)))
        c:add("</g>")
        x = x + v
      end
    end
    local ttft = p50(r, "ttft_s")
    c:add(string.format('<line class="guide" x1="%s" x2="%s" y1="%s" y2="%s" data-run="%s" data-ttft="%s"></line>',
      svg.px(c.sx(ttft)), svg.px(c.sx(ttft)), svg.px(y), svg.px(y + 22), svg.esc(r.name), svg.num(ttft)))
  end
  return c:render() .. '<ul class="legend"><li class="series c0"><span class="sw"></span>server queue / load</li>'
    .. '<li class="series c1"><span class="sw"></span>server prefill</li>'
    .. '<li class="series c2"><span class="sw"></span>rest (network + client)</li></ul>'
end

-- tables(runs) -> the server, split and cost tables of the Runs section
function M.tables(runs)
  local out = {}
  for _, sec in ipairs(server.sections(runs)) do
    local cols = {}
    for i, col in ipairs(sec[2]) do
      local getter = col[2]
      cols[i] = { col[1], col[4] == "time" and function(r)
        local v = getter(r)
        return t_(v) and svg.fmt_time(v) or "-"
      end or function(r) return tostring(getter(r) or "-") end, col[3] == "r" }
    end
    out[#out + 1] = "<h3>" .. svg.esc(sec[1]) .. "</h3>"
    out[#out + 1] = tables.html_table(server.runs_for(sec.only, runs), cols, "server " .. sec.only)
  end
  return table.concat(out)
end

return M
