-- replay.lua: production traffic, replayed. examples/data/mooncake_small.jsonl
-- is a small trace in Mooncake's format made for this example (80 requests
-- over ~9 s from three applications whose requests share system-prompt
-- blocks and conversation histories: `hash_ids` name 512-token blocks).
-- Each request is sent at its timestamp (scaled by --speed) with a prompt
-- synthesised to its input length, shared blocks as shared text, so a
-- server's prefix cache sees the trace's reuse.
--   mlxbench -I examples examples/replay.lua [--url URL --model NAME]
--       [--trace FILE] [--speed 2] [-o results.json]
local mb = require "mlxbench"
local common = require "common"
local results = require "mlxbench.results"

local DIR = (arg and arg[0] or "examples/replay.lua"):gsub("[^/]*$", "")

local target, srv, opts = common.target({ ... }, {
  spec = {
    trace = { arg = "FILE", help = "the trace (default examples/data/mooncake_small.jsonl)" },
    speed = { arg = "X", num = { 0, 1000, gt = true }, help = "replay X times as fast (default 1)" },
    output = { short = "o", arg = "FILE", help = "write the results file" },
  },
  order = { "trace", "speed", "output" },
  -- the emulator: the vLLM-like profile's prefix cache of 16-token blocks
  profile = { prefix_cache = { blocks = 262144, block_tokens = 16 } },
})

local run = mb.bench{
  name = "mooncake replay", target = target, model = opts.model, max_tokens = 256,
  replay = { path = opts.trace or (DIR .. "data/mooncake_small.jsonl"), speed = opts.speed or 1 },
  seed = 3,
}
common.check({ run }, srv)
io.write(mb.report.table(run))
local c, m = run.client, run.metrics
print(string.format("%d requests over %.1f s of trace; sent %s ms late at p99 (max %s ms)", run.requests.total,
  run.config.replay.span_s, common.ms(c.send_lag_p99_s), common.ms(c.send_lag_max_s)))
print(string.format("latency from the trace's send time: p50 %s ms, p99 %s ms",
  common.ms(m.latency_s and m.latency_s.p50), common.ms(m.latency_s and m.latency_s.p99)))
if run.tokens.cached then
  print(string.format("prefix reuse: %d of %d prompt tokens were cached (%.1f%%)", run.tokens.cached,
    run.tokens.cache_input, 100 * run.tokens.cache_hit_ratio))
end
if opts.output then
  local doc = results.new()
  results.add(doc, run)
  results.write(doc, opts.output)
end
if srv then srv:stop() end
