-- mlxbench.session: conversations. A virtual user holds a chat whose
-- history grows turn by turn: each user turn is sent with everything said
-- so far, the model's own streamed reply included, after a think time.
--
--   local src = session.open{ path = "chats.jsonl", format = "conversations", turns = 4 }
--   local s = src:pick(i)          -- {turns = {{content, max_tokens}...}, system, name}
--   local summary = session.run(s, env)
--
-- Files (docs/LOAD.md, "Conversations"):
--   conversations  JSONL, one conversation a line: {"turns": ["q1", "q2", ...],
--                  "system": "..."} (a turn may be {"content": "...",
--                  "max_tokens": N}), or {"messages": [...]} whose user
--                  messages are the turns (the assistant messages are
--                  replaced by the model's replies; with use_output_len
--                  their lengths set each turn's max_tokens), or a ShareGPT
--                  record
--   sharegpt       a ShareGPT JSON array (or JSONL) of {"conversations":
--                  [{"from": "human"|"gpt"|"system", "value": "..."}]}
local dataset = require "mlxbench.dataset"
local estimate = require "mlxbench.estimate"
local prompts = require "mlxbench.prompts"
local time = require "mlxbench.time"

local M = {}

local ROLE = { human = "user", user = "user", gpt = "assistant", assistant = "assistant",
               chatgpt = "assistant", bard = "assistant", bing = "assistant", model = "assistant",
               system = "system" }

-- A think time: N (seconds), "N:SD" (normal, at least 0), "MIN-MAX"
-- (uniform) or "exp:MEAN" (exponential), or the table forms {mean=, sd=},
-- {min=, max=}, {exp=}. -> spec | nil, message
function M.parse_think(v)
  if v == nil then return nil end
  if type(v) == "number" then
    if v < 0 or v ~= v or v > 86400 then return nil, "think time must be 0..86400 seconds" end
    return v
  end
  if type(v) == "table" then return v end
  if type(v) ~= "string" then return nil, "think time must be a number or a string" end
  local n = tonumber(v)
  if n then return M.parse_think(n) end
  local m, sd = v:match("^([%d.]+):([%d.]+)$")
  if m and tonumber(m) and tonumber(sd) then return { mean = tonumber(m), sd = tonumber(sd) } end
  local lo, hi = v:match("^([%d.]+)%-([%d.]+)$")
  lo, hi = tonumber(lo), tonumber(hi)
  if lo and hi and hi >= lo then return { min = lo, max = hi } end
  local e = tonumber(v:match("^exp:([%d.]+)$") or "")
  if e then return { exp = e } end
  return nil, "think time '" .. v .. "': want S, S:SD, MIN-MAX or exp:MEAN (seconds)"
end

-- think_time(spec, seed, i, k) -> seconds before turn k of session i,
-- drawn reproducibly (the same seed gives the same waits)
function M.think_time(spec, seed, i, k)
  if spec == nil then return 0 end
  if type(spec) == "number" then return spec end
  local u = prompts.hash01((seed or 1) * 7 + 3, i * 4099 + k)
  if spec.exp then return -spec.exp * math.log(1 - u) end
  if spec.mean then
    local u2 = prompts.hash01((seed or 1) * 11 + 5, i * 4099 + k)
    local z = math.sqrt(-2 * math.log(1 - u)) * math.cos(2 * math.pi * u2)
    return math.max(0, spec.mean + (spec.sd or 0) * z)
  end
  return spec.min + (spec.max - spec.min) * u
end

-- A turn from a file: a string, or {content|text|value, max_tokens}.
local function turn_of(t, where)
  if type(t) == "string" then return { content = t } end
  if type(t) == "table" then
    local c = t.content or t.text or t.value
    if type(c) == "string" then
      return { content = c, max_tokens = t.max_tokens and require("mlxbench.json").int(t.max_tokens, where,
                                                                                          "max_tokens", 1) }
    end
  end
  error(where .. ": a turn must be a string or {\"content\": \"...\"}", 0)
end

-- from_record(obj, o, where) -> session spec | nil (no user turn)
local function from_record(obj, o, where)
  if type(obj) ~= "table" then return nil end
  local count = o._count or estimate.tokens
  local s = { turns = {} }
  if type(obj.turns) == "table" then
    for k, t in ipairs(obj.turns) do s.turns[k] = turn_of(t, where) end
    if type(obj.system) == "string" then s.system = obj.system end
  else
    local msgs = obj.messages or obj.conversations
    if type(msgs) ~= "table" then return nil end
    for _, m in ipairs(msgs) do
      if type(m) == "table" then
        local role = ROLE[m.role or m.from or ""]
        local text = m.content or m.value
        if type(text) == "string" then
          if role == "system" and #s.turns == 0 then
            s.system = text
          elseif role == "user" then
            s.turns[#s.turns + 1] = { content = text }
          elseif role == "assistant" and #s.turns > 0 and o.use_output_len then
            s.turns[#s.turns].max_tokens = math.max(1, count(text))
          end
        end
      end
    end
  end
  if #s.turns == 0 then return nil end
  if o.turns and #s.turns > o.turns then
    for k = #s.turns, o.turns + 1, -1 do s.turns[k] = nil end
  end
  if o.min_turns and #s.turns < o.min_turns then return nil end
  return s
end
M.from_record = from_record

local Source = {}
Source.__index = Source

-- open{path, format = "conversations"|"sharegpt"|"auto", turns = N (at
-- most N turns a session), min_turns, use_output_len, limit, tokenizer}
-- -> a session source; conversations are streamed from the file, looping
-- at its end
function M.open(o)
  if type(o) ~= "table" or type(o.path) ~= "string" then error("session.open: path is required", 2) end
  local fmt = o.format or "auto"
  if fmt ~= "auto" and fmt ~= "conversations" and fmt ~= "sharegpt" then
    error("session: format must be conversations or sharegpt", 0)
  end
  if o.turns ~= nil and not (math.type(o.turns) == "integer" and o.turns >= 1) then
    error("session: turns must be a positive integer", 0)
  end
  local src = setmetatable({ o = { turns = o.turns, min_turns = o.min_turns,
                                   use_output_len = o.use_output_len } }, Source)
  local conv = function(obj, _, where) return from_record(obj, src.o, where) end
  src.ds = dataset.open{ path = o.path, format = fmt == "conversations" and "jsonl" or "auto",
                         limit = o.limit, convert = conv, tokenizer = o.tokenizer }
  if o.tokenizer then src:set_tokenizer(o.tokenizer) end
  src.path = o.path
  return src
end

function Source:set_tokenizer(tok)
  self.o._count = tok and function(s) return tok:count(s) end or nil
end

-- pick(i) -> the next conversation
function Source:pick(i)
  local s = self.ds:next()
  s.name = s.name or ("session#" .. i)
  return s
end

-- check([n]) -> self: the first n conversations read (a bad line is a
-- one-line error before the first request)
function Source:check(n)
  self.ds:check(n)
  return self
end

function Source:close() self.ds:close() end

-- run(s, env) -> summary. env: request(messages, k, max_tokens) -> r,
-- record(r), think (a think-time spec), seed, i (the session's number),
-- stop() -> true to stop before the next turn, system (a prefix spec's
-- text to lead the system prompt, or nil). Each turn's result is recorded
-- as it ends (r.session = i, r.turn = k); a failed or cancelled turn ends
-- the session. summary: {session, turns, completed, duration_s, cut}
-- (cut: stopped by the end of the run, not by the server).
function M.run(s, env)
  local history = {}
  if s.system then history[1] = { role = "system", content = s.system } end
  -- a prompt file's {"turns": [...]} record: its messages lead (a system prompt)
  for _, m in ipairs(s.messages or {}) do history[#history + 1] = m end
  local t_first, t_last, done, cut = nil, nil, 0, false
  for k, turn in ipairs(s.turns) do
    if k > 1 then
      local wait = M.think_time(env.think, env.seed, env.i, k)
      local until_t = time.now() + wait
      while wait > 0 and not env.stop() do
        time.sleep(math.min(wait, 0.2))
        wait = until_t - time.now()
      end
    end
    if env.stop() then
      cut = true
      break
    end
    local content, max_tokens = turn, nil
    if type(turn) == "table" then content, max_tokens = turn.content, turn.max_tokens end
    history[#history + 1] = { role = "user", content = content }
    local msgs = {}
    for j, m in ipairs(history) do msgs[j] = m end
    local r = env.request(msgs, k, max_tokens)
    r.session, r.turn = env.i, k
    t_first = t_first or r.start_s
    t_last = r.end_s or t_last
    env.record(r)
    if not r.ok then break end
    done = k
    history[#history + 1] = { role = "assistant", content = r.reply or "" }
  end
  return { session = env.i, turns = #s.turns, completed = done, cut = cut or nil,
           duration_s = (t_first and t_last) and (t_last - t_first) or nil,
           start_s = t_first, end_s = t_last }
end

return M
