-- mlxbench.prefix: shared prefixes -- K distinct system prompts of exactly
-- N tokens that requests share, as a chat product's system prompts are
-- shared by its users, so a server's prefix (prompt) cache has something
-- to find.
--
--   local px = prefix.new{ tokens = 1024, count = 4, dist = "zipf", seed = 7, tokenizer = tok }
--   local p = px:pick(i)   -- {index = k, text = "...", tokens = 1024, first = true|false}
--
-- Request i gets prefix k by round robin ((i - 1) % K + 1) or by a Zipf
-- draw (P(k) proportional to 1 / k^s, seeded: the same i always gets the
-- same k, whatever thread or shard sends it). With the model's tokenizer
-- each text encodes to exactly N tokens (mlxbench.prompts.exact); without
-- one it is 4 * N characters (the 4-characters rule). `first` is the
-- client's view of a cold cache: the first request of this process to use
-- prefix k.
local prompts = require "mlxbench.prompts"

local M = {}

local Prefix = {}
Prefix.__index = Prefix

-- parse_dist("zipf:1.2") -> {kind = "zipf", s = 1.2} | nil, message
function M.parse_dist(v)
  if v == nil or v == "round_robin" or v == "rr" then return { kind = "round_robin" } end
  if type(v) == "table" then return v end
  if type(v) ~= "string" then return nil, "must be round_robin or zipf[:S]" end
  local s = v:match("^zipf:?(.*)$")
  if s then
    local e = s == "" and 1.0 or tonumber(s)
    if not e or e <= 0 or e > 10 then return nil, "zipf:S wants an exponent 0 < S <= 10, got '" .. v .. "'" end
    return { kind = "zipf", s = e }
  end
  if v == "uniform" then return { kind = "uniform" } end
  return nil, "must be round_robin, uniform or zipf[:S], got '" .. v .. "'"
end

-- weights(dist, k) -> cumulative shares of k items under a distribution
-- (uniform, round robin -- equal shares -- or Zipf with exponent s)
function M.cumulative(dist, k, weights)
  local w, total = {}, 0
  for j = 1, k do
    local x = weights and weights[j] or (dist.kind == "zipf" and 1 / j ^ dist.s or 1)
    w[j] = x
    total = total + x
  end
  local cum, acc = {}, 0
  for j = 1, k do
    acc = acc + w[j] / total
    cum[j] = acc
  end
  cum[k] = 1
  return cum
end

-- draw(cum, u) -> the index whose cumulative share first exceeds u
function M.draw(cum, u)
  local lo, hi = 1, #cum
  while lo < hi do
    local mid = (lo + hi) // 2
    if u < cum[mid] then hi = mid else lo = mid + 1 end
  end
  return lo
end

-- new{tokens = N, count = K, dist = "round_robin"|"zipf[:S]", seed, tokenizer}
function M.new(o)
  if type(o) ~= "table" or not (math.type(o.tokens) == "integer" and o.tokens >= 1) then
    error("prefix: tokens must be a positive integer", 2)
  end
  local count = o.count or 1
  if not (math.type(count) == "integer" and count >= 1 and count <= 100000) then
    error("prefix: count must be an integer in 1..100000", 2)
  end
  local dist, err = M.parse_dist(o.dist)
  if not dist then error("prefix: dist " .. err, 2) end
  local px = setmetatable({ n = o.tokens, count = count, dist = dist, seed = o.seed or 1,
                            tokenizer = o.tokenizer, texts = {}, used = {} }, Prefix)
  if dist.kind ~= "round_robin" then px.cum = M.cumulative(dist, count) end
  return px
end

-- text(k) -> the text of prefix k (built once): exactly N tokens under the
-- tokenizer, else 4 * N characters
function Prefix:text(k)
  local t = self.texts[k]
  if not t then
    local seed = self.seed * 7919 + 104729 * k
    if self.tokenizer then
      local got
      t, got = prompts.exact(self.tokenizer, self.n, seed)
      self.achieved = got
    else
      t = prompts.synthetic(self.n, seed)
    end
    self.texts[k] = t
  end
  return t
end

-- index(i) -> which prefix request i uses
function Prefix:index(i)
  if self.dist.kind == "round_robin" then return (i - 1) % self.count + 1 end
  return M.draw(self.cum, prompts.hash01(self.seed * 31 + 5, i))
end

-- pick(i) -> {index, text, tokens, estimated, first}
function Prefix:pick(i)
  local k = self:index(i)
  local first = not self.used[k]
  self.used[k] = true
  local text = self:text(k)
  return { index = k, text = text, tokens = self.tokenizer and (self.achieved or self.n) or self.n,
           estimated = self.tokenizer == nil, first = first }
end

function Prefix:set_tokenizer(tok)
  if tok ~= self.tokenizer then self.tokenizer, self.texts = tok, {} end
end

-- apply(p, px) -> a copy of prompt spec p whose messages start with the
-- prefix as the system prompt (joined before the prompt's own system
-- message, if it has one), and px's fields recorded on it
function M.apply(p, x)
  local out = {}
  for k, v in pairs(p) do out[k] = v end
  local msgs = prompts.as_messages(p)
  local new = {}
  if msgs[1] and msgs[1].role == "system" and type(msgs[1].content) == "string" then
    new[1] = { role = "system", content = x.text .. "\n" .. msgs[1].content }
    for j = 2, #msgs do new[#new + 1] = msgs[j] end
  else
    new[1] = { role = "system", content = x.text }
    for j = 1, #msgs do new[#new + 1] = msgs[j] end
  end
  out.messages, out.prompt = new, nil
  out.prefix_index, out.prefix_tokens, out.prefix_first = x.index, x.tokens, x.first
  out.prefix_estimated = x.estimated
  return out
end

return M
