-- mlxbench.cli.merge: `mlxbench merge A.json B.json ... -o OUT.json` -- one
-- results file from the shards of a run, or from several processes or
-- machines (mlxbench.merge does the work).
local args = require "mlxbench.cli.args"
local merge = require "mlxbench.merge"
local results = require "mlxbench.results"
local report = require "mlxbench.report"

local M = {}

M.SPEC = {
  output = { short = "o", arg = "FILE", help = "write the merged results file (required)" },
  force = { help = "merge files that are not one scenario (other schema version, options, shard split)" },
  format = { arg = "FMT", help = "report printed after merging: table|md|csv|json|none (default table)" },
  quiet = { short = "q", help = "print nothing but errors" },
  help = { short = "h", help = "show this help" },
}
M.ORDER = { "output", "force", "format", "quiet", "help" }

local cmd = args.command{ name = "mlxbench merge", synopsis = "FILE.json... -o OUT.json [options]",
  about = "Runs are matched by name; histograms merge exactly, counters add up, rates are\n"
    .. "recomputed over the union of the wall-clock windows, per-request lists are\n"
    .. "concatenated with a `source` tag.",
  spec = M.SPEC, order = M.ORDER }

function M.main(...)
  local o, pos = cmd:parse({ ... })
  if not o then return pos end
  if #pos == 0 then return cmd:die("give the results files to merge", true) end
  if not o.output then return cmd:die("-o OUT.json is required", true) end
  local fmt = o.format or "table"
  if not ({ table = 1, md = 1, csv = 1, json = 1, none = 1 })[fmt] then
    return cmd:die("--format must be table, md, csv, json or none")
  end
  local inputs = {}
  for _, path in ipairs(pos) do
    local doc, err = merge.load(path)
    if not doc then return cmd:die(err) end
    inputs[#inputs + 1] = { doc = doc, file = path }
  end
  -- results.validate has checked the shape every reader relies on; a value
  -- of the wrong type deeper down (a hand-edited per-request field) must
  -- still end in one clear line, not a traceback
  local ok_m, doc, warnings = pcall(merge.docs, inputs, { force = o.force })
  if not ok_m then
    return cmd:die("these files cannot be merged: a value has the wrong type ("
      .. tostring(doc):gsub("^.-:%d+: ", "") .. ")")
  end
  if not doc then return cmd:die(warnings) end
  local ok, werr = pcall(results.write, doc, o.output)
  if not ok then return cmd:die(tostring(werr)) end
  if not o.quiet then
    for _, w in ipairs(warnings) do io.stderr:write("mlxbench merge: warning: ", w, "\n") end
    if fmt ~= "none" then
      io.stdout:write(report.format(doc, fmt))
      if fmt == "table" then
        io.stdout:write(string.format("merged %d file%s, %d run%s: %s\n", #inputs,
          #inputs > 1 and "s" or "", #doc.runs, #doc.runs > 1 and "s" or "", o.output))
      end
    end
  end
  return 0
end

return M
