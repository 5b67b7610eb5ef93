-- mlxbench.cli_merge: `mlxbench merge A.json B.json ... -o OUT.json` -- one
-- results file from the shards of a run, or from several processes or
-- machines (mlxbench.merge does the work).
local args = require "mlxbench.cli_args"
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

local function usage()
  return "usage: mlxbench merge FILE.json... -o OUT.json [options]\n\n"
    .. "Runs are matched by name; histograms merge exactly, counters add up, rates are\n"
    .. "recomputed over the union of the wall-clock windows, per-request lists are\n"
    .. "concatenated with a `source` tag.\n\n"
    .. args.help(M.SPEC, M.ORDER) .. "\n"
end

local function die(msg, with_usage)
  io.stderr:write("mlxbench merge: ", msg, "\n",
    with_usage and "(mlxbench merge --help lists the options)\n" or "")
  return 2
end

function M.main(...)
  local o, pos = args.parse({ ... }, M.SPEC)
  if not o then return die(pos, true) end
  if o.help then io.stdout:write(usage()) return 0 end
  if #pos == 0 then return die("give the results files to merge", true) end
  if not o.output then return die("-o OUT.json is required", true) end
  local fmt = o.format or "table"
  if not ({ table = 1, md = 1, csv = 1, json = 1, none = 1 })[fmt] then
    return die("--format must be table, md, csv, json or none")
  end
  local inputs = {}
  for _, path in ipairs(pos) do
    local doc, err = merge.load(path)
    if not doc then return die(err) end
    inputs[#inputs + 1] = { doc = doc, file = path }
  end
  -- results.validate has checked the shape every reader relies on; a value
  -- of the wrong type deeper down (a hand-edited per-request field) must
  -- still end in one clear line, not a traceback
  local ok_m, doc, warnings = pcall(merge.docs, inputs, { force = o.force })
  if not ok_m then
    return die("these files cannot be merged: a value has the wrong type ("
      .. tostring(doc):gsub("^.-:%d+: ", "") .. ")")
  end
  if not doc then return die(warnings) end
  local ok, werr = pcall(results.write, doc, o.output)
  if not ok then return die(tostring(werr)) end
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
