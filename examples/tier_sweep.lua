-- tier_sweep.lua: the three model sizes, streaming, at concurrency 1 and 4.
--   mlxbench examples/tier_sweep.lua [--url URL]
local mb = require "mlxbench"
local common = require "common"
local tiers = require("mlxbench.target").tiers

local target, srv = common.target({ ... })
local runs = mb.sweep{
  target = target, prompt = "medium", max_tokens = 16, requests = 4, warmup = 1,
  over = { model = { tiers.small, tiers.medium, tiers.large }, concurrency = { 1, 4 } },
}
io.write(mb.report.table(runs))
if srv then srv:stop() end
