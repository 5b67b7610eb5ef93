-- mlxbench.cost: what a run cost, in dollars and in joules.
--
--   --price IN/OUT[/CACHED]   USD per 1M input / output (/ cached input) tokens
--   --prices FILE             the same per model (JSON or CSV, below)
--   --watts W | --power-cmd   the machine's power: constant, or sampled
--   --kwh-price USD           the electricity's price
--
-- run.cost (docs/METRICS.md, "Cost and energy"): the API price applied to
-- the run's tokens -- prompt tokens a cache served at the cached price --
-- in dollars per run, per request and per 1M output tokens. run.energy:
-- joules over the run's window (the power samples integrated, or watts x
-- duration), joules per output token, kWh and its price. A local server
-- and a cloud API then compare on one axis (`compare`, the suite report).
--
-- A prices file is JSON, {"MODEL": {"input": 0.15, "output": 0.60,
-- "cached_input": 0.075}, ...} (or the same under "models"), or CSV with a
-- header line `model,input,output[,cached_input]`. A model is found by its
-- name, then without its organisation ("mlx-community/X" -> "X"), then
-- case-insensitively; an entry "*" prices every other model.
local json = require "mlxbench.json"

local M = {}

-- List prices (USD per 1M tokens, as published by OpenAI and Anthropic in
-- 2025) of a few models, for the probe's warning before it spends anything
-- on a paid API. Never used for a run's cost: that needs --price/--prices.
M.LIST_PRICES = {
  ["gpt-4o-mini"] = { input = 0.15, output = 0.60, cached_input = 0.075, source = "list price" },
  ["gpt-4o"] = { input = 2.50, output = 10.00, cached_input = 1.25, source = "list price" },
  ["gpt-4.1-mini"] = { input = 0.40, output = 1.60, cached_input = 0.10, source = "list price" },
  ["gpt-4.1"] = { input = 2.00, output = 8.00, cached_input = 0.50, source = "list price" },
  ["claude-3-5-haiku-latest"] = { input = 0.80, output = 4.00, cached_input = 0.08, source = "list price" },
  ["claude-sonnet-4-5"] = { input = 3.00, output = 15.00, cached_input = 0.30, source = "list price" },
}

local function num(v) return type(v) == "number" and v == v and v >= 0 and v < math.huge end

