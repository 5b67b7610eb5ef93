-- mlxbench.mock from a script: the server runs on the script's own loop while
-- tasks sleep; curl (started in the background) is the client, so this test
-- does not depend on mlxbench.http.
local T = require "harness"
local mb = require "mlxbench"
local mock = require "mlxbench.mock"
local time = require "mlxbench.time"
local cjson = require "cjson"

local PROFILE = {
  builtin_models = false,
  models = { fast = { ttft_ms = 20, prefill_tok_s = 0, decode_tok_s = 500, jitter = 0 } },
}

local tmpfiles = {}
local function tmp()
  local p = os.tmpname()
  tmpfiles[#tmpfiles + 1] = p
  return p
end

-- Starts curl in the background; returns a function that waits (sleeping
-- the task, so the server keeps serving) and returns status, body.
local function curl(url, path, body, id)
  local out, code = tmp(), tmp()
  local cmd = string.format("curl -s -o %s -w '%%{http_code}' -H 'content-type: application/json' " ..
                            "-H 'x-mock-request-id: %s' %s%s %s > %s 2>/dev/null &",
                            out, id or "none", url, path,
                            body and ("-d '" .. cjson.encode(body) .. "'") or "", code)
  os.execute(cmd)
  return function()
    for _ = 1, 200 do
      local f = io.open(code)
      local c = f and f:read("a")
      if f then f:close() end
      if c and #c == 3 then
        local fb = io.open(out)
        local b = fb and fb:read("a") or ""
        if fb then fb:close() end
        return tonumber(c), b
      end
      time.sleep(0.025)
    end
    error("curl did not finish")
  end
end

local srv

T.test("start on a free port", function()
  srv = mock.start { port = 0, profile = PROFILE, seed = 3 }
  T.ok(srv.url:match("^http://127%.0%.0%.1:%d+$"), srv.url)
  T.ok(math.type(srv.port) == "integer" and srv.port > 0)
  T.eq(srv.url, "http://127.0.0.1:" .. srv.port)
  T.ok(tostring(srv):find("running", 1, true))
  T.ok(srv:running())
end)

T.test("serves a stream while the script's tasks run", function()
  local wait = curl(srv.url, "/v1/chat/completions",
                    { model = "fast", max_tokens = 7, stream = true, messages = { { role = "user", content = "hello" } } },
                    "lua1")
  local st, body = wait()
  T.eq(st, 200)
  T.ok(body:find("data: [DONE]", 1, true), body)
  local tr = srv:trace { id = "lua1" }
  T.eq(#tr.requests, 1)
  local r = tr.requests[1]
  T.eq(r.client_id, "lua1")
  T.eq(r.output_tokens, 7)
  T.eq(#r.chunks, 7)
  T.eq(r.outcome, "ok")
  T.ok(r.chunks[1][2] >= r.chunks[1][1], "actual >= scheduled")
  local ttft = (r.chunks[1][2] - r.arrival_ns) / 1e9
  T.ok(ttft >= 0.02 and ttft < 0.05, "ttft " .. ttft)
  -- monotonic ns of the trace share the clock of mlxbench.time
  T.ok(math.abs(r.end_ns / 1e9 - time.now()) < 5)
end)

T.test("set_faults takes effect on the next request, and off again", function()
  srv:set_faults { error_rate = 1, status = 503 }
  local st, body = curl(srv.url, "/v1/chat/completions",
                        { model = "fast", max_tokens = 2, messages = { { role = "user", content = "x" } } })()
  T.eq(st, 503)
  T.eq(cjson.decode(body).error.type, "server_error")
  T.eq(srv:faults().status, 503)
  srv:set_faults('{"error_rate": 0}')
  st = curl(srv.url, "/v1/chat/completions",
            { model = "fast", max_tokens = 2, messages = { { role = "user", content = "x" } } })()
  T.eq(st, 200)
  local s = srv:stats()
  T.eq(s.faults.error_503, 1)
  T.ok(s.requests.by_endpoint.chat >= 3)
  T.raises(function() srv:set_faults { error_rate = 3 } end, "error_rate")
  T.raises(function() srv:set_faults { nope = 1 } end, "unknown fault field 'nope'")
end)

T.test("reset_trace empties the trace", function()
  srv:reset_trace()
  T.eq(srv:trace().count, 0)
end)

T.test("wait() returns when another task stops the server", function()
  local waiter = mb.spawn(function() srv:wait() return "woken" end)
  time.sleep(0.05)
  T.eq(waiter:status(), "waiting")
  srv:stop()
  T.eq(mb.wait(waiter), "woken")
  T.ok(not srv:running())
  T.ok(tostring(srv):find("stopped", 1, true))
  T.raises(function() srv:stats() end, "stopped")
  srv:stop()   -- idempotent
  srv:wait()   -- returns at once
end)

T.test("profile as a JSON string or a file; options checked", function()
  local s2 = mock.start { profile = '{"models": {"m1": {}}, "builtin_models": false}', log = false }
  T.ok(s2:running())
  local path = tmp()
  local f = assert(io.open(path, "w"))
  f:write('{"any_model": true}')
  f:close()
  local s3 = mock.start { profile = path, api_key = "k", faults = { slow_ttft_rate = 0.5 } }
  T.eq(s3:faults().slow_ttft_rate, 0.5)
  T.raises(function() mock.start { port = s2.port } end, "cannot listen")
  T.raises(function() mock.start { profile = { models = { x = { decode_tok_s = "fast" } } } } end,
           "decode_tok_s")
  T.raises(function() mock.start { profile = "/nonexistent/profile.json" } end, "cannot open profile")
  T.raises(function() mock.start { prot = 1 } end, "unknown option 'prot'")
  T.raises(function() mock.start { port = -1 } end, "port")
  s2:stop()
  s3:stop()
end)

T.test("prompt_tokens is the mock's rule", function()
  T.eq(mock.prompt_tokens(""), 0)
  T.eq(mock.prompt_tokens("hello there"), 3)
  T.eq(mock.prompt_tokens(string.rep("x", 400)), 100)
end)

T.test("a server left running does not keep the script alive", function()
  mock.start { port = 0 }   -- stopped by the engine at exit
end)

local rc = T.run()
for _, p in ipairs(tmpfiles) do os.remove(p) end
return rc
