-- stamps.lua: the client side of tests/e2e/test_stamps.py.
--   mlxbench tests/e2e/stamps.lua MODE URL STREAMS TOKENS OUT.json [SPIN_MS]
-- MODE "llm": STREAMS streamed mlxbench.llm requests at once (itl = true,
-- each tagged x-mock-request-id llm-N) and one raw mlxbench.http stream
-- (http-1); OUT gets, per request, its absolute content-event stamps and
-- stamp_source, the raw stream's events (t, read_lag), and the client's
-- read lag over it all. MODE "bench": one mlxbench.bench run of STREAMS
-- requests at concurrency STREAMS; OUT gets run.client and the report's
-- notes. SPIN_MS > 0: a task keeps the event loop busy SPIN_MS ms at a
-- time (1 ms apart), so the client reads late.
local mb = require "mlxbench"
local llm = require "mlxbench.llm"
local http = require "mlxbench.http"
local json = require "mlxbench.json"
local time = require "mlxbench.time"
local monitor = require "mlxbench._monitor"

local mode, url, n, tokens, path, spin_ms = ...
n, tokens = math.tointeger(tonumber(n)), math.tointeger(tonumber(tokens))
spin_ms = tonumber(spin_ms or "0")
assert(mode and url and n and tokens and path,
  "usage: stamps.lua llm|bench URL STREAMS TOKENS OUT.json [SPIN_MS]")

local running = true
local spinner = spin_ms > 0 and mb.spawn(function()
  while running do
    local t = time.now()
    while time.now() - t < spin_ms / 1000 do end
    time.sleep(0.001)
  end
end)

local target = mb.target{ url = url, api = "openai" }
local out = {}
if mode == "llm" then
  local lag = mb.stats.histogram{}
  monitor.read_lag(lag)   -- makes the client (and calibrates its clock) now
  lag:reset()
  local reqs, tasks = json.array(), {}
  for i = 1, n do
    tasks[i] = mb.spawn(function()
      local id = "llm-" .. i
      local r = llm.request{
        target = target, model = "ref", max_tokens = tokens, stream = true, itl = true,
        messages = { { role = "user", content = "hi" } },
        headers = { ["x-mock-request-id"] = id },
      }
      local recv = json.array()
      if r.ttft_s then
        local t = r.start_s + r.ttft_s
        recv[1] = t
        for k, g in ipairs(r.itl or {}) do
          t = t + g
          recv[k + 1] = t
        end
      end
      reqs[#reqs + 1] = { id = id, ok = r.ok, start = r.start_s, recv = recv,
                          stamp_source = r.stamp_source, output_tokens = r.output_tokens }
    end)
  end
  tasks[#tasks + 1] = mb.spawn(function()
    local r = http.request{
      url = url .. "/v1/chat/completions", method = "POST", stream = true,
      headers = { ["content-type"] = "application/json", ["x-mock-request-id"] = "http-1" },
      body = json.encode({ model = "ref", max_tokens = tokens, stream = true,
                           messages = { { role = "user", content = "hi" } } }),
    }
    local evs = json.array()
    for _, e in ipairs(r.events or {}) do
      if e.data:find('"content"', 1, true) then
        evs[#evs + 1] = { t = r.start + e.t, read_lag = e.read_lag }
      end
    end
    out.http = { stamp_source = r.stamp_source, status = r.status, events = evs }
  end)
  mb.wait(tasks)
  monitor.read_lag(lag)
  out.requests = reqs
  out.read_lag = { count = lag:count(), p50 = lag:percentile(50), p99 = lag:percentile(99),
                   max = lag:max() }
else
  local run = mb.bench{ target = target, model = "ref", concurrency = n, requests = n,
                        max_tokens = tokens, warmup = 0, prompt = "hi" }
  out.client = run.client
  out.per_request = run.per_request
  out.notes = json.array(require("mlxbench.report").notes({ run }))
end
running = false
if spinner then mb.wait(spinner) end
local f = assert(io.open(path, "w"))
f:write(json.encode(out))
f:close()
