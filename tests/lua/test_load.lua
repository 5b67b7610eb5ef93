-- tier: slow (not in tools/test.sh --fast)
-- run: serial (wall-clock tolerances: tests/tests.cmake)
-- Load shapes against the emulator: open-loop Poisson arrivals (count,
-- goodness of fit, reproducible schedules), stalls that show in latency_s
-- without slowing the sender, max_inflight, closed-loop warm-up/cool-down,
-- stages, SLOs and goodput, thresholds.
local T = require "harness"
local mb = require "mlxbench"
local load = require "mlxbench.load"
local checks = require "mlxbench.checks"
local tiers = require("mlxbench.target").tiers

local srv = mb.mock.start{ port = 0, seed = 1 }
local target = mb.target{ name = "emulated", url = srv.url }

-- Kolmogorov-Smirnov statistic of samples against Exp(rate)
local function ks_exp(xs, rate)
  table.sort(xs)
  local d, n = 0, #xs
  for i, x in ipairs(xs) do
    local f = 1 - math.exp(-rate * x)
    d = math.max(d, math.abs(f - (i - 1) / n), math.abs(i / n - f))
  end
  return d
end

T.test("Poisson 20 req/s for 10 s: 200 +- 3 sigma requests, exponential gaps, seeded", function()
  local run = mb.bench{
    target = target, model = tiers.small, prompt = "short", max_tokens = 4,
    rate = 20, arrival = "poisson", duration = 10, seed = 77,
  }
  local n = run.requests.total
  T.ok(math.abs(n - 200) <= 3 * math.sqrt(200), "sent " .. n)
  T.eq(run.requests.ok, n)
  -- the achieved send times, not just the plan
  local starts = {}
  for _, q in ipairs(run.per_request) do starts[#starts + 1] = q.start_s end
  table.sort(starts)
  local gaps = {}
  for i = 2, #starts do gaps[#gaps + 1] = starts[i] - starts[i - 1] end
  local d = ks_exp(gaps, 20)
  local crit = 1.36 / math.sqrt(#gaps)   -- 5 % level
  T.ok(d < crit, string.format("KS D=%.4f < %.4f", d, crit))
  -- sent on schedule: send lag tiny
  T.ok(run.metrics.queue_s.p99 < 0.01, "queue p99 " .. run.metrics.queue_s.p99)
  T.ok(run.client.send_lag_p99_s < 0.01)
  -- the same seed gives the same schedule, another seed another
  local a = load.schedule{ rate = 20, arrival = "poisson", duration = 10, seed = 77 }
  local b = load.schedule{ rate = 20, arrival = "poisson", duration = 10, seed = 77 }
  local c = load.schedule{ rate = 20, arrival = "poisson", duration = 10, seed = 78 }
  T.eq(#a, #b)
  for i = 1, #a do T.eq(a[i], b[i]) end
  T.ok(a[1] ~= c[1])
  T.eq(#a, n, "the run sent exactly its schedule")
  local sched = {}
  for _, q in ipairs(run.per_request) do sched[#sched + 1] = q.scheduled_s end
  table.sort(sched)
  for i = 1, #a do T.near(sched[i], a[i], 1e-6) end
end)

T.test("stalls of 2 s on 10% of requests show in latency_s; sending keeps its schedule", function()
  srv:set_faults{ stall_rate = 0.1, stall_after = 2, stall_s = 2 }
  local t0 = mb.time.now()
  local run = mb.bench{
    target = target, model = tiers.small, prompt = "short", max_tokens = 8,
    rate = 10, arrival = "constant", duration = 5, seed = 3,
  }
  local took = mb.time.now() - t0
  srv:set_faults{ stall_rate = 0 }
  T.eq(run.requests.total, 50)
  T.eq(run.requests.ok, 50)
  T.ok(run.metrics.latency_s.p99 > 2.0, "latency p99 " .. run.metrics.latency_s.p99)
  T.ok(run.metrics.latency_s.p50 < 0.5, "latency p50 " .. run.metrics.latency_s.p50)
  T.ok(run.metrics.queue_s.max < 0.01, "no request was sent late: " .. run.metrics.queue_s.max)
  -- the last request was sent at 4.9 s, whatever the stalls
  local last = 0
  for _, q in ipairs(run.per_request) do last = math.max(last, q.start_s) end
  T.near(last, 4.9, 0.02)
  T.ok(took < 5 + 2 + 1.5, "run took " .. took)
  local stats = srv:stats()
  T.ok(stats.faults.stall >= 1, "the emulator stalled some requests")
end)

T.test("max_inflight delays sends and records the lateness, never drops", function()
  local run = mb.bench{
    target = target, model = tiers.small, prompt = "short", max_tokens = 16,
    rate = 50, arrival = "constant", requests = 30, max_inflight = 2,
  }
  T.eq(run.requests.total, 30)
  T.eq(run.requests.ok, 30)
  T.ok(run.metrics.queue_s.max > 0.5, "late sends recorded: " .. run.metrics.queue_s.max)
  T.ok(run.metrics.latency_s.p99 > run.metrics.e2e_s.p99, "latency from the intended send")
end)

T.test("closed loop: warm-up seconds excluded, cool-down reported apart", function()
  local run = mb.bench{
    target = target, model = tiers.small, prompt = "short", max_tokens = 30,
    concurrency = 3, duration = 1.5, warmup_s = 0.5,
  }
  T.ok(run.requests.warmup >= 3, "warm-up requests " .. run.requests.warmup)
  T.ok(run.cooldown and run.cooldown.requests >= 1, "in-flight requests at the end kept apart")
  for _, q in ipairs(run.per_request) do
    T.ok(q.start_s >= -1e-3, "measured requests start after the warm-up")
    T.ok(q.start_s + q.e2e_s <= 1.5 + 1e-3, "and end before the run's end")
  end
end)

-- issue 14 items 3 and 4: the warm-up is over before the first measured
-- request leaves, in both loops; -n counts measured requests only
T.test("warm-up first, then the measured part (closed and open loop)", function()
  for _, shape in ipairs{ { concurrency = 4 }, { rate = 20, arrival = "constant" } } do
    srv:reset_trace()
    local o = { target = target, model = tiers.small, prompt = "short", max_tokens = 20, requests = 8,
                warmup = 3, ignore_eos = true }
    for k, v in pairs(shape) do o[k] = v end
    local run = mb.bench(o)
    T.eq(run.requests.total, 8, "measured")
    T.eq(run.requests.warmup, 3, "warm-up")
    local recs = srv:trace{ limit = 100 }.requests
    T.eq(#recs, 11)
    table.sort(recs, function(a, b) return a.arrival_ns < b.arrival_ns end)
    local warm_end = 0
    for k = 1, 3 do warm_end = math.max(warm_end, recs[k].end_ns) end
    for k = 4, 11 do
      T.ok(recs[k].arrival_ns >= warm_end, (shape.rate and "open" or "closed")
        .. ": a measured request arrived before the warm-up ended")
    end
    for _, q in ipairs(run.per_request) do T.ok(q.i > 3, "measured requests are numbered after the warm-up") end
  end
end)

T.test("stages ramp the rate; the schedule follows the ramp", function()
  local times = load.schedule{ stages = { { duration = 2, rate = 20 }, { duration = 2, rate = 20 } },
                               arrival = "constant" }
  -- 0 -> 20 req/s over 2 s (20 requests) then 20 req/s for 2 s (40)
  T.near(#times, 60, 1)
  local first_half = 0
  for _, t in ipairs(times) do if t < 1 then first_half = first_half + 1 end end
  T.near(first_half, 5, 1)   -- integral of the ramp over [0,1] = 5
  local run = mb.bench{ target = target, model = tiers.small, prompt = "short", max_tokens = 4,
                        stages = { { duration = 1, rate = 10 }, { duration = 1, rate = 10 } },
                        arrival = "constant" }
  T.near(run.requests.total, 15, 1)
end)

T.test("SLO goodput and thresholds", function()
  local run = mb.bench{
    target = target, model = tiers.small, prompt = "short", max_tokens = 8, requests = 6,
    concurrency = 2, slo = { ttft = 10 },
  }
  T.eq(run.requests.slo_met, 6)
  T.near(run.throughput.goodput_s, run.throughput.requests_s, 1e-9)
  local strict = mb.bench{
    target = target, model = tiers.small, prompt = "short", max_tokens = 8, requests = 4,
    slo = { ttft = 0.000001 },
  }
  T.eq(strict.requests.slo_met, 0)
  T.eq(strict.throughput.goodput_s, 0)
  local v = checks.evaluate(strict, strict.slo, {
    assert(checks.parse_threshold("ttft_s.p95<0.5")),
    assert(checks.parse_threshold("requests.failed==0")),
    assert(checks.parse_threshold("throughput.output_tok_s>1e9")),
  })
  T.eq(#v.failures, 2, "SLO attainment and the impossible throughput fail")
  T.ok(v.failures[1]:find("throughput.output_tok_s>1e9", 1, true))
end)

T.test("unknown options and bad shapes are clear errors", function()
  T.raises(mb.bench, "unknown option 'concurency'", { target = target, model = "m", concurency = 2 })
  T.raises(mb.bench, "not both", { target = target, model = "m", rate = 2, concurrency = 2 })
  T.raises(mb.bench, "arrival must be", { target = target, model = "m", rate = 2, arrival = "x" })
end)

T.run()
srv:stop()
