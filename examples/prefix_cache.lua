-- prefix_cache.lua: how much TTFT does the server's prompt (prefix) cache
-- save? K shared system prompts of N tokens; each is sent cold once, then
-- warm with other questions of the same length, one request at a time so
-- nothing but the cache differs. The server's own cached_tokens (usage)
-- say which requests were warm.
--   mlxbench -I examples examples/prefix_cache.lua [--url URL --model NAME]
--       [--prefix-tokens 2048] [--prefixes 4] [--warm 5] [-o results.json]
-- Against the embedded emulator (the default) the emulator runs with a
-- prefix cache, so the expected saving is known: the cached tokens'
-- prefill time at the model's prefill_tok_s. It is printed next to the
-- measured one, and the emulator's own record of cached tokens next to
-- the client's.
local mb = require "mlxbench"
local common = require "common"
local results = require "mlxbench.results"

-- the emulator: built-in models, a vLLM-like prefix cache of 16-token blocks
local PROFILE = { prefix_cache = { blocks = 65536, block_tokens = 16 } }
local PREFILL_TOK_S = 4000   -- the small tier's prefill rate (docs/MOCK.md, built-in models)

local target, srv, opts = common.target({ ... }, {
  spec = {
    ["prefix-tokens"] = { arg = "N", int = { 16, 1000000 }, help = "tokens of each shared prefix (default 2048)" },
    prefixes = { arg = "K", int = { 1, 1000 }, help = "distinct prefixes (default 4)" },
    warm = { arg = "R", int = { 1, 10000 }, help = "warm requests per prefix (default 5)" },
    output = { short = "o", arg = "FILE", help = "write the results file" },
  },
  order = { "prefix-tokens", "prefixes", "warm", "output" },
  profile = PROFILE,
})
local n, k, warm = opts["prefix-tokens"] or 2048, opts.prefixes or 4, opts.warm or 5

-- K prefixes round robin, one request at a time: requests 1..K are each
-- prefix's first (cold), the rest warm; every question 64 tokens
local run = mb.bench{
  name = string.format("prefix cache %d x %d tokens", k, n), target = target, model = opts.model,
  prefix = { tokens = n, count = k, dist = "round_robin" }, synthetic = { input = 64 },
  requests = k * (1 + warm), concurrency = 1, warmup = 0, max_tokens = 8, seed = 5,
}
common.check({ run }, srv)

local m, pc = run.metrics, run.prompt_cache or {}
local cold, warm50 = m.ttft_cold_s and m.ttft_cold_s.p50, m.ttft_warm_s and m.ttft_warm_s.p50
print(string.format("cold requests: %d, TTFT p50 %s ms; warm requests: %d, TTFT p50 %s ms",
  pc.cold or 0, common.ms(cold), pc.warm or 0, common.ms(warm50)))
if cold and warm50 then
  print(string.format("the cache saved %.1f ms of TTFT (p50), %.2fx faster (%s)", (cold - warm50) * 1000,
    cold / warm50, pc.basis == "server" and "warm: the server reported cached tokens" or
    "warm: the prefix's later uses (the server reports no cached tokens)"))
end
local t = run.tokens
if t.cache_reported then
  print(string.format("cached prompt tokens: %d of %d (hit ratio %.1f%%), %d requests hit",
    t.cached, t.cache_input, 100 * t.cache_hit_ratio, run.requests.cache_hits))
end

if srv then
  -- the emulator's ground truth: its trace's cached tokens, and the prefill
  -- time of the cached tokens of a warm request
  local trace, sum, per = srv:trace{ limit = 100000 }, 0, {}
  for _, r in ipairs(trace.requests) do
    sum = sum + r.cached_tokens
    if r.cached_tokens > 0 then per[#per + 1] = r.cached_tokens end
  end
  table.sort(per)
  local typical = per[(#per + 1) // 2]
  print(string.format("emulator trace: %d cached tokens in all (client counted %d)", sum, t.cached or 0))
  if typical then
    print(string.format("expected saving: %d cached tokens at %d prefill tok/s = %.1f ms", typical, PREFILL_TOK_S,
      typical / PREFILL_TOK_S * 1000))
  end
  run.emulator = { trace_cached_tokens = sum, warm_cached_tokens = typical, prefill_tok_s = PREFILL_TOK_S }
end
if opts.output then
  local doc = results.new()
  results.add(doc, run)
  results.write(doc, opts.output)
end
if srv then srv:stop() end
