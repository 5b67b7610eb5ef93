-- compare_run.lua OUT.json DECODE_TOK_S SEED [REQUESTS]: one run against an
-- emulated model "bench-model" decoding at DECODE_TOK_S, for the compare
-- tests. The run's name, model and backend are the same whatever the speed,
-- so two files match run for run.
local mb = require "mlxbench"
local results = require "mlxbench.results"

local out, decode, seed, n = arg[1], tonumber(arg[2]), math.tointeger(tonumber(arg[3])),
  math.tointeger(tonumber(arg[4] or "40"))
assert(out and decode and seed and n, "usage: compare_run.lua OUT.json DECODE_TOK_S SEED [REQUESTS]")
local srv = mb.mock.start{ port = 0, seed = seed, profile = {
  builtin_models = false,
  models = { ["bench-model"] = { ttft_ms = 40, prefill_tok_s = 0, decode_tok_s = decode,
                                  jitter = 0.1, length = "max_tokens" } },
} }
-- distinct prompts: the emulator draws each request's timing jitter from
-- its prompt, so one prompt repeated would give every request of a run the
-- same jitter and make two runs differ by more than their requests do
local prompts = {}
for i = 1, n do prompts[i] = string.format("Question %d: name a prime number above %d.", i, i * 7) end
local doc = results.new()
local t = mb.target{ name = "emulated", url = srv.url }
results.add(doc, mb.bench{ name = "bench-model c=4", target = t, model = "bench-model",
  prompts = prompts, max_tokens = 24, stream = true, concurrency = 4, requests = n, warmup = 1,
  seed = seed })
srv:stop()
results.write(doc, out)
