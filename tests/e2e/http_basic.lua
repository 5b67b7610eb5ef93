-- mlxbench.http against real loopback servers (started by test_http.py):
-- nginx (HTTP/1.1, h2c, HTTP/2 + TLS), sse_server.py, a refused port and a
-- socket that never answers.
local T = require "harness"
local mb = require "mlxbench"
local http = require "mlxbench.http"
local time = require "mlxbench.time"

local NGINX = assert(os.getenv("HTTP_NGINX"))
local H2C = os.getenv("HTTP_H2C")
local TLS = os.getenv("HTTP_TLS")
local TLS_HOST = os.getenv("HTTP_TLS_HOST")
local CACERT = os.getenv("HTTP_CACERT")
local WRONG_CACERT = os.getenv("HTTP_WRONG_CACERT")
local SSE = assert(os.getenv("HTTP_SSE"))
local REFUSED = assert(os.getenv("HTTP_REFUSED"))
local BLACKHOLE = assert(os.getenv("HTTP_BLACKHOLE"))

local function kind(r) return r.error and r.error.kind end

T.test("GET: status, body, headers, timings, http_version", function()
  local r = http.request{ url = NGINX .. "/hello", timeout = 5 }
  T.eq(r.status, 200)
  T.eq(r.ok, true)
  T.eq(r.error, nil)
  T.eq(r.body, "hello\n")
  T.eq(r.bytes, 6)
  T.eq(r.http_version, "1.1")
  T.eq(r.headers["content-type"], "text/plain")
  T.eq(r.headers["content-length"], "6")
  T.ok(r.headers.server:find("nginx"), "server header")
  local t = r.timings
  T.ok(t.dns and t.connect and t.ttfb and t.done, "timings present")
  T.eq(t.tls, nil, "no TLS on plain HTTP")
  T.ok(t.dns <= t.connect and t.connect <= t.ttfb and t.ttfb <= t.done,
    ("ordered: %g %g %g %g"):format(t.dns, t.connect, t.ttfb, t.done))
  T.ok(t.done < 1, "fast on loopback")
end)

T.test("keep-alive: the second request on a target reuses the connection", function()
  local a = http.request{ url = NGINX .. "/hello" }
  local b = http.request{ url = NGINX .. "/hello" }
  T.eq(a.ok, true)
  T.eq(b.reused, true)
  T.ok(b.timings.done < 1)
  local c = http.request{ url = H2C .. "/hello", http2 = true }
  T.eq(c.reused, false, "a new target needs a new connection")
end)

T.test("POST echo, custom method, request headers", function()
  local r = http.request{ method = "POST", url = NGINX .. "/echo", body = '{"a":1,"b":"two"}',
                          headers = { ["Content-Type"] = "application/json" } }
  T.eq(r.status, 200)
  T.eq(r.body, 'POST {"a":1,"b":"two"}')
  r = http.post(NGINX .. "/echo", "via post()")
  T.eq(r.body, "POST via post()")
  r = http.request{ method = "put", url = NGINX .. "/echo", body = "x" }
  T.eq(r.body, "PUT x", "method upper-cased")
  r = http.request{ url = NGINX .. "/headers", headers = { "X-Foo: bar", { "User-Agent", "ua/1" } } }
  T.eq(r.body, "foo=bar ua=ua/1")
  r = http.get(NGINX .. "/headers", { headers = { ["X-Foo"] = 42 } })
  T.eq(r.body, "foo=42 ua=mlxbench/" .. mb.version)
  r = http.request{ method = "HEAD", url = NGINX .. "/hello" }
  T.eq(r.status, 200)
  T.eq(r.body, "")
end)

T.test("repeated response headers: joined, set-cookie as a list", function()
  local r = http.request{ url = NGINX .. "/multi" }
  T.eq(r.headers["x-multi"], "one, two")
  T.same(r.headers["set-cookie"], { "a=1", "b=2" })
end)

