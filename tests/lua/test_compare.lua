-- mlxbench.compare: the noise rule, directions, limits and run matching, on
-- synthetic runs whose histograms hold known samples.
local T = require "harness"
local stats = require "mlxbench.stats"
local compare = require "mlxbench.compare"
local cjson = require "cjson"

-- run{name, ttft = {values}, tok_s = n, req_tok = {values}, failed = n,
--     total = n, lag = seconds, model, backend} -> a results-file run
local function run(o)
  local r = { name = o.name or "r", model = o.model or "m", backend = o.backend or "local",
              metrics = {}, histograms = {}, config = {},
              throughput = { output_tok_s = o.tok_s or 100, requests_s = 1, goodput_s = 1 },
              requests = { total = o.total or #(o.ttft or {}), ok = (o.total or #(o.ttft or {})) - (o.failed or 0),
                           failed = o.failed or 0 } }
  local function put(name, xs)
    if not xs then return end
    local h = stats.histogram{}
    for _, v in ipairs(xs) do h:record(v) end
    r.metrics[name] = h:summary()
    r.histograms[name] = h:encode()
  end
  put("ttft_s", o.ttft)
  put("e2e_s", o.e2e or o.ttft)
  put("req_tok_s", o.req_tok)
  if o.lag then r.client = { loop_lag_p99_s = o.lag } end
  return r
end

-- n values spread evenly over [a, b]
local function spread(n, a, b)
  local xs = {}
  for i = 1, n do xs[i] = a + (b - a) * (i - 0.5) / n end
  return xs
end

local function row_of(res, key)
  for _, row in ipairs(res.runs[1].rows) do if row.key == key then return row end end
end

T.test("quantile CI from order statistics, read off the histogram", function()
  local h = stats.histogram{}
  for i = 1, 1000 do h:record(i / 1000) end
  local lo, hi = compare.quantile_ci(h, 0.5)
  -- ranks 500 -/+ 1.96 * sqrt(250): 469 .. 532
  T.rel(lo, 0.469, 0.002, "lo")
  T.rel(hi, 0.532, 0.002, "hi")
  local h6 = stats.histogram{}
  for i = 1, 6 do h6:record(i) end
  T.eq(compare.quantile_ci(h6, 0.5), nil, "6 samples cannot place a median")
  local h100 = stats.histogram{}
  for i = 1, 100 do h100:record(i) end
  T.eq(compare.quantile_ci(h100, 0.95), nil, "100 samples cannot bound a p95")
  T.ok(compare.quantile_ci(h100, 0.5), "but they can a median")
  local h200 = stats.histogram{}
  for i = 1, 200 do h200:record(i) end
  T.ok(compare.quantile_ci(h200, 0.95), "200 samples bound a p95")
end)

T.test("Wilson interval", function()
  local lo, hi = compare.wilson(0, 100)
  T.eq(lo, 0)
  T.near(hi, 0.037, 0.001)
  lo, hi = compare.wilson(5, 10)
  T.near(lo, 0.237, 0.001)
  T.near(hi, 0.763, 0.001)
end)

