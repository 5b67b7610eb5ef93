-- mlxbench.proxy without an upstream server: misuse errors, the object's
-- fields, lifecycle, and the faults whose outcome needs no upstream answer
-- (upstream down, refuse, blackhole, close_after_ms). Pass-through, latency,
-- bandwidth and reset_after_bytes against real servers: tests/e2e/proxy.lua.
local T = require "harness"
local proxy = require "mlxbench.proxy"
local http = require "mlxbench.http"
local time = require "mlxbench.time"
local mb = require "mlxbench"

local function kind(r) return r.error and r.error.kind end

-- A port nobody listens on: bind a proxy, note its port, stop it.
local function dead_port()
  local p = proxy.start{ upstream = "127.0.0.1:9" }
  local port = p.port
  p:stop()
  return port
end

local DEAD = dead_port()

T.test("misuse raises clear errors", function()
  T.raises(function() proxy.start() end, "table expected")
  T.raises(function() proxy.start{} end, "'upstream' is required")
  T.raises(function() proxy.start{ upstream = "127.0.0.1" } end, "bad upstream '127.0.0.1'")
  T.raises(function() proxy.start{ upstream = "ftp://host/x" } end, "bad upstream")
  T.raises(function() proxy.start{ upstream = "127.0.0.1:99999" } end, "bad upstream")
  T.raises(function() proxy.start{ upstream = "127.0.0.1:0" } end, "upstream port must be in 1..65535")
  T.raises(function() proxy.start{ upstream = "::1:80" } end, "bad upstream")
  T.raises(function() proxy.start{ upstream = 42.5 } end, "upstream must be")
  T.raises(function() proxy.start{ upstream = "127.0.0.1:80", listen = "http://x:1" } end, "not a URL")
  T.raises(function() proxy.start{ upstream = "127.0.0.1:80", listen = { port = "x" } } end,
           "listen.port must be an integer")
  T.raises(function() proxy.start{ upstream = "127.0.0.1:80", lsiten = "x" } end, "unknown option 'lsiten'")
  T.raises(function() proxy.start{ upstream = "127.0.0.1:80", seed = -1 } end, "seed must be")
  T.raises(function() proxy.start{ upstream = "127.0.0.1:80", faults = { latncy_ms = 1 } } end,
           "unknown fault 'latncy_ms'")
  T.raises(function() proxy.start{ upstream = "no.such.host.invalid:80" } end, "cannot resolve upstream")
  local p = proxy.start{ upstream = "127.0.0.1:80" }
  T.raises(function() proxy.start{ upstream = "127.0.0.1:80", listen = p.port } end, "cannot listen on")
  T.raises(function() p:set_faults() end, "expected a table")
  T.raises(function() p:set_faults{ latency_ms = "100" } end, "'latency_ms' must be a number")
  T.raises(function() p:set_faults{ latency_ms = -1 } end, "'latency_ms' must be in")
  T.raises(function() p:set_faults{ bandwidth = 0 / 0 } end, "'bandwidth' must be in")
  T.raises(function() p:set_faults{ refuse = "maybe" } end, "'refuse' must be true, false")
  T.raises(function() p:set_faults{ blackhole = 1 } end, "'blackhole' must be a boolean")
  T.raises(function() p:set_faults{ [1] = true } end, "unknown fault")
  T.raises(function() proxy.start{ upstream = "127.0.0.1:80", faults = 3 } end, "table expected")
  p:stop()
  p:stop()   -- twice is fine
  T.eq(p:running(), false)
  T.raises(function() p:stats() end, "proxy:stats: the proxy is stopped")
  T.raises(function() p:set_faults{} end, "proxy:set_faults: the proxy is stopped")
  p:wait()   -- returns at once when stopped
end)

T.test("fields: url, port, host, upstream; URL and address forms", function()
  local p = proxy.start{ upstream = "http://user@localhost/v1/chat?x=1", listen = "127.0.0.1:0" }
  T.ok(p.port > 0 and p.port < 65536)
  T.eq(p.host, "127.0.0.1")
  T.eq(p.url, "http://127.0.0.1:" .. p.port)
  T.eq(p.upstream, "localhost:80")
  T.ok(tostring(p):find("proxy http://127.0.0.1:%d+ %-> localhost:80 %(running%)"))
  T.eq(p:running(), true)
  p:stop()
  T.ok(tostring(p):find("stopped"))
  p = proxy.start{ upstream = { host = "127.0.0.1", port = 443 }, listen = { port = 0 } }
  T.eq(p.upstream, "127.0.0.1:443")
  p:stop()
  p = proxy.start{ upstream = "https://[::1]", listen = 0 }
  T.eq(p.upstream, "[::1]:443")
  p:stop()
  local ok6, p6 = pcall(proxy.start, { upstream = "127.0.0.1:80", listen = "[::1]:0" })
  if ok6 then   -- hosts without IPv6 on loopback skip this
    T.eq(p6.url, "http://[::1]:" .. p6.port)
    p6:stop()
  end
end)

T.test("faults(): what is in force, a table set_faults accepts", function()
  local p = proxy.start{ upstream = "127.0.0.1:80",
                         faults = { latency_ms = 10, jitter_ms = 5, bandwidth = 1e6,
                                    reset_after_bytes = 0, close_after_ms = 250, refuse = false } }
  T.same(p:faults(), { latency_ms = 10, jitter_ms = 5, bandwidth = 1000000,
                       reset_after_bytes = 0, close_after_ms = 250 })
  p:set_faults{ refuse = "reset", blackhole = true }
  T.same(p:faults(), { refuse = "reset", blackhole = true })
  p:set_faults{ refuse = true }
  T.same(p:faults(), { refuse = "close" })
  p:set_faults(p:faults())
  T.same(p:faults(), { refuse = "close" })
  p:clear()
  T.same(p:faults(), {})
  p:set_faults{ latency_ms = false, bandwidth = false }
  T.same(p:faults(), {})
  p:stop()
end)

