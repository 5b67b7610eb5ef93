-- mlxbench.prompts: the built-in prompts, synthetic prompts of ~N tokens and
-- prompt lists from JSONL files. A prompt is {messages = {...}} (chat) or
-- {prompt = "..."} (legacy completions); helpers accept plain strings too.
local cjson = require "cjson"
local json = require "mlxbench.json"
local estimate = require "mlxbench.estimate"
local dataset = require "mlxbench.dataset"

local M = {}

-- The seed product's three prompts.
M.builtin = {
  short = "What is 2+2?",
  medium = "Explain what machine learning is in one sentence.",
  long = "Compare transformers and recurrent neural networks (RNNs): how does each "
    .. "process a sequence, why do transformers train faster on modern hardware, how "
    .. "do the two handle long-range dependencies, and when might an RNN still be the "
    .. "better choice? Answer in several paragraphs.",
}

-- Token estimate shared with the emulated server (mlxbench.estimate).
M.estimate_tokens = estimate.tokens

local words = {
  "the", "model", "token", "stream", "latency", "server", "batch", "prompt", "cache",
  "decode", "prefill", "request", "throughput", "quantized", "weights", "layer",
  "attention", "vector", "context", "window", "benchmark", "result", "metric", "time",
}

-- synthetic(n, seed) -> a text of exactly 4*n characters (~n tokens by the
-- shared rule), deterministic for a seed, made of plain words.
function M.synthetic(n, seed)
  assert(math.type(n) == "integer" and n > 0, "prompts.synthetic: n must be a positive integer")
  local limits = require "mlxbench.limits"
  if n > limits.MAX_REQUEST_BYTES // 4 then   -- refused before anything is built
    error("prompts: " .. limits.too_large("synthetic:" .. n .. " (" .. n .. " tokens, 4 bytes each)",
      n * 4), 0)
  end
  local target = 4 * n
  local parts, len = {}, 0
  local state = (seed or 1) * 2654435761 % 4294967296
  while len < target do
    state = (state * 1103515245 + 12345) % 2147483648
    local w = words[state % #words + 1]
    parts[#parts + 1] = w
    len = len + #w + 1
  end
  return table.concat(parts, " "):sub(1, target)
end

-- The words of a synthetic prompt, seeded: words(seed, n) -> {n words}.
local function word_list(seed, n)
  local out = {}
  local state = (seed or 1) * 2654435761 % 4294967296
  for i = 1, n do
    state = (state * 1103515245 + 12345) % 2147483648
    out[i] = words[state % #words + 1]
  end
  return out
end

-- exact(tok, n, seed [, prefix]) -> text, achieved: real words whose count
-- under tok (without special tokens) is exactly n -- after `prefix` when
-- given (then prefix .. text counts count(prefix) + n). The longest run of
-- words that does not exceed n is found by bisection, then one-token
-- fillers close the gap; achieved is the count reached (n unless no filler
-- adds exactly one token).
local FILLERS = { " a", ".", ",", " I", " the", " of", "!", " is" }
function M.exact(tok, n, seed, prefix)
  assert(math.type(n) == "integer" and n > 0, "prompts.exact: n must be a positive integer")
  local limits = require "mlxbench.limits"
  if n > limits.MAX_REQUEST_BYTES // 4 then   -- refused before anything is built
    error("prompts: " .. limits.too_large("a prompt of " .. n .. " tokens (about 4 bytes each)", n * 4), 0)
  end
  local base = prefix and tok:count(prefix) or 0
  local goal = base + n
  local ws = word_list(seed, 2 * n + 64)
  local function text(k)
    local body = table.concat(ws, " ", 1, k)
    if not prefix then return body end
    return k > 0 and (prefix .. " " .. body) or prefix
  end
  local lo, hi = 0, #ws   -- count(text(lo)) <= goal
  while tok:count(text(hi)) <= goal and hi < 64 * n + 64 do
    lo = hi
    ws = word_list(seed, 2 * #ws)
    hi = #ws
  end
  while hi - lo > 1 do
    local mid = (lo + hi) // 2
    if tok:count(text(mid)) <= goal then lo = mid else hi = mid end
  end
  local s = text(lo)
  local c = tok:count(s)
  while c < goal do
    local grown = false
    for _, f in ipairs(FILLERS) do
      local t = (s == "" and f:gsub("^ ", "") or (s .. f))
      if tok:count(t) == c + 1 then
        s, c, grown = t, c + 1, true
        break
      end
    end
    if not grown then break end
  end
  return s, c - base
end

-- as_messages(p) -> messages list for a chat API from a prompt spec.
function M.as_messages(p)
  if type(p) == "string" then return { { role = "user", content = p } } end
  if p.messages then return p.messages end
  return { { role = "user", content = p.prompt } }
end

-- as_text(p) -> a single prompt string (legacy completions).
function M.as_text(p)
  if type(p) == "string" then return p end
  if p.prompt then return p.prompt end
  local t = {}
  for _, m in ipairs(p.messages) do
    if type(m.content) == "string" then t[#t + 1] = m.content end
  end
  return table.concat(t, "\n")
end

-- max_tokens_of(v, where) -> v as an integer >= 1 (JSON numbers decode as
-- floats: {"max_tokens": 5} gives 5.0), nil when absent; raises a one-line
-- error naming `where` otherwise.
function M.max_tokens_of(v, where) return json.int(v, where, "max_tokens", 1) end

-- load_jsonl(path) -> list of prompt specs. Each line is a JSON object with
-- `messages` (chat list), `prompt` (string) or `text`; optional `max_tokens`
-- and `weight`. Blank lines and lines starting with # are skipped. Errors
-- name the file and line.
function M.load_jsonl(path)
  local f, err = io.open(path, "r")
  if not f then error("prompts: cannot open " .. path .. ": " .. tostring(err):gsub("^[^:]*: ", ""), 0) end
  local out, n = {}, 0
  for line in f:lines() do
    n = n + 1
    if line:match("%S") and not line:match("^%s*#") then
      local ok, obj = pcall(cjson.decode, line)
      if not ok or type(obj) ~= "table" then
        f:close()
        error(string.format("prompts: %s:%d: not a JSON object", path, n), 0)
      end
      local where = string.format("prompts: %s:%d", path, n)
      local okm, mt = pcall(M.max_tokens_of, obj.max_tokens, where)
      if not okm then
        f:close()
        error(mt, 0)
      end
      local p = { max_tokens = mt, weight = obj.weight }
      if type(obj.messages) == "table" then
        p.messages = obj.messages
      elseif type(obj.prompt) == "string" or type(obj.text) == "string" then
        p.prompt = obj.prompt or obj.text
      else
        f:close()
        error(string.format("prompts: %s:%d: needs `messages`, `prompt` or `text`", path, n), 0)
      end
      out[#out + 1] = p
    end
  end
  f:close()
  if #out == 0 then error("prompts: " .. path .. " has no prompts", 0) end
  return out
end

-- resolve(spec) -> list of prompt specs, from what a user writes:
--   "short" | "medium" | "long"   the built-ins
--   "@FILE"                       a JSONL file (or a plain text file: one prompt)
--   "synthetic:N"                 a synthetic prompt of ~N tokens
--   any other string              the prompt text itself
--   a table of the above / of specs
--
-- opts.tokenizer (a loaded tokenizer): synthetic prompts have exactly N
-- tokens (target_tokens, achieved_tokens); without one they are estimated
-- (4 characters a token: estimated = true).
function M.resolve(spec, opts)
  local tok = opts and opts.tokenizer
  if type(spec) == "table" then
    if spec.pick then
      if tok and spec.set_tokenizer then spec:set_tokenizer(tok) end
      return spec   -- a source (dataset, synthetic spec)
    end
    if spec.messages or spec.prompt or spec.turns then return { spec } end
    local out = {}
    for _, s in ipairs(spec) do
      local r = M.resolve(s, opts)
      if r.pick then
        out[#out + 1] = { source = r }
      else
        for _, p in ipairs(r) do out[#out + 1] = p end
      end
    end
    return out
  end
  if type(spec) ~= "string" then error("prompt must be a string or a table", 2) end
  if M.builtin[spec] then return { { prompt = M.builtin[spec], name = spec } } end
  if spec:match("^synthetic:") then
    local n = math.tointeger(tonumber(spec:match("^synthetic:(%d+)$")))
    if not n or n < 1 or n > 10000000 then
      error("prompts: '" .. spec .. "': want synthetic:N, N the prompt's length in tokens (1..10000000)", 0)
    end
    if tok then
      local text, got = M.exact(tok, n, 1)
      return { { prompt = text, name = spec, target_tokens = n, achieved_tokens = got } }
    end
    return { { prompt = M.synthetic(n), name = spec, target_tokens = n, estimated = true } }
  end
  if spec:sub(1, 1) == "@" then
    local path = spec:sub(2)
    if path == "" then error("prompts: '@' needs a file name: @FILE or @FILE.jsonl", 0) end
    if path:match("%.jsonl$") or path:match("%.json$") then
      return dataset.open{ path = path, tokenizer = tok }   -- streamed, not loaded
    end
    -- bounded (@/dev/zero) and deaf to nothing (a fifo, a terminal)
    local limits = require "mlxbench.limits"
    local text, err, why = require("mlxbench._sys").read_file(path, limits.MAX_REQUEST_BYTES)
    if why == "too_large" then
      error("prompts: " .. limits.too_large("the prompt file " .. path, limits.MAX_REQUEST_BYTES + 1), 0)
    end
    if not text then error("prompts: " .. err, 0) end
    if text == "" then error("prompts: the prompt file " .. path .. " is empty", 0) end
    return { { prompt = text, name = path } }
  end
  return { { prompt = spec } }
end

-- A deterministic uniform in [0,1) from (seed, i): the pick of request i
-- does not depend on which task sends it or when.
local function hash01(seed, i)
  local z = (seed or 1) * 0x9E3779B97F4A7C15 + i * 0xBF58476D1CE4E5B9
  z = (z ~ (z >> 30)) * 0xBF58476D1CE4E5B9
  z = (z ~ (z >> 27)) * 0x94D049BB133111EB
  z = z ~ (z >> 31)
  return ((z >> 11) & 0x1FFFFFFFFFFFFF) / 9007199254740992.0
end
M.hash01 = hash01

-- picker(list, seed) -> function(i) -> prompt spec. Without weights the
-- prompts rotate in order; with weights request i draws one, reproducibly.
function M.picker(list, seed)
  if list.pick then return function(i) return list:pick(i) end end
  local weighted, total = false, 0
  for _, p in ipairs(list) do
    if p.weight then weighted = true end
    total = total + (p.weight or 1)
  end
  local function take(p, i)
    if p.source then return p.source:pick(i) end
    return p
  end
  if not weighted then
    return function(i) return take(list[(i - 1) % #list + 1], i) end
  end
  local cum, acc = {}, 0
  for k, p in ipairs(list) do
    acc = acc + (p.weight or 1) / total
    cum[k] = acc
  end
  return function(i)
    local u = hash01(seed, i)
    for k = 1, #cum do
      if u < cum[k] then return take(list[k], i) end
    end
    return take(list[#list], i)
  end
end

-- A length drawn for request i from a spec: N, {mean=, sd=, min=, max=}
-- (normal, clamped) or {min=, max=} (uniform); integers >= 1.
local function draw(spec, seed, i, salt)
  if spec == nil then return nil end
  if type(spec) == "number" then return math.max(1, math.floor(spec + 0.5)) end
  local u = hash01(seed * 7 + salt, i)
  local v
  if spec.mean then
    local u2 = hash01(seed * 13 + salt, i)
    local z = math.sqrt(-2 * math.log(1 - u)) * math.cos(2 * math.pi * u2)
    v = spec.mean + (spec.sd or 0) * z
  else
    v = spec.min + (spec.max - spec.min) * u
  end
  if spec.min then v = math.max(v, spec.min) end
  if spec.max then v = math.min(v, spec.max) end
  return math.max(1, math.floor(v + 0.5))
end

-- synthetic_spec{input = 512 | {mean, sd, min, max} | {min, max},
--                output = 128 | ..., prefix = 0, seed = 1, tokenizer = tok}
-- -> a prompt source whose request i has a synthetic prompt of the drawn
-- input length and max_tokens of the drawn output length. With prefix = P
-- every prompt starts with the same text of P tokens (then input tokens
-- follow it). With a tokenizer the lengths are exact (mlxbench.prompts.exact),
-- else estimated by the shared 4-characters rule.
-- (Servers may stop before max_tokens; vLLM needs extra = {ignore_eos = true}.)
function M.synthetic_spec(o)
  if type(o) ~= "table" or o.input == nil then error("prompts.synthetic_spec: input is required", 2) end
  local seed = o.seed or 1
  local src = { tokenizer = o.tokenizer }
  local prefix_text
  local function prefix()
    if not o.prefix or o.prefix < 1 then return nil, 0 end
    if not prefix_text then
      prefix_text = src.tokenizer and M.exact(src.tokenizer, o.prefix, seed * 7919 + 17)
        or M.synthetic(o.prefix, seed * 7919 + 17)
    end
    return prefix_text, o.prefix
  end
  function src.set_tokenizer(s, tok)
    if s.tokenizer ~= tok then s.tokenizer, prefix_text = tok, nil end
  end
  function src.pick(s, i)
    local n = draw(o.input, seed, i, 1)
    local pre, pn = prefix()
    local p = { max_tokens = draw(o.output, seed, i, 2), name = "synthetic:" .. n,
                target_tokens = pn + n }
    if s.tokenizer then
      local text, got = M.exact(s.tokenizer, n, seed * 100003 + i, pre)
      p.prompt, p.achieved_tokens = text, pn + got
    else
      local body = M.synthetic(n, seed * 100003 + i)
      p.prompt, p.estimated = pre and (pre .. " " .. body) or body, true
    end
    return p
  end
  return src
end

-- A length spec from the command line: "N" (fixed), "N:SD" (normal, mean N,
-- clamped to >= 1), "N,MIN-MAX" (uniform in [MIN, MAX]) or "N:SD,MIN-MAX"
-- (normal clamped to the range). -> spec | nil, message
function M.parse_length(s, what)
  local n, rest = s:match("^(%d+)(.*)$")
  n = math.tointeger(tonumber(n or ""))
  if not n or n < 1 then return nil, what .. " must be N, N:SD, N,MIN-MAX or N:SD,MIN-MAX with N >= 1" end
  if rest == "" then return n end
  local sd, lo, hi = rest:match("^:(%d+%.?%d*),(%d+)%-(%d+)$")
  if not sd then sd = rest:match("^:(%d+%.?%d*)$") end
  if not lo then lo, hi = rest:match("^,(%d+)%-(%d+)$") end
  lo, hi = tonumber(lo), tonumber(hi)
  if not sd and not lo then return nil, what .. ": cannot read '" .. s .. "' (N, N:SD, N,MIN-MAX)" end
  if lo and (lo < 1 or hi < lo or n < lo or n > hi) then
    return nil, what .. ": the range must hold N and start at 1 or more"
  end
  if sd then return { mean = n, sd = tonumber(sd), min = lo or 1, max = hi } end
  return { min = lo, max = hi }
end

-- mix{ {weight = 0.7, prompt = ...}, {weight = 0.3, prompts = {...}} } ->
-- a weighted list: each entry's weight is shared by the prompts it names.
function M.mix(entries)
  if type(entries) ~= "table" or #entries == 0 then error("prompts.mix: expected a list of entries", 2) end
  local out = {}
  for k, e in ipairs(entries) do
    if type(e) ~= "table" or type(e.weight) ~= "number" or e.weight <= 0 then
      error(string.format("prompts.mix: entry %d needs weight > 0", k), 2)
    end
    local ps = M.resolve(e.prompts or e.prompt or e.messages and { messages = e.messages })
    if ps.pick then ps = { { source = ps } } end
    for _, p in ipairs(ps) do
      local c = {}
      for kk, vv in pairs(p) do c[kk] = vv end
      c.weight = e.weight / #ps
      c.max_tokens = c.max_tokens or e.max_tokens
      c.name = c.name or e.name
      out[#out + 1] = c
    end
  end
  return out
end

return M