T.test("a 10 % slower TTFT is worse beyond noise; the limit decides the exit", function()
  local b = run{ ttft = spread(500, 0.090, 0.110), tok_s = 100 }
  local n = run{ ttft = spread(500, 0.099, 0.121), tok_s = 100 }
  local res = compare.compare({ runs = { b } }, { runs = { n } }, { max_regression = 0.05 })
  local row = row_of(res, "ttft_s.p50")
  T.eq(row.verdict, "worse")
  T.rel(row.rel, 0.10, 0.01)
  T.ok(row.flagged and row.fail, "flagged and over the 5 % limit")
  T.ok(#res.failures >= 1 and res.failures[1]:find("TTFT p50", 1, true), res.failures[1])
  -- the same change under a 20 % limit is flagged but does not fail
  res = compare.compare({ runs = { b } }, { runs = { n } }, { max_regression = 0.20 })
  row = row_of(res, "ttft_s.p50")
  T.eq(row.verdict, "worse")
  T.ok(not row.fail)
  T.eq(#res.failures, 0)
  -- a per-metric limit beats the global one
  res = compare.compare({ runs = { b } }, { runs = { n } },
    { max_regression = 0.20, limits = { ["ttft_s.p50"] = 0.02 } })
  T.ok(row_of(res, "ttft_s.p50").fail)
  -- the other way round it is an improvement, never a failure
  res = compare.compare({ runs = { n } }, { runs = { b } }, { max_regression = 0.01 })
  T.eq(row_of(res, "ttft_s.p50").verdict, "better")
  T.eq(#res.failures, 0)
end)

T.test("tiny, overlapping or sub-floor changes are within noise", function()
  local b = run{ ttft = spread(500, 0.090, 0.110) }
  -- 1 %: the intervals may not overlap, but it is below min_effect (2 %)
  local n = run{ ttft = spread(500, 0.0909, 0.1111) }
  local res = compare.compare({ runs = { b } }, { runs = { n } }, { max_regression = 0.001 })
  T.eq(row_of(res, "ttft_s.p50").verdict, "~")
  T.eq(#res.failures, 0, "a change within noise never fails")
  -- 10 % of a wide distribution with few samples: the intervals overlap
  b = run{ ttft = spread(20, 0.050, 0.150) }
  n = run{ ttft = spread(20, 0.055, 0.165) }
  res = compare.compare({ runs = { b } }, { runs = { n } })
  T.eq(row_of(res, "ttft_s.p50").verdict, "~")
  -- 3 ms on 30 ms (10 %) is beyond noise with a quiet client; a client
  -- whose event loop was 5 ms late at p50 cannot tell it, and one 5 ms late
  -- at p99 (but 0.5 ms at p50) can tell the median but not the tail
  b = run{ ttft = spread(500, 0.0299, 0.0301) }
  n = run{ ttft = spread(500, 0.0329, 0.0331) }
  res = compare.compare({ runs = { b } }, { runs = { n } })
  T.eq(row_of(res, "ttft_s.p50").verdict, "worse")
  T.eq(row_of(res, "ttft_s.p95").verdict, "worse")
  n.client = { loop_lag_p50_s = 0.005, loop_lag_p99_s = 0.008 }
  res = compare.compare({ runs = { b } }, { runs = { n } })
  local row = row_of(res, "ttft_s.p50")
  T.eq(row.verdict, "~")
  T.eq(row.floor, 0.005)
  n.client = { loop_lag_p50_s = 0.0005, loop_lag_p99_s = 0.005 }
  res = compare.compare({ runs = { b } }, { runs = { n } })
  T.eq(row_of(res, "ttft_s.p50").verdict, "worse")
  T.eq(row_of(res, "ttft_s.p50").floor, 0.001, "never below time_floor")
  T.eq(row_of(res, "ttft_s.p95").verdict, "~")
  T.eq(row_of(res, "ttft_s.p95").floor, 0.005)
end)

T.test("too few samples to tell", function()
  local b = run{ ttft = spread(6, 0.1, 0.2) }
  local n = run{ ttft = spread(6, 0.3, 0.4) }
  local res = compare.compare({ runs = { b } }, { runs = { n } }, { max_regression = 0.05 })
  local row = row_of(res, "ttft_s.p50")
  T.eq(row.verdict, "too few samples")
  T.ok(not row.fail, "an unknown is not a failure")
  T.eq(row_of(res, "ttft_s.p99").verdict, "too few samples")
  T.ok(compare.text(res):find("too few samples (n=6/6)", 1, true))
end)

T.test("throughput: higher is better, noise from the requests' own tok/s", function()
  local b = run{ ttft = spread(50, 0.1, 0.11), tok_s = 500, req_tok = spread(50, 95, 105) }
  local n = run{ ttft = spread(50, 0.1, 0.11), tok_s = 400, req_tok = spread(50, 76, 84) }
  local res = compare.compare({ runs = { b } }, { runs = { n } }, { max_regression = 0.05 })
  local row = row_of(res, "output_tok_s")
  T.eq(row.better, "higher")
  T.eq(row.verdict, "worse")
  T.rel(row.rel, -0.2, 1e-9)
  T.ok(row.fail)
  res = compare.compare({ runs = { n } }, { runs = { b } }, { max_regression = 0.05 })
  T.eq(row_of(res, "output_tok_s").verdict, "better")
  -- 1.5 % more tok/s is within noise
  n = run{ ttft = spread(50, 0.1, 0.11), tok_s = 507.5, req_tok = spread(50, 95, 105) }
  res = compare.compare({ runs = { b } }, { runs = { n } })
  T.eq(row_of(res, "output_tok_s").verdict, "~")
end)

T.test("error rate: counted, limits in percentage points", function()
  local b = run{ ttft = spread(100, 0.1, 0.11), total = 100, failed = 0 }
  local n = run{ ttft = spread(80, 0.1, 0.11), total = 100, failed = 20 }
  local res = compare.compare({ runs = { b } }, { runs = { n } }, { limits = { error_rate = 0.05 } })
  local row = row_of(res, "error_rate")
  T.eq(row.verdict, "worse")
  T.near(row.delta, 0.20, 1e-12)
  T.ok(row.fail)
  T.eq(compare.fmt_delta(row), "+20.0 pp")
  res = compare.compare({ runs = { b } }, { runs = { n } }, { limits = { error_rate = 0.25 } })
  T.ok(not row_of(res, "error_rate").fail, "20 pp is within a 25 pp limit")
  -- failures are counted events, not samples: two new ones are worse, and
  -- a 5 pp limit decides whether that fails the gate
  n = run{ ttft = spread(90, 0.1, 0.11), total = 100, failed = 2 }
  res = compare.compare({ runs = { b } }, { runs = { n } }, { max_regression = 0.05 })
  T.eq(row_of(res, "error_rate").verdict, "worse", "0 vs 2 failures in 100")
  T.ok(not row_of(res, "error_rate").fail, "2 pp is within a 5 pp limit")
  T.eq(#res.failures, 0)
  res = compare.compare({ runs = { b } }, { runs = { b } })
  T.eq(row_of(res, "error_rate").verdict, "~", "the same count")
end)

-- issue 14 item 8: too few requests is no excuse for failures
T.test("error rate and successes are judged whatever the sample size", function()
  local b = run{ ttft = spread(5, 0.1, 0.11), total = 5, failed = 0 }
  local n = run{ ttft = spread(3, 0.1, 0.11), total = 5, failed = 2 }
  b.config.requests, n.config.requests = 5, 5
  local res = compare.compare({ runs = { b } }, { runs = { n } }, { max_regression = 0.05 })
  local er = row_of(res, "error_rate")
  T.eq(er.verdict, "worse", "2 of 5 failed: not 'too few samples'")
  T.ok(er.fail, "40 pp over a 5 pp limit")
  local ok = row_of(res, "requests_ok")
  T.eq(ok.verdict, "worse")
  T.eq(ok.base, 5) T.eq(ok.new, 3)
  T.ok(ok.fail, "-40 % successes over a 5 % limit")
  -- different amounts of work: the success counts do not compare
  n.config.requests = 10
  T.eq(row_of(compare.compare({ runs = { b } }, { runs = { n } }), "requests_ok").verdict, "n/a")
end)

T.test("a new run with no success fails the gate, limit or not", function()
  local b = run{ ttft = spread(4, 0.1, 0.11), total = 4, failed = 0 }
  local n = run{ total = 4, failed = 4 }
  n.throughput = { output_tok_s = 0, requests_s = 0, goodput_s = 0 }
  local res = compare.compare({ runs = { b } }, { runs = { n } })
  T.eq(#res.failures, 1)
  T.ok(res.failures[1]:find("r: no request succeeded (4 failed; base: 4 of 4 ok)", 1, true), res.failures[1])
  T.ok(compare.text(res):find("REGRESSION: r: no request succeeded", 1, true))
  T.eq(row_of(res, "error_rate").verdict, "worse")
  -- both failed entirely: nothing to compare, no failure of the gate
  res = compare.compare({ runs = { n } }, { runs = { n } })
  T.eq(#res.failures, 0)
end)

T.test("goodput with an SLO: the share that met it is a proportion too", function()
  local function slo_run(met, gp)
    local r = run{ ttft = spread(100, 0.1, 0.11), req_tok = spread(100, 99, 101), total = 100 }
    r.slo, r.requests.slo_met = { ttft = 0.5 }, met
    r.throughput.requests_s, r.throughput.goodput_s = 10, gp
    return r
  end
  local res = compare.compare({ runs = { slo_run(90, 9) } }, { runs = { slo_run(60, 6) } })
  local row = row_of(res, "goodput_s")
  T.eq(row.verdict, "worse")
  T.ok(row.base_ci[2] - row.base_ci[1] > 0.5, "the interval reflects 90 of 100, not only the rate")
  -- 90 vs 85 of 100 met: within what 100 requests can tell
  res = compare.compare({ runs = { slo_run(90, 9) } }, { runs = { slo_run(85, 8.5) } })
  T.eq(row_of(res, "goodput_s").verdict, "~")
end)

T.test("runs match by name, model and backend, then by name, then the last two", function()
  local base = { run{ name = "a", model = "m1" }, run{ name = "b" }, run{ name = "x" },
                 run{ name = "gone" } }
  local new = { run{ name = "b" }, run{ name = "a", model = "m2" }, run{ name = "y" } }
  local pairs_, ob, on = compare.match(base, new)
  T.eq(#pairs_, 2)
  T.eq(pairs_[1].base.name, "a")
  T.eq(pairs_[1].by, "name")
  T.eq(pairs_[2].base.name, "b")
  T.eq(pairs_[2].by, "name, model, backend")
  T.same(ob, { "x", "gone" })
  T.same(on, { "y" })
  pairs_ = compare.match({ run{ name = "old" } }, { run{ name = "new", backend = "openai" } })
  T.eq(#pairs_, 1)
  T.eq(pairs_[1].by, "the only runs left")
  -- two runs of one name on a side are not guessed at
  pairs_ = compare.match({ run{ name = "d", model = "p" }, run{ name = "d", model = "q" } },
    { run{ name = "d", model = "r" } })
  T.eq(#pairs_, 0)
end)

T.test("metric names", function()
  T.eq(compare.metric_spec("e2e_s.p999").q, 99.9)
  T.eq(compare.metric_spec("ttfb_s.p90").better, "lower")
  T.eq(compare.metric_spec("req_tok_s.p50").better, "higher")
  T.eq(compare.metric_spec("requests_s").kind, "rate")
  local s, err = compare.metric_spec("ttft.p95")
  T.eq(s, nil)
  T.ok(err:find("unknown metric 'ttft.p95'", 1, true), err)
  T.eq(compare.metric_spec("ttft_s.p100"), nil)
end)

T.test("text, Markdown and JSON say the same thing", function()
  local b = run{ name = "r|1", ttft = spread(500, 0.090, 0.110) }
  local n = run{ name = "r|1", ttft = spread(500, 0.120, 0.140) }
  local res = compare.compare({ runs = { b } }, { runs = { n } }, { max_regression = 0.05 })
  local text = compare.text(res, { "a.json", "b.json" })
  T.ok(text:find("TTFT p50 +", 1, true) or text:find("TTFT p50", 1, true))
  T.ok(text:find("REGRESSION: r|1: TTFT p50", 1, true), text)
  local md = compare.markdown(res, { "a.json", "b.json" })
  T.ok(md:find("^### mlxbench compare"), md)
  T.ok(md:find("| metric | base | new | delta | rel | verdict |", 1, true), md)
  T.ok(md:find("#### r\\|1", 1, true), "pipes escaped in headings")
  T.ok(md:find("| **TTFT p50** |", 1, true), "flagged rows in bold")
  local doc = cjson.decode(compare.json(res, { "a.json", "b.json" }))
  T.eq(doc.schema, "mlxbench.compare/1")
  T.eq(doc.ok, false)
  local found
  for _, m in ipairs(doc.runs[1].metrics) do
    if m.metric == "ttft_s.p50" then found = m end
  end
  T.eq(found.verdict, "worse")
  T.eq(found.fail, true)
  T.ok(found.base_ci[1] <= found.base and found.base <= found.base_ci[2])
end)

T.test("JSON nulls in a results file are not numbers", function()
  local b = run{ ttft = spread(50, 0.1, 0.11) }
  local n = run{ ttft = spread(50, 0.1, 0.11) }
  n.throughput.output_tok_s = cjson.null
  n.client = { loop_lag_p99_s = cjson.null }
  local res = compare.compare({ runs = { b } }, { runs = { n } })
  T.eq(row_of(res, "output_tok_s").verdict, "n/a")
end)

return T.run()
