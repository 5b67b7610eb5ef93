-- mlxbench.report.html_traffic: the HTML report's section for realistic
-- traffic (docs/REPORTS.md): TTFT by turn index (conversations), cold
-- against warm TTFT (the prompt cache), and the tables of
-- mlxbench.report.traffic (cache, reasoning, conversations, models). The
-- page (mlxbench.report.html) hands over its helpers: series classes,
-- figures, legends.
local svg = require "mlxbench.report.svg"
local traffic = require "mlxbench.report.traffic"

local M = {}

local esc, fmt_time = svg.esc, svg.fmt_time

local function n_(v) return type(v) == "number" and v == v and v or nil end

local function metric(r, m, q)
  local x = type(r.metrics) == "table" and r.metrics[m]
  return type(x) == "table" and n_(x[q]) or nil
end

-- TTFT p50 (solid) and p95 (points) against the turn index, one series per
-- run: how a server's prompt cache copes with a context that grows
local function turn_chart(runs, h)
  local series, xmax, ymax = {}, 1, 0
  for _, r in ipairs(runs) do
    local pts = {}
    for _, t in ipairs(r.sessions.by_turn or {}) do
      local p50 = t.ttft_s and n_(t.ttft_s.p50)
      if p50 then
        pts[#pts + 1] = { t.turn, p50, n_(t.ttft_s.p95), t }
        xmax = math.max(xmax, t.turn)
        ymax = math.max(ymax, n_(t.ttft_s.p95) or p50)
      end
    end
    if #pts > 0 then series[#series + 1] = { run = r, pts = pts } end
  end
  if #series == 0 then return nil end
  local _, xhi, xt = svg.linear_domain(1, math.max(2, xmax), math.min(10, math.max(2, xmax)))
  local _, yhi, yt = svg.linear_domain(0, ymax * 1.08, 5)
  local c = svg.chart{ kind = "ttft-by-turn", h = 300, margin = { l = 64, t = 14, b = 42 },
    x = { lo = 1, hi = xhi, ticks = xt, label = "turn of the conversation" },
    y = { lo = 0, hi = yhi, ticks = yt, fmt = fmt_time, label = "TTFT" },
    label = "TTFT by turn index", attrs = { ["data-n"] = #series } }
  local items = {}
  for _, s in ipairs(series) do
    local cls = h.series_class(h.color[s.run] or 1)
    c:add(string.format('<g class="%s"%s>', cls, svg.attrs{ ["data-run"] = s.run.name }))
    local line = {}
    for _, p in ipairs(s.pts) do line[#line + 1] = { p[1], p[2] } end
    c:add('<path class="line" d="' .. c:line_d(line) .. '"></path>')
    for _, p in ipairs(s.pts) do
      c:circle(p[1], p[2], 3.5, { ["data-turn"] = p[1], ["data-p50"] = p[2], ["data-p95"] = p[3],
        ["data-count"] = p[4].ttft_s.count }, string.format("%s, turn %d: TTFT p50 %s, p95 %s (%d requests)",
        s.run.name, p[1], fmt_time(p[2]), p[3] and fmt_time(p[3]) or "-", p[4].ttft_s.count or 0))
      if p[3] then c:circle(p[1], p[3], 2.6, { class = "p95", ["data-turn"] = p[1] }) end
    end
    c:add("</g>")
    items[#items + 1] = { class = cls, label = s.run.name }
  end
  return c:render() .. h.legend(items)
end

-- Cold against warm TTFT per run: p50 bars (and p95 ticks) for the
-- requests whose prompt prefix was not yet, and already, in the server's
-- cache
local function cold_warm_chart(runs, h)
  local rows, max = {}, 0
  for _, r in ipairs(runs) do
    local c50, w50 = metric(r, "ttft_cold_s", "p50"), metric(r, "ttft_warm_s", "p50")
    if c50 or w50 then
      rows[#rows + 1] = r
      max = math.max(max, metric(r, "ttft_cold_s", "p95") or c50 or 0, metric(r, "ttft_warm_s", "p95") or w50 or 0)
    end
  end
  if #rows == 0 then return nil end
  local lo, hi, ticks = svg.linear_domain(0, max * 1.05, 6)
  local band = 40
  local c = svg.chart{ kind = "cold-warm", h = 14 + 46 + band * #rows, margin = { l = 250, t = 14, b = 46 },
    x = { lo = lo, hi = hi, ticks = ticks, fmt = fmt_time, label = "TTFT (bars p50, ticks p95)" },
    y = { none = true }, label = "Cold against warm TTFT by run", attrs = { ["data-n"] = #rows } }
  for i, r in ipairs(rows) do
    local y = 14 + (i - 1) * band
    c:text(244, y + 22, r.name, "lbl", "end")
    local cls = h.series_class(h.color[r] or 1)
    c:add('<g class="' .. cls .. '">')
    for k, which in ipairs{ "cold", "warm" } do
      local m = "ttft_" .. which .. "_s"
      local v, v95 = metric(r, m, "p50"), metric(r, m, "p95")
      if v then
        local yy = y + 4 + (k - 1) * 16
        c:rect_px(c.x0, yy, c.sx(v) - c.x0, 12, { class = "bar " .. which, ["data-run"] = r.name,
          ["data-series"] = which, ["data-value"] = v, ["data-count"] = metric(r, m, "count") },
          string.format("%s: %s TTFT p50 %s", r.name, which, fmt_time(v)))
        if v95 then c:rect_px(c.sx(v95) - 1, yy, 2, 12, { class = "tick95", ["data-p95"] = v95 }) end
        c:text(c.sx(math.max(v, v95 or v)) + 5, yy + 10, which .. " " .. fmt_time(v), "val")
      end
    end
    c:add("</g>")
  end
  return c:render()
end

-- a table of report.traffic's columns, time columns in ms
local function table_html(cols, rows, class)
  local out = { '<div class="scroll"><table class="' .. class .. '"><thead><tr>' }
  for _, col in ipairs(cols) do
    out[#out + 1] = (col[3] == "r" and '<th class="num">' or "<th>") .. esc(col[1]) .. "</th>"
  end
  out[#out + 1] = "</tr></thead><tbody>"
  for _, r in ipairs(rows) do
    out[#out + 1] = "<tr>"
    for _, col in ipairs(cols) do
      local v = col[2](r)
      if col[4] == "time" then v = type(v) == "number" and fmt_time(v) or "-" end
      out[#out + 1] = (col[3] == "r" and '<td class="num">' or "<td>") .. esc(tostring(v or "-")) .. "</td>"
    end
    out[#out + 1] = "</tr>"
  end
  out[#out + 1] = "</tbody></table></div>"
  return table.concat(out)
end

-- present(runs) -> whether the section has anything to show
function M.present(runs)
  return #traffic.sections(runs) > 0
end

-- section(runs, h) -> the section's HTML. h: {color = {[run] = k},
-- series_class(k), figure(id, title, body, caption), legend(items)}
function M.section(runs, h)
  local out = { '<section id="traffic"><h2>Traffic: conversations, prompt cache, reasoning, models</h2>' }
  local sess = {}
  for _, r in ipairs(runs) do if traffic.has_sessions(r) then sess[#sess + 1] = r end end
  local tc = #sess > 0 and turn_chart(sess, h)
  if tc then
    out[#out + 1] = h.figure("fig-ttft-turn", "TTFT by turn of the conversation.", tc,
      "Each turn is sent with the whole conversation so far: a server whose prompt cache keeps the "
      .. "history answers later turns about as fast as the first; one without it slows as the context grows. "
      .. "Line: p50; small dots: p95.")
  end
  local cw = cold_warm_chart(runs, h)
  if cw then
    out[#out + 1] = h.figure("fig-cold-warm", "Cold against warm TTFT.", cw,
      "Cold: the request's prompt prefix was not in the server's cache (it reported no cached tokens, or, "
      .. "where it reports none, the prefix's first use); warm: it was. The gap is prefill the cache saved.")
  end
  for _, sec in ipairs(traffic.sections(runs)) do
    out[#out + 1] = "<h3>" .. esc(sec[1]) .. "</h3>"
    out[#out + 1] = table_html(sec[2], sec[3], "traffic")
  end
  out[#out + 1] = "</section>"
  return table.concat(out)
end

return M
