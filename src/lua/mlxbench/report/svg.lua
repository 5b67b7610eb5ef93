-- mlxbench.report.svg: the chart primitives of the HTML report -- escaping,
-- number formats, linear and log scales with readable ticks, and a chart
-- frame (axes, grid, labels) that charts draw into in data coordinates.
-- Output is inline SVG text: no script, no external resource.
local M = {}

-- esc(s) -> s with & < > " ' escaped (for text and attribute values)
local ESC = { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;" }
function M.esc(s)
  s = tostring(s == nil and "" or s)
  -- drop control characters other than tab and newline: not valid in HTML
  s = s:gsub("[%z\1-\8\11\12\14-\31\127]", "")
  return (s:gsub("[&<>\"']", ESC))
end

-- num(v) -> the shortest decimal that reads back as exactly v (for data-*)
function M.num(v)
  if type(v) ~= "number" or v ~= v or v == math.huge or v == -math.huge then return "" end
  if math.type(v) == "integer" then return string.format("%d", v) end
  if v == math.floor(v) and math.abs(v) < 2 ^ 53 then return string.format("%d", math.floor(v)) end
  for _, f in ipairs{ "%.15g", "%.16g", "%.17g" } do
    local s = string.format(f, v)
    if tonumber(s) == v then return s end
  end
  return string.format("%.17g", v)
end

-- px(v) -> a pixel coordinate with two decimals at most
function M.px(v)
  local s = string.format("%.2f", v)
  s = s:gsub("%.?0+$", "")
  if s == "-0" then s = "0" end
  return s
end

-- attrs{k = v} -> ' k="v"' sorted by name (deterministic output)
function M.attrs(t)
  if not t then return "" end
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  local out = {}
  for _, k in ipairs(keys) do
    local v = t[k]
    if v ~= nil and v ~= false then
      if type(v) == "number" then v = M.num(v) end
      out[#out + 1] = string.format(' %s="%s"', k, M.esc(v))
    end
  end
  return table.concat(out)
end

local function trim0(s) return (s:gsub("(%..-)0+$", "%1"):gsub("%.$", "")) end

-- fmt_time(seconds) -> "850 µs", "48.5 ms", "1.25 s"
function M.fmt_time(v)
  if v == nil then return "-" end
  local a = math.abs(v)
  if a == 0 then return "0" end
  if a < 1e-3 then return trim0(string.format("%.3g", v * 1e6)) .. " µs" end
  if a < 1 then return trim0(string.format(a < 0.01 and "%.2f" or "%.1f", v * 1e3)) .. " ms" end
  if a < 100 then return trim0(string.format("%.2f", v)) .. " s" end
  return string.format("%.0f s", v)
end

-- fmt_tick(v) -> a tick label: 0.25, 2, 1500, 20k
function M.fmt_tick(v)
  local a = math.abs(v)
  if a >= 1e6 then return trim0(string.format("%.3f", v / 1e6)) .. "M" end
  if a >= 1e4 then return trim0(string.format("%.2f", v / 1e3)) .. "k" end
  local s = string.format("%.6g", v)
  if s == "-0" then s = "0" end
  return s
end

-- fmt_num(v [, digits]) -> a short human number: 1234.5 -> "1234.5", 1e6 -> "1M"
function M.fmt_num(v, digits)
  if v == nil then return "-" end
  local a = math.abs(v)
  if a >= 1e6 then return trim0(string.format("%.2f", v / 1e6)) .. "M" end
  if a >= 1e4 then return trim0(string.format("%.1f", v / 1e3)) .. "k" end
  return trim0(string.format("%." .. (digits or 1) .. "f", v))
end

-- Scales ---------------------------------------------------------------------

-- linear(d0, d1, r0, r1) -> f(v) -> pixel
function M.linear(d0, d1, r0, r1)
  if d1 == d0 then d1 = d0 + 1 end
  local k = (r1 - r0) / (d1 - d0)
  return function(v) return r0 + (v - d0) * k end
end

-- log(d0, d1, r0, r1) -> f(v) -> pixel (v > 0; smaller values clamp to d0)
function M.log(d0, d1, r0, r1)
  local l0, l1 = math.log(d0, 10), math.log(d1, 10)
  if l1 == l0 then l1 = l0 + 1 end
  local k = (r1 - r0) / (l1 - l0)
  return function(v)
    if v < d0 then v = d0 end
    return r0 + (math.log(v, 10) - l0) * k
  end
end

-- nice_step(span, n) -> a 1-2-5 step giving about n intervals
local function nice_step(span, n)
  local raw = span / math.max(n, 1)
  local p = 10 ^ math.floor(math.log(raw, 10))
  for _, m in ipairs{ 1, 2, 5, 10 } do
    if m * p >= raw then return m * p end
  end
  return 10 * p
end

-- linear_domain(lo, hi [, n]) -> lo', hi', ticks: the domain widened to
-- round numbers, with about n ticks
function M.linear_domain(lo, hi, n)
  n = n or 5
  if hi <= lo then hi = lo + (lo == 0 and 1 or math.abs(lo) * 0.1) end
  local step = nice_step(hi - lo, n)
  lo = math.floor(lo / step + 1e-9) * step
  hi = math.ceil(hi / step - 1e-9) * step
  local ticks = {}
  for i = 0, math.floor((hi - lo) / step + 0.5) do ticks[#ticks + 1] = lo + i * step end
  return lo, hi, ticks
end

-- log_domain(lo, hi [, min_ratio, pad]) -> lo', hi', ticks: the domain
-- padded (by `pad`, 1.15) and at least `min_ratio` (3) wide, so a tight
-- distribution stays readable; ticks at 1-2-5 (every integer mantissa on a
-- short domain, decades only on a long one)
function M.log_domain(lo, hi, min_ratio, pad)
  if lo <= 0 then lo = hi > 0 and hi / 1000 or 1e-6 end
  if hi <= lo then hi = lo * 1.1 end
  local f = math.sqrt(math.max(min_ratio or 3, hi / lo) / (hi / lo))
  pad = pad or 1.15
  lo, hi = lo / f / pad, hi * f * pad
  local decades = math.log(hi / lo, 10)
  local mants = decades > 5 and { 1 } or decades > 1.5 and { 1, 2, 5 } or { 1, 2, 3, 4, 5, 6, 7, 8, 9 }
  local ticks = {}
  for e = math.floor(math.log(lo, 10)), math.ceil(math.log(hi, 10)) do
    for _, m in ipairs(mants) do
      local v = m * 10 ^ e
      if v >= lo and v <= hi then ticks[#ticks + 1] = v end
    end
  end
  if #ticks < 3 then
    -- a short domain inside one decade: evenly spaced round values
    local step = nice_step(hi - lo, 4)
    ticks = {}
    for i = math.ceil(lo / step), math.floor(hi / step) do ticks[#ticks + 1] = i * step end
  end
  return lo, hi, ticks
end

-- Chart frame ------------------------------------------------------------------

local Chart = {}
Chart.__index = Chart

-- chart{kind, w, h, margin = {l, r, t, b}, x = axis, y = axis, attrs, label}
--   axis = {lo, hi, log = bool, ticks = {...}, fmt = fn, label = "...",
--           none = true (no axis drawn)}
function M.chart(o)
  local c = setmetatable({ o = o, body = {}, w = o.w or 900, h = o.h or 340 }, Chart)
  local m = o.margin or {}
  c.ml, c.mr, c.mt, c.mb = m.l or 64, m.r or 20, m.t or 14, m.b or 46
  c.x0, c.x1 = c.ml, c.w - c.mr
  c.y0, c.y1 = c.h - c.mb, c.mt   -- y grows upwards
  local x, y = o.x or {}, o.y or {}
  c.sx = (x.log and M.log or M.linear)(x.lo or 0, x.hi or 1, c.x0, c.x1)
  c.sy = (y.log and M.log or M.linear)(y.lo or 0, y.hi or 1, c.y0, c.y1)
  return c
end

function Chart:add(s) self.body[#self.body + 1] = s end

-- path_d(points) -> "M x y L x y ..." in pixels for data points {{x, y}}
function Chart:line_d(points)
  local d = {}
  for i, p in ipairs(points) do
    d[i] = (i == 1 and "M" or "L") .. M.px(self.sx(p[1])) .. " " .. M.px(self.sy(p[2]))
  end
  return table.concat(d, " ")
end

-- step_d(points, y_start) -> an empirical-CDF step path: from (x1, y_start)
-- up to y1, then across to x2 and up to y2, ...
function Chart:step_d(points, y_start)
  if #points == 0 then return "" end
  local d = { "M" .. M.px(self.sx(points[1][1])) .. " " .. M.px(self.sy(y_start or 0)) }
  for i, p in ipairs(points) do
    if i > 1 then d[#d + 1] = "H" .. M.px(self.sx(p[1])) end
    d[#d + 1] = "V" .. M.px(self.sy(p[2]))
  end
  return table.concat(d, " ")
end

-- circle(x, y, r, attrs, title): a data point
function Chart:circle(x, y, r, attrs, title)
  self:add(string.format('<circle cx="%s" cy="%s" r="%s"%s>%s</circle>', M.px(self.sx(x)),
    M.px(self.sy(y)), M.px(r), M.attrs(attrs), title and ("<title>" .. M.esc(title) .. "</title>") or ""))
end

-- rect_px(x, y, w, h, attrs, title): a rectangle in pixels
function Chart:rect_px(x, y, w, h, attrs, title)
  self:add(string.format('<rect x="%s" y="%s" width="%s" height="%s"%s>%s</rect>', M.px(x), M.px(y),
    M.px(math.max(w, 0)), M.px(math.max(h, 0)), M.attrs(attrs),
    title and ("<title>" .. M.esc(title) .. "</title>") or ""))
end

-- rect(xa, ya, xb, yb, attrs, title): a rectangle between data coordinates
function Chart:rect(xa, ya, xb, yb, attrs, title)
  local px0, px1 = self.sx(xa), self.sx(xb)
  local py0, py1 = self.sy(ya), self.sy(yb)
  self:rect_px(math.min(px0, px1), math.min(py0, py1), math.abs(px1 - px0), math.abs(py1 - py0),
    attrs, title)
end

-- vline(x, label, attrs): a vertical guide over the plot at data x
function Chart:vline(x, label, attrs, class)
  local px = M.px(self.sx(x))
  self:add(string.format('<line class="%s" x1="%s" x2="%s" y1="%s" y2="%s"%s>%s</line>', class or "guide",
    px, px, M.px(self.y1), M.px(self.y0), M.attrs(attrs),
    label and ("<title>" .. M.esc(label) .. "</title>") or ""))
  if label then
    self:add(string.format('<text class="guide-label" x="%s" y="%s">%s</text>', M.px(self.sx(x) + 4),
      M.px(self.y1 + 11), M.esc(label)))
  end
end

-- hline(y, label): a horizontal guide at data y
function Chart:hline(y, label)
  local py = M.px(self.sy(y))
  self:add(string.format('<line class="guide" x1="%s" x2="%s" y1="%s" y2="%s"></line>', M.px(self.x0),
    M.px(self.x1), py, py))
  if label then
    self:add(string.format('<text class="guide-label" x="%s" y="%s">%s</text>',
      M.px(self.x0 + 4), M.px(self.sy(y) - 4), M.esc(label)))
  end
end

function Chart:text(x, y, s, class, anchor)
  self:add(string.format('<text class="%s" x="%s" y="%s"%s>%s</text>', class or "lbl", M.px(x), M.px(y),
    anchor and (' text-anchor="' .. anchor .. '"') or "", M.esc(s)))
end

local function axes(c)
  local o, out = c.o, {}
  local x, y = o.x or {}, o.y or {}
  out[#out + 1] = '<g class="axes">'
  if not x.none then
    local last = -math.huge
    for _, t in ipairs(x.ticks or {}) do
      local px = M.px(c.sx(t))
      out[#out + 1] = string.format('<line class="grid" x1="%s" x2="%s" y1="%s" y2="%s"></line>', px, px,
        M.px(c.y1), M.px(c.y0))
      -- a label only where it does not run into the previous one
      local label = (x.fmt or M.fmt_tick)(t)
      local half = (utf8.len(label) or #label) * 3.4 + 4
      if c.sx(t) - half >= last then
        out[#out + 1] = string.format('<text class="tick" x="%s" y="%s" text-anchor="middle">%s</text>', px,
          M.px(c.y0 + 16), M.esc(label))
        last = c.sx(t) + half
      end
    end
    out[#out + 1] = string.format('<line class="axis" x1="%s" x2="%s" y1="%s" y2="%s"></line>', M.px(c.x0),
      M.px(c.x1), M.px(c.y0), M.px(c.y0))
    if x.label then
      out[#out + 1] = string.format('<text class="axis-label" x="%s" y="%s" text-anchor="middle">%s</text>',
        M.px((c.x0 + c.x1) / 2), M.px(c.h - 8), M.esc(x.label))
    end
  end
  if not y.none then
    for _, t in ipairs(y.ticks or {}) do
      local py = M.px(c.sy(t))
      out[#out + 1] = string.format('<line class="grid" x1="%s" x2="%s" y1="%s" y2="%s"></line>', M.px(c.x0),
        M.px(c.x1), py, py)
      out[#out + 1] = string.format('<text class="tick" x="%s" y="%s" text-anchor="end">%s</text>',
        M.px(c.x0 - 6), M.px(c.sy(t) + 4), M.esc((y.fmt or M.fmt_tick)(t)))
    end
    out[#out + 1] = string.format('<line class="axis" x1="%s" x2="%s" y1="%s" y2="%s"></line>', M.px(c.x0),
      M.px(c.x0), M.px(c.y0), M.px(c.y1))
    if y.label then
      local cy = (c.y0 + c.y1) / 2
      out[#out + 1] = string.format('<text class="axis-label" x="14" y="%s" text-anchor="middle" '
        .. 'transform="rotate(-90 14 %s)">%s</text>', M.px(cy), M.px(cy), M.esc(y.label))
    end
  end
  out[#out + 1] = "</g>"
  return table.concat(out)
end

-- render() -> the <svg> element
function Chart:render()
  local o = self.o
  local a = { class = "chart", viewBox = string.format("0 0 %d %d", self.w, self.h), role = "img",
              ["aria-label"] = o.label, ["data-chart"] = o.kind }
  for k, v in pairs(o.attrs or {}) do a[k] = v end
  return table.concat{
    "<svg", M.attrs(a), ">",
    o.label and ("<title>" .. M.esc(o.label) .. "</title>") or "",
    axes(self),
    '<g class="plot">', table.concat(self.body), "</g>",
    "</svg>",
  }
end

return M
