-- mlxbench.proxy between mlxbench.http and real servers (started by
-- test_proxy.py): nginx (static files) and sse_server.py (SSE on a schedule,
-- /big, /echo). Pass-through byte-exact, stream timing kept, latency,
-- jitter, bandwidth, reset_after_bytes, faults switched at runtime, stats.
local T = require "harness"
local mb = require "mlxbench"
local proxy = require "mlxbench.proxy"
local http = require "mlxbench.http"
local time = require "mlxbench.time"
local cjson = require "cjson"

local NGINX = assert(os.getenv("HTTP_NGINX"))
local SSE = assert(os.getenv("HTTP_SSE"))
local BLOB = assert(os.getenv("PROXY_BLOB"))          -- a random file nginx serves as /blob.bin
local TOL = tonumber(os.getenv("PROXY_TIME_TOL") or "0.005")   -- wider under ASan
local FIGURES = os.getenv("PROXY_FIGURES")            -- file to append measured figures to

local function kind(r) return r.error and r.error.kind end
local function msg(r) return r.error and (r.error.kind .. ": " .. r.error.message) end

local function figure(fmt, ...)
  local line = fmt:format(...)
  io.write("  # ", line, "\n")
  if FIGURES then
    local f = assert(io.open(FIGURES, "a"))
    f:write(line, "\n")
    f:close()
  end
end

