-- mlxbench.report.html: the results file as one self-contained HTML page -- inline
-- SVG charts drawn here, inline CSS, no script and no external resource --
-- readable in light and dark mode and on paper. docs/REPORTS.md describes
-- each chart and the data-* attributes that let a test check it.
local results = require "mlxbench.results"
local stats = require "mlxbench.stats"
local svg = require "mlxbench.report.svg"
local tables = require "mlxbench.report.tables"
local html_traffic = require "mlxbench.report.html_traffic"
local html_failover = require "mlxbench.report.html_failover"
local timeline = require "mlxbench.report.timeline"

local M = {}

local esc, num, fmt_time, fmt_num = svg.esc, svg.num, svg.fmt_time, svg.fmt_num

M.MAX_POINTS = 300   -- CDF points per run before thinning
M.ITL_BINS = 30

local function n_(v) return type(v) == "number" and v == v and v or nil end

-- int(v) -> "3" for a whole number (JSON numbers decode as floats), else tostring
local int = tables.int

local function metric(r, m, q)
  local x = type(r.metrics) == "table" and r.metrics[m]
  return type(x) == "table" and n_(x[q]) or nil
end

local function has_data(r)
  return not r.skipped and type(r.requests) == "table" and (n_(r.requests.ok) or 0) > 0
end

