-- mlxbench.json: deterministic, readable JSON for results files. Keys come
-- out in a stable order (a preferred order first, then alphabetical) so two
-- results files diff cleanly; floats use the shortest form that reads back
-- exactly; NaN and infinities become null. Decoding is lua-cjson's.
local cjson = require "cjson"

local M = {}

M.array_mt = { __name = "json.array" }
M.null = cjson.null

-- int(v, where, name [, min]) -> an integral JSON number as an integer
-- (lua-cjson decodes 5 as 5.0), nil when absent or null; raises a one-line
-- error naming `where` and `name` for anything else or below min.
function M.int(v, where, name, min)
  if v == nil or v == cjson.null then return nil end
  local n = type(v) == "number" and math.tointeger(v)
  if not n or (min and n < min) then
    error(string.format("%s: %s must be %s, got %s", where, name,
      min == 1 and "a positive integer" or min and ("an integer >= " .. min) or "an integer",
      type(v) == "string" and ("'" .. v .. "'") or tostring(v)), 0)
  end
  return n
end

-- array(t) marks t as a JSON array even when empty.
function M.array(t) return setmetatable(t or {}, M.array_mt) end

-- Keys of results files in a reading order: identity, then configuration,
-- then figures (docs/METRICS.md lists them).
local ORDER = {}
for i, k in ipairs {
  "schema", "tool", "name", "version", "started_at", "host", "runs",
  "i", "ok", "status", "error", "kind", "message", "backend", "target", "url", "api", "model",
  "config", "requests", "total", "failed", "errors", "tokens", "input", "output", "source",
  "usage", "events", "duration_s", "throughput", "output_tok_s", "total_tok_s", "requests_s",
  "goodput_s", "metrics", "count", "mean", "stddev", "min", "max", "p50", "p90", "p95", "p99",
  "p999", "summary", "per_request", "histograms",
} do ORDER[k] = i end

local function key_less(a, b)
  local oa, ob = ORDER[a], ORDER[b]
  if oa and ob then return oa < ob end
  if oa then return true end
  if ob then return false end
  return tostring(a) < tostring(b)
end

local function num(v)
  if v ~= v or v == math.huge or v == -math.huge then return "null" end
  if math.type(v) == "integer" then return string.format("%d", v) end
  if v == math.floor(v) and math.abs(v) < 2 ^ 53 then return string.format("%d", math.floor(v)) end
  local s = string.format("%.15g", v)
  if tonumber(s) ~= v then s = string.format("%.17g", v) end
  return s
end

local escapes = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
                  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }
local function str(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return escapes[c] or string.format("\\u%04x", c:byte())
  end) .. '"'
end

local function is_array(t)
  if getmetatable(t) == M.array_mt then return true end
  if next(t) == nil then return false end
  local n = #t
  if n == 0 then return false end
  for k in pairs(t) do
    if math.type(k) ~= "integer" or k < 1 or k > n then return false end
  end
  return true
end

local function enc(v, out, indent, depth, seen)
  local tv = type(v)
  if v == nil or v == cjson.null then
    out[#out + 1] = "null"
  elseif tv == "boolean" then
    out[#out + 1] = tostring(v)
  elseif tv == "number" then
    out[#out + 1] = num(v)
  elseif tv == "string" then
    out[#out + 1] = str(v)
  elseif tv == "table" then
    if seen[v] then error("json.encode: cycle in table", 0) end
    seen[v] = true
    local nl = indent and ("\n" .. string.rep(indent, depth + 1)) or ""
    local close = indent and ("\n" .. string.rep(indent, depth)) or ""
    if is_array(v) then
      if #v == 0 then
        out[#out + 1] = "[]"
      else
        out[#out + 1] = "["
        for i = 1, #v do
          if i > 1 then out[#out + 1] = "," end
          out[#out + 1] = nl
          enc(v[i], out, indent, depth + 1, seen)
        end
        out[#out + 1] = close .. "]"
      end
    else
      local keys = {}
      for k in pairs(v) do
        if type(k) == "string" or type(k) == "number" then keys[#keys + 1] = k end
      end
      if #keys == 0 then
        out[#out + 1] = "{}"
      else
        table.sort(keys, key_less)
        out[#out + 1] = "{"
        for i, k in ipairs(keys) do
          if i > 1 then out[#out + 1] = "," end
          out[#out + 1] = nl .. str(tostring(k)) .. (indent and ": " or ":")
          enc(v[k], out, indent, depth + 1, seen)
        end
        out[#out + 1] = close .. "}"
      end
    end
    seen[v] = nil
  else
    error("json.encode: cannot encode a " .. tv, 0)
  end
end

-- encode(v [, {indent = "  "}]) -> string
function M.encode(v, opts)
  local out = {}
  enc(v, out, opts and opts.indent, 0, {})
  return table.concat(out)
end

-- decode(s) -> value, or nil + message (never raises on bad input)
function M.decode(s)
  local ok, v = pcall(cjson.decode, s)
  if not ok then return nil, tostring(v) end
  return v
end

-- write_atomic(path, text) -> true | nil, message: the one writer of output
-- files (mlxbench._sys.write_file, docs/RELIABILITY.md "Writing results"):
-- temp file in the same folder + rename, so a reader never sees half a file
-- and a crash never leaves one; known secrets redacted; a symlink followed;
-- a device or fifo written in place (a fifo without a reader is an error,
-- not a hang); a directory refused. Errors name the file asked for:
-- "cannot write out/r.json: No such file or directory".
function M.write_atomic(path, text)
  return require("mlxbench._sys").write_file(path, text)
end

return M
