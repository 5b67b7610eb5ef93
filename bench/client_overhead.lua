-- client_overhead.lua: the mlxbench side of bench/client_overhead.sh.
--   mlxbench bench/client_overhead.lua URL MODEL STREAMS MAX_TOKENS OUT.json [ID_PREFIX]
-- STREAMS tasks each make one streamed mlxbench.llm request at once (a
-- concurrency of STREAMS), tagged x-mock-request-id, and keep the ITL gaps
-- (itl = true) so every content event's arrival time can be compared with
-- the emulator's trace. OUT.json: {"requests": [{"id", "start", "recv":
-- [monotonic seconds of each content event], "ok", "output_tokens"}]}.
local mb = require "mlxbench"
local llm = require "mlxbench.llm"
local json = require "mlxbench.json"   -- exact floats (cjson rounds to 14 digits)

local url, model, n, max_tokens, path, prefix = ...
n, max_tokens = math.tointeger(tonumber(n)), math.tointeger(tonumber(max_tokens))
prefix = prefix or "mlx"
assert(url and model and n and max_tokens and path,
  "usage: client_overhead.lua URL MODEL STREAMS MAX_TOKENS OUT.json [ID_PREFIX]")

local target = mb.target{ url = url, api = "openai" }
local out = json.array()
local tasks = {}
for i = 1, n do
  tasks[i] = mb.spawn(function()
    local id = prefix .. "-" .. i
    local r = llm.request{
      target = target, model = model, max_tokens = max_tokens, stream = true, itl = true,
      messages = { { role = "user", content = "Tell me a long story." } },
      headers = { ["x-mock-request-id"] = id },
    }
    local rec = { id = id, start = r.start_s, ok = r.ok, output_tokens = r.output_tokens or 0 }
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
local f = assert(io.open(path, "w"))
f:write(json.encode({ requests = out }))
f:close()
