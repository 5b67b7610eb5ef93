-- mlxbench.dataset: prompts streamed from disk, so a 1 GB dataset never
-- needs 1 GB of memory. Reads JSONL (one object per line: OpenAI `messages`,
-- `prompt`/`text`, or a ShareGPT `conversations` record) and ShareGPT JSON
-- (one big array, split element by element in C as blocks are read), and
-- multi-turn sessions ({"turns": ["first question", "follow-up", ...]}).
--
--   local ds = dataset.open{ path = "sharegpt.json", turns = "first", limit = 1000 }
--   local p = ds:next()   -- {messages = {...}, max_tokens = N?, name = "sharegpt#17"}
local cjson = require "cjson"
local split = require "mlxbench._dataset"
local estimate = require "mlxbench.estimate"
local json = require "mlxbench.json"

local M = {}

local BLOCK = 256 * 1024

local ROLE = { human = "user", user = "user", gpt = "assistant", assistant = "assistant",
               chatgpt = "assistant", bard = "assistant", bing = "assistant", model = "assistant",
               system = "system" }

-- Converts a ShareGPT conversation into a chat request: the messages up to a
-- user turn, and (use_output_len) the reference reply's length as max_tokens,
-- counted by `count` (the model's tokenizer; default the 4-characters rule).
local function from_conversation(conv, turns, use_output_len, count)
  count = count or estimate.tokens
  local msgs = {}
  for _, t in ipairs(conv) do
    local role = ROLE[type(t) == "table" and t.from or ""] or (type(t) == "table" and ROLE[t.role or ""])
    local value = type(t) == "table" and (t.value or t.content)
    if role and type(value) == "string" then msgs[#msgs + 1] = { role = role, content = value } end
  end
  -- the user turn to ask: the first one, or the last one followed by a reply
  local ask
  for k, m in ipairs(msgs) do
    if m.role == "user" then
      ask = k
      if turns ~= "history" then break end
    end
  end
  if not ask then return nil end
  if turns == "history" then
    -- the last user turn that has an assistant reply after it, if any
    for k = #msgs, 1, -1 do
      if msgs[k].role == "user" and msgs[k + 1] and msgs[k + 1].role == "assistant" then
        ask = k
        break
      end
    end
  end
  local out = {}
  for k = 1, ask do
    if turns == "history" or msgs[k].role == "system" or k == ask then out[#out + 1] = msgs[k] end
  end
  local reply = msgs[ask + 1]
  local p = { messages = out }
  if use_output_len and reply and reply.role == "assistant" then
    p.max_tokens = math.max(1, count(reply.content))
  end
  return p
end

-- Turns one decoded record into a prompt spec, or nil (skipped). `where`
-- ("dataset: FILE:LINE") names it in errors.
local function from_record(obj, o, where)
  if type(obj) ~= "table" then return nil end
  local max_tokens = json.int(obj.max_tokens, where or "dataset", "max_tokens", 1)
  if type(obj.turns) == "table" then   -- a multi-turn session: user turns in order
    return { turns = obj.turns, max_tokens = max_tokens,
             messages = type(obj.system) == "string" and { { role = "system", content = obj.system } } or nil }
  end
  if type(obj.conversations) == "table" then
    return from_conversation(obj.conversations, o.turns, o.use_output_len, o._count)
  end
  if type(obj.messages) == "table" then
    local msgs = obj.messages
    local last = msgs[#msgs]
    local p = { messages = msgs, max_tokens = max_tokens }
    if type(last) == "table" and last.role == "assistant" and #msgs > 1 then
      p.messages = table.move(msgs, 1, #msgs - 1, 1, {})
      if o.use_output_len and not p.max_tokens and type(last.content) == "string" then
        p.max_tokens = math.max(1, (o._count or estimate.tokens)(last.content))
      end
    end
    return p
  end
  local text = obj.prompt or obj.text
  if type(text) == "string" then return { prompt = text, max_tokens = max_tokens } end
  return nil
end

local DS = {}
DS.__index = DS

local function detect(path)
  if path:match("%.jsonl$") then return "jsonl" end
  local f = io.open(path, "rb")
  if not f then return "jsonl" end
  local head = f:read(4096) or ""
  f:close()
  head = head:gsub("^\239\187\191", "")
  return head:match("^%s*%[") and "sharegpt" or "jsonl"
end

-- open{path, format = "auto"|"jsonl"|"sharegpt", turns = "first"|"history",
--      limit = N, use_output_len = false, loop = true, tokenizer, convert}
-- -> dataset (with a tokenizer, use_output_len counts the reference
-- replies exactly). convert(obj, where) -> spec | nil replaces the record
-- reading (mlxbench.session reads conversations whole).
function M.open(o)
  if type(o) == "string" then o = { path = o } end
  if type(o) ~= "table" or type(o.path) ~= "string" then
    error("dataset.open: path is required", 2)
  end
  local f, err = io.open(o.path, "rb")
  if not f then error("dataset: cannot open " .. tostring(err), 0) end
  f:close()
  local fmt = (o.format == nil or o.format == "auto") and detect(o.path) or o.format
  if fmt ~= "jsonl" and fmt ~= "sharegpt" then
    error("dataset.open: format must be auto, jsonl or sharegpt", 2)
  end
  local ds = setmetatable({
    path = o.path, format = fmt, turns = o.turns or "first", limit = o.limit,
    use_output_len = o.use_output_len, loop = o.loop ~= false, convert = o.convert,
    queue = {}, lines = {}, qpos = 1, served = 0, read = 0, skipped = 0, line = 0,
  }, DS)
  if o.tokenizer then ds:set_tokenizer(o.tokenizer) end
  ds:_reopen()
  return ds
end

function DS:_reopen()
  if self.f then self.f:close() end
  self.f = assert(io.open(self.path, "rb"))
  self.rest = nil
  self.split = self.format == "sharegpt" and split.splitter() or nil
  self.eof = false
  self.line = 0
  self.taken = 0
end

-- The next line of the file, read in blocks so a line is bounded by the
-- request limit (a file with no newline, /dev/zero, is an error, not all
-- of memory).
function DS:_line()
  local limits = require "mlxbench.limits"
  local parts, size, rest = {}, 0, self.rest or ""
  self.rest = nil
  while true do
    local nl = rest:find("\n", 1, true)
    if nl then
      parts[#parts + 1] = rest:sub(1, nl - 1)
      self.rest = rest:sub(nl + 1)
      return (table.concat(parts):gsub("\r$", ""))
    end
    parts[#parts + 1] = rest
    size = size + #rest
    if size > limits.MAX_REQUEST_BYTES then
      error("dataset: " .. limits.too_large(string.format("%s:%d (one line)", self.path,
        self.line + 1), size), 0)
    end
    rest = self.f:read(65536)
    if not rest then
      local line = table.concat(parts)
      return line ~= "" and line or nil
    end
  end
end

-- Refills the queue from the file: a block of lines or array elements.
function DS:_fill()
  self.queue, self.lines, self.qpos = {}, {}, 1
  if self.eof then return end
  if self.format == "jsonl" then
    for _ = 1, 512 do
      local line = self:_line()
      if not line then self.eof = true break end
      self.line = self.line + 1
      if line:match("%S") and not line:match("^%s*#") then
        local ok, obj = pcall(cjson.decode, line)
        if not ok then
          error(string.format("dataset: %s:%d: not valid JSON (%s)", self.path, self.line,
            tostring(obj):gsub("^.-: ", ""):sub(1, 120)), 0)
        end
        self.queue[#self.queue + 1] = obj
        self.lines[#self.queue] = self.line
      end
    end
  else
    while #self.queue == 0 and not self.eof do
      local block = self.f:read(BLOCK)
      if not block then
        self.eof = true
        if not self.split:done() then
          error("dataset: " .. self.path .. ": the JSON array is not closed", 0)
        end
        break
      end
      local elems, err = self.split:feed(block)
      if not elems then error("dataset: " .. self.path .. ": " .. err, 0) end
      for _, e in ipairs(elems) do
        local ok, obj = pcall(cjson.decode, e)
        self.line = self.line + 1
        if not ok then
          error(string.format("dataset: %s: element %d is not valid JSON", self.path, self.line), 0)
        end
        self.queue[#self.queue + 1] = obj
        self.lines[#self.queue] = self.line
      end
    end
  end
end

-- next() -> the next prompt spec; loops back to the start at the end (or
-- after `limit` records) unless loop = false, then returns nil.
function DS:next()
  for _ = 1, 1000000 do
    if self.limit and self.taken >= self.limit then
      if not self.loop then return nil end
      self:_reopen()
    end
    if self.qpos > #self.queue then
      self:_fill()
      if #self.queue == 0 then
        if self.served == 0 and self.read == 0 then
          error("dataset: " .. self.path .. " has no usable records", 0)
        end
        if not self.loop then return nil end
        self:_reopen()
        self:_fill()
        if #self.queue == 0 then error("dataset: " .. self.path .. " has no usable records", 0) end
      end
    end
    local obj, line = self.queue[self.qpos], self.lines[self.qpos]
    self.qpos = self.qpos + 1
    self.read = self.read + 1
    local p = (self.convert or from_record)(obj, self, string.format("dataset: %s:%s%d", self.path,
      self.format == "sharegpt" and "element " or "", line or 0))
    if p then
      self.taken = self.taken + 1
      self.served = self.served + 1
      p.name = p.name or string.format("%s#%d", self.path:match("[^/]*$"), self.taken)
      return p
    end
    self.skipped = self.skipped + 1
  end
  error("dataset: " .. self.path .. " has no usable records", 0)
end

-- the prompt-source protocol bench uses: pick(i) -> spec
function DS:pick(i) return self:next() end

-- check([n]) -> self: reads the first n records a run will use (all of the
-- file without n) from a second handle and raises the first error -- a
-- line that is not JSON, a bad max_tokens, no usable record -- so a command
-- fails before its first request, not in the middle of a run.
function DS:check(n)
  local probe = M.open{ path = self.path, format = self.format, turns = self.turns,
                        limit = self.limit, use_output_len = self.use_output_len, loop = false,
                        convert = self.convert }
  local k = 0
  while not n or k < n do
    if not probe:next() then break end
    k = k + 1
  end
  probe:close()
  return self
end

-- counts reference replies (use_output_len) with the model's tokenizer
function DS:set_tokenizer(tok)
  self.tokenizer = tok
  self._count = tok and function(s) return tok:count(s) end or nil
end

function DS:close()
  if self.f then self.f:close() self.f = nil end
end

M.from_conversation = from_conversation

return M
