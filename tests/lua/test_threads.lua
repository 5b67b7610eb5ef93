-- Engine threads (bench{threads=N}) and the client's own cost (run.client):
-- run: serial (wall-clock tolerances: tests/tests.cmake)
-- the data codec that crosses between engines, the exact merge of what the
-- threads measured, the split of closed- and open-loop loads (the threads'
-- requests are exactly one thread's), per-thread hooks (thread_init), stop,
-- errors, and the loop-lag probe / CPU figures / saturation warning.
local T = require "harness"
local mb = require "mlxbench"
local stats = require "mlxbench.stats"
local time = require "mlxbench.time"
local threads = require "mlxbench.threads"
local collect = require "mlxbench.collect"
local report = require "mlxbench.report"
local json = require "mlxbench.json"
local monitor = require "mlxbench._monitor"
local bench = require "mlxbench.bench"

T.test("codec: plain data crosses exactly; functions and objects do not", function()
  local v = {
    1, 2.5, -0.0, 1 / 3, math.maxinteger, math.mininteger, 2 ^ 53 + 1.0, 1e-300,
    s = "a\0b\n\"c\\", nested = { x = { y = { true, false } } }, [10] = "sparse",
    [1.5] = "float key", arr = json.array(), big = math.huge, small = -math.huge,
  }
  local back = threads.decode(threads.encode(v))
  T.eq(math.type(back[1]), "integer")
  T.eq(math.type(back[2]), "float")
  for k, x in pairs(v) do
    if type(x) ~= "table" then T.eq(back[k], x, "key " .. tostring(k)) end
  end
  T.eq(back[3], 0.0) T.eq(1 / back[3], -math.huge, "negative zero kept")
  T.eq(math.type(back[5]), "integer") T.eq(back[6], math.mininteger)
  T.eq(back.nested.x.y[2], false)
  T.eq(getmetatable(back.arr), json.array_mt, "an empty JSON array stays one")
  local nan = threads.decode(threads.encode(0 / 0))
  T.ok(nan ~= nan)
  T.raises(function() threads.encode({ f = print }) end, "value.f: a function cannot cross")
  T.raises(function() threads.encode({ setmetatable({}, {}) }) end, "metatable")
  local cyc = {} cyc.self = cyc
  T.raises(function() threads.encode(cyc) end, "contains itself")
  local shared = { 1 }
  T.eq(threads.decode(threads.encode({ shared, shared }))[2][1], 1, "a shared table is not a cycle")
end)

T.test("collector dump/absorb: counts add up, histograms merge exactly", function()
  local function fake(i, ok)
    return { i = i, ok = ok, status = ok and 200 or 503, start_s = 100 + i * 0.01,
             end_s = 100.5 + i * 0.013, ttfb_s = 0.001 * i, ttft_s = ok and 0.002 * i or nil,
             e2e_s = ok and 0.01 * i or nil, output_tokens = ok and i or nil,
             input_tokens = ok and 3 or nil, token_source = ok and "usage" or nil,
             req_tok_s = ok and 100 + i or nil,
             error = (not ok) and { kind = "http", message = "503" } or nil }
  end
  local whole = collect.new{ name = "w" }
  local a, b = collect.new{ name = "a" }, collect.new{ name = "b" }
  whole.t0, a.t0, b.t0 = 100, 100, 100
  for i = 1, 200 do
    local ok = i % 7 ~= 0
    whole:add(fake(i, ok))
    local part = (i % 3 == 0) and b or a
    part:add(fake(i, ok))
  end
  local merged = collect.new{ name = "w" }
  merged.t0 = 100
  merged:absorb(threads.decode(threads.encode(a:dump())), 1)
  merged:absorb(threads.decode(threads.encode(b:dump())), 2)
  merged:sort_requests()
  local r1, r2 = whole:finish{}, merged:finish{}
  T.same(r2.requests, r1.requests)
  T.same(r2.tokens, r1.tokens)
  T.eq(r2.duration_s, r1.duration_s)
  for m, enc in pairs(r1.histograms) do
    T.eq(r2.histograms[m], enc, "histogram " .. m .. " merged bucket by bucket")
    T.eq(stats.decode(r2.histograms[m]):count(), a.h[m]:count() + b.h[m]:count(),
         m .. ": merged count is the sum")
  end
  T.same(r2.metrics, r1.metrics)
  T.eq(#r2.per_request, 200)
  local tags = { 0, 0 }
  for k, q in ipairs(r2.per_request) do
    tags[q.thread] = tags[q.thread] + 1
    if k > 1 then T.ok(q.start_s >= r2.per_request[k - 1].start_s, "sorted by start") end
  end
  T.eq(tags[1], a.total) T.eq(tags[2], b.total)
end)

local srv = mb.mock.start{ port = 0, seed = 5, profile = {
  builtin_models = false, any_model = true, default_model = "f",
  models = { f = { ttft_ms = 2, prefill_tok_s = 0, decode_tok_s = 2000, jitter = 0 } } } }
local target = mb.target{ name = "emulated", url = srv.url }

local function by_i(run)
  local set, n = {}, 0
  for _, q in ipairs(run.per_request) do
    T.eq(set[q.i], nil, "request " .. tostring(q.i) .. " twice")
    set[q.i] = q
    n = n + 1
  end
  return set, n
end

T.test("closed loop, count-bound: 2 threads send exactly one thread's requests", function()
  local base = { target = target, model = "f", prompt = "synthetic:20", requests = 37,
                 concurrency = 5, max_tokens = 12, warmup = 0, seed = 9 }
  local function run(n)
    local o = {}
    for k, v in pairs(base) do o[k] = v end
    o.threads = n
    return mb.bench(o)
  end
  local one, two = run(1), run(2)
  T.eq(two.client.threads, 2)
  T.eq(one.client.threads, 1)
  for _, r in ipairs{ one, two } do
    T.eq(r.requests.total, 37) T.eq(r.requests.ok, 37)
  end
  T.eq(two.tokens.output, one.tokens.output)
  T.eq(two.tokens.input, one.tokens.input)
  T.eq(two.tokens.output, 37 * 12)
  for _, m in ipairs{ "ttft_s", "e2e_s", "itl_s", "tpot_s", "ttfb_s" } do
    if m == "tpot_s" then
      -- TPOT needs the last token later than the first: a stream read in
      -- one go (a loaded machine) has none; count the requests that have one
      for _, r in ipairs{ one, two } do
        local have = 0
        for _, q in ipairs(r.per_request) do if q.tpot_s then have = have + 1 end end
        T.eq(r.metrics[m].count, have, "tpot_s count = requests with a TPOT")
        T.ok(have >= 30, "most requests have a TPOT: " .. have)
      end
    else
      T.eq(two.metrics[m].count, one.metrics[m].count, m .. " count")
    end
    T.eq(stats.decode(two.histograms[m]):count(), two.metrics[m].count)
  end
  T.eq(two.metrics.itl_s.count, 37 * 11)
  local s1, n1 = by_i(one)
  local s2, n2 = by_i(two)
  T.eq(n1, 37) T.eq(n2, 37)
  local per_thread = { 0, 0 }
  for i = 1, 37 do
    T.ok(s1[i] and s2[i], "request " .. i .. " in both")
    T.eq(s2[i].input_tokens, s1[i].input_tokens, "same prompt for request " .. i)
    per_thread[s2[i].thread] = per_thread[s2[i].thread] + 1
  end
  -- interleaved like shards: thread 1 gets 1, 3, 5... (19), thread 2 the rest
  T.eq(per_thread[1], 19) T.eq(per_thread[2], 18)
  for i = 1, 37 do T.eq(s2[i].thread, (i - 1) % 2 + 1) end
  T.ok(two.client.cpu_s > 0 and two.client.cpu_share >= 0)
  T.ok(two.client.loop_lag_count > 0, "workers measured their loop lag")
  T.ok(two.started_at and two.window and two.window.end_s > 0)
end)

T.test("open loop: the threads' arrivals are exactly the single schedule", function()
  local function run(n)
    return mb.bench{ target = target, model = "f", requests = 30, rate = 300, arrival = "poisson",
                     seed = 4, max_tokens = 4, threads = n }
  end
  local one, three = run(1), run(3)
  T.eq(three.client.threads, 3)
  T.eq(three.requests.ok, 30)
  T.eq(three.client.scheduled, one.client.scheduled)
  local s1 = by_i(one)
  local s3 = by_i(three)
  for i = 1, 30 do
    T.near(s3[i].scheduled_s, s1[i].scheduled_s, 1e-9, "arrival " .. i)
    T.eq(s3[i].thread, (i - 1) % 3 + 1)
  end
  T.eq(three.metrics.latency_s.count, 30)
  T.eq(three.metrics.queue_s.count, 30)
end)

T.test("threads inside a shard: shard 2/2 with 2 threads = shard 2/2", function()
  local function run(n)
    return mb.bench{ target = target, model = "f", requests = 21, concurrency = 6,
                     max_tokens = 3, warmup = 0, shard = "2/2", threads = n }
  end
  local a, b = run(1), run(2)
  local sa, na = by_i(a)
  local sb, nb = by_i(b)
  T.eq(na, 10) T.eq(nb, 10)
  for i in pairs(sa) do T.ok(sb[i], "request " .. i) T.eq(i % 2, 0) end
  T.eq(b.shard.index, 2) T.eq(b.shard.count, 2)
  T.eq(b.shard.requests, 10)
end)

T.test("more threads than users: one user per thread at most", function()
  local run = mb.bench{ target = target, model = "f", requests = 6, concurrency = 2,
                        max_tokens = 2, warmup = 0, threads = 8 }
  T.eq(run.client.threads, 2)
  T.eq(run.requests.ok, 6)
end)

T.test("mock events_per_write: several events in one write, one trace chunk per write", function()
  local llm = require "mlxbench.llm"
  local m = mb.mock.start{ port = 0, profile = { builtin_models = false, models = {
    w = { ttft_ms = 5, prefill_tok_s = 0, decode_tok_s = 400, jitter = 0, events_per_write = 3,
          tokens_per_chunk = 2 } } } }
  local r = llm.request{ target = { url = m.url }, model = "w", prompt = "x", max_tokens = 10,
                         stream = true, itl = true, headers = { ["x-mock-request-id"] = "epw" } }
  T.ok(r.ok, r.error and r.error.message)
  T.eq(r.output_tokens, 10)
  T.eq(r.content_events, 5, "events of 2 tokens: 3 in the first write, 2 in the second")
  local tr = m:trace{ id = "epw" }.requests[1]
  T.eq(#tr.chunks, 2)
  T.eq(tr.chunks[1][3], 6) T.eq(tr.chunks[2][3], 4)
  -- the second write is due 4 intervals (of 2.5 ms) after the first
  T.near((tr.chunks[2][1] - tr.chunks[1][1]) / 1e9, 0.010, 1e-6)
  -- events of one write arrive together; the big gap is between writes
  local gaps = r.itl
  T.eq(#gaps, 4)
  T.ok(gaps[1] < 0.002 and gaps[2] < 0.002 and gaps[4] < 0.002, table.concat(gaps, " "))
  T.ok(gaps[3] > 0.005, "gap between writes " .. gaps[3])
  T.raises(function()
    mb.mock.start{ port = 0, profile = { models = { w = { events_per_write = 0 } } } }
  end, "events_per_write")
  m:stop()
end)

local hooks = os.tmpname() .. ".lua"
do
  local f = assert(io.open(hooks, "w"))
  f:write([[
local M, seen = {}, 0
function M.init(thread, opts) opts.max_tokens = 2 + thread.index end
function M.on_result(r) seen = seen + 1 end
function M.done(thread) return { index = thread.index, count = thread.count, seen = seen } end
return M
]])
  f:close()
end

T.test("thread_init: init, on_result and done run in each thread", function()
  local run = mb.bench{ target = target, model = "f", requests = 10, concurrency = 4,
                        warmup = 0, threads = 2, thread_init = hooks }
  T.eq(#run.thread_data, 2)
  local seen, tokens = 0, 0
  for k, d in ipairs(run.thread_data) do
    T.eq(d.index, k) T.eq(d.count, 2)
    seen = seen + d.seen
  end
  T.eq(seen, 10)
  for _, q in ipairs(run.per_request) do
    T.eq(q.output_tokens, 2 + q.thread, "init changed the thread's options")
    tokens = tokens + q.output_tokens
  end
  T.eq(run.tokens.output, tokens)
end)

T.test("what cannot cross is refused in the main state, with its name", function()
  T.raises(function()
    mb.bench{ target = target, model = "f", requests = 2, concurrency = 2, threads = 2,
              on_result = print }
  end, "on_result is a function and cannot run in engine threads")
  T.raises(function()
    mb.bench{ target = target, model = "f", requests = 2, concurrency = 2, threads = 2,
              extra = { f = print } }
  end, "option.extra.f: a function cannot cross")
  T.raises(function() mb.bench{ model = "f", threads = 0 } end, "threads must be a positive integer")
  T.raises(function() mb.bench{ model = "f", threads = 2, thread_init = 3 } end, "thread_init must be")
end)

T.test("an error in a thread stops the others and is raised in the main state", function()
  local bad = os.tmpname() .. ".lua"
  local f = assert(io.open(bad, "w"))
  f:write("return { init = function(th) if th.index == 2 then error('boom in init') end end }\n")
  f:close()
  local t0 = time.now()
  local err = T.raises(function()
    mb.bench{ target = target, model = "f", duration = 30, concurrency = 4, threads = 2,
              thread_init = bad }
  end, "engine thread 2/2: .*boom in init")
  T.ok(time.now() - t0 < 10, "the healthy thread was stopped, not waited for: " .. tostring(err))
  os.remove(bad)
end)

T.test("loop-lag probe: a blocked loop shows up; thread CPU time counts", function()
  local h = stats.histogram{}
  local probe = monitor.loop_lag(h, 0.002)
  time.sleep(0.05)
  local cpu0 = monitor.thread_cpu()
  local t0 = time.now()
  while time.now() - t0 < 0.08 do end   -- blocks the loop 80 ms
  local cpu = monitor.thread_cpu() - cpu0
  time.sleep(0.02)
  probe:stop()
  T.eq(probe:running(), false)
  local n = h:count()
  time.sleep(0.02)
  T.eq(h:count(), n, "a stopped probe records nothing")
  T.ok(h:max() > 0.06, "max lag " .. h:max())
  T.ok(h:percentile(50) < 0.01, "p50 lag " .. h:percentile(50))
  -- on a busy machine the thread may not get the CPU all along
  T.ok(cpu > 0.005 and cpu < 0.5, "busy 80 ms: cpu " .. cpu)
  local c = monitor.clock_cost(100000)
  T.ok(c > 0 and c < 5000, "clock read " .. c .. " ns")
end)

T.test("run.client and the saturation warning", function()
  local run = mb.bench{ target = target, model = "f", requests = 5, max_tokens = 40, warmup = 0 }
  local c = run.client
  T.eq(c.threads, 1)
  T.ok(c.wall_s > 0 and c.cpu_s >= 0 and c.cpu_share >= 0 and c.cpu_share < 1.5)
  T.ok(c.loop_lag_p99_s and c.loop_lag_p99_s >= c.loop_lag_p50_s)
  T.eq(report.client_saturation({ cpu_share = 0.5, loop_lag_p99_s = 0.001, threads = 1, wall_s = 5 }), nil)
  T.ok(report.client_saturation({ cpu_share = 0.95, threads = 2, wall_s = 5 }):find("CPU 95% of its 2 threads", 1, true))
  T.ok(report.client_saturation({ cpu_share = 0.2, loop_lag_p99_s = 0.02, loop_lag_count = 400, wall_s = 2 })
       :find("lag p99 20.0 ms", 1, true))
  T.eq(report.client_saturation({ loop_lag_p99_s = 0.02, loop_lag_count = 400, wall_s = 2 }, 0.05), nil,
       "a looser limit")
  -- a load phase too short to judge (a run that failed at once: CPU time
  -- counted in scheduler ticks over a few ms of wall time) is never flagged
  T.eq(report.client_saturation({ cpu_share = 3.54, threads = 1, wall_s = 0.004 }), nil, "near-zero wall time")
  T.eq(report.client_saturation({ loop_lag_p99_s = 0.05, loop_lag_count = 3, wall_s = 2 }), nil, "3 lag samples")
  -- the report says so for a run that carries only the figures (an older
  -- or merged file), once
  run.client = { cpu_share = 0.97, threads = 1, wall_s = 5 }
  run.warnings = nil
  local text = report.table({ runs = { run } })
  T.ok(text:find("client saturated (CPU 97% of its 1 thread)", 1, true), text)
  run.warnings = { report.client_saturation(run.client) }
  local _, n = report.table({ runs = { run } }):gsub("client saturated", "")
  T.eq(n, 1)
end)

T.test("a saturated client is flagged in the run", function()
  -- a scripted client that burns its loop: every result blocks it 30 ms
  local run = mb.bench{ target = target, model = "f", requests = 45, max_tokens = 2, warmup = 0,
    on_result = function() local t0 = time.now() while time.now() - t0 < 0.03 do end end }
  T.ok(run.client.wall_s >= 1, "a load phase long enough to judge: " .. run.client.wall_s)
  T.ok(run.client.loop_lag_p99_s > 0.010, "lag " .. run.client.loop_lag_p99_s)
  T.eq(run.client.saturated, true)
  local found = false
  for _, w in ipairs(run.warnings or {}) do found = found or w:find("client saturated", 1, true) ~= nil end
  T.ok(found)
end)

-- last: bench.stop() is for good (it is what Ctrl-C does)
T.test("bench.stop() in the main state stops the threads; what they measured is kept", function()
  local t0 = time.now()
  mb.spawn(function() time.sleep(0.5) bench.stop() end)
  local run = mb.bench{ target = target, model = "f", duration = 30, concurrency = 4,
                        max_tokens = 20, threads = 2 }
  T.ok(time.now() - t0 < 5, "stopped early")
  T.eq(run.interrupted, true)
  T.ok(run.requests.ok > 0)
  T.eq(run.requests.failed, 0, "in-flight requests finished, none aborted")
end)

T.run()
os.remove(hooks)
srv:stop()
