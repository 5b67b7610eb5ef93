-- mlxbench.traffic: the options of bench{} that make its load look like
-- real traffic (docs/LOAD.md): model mixes, shared prefixes, cancellation,
-- conversations and trace replay -- checked before the run, turned into
-- per-request choices that depend only on (seed, request number), so engine
-- threads and shards choose exactly what one process would.
--
--   model = {"a", "b"}, model_mix = "uniform" | "zipf[:S]" | {3, 1}
--   prefix = {tokens = N, count = K, dist = "round_robin" | "zipf[:S]"}
--   cancel_rate = P, cancel_after = S | "tokens:N"
--   conversations = {path = F, format = "conversations"|"sharegpt", turns = N,
--                    use_output_len = bool}, think_time = S | "S:SD" | "A-B" | "exp:M"
--   replay = {path = F, format = "auto"|"mooncake"|"burstgpt"|"jsonl", speed = X,
--             block_tokens = 512}
local prefix = require "mlxbench.prefix"
local prompts = require "mlxbench.prompts"
local replay = require "mlxbench.replay"
local session = require "mlxbench.session"

local M = {}

M.KNOWN = { model_mix = 1, prefix = 1, cancel_rate = 1, cancel_after = 1, conversations = 1,
            think_time = 1, replay = 1, sessions = 1 }

-- models(v) -> list of model names | nil, message
function M.models(v)
  if type(v) == "string" then return { v } end
  if type(v) ~= "table" or #v == 0 then return nil, "model must be a string or a list of strings" end
  local out, seen = {}, {}
  for k, m in ipairs(v) do
    if type(m) ~= "string" or m == "" then return nil, "model[" .. k .. "] must be a non-empty string" end
    if seen[m] then return nil, "model '" .. m .. "' is listed twice" end
    seen[m], out[k] = true, m
  end
  return out
end

-- mix(v, n) -> cumulative shares of n models | nil, message: "uniform",
-- "zipf[:S]" or a list of n positive weights
function M.mix(v, n)
  if type(v) == "table" then
    if #v ~= n then return nil, string.format("model_mix has %d weights for %d models", #v, n) end
    for k, w in ipairs(v) do
      if type(w) ~= "number" or w <= 0 or w ~= w or w == math.huge then
        return nil, "model_mix[" .. k .. "] must be a weight > 0"
      end
    end
    return prefix.cumulative({ kind = "weights" }, n, v)
  end
  local d, err = prefix.parse_dist(v or "uniform")
  if not d then return nil, "model_mix " .. err end
  return prefix.cumulative(d, n)
end

-- cancel_spec(v) -> {after = S} | {events = N} | nil, message
function M.cancel_spec(v)
  if type(v) == "number" then
    if v > 0 and v < 1e7 then return { after = v } end
    return nil, "cancel_after must be seconds > 0 or \"tokens:N\""
  end
  if type(v) == "string" then
    local n = math.tointeger(tonumber(v:match("^tokens:(%d+)$") or ""))
    if n and n >= 1 then return { events = n } end
    local s = tonumber(v)
    if s then return M.cancel_spec(s) end
  end
  return nil, "cancel_after must be seconds > 0 or \"tokens:N\", got " .. tostring(v)
end

