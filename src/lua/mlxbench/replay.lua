-- mlxbench.replay: production traces replayed at their own timestamps.
--
--   local tr = replay.load{ path = "trace.jsonl", speed = 2 }   -- format from the file
--   tr.times[i]    -- send time of record i, seconds from the trace's start / speed
--   tr:pick(i)     -- the prompt of record i (a prompt source for bench{})
--
-- Formats:
--   mooncake   JSONL {"timestamp": ms, "input_length": N, "output_length": M,
--              "hash_ids": [...]}: each hash id names a block of
--              `block_tokens` (512, Mooncake's) prompt tokens; records that
--              share ids share those blocks' text, so a server's prefix
--              cache sees the trace's reuse
--   burstgpt   CSV with the columns Timestamp (s), Request tokens, Response
--              tokens (Model, Total tokens, Log Type ignored); rows whose
--              response has 0 tokens (failed in the original) are skipped
--   jsonl      {"timestamp": s (or "timestamp_ms"), "input_tokens": N |
--              "messages": [...] | "prompt": "...", "output_tokens": M}
-- Prompts of a length are synthesised as the synthetic workloads are:
-- exactly N tokens with the model's tokenizer, else 4 * N characters. The
-- first record's timestamp is time zero.
local cjson = require "cjson"
local prompts = require "mlxbench.prompts"

local M = {}

M.FORMATS = { mooncake = true, burstgpt = true, jsonl = true }

local function fail(path, line, msg)
  error(string.format("replay: %s%s: %s", path, line and (":" .. line) or "", msg), 0)
end

-- A count field: a non-negative integer (JSON numbers decode as floats).
local function count(v, path, line, what, min)
  local n = type(v) == "number" and math.tointeger(v) or nil
  if type(v) == "string" then n = math.tointeger(tonumber(v)) end
  if not n or n < (min or 0) then
    fail(path, line, string.format("%s must be an integer >= %d, got %s", what, min or 0, tostring(v)))
  end
  return n
end

local function number(v, path, line, what)
  local n = tonumber(v)
  if not n or n ~= n or n < 0 or n == math.huge then
    fail(path, line, string.format("%s must be a number >= 0, got %s", what, tostring(v)))
  end
  return n
end

-- detect(path) -> format: .csv is BurstGPT; a JSONL whose first record has
-- hash_ids or input_length is Mooncake's; else plain JSONL
function M.detect(path)
  if path:lower():match("%.csv$") then return "burstgpt" end
  local f = io.open(path, "r")
  if not f then return "jsonl" end
  for line in f:lines() do
    if line:match("%S") and not line:match("^%s*#") then
      f:close()
      if line:find('"hash_ids"', 1, true) or line:find('"input_length"', 1, true) then return "mooncake" end
      return "jsonl"
    end
  end
  f:close()
  return "jsonl"
end

-- Splits one CSV line (RFC 4180 quoting) into fields.
local function csv_fields(line)
  local out, i, n = {}, 1, #line
  while i <= n + 1 do
    if line:sub(i, i) == '"' then
      local buf, j = {}, i + 1
      while j <= n do
        local c = line:sub(j, j)
        if c == '"' then
          if line:sub(j + 1, j + 1) == '"' then buf[#buf + 1] = '"' j = j + 2
          else j = j + 1 break end
        else
          buf[#buf + 1] = c
          j = j + 1
        end
      end
      out[#out + 1] = table.concat(buf)
      i = j + 1   -- past the comma
    else
      local j = line:find(",", i, true) or (n + 1)
      out[#out + 1] = line:sub(i, j - 1)
      i = j + 1
    end
  end
  return out
end

local function read_burstgpt(path, f, limit)
  local recs, skipped, ln = {}, 0, 0
  local col
  for line in f:lines() do
    ln = ln + 1
    line = line:gsub("\r$", "")
    if not col then
      col = {}
      for k, name in ipairs(csv_fields((line:gsub("^\239\187\191", "")))) do col[name:lower():gsub("^%s+", ""):gsub("%s+$", "")] = k end
      for _, need in ipairs{ "timestamp", "request tokens", "response tokens" } do
        if not col[need] then
          fail(path, 1, "a BurstGPT CSV needs the columns Timestamp, Request tokens and Response tokens "
            .. "(header: " .. line:sub(1, 100) .. ")")
        end
      end
    elseif line:match("%S") then
      local x = csv_fields(line)
      local out_n = count(x[col["response tokens"]], path, ln, "Response tokens")
      if out_n == 0 then
        skipped = skipped + 1
      else
        recs[#recs + 1] = { t = number(x[col.timestamp], path, ln, "Timestamp"),
                            input_tokens = count(x[col["request tokens"]], path, ln, "Request tokens", 1),
                            output_tokens = out_n, line = ln }
        if limit and #recs >= limit then break end
      end
    end
  end
  if not col then fail(path, nil, "empty file") end
  return recs, skipped
end

local function read_jsonl(path, f, fmt, limit)
  local recs, ln = {}, 0
  for line in f:lines() do
    ln = ln + 1
    if line:match("%S") and not line:match("^%s*#") then
      local ok, o = pcall(cjson.decode, line)
      if not ok or type(o) ~= "table" then fail(path, ln, "not a JSON object") end
      local r = { line = ln }
      if fmt == "mooncake" then
        r.t = number(o.timestamp, path, ln, "timestamp (ms)") / 1000
        r.input_tokens = count(o.input_length, path, ln, "input_length", 1)
        r.output_tokens = count(o.output_length, path, ln, "output_length", 1)
        if o.hash_ids ~= nil then
          if type(o.hash_ids) ~= "table" then fail(path, ln, "hash_ids must be a list of integers") end
          r.hash_ids = {}
          for k, h in ipairs(o.hash_ids) do r.hash_ids[k] = count(h, path, ln, "hash_ids[" .. k .. "]") end
        end
      else
        if o.timestamp_ms ~= nil then
          r.t = number(o.timestamp_ms, path, ln, "timestamp_ms") / 1000
        else
          r.t = number(o.timestamp, path, ln, "timestamp (s)")
        end
        if type(o.messages) == "table" then
          r.messages = o.messages
        elseif type(o.prompt) == "string" then
          r.prompt = o.prompt
        else
          r.input_tokens = count(o.input_tokens, path, ln, "input_tokens (or messages, prompt)", 1)
        end
        local out_n = o.output_tokens or o.max_tokens
        if out_n ~= nil then r.output_tokens = count(out_n, path, ln, "output_tokens", 1) end
        if type(o.model) == "string" then r.model = o.model end
      end
      recs[#recs + 1] = r
      if limit and #recs >= limit then break end
    end
  end
  return recs, 0
end

local Trace = {}
Trace.__index = Trace

-- load{path, format = "auto"|"mooncake"|"burstgpt"|"jsonl", speed = 1,
--      limit = N, block_tokens = 512, seed = 1, tokenizer} -> trace
-- Records are sorted by time; times start at 0 and are divided by speed.
function M.load(o)
  if type(o) == "string" then o = { path = o } end
  if type(o) ~= "table" or type(o.path) ~= "string" then error("replay.load: path is required", 2) end
  local speed = o.speed or 1
  if type(speed) ~= "number" or speed <= 0 or speed ~= speed or speed == math.huge then
    error("replay: speed must be a number > 0", 0)
  end
  local fmt = (o.format == nil or o.format == "auto") and M.detect(o.path) or o.format
  if not M.FORMATS[fmt] then error("replay: format must be auto, mooncake, burstgpt or jsonl", 0) end
  local f, err = io.open(o.path, "r")
  if not f then error("replay: cannot open " .. tostring(err), 0) end
  local ok, recs, skipped
  if fmt == "burstgpt" then
    ok, recs, skipped = pcall(read_burstgpt, o.path, f, o.limit)
  else
    ok, recs, skipped = pcall(read_jsonl, o.path, f, fmt, o.limit)
  end
  f:close()
  if not ok then error(recs, 0) end
  if #recs == 0 then error("replay: " .. o.path .. " has no records", 0) end
  -- stable: records with one timestamp keep the file's order
  for k, r in ipairs(recs) do r.k = k end
  table.sort(recs, function(a, b) if a.t ~= b.t then return a.t < b.t end return a.k < b.k end)
  local t0 = recs[1].t
  local times = {}
  for k, r in ipairs(recs) do times[k] = (r.t - t0) / speed end
  return setmetatable({
    path = o.path, format = fmt, records = recs, times = times, skipped = skipped, speed = speed,
    block_tokens = o.block_tokens or 512, seed = o.seed or 1, tokenizer = o.tokenizer,
    blocks = {},
  }, Trace)
end

-- span() -> the replay's length in seconds (its last send time)
function Trace:span() return self.times[#self.times] end

function Trace:set_tokenizer(tok)
  if tok ~= self.tokenizer then self.tokenizer, self.blocks = tok, {} end
end

-- block(h) -> the text of shared block h (built once): exactly
-- block_tokens tokens, or 4 characters a token
function Trace:block(h)
  local b = self.blocks[h]
  if not b then
    local seed = self.seed * 1000003 + h * 7 + 1
    if self.tokenizer then
      b = prompts.exact(self.tokenizer, self.block_tokens, seed)
    else
      b = prompts.synthetic(self.block_tokens, seed)
    end
    self.blocks[h] = b
  end
  return b
end

-- text(r, i) -> text, achieved: a prompt of r.input_tokens tokens -- its
-- shared blocks (all but the last, which is the request's own tail, as
-- Mooncake's last block is partial), then a tail that brings it to the
-- length: exactly, with a tokenizer (achieved is its count), else 4
-- characters a token (achieved nil)
function Trace:text(r, i)
  local n, bt = r.input_tokens, self.block_tokens
  local ids = r.hash_ids or {}
  local full = math.min(#ids, (n - 1) // bt)
  local parts = {}
  for k = 1, full do parts[k] = self:block(ids[k]) end
  local tail_id = ids[full + 1]
  local seed = tail_id and (self.seed * 1000003 + tail_id * 7 + 1) or (self.seed * 7 + i * 104729)
  if self.tokenizer then
    local head = table.concat(parts, " ")
    local base = head ~= "" and self.tokenizer:count(head) or 0
    if n - base < 1 then return head, base end
    local text, got = prompts.exact(self.tokenizer, n - base, seed, head ~= "" and head or nil)
    return text, base + got
  end
  return table.concat(parts) .. prompts.synthetic(n - full * bt, seed), nil
end

-- pick(i) -> the prompt spec of record i: {messages | prompt, max_tokens,
-- name, target_tokens, achieved_tokens | estimated, model}
function Trace:pick(i)
  local r = self.records[(i - 1) % #self.records + 1]
  local p = { max_tokens = r.output_tokens, name = self.format .. "#" .. r.line, model = r.model }
  if r.messages then
    p.messages = r.messages
  elseif r.prompt then
    p.prompt = r.prompt
  else
    local text, got = self:text(r, i)
    p.prompt, p.target_tokens = text, r.input_tokens
    if self.tokenizer then p.achieved_tokens = got else p.estimated = true end
  end
  return p
end

return M