T.test("HTTP/2 over TLS verified with cacert; wrong cacert -> tls; insecure", function()
  local r = http.request{ url = TLS .. "/hello", http2 = true, cacert = CACERT, timeout = 5 }
  T.eq(r.error, nil, r.error and r.error.message)
  T.eq(r.status, 200)
  T.eq(r.body, "hello tls\n")
  T.eq(r.http_version, "2")
  T.ok(r.timings.tls and r.timings.tls >= r.timings.connect, "tls timing")
  local again = http.request{ url = TLS .. "/hello", http2 = true, cacert = CACERT }
  T.eq(again.reused, true)
  r = http.request{ url = TLS_HOST .. "/hello", cacert = CACERT }
  T.eq(r.ok, true, "by host name")
  T.eq(r.http_version, "1.1", "http2=false means HTTP/1.1 even over TLS")
  r = http.request{ url = TLS .. "/hello", cacert = WRONG_CACERT, timeout = 5 }
  T.eq(kind(r), "tls", r.error and r.error.message)
  T.eq(r.ok, false)
  T.eq(r.status, 0)
  r = http.request{ url = TLS .. "/hello", insecure = true, http2 = true }
  T.eq(r.ok, true, "insecure accepts")
end)

T.test("h2c with prior knowledge", function()
  for _ = 1, 3 do
    local r = http.request{ url = H2C .. "/hello", http2 = true }
    T.eq(r.ok, true, r.error and r.error.message)
    T.eq(r.http_version, "2")
    T.eq(r.body, "hello\n")
  end
end)

