-- mlxbench.report.html and mlxbench.report.svg: escaping, numbers, scales, CDF
-- points, sweep grouping, and rendering odd results files without error.
local T = require "harness"
local svg = require "mlxbench.report.svg"
local html = require "mlxbench.report.html"
local stats = require "mlxbench.stats"
local cjson = require "cjson"

local function count(s, pat)
  local _, n = s:gsub(pat, "")
  return n
end

T.test("escaping: markup, quotes and control characters", function()
  T.eq(svg.esc([[<a href="x">&'</a>]]), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;")
  T.eq(svg.esc("a\0b\1c\27d\tz"), "abcd\tz")
  T.eq(svg.esc(nil), "")
  T.eq(svg.esc(3), "3")
  T.eq(svg.attrs{ ["data-run"] = 'x"y', b = 1.5, a = false, c = "<" }, ' b="1.5" c="&lt;" data-run="x&quot;y"')
end)

T.test("data attributes read back exactly", function()
  for _, v in ipairs{ 0.1, 1 / 3, 96.82913813024498, 1e-7, 123456789.125, 3, 2.0, -0.5 } do
    T.eq(tonumber(svg.num(v)), v, svg.num(v))
  end
  T.eq(svg.num(2.0), "2")
  T.eq(svg.num(0 / 0), "")
  T.eq(svg.num(math.huge), "")
end)

T.test("time and tick formats", function()
  T.eq(svg.fmt_time(0.0485), "48.5 ms")
  T.eq(svg.fmt_time(0.00912), "9.12 ms")
  T.eq(svg.fmt_time(3.9225), "3.92 s")
  T.eq(svg.fmt_time(0.00085), "850 µs")
  T.eq(svg.fmt_time(1), "1 s")
  T.eq(svg.fmt_tick(0.25), "0.25")
  T.eq(svg.fmt_tick(20000), "20k")
end)

T.test("log domain: padded, at least 3x wide, readable ticks", function()
  local lo, hi, ticks = svg.log_domain(0.048, 3.9)
  T.ok(lo < 0.048 and hi > 3.9)
  local want = { [0.05] = true, [0.1] = true, [0.2] = true, [0.5] = true, [1] = true, [2] = true }
  local found = 0
  for _, t in ipairs(ticks) do
    T.ok(t >= lo and t <= hi)
    for w in pairs(want) do if math.abs(t - w) < 1e-12 then found = found + 1 end end
  end
  T.eq(found, 6, "1-2-5 ticks over two decades")
  lo, hi = svg.log_domain(0.0485, 0.0486)
  T.ok(hi / lo >= 3 * 0.999, "a tight distribution still spans 3x")
  lo, hi, ticks = svg.log_domain(0.0115, 0.0140, 1.2, 1.03)
  T.ok(#ticks >= 3, "a short domain gets evenly spaced ticks: " .. #ticks)
  for _, t in ipairs(ticks) do T.ok(t >= lo and t <= hi) end
  local f = svg.log(1, 100, 0, 200)
  T.near(f(10), 100, 1e-9)
  T.near(f(0.5), 0, 1e-9, "below the domain clamps")
end)

T.test("linear domain: round ends and steps", function()
  local lo, hi, ticks = svg.linear_domain(0, 562.3, 6)
  T.eq(lo, 0)
  T.eq(hi, 600)
  T.eq(#ticks, 7)
  lo, hi, ticks = svg.linear_domain(0, 1.98, 8)
  T.eq(hi, 2)
  T.near(ticks[2], 0.5, 1e-12, "steps of 1, 2 or 5 (never 2.5: labels stay short)")
end)

T.test("CDF points: every bucket, or thinned to MAX_POINTS ending at 100 %", function()
  local h = stats.histogram{}
  for i = 1, 5 do h:record(i / 100) end
  h:record(0.03)
  local pts, total = html.dist({ histograms = { ttft_s = h:encode() } }, "ttft_s")
  T.eq(total, 6)
  T.eq(#pts, 5)
  local cdf, thinned = html.cdf_points(pts, total)
  T.eq(#cdf, 5)
  T.ok(not thinned)
  T.near(cdf[3][2], 4 / 6, 1e-12, "the bucket with two samples")
  T.eq(cdf[5][3], 6)
  local big = stats.histogram{}
  for i = 1, 5000 do big:record(i * 1e-4) end
  pts, total = html.dist({ histograms = { e2e_s = big:encode() } }, "e2e_s")
  cdf, thinned = html.cdf_points(pts, total)
  T.ok(thinned)
  T.ok(#cdf <= html.MAX_POINTS + 1, #cdf)
  T.eq(cdf[#cdf][2], 1)
  T.eq(cdf[#cdf][3], 5000)
  for i = 2, #cdf do T.ok(cdf[i][1] > cdf[i - 1][1] and cdf[i][2] > cdf[i - 1][2]) end
end)

T.test("distributions fall back to per-request values", function()
  local pts, total = html.dist({ per_request = { { ok = true, ttft_s = 0.2 }, { ok = false, ttft_s = 9 },
    { ok = true, ttft_s = 0.1 }, { ok = true, ttft_s = 0.2 } } }, "ttft_s")
  T.eq(total, 3)
  T.same(pts, { { 0.1, 1 }, { 0.2, 2 } })
end)

local function run(name, sweep, extra)
  local r = { name = name, model = "m", backend = "local", target = { name = "t" }, sweep = sweep,
              requests = { total = 2, ok = 2, failed = 0 }, throughput = { output_tok_s = 10 } }
  for k, v in pairs(extra or {}) do r[k] = v end
  return r
end

T.test("sweep groups: shared options, numeric x, series for the other options", function()
  local runs = {
    run("a", { concurrency = 1, max_tokens = 16 }), run("b", { concurrency = 4, max_tokens = 16 }),
    run("c", { concurrency = 1, max_tokens = 64 }), run("d", { concurrency = 4, max_tokens = 64 }),
    run("lonely", { rate = 2 }),
    run("p1", { prompt = "short" }), run("p2", { prompt = "long" }),
    run("other model", { concurrency = 1 }, { model = "x" }), run("om2", { concurrency = 2 }, { model = "x" }),
    run("plain"),
  }
  local groups = html.sweep_groups(runs)
  T.eq(#groups, 2)
  T.eq(groups[1].x, "concurrency")
  T.eq(#groups[1].runs, 4)
  T.eq(groups[2].x, "concurrency")
  T.eq(groups[2].runs[1].model, "x")
  local page = html.render{ runs = runs }
  T.eq(count(page, 'data%-chart="sweep%-throughput"'), 2)
  T.eq(count(page, 'data%-series="max_tokens=16"'), 2, "a series per max_tokens, in both charts")
end)

T.test("odd results render: skipped, failed, nulls, no histograms, strict globals", function()
  local h = stats.histogram{}
  for i = 1, 20 do h:record(0.01 * i) end
  local doc = {
    schema = "mlxbench.results/1", started_at = "2026-01-01T00:00:00Z",
    host = { cpus = 2.0, cpu_model = "<cpu>" }, tool = { name = "mlxbench", version = "x" },
    runs = {
      { name = "skipped <one>", model = "gpt", backend = "openai", skipped = "no API key",
        requests = { total = 0, ok = 0, failed = 0, errors = {} } },
      { name = "all failed", model = "m", requests = { total = 3, ok = 0, failed = 3, errors = { http_503 = 3 } },
        throughput = { output_tok_s = 0 }, per_request = { { i = 1, ok = false, start_s = 0, status = 503 } } },
      { name = "nulls", model = "m", requests = { total = 20, ok = 20, failed = 0 },
        throughput = { output_tok_s = cjson.null, goodput_s = cjson.null },
        metrics = { ttft_s = { count = 20, p50 = cjson.null } }, histograms = { ttft_s = h:encode() },
        config = { concurrency = 2.0, slo = { ttft = 0.5 } }, timeline = {}, marks = {} },
      { name = "per-request only", model = "m", requests = { total = 2, ok = 2, failed = 0 },
        throughput = { output_tok_s = 5 }, summary = { avg_tok_s = 4 },
        per_request = { { i = 1, ok = true, ttft_s = 0.1, e2e_s = 0.5, start_s = 0 },
                        { i = 2, ok = true, ttft_s = 0.2, e2e_s = 0.6, start_s = 0.5 } },
        marks = { { t_s = 0.4, label = "fault on: <x>" } } },
    },
  }
  local mt = getmetatable(_G)
  setmetatable(_G, { __index = function(_, k) error("read of undefined global " .. tostring(k), 2) end,
                     __newindex = function(_, k) error("write of global " .. tostring(k), 2) end })
  local ok, page = pcall(html.render, doc)
  setmetatable(_G, mt)
  T.ok(ok, page)
  T.ok(page:find("skipped: no API key", 1, true))
  T.ok(page:find("skipped &lt;one&gt;", 1, true))
  T.ok(not page:find("<one>", 1, true))
  T.ok(page:find("&lt;cpu&gt;", 1, true))
  T.ok(page:find("2 CPUs", 1, true), "whole numbers print without .0")
  T.ok(page:find("http_503=3", 1, true))
  T.eq(count(page, 'data%-chart="tok%-s"'), 1)
  T.ok(page:find('data-run="per-request only" data-value="5"', 1, true) or
       page:find('data-run="per-request only"', 1, true))
  -- the per-request run draws its TTFT CDF from its two requests
  T.ok(page:find('data-count="2" data-n="2" data-run="per-request only"', 1, true), "ttft series")
  -- a failover-style timeline from marks alone, with the mark escaped
  T.ok(page:find('data-chart="failover-timeline"', 1, true))
  T.ok(page:find('data-mark="fault on: &lt;x&gt;"', 1, true))
  T.ok(not page:find("<script", 1, true))
  local empty = html.render{ runs = {} }
  T.ok(empty:find("No run has output tokens", 1, true))
  T.ok(empty:find("No sweep in these results", 1, true))
end)

T.test("ITL histogram with zero gaps (several events in one read)", function()
  local h = stats.histogram{}
  for _ = 1, 5 do h:record(0) end
  for i = 1, 40 do h:record(0.008 + 0.0001 * i) end
  local page = html.render{ runs = { { name = "batched", model = "m", stream = true,
    config = { stream = true }, requests = { total = 1, ok = 1, failed = 0 },
    metrics = { itl_s = { count = 45, min = 0, max = h:max() } },
    histograms = { itl_s = h:encode() } } } }
  local total, first_lo = 0, nil
  for lo, hi, n in page:gmatch('<rect[^>]-data%-count="(%d+)"[^>]-data%-hi="([^"]+)"[^>]-data%-lo="([^"]+)"') do
    total = total + tonumber(lo)
    first_lo = first_lo or tonumber(n)
    T.ok(tonumber(hi) > tonumber(n), "bin " .. n .. ".." .. hi)
  end
  T.eq(total, 45, "every gap in a bin")
  T.eq(first_lo, 0, "the first bin starts at the true minimum")
  T.ok(not page:find("nan", 1, true) and not page:find("inf", 1, true), "finite geometry")
end)

T.test("the Client table: stamps, read lag, loop lag, CPU per run; the read-lag note", function()
  local page = html.render{ runs = {
    { name = "k", model = "m", requests = { ok = 2, total = 2 }, client = {
      stamp_kernel_count = 2, stamp_user_count = 0, read_lag_p50_s = 0.00005, read_lag_p99_s = 0.0025,
      read_lag_max_s = 0.004, read_lag_count = 90, loop_lag_p99_s = 0.0008, cpu_share = 0.12 } },
    { name = "u", model = "m", requests = { ok = 1, total = 1 }, client = {
      stamp_kernel_count = 0, stamp_user_count = 1, cpu_share = 0.05 } } } }
  local tbl = page:match('<table class="client">.-</table>')
  T.ok(tbl, "a client table")
  T.ok(tbl:find("<td>kernel 2 / user 0</td>", 1, true), tbl)
  T.ok(tbl:find("<td>kernel 0 / user 1</td>", 1, true), tbl)
  T.ok(tbl:find('<td class="num">2.5 ms</td>', 1, true), tbl)
  T.ok(tbl:find('<td class="num">12%</td>', 1, true), tbl)
  T.ok(page:find("the client read late: read lag p99 2.50 ms", 1, true), "the note in the page")
end)

T.test("write: atomic file, error as a value", function()
  local path = os.tmpname()
  T.ok(html.write({ runs = {} }, path))
  local f = assert(io.open(path))
  T.ok(f:read("a"):find("^<!DOCTYPE html>"))
  f:close()
  os.remove(path)
  local ok, err = html.write({ runs = {} }, "/nonexistent-dir/x.html")
  T.eq(ok, nil)
  T.ok(err:find("cannot write", 1, true), err)
end)

return T.run()
