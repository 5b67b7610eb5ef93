-- mlxbench.cli.compare: `mlxbench compare BASE.json NEW.json` -- what
-- changed between two results files, and whether a CI job should fail.
local args = require "mlxbench.cli.args"
local results = require "mlxbench.results"
local compare = require "mlxbench.compare"

local M = {}

M.SPEC = {
  ["max-regression"] = { arg = "PCT", help = "exit 1 when a metric is worse beyond noise by more than PCT (e.g. 5%)" },
  metric = { arg = "NAME[=PCT]", multi = true,
             help = "per-metric limit (ttft_s.p95=10%), or show one more metric (ttfb_s.p90)" },
  ["min-effect"] = { arg = "PCT", help = "smallest relative change ever flagged (default 2%)" },
  ["time-floor"] = { arg = "S", num = { 0, 3600 }, unit = "seconds",
                     help = "smallest time change ever flagged, seconds (default 0.001; "
                       .. "raised to the runs' client loop lag p99)" },
  format = { arg = "FMT", help = "text|md|json (default text)" },
  output = { short = "o", arg = "FILE", help = "also write the report to FILE" },
  help = { short = "h", help = "show this help" },
}
M.ORDER = { "max-regression", "metric", "min-effect", "time-floor", "format", "output", "help" }

local cmd = args.command{ name = "mlxbench compare", synopsis = "BASE.json NEW.json [options]",
  about = "Runs are matched by name, model and backend. Each key metric shows base, new,\n"
    .. "the change and a verdict: better / WORSE (beyond noise), ~ (within noise) or\n"
    .. "too few samples. Exit status 1 when a regression beyond noise exceeds a limit.\n"
    .. "Limits are relative (%), except error_rate: percentage points.",
  spec = M.SPEC, order = M.ORDER }

-- "5%", "5", "0.5%" -> 0.05, 0.05, 0.005
local function pct(s, what)
  local n = tonumber((tostring(s):gsub("%s*%%$", "")))
  if not n or n < 0 or n ~= n then
    return nil, string.format("%s: expected a percentage such as 5%%, got '%s'", what, tostring(s))
  end
  return n / 100
end

function M.main(...)
  local o, pos = cmd:parse({ ... })
  if not o then return pos end
  if #pos ~= 2 then return cmd:die("give two results files: BASE.json NEW.json", true) end
  local fmt = o.format or "text"
  if fmt == "table" then fmt = "text" elseif fmt == "markdown" then fmt = "md" end
  if not ({ text = 1, md = 1, json = 1 })[fmt] then return cmd:die("--format must be text, md or json") end
  local opts = { limits = {}, metrics = {} }
  local err
  if o["max-regression"] then
    opts.max_regression, err = pct(o["max-regression"], "--max-regression")
    if err then return cmd:die(err) end
  end
  if o["min-effect"] then
    opts.min_effect, err = pct(o["min-effect"], "--min-effect")
    if err then return cmd:die(err) end
  end
  local cok, cerr = args.check(o, M.SPEC)
  if not cok then return cmd:die(cerr) end
  opts.time_floor = o["time-floor"]
  for _, m in ipairs(o.metric or {}) do
    local name, lim = m:match("^%s*([%w_.]+)%s*=%s*(.-)%s*$")
    name = name or m:match("^%s*([%w_.]+)%s*$")
    if not name then return cmd:die("--metric: expected NAME or NAME=PCT, got '" .. m .. "'") end
    local spec, serr = compare.metric_spec(name)
    if not spec then return cmd:die("--metric: " .. serr) end
    if lim then
      opts.limits[name], err = pct(lim, "--metric " .. name)
      if err then return cmd:die(err) end
    else
      opts.metrics[#opts.metrics + 1] = name
    end
  end
  local docs = {}
  for i = 1, 2 do
    local doc, lerr = results.load(pos[i])
    if not doc then return cmd:die(lerr) end
    docs[i] = doc
  end
  local res = compare.compare(docs[1], docs[2], opts)
  local text
  if fmt == "md" then text = compare.markdown(res, pos)
  elseif fmt == "json" then text = compare.json(res, pos)
  else text = compare.text(res, pos) end
  io.stdout:write(text)
  if o.output then
    local ok, werr = require("mlxbench.json").write_atomic(o.output, text)
    if not ok then return cmd:die(werr) end
  end
  if #res.runs == 0 then
    return cmd:die("no run of " .. pos[1] .. " matches a run of " .. pos[2])
  end
  if #res.failures > 0 then
    if fmt ~= "text" then
      for _, f in ipairs(res.failures) do io.stderr:write("REGRESSION: ", f, "\n") end
    end
    return 1
  end
  return 0
end

return M
