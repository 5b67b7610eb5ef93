-- client_overhead.lua: the mlxbench side of bench/client_overhead.sh and
-- bench/truth_at_scale.sh.
--   mlxbench bench/client_overhead.lua URL MODEL STREAMS MAX_TOKENS OUT.json [ID_PREFIX [RATE]]
-- STREAMS tasks each make one streamed mlxbench.llm request at once (a
-- concurrency of STREAMS), tagged x-mock-request-id, and keep the ITL gaps
-- (itl = true) so every content event's arrival time can be compared with
-- the server's own log. With RATE (requests/s) the requests start on an
-- open-loop schedule instead, the i-th at (i - 1) / RATE. OUT.json:
-- {"requests": [{"id", "start", "recv": [monotonic seconds of each content
-- event], "ok", "output_tokens", "stamp_source"}], "read_lag": {count, p50,
-- p99, max}} -- the client's read lag over the run (kernel stamps only).
local mb = require "mlxbench"
local llm = require "mlxbench.llm"
local json = require "mlxbench.json"   -- exact floats (cjson rounds to 14 digits)

local url, model, n, max_tokens, path, prefix, rate = ...
n, max_tokens = math.tointeger(tonumber(n)), math.tointeger(tonumber(max_tokens))
prefix = prefix or "mlx"
rate = tonumber(rate)
assert(url and model and n and max_tokens and path,
  "usage: client_overhead.lua URL MODEL STREAMS MAX_TOKENS OUT.json [ID_PREFIX [RATE]]")
local time = require "mlxbench.time"
local monitor = require "mlxbench._monitor"
local lag = mb.stats.histogram{}
-- the client, its clock calibrated, before the first request (builds before
-- kernel stamps have no read_lag: then nothing is reported)
local read_lag = monitor.read_lag or function() end
read_lag(lag)
lag:reset()
local t0 = time.now() + 0.01

local target = mb.target{ url = url, api = "openai" }
local out = json.array()
local tasks = {}
for i = 1, n do
  tasks[i] = mb.spawn(function()
    local id = prefix .. "-" .. i
    if rate then time.sleep(math.max(0, t0 + (i - 1) / rate - time.now())) end
    local r = llm.request{
      target = target, model = model, max_tokens = max_tokens, stream = true, itl = true,
      messages = { { role = "user", content = "Tell me a long story." } },
      headers = { ["x-mock-request-id"] = id },
    }
    local rec = { id = id, start = r.start_s, ok = r.ok, output_tokens = r.output_tokens or 0,
                  stamp_source = r.stamp_source }
    local recv = json.array()
    if r.ttft_s then
      local t = r.start_s + r.ttft_s
      recv[1] = t
      for k, g in ipairs(r.itl or {}) do
        t = t + g
        recv[k + 1] = t
      end
    end
    rec.recv = recv
    if r.error then rec.error = r.error.kind .. ": " .. tostring(r.error.message) end
    out[#out + 1] = rec
  end)
end
mb.wait(tasks)
read_lag(lag)
local f = assert(io.open(path, "w"))
f:write(json.encode({ requests = out, read_lag = { count = lag:count(), p50 = lag:percentile(50),
                                                   p99 = lag:percentile(99), max = lag:max() } }))
f:close()
