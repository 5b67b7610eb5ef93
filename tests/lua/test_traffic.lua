-- test_traffic: the pieces of realistic traffic, alone -- trace files
-- (Mooncake, BurstGPT, JSONL: parsed, sorted, scaled, bad input named),
-- shared blocks and prefixes of an exact length, Zipf and weighted draws,
-- think times, conversation files, the option checks, and the workload
-- figures' exact round trip (threads, merge).
local T = require "harness"
local replay = require "mlxbench.replay"
local prefix = require "mlxbench.prefix"
local session = require "mlxbench.session"
local traffic = require "mlxbench.traffic"
local workload = require "mlxbench.workload"
local collect = require "mlxbench.collect"
local prompts = require "mlxbench.prompts"
local tokenizer = require "mlxbench.tokenizer"
local stats = require "mlxbench.stats"

local SRC = os.getenv("MB_SRC") or "."
local TOK = SRC .. "/tests/fixtures/tok/bl_roberta.json"
local tmp = os.tmpname()

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end

T.test("mooncake: ms timestamps, sorted, scaled; hash_ids share blocks' text", function()
  local p = write(tmp .. ".jsonl", table.concat({
    '{"timestamp": 1000, "input_length": 40, "output_length": 5, "hash_ids": [1, 2, 9]}',
    '{"timestamp": 0, "input_length": 35, "output_length": 7, "hash_ids": [1, 2, 3]}',
    '{"timestamp": 500, "input_length": 12, "output_length": 3, "hash_ids": [1]}',
    "" }, "\n"))
  T.eq(replay.detect(p), "mooncake")
  local tr = replay.load{ path = p, speed = 2, block_tokens = 16 }
  T.eq(tr.format, "mooncake")
  T.same(tr.times, { 0, 0.25, 0.5 })
  T.eq(tr:span(), 0.5)
  local a, b, c = tr:pick(1), tr:pick(2), tr:pick(3)
  T.eq(a.max_tokens, 7)
  T.eq(b.max_tokens, 3)
  T.eq(c.max_tokens, 5)
  -- without a tokenizer: 4 characters a token, blocks 1 and 2 shared
  T.eq(#a.prompt, 4 * 35)
  T.eq(#c.prompt, 4 * 40)
  T.eq(a.prompt:sub(1, 2 * 64), c.prompt:sub(1, 2 * 64), "two shared blocks")
  T.ok(a.prompt:sub(2 * 64 + 1) ~= c.prompt:sub(2 * 64 + 1), "their own tails")
  T.eq(#b.prompt, 4 * 12)
  T.ok(a.estimated and a.target_tokens == 35)
  -- with a tokenizer: exactly the trace's lengths, the shared text kept
  local tok = assert(tokenizer.load(TOK))
  tr:set_tokenizer(tok)
  local x, z = tr:pick(1), tr:pick(3)
  T.eq(tok:count(x.prompt), 35)
  T.eq(x.achieved_tokens, 35)
  T.eq(tok:count(z.prompt), 40)
  local shared = tr:block(1) .. " " .. tr:block(2)
  T.eq(tok:count(tr:block(1)), 16)
  T.eq(x.prompt:sub(1, #shared), shared)
  T.eq(z.prompt:sub(1, #shared), shared)
  os.remove(p)
end)

T.test("burstgpt CSV: columns by name, failed rows skipped, quoting", function()
  local p = write(tmp .. ".csv", "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\r\n"
    .. "5,ChatGPT,472,18,490,Conversation log\r\n"
    .. "45,\"GPT-4, turbo\",1087,0,1087,Conversation log\r\n"
    .. "12,GPT-4,417,276,693,API log\r\n")
  T.eq(replay.detect(p), "burstgpt")
  local tr = replay.load{ path = p }
  T.eq(#tr.records, 2)
  T.eq(tr.skipped, 1)
  T.same(tr.times, { 0, 7 })
  T.eq(tr:pick(2).max_tokens, 276)
  T.eq(tr:pick(2).target_tokens, 417)
  write(p, "time,prompt\n1,2\n")
  T.raises(function() replay.load{ path = p } end, "needs the columns Timestamp, Request tokens")
  write(p, "Timestamp,Request tokens,Response tokens\n1,abc,3\n")
  T.raises(function() replay.load{ path = p } end, ":2: Request tokens must be an integer")
  os.remove(p)
end)

T.test("plain JSONL: seconds or ms, messages, prompt or a length; errors name the line", function()
  local p = write(tmp .. ".jsonl", '{"timestamp": 2.5, "input_tokens": 10, "output_tokens": 4}\n'
    .. '{"timestamp_ms": 1000, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}\n'
    .. '{"timestamp": 0, "prompt": "hello"}\n')
  T.eq(replay.detect(p), "jsonl")
  local tr = replay.load{ path = p }
  T.same(tr.times, { 0, 1, 2.5 })
  T.eq(tr:pick(1).prompt, "hello")
  T.eq(tr:pick(2).messages[1].content, "hi")
  T.eq(tr:pick(2).max_tokens, 2)
  T.eq(tr:pick(3).target_tokens, 10)
  local first2 = replay.load{ path = p, limit = 2 }   -- the file's first two, then sorted
  T.eq(#first2.records, 2)
  T.same({ first2.records[1].line, first2.records[2].line }, { 2, 1 })
  write(p, '{"timestamp": 1, "output_tokens": 3}\n')
  T.raises(function() replay.load{ path = p } end, ":1: input_tokens %(or messages, prompt%) must be")
  write(p, '{"timestamp": 1, "input_tokens": 3}\nnot json\n')
  T.raises(function() replay.load{ path = p } end, ":2: not a JSON object")
  T.raises(function() replay.load{ path = p, speed = 0 } end, "speed must be a number > 0")
  T.raises(function() replay.load{ path = tmp .. ".none" } end, "cannot open")
  os.remove(p)
end)

T.test("prefixes: exactly N tokens, round robin or Zipf, first use", function()
  local tok = assert(tokenizer.load(TOK))
  local px = prefix.new{ tokens = 50, count = 3, seed = 2, tokenizer = tok }
  local seen = {}
  for i = 1, 6 do
    local x = px:pick(i)
    T.eq(x.index, (i - 1) % 3 + 1)
    T.eq(x.first, i <= 3)
    T.eq(tok:count(x.text), 50)
    seen[x.text] = true
  end
  local n = 0
  for _ in pairs(seen) do n = n + 1 end
  T.eq(n, 3, "three distinct prefixes")
  -- Zipf s=1 over 4: shares 1/H, 1/2H, 1/3H, 1/4H (H = 25/12)
  local z = prefix.new{ tokens = 4, count = 4, dist = "zipf", seed = 9 }
  local counts = { 0, 0, 0, 0 }
  for i = 1, 40000 do local k = z:index(i) counts[k] = counts[k] + 1 end
  for k = 1, 4 do T.near(counts[k] / 40000, (1 / k) / (25 / 12), 0.01, "zipf share " .. k) end
  T.eq(z:index(777), prefix.new{ tokens = 4, count = 4, dist = "zipf", seed = 9 }:index(777), "seeded")
  -- the prefix leads the system prompt
  local p = prefix.apply({ messages = { { role = "system", content = "be brief" }, { role = "user", content = "q" } } },
    px:pick(1))
  T.eq(p.messages[1].content, px:text(1) .. "\nbe brief")
  T.eq(#p.messages, 2)
  local q = prefix.apply({ prompt = "q" }, px:pick(2))
  T.eq(q.messages[1].role, "system")
  T.eq(q.messages[2].content, "q")
  T.eq(q.prefix_index, 2)
  T.ok(not prefix.parse_dist("zipf:x"))
  T.same(prefix.parse_dist("zipf:1.5"), { kind = "zipf", s = 1.5 })
end)

T.test("think times and conversation files", function()
  T.eq(session.parse_think(2), 2)
  T.same(session.parse_think("1:0.5"), { mean = 1, sd = 0.5 })
  T.same(session.parse_think("1-3"), { min = 1, max = 3 })
  T.same(session.parse_think("exp:2"), { exp = 2 })
  T.ok(not session.parse_think("soon"))
  local sum, lo, hi = 0, math.huge, 0
  for i = 1, 5000 do
    local v = session.think_time({ min = 1, max = 3 }, 4, i, 2)
    sum, lo, hi = sum + v, math.min(lo, v), math.max(hi, v)
  end
  T.near(sum / 5000, 2, 0.05)
  T.ok(lo >= 1 and hi <= 3)
  local e = 0
  for i = 1, 20000 do e = e + session.think_time({ exp = 0.5 }, 4, i, 3) end
  T.near(e / 20000, 0.5, 0.02)
  T.eq(session.think_time({ exp = 0.5 }, 4, 9, 3), session.think_time({ exp = 0.5 }, 4, 9, 3))
  local p = write(tmp .. ".conv", table.concat({
    '{"system": "S", "turns": ["a", {"content": "b", "max_tokens": 7}, "c"]}',
    '{"messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": "u1"},'
      .. ' {"role": "assistant", "content": "four words of reply"}, {"role": "user", "content": "u2"}]}',
    '{"conversations": [{"from": "human", "value": "h1"}, {"from": "gpt", "value": "g1"}]}',
    '{"nothing": 1}', "" }, "\n"))
  local src = session.open{ path = p, format = "conversations", turns = 2 }
  local a, b, c = src:pick(1), src:pick(2), src:pick(3)
  T.eq(a.system, "S")
  T.eq(#a.turns, 2, "at most `turns` turns")
  T.eq(a.turns[2].max_tokens, 7)
  T.eq(b.system, "sys")
  T.same({ b.turns[1].content, b.turns[2].content }, { "u1", "u2" })
  T.eq(b.turns[1].max_tokens, nil)
  T.eq(c.turns[1].content, "h1")
  T.eq(src:pick(4).system, "S", "loops past the record without turns")
  src:close()
  local ref = session.open{ path = p, format = "conversations" }
  ref.o.use_output_len = true
  ref:pick(1)
  T.eq(ref:pick(2).turns[1].max_tokens, 5, "the reference reply's length (4 characters a token)")
  write(p, '{"turns": [3]}\n')
  T.raises(function() session.open{ path = p }:pick(1) end, "a turn must be a string")
  os.remove(p)
end)

T.test("option checks: one-line reasons", function()
  local function bad(o, pat)
    o.model = o.model or "m"
    local ok, err = traffic.check(o)
    T.eq(ok, nil)
    T.ok(err:find(pat, 1, true), err)
  end
  bad({ cancel_rate = 0.2 }, "cancel_rate needs cancel_after")
  bad({ cancel_rate = 1.5, cancel_after = 1 }, "share in 0..1")
  bad({ cancel_rate = 0.1, cancel_after = "tokens:x" }, "cancel_after must be seconds")
  bad({ model_mix = "zipf" }, "model_mix needs a list of models")
  bad({ model = { "a", "b" }, model_mix = { 1 } }, "1 weights for 2 models")
  bad({ model = { "a", "a" } }, "listed twice")
  bad({ prefix = { tokens = 0 } }, "tokens must be a positive integer")
  bad({ think_time = 1 }, "think_time needs conversations")
  bad({ replay = { path = "x" }, rate = 2 }, "give no rate")
  bad({ conversations = { path = "x" }, prompt = "hi" }, "not both")
  bad({ sessions = 3 }, "give conversations too")
  T.ok(traffic.check{ model = { "a", "b" }, model_mix = { 3, 1 }, cancel_rate = 0.5, cancel_after = "tokens:4" })
  T.same(traffic.cancel_spec("tokens:4"), { events = 4 })
  T.same(traffic.cancel_spec(0.5), { after = 0.5 })
  -- weights 3:1 -> three quarters on the first model, reproducibly
  local o = { model = { "a", "b" }, model_mix = { 3, 1 }, seed = 4 }
  traffic.setup(o, function() return nil end)
  local n = 0
  for i = 1, 20000 do if traffic.model(o, i) == "a" then n = n + 1 end end
  T.near(n / 20000, 0.75, 0.01)
end)

-- a result as mlxbench.llm gives it
local function result(i, o)
  local r = { ok = true, i = i, ttft_s = 0.1 + i * 1e-3, e2e_s = 0.5, output_tokens = 10, input_tokens = 100,
              token_source = "usage", prompt_token_source = "usage", start_s = i, end_s = i + 0.5 }
  for k, v in pairs(o or {}) do r[k] = v end
  return r
end

T.test("workload figures: cache, reasoning, turns, models; exact across threads and merge", function()
  local function fill(c, from, to)
    c.w.multi = true
    for i = from, to do
      c:add(result(i, { cached_tokens = i % 2 == 0 and 64 or 0, model = i % 3 == 0 and "b" or "a",
                        turn = (i - 1) % 3 + 1, session = (i - 1) // 3 + 1, ttfr_s = 0.05, ttfa_s = 0.2,
                        reasoning_tokens = 6, answer_tokens = 4, reasoning_token_source = "usage" }))
      if i % 3 == 0 then c:add_session{ turns = 3, completed = 3, duration_s = 1 + i / 100 } end
    end
    c:add(result(to + 1, { ok = false, cancelled = true, model = "a" }))
  end
  local one = collect.new{ name = "x" }
  fill(one, 1, 30)
  one.t0 = 0
  local a, b = collect.new{ name = "x" }, collect.new{ name = "x" }
  fill(a, 1, 15)
  fill(b, 16, 30)
  a:absorb(b:dump())
  for _, c in ipairs{ one, a } do c.t0 = 0 end
  local r1, r2 = one:finish{}, a:finish{}
  -- the second collector has one more cancelled request (each fill adds one)
  T.eq(r1.requests.cancelled, 1)
  T.eq(r2.requests.cancelled, 2)
  T.eq(r1.requests.failed, 0, "a cancelled request is not a failure")
  T.ok(require("mlxbench.checks").parse_threshold("requests.cancelled<=1"), "a threshold path")
  T.eq(r1.tokens.cached, 15 * 64)
  T.eq(r1.tokens.cache_reported, 30)
  T.near(r1.tokens.cache_hit_ratio, 15 * 64 / 3000, 1e-12)
  T.eq(r1.requests.cache_hits, 15)
  T.eq(r1.prompt_cache.warm, 15)
  T.eq(r1.prompt_cache.cold, 15)
  T.eq(r1.tokens.reasoning, 180)
  T.eq(r1.tokens.answer, 120)
  T.eq(r1.metrics.ttfr_s.count, 30)
  T.eq(r1.sessions.started, 10)
  T.eq(#r1.sessions.by_turn, 3)
  T.eq(r1.sessions.by_turn[2].requests, 10)
  T.eq(r1.metrics.session_s.count, 10)
  T.eq(r1.by_model.b.requests, 10)
  T.eq(r1.by_model.a.cancelled, 1)
  -- threads: exactly the single collector's (but the extra cancelled one)
  for _, k in ipairs{ "cached", "cache_reported", "reasoning", "answer" } do T.eq(r2.tokens[k], r1.tokens[k], k) end
  T.eq(r2.sessions.histograms["ttft_s@2"], r1.sessions.histograms["ttft_s@2"])
  T.eq(r2.by_model.b.histograms.ttft_s, r1.by_model.b.histograms.ttft_s)
  T.same(r2.sessions.by_turn, r1.sessions.by_turn)
  -- merge: the two halves' runs give the whole's figures again
  local h1, h2 = collect.new{ name = "x" }, collect.new{ name = "x" }
  fill(h1, 1, 15)
  fill(h2, 16, 30)
  h1.t0, h2.t0 = 0, 0
  local out = { tokens = {}, requests = {}, metrics = r1.metrics, duration_s = 1 }
  workload.merge(out, { h1:finish{}, h2:finish{} })
  T.eq(out.tokens.cached, r1.tokens.cached)
  T.same(out.sessions.by_turn, r1.sessions.by_turn)
  T.eq(out.sessions.histograms["e2e_s@3"], r1.sessions.histograms["e2e_s@3"])
  T.eq(out.by_model.a.histograms.ttft_s, r1.by_model.a.histograms.ttft_s)
  T.eq(out.prompt_cache.warm, 15)
  T.eq(stats.decode(out.by_model.a.histograms.ttft_s):count(), r1.by_model.a.ok)
end)

T.run()
