-- mlxbench.compare_fmt: a comparison (mlxbench.compare's result) written
-- out -- the terminal table, a Markdown pull-request comment, JSON
-- (schema mlxbench.compare/1) -- and the formatting of its values.
local M = {}

local function trim(s) return (s:gsub("%.?0+$", "")) end

-- fmt_value(v, unit) -> "48.6 ms", "1.23 s", "333.1 tok/s", "2.5 %"
function M.fmt_value(v, unit)
  if v == nil then return "-" end
  if unit == "s" then
    local a = math.abs(v)
    if a >= 10 then return string.format("%.2f s", v) end
    if a >= 1 then return string.format("%.3f s", v) end
    if a * 1000 >= 100 then return string.format("%.1f ms", v * 1000) end
    if a * 1000 >= 10 then return string.format("%.2f ms", v * 1000) end
    return string.format("%.3f ms", v * 1000)
  elseif unit == "%" then
    return string.format("%.1f %%", v * 100)
  elseif unit == "req/s" then
    return string.format("%.2f %s", v, unit)
  elseif unit == "req" then
    return string.format("%d", math.floor(v + 0.5))
  elseif unit == "$" then
    local a = math.abs(v)
    return (v < 0 and "-$" or "$") .. (a >= 100 and string.format("%.0f", a) or a >= 0.01 and string.format("%.2f", a)
      or string.format("%.2g", a))
  elseif unit == "J" then
    return string.format("%.3g J", v)
  end
  return string.format("%.1f %s", v, unit or "")
end

-- fmt_delta(row) -> the change with its sign and unit ("+3.2 ms"; "pp" for a
-- proportion)
function M.fmt_delta(row)
  if row.delta == nil then return "-" end
  local s = M.fmt_value(row.delta, row.unit)
  if row.unit == "%" then s = string.format("%.1f pp", row.delta * 100) end
  return (row.delta >= 0 and "+" or "") .. s
end

-- fmt_rel(row) -> the relative change ("+4.1%"), "-" when there is none
function M.fmt_rel(row)
  if row.rel == nil then return "-" end
  if row.rel == math.huge or row.rel ~= row.rel then return "-" end
  return string.format("%+.1f%%", row.rel * 100)
end

-- fmt_limit(row) -> the --max-regression limit that applied ("5%", "1 pp")
function M.fmt_limit(row)
  if not row.limit then return "-" end
  if row.unit == "%" then return trim(string.format("%.2f", row.limit * 100)) .. " pp" end
  return trim(string.format("%.2f", row.limit * 100)) .. "%"
end

local VERDICT_TEXT = { worse = "WORSE", better = "better", ["~"] = "~ within noise",
                       ["too few samples"] = "too few samples", ["n/a"] = "n/a" }

-- verdict_text(row) -> the verdict column: why it is within noise, the
-- sample counts when too few, FAIL with the limit
local function verdict_text(row)
  local s = VERDICT_TEXT[row.verdict] or row.verdict
  if row.verdict == "~" and row.why == "unchanged" then
    s = "~ unchanged"
  elseif row.verdict == "~" and row.why and row.why ~= "intervals overlap" then
    s = s .. " (" .. row.why .. ")"
  end
  if row.verdict == "too few samples" and row.n_base and row.n_new then
    s = string.format("too few samples (n=%d/%d)", row.n_base, row.n_new)
  end
  if row.fail then s = s .. string.format(" -- FAIL (limit %s)", M.fmt_limit(row)) end
  return s
end

-- the columns of a run's table: header, cell, alignment
local COLS = {
  { "metric", function(r) return r.label end, "l" },
  { "base", function(r) return M.fmt_value(r.base, r.unit) end, "r" },
  { "new", function(r) return M.fmt_value(r.new, r.unit) end, "r" },
  { "delta", function(r) return M.fmt_delta(r) end, "r" },
  { "rel", function(r) return M.fmt_rel(r) end, "r" },
  { "verdict", verdict_text, "l" },
}

-- align(rows, cols, md) -> the rows as a table: aligned plain text, or
-- Markdown (md) with flagged rows in bold
local function align(rows, cols, md)
  local cells = {}
  for i, r in ipairs(rows) do
    cells[i] = {}
    for j, c in ipairs(cols) do cells[i][j] = tostring(c[2](r) or "-") end
  end
  if md then
    local out = {}
    local hdr, al = {}, {}
    for j, c in ipairs(cols) do
      hdr[j] = c[1]
      al[j] = c[3] == "r" and "---:" or ":---"
    end
    out[1] = "| " .. table.concat(hdr, " | ") .. " |"
    out[2] = "| " .. table.concat(al, " | ") .. " |"
    for i, row in ipairs(cells) do
      for j, v in ipairs(row) do
        v = v:gsub("|", "\\|")
        if rows[i].flagged and (j == 1 or j == #cols) then v = "**" .. v .. "**" end
        row[j] = v
      end
      out[#out + 1] = "| " .. table.concat(row, " | ") .. " |"
    end
    return table.concat(out, "\n")
  end
  local w = {}
  local function len(s) return utf8.len(s) or #s end
  for j, c in ipairs(cols) do
    w[j] = len(c[1])
    for _, row in ipairs(cells) do w[j] = math.max(w[j], len(row[j])) end
  end
  local function line(vals)
    local o = {}
    for j, v in ipairs(vals) do
      local pad = string.rep(" ", w[j] - len(v))
      o[j] = cols[j][3] == "r" and pad .. v or v .. pad
    end
    return (table.concat(o, "  "):gsub("%s+$", ""))
  end
  local hdr, rule = {}, {}
  for j, c in ipairs(cols) do hdr[j], rule[j] = c[1], string.rep("-", w[j]) end
  local out = { line(hdr), table.concat(rule, "  ") }
  for _, row in ipairs(cells) do out[#out + 1] = line(row) end
  return table.concat(out, "\n")
end

-- summary_line(res) -> the counts of verdicts in one line
local function summary_line(res)
  local c = res.counts
  return string.format("%d run%s compared: %d worse, %d better beyond noise, %d within noise, "
    .. "%d with too few samples", #res.runs, #res.runs == 1 and "" or "s", c.worse, c.better,
    c.same, c.few)
end

-- run_title(e) -> a compared run's title and model ("a -> b" when renamed)
local function run_title(e)
  local t = e.name
  if e.base_name ~= e.name then t = e.base_name .. " -> " .. e.name end
  local model = (e.model or "-")
  if e.base_model and e.base_model ~= e.model then model = e.base_model .. " -> " .. model end
  return t, model
end

-- text(res, names) -> the terminal report
function M.text(res, names)
  local out = {}
  if names then out[#out + 1] = string.format("base: %s\nnew:  %s\n", names[1], names[2]) end
  for _, e in ipairs(res.runs) do
    local t, model = run_title(e)
    out[#out + 1] = string.format("%s  (%s, %s%s)", t, model, e.backend or "-",
      e.matched_by ~= "name, model, backend" and ("; matched by " .. e.matched_by) or "")
    if e.skipped then
      out[#out + 1] = "  " .. e.skipped
    else
      out[#out + 1] = align(e.rows, COLS)
    end
    out[#out + 1] = ""
  end
  for _, nm in ipairs(res.only_base) do out[#out + 1] = "only in base: " .. nm end
  for _, nm in ipairs(res.only_new) do out[#out + 1] = "only in new: " .. nm end
  out[#out + 1] = summary_line(res)
  for _, f in ipairs(res.failures) do out[#out + 1] = "REGRESSION: " .. f end
  return table.concat(out, "\n") .. "\n"
end

-- markdown(res, names) -> a pull-request comment
function M.markdown(res, names)
  local out = { "### mlxbench compare", "" }
  if names then
    out[#out + 1] = string.format("base `%s` -> new `%s`", names[1], names[2])
    out[#out + 1] = ""
  end
  if #res.failures > 0 then
    out[#out + 1] = string.format("**%d regression%s beyond the limit:**", #res.failures,
      #res.failures == 1 and "" or "s")
    out[#out + 1] = ""
    for _, f in ipairs(res.failures) do out[#out + 1] = "- " .. f:gsub("[|*_`]", "\\%0") end
    out[#out + 1] = ""
  end
  out[#out + 1] = summary_line(res) .. "."
  out[#out + 1] = ""
  for _, e in ipairs(res.runs) do
    local t, model = run_title(e)
    out[#out + 1] = string.format("#### %s", (t:gsub("[|*_`#<>]", "\\%0")))
    out[#out + 1] = ""
    out[#out + 1] = string.format("%s, %s%s", (model:gsub("[|*_`<>]", "\\%0")), e.backend or "-",
      e.matched_by ~= "name, model, backend" and (" (matched by " .. e.matched_by .. ")") or "")
    out[#out + 1] = ""
    if e.skipped then out[#out + 1] = e.skipped else out[#out + 1] = align(e.rows, COLS, true) end
    out[#out + 1] = ""
  end
  for _, nm in ipairs(res.only_base) do out[#out + 1] = "- only in base: " .. nm end
  for _, nm in ipairs(res.only_new) do out[#out + 1] = "- only in new: " .. nm end
  return table.concat(out, "\n") .. "\n"
end

-- json(res, names) -> the comparison as JSON (schema mlxbench.compare/1)
function M.json(res, names)
  local json = require "mlxbench.json"
  local doc = { schema = "mlxbench.compare/1", base = names and names[1], new = names and names[2],
                ok = #res.failures == 0, failures = json.array(res.failures), counts = res.counts,
                only_base = json.array(res.only_base), only_new = json.array(res.only_new),
                runs = json.array() }
  for _, e in ipairs(res.runs) do
    local rows = json.array()
    for _, r in ipairs(e.rows) do
      rows[#rows + 1] = { metric = r.key, label = r.label, unit = r.unit, better = r.better,
        base = r.base, new = r.new, delta = r.delta, rel = r.rel, base_ci = r.base_ci,
        new_ci = r.new_ci, n_base = r.n_base, n_new = r.n_new, floor = r.floor,
        verdict = r.verdict, why = r.why, flagged = r.flagged or false, limit = r.limit,
        fail = r.fail or false }
    end
    doc.runs[#doc.runs + 1] = { name = e.name, base_name = e.base_name, model = e.model,
      base_model = e.base_model, backend = e.backend, matched_by = e.matched_by,
      skipped = e.skipped, metrics = rows }
  end
  return json.encode(doc, { indent = "  " }) .. "\n"
end

return M
