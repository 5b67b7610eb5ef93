-- conversation.lua: chat users whose context grows. Each virtual user holds
-- a conversation from examples/data/conversations.jsonl: every turn is sent
-- with the whole history -- the model's own streamed replies included --
-- after a think time. TTFT by turn shows whether the server's prompt cache
-- keeps up with the growing context: the same conversations run against a
-- server without a prefix cache and (the emulator, by default) one with.
--   mlxbench -I examples examples/conversation.lua [--url URL --model NAME]
--       [--sessions 8] [--users 4] [--think 0.2:0.05] [-o results.json]
local mb = require "mlxbench"
local common = require "common"
local results = require "mlxbench.results"

local DATA = (arg and arg[0] or "examples/conversation.lua"):gsub("[^/]*$", "") .. "data/conversations.jsonl"

local target, srv, opts = common.target({ ... }, {
  spec = {
    sessions = { arg = "N", int = { 1, 100000 }, help = "conversations to run (default 8)" },
    users = { arg = "N", int = { 1, 10000 }, help = "concurrent users (default 4)" },
    think = { arg = "T", help = "think time between turns: S, S:SD, MIN-MAX, exp:MEAN (default 0.2:0.05)" },
    output = { short = "o", arg = "FILE", help = "write the results file" },
  },
  order = { "sessions", "users", "think", "output" },
})

local function chat(t, name)
  return mb.bench{
    name = name, target = t, model = opts.model, conversations = { path = DATA, format = "conversations" },
    think_time = opts.think or "0.2:0.05", sessions = opts.sessions or 8, concurrency = opts.users or 4,
    warmup = 0, max_tokens = 48, seed = 9,
  }
end

local runs = { chat(target, srv and "no prompt cache" or "server") }
local cached_srv
if srv then
  -- the same conversations against an emulator that keeps a prefix cache
  cached_srv = mb.mock.start{ port = 0, seed = 1, profile = { prefix_cache = { blocks = 65536, block_tokens = 16 } } }
  runs[2] = chat(mb.target{ name = "emulated+cache", url = cached_srv.url }, "prompt cache")
end
common.check(runs, srv)

print(string.format("%-16s %6s %6s %8s  %s", "run", "turn", "reqs", "in tok", "TTFT p50 / p95 ms"))
for _, r in ipairs(runs) do
  for _, t in ipairs(r.sessions.by_turn) do
    print(string.format("%-16s %6d %6d %8.0f  %s / %s", r.name, t.turn, t.requests, t.input_tokens_mean or 0,
      common.ms(t.ttft_s and t.ttft_s.p50), common.ms(t.ttft_s and t.ttft_s.p95)))
  end
  local s = r.sessions
  print(string.format("%-16s %d conversations, %d completed, %.1f turns each, session p50 %s ms", r.name,
    s.started, s.completed, s.turns_per_session or 0, common.ms(r.metrics.session_s and r.metrics.session_s.p50)))
end
if opts.output then
  local doc = results.new()
  for _, r in ipairs(runs) do results.add(doc, r) end
  results.write(doc, opts.output)
end
if cached_srv then cached_srv:stop() end
if srv then srv:stop() end
