-- mlxbench.results: the results file (schema mlxbench.results/1): create,
-- add runs, write atomically, load and validate.
local json = require "mlxbench.json"
local time = require "mlxbench.time"
local sys = require "mlxbench._sys"

local M = {}

M.SCHEMA = "mlxbench.results/1"
M.VERSION = require("mlxbench._sys").version   -- from CMake

-- host{} -> a description of the client machine (no user names, no
-- secrets), from the platform layer (mlxbench._sys.host): os ("linux",
-- "darwin"), os_release ("macOS 15.1", "Debian GNU/Linux 12 (bookworm)"),
-- hostname, kernel, cpu_model, cpus, memory_gib; on macOS also machine
-- (hw.model), perf_cores and efficiency_cores, and on Apple silicon chip
-- ("Apple M3 Max") and unified_memory = true (memory_gib is then what CPU
-- and GPU share: what bounds the models an MLX server can hold). Unknown
-- facts are absent.
function M.host()
  local s = sys.host()
  local h = { os = s.os, os_release = s.os_release, hostname = s.hostname, kernel = s.kernel,
              cpu_model = s.cpu_model, chip = s.chip, machine = s.machine, cpus = s.cpus,
              perf_cores = s.perf_cores, efficiency_cores = s.efficiency_cores,
              unified_memory = s.unified_memory }
  if s.memory_bytes then h.memory_gib = math.floor(s.memory_bytes / 2^30 * 10 + 0.5) / 10 end
  return h
end