-- dist(run, metric) -> {{value, count}...} ascending, total: from the run's
-- exact histogram, else from its per-request values
function M.dist(r, m)
  local enc = type(r.histograms) == "table" and r.histograms[m]
  if type(enc) == "string" then
    local ok, h = pcall(stats.decode, enc)
    if ok and h:count() > 0 then
      local pts, total = {}, 0
      for _, b in ipairs(h:buckets()) do
        pts[#pts + 1] = { b[1], b[2] }
        total = total + b[2]
      end
      return pts, total
    end
  end
  local vals = {}
  for _, q in ipairs(type(r.per_request) == "table" and r.per_request or {}) do
    if q.ok == true and n_(q[m]) then vals[#vals + 1] = q[m] end
  end
  table.sort(vals)
  local pts = {}
  for _, v in ipairs(vals) do
    if pts[#pts] and pts[#pts][1] == v then pts[#pts][2] = pts[#pts][2] + 1 else pts[#pts + 1] = { v, 1 } end
  end
  return pts, #vals
end

-- cdf_points(dist, total [, max]) -> {{value, share, cumulative count}}, thinned
-- to at most `max` points (a point is kept when the share crosses the next
-- 1/max step; the last point is always kept)
function M.cdf_points(pts, total, max)
  max = max or M.MAX_POINTS
  local out, cum, step = {}, 0, -1
  for i, p in ipairs(pts) do
    cum = cum + p[2]
    local s = math.floor(cum / total * max)
    if #pts <= max or s > step or i == #pts then
      out[#out + 1] = { p[1], cum / total, cum }
      step = s
    end
  end
  return out, #pts > max
end

local function short_model(m) return (tostring(m or "-"):gsub("^mlx%-community/", "")) end

local function series_class(i)
  local c = "series c" .. ((i - 1) % 10)
  if i > 10 then c = c .. " d" .. (((i - 1) // 10 - 1) % 2 + 1) end
  return c
end

local function legend(items)
  local out = { '<ul class="legend">' }
  for _, it in ipairs(items) do
    out[#out + 1] = string.format('<li class="%s"><span class="sw"></span>%s</li>', it.class, esc(it.label))
  end
  out[#out + 1] = "</ul>"
  return table.concat(out)
end

local function figure(id, title, body, caption)
  return string.format('<figure id="%s"><figcaption><strong>%s</strong>%s</figcaption>%s</figure>', id,
    esc(title), caption and (" " .. esc(caption)) or "", body)
end

local function empty(what) return '<p class="empty">' .. esc(what) .. "</p>" end

-- Output tok/s per run: horizontal bars -----------------------------------------

local function tok_s_chart(runs, color)
  local rows = {}
  for _, r in ipairs(runs) do
    local v = type(r.throughput) == "table" and n_(r.throughput.output_tok_s)
    if has_data(r) and v and v > 0 then rows[#rows + 1] = r end
  end
  if #rows == 0 then return empty("No run has output tokens.") end
  local max = 0
  for _, r in ipairs(rows) do
    max = math.max(max, r.throughput.output_tok_s, r.summary and n_(r.summary.avg_tok_s) or 0)
  end
  local lo, hi, ticks = svg.linear_domain(0, max, 6)
  local band = 26
  local c = svg.chart{ kind = "tok-s", h = 14 + 46 + band * #rows, margin = { l = 250, t = 14, b = 46 },
    x = { lo = lo, hi = hi, ticks = ticks, label = "tokens per second" }, y = { none = true },
    label = "Output tokens per second by run", attrs = { ["data-n"] = #rows } }
  for i, r in ipairs(rows) do
    local y = 14 + (i - 1) * band
    local name = r.name
    if utf8.len(name) and utf8.len(name) > 34 then name = name:sub(1, utf8.offset(name, 33) - 1) .. "…" end
    c:text(244, y + 16, name, "lbl", "end")
    local v, avg = r.throughput.output_tok_s, r.summary and n_(r.summary.avg_tok_s)
    local cls = series_class(color[r])
    c:add('<g class="' .. cls .. '">')
    c:rect_px(c.x0, y + 3, c.sx(v) - c.x0, 13, { class = "bar", ["data-run"] = r.name,
      ["data-series"] = "output_tok_s", ["data-value"] = v },
      string.format("%s: %.1f tok/s aggregate", r.name, v))
    if avg then
      c:rect_px(c.x0, y + 18, c.sx(avg) - c.x0, 4, { class = "bar thin", ["data-run"] = r.name,
        ["data-series"] = "avg_tok_s", ["data-value"] = avg },
        string.format("%s: %.1f tok/s per request (avg)", r.name, avg))
    end
    c:add("</g>")
    c:text(c.sx(v) + 5, y + 14, string.format("%.1f", v), "val")
  end
  return c:render()
end

-- Latency CDFs (log x) ------------------------------------------------------------

local function cdf_chart(runs, color, m, kind, what)
  local series, lo, hi = {}, math.huge, 0
  for _, r in ipairs(runs) do
    if has_data(r) then
      local pts, total = M.dist(r, m)
      if total > 0 then
        local cdf, thinned = M.cdf_points(pts, total)
        series[#series + 1] = { run = r, pts = cdf, total = total, thinned = thinned }
        lo, hi = math.min(lo, pts[1][1]), math.max(hi, pts[#pts][1])
      end
    end
  end
  if #series == 0 then return empty("No run has " .. what .. " samples.") end
  local dlo, dhi, ticks = svg.log_domain(lo, hi)
  local c = svg.chart{ kind = kind, h = 360, x = { lo = dlo, hi = dhi, log = true, ticks = ticks,
    fmt = fmt_time, label = what .. " (log scale)" },
    y = { lo = 0, hi = 1, ticks = { 0, 0.25, 0.5, 0.75, 1 }, label = "share of requests",
          fmt = function(v) return string.format("%d%%", math.floor(v * 100 + 0.5)) end },
    label = what .. " CDF by run", attrs = { ["data-n"] = #series } }
  c:hline(0.5, "p50")
  c:hline(0.95, "p95")
  local items = {}
  for _, s in ipairs(series) do
    local cls = series_class(color[s.run])
    c:add(string.format('<g class="%s"%s>', cls, svg.attrs{ ["data-run"] = s.run.name,
      ["data-count"] = s.total, ["data-n"] = #s.pts, ["data-thinned"] = s.thinned and "1" or nil }))
    c:add('<path class="line" d="' .. c:step_d(s.pts, 0) .. '"></path>')
    for _, p in ipairs(s.pts) do
      c:circle(p[1], p[2], 2.4, { ["data-x"] = p[1], ["data-y"] = p[2], ["data-c"] = p[3] },
        string.format("%s: %s at %.1f%%", s.run.name, fmt_time(p[1]), p[2] * 100))
    end
    c:add("</g>")
    items[#items + 1] = { class = cls, label = s.run.name }
  end
  return c:render() .. legend(items)
end

-- ITL histograms, one small chart per run (log-spaced bins) ----------------------

local function itl_chart(r, cls)
  local pts, total = M.dist(r, "itl_s")
  if total == 0 then return nil end
  -- Gaps of 0 (several events in one read, common with batching servers
  -- and cloud APIs) cannot sit on a log axis: they go into the first bin,
  -- drawn from 1 us, whose data-lo still says the true minimum.
  local true_lo = pts[1][1]
  local lo, hi = math.max(true_lo, 1e-6), math.max(pts[#pts][1], 1e-6)
  local nb = math.min(M.ITL_BINS, #pts)
  if hi <= lo * 1.0001 then nb = 1 end
  local edges = {}
  for k = 0, nb do edges[k] = nb == 1 and (k == 0 and lo / 1.05 or hi * 1.05) or lo * (hi / lo) ^ (k / nb) end
  local counts = {}
  for k = 1, nb do counts[k] = 0 end
  for _, p in ipairs(pts) do
    local k = (nb == 1 or p[1] <= lo) and 1 or math.floor(math.log(p[1] / lo) / math.log(hi / lo) * nb) + 1
    k = math.max(1, math.min(nb, k))
    counts[k] = counts[k] + p[2]
  end
  local top = 0
  for k = 1, nb do top = math.max(top, counts[k]) end
  local _, ylim, yt = svg.linear_domain(0, top * 1.08, 4)   -- headroom for the labels
  local xlo, xhi, xt = svg.log_domain(edges[0], edges[nb], 1.2, 1.03)
  local bars = 0
  for k = 1, nb do if counts[k] > 0 then bars = bars + 1 end end
  local c = svg.chart{ kind = "itl-hist", w = 440, h = 230, margin = { l = 52, r = 12, t = 22, b = 40 },
    x = { lo = xlo, hi = xhi, log = true, ticks = xt, fmt = fmt_time, label = "inter-token latency" },
    y = { lo = 0, hi = ylim, ticks = yt, label = "gaps" },
    label = "ITL histogram: " .. r.name,
    attrs = { ["data-run"] = r.name, ["data-count"] = total, ["data-n"] = bars, id = nil } }
  c:add('<g class="' .. cls .. '">')
  for k = 1, nb do
    if counts[k] > 0 then
      local from = k == 1 and math.min(true_lo, edges[0]) or edges[k - 1]
      c:rect(edges[k - 1], 0, edges[k], counts[k], { class = "bar", ["data-lo"] = from,
        ["data-hi"] = edges[k], ["data-count"] = counts[k] },
        string.format("%s – %s: %d gaps", fmt_time(from), fmt_time(edges[k]), counts[k]))
    end
  end
  c:add("</g>")
  local p50, p99 = metric(r, "itl_s", "p50"), metric(r, "itl_s", "p99")
  if p50 then c:vline(p50, "p50", { ["data-p50"] = p50 }) end
  if p99 and p99 ~= p50 then c:vline(p99, "p99", { ["data-p99"] = p99 }) end
  c:text(c.x0, 14, r.name, "small-title")
  return c:render()
end

-- Sweeps: throughput and TTFT p95 against the swept option ----------------------

local PREFERRED_X = { "concurrency", "rate" }

-- sweep_groups(runs) -> {{key, x, runs = {...}, title}}: runs with a `sweep`
-- table, grouped by the swept option names and (unless swept) model and
-- target; x is the numeric option on the x axis, the others name series
function M.sweep_groups(runs)
  local groups, order = {}, {}
  for _, r in ipairs(runs) do
    if has_data(r) and type(r.sweep) == "table" and next(r.sweep) then
      local keys = {}
      for k in pairs(r.sweep) do keys[#keys + 1] = k end
      table.sort(keys)
      local swept = {}
      for _, k in ipairs(keys) do swept[k] = true end
      local tname = type(r.target) == "table" and r.target.name or r.backend
      local gk = table.concat(keys, ",") .. "\0" .. (swept.model and "" or tostring(r.model))
        .. "\0" .. (swept.target and "" or tostring(tname))
      local g = groups[gk]
      if not g then
        local x
        for _, p in ipairs(PREFERRED_X) do if swept[p] then x = p break end end
        if not x then
          for _, k in ipairs(keys) do if type(r.sweep[k]) == "number" then x = k break end end
        end
        g = { key = gk, x = x, keys = keys, runs = {},
              title = (swept.model and "" or short_model(r.model) .. ", ") .. tostring(tname) }
        groups[gk] = g
        order[#order + 1] = g
      end
      g.runs[#g.runs + 1] = r
    end
  end
  local out = {}
  for _, g in ipairs(order) do
    local numeric = g.x ~= nil
    for _, r in ipairs(g.runs) do numeric = numeric and type(r.sweep[g.x]) == "number" end
    if numeric and #g.runs >= 2 then out[#out + 1] = g end
  end
  return out
end

local function sweep_series(g)
  local series, index = {}, {}
  for _, r in ipairs(g.runs) do
    local label = {}
    for _, k in ipairs(g.keys) do
      if k ~= g.x then label[#label + 1] = k .. "=" .. int(r.sweep[k]) end
    end
    local name = #label > 0 and table.concat(label, ", ") or g.x
    if not index[name] then
      index[name] = { name = name, runs = {} }
      series[#series + 1] = index[name]
    end
    table.insert(index[name].runs, r)
  end
  for _, s in ipairs(series) do
    table.sort(s.runs, function(a, b) return a.sweep[g.x] < b.sweep[g.x] end)
  end
  return series
end

local function sweep_chart(g, gi, kind, what, get, yfmt)
  local series = sweep_series(g)
  local xmin, xmax, ymax = math.huge, -math.huge, 0
  for _, s in ipairs(series) do
    for _, r in ipairs(s.runs) do
      xmin, xmax = math.min(xmin, r.sweep[g.x]), math.max(xmax, r.sweep[g.x])
      ymax = math.max(ymax, get(r) or 0)
    end
  end
  local log = xmin > 0 and xmax / xmin >= 4
  local xlo, xhi, xt
  if log then
    xlo, xhi = xmin / 1.25, xmax * 1.25
    xt = {}
    for _, s in ipairs(series) do
      for _, r in ipairs(s.runs) do xt[#xt + 1] = r.sweep[g.x] end
    end
  else
    xlo, xhi, xt = svg.linear_domain(xmin, xmax, 6)
  end
  local _, yhi, yt = svg.linear_domain(0, ymax > 0 and ymax * 1.05 or 1, 5)
  local c = svg.chart{ kind = kind, w = 440, h = 260, margin = { l = 62, r = 14, t = 14, b = 42 },
    x = { lo = xlo, hi = xhi, log = log, ticks = xt, label = g.x .. (log and " (log scale)" or "") },
    y = { lo = 0, hi = yhi, ticks = yt, fmt = yfmt, label = what },
    label = what .. " vs " .. g.x .. ": " .. g.title,
    attrs = { ["data-sweep"] = g.x, ["data-group"] = gi, ["data-n"] = #g.runs } }
  local items = {}
  for si, s in ipairs(series) do
    local cls = series_class(si)
    local pts = {}
    for _, r in ipairs(s.runs) do
      local y = get(r)
      if y then pts[#pts + 1] = { r.sweep[g.x], y, r } end
    end
    c:add(string.format('<g class="%s"%s>', cls, svg.attrs{ ["data-series"] = s.name }))
    c:add('<path class="line" d="' .. c:line_d(pts) .. '"></path>')
    for _, p in ipairs(pts) do
      c:circle(p[1], p[2], 3.5, { ["data-x"] = p[1], ["data-y"] = p[2], ["data-run"] = p[3].name },
        string.format("%s: %s", p[3].name, yfmt and yfmt(p[2]) or fmt_num(p[2])))
    end
    c:add("</g>")
    items[#items + 1] = { class = cls, label = s.name }
  end
  return c:render() .. (#series > 1 and legend(items) or "")
end

-- The page -------------------------------------------------------------------------

local CSS = [[
:root{--bg:#fff;--fg:#1b1f24;--muted:#5c6670;--grid:#e6e9ed;--axis:#8a939c;--card:#f6f8fa;--border:#d8dee4;
--ok:#59a14f;--bad:#d62728;--mark:#b8860b;
--p0:#4e79a7;--p1:#f28e2b;--p2:#e15759;--p3:#76b7b2;--p4:#59a14f;--p5:#c9a227;--p6:#b07aa1;--p7:#ff9da7;--p8:#9c755f;--p9:#7f7f7f}
@media (prefers-color-scheme:dark){:root{--bg:#0f1216;--fg:#e3e7eb;--muted:#9aa5b1;--grid:#262c33;--axis:#6b7682;
--card:#171b21;--border:#2d343c;--ok:#7ecb6f;--bad:#ff6b6b;--mark:#f0c05a;
--p0:#7ab3ef;--p1:#ffb45c;--p2:#ff7b7d;--p3:#8fd3cd;--p4:#7ecb6f;--p5:#f7dd72;--p6:#d3a2c9;--p7:#ffc0c7;--p8:#c49a80;--p9:#b5b5b5}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:1000px;margin:0 auto;padding:20px 24px 48px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 8px;border-bottom:1px solid var(--border);padding-bottom:4px}
.meta,small,.empty,figcaption{color:var(--muted)}
nav{margin:12px 0 8px}nav a{color:inherit;margin-right:14px}
figure{margin:12px 0 20px}figcaption{margin-bottom:6px}figcaption strong{color:var(--fg)}
svg.chart{width:100%;height:auto;display:block;overflow:visible}
.grid3{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:8px 16px}
.grid2{display:grid;grid-template-columns:repeat(auto-fill,minmax(380px,1fr));gap:8px 16px}
svg text{fill:var(--fg);font-size:12px}svg .tick{fill:var(--muted);font-size:11px}
svg .axis-label{fill:var(--muted);font-size:12px}svg .small-title{font-weight:600}
svg .grid{stroke:var(--grid);stroke-width:1}svg .axis{stroke:var(--axis);stroke-width:1}
svg .guide{stroke:var(--axis);stroke-dasharray:3 4}svg .guide-label{fill:var(--muted);font-size:11px}
svg .mark{stroke:var(--mark);stroke-width:2;stroke-dasharray:6 3}
.series{--s:var(--p0)}.c1{--s:var(--p1)}.c2{--s:var(--p2)}.c3{--s:var(--p3)}.c4{--s:var(--p4)}
.c5{--s:var(--p5)}.c6{--s:var(--p6)}.c7{--s:var(--p7)}.c8{--s:var(--p8)}.c9{--s:var(--p9)}
.series path.line{fill:none;stroke:var(--s);stroke-width:2}.d1 path.line{stroke-dasharray:6 3}
.d2 path.line{stroke-dasharray:2 2}.series circle{fill:var(--s)}.series .bar{fill:var(--s)}
.series .bar.thin{opacity:.55}.series .bar.cold{opacity:.5}.series circle.p95{opacity:.75}
svg .tick95{fill:var(--fg)}svg .bar.ok{fill:var(--ok)}svg .bar.failed{fill:var(--bad)}
.series circle.fail{fill:var(--bad)}.series circle.fo{stroke:var(--fg);stroke-width:1.5}
ul.legend{list-style:none;padding:0;margin:4px 0 0;display:flex;flex-wrap:wrap;gap:2px 14px;font-size:12px}
.legend .sw{display:inline-block;width:12px;height:12px;border-radius:2px;background:var(--s);margin-right:5px;vertical-align:-2px}
.legend .fail-key .sw{background:var(--bad);border-radius:6px}.legend .fo-key .sw{border:2px solid var(--fg);border-radius:6px}
.scroll{overflow-x:auto}
table{border-collapse:collapse;font-size:12.5px;width:100%}
th,td{padding:4px 8px;border-bottom:1px solid var(--border);text-align:left;vertical-align:top}
th{background:var(--card);white-space:nowrap}.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.skipped td{color:var(--muted)}code{font-size:11.5px;background:var(--card);padding:0 3px;border-radius:3px;
margin:0 2px 2px 0;display:inline-block}
ul.notes{padding-left:20px}
@media print{:root{--bg:#fff;--fg:#000;--muted:#444;--grid:#ddd;--axis:#777;--card:#f2f2f2;--border:#ccc;
--p0:#4e79a7;--p1:#f28e2b;--p2:#e15759;--p3:#76b7b2;--p4:#59a14f;--p5:#c9a227;--p6:#b07aa1;--p7:#ff9da7;--p8:#9c755f;--p9:#7f7f7f}
body{font-size:10pt}main{max-width:none;padding:0}nav{display:none}figure,tr{break-inside:avoid}
h2{break-after:avoid}.scroll{overflow:visible}}
]]

local function notes_of(runs)
  local ok, report = pcall(require, "mlxbench.report")
  if ok and report.notes then
    local nok, lines = pcall(report.notes, runs)
    if nok then return lines end
  end
  local out = {}
  for _, r in ipairs(runs) do
    if r.skipped then out[#out + 1] = r.name .. ": skipped (" .. tostring(r.skipped) .. ")" end
    for _, w in ipairs(type(r.warnings) == "table" and r.warnings or {}) do out[#out + 1] = r.name .. ": " .. tostring(w) end
  end
  return out
end

-- render(doc) -> the HTML page (a string)
function M.render(doc)
  local runs = type(doc.runs) == "table" and doc.runs or {}
  local color, k = {}, 0
  for _, r in ipairs(runs) do
    if has_data(r) then k = k + 1 color[r] = k end
  end
  local host = type(doc.host) == "table" and doc.host or {}
  local tool = type(doc.tool) == "table" and doc.tool or {}
  local skipped = 0
  for _, r in ipairs(runs) do if r.skipped then skipped = skipped + 1 end end
  local out = { "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="color-scheme" content="light dark">',
    "<title>mlxbench report " .. esc(doc.started_at or "") .. "</title><style>" .. CSS .. "</style></head>",
    "<body><main>", "<h1>mlxbench report</h1>",
    string.format('<p class="meta">%d run%s%s · started %s · %s %s · host %s</p>', #runs,
      #runs == 1 and "" or "s", skipped > 0 and string.format(" (%d skipped)", skipped) or "",
      esc(doc.started_at or "?"), esc(tool.name or "mlxbench"), esc(tool.version or ""),
      esc(results.host_line(host) ~= "" and results.host_line(host) or "?")),
    '<nav><a href="#throughput">Throughput</a><a href="#timeline">Timeline</a><a href="#latency">Latency</a>'
      .. '<a href="#itl">ITL</a><a href="#sweeps">Sweeps</a><a href="#failover">Failover</a>'
      .. (html_traffic.present(runs) and '<a href="#traffic">Traffic</a>' or "")
      .. '<a href="#runs">Runs</a><a href="#config">Configuration</a></nav>' }
  local function add(s) out[#out + 1] = s end
  add('<section id="throughput"><h2>Throughput</h2>')
  add(figure("fig-tok-s", "Output tokens per second.", tok_s_chart(runs, color),
    "Wide bars: aggregate output tok/s of each run (all tokens over the run's wall time). "
    .. "Thin bars: the average tok/s one request saw."))
  add('</section><section id="timeline"><h2>Timeline</h2>')
  local ntl = 0
  for _, r in ipairs(runs) do
    if timeline.has_timeline(r) then
      ntl = ntl + 1
      add(figure("fig-timeline-" .. ntl, "Timeline: " .. r.name .. ".", timeline.charts(r),
        "Output tokens per second as the run went (each request's tokens spread over its decode span), "
        .. "then, on the same time axis, what the server's side showed: its /metrics, its process, the power."))
    end
  end
  if ntl == 0 then
    add(empty("No run watched the server (--metrics-url, the server's own /metrics, --server-pid, --power-cmd)."))
  end
  add('</section><section id="latency"><h2>Latency</h2>')
  add(figure("fig-ttft", "Time to first token, CDF.", cdf_chart(runs, color, "ttft_s", "ttft-cdf", "TTFT"),
    "Share of requests (y) whose first token came within x. Further left is faster; a step is one "
    .. "histogram bucket (0.1 % wide)."))
  add(figure("fig-e2e", "End-to-end latency, CDF.", cdf_chart(runs, color, "e2e_s", "e2e-cdf", "E2E latency"),
    "Share of requests (y) complete within x."))
  local split = timeline.split_chart(runs)
  if split then
    add(figure("fig-ttft-split", "Time to first token, split.", split,
      "Median TTFT of the requests whose server reported its timings: its queue (and model load), its "
      .. "prefill, and the rest -- network both ways and the client."))
  end
  add('</section><section id="itl"><h2>Inter-token latency</h2>')
  local itl = {}
  for _, r in ipairs(runs) do
    if has_data(r) then
      local s = itl_chart(r, series_class(color[r]))
      if s then itl[#itl + 1] = "<div>" .. s .. "</div>" end
    end
  end
  add(figure("fig-itl", "Gaps between streamed tokens, per run.", #itl > 0 and ('<div class="grid3">'
    .. table.concat(itl) .. "</div>") or empty("No streamed run: no ITL samples."),
    "Log-spaced bins between the smallest and largest gap; dashed lines mark p50 and p99."))
  add('</section><section id="sweeps"><h2>Sweeps</h2>')
  local groups = M.sweep_groups(runs)
  if #groups == 0 then add(empty("No sweep in these results (runs with a `sweep` option that share it).")) end
  for gi, g in ipairs(groups) do
    local tput = sweep_chart(g, gi, "sweep-throughput", "output tok/s",
      function(r) return type(r.throughput) == "table" and n_(r.throughput.output_tok_s) end)
    local ttft = sweep_chart(g, gi, "sweep-ttft-p95", "TTFT p95",
      function(r) return metric(r, "ttft_s", "p95") end, fmt_time)
    add(figure("fig-sweep-" .. gi, "Sweep over " .. g.x .. ": " .. g.title .. ".",
      '<div class="grid2"><div>' .. tput .. "</div><div>" .. ttft .. "</div></div>",
      "Aggregate throughput and TTFT p95 at each step. Where throughput stops rising while TTFT "
      .. "climbs, the server is saturated."))
  end
  add('</section><section id="failover"><h2>Failover</h2>')
  add(html_failover.section(runs, { series_class = series_class, figure = figure, legend = legend,
                                    empty = empty, has_data = has_data }))
  add("</section>")
  -- conversations, the prompt cache, reasoning, model mixes: where present
  if html_traffic.present(runs) then
    add(html_traffic.section(runs, { color = color, series_class = series_class, figure = figure,
                                     legend = legend }))
  end
  add('<section id="runs"><h2>Runs</h2>')
  add(tables.runs(runs))
  add("<h3>Latency</h3>")
  add(tables.latency(runs))
  add("<h3>Client</h3>")
  add("<p>How each run was stamped (the kernel's receive stamps, or user space's) and the "
    .. "client's own delays: read lag (how long arriving bytes waited in the socket before the "
    .. "client read them) and event-loop lag.</p>")
  add(tables.client(runs))
  add(timeline.tables(runs))
  local notes = notes_of(runs)
  if #notes > 0 then
    add('<h3>Notes</h3><ul class="notes">')
    for _, l in ipairs(notes) do add("<li>" .. esc((tostring(l):gsub("^%s+", ""))) .. "</li>") end
    add("</ul>")
  end
  add('</section><section id="config"><h2>Configuration</h2>')
  add(tables.config(runs))
  add("</section></main></body></html>\n")
  return table.concat(out, "\n")
end

-- write(doc, path) -> true | nil, message: the page, written atomically
function M.write(doc, path)
  local ok, text = pcall(M.render, doc)
  if not ok then return nil, "HTML report: " .. tostring(text) end
  return require("mlxbench.json").write_atomic(path, text)
end

return M
