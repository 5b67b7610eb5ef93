-- failover.lua: what users see when the primary backend dies for 10 s.
-- An emulated primary serving the small tier and an emulated fallback
-- serving the medium tier (slower) behind a failover target list; 4 req/s
-- load for 20 s; the primary refuses every request from t=5 s to t=15 s.
--   mlxbench examples/failover.lua
local mb = require "mlxbench"
local common = require "common"
local timeline = require "mlxbench.timeline"
local tiers = require("mlxbench.target").tiers

local primary_srv = mb.mock.start{ port = 0, seed = 1 }
local fallback_srv = mb.mock.start{ port = 0, seed = 2 }
local target = mb.target{
  { name = "primary", url = primary_srv.url },
  { name = "fallback", url = fallback_srv.url, model = tiers.medium, serves = true },
  policy = "failover", retry_after = 0.5,
}

-- the fault, on the clock of the run (it starts right after this)
local injector = mb.spawn(function()
  mb.time.sleep(5)
  primary_srv:set_faults{ error_rate = 1.0, status = 503 }
  mb.mark("fault on: primary returns 503")
  mb.time.sleep(10)
  primary_srv:set_faults{ error_rate = 0 }
  mb.mark("fault off")
end)

local run = mb.bench{
  name = "failover", target = target, model = tiers.small, prompt = "short", max_tokens = 16,
  rate = 4, arrival = "constant", duration = 20, timeline = true,
  stream = true,
}
mb.wait(injector)
common.check({ run })
print("Timeline (1 s buckets by completion time)")
io.write(timeline.text(run))
local out = arg[1] == "-o" and arg[2]
if out then
  local results = require "mlxbench.results"
  local doc = results.new()
  results.add(doc, run)
  results.write(doc, out)
end
primary_srv:stop()
fallback_srv:stop()