-- check(o) -> true | nil, message: the traffic options of a bench{} call
function M.check(o)
  local models, err = M.models(o.model)
  if not models then return nil, err end
  if o.model_mix ~= nil then
    if #models < 2 then return nil, "model_mix needs a list of models (model = {\"a\", \"b\"})" end
    local cum, merr = M.mix(o.model_mix, #models)
    if not cum then return nil, merr end
  end
  if o.prefix ~= nil then
    local p = o.prefix
    if type(p) ~= "table" or not (math.tointeger(p.tokens) and p.tokens >= 1) then
      return nil, "prefix = {tokens = N, count = K, dist = \"round_robin\"|\"zipf\"}: tokens must be a positive integer"
    end
    if p.count ~= nil and not (math.tointeger(p.count) and p.count >= 1 and p.count <= 100000) then
      return nil, "prefix.count must be an integer in 1..100000"
    end
    local d, derr = prefix.parse_dist(p.dist)
    if not d then return nil, "prefix.dist " .. derr end
  end
  if o.cancel_rate ~= nil then
    if type(o.cancel_rate) ~= "number" or o.cancel_rate < 0 or o.cancel_rate > 1 then
      return nil, "cancel_rate must be a share in 0..1"
    end
    if o.cancel_after == nil then return nil, "cancel_rate needs cancel_after (seconds, or \"tokens:N\")" end
  end
  if o.cancel_after ~= nil then
    local c, cerr = M.cancel_spec(o.cancel_after)
    if not c then return nil, cerr end
    if o.cancel_rate == nil then return nil, "cancel_after needs cancel_rate (the share of requests to cancel)" end
  end
  if o.think_time ~= nil then
    local t, terr = session.parse_think(o.think_time)
    if not t then return nil, terr end
    if not o.conversations then return nil, "think_time needs conversations" end
  end
  if o.conversations ~= nil then
    local c = o.conversations
    if type(c) ~= "table" or type(c.path) ~= "string" then
      return nil, "conversations = {path = FILE, format = \"conversations\"|\"sharegpt\", turns = N}"
    end
    if c.format ~= nil and c.format ~= "conversations" and c.format ~= "sharegpt" and c.format ~= "auto" then
      return nil, "conversations.format must be conversations or sharegpt"
    end
    if c.turns ~= nil and not (math.tointeger(c.turns) and c.turns >= 1) then
      return nil, "conversations.turns must be a positive integer"
    end
    if o.prompt or o.prompts or o.synthetic or o.replay then
      return nil, "give conversations or prompt(s) / synthetic / replay, not both"
    end
  end
  if o.sessions ~= nil then
    if not (math.tointeger(o.sessions) and o.sessions >= 1) then return nil, "sessions must be a positive integer" end
    if not o.conversations then return nil, "sessions counts conversations: give conversations too" end
    if o.requests then return nil, "give sessions (conversations) or requests, not both" end
  end
  if o.replay ~= nil then
    local r = type(o.replay) == "string" and { path = o.replay } or o.replay
    if type(r) ~= "table" or type(r.path) ~= "string" then
      return nil, "replay = {path = FILE, speed = X, format = \"auto\"|\"mooncake\"|\"burstgpt\"|\"jsonl\"}"
    end
    if r.speed ~= nil and not (type(r.speed) == "number" and r.speed > 0 and r.speed < 1e6) then
      return nil, "replay.speed must be a number > 0"
    end
    if r.format ~= nil and r.format ~= "auto" and not replay.FORMATS[r.format] then
      return nil, "replay.format must be auto, mooncake, burstgpt or jsonl"
    end
    if o.rate or o.concurrency or o.stages then
      return nil, "replay sends at the trace's times: give no rate, concurrency or stages"
    end
    if o.prompt or o.prompts or o.synthetic then
      return nil, "replay synthesises its prompts from the trace: give no prompt(s) or synthetic"
    end
  end
  return true
end

-- setup(o, tok_for): what the run needs to choose per request. tok_for(m)
-- -> the tokenizer of model m (or nil). Sets o._models, o._model_cum,
-- o._prefix, o._cancel, o._think, o._sessions, o._replay.
function M.setup(o, tok_for)
  o._models = assert(M.models(o.model))
  if #o._models > 1 then o._model_cum = assert(M.mix(o.model_mix, #o._models)) end
  local tok = tok_for(o._models[1])
  if o.prefix then
    o._prefix = prefix.new{ tokens = math.tointeger(o.prefix.tokens), count = math.tointeger(o.prefix.count or 1),
                            dist = o.prefix.dist, seed = o.seed or 1, tokenizer = tok }
  end
  if o.cancel_rate and o.cancel_rate > 0 then o._cancel = assert(M.cancel_spec(o.cancel_after)) end
  if o.conversations then
    local c = o.conversations
    o._sessions = session.open{ path = c.path, format = c.format, turns = math.tointeger(c.turns),
                                use_output_len = c.use_output_len, tokenizer = tok }
    o._think = session.parse_think(o.think_time)
  end
  if o.replay then
    local r = type(o.replay) == "string" and { path = o.replay } or o.replay
    local tr = replay.load{ path = r.path, format = r.format, speed = r.speed, seed = o.seed or 1,
                            block_tokens = r.block_tokens, tokenizer = tok }
    local w = o.warmup or 0
    -- warm-up requests take the trace's first records; the measured replay
    -- starts again at record 1, at its own time
    local times = {}
    for k, t in ipairs(tr.times) do
      if o.requests and k > o.requests then break end
      if o.duration and t >= o.duration then break end
      times[k] = t
    end
    o._times, o._replay = times, tr
    o._prompts = tr
    o._pick = function(i) return tr:pick(i > w and i - w or i) end
  end
end

-- model(o, i) -> the model of request (or session) i
function M.model(o, i)
  if not o._model_cum then return o._models[1] end
  return o._models[prefix.draw(o._model_cum, prompts.hash01((o.seed or 1) * 53 + 11, i))]
end

-- cancel(o, req, key): marks the request cancelled early when its draw
-- (seeded by key) falls under cancel_rate
function M.cancel(o, req, key)
  local c = o._cancel
  if c and prompts.hash01((o.seed or 1) * 97 + 13, key) < o.cancel_rate then
    req.cancel_after, req.cancel_events = c.after, c.events
  end
end

-- config(o) -> the traffic part of the results file's config block
function M.config(o, cfg)
  if o._model_cum then cfg.models, cfg.model_mix = o._models, o.model_mix or "uniform" end
  if o.prefix then
    cfg.prefix = { tokens = o.prefix.tokens, count = o.prefix.count or 1, dist = o.prefix.dist or "round_robin" }
  end
  if o.cancel_rate then cfg.cancel_rate, cfg.cancel_after = o.cancel_rate, o.cancel_after end
  if o.conversations then
    local c = o.conversations
    cfg.conversations = { path = c.path, format = c.format or "auto", turns = c.turns }
    cfg.think_time = o.think_time
    cfg.sessions = o.requests
  end
  if o._replay then
    local tr = o._replay
    cfg.replay = { path = tr.path, format = tr.format, speed = tr.speed, records = #o._times,
                   skipped = tr.skipped > 0 and tr.skipped or nil, span_s = o._times[#o._times] }
  end
  return cfg
end

return M
