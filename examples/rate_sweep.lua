-- rate_sweep.lua: where does goodput peak? Open-loop rates 2..16 req/s with
-- a TTFT/TPOT SLO; each rate is its own run.
--   mlxbench examples/rate_sweep.lua [--url URL --model NAME]
local mb = require "mlxbench"
local common = require "common"

local target, srv, opts = common.target({ ... })
local runs = common.check(mb.sweep{
  target = target, model = opts.model, prompt = "short",
  max_tokens = 32, duration = 3, arrival = "poisson", seed = 3,
  slo = { ttft = 0.2, tpot = 0.02 },
  over = "rate", values = { 2, 4, 8, 16 },
}, srv)
print(string.format("%8s %10s %12s %12s %10s", "rate", "goodput/s", "out tok/s", "TTFT p95 ms", "SLO met"))
for _, r in ipairs(runs) do
  print(string.format("%8g %10.2f %12.1f %12s %9.0f%%", r.sweep.rate, r.throughput.goodput_s,
    r.throughput.output_tok_s, common.ms(r.metrics.ttft_s and r.metrics.ttft_s.p95),
    100 * (r.requests.slo_met or 0) / math.max(1, r.requests.total)))
end
if srv then srv:stop() end
