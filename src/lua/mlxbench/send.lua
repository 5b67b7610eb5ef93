-- mlxbench.send: one item of a run -- a request, or a conversation --
-- built from the run's options (its prompt with the shared prefix, its
-- model in a mix, its cancellation), sent over the target group per its
-- policy (failover), at its instant in an open loop or a replay.
--
--   local r = send.one(o, group, i, due)   -- o: bench's run options
--
-- A conversation records each turn as it ends (o._record_turn) and returns
-- its summary ({session_summary = ...}).
local time = require "mlxbench.time"
local llm = require "mlxbench.llm"
local traffic = require "mlxbench.traffic"
local session = require "mlxbench.session"
local prefix = require "mlxbench.prefix"

local M = {}

-- A transport failure, a 5xx, 429 or 529 is worth trying elsewhere; other
-- statuses (400, 401, 404) would fail on every member too.
local function retryable(r)
  if r.ok then return false end
  local k = r.error and r.error.kind
  if k == "http" then return (r.status or 0) >= 500 or r.status == 429 end
  return k ~= "aborted"
end

-- One request, over the group's members per its policy. The user-visible
-- latency starts with the first attempt.
local function attempt(o, group, i, req)
  local first, r, failed = nil, nil, nil
  local model = req.model
  for _, t in ipairs(group:order(i, time.now())) do
    req.target = t
    req.model = t.model or model
    r = llm.request(req)
    first = first or r
    group:mark(t, r.ok or not retryable(r), time.now())
    if not retryable(r) then break end
    failed = failed or {}
    failed[#failed + 1] = { target = t.name, kind = r.error and r.error.kind, status = r.status }
  end
  if failed and r ~= first then
    r.failover = failed
    local lost = r.start_s - first.start_s
    r.start_s = first.start_s
    if r.e2e_s then r.e2e_s = r.e2e_s + lost end
    if r.ttft_s then r.ttft_s = r.ttft_s + lost end
    if r.ttfb_s then r.ttfb_s = r.ttfb_s + lost end
    if r.ok and r.output_tokens and r.e2e_s and r.e2e_s > 0 then
      r.req_tok_s = r.output_tokens / r.e2e_s
    end
  end
  r.max_tokens = req.max_tokens
  return r
end

-- The request fields every request of the run shares, for model m.
local function base_request(o, m)
  return {
    model = m, stream = o.stream, extra = o.extra, max_tokens = o.max_tokens,
    ignore_eos = o.ignore_eos, min_tokens = o.min_tokens, max_tokens_field = o.max_tokens_field,
    capture = o.capture, timeout = o.timeout, headers = o.headers,
    include_usage = o.include_usage, connect_timeout = o.connect_timeout,
    max_body = o.max_body, max_line = o.max_line, accept_encoding = o.accept_encoding,
    cacert = o.cacert, insecure = o.insecure, max_request_bytes = o.max_request_bytes,
    tokenizer = o._tok_for(m),
  }
end

-- Open loop: the request's intended send time, and how late it left.
local function scheduled(r, due)
  if due then
    r.scheduled_s = due
    r.send_lag = r.start_s and math.max(0, r.start_s - due) or 0
  end
end

-- Conversation i (mlxbench.session): turn after turn on one model, each
-- with the history so far and the model's real replies, the first sent at
-- `due` in an open loop; each turn is recorded as it ends. Returns the
-- session's summary (already recorded: `recorded`).
local function conversation(o, group, i, due, s)
  s = s or o._sessions:pick(i)
  local m = traffic.model(o, i)
  local px = o._prefix and o._prefix:pick(i)
  if px then
    local c = {}
    for k, v in pairs(s) do c[k] = v end
    c.system = px.text .. (s.system and ("\n" .. s.system) or "")
    s = c
  end
  local summary = session.run(s, {
    i = i, seed = o.seed, think = o._think, record = o._record_turn,
    stop = function() return o._stopping() or (o._deadline ~= nil and time.now() >= o._deadline) end,
    request = function(msgs, k, max_tokens)
      local req = base_request(o, m)
      req.messages, req.capture = msgs, true
      req.max_tokens = max_tokens or s.max_tokens or o.max_tokens
      req.at = k == 1 and due or nil
      traffic.cancel(o, req, i * 4099 + k)
      local r = attempt(o, group, i, req)
      r.reply = r.text
      if not o.capture then r.text = nil end
      r.i, r.prompt_name, r.model = i, s.name, m
      if px then r.prefix_index, r.prefix_first = px.index, px.first and k == 1 end
      if k == 1 then scheduled(r, due) end
      return r
    end,
  })
  return { session_summary = summary, start_s = summary.start_s, end_s = summary.end_s,
           send_lag = nil }
end

-- Request i: its prompt (with the shared prefix, if any) on its model,
-- sent at `due` (open loop, replay) or now. A prompt with `turns` is a
-- conversation.
function M.one(o, group, i, due)
  if o._sessions then return conversation(o, group, i, due) end
  local p = o._pick(i)
  if p.turns then return conversation(o, group, i, due, p) end
  local m = traffic.model(o, i)
  local px = o._prefix and o._prefix:pick(i)
  if px then p = prefix.apply(p, px) end
  local req = base_request(o, m)
  req.messages, req.prompt, req.max_tokens = p.messages, p.prompt, p.max_tokens or o.max_tokens
  req.at = due
  traffic.cancel(o, req, i)
  local r = attempt(o, group, i, req)
  r.i, r.prompt_name, r.model = i, p.name, m
  -- a prompt built to a length: asked, reached, or only estimated
  r.prompt_target_tokens, r.prompt_achieved_tokens = p.target_tokens, p.achieved_tokens
  r.prompt_estimated = p.estimated
  if px then r.prefix_index, r.prefix_first = px.index, px.first end
  scheduled(r, due)
  return r
end

return M