T.test("upstream down: the client is reset, counted as upstream_failed", function()
  local p = proxy.start{ upstream = "127.0.0.1:" .. DEAD }
  local r = http.request{ url = p.url .. "/", timeout = 5 }
  T.eq(kind(r), "reset", r.error and r.error.message)
  local s = p:stats()
  T.eq(s.accepted, 1)
  T.eq(s.upstream_failed, 1)
  T.eq(s.active, 0)
  p:stop()
end)

T.test("refuse = true: listener closed -> connect; \"reset\" -> reset; clear -> listening", function()
  local p = proxy.start{ upstream = "127.0.0.1:" .. DEAD, faults = { refuse = true } }
  T.ok(p.port > 0, "the port is known even when starting refused")
  local r = http.request{ url = p.url .. "/", timeout = 5 }
  T.eq(kind(r), "connect", r.error and r.error.message)
  T.eq(p:stats().accepted, 0)
  T.eq(p:stats().listener_closed, 1)
  p:set_faults{ refuse = "reset" }
  r = http.request{ url = p.url .. "/", timeout = 5 }
  T.eq(kind(r), "reset", r.error and r.error.message)
  local s = p:stats()
  T.eq(s.refused, 1)
  T.eq(s.upstream_failed, 0, "a refused connection never reaches the upstream")
  p:clear()
  r = http.request{ url = p.url .. "/", timeout = 5 }
  T.eq(kind(r), "reset", "listening again, on the same port; upstream down -> reset")
  T.eq(p:stats().upstream_failed, 1)
  p:stop()
  r = http.request{ url = p.url .. "/", timeout = 5 }
  T.eq(kind(r), "connect", "stopped: nothing listens")
end)

T.test("refuse = true, port taken meanwhile: clear() raises, the proxy stays refusing", function()
  local p = proxy.start{ upstream = "127.0.0.1:" .. DEAD, faults = { refuse = true } }
  local squatter = proxy.start{ upstream = "127.0.0.1:" .. DEAD, listen = p.port }
  T.raises(function() p:clear() end, "cannot listen again %(still refusing%): address already in use")
  T.same(p:faults(), { refuse = "close" })
  squatter:stop()
  p:clear()
  T.same(p:faults(), {})
  local r = http.request{ url = p.url .. "/", timeout = 5 }
  T.eq(kind(r), "reset", "listening again")
  T.eq(p:stats().accepted, 1)
  p:stop()
end)

T.test("blackhole: accepted, never answered -> client timeout; data dropped", function()
  local p = proxy.start{ upstream = "127.0.0.1:" .. DEAD, faults = { blackhole = true } }
  local t0 = time.now()
  local r = http.request{ url = p.url .. "/x", timeout = 0.3 }
  local dt = time.now() - t0
  T.eq(kind(r), "timeout", r.error and r.error.message)
  T.near(dt, 0.3, 0.1, "timed out by the client's timeout")
  local s = p:stats()
  T.eq(s.blackholed, 1)
  T.eq(s.upstream_failed, 0, "a blackholed connection has no upstream")
  T.ok(s.bytes_dropped > 20, "the request was read and dropped")
  T.eq(s.bytes_up, 0)
  time.sleep(0.05)
  T.eq(p:stats().active, 0, "the client's close ends the connection")
  p:stop()
end)

T.test("close_after_ms: the connection is closed that long after the accept", function()
  local p = proxy.start{ upstream = "127.0.0.1:" .. DEAD,
                         faults = { blackhole = true, close_after_ms = 150 } }
  local t0 = time.now()
  local r = http.request{ url = p.url .. "/x", timeout = 5 }
  local dt = time.now() - t0
  T.eq(kind(r), "reset", r.error and r.error.message)   -- "Empty reply from server"
  T.near(dt, 0.15, 0.05)
  T.eq(p:stats().closed_after, 1)
  p:stop()
end)

T.test("two proxies chained; stats of each", function()
  local b = proxy.start{ upstream = "127.0.0.1:" .. DEAD }
  local a = proxy.start{ upstream = b.url, faults = { latency_ms = 30 } }
  local r = http.request{ url = a.url .. "/", timeout = 5 }
  T.eq(kind(r), "reset", r.error and r.error.message)   -- b's reset, passed on by a
  T.eq(a:stats().accepted, 1)
  T.eq(b:stats().accepted, 1)
  T.eq(b:stats().upstream_failed, 1)
  T.ok(a:stats().delayed_chunks >= 1)
  a:stop()
  b:stop()
end)

T.test("wait() returns when another task stops the proxy", function()
  local p = proxy.start{ upstream = "127.0.0.1:" .. DEAD }
  local waiter = mb.spawn(function() p:wait() return "stopped" end)
  time.sleep(0.01)
  T.eq(waiter:done(), false)
  p:stop()
  T.eq(mb.wait(waiter), "stopped")
end)

T.test("a proxy left running, with an open connection, does not keep the script alive", function()
  -- No stop(): the engine's closer stops it when the script ends (ASan
  -- builds check that nothing leaks). A task hangs on the blackhole and is
  -- cancelled, so the proxy may still hold that connection at exit.
  local p = proxy.start{ upstream = "127.0.0.1:" .. DEAD, faults = { blackhole = true, latency_ms = 5 } }
  local t = mb.spawn(function() return http.request{ url = p.url .. "/", timeout = 60 } end)
  time.sleep(0.05)
  T.eq(p:stats().active, 1)
  t:cancel()
end)

return T.run()
