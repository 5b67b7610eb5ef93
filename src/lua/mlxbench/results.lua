-- mlxbench.results: the results file (schema mlxbench.results/1): create,
-- add runs, write atomically, load and validate.
local json = require "mlxbench.json"
local time = require "mlxbench.time"

local M = {}

M.SCHEMA = "mlxbench.results/1"
M.VERSION = "0.1.0"

local function read_first_line(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local s = f:read("l")
  f:close()
  return s
end

-- host{} -> a description of the client machine (no user names, no secrets)
function M.host()
  local h = { os = "linux" }
  local name = read_first_line("/proc/sys/kernel/hostname")
  h.hostname = name
  local rel = read_first_line("/proc/sys/kernel/osrelease")
  h.kernel = rel
  local f = io.open("/proc/cpuinfo", "r")
  if f then
    local n = 0
    for line in f:lines() do
      if line:match("^processor%s*:") then n = n + 1 end
      if not h.cpu_model then h.cpu_model = line:match("^model name%s*:%s*(.-)%s*$") end
    end
    f:close()
    h.cpus = n
  end
  local m = io.open("/proc/meminfo", "r")
  if m then
    local kb = m:read("a"):match("MemTotal:%s*(%d+)")
    m:close()
    if kb then h.memory_gib = math.floor(tonumber(kb) / 1048576 * 10 + 0.5) / 10 end
  end
  return h
end

-- iso8601(unix seconds) -> "2026-11-28T17:39:25Z"
function M.iso8601(t)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(t or time.wall()))
end

-- new() -> an empty results document
function M.new()
  return {
    schema = M.SCHEMA,
    tool = { name = "mlxbench", version = M.VERSION },
    started_at = M.iso8601(time.wall()),
    started_unix = time.wall(),
    host = M.host(),
    runs = json.array(),
  }
end

function M.add(doc, run)
  doc.runs[#doc.runs + 1] = run
  return run
end

function M.encode(doc)
  return json.encode(doc, { indent = "  " }) .. "\n"
end

-- write(doc, path): atomically (temp file + rename); raises on failure with
-- a clear message so a caller can report it and exit 2.
function M.write(doc, path)
  local ok, err = json.write_atomic(path, M.encode(doc))
  if not ok then error("results: " .. err, 2) end
  return path
end

-- load(path) -> doc | nil, message. Checks the schema and the shape the
-- report/compare/merge commands rely on; never raises on bad input.
function M.load(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, "cannot open " .. path .. ": " .. tostring(err) end
  local text = f:read("a")
  f:close()
  local doc, jerr = json.decode(text)
  if not doc then return nil, path .. ": not valid JSON (" .. tostring(jerr) .. ")" end
  if type(doc) ~= "table" or doc.schema ~= M.SCHEMA then
    return nil, path .. ": not an mlxbench results file (schema " .. M.SCHEMA .. ")"
  end
  if type(doc.runs) ~= "table" then return nil, path .. ": `runs` is missing" end
  for i, r in ipairs(doc.runs) do
    if type(r) ~= "table" or type(r.name) ~= "string" then
      return nil, string.format("%s: run %d has no name", path, i)
    end
    if r.requests ~= nil and type(r.requests) ~= "table" then
      return nil, string.format("%s: run %d: `requests` is not an object", path, i)
    end
    if r.metrics ~= nil and type(r.metrics) ~= "table" then
      return nil, string.format("%s: run %d: `metrics` is not an object", path, i)
    end
  end
  return doc
end

return M
