-- mlxbench.checks: SLO keys and threshold paths are checked before a run
-- (a typo is an error with a suggestion, never a check that passes), and a
-- failed threshold prints the measured value in the limit's unit (issue 14
-- item 7).
local T = require "harness"
local checks = require "mlxbench.checks"
local mb = require "mlxbench"

T.test("SLO keys: known ones pass, a typo is refused with a suggestion", function()
  T.ok(checks.check_slo{ ttft = 0.5, tpot = 0.05, e2e = 10, latency = 2, attainment = 0.9 })
  local ok, err = checks.check_slo{ tfft = 0.001 }
  T.eq(ok, nil)
  T.ok(err:find("unknown key 'tfft' (did you mean ttft?)", 1, true), err)
  ok, err = checks.check_slo{ tpt = 1 }
  T.ok(err:find("did you mean tpot?", 1, true), err)
  ok, err = checks.check_slo{ ttft = -1 }
  T.ok(err:find("ttft must be a number > 0", 1, true), err)
  ok, err = checks.check_slo{ attainment = 1.5 }
  T.ok(err:find("attainment is a share", 1, true), err)
  ok, err = checks.check_slo{ e2e = 1e9 }
  T.ok(err:find("in seconds", 1, true), err)
end)

T.test("threshold paths: metrics, statistics and run paths; typos suggested", function()
  for _, good in ipairs{ "ttft_s.p95<0.5", "itl_s.p999<=20ms", "latency_s.p99 < 2s", "requests.failed==0",
                         "throughput.output_tok_s>100", "summary.avg_tok_s>=10", "e2e_s.count>5",
                         "requests.errors.http_503==0", "duration_s<60", "requests.stopped_early==0" } do
    local th, err = checks.parse_threshold(good)
    T.ok(th, good .. ": " .. tostring(err))
  end
  local th, err = checks.parse_threshold("ttfts.p95<1")
  T.eq(th, nil)
  T.ok(err:find("unknown path 'ttfts.p95' (did you mean ttft_s.p95?)", 1, true), err)
  th, err = checks.parse_threshold("ttft_s.p96<1")
  T.ok(err:find("'ttft_s' has no statistic 'p96'", 1, true), err)
  th, err = checks.parse_threshold("requests.faild==0")
  T.ok(err:find("did you mean requests.failed?", 1, true), err)
  th, err = checks.parse_threshold("throughput.output_tok_s>1ms")
  T.ok(err:find("is not a time, it takes no unit", 1, true), err)
  th, err = checks.parse_threshold("ttft_s.p95 about 1")
  T.ok(err:find("want PATH OP VALUE", 1, true), err)
end)

T.test("measured values in the limit's unit", function()
  local run = { metrics = { ttft_s = { p95 = 0.048537 }, e2e_s = { p50 = 1.25 } },
                requests = { total = 4, ok = 4, failed = 0 }, throughput = { output_tok_s = 55.5 } }
  local ths = {}
  for _, e in ipairs{ "ttft_s.p95<1ms", "e2e_s.p50<0.5", "e2e_s.p50<500ms", "throughput.output_tok_s>100",
                      "ttft_s.p95<1s" } do
    ths[#ths + 1] = assert(checks.parse_threshold(e))
  end
  local v = checks.evaluate(run, nil, ths)
  T.eq(#v.failures, 4)
  T.eq(v.failures[1], "ttft_s.p95<1ms: measured 48.54 ms")
  T.eq(v.failures[2], "e2e_s.p50<0.5: measured 1.25 s")
  T.eq(v.failures[3], "e2e_s.p50<500ms: measured 1250 ms")
  T.eq(v.failures[4], "throughput.output_tok_s>100: measured 55.5")
  -- a run with no success has no value: said so
  local dead = { metrics = {}, requests = { total = 2, ok = 0, failed = 2 } }
  v = checks.evaluate(dead, nil, { ths[1] })
  T.eq(v.failures[1], "ttft_s.p95<1ms: the run has no value for ttft_s.p95 (no request succeeded)")
end)

T.test("bench{} checks its slo and thresholds before the first request", function()
  local sent = 0
  local srv = mb.mock.start{ port = 0 }
  local t = mb.target{ url = srv.url }
  T.raises(function()
    mb.bench{ target = t, model = require("mlxbench.target").tiers.small, requests = 1, slo = { tfft = 1 },
              on_result = function() sent = sent + 1 end }
  end, "did you mean ttft%?")
  T.raises(function()
    mb.bench{ target = t, model = require("mlxbench.target").tiers.small, requests = 1, thresholds = { ["ttfts.p95"] = "<1" } }
  end, "did you mean ttft_s.p95%?")
  T.eq(sent, 0)
  T.eq(#srv:trace().requests, 0, "no request reached the server")
  -- thresholds in bench{} are evaluated (they were accepted and ignored)
  local run = mb.bench{ target = t, model = require("mlxbench.target").tiers.small, requests = 2, warmup = 0, max_tokens = 4,
                        thresholds = { ["ttft_s.p95"] = "<1ms", ["requests.failed"] = "==0" } }
  T.eq(run.checks.pass, false)
  T.eq(#run.checks.failures, 1)
  T.ok(run.checks.failures[1]:match("^ttft_s.p95<1ms: measured [0-9.]+ ms$"), run.checks.failures[1])
  srv:stop()
end)

return T.run()
