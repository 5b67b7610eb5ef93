-- mlxbench.probe_session: one probe's conversation with a server -- the
-- requests it sends (counting what it spends), the answers read back as
-- plain tables (a streamed chat answer: its content events, reasoning
-- fields, where usage came, the server's timing fields) -- for the checks
-- of mlxbench.probe.
local cjson = require "cjson"
local http = require "mlxbench.http"

local M = {}

M.TIMEOUT = 60
M.SHORT = "Reply with just the word OK."
M.LONG = "Count from 1 to 300, one number per line, with no other text."
-- a fixed passage of ~230 tokens, sent twice to see whether the prefix is cached
M.PASSAGE = ("The quick brown fox jumps over the lazy dog while the patient benchmark "
  .. "measures every token that the server streams back to the waiting client. "):rep(6)
  .. "Summarise this in one word."

-- base(t) -> the server's root URL: the target's URL without /v1 and
-- without an endpoint
local function base_of(url)
  local b = url:gsub("[?#].*$", ""):gsub("/+$", "")
  b = b:gsub("/chat/completions$", ""):gsub("/completions$", ""):gsub("/messages$", "")
  return (b:gsub("/v%d+$", ""))
end
M.base_of = base_of

local function json_int(v)
  local n = math.tointeger(v)
  return n and tostring(n) or tostring(v)
end

local function decode(s)
  local ok, v = pcall(cjson.decode, s or "")
  if ok and type(v) == "table" then return v end
  return nil
end

local function short_error(r)
  if r.ok then return nil end
  local body = r.body and r.body:gsub("%s+", " "):sub(1, 140) or ""
  local doc = decode(r.body)
  if doc then
    local e = doc.error
    local msg = type(e) == "table" and e.message or type(e) == "string" and e or doc.message or doc.detail
    if type(msg) == "string" then body = msg:sub(1, 140) end
  end
  if r.error and r.error.kind ~= "http" then return r.error.kind .. ": " .. tostring(r.error.message):sub(1, 120) end
  return tostring(r.status) .. (body ~= "" and (": " .. body) or "")
end

-- A probe session: the target, what it has sent, what it has learned.
local P = {}
P.__index = P
M.P = P

function P:headers(extra)
  local h = { "Content-Type: application/json" }
  for _, l in ipairs(self.t:auth_headers()) do h[#h + 1] = l end
  for k, v in pairs(self.t.headers or {}) do
    h[#h + 1] = type(k) == "number" and v or (k .. ": " .. tostring(v))
  end
  for _, l in ipairs(extra or {}) do h[#h + 1] = l end
  return h
end

function P:get(path, opts)
  opts = opts or {}
  self.requests = self.requests + 1
  return http.request{ url = self.base .. path, timeout = opts.timeout or 10,
                       headers = self:headers(opts.headers), http2 = opts.http2 }
end

-- POST a JSON body; stream = true gives r.events. Counts what it spends.
function P:post(path, body, opts)
  opts = opts or {}
  self.requests = self.requests + 1
  local text = cjson.encode(body)
  self.sent_in = self.sent_in + math.ceil(#(body.prompt or "") / 4)
  for _, m in ipairs(body.messages or {}) do
    self.sent_in = self.sent_in + math.ceil(#(type(m.content) == "string" and m.content or "") / 4)
  end
  local r = http.request{ method = "POST", url = self.base .. path, body = text,
                          headers = self:headers(opts.headers), timeout = opts.timeout or M.TIMEOUT,
                          stream = opts.stream }
  return r
end

-- Reads a streamed OpenAI chat answer: content events, text, reasoning
-- fields, where usage came, the finish chunk, server timing fields.
local function analyze(r)
  local a = { events = 0, content = 0, text = {}, reasoning = {}, usage_at = {}, chunks = 0,
              server = {}, done = false }
  for i, ev in ipairs(r.events or {}) do
    if ev.data == "[DONE]" then
      a.done = true
    else
      local d = decode(ev.data)
      if d then
        a.chunks = a.chunks + 1
        local ch = type(d.choices) == "table" and d.choices[1] or nil
        local delta = type(ch) == "table" and (ch.delta or ch) or {}
        local any = false
        for _, f in ipairs{ "reasoning_content", "reasoning", "thinking" } do
          local v = type(delta) == "table" and delta[f]
          if type(v) == "string" and v ~= "" then
            a.reasoning[f] = (a.reasoning[f] or 0) + 1
            any = true
          end
        end
        local c = type(delta) == "table" and (delta.content or delta.text) or nil
        if type(c) == "string" and c ~= "" then
          a.text[#a.text + 1] = c
          any = true
        end
        if any then a.content = a.content + 1 end
        local fin = type(ch) == "table" and ch.finish_reason
        if type(fin) == "string" and fin ~= "" then
          a.finish, a.finish_at = fin, a.chunks
        end
        if type(d.usage) == "table" then
          a.usage = d.usage
          a.usage_at[#a.usage_at + 1] = { chunk = a.chunks, with_choices = ch ~= nil,
                                          with_finish = type(fin) == "string" and fin ~= "" }
        end
        for _, k in ipairs{ "timings", "stats", "time_info", "x_groq", "total_duration",
                            "prompt_eval_duration", "eval_duration" } do
          if d[k] ~= nil then a.server[k] = true end
        end
        if type(d.system_fingerprint) == "string" then a.fingerprint = d.system_fingerprint end
      end
    end
  end
  a.text = table.concat(a.text)
  a.tokens = a.usage and math.tointeger(a.usage.completion_tokens) or nil
  return a
end
M.analyze = analyze

-- A chat request (stream or not) with the fields given; returns r, a.
-- max_tokens is spelled max_completion_tokens once the server has shown
-- it wants that (opts.raw: as given).
function P:chat(fields, stream, opts)
  local body = { model = self.model, messages = { { role = "user", content = fields.prompt or M.SHORT } } }
  for k, v in pairs(fields) do if k ~= "prompt" then body[k] = v end end
  if self.limit_field and body.max_tokens and not (opts and opts.raw) then
    body[self.limit_field], body.max_tokens = body.max_tokens, nil
  end
  if stream then body.stream = true end
  local r = self:post("/v1/chat/completions", body, { stream = stream, headers = opts and opts.headers })
  local a
  if stream then
    a = r.ok and analyze(r) or nil
  elseif r.ok then
    local d = decode(r.body) or {}
    local ch = type(d.choices) == "table" and d.choices[1] or {}
    local msg = type(ch) == "table" and ch.message or {}
    a = { usage = type(d.usage) == "table" and d.usage or nil, finish = ch.finish_reason,
          text = type(msg) == "table" and type(msg.content) == "string" and msg.content or "",
          server = {}, reasoning = {} }
    for _, k in ipairs{ "timings", "stats", "time_info", "total_duration", "prompt_eval_duration" } do
      if d[k] ~= nil then a.server[k] = true end
    end
    for _, f in ipairs{ "reasoning_content", "reasoning" } do
      if type(msg) == "table" and type(msg[f]) == "string" and msg[f] ~= "" then a.reasoning[f] = 1 end
    end
    a.tokens = a.usage and math.tointeger(a.usage.completion_tokens) or nil
  end
  if a then self.sent_out = self.sent_out + (a.tokens or math.ceil(#(a.text or "") / 4)) end
  return r, a
end

-- tokens(a) -> the answer's output tokens: usage, else the tokenizer's
-- count of its text, else nil
function P:tokens(a)
  if not a then return nil end
  if a.tokens then return a.tokens, "usage" end
  if self.tok and a.text then return self.tok:count(a.text), "tokenizer" end
  return nil
end

-- ------------------------------------------------------------- the checks

-- new(t, model, tok) -> a session on target t (its root URL without /v1)
function M.new(t, model, tok)
  return setmetatable({ t = t, base = base_of(t.url), model = model, tok = tok,
                        requests = 0, sent_in = 0, sent_out = 0 }, P)
end

M.decode, M.short_error, M.json_int = decode, short_error, json_int

return M
