-- slo_search.lua: the highest request rate at which 95 % of requests still
-- meet TTFT <= 150 ms -- bisection over open-loop runs.
--   mlxbench examples/slo_search.lua [--url URL --model NAME]
local mb = require "mlxbench"
local common = require "common"

local target, srv, opts = common.target({ ... })
local found = mb.search{
  target = target, model = opts.model, prompt = "short",
  max_tokens = 24, duration = 2, arrival = "poisson", seed = 5,
  slo = { ttft = 0.15 }, attainment = 0.95, rate = { 1, 64 }, steps = 4,
}
common.check(found.runs, srv)
for _, r in ipairs(found.runs) do
  print(string.format("rate %6.2f req/s: SLO met by %5.1f%% -> %s", r.sweep.rate,
    100 * r.search.attainment, r.search.pass and "pass" or "fail"))
end
print(found.best and string.format("highest rate meeting the SLO: %.2f req/s", found.best)
  or "no tested rate meets the SLO")
if srv then srv:stop() end
