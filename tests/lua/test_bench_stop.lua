-- bench.stop(): ends the run in progress (what is in flight finishes and is
-- reported); the next bench{} in the same script runs in full.
local T = require "harness"
local mb = require "mlxbench"
local bench = require "mlxbench.bench"
local tiers = require("mlxbench.target").tiers

local srv = mb.mock.start{ port = 0, seed = 1 }
local target = mb.target{ name = "emulated", url = srv.url }

T.test("stop() ends the current run only; the next run is complete", function()
  local seen = 0
  local first = mb.bench{ target = target, model = tiers.small, max_tokens = 4, requests = 40,
                          concurrency = 2,
                          on_result = function() seen = seen + 1 if seen == 3 then bench.stop() end end }
  T.ok(first.requests.total < 40, "the stopped run ended early: " .. first.requests.total)
  T.ok(first.requests.total >= 3)
  local second = mb.bench{ target = target, model = tiers.small, max_tokens = 4, requests = 6,
                           concurrency = 2 }
  T.eq(second.requests.total, 6, "the next run is not stopped")
  T.eq(second.requests.ok, 6)
end)

T.run()
srv:stop()
