-- mlxbench.llm: one LLM API call, measured. Lua builds the request (once per
-- request); C sends it, timestamps every byte where it arrives, parses the
-- stream and counts tokens (per token, never in Lua).
local cjson = require "cjson"
local core = require "mlxbench._llm"
local prompts = require "mlxbench.prompts"
local target_mod = require "mlxbench.target"
local tokens = require "mlxbench.tokens"
local time = require "mlxbench.time"
local split = require "mlxbench.split"
local DEFAULTS = require("mlxbench._sys").defaults   -- timeouts: one place (C defaults.h)

local M = {}

-- The calls in flight (weak keys): their content events so far are the
-- live token count of the progress line.
local live = setmetatable({}, { __mode = "k" })

-- live_events() -> content events received by the requests in flight
function M.live_events()
  local n = 0
  for call in pairs(live) do n = n + core.events(call) end
  return n
end

-- Sends one request and waits for its result; with on_token, the callback
-- runs in this task for each content event as it arrives (it may sleep).
local function send(spec, on_token)
  local ok, call = pcall(core.start, spec)
  if not ok then
    error(tostring(call) .. ": " .. target_mod.redact_url(spec.url), 0)
  end
  live[call] = true
  while true do
    local r, times = core.wait(call)
    if r then
      live[call] = nil
      if r.gaps then
        if spec.itl_hist then r.gaps:record_into(spec.itl_hist) end
        if spec.itl then r.itl = r.gaps:list() end
      end
      return r
    end
    for _, t in ipairs(times) do on_token(t) end
  end
end

local API_CODE = { openai = 0, completions = 1, anthropic = 2 }

-- integer(v) -> v as an integer when it is integral (JSON numbers decode as
-- floats: 5.0 from {"max_tokens": 5}), else nil
local function integer(v)
  return type(v) == "number" and math.tointeger(v) or nil
end
M.integer = integer