T.test("error kinds: connect, timeout, dns, reset/protocol, http", function()
  local r = http.request{ url = REFUSED .. "/", timeout = 5 }
  T.eq(kind(r), "connect")
  T.eq(r.ok, false)
  T.ok(#r.error.message > 0)
  local t0 = time.now()
  r = http.request{ url = BLACKHOLE .. "/", timeout = 0.3 }
  T.eq(kind(r), "timeout")
  T.near(time.now() - t0, 0.3, 0.2, "timed out on time")
  r = http.request{ url = "http://no-such-host.invalid/", timeout = 5 }
  T.eq(kind(r), "dns")
  r = http.request{ url = SSE .. "/close_mid", timeout = 5 }
  T.ok(kind(r) == "protocol" or kind(r) == "reset", tostring(kind(r)))
  T.eq(r.status, 200)
  r = http.request{ url = SSE .. "/reset_mid", timeout = 5 }
  T.eq(kind(r), "reset", r.error and r.error.message)
  r = http.request{ url = SSE .. "/chunk_bad", timeout = 5 }
  T.eq(kind(r), "protocol", r.error and r.error.message)
  r = http.request{ url = NGINX .. "/status500" }
  T.eq(r.status, 500)
  T.eq(r.ok, false)
  T.eq(kind(r), "http")
  T.eq(r.body, "boom", "an http error is a complete response")
  r = http.request{ url = SSE .. "/status/503", stream = true }
  T.eq(kind(r), "http")
  T.eq(r.body, "status 503", "a failed stream keeps its error body")
  T.eq(#r.events, 0)
end)

T.test("limits: max_body and max_line are protocol errors", function()
  local r = http.request{ url = SSE .. "/big?bytes=200000", max_body = 100000 }
  T.eq(kind(r), "protocol")
  T.ok(r.error.message:find("max_body"), r.error.message)
  r = http.request{ url = SSE .. "/big?bytes=200000", max_body = 300000 }
  T.eq(r.ok, true)
  T.eq(#r.body, 200000)
  r = http.request{ url = SSE .. "/longline?bytes=100000", stream = true, max_line = 50000 }
  T.eq(kind(r), "protocol")
  T.ok(r.error.message:find("max_line"), r.error.message)
  r = http.request{ url = SSE .. "/longline?bytes=100000", stream = true }
  T.eq(r.ok, true)
  T.eq(#r.events[1].data, 100000)
end)

T.test("stream: events, a truncated stream", function()
  local r = http.request{ url = SSE .. "/sse?n=3&interval=0.005&frag=0" }
  T.eq(r.ok, true)
  T.eq(r.events, nil, "no events unless stream=true")
  T.ok(#r.body > 0)
  r = http.request{ url = SSE .. "/sse_trunc", stream = true }
  T.eq(r.ok, true)
  T.eq(#r.events, 1)
  T.eq(r.events[1].data, "one")
  T.eq(r.truncated, true)
  T.eq(r.body, nil)
end)

T.test("on_event: in order, from the task, and it may sleep", function()
  local seen, tasks = {}, {}
  local me = mb.current()
  local r = http.request{
    url = SSE .. "/sse?n=8&interval=0.01&frag=1&seed=7", stream = true,
    on_event = function(ev)
      T.eq(mb.current(), me, "called from the requesting task")
      seen[#seen + 1] = ev
      if #seen % 2 == 0 then time.sleep(0.025) end   -- slower than the stream
    end }
  T.eq(r.ok, true)
  T.eq(#seen, 8)
  T.eq(#r.events, 8)
  for i = 1, 8 do
    T.eq(seen[i].id, tostring(i - 1), "order")
    T.eq(r.events[i], seen[i], "response.events holds the same tables")
    if i > 1 then T.ok(seen[i].t >= seen[i - 1].t) end
  end
  -- an error in on_event propagates and releases the transfer
  T.raises(http.request, "stop here", { url = SSE .. "/sse?n=5&interval=0.01", stream = true,
    on_event = function() error("stop here") end })
  tasks = nil
end)

T.test("cancel a task blocked in a request", function()
  local t = mb.spawn(function() return http.request{ url = SSE .. "/hang" } end)
  local s = mb.spawn(function()
    return http.request{ url = SSE .. "/sse?n=1000&interval=0.01", stream = true,
                         on_event = function() end }
  end)
  time.sleep(0.1)
  T.eq(t:status(), "waiting")
  T.eq(t:cancel(), true)
  T.eq(s:cancel(), true)
  T.raises(mb.wait, "cancelled", t)
  -- the engine goes on and the server is still usable
  local r = http.request{ url = SSE .. "/status/200" }
  T.eq(r.status, 200)
end)

T.test("concurrent requests share the loop", function()
  local t0 = time.now()
  local tasks = {}
  for i = 1, 20 do
    tasks[i] = mb.spawn(function()
      return http.request{ url = SSE .. "/sse?n=5&interval=0.02&frag=0", stream = true }
    end)
  end
  local rs = mb.wait(tasks)
  for i = 1, 20 do T.eq(#rs[i].events, 5) end
  T.ok(time.now() - t0 < 0.5, "ran concurrently: " .. (time.now() - t0))
end)

T.test("misuse raises clear errors", function()
  T.raises(http.request, "expected a table", "http://x")
  T.raises(http.request, "url option is required", {})
  T.raises(http.request, "not an http", { url = "ftp://x/" })
  T.raises(http.request, "unknown option 'timout'", { url = NGINX, timout = 1 })
  T.raises(http.request, "option 'timeout' must be a number", { url = NGINX, timeout = "1" })
  T.raises(http.request, "option 'timeout' must be a number", { url = NGINX, timeout = -1 })
  T.raises(http.request, "option 'stream' must be a boolean", { url = NGINX, stream = 1 })
  T.raises(http.request, "option 'body' must be a string", { url = NGINX, body = {} })
  T.raises(http.request, "option 'method' must be a string", { url = NGINX, method = 1 })
  T.raises(http.request, "not a valid HTTP method", { url = NGINX, method = "GE T" })
  T.raises(http.request, "option 'headers'", { url = NGINX, headers = "x" })
  T.raises(http.request, "header", { url = NGINX, headers = { ["X-A"] = "a\r\nX-B: b" } })
  T.raises(http.request, "header", { url = NGINX, headers = { ["bad name"] = "v" } })
  T.raises(http.request, "on_event' must be a function", { url = NGINX, on_event = 1 })
  T.raises(http.request, "needs stream = true", { url = NGINX, on_event = print })
  T.raises(http.request, "max_body", { url = NGINX, max_body = 0 })
  T.raises(function()
    table.sort({ 1, 2 }, function() http.request{ url = NGINX } return false end)
  end, "must be called from a task")
end)

return T.run()