local function median(t)
  table.sort(t)
  return t[(#t + 1) // 2]
end

-- Mirrors event_bytes(i) in sse_server.py (as tests/e2e/http_sse.lua does).
local function expected(i)
  return {
    event = (i % 2 == 1) and "tick" or "message",
    id = tostring(i),
    data = ("ev%d-%s%s\nsecond line %d"):format(i, ("é漢🙂"):rep(i % 4), ("x"):rep(i * 7 % 50), i),
  }
end

-- Streams n events through `base`; returns the response, the call time and
-- the server's send time of each event (same monotonic clock).
local tags = 0
local function stream(base, n, interval)
  tags = tags + 1
  local tag = ("px%d_%d"):format(tags, time.now_ns())
  local t_call = time.now()
  local r = http.request{ url = ("%s/sse?n=%d&interval=%g&frag=1&seed=%d&tag=%s"):format(
                            base, n, interval, tags, tag), stream = true, timeout = 20 }
  local log = http.request{ url = SSE .. "/log?tag=" .. tag }
  return r, t_call, cjson.decode(log.body)
end

-- Every event byte-exact and in order; returns min and max of arrival - send.
local function check_events(r, t_call, sent, n)
  T.eq(r.ok, true, msg(r))
  T.eq(#r.events, n, "event count")
  T.eq(#sent, n, "server log")
  local lo, hi = math.huge, -math.huge
  for i = 1, n do
    local ev, want = r.events[i], expected(i - 1)
    T.eq(ev.event, want.event, "event " .. i)
    T.eq(ev.id, want.id, "id " .. i)
    T.eq(ev.data, want.data, "data " .. i)
    local d = t_call + ev.t - sent[i]
    lo, hi = math.min(lo, d), math.max(hi, d)
  end
  return lo, hi
end

local blob = T.slurp(BLOB)

T.test("pass-through: large bodies byte-exact both ways; exact byte counts", function()
  local p = proxy.start{ listen = "127.0.0.1:0", upstream = NGINX }
  local r = http.request{ url = p.url .. "/blob.bin", timeout = 20 }
  T.eq(r.status, 200, msg(r))
  T.eq(#r.body, #blob)
  T.ok(r.body == blob, "GET body byte-exact")
  p:stop()
  -- POST the same bytes to /echo: both directions, exact response size
  p = proxy.start{ upstream = SSE }
  r = http.request{ method = "POST", url = p.url .. "/echo", body = blob, timeout = 20,
                    headers = { ["Content-Type"] = "application/octet-stream" } }
  T.eq(r.status, 200, msg(r))
  T.ok(r.body == blob, "echoed body byte-exact")
  local head = ("HTTP/1.1 200 X\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n" ..
                "X-Method: POST\r\n\r\n"):format(#blob)
  local s = p:stats()
  T.eq(s.bytes_down, #head + #blob, "bytes_down = response head + body")
  T.ok(s.bytes_up > #blob and s.bytes_up < #blob + 1000, "bytes_up = request head + body")
  T.eq(s.accepted, 1)
  T.eq(s.active, 1, "keep-alive connection still open")
  T.eq(s.delayed_chunks + s.throttled + s.reset + s.refused + s.blackholed + s.bytes_dropped, 0)
  p:stop()
end)

T.test("TLS + HTTP/2 and h2c go through unchanged (bytes are bytes)", function()
  local tls_port = assert(os.getenv("HTTP_TLS")):match(":(%d+)$")
  local p = proxy.start{ upstream = "127.0.0.1:" .. tls_port }
  local r = http.request{ url = ("https://127.0.0.1:%d/hello"):format(p.port), http2 = true,
                          cacert = os.getenv("HTTP_CACERT"), timeout = 5 }
  T.eq(r.body, "hello tls\n", msg(r))
  T.eq(r.http_version, "2")
  p:stop()
  p = proxy.start{ upstream = assert(os.getenv("HTTP_H2C")), faults = { latency_ms = 5 } }
  r = http.request{ url = p.url .. "/hello", http2 = true, timeout = 5 }
  T.eq(r.body, "hello\n", msg(r))
  T.eq(r.http_version, "2")
  p:stop()
end)

T.test("streamed events: byte-exact under fragmentation, timing kept within a few ms", function()
  local p = proxy.start{ upstream = SSE }
  local r, t_call, sent = stream(p.url, 20, 0.03)
  local lo, hi = check_events(r, t_call, sent, 20)
  figure("pass-through stream: send->arrival %.2f..%.2f ms (20 events)", lo * 1e3, hi * 1e3)
  T.ok(lo >= -0.0002 and hi < TOL, ("send->arrival %.2f..%.2f ms"):format(lo * 1e3, hi * 1e3))
  p:stop()
end)

T.test("latency_ms: TTFB +2x latency (each direction); stream shifted by latency", function()
  local direct, via = {}, {}
  local p = proxy.start{ upstream = NGINX, faults = { latency_ms = 100 } }
  for i = 1, 5 do
    local d = http.request{ url = NGINX .. "/hello", timeout = 5 }
    local r = http.request{ url = p.url .. "/hello", timeout = 5 }
    T.eq(r.body, "hello\n", msg(r))
    direct[i], via[i] = d.timings.ttfb, r.timings.ttfb
  end
  local added = median(via) - median(direct)
  figure("latency_ms=100: TTFB added %.1f ms (want 200 +- 20)", added * 1e3)
  T.near(added, 0.200, 0.020, "added TTFB")
  p:stop()
  -- downstream only is visible in a stream: each event arrives latency later
  p = proxy.start{ upstream = SSE, faults = { latency_ms = 50 } }
  local r, t_call, sent = stream(p.url, 10, 0.03)
  local lo, hi = check_events(r, t_call, sent, 10)
  figure("latency_ms=50 stream: send->arrival %.2f..%.2f ms", lo * 1e3, hi * 1e3)
  T.ok(lo >= 0.050 - 0.0005 and hi < 0.050 + TOL,
       ("send->arrival %.2f..%.2f ms"):format(lo * 1e3, hi * 1e3))
  T.ok(p:stats().delayed_chunks >= 10)
  p:stop()
end)

T.test("jitter_ms: delays within [latency, latency + jitter], order kept", function()
  local p = proxy.start{ upstream = SSE, seed = 7, faults = { latency_ms = 20, jitter_ms = 40 } }
  local r, t_call, sent = stream(p.url, 20, 0.01)
  local lo, hi = check_events(r, t_call, sent, 20)   -- byte-exact = order preserved
  figure("latency 20 + jitter 40 stream: send->arrival %.2f..%.2f ms", lo * 1e3, hi * 1e3)
  T.ok(lo >= 0.020 - 0.0005 and hi < 0.060 + TOL, ("%.2f..%.2f ms"):format(lo * 1e3, hi * 1e3))
  T.ok(hi - lo > 0.005, "jitter actually varies the delay")
  p:stop()
end)

T.test("bandwidth: 1 MB down at 500 kB/s ~ 2 s; 500 kB up at 250 kB/s ~ 2 s", function()
  local p = proxy.start{ upstream = SSE, faults = { bandwidth = 500000 } }
  local t0 = time.now()
  local r = http.request{ url = p.url .. "/big?bytes=1000000", timeout = 20 }
  local dt = time.now() - t0
  T.eq(r.status, 200, msg(r))
  T.eq(r.bytes, 1000000)
  figure("bandwidth=500000 down: 1 MB in %.3f s (want 2.0 +- 10%%; %.1f kB/s)", dt, 1000 / dt)
  T.rel(dt, 2.0, 0.10, "download time")
  local s = p:stats()
  T.ok(s.throttled > 50 and s.throttled < 400, "throttled " .. s.throttled)
  -- upload: the request body is limited too (and the echo coming back)
  p:set_faults{ bandwidth = 250000 }
  local body = blob:sub(1, 500000)
  t0 = time.now()
  r = http.request{ method = "POST", url = p.url .. "/echo", body = body, timeout = 20 }
  dt = time.now() - t0
  T.ok(r.body == body, msg(r))
  figure("bandwidth=250000 up+down: 2 x 500 kB in %.3f s (want 4.0 +- 10%%)", dt)
  T.rel(dt, 4.0, 0.10, "upload + echo time")
  p:stop()
end)

T.test("reset_after_bytes: partial response then RST; 0 = reset at the first byte", function()
  local p = proxy.start{ upstream = SSE, faults = { reset_after_bytes = 1000 } }
  local r = http.request{ url = p.url .. "/big?bytes=1000000", timeout = 5 }
  T.ok(kind(r) == "reset" or kind(r) == "protocol", "kind " .. tostring(kind(r)))
  T.eq(r.status, 200, "the head got through")
  T.ok(r.bytes > 0 and r.bytes < 1000, "partial body: " .. tostring(r.bytes))
  local s = p:stats()
  T.eq(s.reset, 1)
  T.eq(s.bytes_down, 1000, "exactly N bytes forwarded")
  T.eq(s.active, 0)
  p:set_faults{ reset_after_bytes = 0 }
  r = http.request{ url = p.url .. "/big?bytes=1000", timeout = 5 }
  T.eq(kind(r), "reset", msg(r))
  T.eq(r.status, 0)
  T.eq(p:stats().bytes_down, 1000, "nothing more forwarded")
  p:clear()
  r = http.request{ url = p.url .. "/big?bytes=1000", timeout = 5 }
  T.eq(r.status, 200, msg(r))
  T.eq(p:stats().reset, 2)
  p:stop()
end)

T.test("faults switched at runtime take effect for the next request (keep-alive too)", function()
  local p = proxy.start{ upstream = NGINX }
  local a = http.request{ url = p.url .. "/hello", timeout = 5 }
  T.ok(a.ok and a.timings.ttfb < 0.05, msg(a))
  p:set_faults{ latency_ms = 60 }
  local b = http.request{ url = p.url .. "/hello", timeout = 5 }
  T.eq(b.reused, true, "same connection")
  T.near(b.timings.ttfb, 0.120, 0.020, "latency applies on the open connection")
  p:set_faults{ reset_after_bytes = 10 }
  local c = http.request{ url = p.url .. "/hello", timeout = 5 }
  T.ok(kind(c) == "reset" or kind(c) == "protocol", "reset on the open connection: " .. tostring(kind(c)))
  p:clear()
  local d = http.request{ url = p.url .. "/hello", timeout = 5 }
  T.ok(d.ok and d.timings.ttfb < 0.05, msg(d))
  p:set_faults{ blackhole = true }
  local e = http.request{ url = p.url .. "/hello", timeout = 0.3 }
  T.eq(kind(e), "timeout", "blackhole on the open connection: " .. tostring(msg(e)))
  p:clear()
  T.eq(http.request{ url = p.url .. "/hello", timeout = 5 }.ok, true)
  p:set_faults{ refuse = true }
  local f = http.request{ url = p.url .. "/hello", timeout = 5 }
  T.eq(kind(f), "connect", "open connections were dropped, new ones refused: " .. tostring(msg(f)))
  T.eq(p:stats().dropped, 1)
  p:clear()
  T.eq(http.request{ url = p.url .. "/hello", timeout = 5 }.ok, true)
  p:stop()
end)

T.test("a task switches refuse on and off mid-run; requests see the window", function()
  local p = proxy.start{ upstream = NGINX }
  local t0 = time.now()
  local switch = mb.spawn(function()
    time.sleep(0.3)
    p:set_faults{ refuse = true }
    time.sleep(0.3)
    p:clear()
  end)
  local log = {}
  while time.now() - t0 < 0.9 do
    local ts = time.now() - t0
    local r = http.request{ url = p.url .. "/hello", timeout = 2 }
    log[#log + 1] = { t = ts, ok = r.ok, kind = kind(r) }
    time.sleep(0.02)
  end
  mb.wait(switch)
  local before, during, after = 0, 0, 0
  for _, e in ipairs(log) do
    if e.t < 0.28 then
      T.ok(e.ok, ("t=%.3f before the fault: %s"):format(e.t, tostring(e.kind)))
      before = before + 1
    elseif e.t > 0.32 and e.t < 0.58 then
      T.eq(e.kind, "connect", ("t=%.3f in the window"):format(e.t))
      during = during + 1
    elseif e.t > 0.62 then
      T.ok(e.ok, ("t=%.3f after the fault: %s"):format(e.t, tostring(e.kind)))
      after = after + 1
    end
  end
  T.ok(before > 5 and during > 5 and after > 5, ("%d/%d/%d requests"):format(before, during, after))
  T.eq(p:stats().listener_closed, 1)
  p:stop()
end)

T.test("concurrent connections: every byte to the right client", function()
  local p = proxy.start{ upstream = SSE, faults = { latency_ms = 5, jitter_ms = 5 } }
  local tasks = {}
  for i = 1, 20 do
    tasks[i] = mb.spawn(function()
      local body = blob:sub(i * 1000, i * 1000 + 50000 + i)
      local r = http.request{ method = "POST", url = p.url .. "/echo", body = body, timeout = 20 }
      return r.body == body and #body
    end)
  end
  for i = 1, 20 do T.eq(mb.wait(tasks[i]), 50001 + i, "task " .. i) end
  local s = p:stats()
  T.eq(s.accepted, 20)
  T.eq(s.active, 20)
  p:stop()
end)

return T.run()
