-- mlxbench.stats: the histogram API (docs/LUA_API.md).
local T = require "harness"
local stats = require "mlxbench.stats"

T.test("issue check: median of 1..100000 us is 0.05 within 0.1%", function()
  local h = stats.histogram{}
  for i = 1, 100000 do h:record(i * 1e-6) end
  T.rel(h:percentile(50), 0.05, 0.001)
  T.eq(h:count(), 100000)
  T.rel(h:min(), 1e-6, 1e-9)
  T.rel(h:max(), 0.1, 1e-9)
  T.rel(h:mean(), 0.0500005, 1e-9)
end)

T.test("percentiles within 0.1% of exact sorted samples", function()
  local h = stats.histogram{ lowest = 1e-6, highest = 3600, digits = 3 }
  local xs = {}
  math.randomseed(42)
  for i = 1, 20000 do
    local v = math.exp(math.random() * 14 - 6.9)   -- 1e-3 .. 1.2e3, log-uniform
    xs[i] = v
    h:record(v)
  end
  table.sort(xs)
  for _, p in ipairs{ 1, 10, 50, 90, 95, 99, 99.9 } do
    local exact = xs[math.max(1, math.ceil(p / 100 * #xs))]
    T.rel(h:percentile(p), exact, 0.001, "p" .. p)
  end
  T.eq(h:percentile(0), h:min())
  T.eq(h:percentile(100), h:max())
end)

T.test("below 1000 x lowest, resolution is lowest (1 us)", function()
  local h = stats.histogram{}
  for _, v in ipairs{ 7.65e-6, 3.3e-5, 4.2e-4 } do
    h:reset()
    h:record(v)
    T.near(h:percentile(50), v, 1e-6)
  end
end)

T.test("record with count, mean and stddev exact", function()
  local h = stats.histogram{}
  h:record(1.0, 3)
  h:record(3.0)
  T.eq(h:count(), 4)
  T.near(h:mean(), 1.5, 1e-12)
  T.near(h:stddev(), math.sqrt(0.75), 1e-12)
end)

T.test("summary has the results-file metric shape", function()
  local h = stats.histogram{}
  for i = 1, 1000 do h:record(i / 1000) end
  local s = h:summary()
  for _, k in ipairs{ "count", "mean", "stddev", "min", "max", "p50", "p90", "p95", "p99", "p999" } do
    T.ok(type(s[k]) == "number", k)
  end
  T.rel(s.p90, 0.9, 0.001)
  T.rel(s.p999, 0.999, 0.001)
end)

T.test("encode/decode round trip is exact and merge equals one histogram", function()
  local a, b, all = stats.histogram{}, stats.histogram{}, stats.histogram{}
  for i = 1, 5000 do
    local v = (i % 97) * 1e-3 + i * 1e-7
    if i % 2 == 0 then a:record(v) else b:record(v) end
    all:record(v)
  end
  local enc = a:encode()
  T.ok(#enc < 20000, "compact encoding")
  local a2 = stats.decode(enc)
  T.eq(a2:encode(), enc)
  a2:merge(b)
  T.eq(a2:count(), all:count())
  T.eq(a2:encode(), all:encode())
  T.eq(a2:percentile(99), all:percentile(99))
end)

T.test("merge across different settings keeps counts and extremes", function()
  local a = stats.histogram{ digits = 2 }
  local b = stats.histogram{ digits = 3 }
  for i = 1, 1000 do a:record(i * 1e-3) b:record(i * 2e-3) end
  b:merge(a)
  T.eq(b:count(), 2000)
  T.rel(b:min(), 1e-3, 1e-12)
  T.rel(b:max(), 2.0, 1e-12)
  T.rel(b:mean(), (0.5005 + 1.001) / 2, 1e-9)
end)

T.test("misuse raises clear errors", function()
  local h = stats.histogram{}
  T.raises(function() h:record(-1) end, "finite and >= 0")
  T.raises(function() h:record(0 / 0) end, "finite and >= 0")
  T.raises(function() h:percentile(101) end, "0..100")
  T.raises(function() stats.histogram{ digits = 9 } end, "invalid settings")
  T.raises(function() stats.histogram{ lowest = "x" } end, "must be a number")
  T.raises(function() stats.decode("garbage") end, "not a valid histogram")
  T.raises(function() h.record(42, 1) end, "histogram expected")
end)

T.test("buckets iterate ascending and sum to count", function()
  local h = stats.histogram{}
  for i = 1, 100 do h:record(i * 0.01) end
  local total, last = 0, -1
  for _, b in ipairs(h:buckets()) do
    T.ok(b[1] > last)
    last = b[1]
    total = total + b[2]
  end
  T.eq(total, 100)
end)

return T.run()