-- host_line(host) -> "Apple M3 Max (12P+4E), 128 GiB unified memory, macOS 15.1"
-- or "Intel Xeon ..., 2 CPUs, 23.4 GiB, Debian GNU/Linux 12 (bookworm)":
-- the client machine in one line for reports; "" when nothing is known.
function M.host_line(h)
  if type(h) ~= "table" then return "" end
  local parts = {}
  local cpu = h.chip or h.cpu_model
  if type(cpu) == "string" and cpu ~= "" then
    if math.type(h.perf_cores) == "integer" and math.type(h.efficiency_cores) == "integer" then
      cpu = string.format("%s (%dP+%dE)", cpu, h.perf_cores, h.efficiency_cores)
    end
    parts[#parts + 1] = cpu
  end
  if h.cpus and not h.chip then parts[#parts + 1] = string.format("%d CPUs", math.floor(h.cpus)) end
  if h.memory_gib then
    parts[#parts + 1] = string.format("%g GiB%s", h.memory_gib, h.unified_memory and " unified memory" or "")
  end
  local os_ = h.os_release or (h.os and h.kernel and h.os .. " " .. h.kernel) or h.os
  if type(os_) == "string" and os_ ~= "" then parts[#parts + 1] = os_ end
  return table.concat(parts, ", ")
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
-- validate(doc, path) -> doc | nil, message: the shape every reader
-- (report, compare, merge, html) relies on, checked once so that a damaged
-- or hand-edited file is a one-line error naming the field, never a Lua
-- error deep inside a renderer. Counts must be whole numbers in 0..2^53,
-- other numbers finite, histograms decodable.
local OBJECTS = { "requests", "tokens", "metrics", "histograms", "throughput", "summary",
                  "client", "config", "target", "targets", "failover", "cooldown", "shard", "window",
                  "sessions", "by_model", "prompt_cache",
                  "server_metrics", "server_process", "power", "energy", "cost", "ttft_split" }
local LISTS = { "per_request", "timeline", "marks", "warnings" }
local COUNTS = { "total", "ok", "failed", "warmup", "slo_met", "input", "output", "stopped_early",
                 "cancelled", "cache_hits", "reasoned", "cached", "cache_write", "cache_reported",
                 "cache_input", "reasoning", "answer" }

function M.validate(doc, path)
  local stats = require "mlxbench.stats"
  local function bad(i, what) return nil, string.format("%s: run %d: %s", path, i, what) end
  local function finite(v) return type(v) == "number" and v == v and v > -math.huge and v < math.huge end
  if doc.started_unix ~= nil and not finite(doc.started_unix) then
    return nil, path .. ": `started_unix` is not a number"
  end
  for i, r in ipairs(doc.runs) do
    if type(r) ~= "table" or type(r.name) ~= "string" then
      return nil, string.format("%s: run %d has no name", path, i)
    end
    for _, k in ipairs(OBJECTS) do
      if r[k] ~= nil and type(r[k]) ~= "table" then return bad(i, "`" .. k .. "` is not an object") end
    end
    for _, k in ipairs(LISTS) do
      local v = r[k]
      if v ~= nil then
        if type(v) ~= "table" then return bad(i, "`" .. k .. "` is not a list") end
        for j, e in ipairs(v) do
          if type(e) ~= "table" and k ~= "warnings" then
            return bad(i, string.format("`%s[%d]` is not an object", k, j))
          end
        end
      end
    end
    for _, sec in ipairs{ "requests", "tokens" } do
      for _, k in ipairs(COUNTS) do
        local v = r[sec] and r[sec][k]
        if v ~= nil and not (finite(v) and v >= 0 and v <= 2 ^ 53 and v == math.floor(v)) then
          return bad(i, string.format("`%s.%s` is not a count (%s)", sec, k, tostring(v)))
        end
      end
    end
    for name, m in pairs(r.metrics or {}) do
      if type(m) ~= "table" then return bad(i, "`metrics." .. tostring(name) .. "` is not an object") end
      for k, v in pairs(m) do
        if type(v) == "number" and not finite(v) then
          return bad(i, string.format("`metrics.%s.%s` is not a finite number", tostring(name), tostring(k)))
        elseif type(v) ~= "number" and v ~= json.null then
          return bad(i, string.format("`metrics.%s.%s` is not a number", tostring(name), tostring(k)))
        end
      end
    end
    for _, sec in ipairs{ "throughput", "summary" } do
      for k, v in pairs(r[sec] or {}) do
        if type(v) == "number" and not finite(v) then
          return bad(i, string.format("`%s.%s` is not a finite number", sec, tostring(k)))
        elseif type(v) ~= "number" and v ~= json.null and type(v) ~= "string" then
          return bad(i, string.format("`%s.%s` is not a number", sec, tostring(k)))
        end
      end
    end
    if r.requests and r.requests.errors ~= nil and type(r.requests.errors) ~= "table" then
      return bad(i, "`requests.errors` is not an object")
    end
    for _, k in ipairs{ "start_s", "end_s" } do
      local v = r.window and r.window[k]
      if v ~= nil and v ~= json.null and not finite(v) then return bad(i, "`window." .. k .. "` is not a number") end
    end
    if r.started_unix ~= nil and not finite(r.started_unix) then return bad(i, "`started_unix` is not a number") end
    for j, q in ipairs(r.per_request or {}) do
      for k, v in pairs(q) do
        if type(k) == "string" and (k == "i" or k:match("_s$")) and v ~= json.null and not finite(v) then
          return bad(i, string.format("`per_request[%d].%s` is not a number", j, tostring(k)))
        end
      end
    end
    for name, enc in pairs(r.histograms or {}) do
      if type(enc) ~= "string" or not pcall(stats.decode, enc) then
        return bad(i, "`histograms." .. tostring(name) .. "` is not a valid histogram encoding")
      end
    end
    -- realistic traffic's parts (mlxbench.workload): objects of numbers and
    -- summaries, histograms that decode
    local function figures(t, where)
      for k, v in pairs(t) do
        local at = where .. "." .. tostring(k)
        if type(v) == "table" then
          if k == "histograms" then
            for hn, enc in pairs(v) do
              if type(enc) ~= "string" or not pcall(stats.decode, enc) then
                return at .. "." .. tostring(hn) .. "` is not a valid histogram encoding"
              end
            end
          else
            local e = figures(v, at)
            if e then return e end
          end
        elseif type(v) == "number" and not finite(v) then
          return at .. "` is not a finite number"
        elseif type(v) ~= "number" and type(v) ~= "boolean" and type(v) ~= "string" and v ~= json.null then
          return at .. "` is not a number"
        end
      end
    end
    for _, k in ipairs{ "sessions", "by_model", "prompt_cache" } do
      local e = r[k] and figures(r[k], "`" .. k)
      if e then return bad(i, e) end
    end
    if r.sessions and r.sessions.by_turn ~= nil then
      if type(r.sessions.by_turn) ~= "table" then return bad(i, "`sessions.by_turn` is not a list") end
      for j, t in ipairs(r.sessions.by_turn) do
        if type(t) ~= "table" or type(t.turn) ~= "number" then
          return bad(i, string.format("`sessions.by_turn[%d]` has no turn", j))
        end
        for _, m in ipairs{ "ttft_s", "e2e_s" } do
          if t[m] ~= nil and type(t[m]) ~= "table" then
            return bad(i, string.format("`sessions.by_turn[%d].%s` is not an object", j, m))
          end
        end
      end
    end
    for name, e in pairs(r.by_model or {}) do
      if type(e) ~= "table" then return bad(i, "`by_model." .. tostring(name) .. "` is not an object") end
      for _, m in ipairs{ "ttft_s", "e2e_s", "tpot_s" } do
        if e[m] ~= nil and type(e[m]) ~= "table" then
          return bad(i, string.format("`by_model.%s.%s` is not an object", tostring(name), m))
        end
      end
    end
  end
  return doc
end

-- The largest results file read (report, compare, merge): a million
-- requests kept per request is about 500 MB. Bounded so /dev/zero or a
-- wrong path is an error, not all of memory.
M.MAX_FILE_BYTES = 1024 * 1024 * 1024

-- read_json(path) -> value | nil, message naming the file
function M.read_json(path)
  local text, err, why = require("mlxbench._sys").read_file(path, M.MAX_FILE_BYTES)
  if why == "too_large" then
    return nil, string.format("%s is over %d MiB: not a results file", path, M.MAX_FILE_BYTES >> 20)
  end
  if not text then return nil, err end
  local doc, jerr = json.decode(text)
  if not doc then return nil, path .. ": not valid JSON (" .. tostring(jerr) .. ")" end
  return doc
end

function M.load(path)
  local doc, err = M.read_json(path)
  if not doc then return nil, err end
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
  end
  return M.validate(doc, path)
end

return M
