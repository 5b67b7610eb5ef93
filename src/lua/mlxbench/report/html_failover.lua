-- mlxbench.report.html_failover: the HTML report's Failover section
-- (docs/REPORTS.md): per run with marks or a timeline, its requests by
-- completion time, coloured by the target that served them, and the
-- requests completed per second, with the marks (faults) on both. The page
-- (mlxbench.report.html) hands over its helpers: series classes, figures,
-- legends.
local svg = require "mlxbench.report.svg"
local tables = require "mlxbench.report.tables"

local M = {}

local fmt_time, int = svg.fmt_time, tables.int

local function n_(v) return type(v) == "number" and v == v and v or nil end

-- end_of(q) -> when a request ended on the run's axis (start + E2E, or TTFB
-- for one that failed before the end), nil without a start
local function end_of(q)
  local s = n_(q.start_s)
  if not s then return nil end
  return s + (n_(q.e2e_s) or n_(q.ttfb_s) or 0)
end

-- charts(r, h) -> the failover timeline of a run: each request at its
-- completion time coloured by the target that served it, and under it the
-- requests completed per second, ok under failed; marks on both
local function charts(r, h)
  local reqs, targets, tindex = {}, {}, {}
  local xmax, ymax = math.max(n_(r.duration_s) or 0, 1), 0
  for _, q in ipairs(type(r.per_request) == "table" and r.per_request or {}) do
    local e = end_of(q)
    if e then
      reqs[#reqs + 1] = { q = q, x = e, y = n_(q.e2e_s) or 0 }
      xmax = math.max(xmax, e)
      ymax = math.max(ymax, n_(q.e2e_s) or 0)
      local t = q.target or "?"
      if not tindex[t] then targets[#targets + 1] = t tindex[t] = #targets end
    end
  end
  local tl = type(r.timeline) == "table" and r.timeline or {}
  for _, b in ipairs(tl) do xmax = math.max(xmax, (n_(b.t) or 0) + 1) end
  local marks = type(r.marks) == "table" and r.marks or {}
  local _, xhi, xt = svg.linear_domain(0, xmax, 8)
  local function fmt_s(v) return svg.fmt_tick(v) .. " s" end
  local _, yhi, yt = svg.linear_domain(0, ymax > 0 and ymax * 1.1 or 1, 4)
  local c = svg.chart{ kind = "failover-timeline", h = 280, margin = { l = 64, t = 18, b = 40 },
    x = { lo = 0, hi = xhi, ticks = xt, fmt = fmt_s, label = "time since the run started (completion)" },
    y = { lo = 0, hi = yhi, ticks = yt, fmt = fmt_time, label = "E2E latency" },
    label = "Failover timeline: " .. r.name,
    attrs = { ["data-run"] = r.name, ["data-n"] = #reqs, ["data-marks"] = #marks } }
  for _, rq in ipairs(reqs) do
    local q = rq.q
    local t = q.target or "?"
    local cls = h.series_class(tindex[t])
    local failed_over = type(q.failover) == "table" and #q.failover > 0
    local a = { ["data-x"] = rq.x, ["data-y"] = rq.y, ["data-target"] = t, ["data-ok"] = q.ok and "1" or "0",
                ["data-failover"] = failed_over and "1" or nil, class = (q.ok and "pt" or "pt fail")
                  .. (failed_over and " fo" or "") }
    local title = string.format("#%s %s on %s: %s%s", int(q.i or "?"), q.ok and "ok" or "FAILED", t,
      fmt_time(rq.y), failed_over and " (after failing over)" or "")
    c:add('<g class="' .. cls .. '">')
    c:circle(rq.x, rq.y, failed_over and 4.5 or 3.2, a, title)
    c:add("</g>")
  end
  for _, m in ipairs(marks) do
    if n_(m.t_s) then c:vline(m.t_s, tostring(m.label), { ["data-mark"] = tostring(m.label), ["data-x"] = m.t_s }, "mark") end
  end
  local items = {}
  for i, t in ipairs(targets) do items[#items + 1] = { class = h.series_class(i), label = "served by " .. t } end
  -- per-second completions, ok stacked under failed
  local top = 1
  for _, b in ipairs(tl) do top = math.max(top, (n_(b.ok) or 0) + (n_(b.failed) or 0)) end
  local _, bhi, bt = svg.linear_domain(0, top, 3)
  local b = svg.chart{ kind = "failover-buckets", h = 150, margin = { l = 64, t = 8, b = 40 },
    x = { lo = 0, hi = xhi, ticks = xt, fmt = fmt_s, label = "second of the run" },
    y = { lo = 0, hi = bhi, ticks = bt, label = "requests/s" },
    label = "Requests completed per second: " .. r.name,
    attrs = { ["data-run"] = r.name, ["data-n"] = #tl } }
  for _, k in ipairs(tl) do
    local t0, ok, failed = n_(k.t) or 0, n_(k.ok) or 0, n_(k.failed) or 0
    local a = { ["data-t"] = t0, ["data-ok"] = ok, ["data-failed"] = failed,
                ["data-failovers"] = n_(k.failovers), ["data-tok-s"] = n_(k.output_tok_s) }
    b:add("<g" .. svg.attrs(a) .. ">")
    b:rect(t0 + 0.06, 0, t0 + 0.94, ok, { class = "bar ok" },
      string.format("%s–%s s: %s ok", int(t0), int(t0 + 1), int(ok)))
    if failed > 0 then
      b:rect(t0 + 0.06, ok, t0 + 0.94, ok + failed, { class = "bar failed" },
        string.format("%s–%s s: %s failed", int(t0), int(t0 + 1), int(failed)))
    end
    b:add("</g>")
  end
  for _, m in ipairs(marks) do
    if n_(m.t_s) then b:vline(m.t_s, nil, { ["data-mark"] = tostring(m.label), ["data-x"] = m.t_s }, "mark") end
  end
  items[#items + 1] = { class = "fail-key", label = "failed request" }
  items[#items + 1] = { class = "fo-key", label = "served after failing over" }
  return c:render() .. b:render() .. h.legend(items)
end

-- section(runs, h) -> the Failover section's body: one figure per run with a
-- timeline or marks. h: {series_class(k), figure(id, title, body, caption),
-- legend(items), empty(what), has_data(run)}
function M.section(runs, h)
  local out = {}
  local nfo = 0
  for _, r in ipairs(runs) do
    if h.has_data(r) and ((type(r.timeline) == "table" and #r.timeline > 0) or (type(r.marks) == "table" and #r.marks > 0)) then
      nfo = nfo + 1
      local f, cap = type(r.failover) == "table" and r.failover or nil, "Each dot is a request at its completion time, "
        .. "coloured by the target that served it; dashed lines are marks (faults)."
      if f and n_(f.fault_on_s) then
        cap = cap .. string.format(" Fault at %s: %s failed, %s failed over, first fallback success after %s, "
          .. "fallback E2E penalty %s.", fmt_time(f.fault_on_s), int(f.failed_in_window or 0),
          int(f.failed_over or 0), fmt_time(n_(f.time_to_failover_s)), fmt_time(n_(f.fallback_penalty_s)))
      end
      out[#out + 1] = h.figure("fig-failover-" .. nfo, "Failover timeline: " .. r.name .. ".", charts(r, h), cap)
    end
  end
  if nfo == 0 then out[#out + 1] = h.empty("No run with a timeline (runs with marks or `timeline = true`).") end
  return table.concat(out)
end

return M
