-- Prompts: built-ins, synthetic lengths, weighted mixes, streamed datasets.
local T = require "harness"
local prompts = require "mlxbench.prompts"
local dataset = require "mlxbench.dataset"
local cjson = require "cjson"

local base_tmp = os.tmpname()
local tmp = base_tmp .. ".json"

T.test("built-ins and the 4-chars token rule", function()
  T.eq(prompts.resolve("short")[1].prompt, "What is 2+2?")
  T.eq(prompts.estimate_tokens("abcd"), 1)
  T.eq(prompts.estimate_tokens("abcde"), 2)
  local s = prompts.synthetic(100, 3)
  T.eq(#s, 400)
  T.eq(prompts.estimate_tokens(s), 100)
  T.eq(s, prompts.synthetic(100, 3), "deterministic")
  T.ok(s ~= prompts.synthetic(100, 4), "seeded")
end)

T.test("weighted mix: reproducible picks in proportion", function()
  local mix = prompts.mix{ { weight = 0.7, prompt = "chat" }, { weight = 0.3, prompts = { "doc a", "doc b" } } }
  local pick = prompts.picker(mix, 42)
  local n, chat = 20000, 0
  for i = 1, n do
    if pick(i).prompt == "chat" then chat = chat + 1 end
  end
  T.near(chat / n, 0.7, 0.015)
  local again = prompts.picker(mix, 42)
  for i = 1, 200 do T.eq(again(i).prompt, pick(i).prompt) end
  local other = prompts.picker(mix, 43)
  local diff = 0
  for i = 1, 200 do if other(i).prompt ~= pick(i).prompt then diff = diff + 1 end end
  T.ok(diff > 20, "another seed picks differently")
end)

T.test("synthetic spec: drawn input/output lengths", function()
  local src = prompts.synthetic_spec{ input = { mean = 200, sd = 20, min = 100, max = 300 },
                                      output = { min = 10, max = 50 }, seed = 5 }
  local sum, lo, hi = 0, math.huge, 0
  for i = 1, 2000 do
    local p = src:pick(i)
    local n = prompts.estimate_tokens(p.prompt)
    sum = sum + n
    T.ok(p.max_tokens >= 10 and p.max_tokens <= 50)
    lo, hi = math.min(lo, p.max_tokens), math.max(hi, p.max_tokens)
  end
  T.near(sum / 2000, 200, 3)
  T.ok(lo <= 12 and hi >= 48, "uniform output lengths cover the range")
  T.eq(src:pick(7).prompt, src:pick(7).prompt)
end)

T.test("ShareGPT JSON streamed: first turn, reply length, bounded memory", function()
  local f = assert(io.open(tmp, "wb"))
  f:write("[")
  local filler = string.rep("lorem ipsum dolor sit amet ", 40)
  local count = 40000
  for i = 1, count do
    if i > 1 then f:write(",\n") end
    f:write(cjson.encode{ id = "c" .. i, conversations = {
      { from = "system", value = "be brief" },
      { from = "human", value = "question " .. i .. " " .. filler },
      { from = "gpt", value = string.rep("x", 40 + i % 17) },
      { from = "human", value = "follow-up " .. i },
      { from = "gpt", value = "yy" },
    } })
  end
  f:write("]\n")
  f:close()
  local size = io.open(tmp):seek("end")
  T.ok(size > 40e6, "test file is " .. size .. " bytes")
  collectgarbage()
  local base = collectgarbage("count")
  local ds = dataset.open{ path = tmp, use_output_len = true }
  T.eq(ds.format, "sharegpt")
  local peak = 0
  for i = 1, count do
    local p = ds:next()
    if i % 1000 == 0 then
      collectgarbage()
      peak = math.max(peak, collectgarbage("count") - base)
    end
    if i == 1 or i == count then
      T.eq(#p.messages, 2)
      T.eq(p.messages[1].role, "system")
      T.eq(p.messages[2].content:sub(1, #("question " .. i)), "question " .. i)
      T.eq(p.max_tokens, math.ceil((40 + i % 17) / 4))
    end
  end
  T.ok(peak < 8 * 1024, string.format("peak Lua memory %.0f KiB for a %.0f MB file", peak, size / 1e6))
  -- loops back to the start
  T.eq(ds:next().messages[2].content:sub(1, 10), "question 1")
  ds:close()
end)

T.test("ShareGPT history mode keeps the turns before the last asked question", function()
  local p = dataset.from_conversation({
    { from = "human", value = "a" }, { from = "gpt", value = "b" },
    { from = "human", value = "c" }, { from = "gpt", value = "dddd" } }, "history", true)
  T.eq(#p.messages, 3)
  T.eq(p.messages[3].content, "c")
  T.eq(p.max_tokens, 1)
end)

T.test("JSONL in OpenAI messages form; limit; bad lines are clear errors", function()
  local f = assert(io.open(tmp .. ".jsonl", "w"))
  f:write('{"messages":[{"role":"user","content":"one"}]}\n')
  f:write('\n# a comment\n')
  f:write('{"prompt":"two","max_tokens":7}\n')
  f:write('{"messages":[{"role":"user","content":"three"},{"role":"assistant","content":"12345678"}]}\n')
  f:close()
  local ds = dataset.open{ path = tmp .. ".jsonl", use_output_len = true, limit = 3 }
  T.eq(ds:next().messages[1].content, "one")
  local two = ds:next()
  T.eq(two.prompt, "two")
  T.eq(two.max_tokens, 7)
  local three = ds:next()
  T.eq(#three.messages, 1)
  T.eq(three.max_tokens, 2)
  T.eq(ds:next().messages[1].content, "one", "limit reached: loops")
  ds:close()
  local g = assert(io.open(tmp .. ".jsonl", "w"))
  g:write('{"prompt":"ok"}\n{not json}\n')
  g:close()
  local bad = dataset.open{ path = tmp .. ".jsonl" }
  T.raises(function() bad:next() bad:next() end, ":2: not valid JSON")
  os.remove(tmp .. ".jsonl")
end)

-- issue 14 item 1: lua-cjson decodes every JSON number as a float
T.test("integral JSON numbers are integers wherever one is expected", function()
  local f = assert(io.open(tmp .. "-n.jsonl", "w"))
  f:write('{"messages":[{"role":"user","content":"a"}],"max_tokens":5}\n')
  f:write('{"prompt":"b","max_tokens":7.0}\n')
  f:close()
  local list = prompts.load_jsonl(tmp .. "-n.jsonl")
  T.eq(list[1].max_tokens, 5) T.eq(math.type(list[1].max_tokens), "integer")
  T.eq(math.type(list[2].max_tokens), "integer")
  local ds = dataset.open{ path = tmp .. "-n.jsonl" }
  local p = ds:next()
  T.eq(p.max_tokens, 5) T.eq(math.type(p.max_tokens), "integer")
  ds:close()
  -- llm.request and bench{} take a float that is a whole number
  local llm = require "mlxbench.llm"
  local srv = require("mlxbench").mock.start{ port = 0 }
  local r = llm.request{ target = { url = srv.url }, model = require("mlxbench.target").tiers.small, prompt = "x", max_tokens = 5.0,
                         stream = true, include_usage = true }
  T.ok(r.ok, r.error and r.error.message)
  T.eq(srv:trace().requests[1].output_tokens <= 5, true)
  local run = require("mlxbench").bench{ target = { url = srv.url }, model = require("mlxbench.target").tiers.small, requests = 2.0,
                                         concurrency = 1.0, warmup = 0.0, max_tokens = 3.0, prompt = "x" }
  T.eq(run.requests.total, 2)
  T.raises(function()
    llm.request{ target = { url = srv.url }, model = require("mlxbench.target").tiers.small, prompt = "x", max_tokens = 2.5 }
  end, "max_tokens must be a positive integer, got 2.5")
  srv:stop()
  -- a value that is not a whole number is named with its file and line
  local g = assert(io.open(tmp .. "-n.jsonl", "w"))
  g:write('{"prompt":"a","max_tokens":4}\n{"prompt":"b","max_tokens":2.5}\n')
  g:close()
  T.raises(function() prompts.load_jsonl(tmp .. "-n.jsonl") end, "%-n%.jsonl:2: max_tokens must be a positive integer, got 2.5")
  local bad = dataset.open{ path = tmp .. "-n.jsonl" }
  T.raises(function() bad:next() bad:next() end, "%-n%.jsonl:2: max_tokens must be a positive integer, got 2.5")
  T.raises(function() dataset.open{ path = tmp .. "-n.jsonl" }:check() end, ":2: max_tokens")
  -- check(n) reads no further than the records a run uses
  dataset.open{ path = tmp .. "-n.jsonl" }:check(1)
  os.remove(tmp .. "-n.jsonl")
  -- synthetic:N needs a number
  T.raises(function() prompts.resolve("synthetic:abc") end, "want synthetic:N")
  T.eq(#prompts.resolve("synthetic:8")[1].prompt, 32)
end)

T.test("resolve: @file.json is streamed as a source", function()
  local src = prompts.resolve("@" .. tmp)
  T.ok(src.pick, "a source")
  T.ok(src:pick(1).messages)
end)

T.run()
os.remove(tmp)
os.remove(base_tmp)
