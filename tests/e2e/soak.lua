-- soak.lua URL SECONDS USERS OUT.json: a closed-loop run of USERS virtual
-- users for SECONDS against URL (an emulator with faults, run by
-- test_soak.py), sampling this process's RSS and open descriptors every
-- second into OUT.json with the run's request counts.
local mb = require "mlxbench"
local sys = require "mlxbench._sys"
local json = require "mlxbench.json"

local url, secs, users, out = ...
secs, users = tonumber(secs), math.tointeger(tonumber(users))
assert(out, "usage: soak.lua URL SECONDS USERS OUT.json")

local samples = {}
local t0 = mb.time.now()
local done = false
local sampler = mb.spawn(function()
  while not done do
    samples[#samples + 1] = { t = mb.time.now() - t0, rss = sys.rss(), fds = sys.fd_count(),
                              lua = math.floor(collectgarbage("count") * 1024) }
    mb.time.sleep(1)
  end
end)
local run = mb.bench{
  target = { url = url }, model = "soak", prompt = "short", max_tokens = 10, stream = true,
  concurrency = users, duration = secs, warmup = 0, timeout = 20, keep_requests = false,
}
done = true
mb.wait(sampler)
json.write_atomic(out, json.encode{
  samples = samples, requests = run.requests, fd_limit = sys.fd_limit(),
  tokens = run.tokens, duration_s = run.duration_s,
})
print(string.format("%d requests (%d ok), %.0f req/s", run.requests.total, run.requests.ok,
  run.requests.total / run.duration_s))