-- Builds the JSON body for the target's API shape. The length controls go
-- in the form OpenAI-compatible servers read: max_tokens (or
-- max_completion_tokens, which OpenAI's newer models require), and vLLM's
-- ignore_eos / min_tokens (also read by SGLang; llama.cpp reads ignore_eos).
local function build_body(t, o, with_usage)
  local body
  if t.api == "anthropic" then
    local msgs, system = {}, nil
    for _, m in ipairs(prompts.as_messages(o)) do
      if m.role == "system" then
        system = (system and system .. "\n" or "") .. m.content
      else
        msgs[#msgs + 1] = m
      end
    end
    body = { model = o.model, messages = msgs, max_tokens = o.max_tokens or 256, system = system }
  else
    if t.api == "completions" then
      body = { model = o.model, prompt = prompts.as_text(o) }
    else
      body = { model = o.model, messages = prompts.as_messages(o) }
    end
    body[o.max_tokens_field or "max_tokens"] = o.max_tokens
    if o.ignore_eos then body.ignore_eos = true end
    if o.min_tokens then body.min_tokens = o.min_tokens end
  end
  if o.stream then
    body.stream = true
    if t.api ~= "anthropic" and with_usage then body.stream_options = { include_usage = true } end
  end
  for k, v in pairs(o.extra or {}) do body[k] = v end
  -- never hand lua-cjson a string it cannot encode (2.1.0 overflows near
  -- 350 MB), nor build a body nobody could send
  local limits = require "mlxbench.limits"
  local max = o.max_request_bytes or limits.MAX_REQUEST_BYTES
  local size = limits.request_size(body)
  if size > max then error("llm.request: " .. limits.too_large("the request body", size, max), 0) end
  return cjson.encode(body)
end

local function headers_for(t, o)
  local h = { "Content-Type: application/json" }
  if o.stream then h[#h + 1] = "Accept: text/event-stream" end
  for _, line in ipairs(t:auth_headers()) do h[#h + 1] = line end
  for k, v in pairs(t.headers or {}) do
    if type(k) == "number" then h[#h + 1] = v else h[#h + 1] = k .. ": " .. tostring(v) end
  end
  for k, v in pairs(o.headers or {}) do
    if type(k) == "number" then h[#h + 1] = v else h[#h + 1] = k .. ": " .. tostring(v) end
  end
  return h
end

local function check_opts(o)
  if type(o) ~= "table" then error("llm.request: expected a table of options", 3) end
  if type(o.model) ~= "string" or o.model == "" then error("llm.request: model must be a string", 3) end
  if o.messages == nil and o.prompt == nil then
    error("llm.request: needs messages or prompt", 3)
  end
  if o.messages ~= nil and type(o.messages) ~= "table" then error("llm.request: messages must be a list", 3) end
  if o.prompt ~= nil and type(o.prompt) ~= "string" then error("llm.request: prompt must be a string", 3) end
  for _, k in ipairs{ "max_tokens", "min_tokens" } do
    if o[k] ~= nil and not (integer(o[k]) and o[k] >= (k == "min_tokens" and 0 or 1)) then
      error("llm.request: " .. k .. " must be a " .. (k == "min_tokens" and "non-negative" or "positive")
        .. " integer, got " .. tostring(o[k]), 3)
    end
  end
  if o.max_tokens_field ~= nil and o.max_tokens_field ~= "max_tokens"
     and o.max_tokens_field ~= "max_completion_tokens" then
    error("llm.request: max_tokens_field must be \"max_tokens\" or \"max_completion_tokens\"", 3)
  end
  if o.extra ~= nil and type(o.extra) ~= "table" then
    error("llm.request: extra must be a table of body fields", 3)
  end
  if o.on_token ~= nil and type(o.on_token) ~= "function" then
    error("llm.request: on_token must be a function", 3)
  end
  if o.tokenizer ~= nil and type(o.tokenizer) ~= "userdata" then
    error("llm.request: tokenizer must be a loaded tokenizer (mlxbench.tokenizer.load)", 3)
  end
  if o.cancel_after ~= nil and not (type(o.cancel_after) == "number" and o.cancel_after > 0) then
    error("llm.request: cancel_after must be a number of seconds > 0", 3)
  end
  if o.cancel_events ~= nil and not (integer(o.cancel_events) and o.cancel_events >= 1) then
    error("llm.request: cancel_events must be a positive integer", 3)
  end
  if o.at ~= nil and type(o.at) ~= "number" then
    error("llm.request: at must be a time.now() value (seconds)", 3)
  end
  for _, k in ipairs{ "max_body", "max_line", "max_request_bytes" } do
    if o[k] ~= nil and (math.type(o[k]) ~= "integer" or o[k] < 1) then
      error("llm.request: " .. k .. " must be a positive integer (bytes)", 3)
    end
  end
  if o.accept_encoding ~= nil and type(o.accept_encoding) ~= "string" and o.accept_encoding ~= true then
    error("llm.request: accept_encoding must be true or a string such as \"gzip\"", 3)
  end
end

-- without_usage(r): the counts a client sees when it does not take the
-- server's usage (include_usage = false, `--no-usage`): output tokens are
-- the stream's content events (a non-streamed body: its bytes / 4), input
-- tokens the prompt's characters / 4 -- estimates, and marked as such.
local function without_usage(r, stream)
  r.input_tokens = nil
  if not r.ok or r.token_source ~= "usage" then return end
  local old = r.output_tokens
  local n = r.content_events or 0
  if not stream then
    r.output_tokens, r.token_source = math.max(1, ((r.content_bytes or 0) + 3) // 4), "estimate"
  else
    r.output_tokens, r.token_source = n, "events"
  end
  if r.e2e_s and r.e2e_s > 0 then r.req_tok_s = r.output_tokens / r.e2e_s end
  if r.tpot_s and old and old >= 2 then
    local span = r.tpot_s * (old - 1)
    if r.output_tokens >= 2 and span > 0 then
      r.tpot_s, r.decode_tok_s = span / (r.output_tokens - 1), (r.output_tokens - 1) / span
    else
      r.tpot_s, r.decode_tok_s = nil, nil
    end
  end
end

-- reasoning_counts(r): the reasoning split's token counts. Reasoning
-- tokens come from usage (completion_tokens_details.reasoning_tokens, when
-- above 0: a server that streamed reasoning and reports 0 did not count
-- it), else from the tokenizer (mlxbench.tokens.apply), else the
-- reasoning events; the answer is the rest of the output (its events when
-- reasoning was counted by events). A hidden reasoning phase (OpenAI's
-- o-series stream none) has only the usage count.
local function reasoning_counts(r)
  local ur = r.usage_reasoning_tokens
  r.usage_reasoning_tokens = nil
  if not r.ok then return end
  if ur and ur > 0 and r.token_source == "usage" then
    r.reasoning_tokens, r.reasoning_token_source = ur, "usage"
  elseif r.reasoning_events and not r.reasoning_tokens then
    r.reasoning_tokens, r.reasoning_token_source = r.reasoning_events, "events"
  end
  if r.reasoning_tokens then
    if r.reasoning_token_source == "events" then
      r.answer_tokens = r.answer_events or 0
    else
      r.answer_tokens = math.max(0, (r.output_tokens or 0) - r.reasoning_tokens)
    end
  end
end

-- request{target, model, messages|prompt, max_tokens, stream, extra, headers,
--         capture, timeout, connect_timeout, on_token, itl_hist, itl,
--         tokenizer, at, cancel_after, cancel_events} -> result (with a
-- tokenizer: exact counts, mlxbench.tokens). `at` (time.now() seconds):
-- the request is built now and sent at that instant (a high-resolution
-- timer: the open loop and trace replay); cancel_after (seconds) or
-- cancel_events (content events) close the connection early, as a user
-- who stops a generation: the result is `cancelled`, not failed.
function M.request(o)
  check_opts(o)
  local t = o.target
  if t == nil or type(t) == "string" then
    t = target_mod.new(t or {})
  elseif getmetatable(t) ~= target_mod.mt then
    t = target_mod.new(t)
  end
  local stream = o.stream ~= false and o.stream ~= nil
  local spec = {
    url = t:endpoint(), api = API_CODE[t.api], stream = stream,
    timeout = o.timeout or t.timeout or DEFAULTS.timeout,
    connect_timeout = o.connect_timeout or DEFAULTS.connect_timeout,
    capture = o.capture, itl_hist = o.itl_hist, itl = o.itl,
    insecure = o.insecure, cacert = o.cacert, http2 = o.http2,
    accept_encoding = o.accept_encoding == true and "" or o.accept_encoding or nil,
    max_body = o.max_body, max_line = o.max_line, count_text = o.tokenizer ~= nil,
    cancel_after = o.cancel_after, cancel_events = integer(o.cancel_events),
    max_tokens = o.max_tokens or (t.api == "anthropic" and 256 or nil),   -- usage check
  }
  if o.insecure then target_mod.warn_insecure(spec.url) end
  if o.headers then target_mod.register(nil, o.headers) end   -- their secrets are redacted too
  local oo = setmetatable({ stream = stream, max_tokens = integer(o.max_tokens),
                            min_tokens = integer(o.min_tokens) }, { __index = o })
  local with_usage = stream and not t._no_stream_options and o.include_usage ~= false
  spec.headers = headers_for(t, oo)
  spec.body = build_body(t, oo, with_usage)
  spec.on_token = o.on_token ~= nil
  if o.at then time.sleep_until(o.at) end
  local r = send(spec, o.on_token)
  if with_usage and (r.status == 400 or r.status == 422) then
    -- The server rejects stream_options (some OpenAI-compatible servers do):
    -- remember it for this target and retry once without.
    t._no_stream_options = true
    spec.body = build_body(t, oo, false)
    r = send(spec, o.on_token)
    r.retried = true
  end
  if r.error and r.error.message then
    r.error.message = target_mod.redact(r.error.message, t:secret())
    local hint = (r.status == 401 or r.status == 403) and t:key_hint()
    if hint then r.error.message = r.error.message .. " (" .. hint .. ")" end
  end
  if o.include_usage == false then without_usage(r, stream) end
  if r.token_source == "estimate" then r.token_source = "bytes/4" end
  if r.input_tokens == nil then
    r.input_tokens = prompts.estimate_tokens(prompts.as_text(o))
    r.input_source = "chars/4"
  else
    r.input_source = "usage"
  end
  if o.tokenizer then tokens.apply(o.tokenizer, r, o) end
  r.reasoning_text = nil
  reasoning_counts(r)
  r.prompt_token_source = tokens.prompt_source(r)
  split.apply(r, stream)
  r.target = t.name
  return r
end

return M