-- parse_price("0.15/0.60[/0.075]") -> {input, output, cached_input} | nil, message
function M.parse_price(s)
  local parts = {}
  for p in tostring(s):gmatch("[^/]+") do parts[#parts + 1] = tonumber(p) end
  local n = select(2, tostring(s):gsub("/", "")) + 1
  if (n ~= 2 and n ~= 3) or #parts ~= n then
    return nil, "--price: want IN/OUT or IN/OUT/CACHED in USD per 1M tokens (e.g. 0.15/0.60), got '"
      .. tostring(s) .. "'"
  end
  for _, v in ipairs(parts) do
    if not num(v) or v > 1e6 then
      return nil, "--price: prices must be numbers >= 0 (USD per 1M tokens), got '" .. tostring(s) .. "'"
    end
  end
  return { input = parts[1], output = parts[2], cached_input = parts[3], source = "--price" }
end

local function entry(where, name, e)
  if type(e) ~= "table" or not num(e.input) or not num(e.output)
     or (e.cached_input ~= nil and not num(e.cached_input)) then
    return nil, string.format("%s: model '%s': want {\"input\": USD, \"output\": USD[, \"cached_input\": USD]} "
      .. "per 1M tokens", where, tostring(name))
  end
  return { input = e.input, output = e.output, cached_input = e.cached_input, source = where }
end

-- load_prices(path) -> {model = price} | nil, message
function M.load_prices(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, "--prices: cannot open " .. path .. ": " .. tostring(err) end
  local text = f:read("a")
  f:close()
  local out = {}
  if text:match("^%s*[{]") then
    local doc, jerr = json.decode(text)
    if type(doc) ~= "table" then return nil, "--prices: " .. path .. ": not valid JSON (" .. tostring(jerr) .. ")" end
    local models = type(doc.models) == "table" and doc.models or doc
    for name, e in pairs(models) do
      if type(name) == "string" and name:sub(1, 1) ~= "_" and name ~= "$comment" then
        local p, perr = entry(path, name, e)
        if not p then return nil, "--prices: " .. perr end
        out[name] = p
      end
    end
  else
    local line_no, cols = 0, nil
    for line in (text .. "\n"):gmatch("([^\n]*)\n") do
      line_no = line_no + 1
      line = line:gsub("\r$", "")
      if line:match("%S") and not line:match("^%s*#") then
        local f2 = {}
        for c in (line .. ","):gmatch("([^,]*),") do f2[#f2 + 1] = c:match("^%s*(.-)%s*$") end
        if not cols then
          cols = {}
          for i, c in ipairs(f2) do cols[c] = i end
          if not cols.model or not cols.input or not cols.output then
            return nil, "--prices: " .. path .. ": the first line must name the columns model,input,output[,cached_input]"
          end
        else
          local e = { input = tonumber(f2[cols.input]), output = tonumber(f2[cols.output]),
                      cached_input = cols.cached_input and tonumber(f2[cols.cached_input]) or nil }
          local p, perr = entry(path .. ":" .. line_no, f2[cols.model], e)
          if not p then return nil, "--prices: " .. perr end
          out[f2[cols.model]] = p
        end
      end
    end
  end
  if not next(out) then return nil, "--prices: " .. path .. " prices no model" end
  return out
end

-- lookup(prices, model) -> price | nil
function M.lookup(prices, model)
  if not prices or not model then return nil end
  if prices[model] then return prices[model] end
  local short = model:gsub("^.*/", "")
  if prices[short] then return prices[short] end
  local lower = model:lower()
  for name, p in pairs(prices) do
    if name:lower() == lower or name:lower() == short:lower() then return p end
  end
  return prices["*"]
end

-- read_watts(text) -> watts | nil: the first number a power command
-- printed; "mW" / "kW" after it scale it (powermetrics prints mW).
function M.read_watts(text)
  if type(text) ~= "string" then return nil end
  local a, b = text:find("%d+%.?%d*")
  if not a then return nil end
  local v = tonumber(text:sub(a, b))
  if not v or v == math.huge then return nil end
  local unit = text:sub(b + 1):match("^%s*([mkMK]?)[Ww]")
  if unit == "m" then v = v / 1000 elseif unit == "k" or unit == "K" then v = v * 1000 end
  return v
end

-- energy(run, o) -> run.energy or nil: joules over the run's window, from
-- the power samples (trapezoids; the first and last sample held to the
-- window's edges) or a constant --watts.
local function energy(run, o)
  local win = run.window
  local dur = run.duration_s or 0
  if not win or dur <= 0 then return nil end
  local a, b = win.start_s, win.end_s
  local e = {}
  local p = run.power
  if p and p.samples and p.samples > 0 then
    local t, w = p.t, p.watts
    local j = 0
    -- held before the first and after the last sample
    if t[1] > a then j = j + w[1] * (math.min(t[1], b) - a) end
    for i = 2, #t do
      local lo, hi = math.max(t[i - 1], a), math.min(t[i], b)
      if hi > lo then
        -- the line between the two samples, integrated over [lo, hi]
        local slope = (w[i] - w[i - 1]) / (t[i] - t[i - 1])
        local wl, wh = w[i - 1] + slope * (lo - t[i - 1]), w[i - 1] + slope * (hi - t[i - 1])
        j = j + (wl + wh) / 2 * (hi - lo)
      end
    end
    if t[#t] < b then j = j + w[#t] * (b - math.max(t[#t], a)) end
    e.joules, e.source = j, "power-cmd"
  elseif o and o.watts then
    e.joules, e.source = o.watts * dur, "watts"
    e.watts_given = o.watts
  else
    return nil
  end
  e.avg_watts = e.joules / dur
  local out = run.tokens and run.tokens.output or 0
  if out > 0 then e.j_per_output_token = e.joules / out end
  e.kwh = e.joules / 3.6e6
  if o and o.kwh_price then
    e.kwh_price = o.kwh_price
    e.usd = e.kwh * o.kwh_price
    if out > 0 then e.usd_per_1m_output = e.usd / out * 1e6 end
  end
  return e
end

-- price_of(o, model) -> the price for this run's model, or nil
function M.price_of(o, model)
  if not o then return nil end
  if o.price then return o.price end
  local prices = o.prices
  if type(prices) == "string" then prices = assert(M.load_prices(prices)) end
  return M.lookup(prices, model)
end

-- apply(run, o): run.cost and run.energy from the options (price, prices,
-- watts, kwh_price) and what the run measured.
function M.apply(run, o)
  local e = energy(run, o)
  if e then run.energy = e end
  local price = M.price_of(o, run.model)
  if not price or run.skipped then return end
  local tk = run.tokens or {}
  local input, output = tk.input or 0, tk.output or 0
  local cached = math.min(tk.cached or 0, input)
  local cin = price.cached_input or price.input
  local usd = ((input - cached) * price.input + cached * cin + output * price.output) / 1e6
  local ok = run.requests and run.requests.ok or 0
  run.cost = {
    price = { input = price.input, output = price.output, cached_input = price.cached_input,
              source = price.source },
    input_tokens = input, cached_tokens = cached > 0 and cached or nil, output_tokens = output,
    usd = usd, usd_per_request = ok > 0 and usd / ok or nil,
    usd_per_1m_output = output > 0 and usd / output * 1e6 or nil,
    estimated = (tk.estimated or tk.input_estimated) or nil,
  }
end

-- estimate(price, input_tokens, output_tokens) -> USD at that price (the
-- probe's warning before it sends anything to a paid API), or nil
function M.estimate(price, input_tokens, output_tokens)
  if not price then return nil end
  return (input_tokens * price.input + output_tokens * price.output) / 1e6
end

return M
