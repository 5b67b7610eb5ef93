-- mlxbench.cli_report: `mlxbench report FILE.json [--format md|csv|json|html|hdr|...] [-o OUT]`
local args = require "mlxbench.cli_args"
local results = require "mlxbench.results"
local report = require "mlxbench.report"
local json = require "mlxbench.json"

local M = {}

local SPEC = {
  format = { arg = "FMT", help = "table|md|csv|csv-requests|json|html|hdr (default table)" },
  output = { short = "o", arg = "FILE", help = "write to FILE instead of stdout" },
  help = { short = "h", help = "show this help" },
}

local function usage()
  return "usage: mlxbench report FILE.json [options]\n"
    .. args.help(SPEC, { "format", "output", "help" }) .. "\n"
end

function M.main(...)
  local o, pos = args.parse({ ... }, SPEC)
  if not o then
    io.stderr:write("mlxbench report: ", pos, "\n", usage())
    return 2
  end
  if o.help then io.stdout:write(usage()) return 0 end
  if #pos ~= 1 then
    io.stderr:write("mlxbench report: give exactly one results file\n", usage())
    return 2
  end
  local doc, err = results.load(pos[1])
  if not doc then
    io.stderr:write("mlxbench report: ", err, "\n")
    return 2
  end
  local fmt = o.format or "table"
  local ok, text = pcall(function()
    if fmt == "html" then return require("mlxbench.html").render(doc) end
    if fmt == "hdr" then return require("mlxbench.hdr").log(doc) end
    return report.format(doc, fmt)
  end)
  if not ok then
    io.stderr:write("mlxbench report: ", tostring(text):gsub("^.-:%d+: ", ""), "\n")
    return 2
  end
  if o.output then
    local wok, werr = json.write_atomic(o.output, text)
    if not wok then
      io.stderr:write("mlxbench report: ", werr, "\n")
      return 2
    end
  else
    io.stdout:write(text)
  end
  return 0
end

return M
