-- tier_sweep.lua: the three model sizes, streaming, at concurrency 1 and 4.
--   mlxbench examples/tier_sweep.lua [--url URL --models SMALL,MEDIUM,LARGE]
local mb = require "mlxbench"
local common = require "common"

local target, srv, opts = common.target({ ... })
local runs = common.check(mb.sweep{
  target = target, prompt = "medium", max_tokens = 16, requests = 4, warmup = 1,
  over = { model = opts.models, concurrency = { 1, 4 } },
}, srv)
io.write(mb.report.table(runs))
if srv then srv:stop() end
