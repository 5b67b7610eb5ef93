-- mlxbench.report.hdr: a results file as an HdrHistogram interval log (format
-- version 1.3), so HdrHistogram's own tools (HistogramLogProcessor,
-- HistogramLogAnalyzer, hdr-histogram-js, HdrHistogram_c's hdr_log) read
-- every histogram mlxbench measured. One tagged interval per run and metric:
--
--   Tag=<run>:<metric>,<start s>,<length s>,<max>,<base64 V2 histogram>
--
-- <start> is the run's start relative to the log's StartTime (the earliest
-- run); values are integers in units of the histogram's `lowest` (1e-6:
-- microseconds for the *_s metrics, micro-tokens/s for the *_tok_s ones),
-- said once per metric in a comment; <max> is in milliseconds for *_s
-- metrics (HdrHistogram's usual max-value ratio of 1000 per unit) and in the
-- metric's unit otherwise.
local stats = require "mlxbench.stats"

local M = {}

-- Tags end at the first comma and are whitespace-free in HdrHistogram logs.
local function tag(s)
  return (tostring(s):gsub("[%s,]+", "_"))
end

-- Latencies are the *_s metrics; rates (*_tok_s) are not.
local function is_time(name) return name:match("_s$") and not name:match("_tok_s$") end

-- Whole-run order: by start time, then as listed.
local function measured(doc)
  local runs = {}
  for i, r in ipairs(doc.runs or {}) do
    if not r.skipped and r.histograms and next(r.histograms) then
      runs[#runs + 1] = { i = i, r = r }
    end
  end
  table.sort(runs, function(a, b)
    local sa, sb = a.r.started_unix or 0, b.r.started_unix or 0
    if sa ~= sb then return sa < sb end
    return a.i < b.i
  end)
  return runs
end

-- M.log(doc) -> text of the interval log; raises on an undecodable histogram.
function M.log(doc)
  local runs = measured(doc)
  local base = doc.started_unix or (runs[1] and runs[1].r.started_unix) or 0
  for _, e in ipairs(runs) do
    if e.r.started_unix and e.r.started_unix < base then base = e.r.started_unix end
  end
  local out = {
    "#[Histogram log format version 1.3]",
    string.format("#[StartTime: %.3f (seconds since epoch), %s]", base,
                  os.date("!%a %b %d %H:%M:%S UTC %Y", math.floor(base))),
    string.format("#[BaseTime: %.3f (seconds since epoch)]", base),
    "#[mlxbench: one interval per run and metric, tagged <run>:<metric>; values are"
      .. " integers in units of the histogram's lowest value]",
  }
  local units_said = {}
  local lines = {}
  for _, e in ipairs(runs) do
    local r = e.r
    local names = {}
    for name in pairs(r.histograms) do names[#names + 1] = name end
    table.sort(names)
    local start = (r.started_unix or base) - base
    for _, name in ipairs(names) do
      local h = stats.decode(r.histograms[name])
      local s = h:settings()
      if not units_said[name] then
        units_said[name] = true
        out[#out + 1] = string.format("#[mlxbench: %s in units of %.6g %s]", name, s.lowest,
                                      is_time(name) and "s" or "tok/s")
      end
      local max = h:max()
      if is_time(name) then max = max * 1000 end
      lines[#lines + 1] = string.format("Tag=%s:%s,%.3f,%.3f,%.3f,%s", tag(r.name or ("run" .. e.i)),
                                        name, start, r.duration_s or 0, max, h:hdr())
    end
  end
  out[#out + 1] = '"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"'
  for _, l in ipairs(lines) do out[#out + 1] = l end
  return table.concat(out, "\n") .. "\n"
end

return M
