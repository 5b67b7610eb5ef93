-- prompt_mix.lua: "what TTFT p99 do we hold at 4 req/s of a 70/30
-- chat/long-document mix?" -- open loop, Poisson arrivals, the team's mix.
--   mlxbench -I examples examples/prompt_mix.lua [--url URL --model NAME]
local mb = require "mlxbench"
local common = require "common"
local chat_mix = require "teamlib.chat_mix"

local target, srv, opts = common.target({ ... })
local run = mb.bench{
  name = "70/30 chat/doc mix @ 4 req/s", target = target, model = opts.model,
  prompts = chat_mix.mix(800), rate = 4, arrival = "poisson", duration = 5, seed = 11,
  slo = { ttft = 0.5 },
}
common.check({ run }, srv)
io.write(mb.report.table(run))
print(string.format("TTFT p99 %s ms, latency (from intended send) p99 %s ms, SLO met by %d of %d",
  common.ms(run.metrics.ttft_s and run.metrics.ttft_s.p99),
  common.ms(run.metrics.latency_s and run.metrics.latency_s.p99), run.requests.slo_met or 0,
  run.requests.total))
if srv then srv:stop() end
