-- mlxbench.cli.report: `mlxbench report FILE.json [--format md|csv|json|html|hdr|...] [-o OUT]`
local args = require "mlxbench.cli.args"
local results = require "mlxbench.results"
local report = require "mlxbench.report"
local json = require "mlxbench.json"

local M = {}

local SPEC = {
  format = { arg = "FMT", help = "table|md|csv|csv-requests|json|html|hdr (default table)" },
  output = { short = "o", arg = "FILE", help = "write to FILE instead of stdout" },
  help = { short = "h", help = "show this help" },
}

local cmd = args.command{ name = "mlxbench report", synopsis = "FILE.json [options]", spec = SPEC,
                          order = { "format", "output", "help" } }

function M.main(...)
  local o, pos = cmd:parse({ ... })
  if not o then return pos end
  if #pos ~= 1 then return cmd:die("give exactly one results file", true) end
  local doc, err = results.load(pos[1])
  if not doc then return cmd:die(err) end
  local fmt = o.format or "table"
  local ok, text = pcall(function()
    if fmt == "html" then return require("mlxbench.report.html").render(doc) end
    if fmt == "hdr" then return require("mlxbench.report.hdr").log(doc) end
    return report.format(doc, fmt)
  end)
  if not ok then return cmd:die((tostring(text):gsub("^.-:%d+: ", ""))) end
  if o.output then
    local wok, werr = json.write_atomic(o.output, text)
    if not wok then return cmd:die(werr) end
  else
    io.stdout:write(text)
  end
  return 0
end

return M
