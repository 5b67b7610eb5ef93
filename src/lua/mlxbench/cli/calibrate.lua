-- mlxbench.cli.calibrate: `mlxbench calibrate` -- the engine's own floor on
-- this machine, measured against the in-process emulator on loopback:
--
--   timestamps   what one read of the monotonic clock costs (C, and
--                time.now() from Lua)
--   event loop   how late a periodic timer fires on an idle loop, and how
--                late time.sleep() wakes
--   TTFT, ITL    the client's stamps against the emulator's ground truth
--                (when each token's bytes were handed to the kernel): the
--                error is the smallest TTFT / ITL difference it resolves,
--                with one stream and with many at once
--   events/s     what one engine thread carries: the emulator on the main
--                thread, the client in an engine thread of its own, a fast
--                stream; events per second, the thread's CPU share and
--                events per CPU-second (its capacity when CPU-bound)
local args = require "mlxbench.cli.args"
local json = require "mlxbench.json"
local time = require "mlxbench.time"
local stats = require "mlxbench.stats"
local monitor = require "mlxbench._monitor"
local results = require "mlxbench.results"

local M = {}

M.SPEC = {
  format = { arg = "FMT", help = "table|json (default table)" },
  output = { short = "o", arg = "FILE", help = "also write the figures as JSON" },
  duration = { arg = "S", num = { 0.1, 3600 }, unit = "seconds", help = "seconds of the events/s load (default 3)" },
  quick = { help = "fewer samples (about 3 s in all): for tests" },
  help = { short = "h", help = "show this help" },
}
M.ORDER = { "format", "output", "duration", "quick", "help" }

local cmd = args.command{ name = "mlxbench calibrate", synopsis = "[options]",
  about = "Measures the engine's own timing floor on this machine against the in-process\n"
    .. "emulator on loopback (see docs/SCALING.md, Calibration).",
  spec = M.SPEC, order = M.ORDER }

local function median(xs)
  table.sort(xs)
  local n = #xs
  if n == 0 then return nil end
  if n % 2 == 1 then return xs[(n + 1) // 2] end
  return (xs[n // 2] + xs[n // 2 + 1]) / 2
end

local floor = require "mlxbench.floor"

local function summary(h)
  if h:count() == 0 then return nil end
  return { count = h:count(), p50_s = h:percentile(50), p99_s = h:percentile(99), max_s = h:max() }
end

-- the timestamp: C clock reads and Lua's time.now()
local function clock_cost(quick)
  local c, l = {}, {}
  for k = 1, quick and 3 or 7 do
    c[k] = monitor.clock_cost(quick and 200000 or 2000000)
    local n = quick and 200000 or 1000000
    local now = time.now
    local t0 = time.now_ns()
    for _ = 1, n do now() end
    l[k] = (time.now_ns() - t0) / n
  end
  return { read_ns = median(c), lua_now_ns = median(l) }
end

-- the idle loop: a 1 ms lag probe, and 1 ms sleeps
local function loop_floor(quick)
  local h = stats.histogram{}
  local probe = monitor.loop_lag(h, 0.001)
  time.sleep(quick and 0.3 or 1.0)
  probe:stop()
  local s = stats.histogram{}
  for _ = 1, quick and 50 or 300 do
    local t0 = time.now()
    time.sleep(0.001)
    s:record(math.max(0, time.now() - t0 - 0.001))
  end
  return { timer_lag = summary(h), sleep_late = summary(s) }
end

-- the events/s part: runs in an engine thread, returns its figures
function M.worker(payload)
  local threads = require "mlxbench.threads"
  local o = threads.decode(payload)
  require("mlxbench.progress").set("none")
  local bench = require "mlxbench.bench"
  local run = bench.bench{
    target = { url = o.url }, model = "fast", prompt = "short", max_tokens = 4000,
    concurrency = o.concurrency, duration = o.duration, warmup = 0, keep_requests = false,
  }
  return threads.encode{
    events = run.tokens.output, ok = run.requests.ok, failed = run.requests.failed,
    duration_s = run.duration_s, events_s = run.throughput.output_tok_s,
    cpu_s = run.client.cpu_s, wall_s = run.client.wall_s, cpu_share = run.client.cpu_share,
    loop_lag_p99_s = run.client.loop_lag_p99_s,
  }
end

local function carry(srv, duration, concurrency)
  local threads = require "mlxbench.threads"
  local th = require "mlxbench._thread"
  local h = th.start("mlxbench.cli.calibrate",
                     threads.encode{ url = srv.url, duration = duration, concurrency = concurrency })
  local ok, res = h:join()
  if not ok then error("calibrate: the engine thread failed: " .. tostring(res), 0) end
  local r = threads.decode(res)
  r.concurrency = concurrency
  r.events_per_cpu_s = (r.cpu_s or 0) > 0 and r.events / r.cpu_s or nil
  return r
end

local function us(v) return v and string.format("%.0f us", v * 1e6) or "-" end
local function ms(v) return v and string.format("%.2f ms", v * 1e3) or "-" end

local function table_text(doc)
  local h = doc.host
  local out = {
    string.format("mlxbench calibrate: the engine's own floor on %s (%s CPUs, %s)",
      h.hostname or "this machine", tostring(h.cpus or "?"), h.cpu_model or "?"),
    "",
  }
  local function line(a, b, c) out[#out + 1] = string.format("  %-12s %-40s %s", a, b, c) end
  line("timestamp", "one clock read (C, CLOCK_MONOTONIC)", string.format("%.1f ns", doc.clock.read_ns))
  line("", "time.now() called from Lua", string.format("%.1f ns", doc.clock.lua_now_ns))
  local tl, sl = doc.loop.timer_lag, doc.loop.sleep_late
  line("event loop", "idle timer lateness p50 / p99 / max",
    tl and string.format("%s / %s / %s", ms(tl.p50_s), ms(tl.p99_s), ms(tl.max_s)) or "-")
  line("", "time.sleep(0.001) late p50 / p99",
    sl and string.format("%s / %s", ms(sl.p50_s), ms(sl.p99_s)) or "-")
  for _, r in ipairs(doc.resolution) do
    local label = r.streams == 1 and "1 stream" or (r.streams .. " streams")
    line("TTFT", "error vs trace, " .. label .. ", p50 / p99",
      r.ttft_error and string.format("%s / %s", us(r.ttft_error.p50_s), us(r.ttft_error.p99_s)) or "-")
    line("ITL", "|error| vs trace, " .. label .. ", p50 / p99",
      r.itl_error and string.format("%s / %s", us(r.itl_error.p50_s), us(r.itl_error.p99_s)) or "-")
  end
  local t = doc.events
  line("events/s", string.format("one engine thread, %d streams", t.concurrency),
    string.format("%.0f events/s at %.0f%% CPU", t.events_s, (t.cpu_share or 0) * 100))
  line("", "events per CPU-second of that thread",
    t.events_per_cpu_s and string.format("%.0f", t.events_per_cpu_s) or "-")
  line("", "its event-loop lag p99 under that load", ms(t.loop_lag_p99_s))
  out[#out + 1] = ""
  out[#out + 1] = "TTFT and ITL below these errors are not resolved on this machine; a run whose"
  out[#out + 1] = "client CPU nears 100% or whose loop lag p99 exceeds ~10 ms measures the client."
  return table.concat(out, "\n") .. "\n"
end

function M.main(...)
  local o, pos = cmd:parse({ ... })
  if not o then return pos end
  if #pos > 0 then return cmd:die("unexpected argument '" .. pos[1] .. "'", true) end
  local fmt = o.format or "table"
  if fmt ~= "table" and fmt ~= "json" then return cmd:die("--format must be table or json", true) end
  local cok, err = args.check(o, M.SPEC)
  if not cok then return cmd:die(err, true) end
  local dur = o.duration
  local quick = o.quick or false
  dur = dur or (quick and 1 or 3)

  local mock = require "mlxbench.mock"
  local srv = mock.start{ port = 0, profile = floor.PROFILE }
  local doc = {
    schema = "mlxbench.calibrate/1", tool = { name = "mlxbench", version = results.VERSION },
    started_at = results.iso8601(time.wall()), host = results.host(),
  }
  local ok, e = pcall(function()
    doc.clock = clock_cost(quick)
    doc.loop = loop_floor(quick)
    doc.resolution = json.array{
      floor.resolution(srv, 1, quick and 5 or 20, "one"),
      floor.resolution(srv, 32, quick and 1 or 4, "many"),
    }
    doc.events = carry(srv, dur, 32)
  end)
  srv:stop()
  if not ok then return cmd:die(e) end
  if o.output then
    local wok, werr = json.write_atomic(o.output, json.encode(doc, { indent = "  " }) .. "\n")
    if not wok then return cmd:die(werr) end
  end
  io.stdout:write(fmt == "json" and (json.encode(doc, { indent = "  " }) .. "\n") or table_text(doc))
  return 0
end

return M
